"""Crash-safe file steps for ops.deploy: durable renames and links, a write-ahead journal,
disk-full messages, and a test hook that kills the process after any step.

Every change to the file system goes through `rename`, `link`, `unlink`, `remove_tree`,
`point` or `write_json`: each makes its change durable (fsync of the file and its folder)
and then calls `step()`. Tests set VB_OPS_CRASH_AFTER=k (or a step's name, e.g.
"rename prod.candidate.duckdb -> prod.duckdb") to SIGKILL the process right after the k-th
(or that) step, and VB_OPS_CRASH_TRACE=<file> to list the steps of a run.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
from pathlib import Path

from course_core import settings
from course_core.files import fsync_dir

DISK_FULL = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large",
}
_TEXT_CAUSES = (
    ("no space left on device", "no space left on device"),
    ("errno 28", "no space left on device"),
    ("disk quota exceeded", "disk quota exceeded"),
    ("file too large", "file too large"),
    ("errno 27", "file too large"),
)
_steps = 0


def step(name: str) -> None:
    """One durable change is done; the test hook may trace it or kill the process here."""
    global _steps
    _steps += 1
    trace = settings.ops_crash_trace()
    if trace:
        with open(trace, "a", encoding="utf-8") as handle:
            handle.write(f"{_steps} {name}\n")
    if settings.ops_crash_after() in (str(_steps), name):
        os.kill(os.getpid(), signal.SIGKILL)


def reset_step_count() -> None:
    """Count steps from here (a forked test child counts its own steps)."""
    global _steps
    _steps = 0


def fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def rename(src: Path, dest: Path) -> None:
    """Atomically give src the name dest (replacing dest), durably."""
    os.replace(src, dest)
    fsync_dir(dest.parent)
    step(f"rename {src.name} -> {dest.name}")


def link(src: Path, dest: Path) -> None:
    """A second name (hard link) for src."""
    os.link(src, dest)
    fsync_dir(dest.parent)
    step(f"link {src.name} -> {dest.name}")


def unlink(path: Path) -> None:
    """Remove a file or symlink if it is there."""
    if path.is_symlink() or path.exists():
        path.unlink()
        fsync_dir(path.parent)
        step(f"unlink {path.name}")


def remove_tree(path: Path) -> None:
    """Remove a folder (or a symlink to one) if it is there."""
    if path.is_symlink():
        unlink(path)
    elif path.exists():
        shutil.rmtree(path)
        fsync_dir(path.parent)
        step(f"rmtree {path.name}")


def point(path: Path, target: str) -> None:
    """Make path a symlink to target (relative), replacing what was there in one rename."""
    if path.is_symlink() and os.readlink(path) == target:
        return
    tmp = path.with_name(path.name + ".tmp")
    unlink(tmp)
    os.symlink(target, tmp)
    rename(tmp, path)


def write_json(path: Path, data: dict) -> None:
    """Write JSON to a temporary file, fsync it, rename it over path."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    step(f"write {tmp.name}")
    rename(tmp, path)


def read_json(path: Path) -> dict | None:
    """A JSON object, or None when the file is missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def disk_full_cause(exc: BaseException) -> str | None:
    """'no space left on device' / 'file too large' / 'disk quota exceeded' when exc is one of those."""
    if isinstance(exc, OSError) and exc.errno in DISK_FULL:
        return DISK_FULL[exc.errno]
    return disk_full_in_text(str(exc))


def disk_full_in_text(text: str) -> str | None:
    """The same, found in a tool's output (dbt, DuckDB)."""
    lower = text.lower()
    for needle, cause in _TEXT_CAUSES:
        if needle in lower:
            return cause
    return None


def path_in_text(text: str) -> Path | None:
    """The file a disk-full error line names (DuckDB: `Could not write file "<path>"`), if any."""
    for line in text.splitlines():
        found = re.search(r"""["'](/[^"']+)["']""", line) if disk_full_in_text(line) else None
        if found:
            return Path(found.group(1))
    return None
