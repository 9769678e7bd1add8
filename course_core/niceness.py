"""A process started in a session of its own stays as nice as the process that started it."""

from __future__ import annotations

import os


def keep_niceness(pid: int) -> None:
    """Give process ``pid``'s autogroup this process's niceness.

    Linux schedules every session as one autogroup (``/proc/sys/kernel/sched_autogroup_enabled``), and
    a niceness counts only inside its group: a process started with ``start_new_session`` (a workflow
    step, a grading worker, a Jupyter kernel) would compete at full weight with everything else, however
    nice its parent was (``nice make test``, a background grading run). A no-op when this process is not
    nice, or where the kernel has no autogroups."""
    nice = os.nice(0)
    if nice <= 0:
        return
    try:
        with open(f"/proc/{pid}/autogroup", "w") as handle:
            handle.write(str(nice))
    except OSError:  # no autogroups here, or the process is gone already
        pass
