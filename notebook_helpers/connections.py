"""DuckDB connections of the kernel: one helper for opening, one registry for releasing.

Every connection the helpers open goes through :func:`connect` and is closed by
:func:`release_all` before dbt runs, so dbt never meets "Could not set lock on file", and by
:func:`release_idle` when a notebook cell finishes (``%load_ext`` registers it as IPython's
``post_run_cell`` hook), so an idle kernel never holds the warehouse: other notebooks, a terminal
``dbt build`` or a DuckDB shell can use it. The next use reconnects.

DuckDB allows one process at a time on a file. When another process holds it, :func:`connect`
waits up to ``VB_LOCK_WAIT`` seconds (default 5), retrying with backoff, then reports who holds it.
"""

from __future__ import annotations

import re
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from course_core.settings import lock_wait_seconds, warehouse_path
from notebook_helpers.errors import HelperError

_OPEN: weakref.WeakSet = weakref.WeakSet()
_LOCK_PID = re.compile(r"\(PID (\d+)\)")
_FIRST_RETRY = 0.05  # seconds; doubles after each attempt, at most _MAX_RETRY
_MAX_RETRY = 0.5


def is_lock_error(error: BaseException) -> bool:
    """True for DuckDB's "Could not set lock on file" (another process has the file open)."""
    return "could not set lock" in str(error).lower()


def describe_process(pid: str) -> str:
    """``process N (<command line>)``, shortened; a Jupyter kernel is named as such."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return f"process {pid}"
    args = [a for a in raw.decode(errors="replace").split("\0") if a]
    if not args:
        return f"process {pid}"
    if any("ipykernel" in a for a in args):
        return f"process {pid} (a Jupyter kernel: another notebook is running a cell)"
    args[0] = Path(args[0]).name
    if len(args) > 2 and args[0].startswith("python") and args[1] == "-c":
        args = args[:2] + ["..."]
    command = " ".join(args)
    return f"process {pid} ({command if len(command) <= 80 else command[:77] + '...'})"


def lock_message(error: BaseException, waited: float | None = None) -> str:
    """A one-line explanation of a DuckDB lock conflict (or the error text otherwise)."""
    text = str(error)
    if "lock" not in text.lower():
        return text.splitlines()[0] if text else type(error).__name__
    pid = _LOCK_PID.search(text)
    who = describe_process(pid.group(1)) if pid else "another process"
    after = f"; waited {waited:g} s" if waited else ""
    return (
        f"The warehouse {warehouse_path().name} is in use by {who}{after}. Notebooks hold it only "
        "while a cell runs: let that cell or command finish (or stop it: interrupt the cell, quit "
        "the DuckDB shell, Ctrl-C the terminal), then re-run this cell."
    )


def open_waiting(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect(path)``; while another process holds the file, retry with backoff for up
    to ``VB_LOCK_WAIT`` seconds, then raise :class:`HelperError` naming it (not registered)."""
    budget = lock_wait_seconds()
    deadline = time.monotonic() + budget
    delay = _FIRST_RETRY
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as error:
            left = deadline - time.monotonic()
            if not is_lock_error(error) or left <= 0:
                raise HelperError(lock_message(error, budget if is_lock_error(error) else None)) from None
        time.sleep(min(delay, left))
        delay = min(delay * 2, _MAX_RETRY)


def connect(read_only: bool = False, must_exist: bool = True) -> duckdb.DuckDBPyConnection:
    """Open the warehouse of the current target, registered so :func:`release_all` can close it.

    Waits up to ``VB_LOCK_WAIT`` seconds while another process holds the file.
    """
    path = warehouse_path()
    if must_exist and not path.exists():
        raise HelperError(
            f"The warehouse {path} does not exist yet: run `make lab` (or `%dbt build`) first."
        )
    con = open_waiting(path, read_only)
    _OPEN.add(con)
    return con


@contextmanager
def short_connection() -> Iterator[duckdb.DuckDBPyConnection]:
    """A warehouse connection that is closed (lock released) when the block ends."""
    con = connect()
    try:
        yield con
    finally:
        con.close()
        _OPEN.discard(con)


def close_registered() -> None:
    for con in list(_OPEN):
        try:
            con.close()
        except duckdb.Error:
            pass
        _OPEN.discard(con)


def relation_exists(name: str) -> bool:
    """True if a table or view called ``name`` is in the warehouse (schema main)."""
    if not warehouse_path().exists():
        return False
    with short_connection() as con:
        found = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'main' and table_name = ?",
            [name],
        ).fetchone()
    return bool(found and found[0])
