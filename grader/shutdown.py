"""Stopping a batch cleanly: live worker registry, SIGINT/SIGTERM handling, stale scratch folders.

``run_worker`` registers every worker ``Popen`` while it runs. On SIGINT/SIGTERM the batch raises
``GradingInterrupted`` in the main thread, kills every registered worker (and any started after
that), waits for the grading threads and removes its scratch folder. A scratch folder
(``$TMPDIR/vb-grading-*``) records its owner process; the next batch removes the folders whose
owner is dead, after killing any worker they record that is still running.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from grader.faults import owner_alive, process_tag, tag_alive, write_owner

SCRATCH_PREFIX = "vb-grading-"
_LOCK = threading.Lock()
_LIVE: dict[int, subprocess.Popen] = {}
_state: dict[str, object] = {"signal": None, "scratch": None, "writing": False}


class GradingInterrupted(BaseException):  # like KeyboardInterrupt: not swallowed by `except Exception`
    """The batch was stopped by a signal; its workers are killed and its scratch folder removed."""

    def __init__(self, signum: int):
        self.signum = signum
        self.killed = 0
        super().__init__(f"stopped by {signal.Signals(signum).name}")

    def describe(self, out: Path) -> str:
        """One line for the instructor."""
        written = (f"the outputs in {out} are incomplete (no gradebook.csv): run the same command again"
                   if _state["writing"] else f"nothing written to {out}")
        return (f"stopped by {signal.Signals(self.signum).name}: {self.killed} grading process(es) killed, "
                f"temporary files removed, {written}")


def writing_outputs() -> None:
    """Mark that the batch has started replacing its outputs (for the stop message)."""
    _state["writing"] = True


def interrupted() -> int | None:
    """The signal that stopped this batch, if any."""
    return _state["signal"]  # type: ignore[return-value]


def raise_if_interrupted() -> None:
    """Raise ``GradingInterrupted`` when a signal arrived (for code that swallows exceptions, e.g. dbt)."""
    signum = interrupted()
    if signum is not None:
        raise GradingInterrupted(signum)


def _kill_pid(pid: int) -> None:
    """SIGKILL a worker's process group (it runs in its own session) and the process itself."""
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # its own session: the whole group
    except OSError:
        pass
    try:
        proc.kill()  # no-op once reaped (never signals a reused pid)
    except OSError:
        pass


def register_worker(proc: subprocess.Popen) -> None:
    """Track a running worker; it is killed at once when the batch is already stopping."""
    with _LOCK:
        _LIVE[proc.pid] = proc
        stopping = interrupted() is not None
        scratch = _state["scratch"]
    if isinstance(scratch, Path):
        try:
            (scratch / "workers").mkdir(exist_ok=True)
            (scratch / "workers" / str(proc.pid)).write_text(process_tag(proc.pid) + "\n")
        except OSError:
            pass  # the record only helps a later run clean up after a SIGKILL
    if stopping:
        _kill(proc)


def unregister_worker(proc: subprocess.Popen) -> None:
    """Forget a worker that has exited."""
    with _LOCK:
        _LIVE.pop(proc.pid, None)


def stop_workers() -> int:
    """Kill every live worker; returns how many were still running."""
    with _LOCK:
        procs = list(_LIVE.values())
    running = [p for p in procs if p.returncode is None]
    for proc in procs:
        _kill(proc)
    return len(running)


@contextmanager
def handle_signals() -> Iterator[None]:
    """SIGINT/SIGTERM raise ``GradingInterrupted`` (once) in the main thread for the block's duration."""
    _state["signal"], _state["writing"] = None, False
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: object) -> None:
        with _LOCK:
            first = _state["signal"] is None
            _state["signal"] = _state["signal"] or signum
        if first:
            raise GradingInterrupted(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def make_scratch() -> Path:
    """A new private scratch folder for this batch's workers, recording this process as its owner."""
    folder = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX))
    write_owner(folder)
    _state["scratch"] = folder
    return folder


def remove_scratch(folder: Path) -> None:
    """Remove this batch's scratch folder (workers may have made read-only files: rm -rf)."""
    _state["scratch"] = None
    subprocess.run(["rm", "-rf", str(folder)], check=False)


def remove_stale_scratch(log: Callable[[str], None]) -> int:
    """Remove scratch folders of dead batches (ours only), killing workers they left running."""
    removed = 0
    for folder in sorted(Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*")):
        try:
            if not folder.is_dir() or folder.is_symlink() or folder.stat().st_uid != os.getuid():
                continue
        except OSError:
            continue
        if owner_alive(folder) is not False:
            continue  # a live batch, or a folder without an owner record (not ours to judge)
        for record in sorted((folder / "workers").glob("*")):
            tag = record.read_text(errors="replace").strip()
            if tag_alive(tag):
                _kill_pid(int(tag.split()[0]))
        shutil.rmtree(folder, ignore_errors=True)
        if folder.exists():
            subprocess.run(["rm", "-rf", str(folder)], check=False)
        removed += 1
    if removed:
        log(f"removed {removed} scratch folder(s) left by an interrupted grading run")
    return removed
