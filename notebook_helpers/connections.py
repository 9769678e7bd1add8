"""DuckDB connections of the kernel: one helper for opening, one registry for releasing.

Every connection the helpers open goes through :func:`connect` and is closed by
:func:`release_all` before dbt runs, so dbt never meets "Could not set lock on file".
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from notebook_helpers.errors import HelperError
from notebook_helpers.paths import warehouse_path

_OPEN: weakref.WeakSet = weakref.WeakSet()
_LOCK_PID = re.compile(r"\(PID (\d+)\)")


def lock_message(error: Exception) -> str:
    """A one-line explanation of a DuckDB lock conflict (or the error text otherwise)."""
    text = str(error)
    if "lock" not in text.lower():
        return text.splitlines()[0] if text else type(error).__name__
    pid = _LOCK_PID.search(text)
    who = f"process {pid.group(1)}" if pid else "another process"
    return (
        f"The warehouse {warehouse_path().name} is in use by {who} (another notebook's kernel, "
        "a terminal dbt run or a DuckDB shell): shut that down, then re-run this cell."
    )


def connect(read_only: bool = False, must_exist: bool = True) -> duckdb.DuckDBPyConnection:
    """Open the warehouse of the current target, registered so :func:`release_all` can close it."""
    path = warehouse_path()
    if must_exist and not path.exists():
        raise HelperError(
            f"The warehouse {path} does not exist yet: run `make lab` (or `%dbt build`) first."
        )
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as error:
        raise HelperError(lock_message(error)) from None
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


def release_all() -> None:
    """Close every DuckDB connection the helpers and jupysql hold in this process."""
    from notebook_helpers import sqlmagic

    sqlmagic.disconnect()
    for con in list(_OPEN):
        try:
            con.close()
        except duckdb.Error:
            pass
        _OPEN.discard(con)
