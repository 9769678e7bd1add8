"""Faults the grader survives: full disks, atomic file writes, folders owned by a (dead) process.

``DiskFull`` is raised with one line ("no space left on device in <folder>") wherever the grader's
own writes hit ENOSPC/EFBIG/EDQUOT, including when a child process (generator, dbt, DuckDB) only
reports it as text. ``atomic_write`` writes a temporary file in the target's folder, fsyncs it
and renames it over the target, so a reader sees the old file or the complete new one.
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
from pathlib import Path

from course_core.files import fsync_dir as fsync_dir  # also grader.faults' (grader.preparation)

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})
_DISK_FULL_TEXT = re.compile(
    r"no space left on device|file too large|disk quota exceeded|\b(ENOSPC|EFBIG|EDQUOT)\b"
    r"|errno\W{0,3}(28|27|122)\b",
    re.IGNORECASE,
)
OWNER_FILE = "owner.pid"
_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read once, at import (single-threaded): mkstemp/mkdtemp create private modes


def public_mode(path: Path, directory: bool = False) -> None:
    """Give a file (or folder) made by mkstemp/mkdtemp the mode a plain open()/mkdir() would give."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_UMASK)


class DiskFull(Exception):
    """A write failed because the file system (or a file-size limit) has no room."""

    def __init__(self, folder: Path | str):
        self.folder = str(folder)
        super().__init__(f"no space left on device in {self.folder}")


def is_disk_full(error: BaseException | str) -> bool:
    """True for an OSError with errno ENOSPC/EFBIG/EDQUOT, or another error's message (DuckDB, dbt,
    a child's stderr: trusted text only) that names one."""
    if isinstance(error, OSError) and error.errno is not None:  # shutil.Error has none: its text
        return error.errno in DISK_FULL_ERRNOS
    return bool(_DISK_FULL_TEXT.search(str(error)))


def disk_full_folder(error: OSError, default: Path) -> Path:
    """The folder an OSError happened in (its file's parent), else ``default``."""
    name = error.filename if isinstance(error.filename, str) else None
    return Path(name).parent if name else default


def write_temp(path: Path, data: str | bytes) -> Path:
    """Write ``data`` to a new temporary file beside ``path`` (fsynced); returns its path.

    On any failure the temporary file is removed; ENOSPC/EFBIG become ``DiskFull``.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException as error:
        Path(name).unlink(missing_ok=True)
        if isinstance(error, OSError) and is_disk_full(error):
            raise DiskFull(path.parent) from None
        raise
    return Path(name)


def replace_together(folder: Path, files: dict[str, str | bytes]) -> None:
    """Write every file to a temporary file first, then rename them all into ``folder``: a failure
    (e.g. a full disk) before the renames leaves the previous files untouched and no temporary behind."""
    temps: list[tuple[Path, Path]] = []
    try:
        for name, data in files.items():
            temps.append((write_temp(folder / name, data), folder / name))
        for temp, target in temps:
            os.replace(temp, target)
        fsync_dir(folder)
    finally:
        for temp, _ in temps:
            temp.unlink(missing_ok=True)

def atomic_write(path: Path, data: str | bytes) -> None:
    """Replace ``path`` with ``data`` all at once (temp file, fsync, rename, fsync of the folder)."""
    temp = write_temp(path, data)
    os.replace(temp, path)
    fsync_dir(path.parent)


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks (guards against a reused pid), None if not running."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return fields[19] if len(fields) > 19 and fields[0] not in ("Z", "X") else None


def process_tag(pid: int | None = None) -> str:
    """``"<pid> <start time>"`` of a process (default: this one), for ``OWNER_FILE`` records."""
    pid = os.getpid() if pid is None else pid
    return f"{pid} {_start_time(pid) or '?'}"


def tag_alive(tag: str) -> bool:
    """Is the process a ``process_tag`` names still running (same pid and start time)?"""
    try:
        pid_text, start = tag.split()
        pid = int(pid_text)
    except ValueError:
        return False
    now = _start_time(pid)
    return now is not None and (start == "?" or now == start)


def write_owner(folder: Path) -> None:
    """Record this process as the owner of ``folder`` (so a later run knows when it is stale)."""
    atomic_write(folder / OWNER_FILE, process_tag() + "\n")


def owner_alive(folder: Path) -> bool | None:
    """True/False when ``folder`` records its owner; None when it has no owner record."""
    try:
        return tag_alive((folder / OWNER_FILE).read_text().strip())
    except OSError:
        return None
