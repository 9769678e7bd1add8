"""Give back the DuckDB file dbt-duckdb keeps open after an in-process dbt invocation.

dbt-duckdb caches one DuckDB environment per process (``DuckDBConnectionManager._ENV``, guarded by
``_LOCK``) and keeps its database, and so the file lock, open after ``dbtRunner.invoke()`` returns.
:func:`release_dbt_duckdb` is the only code of the course that touches those private attributes;
``tests/test_course_core_dbt.py`` fails, naming the installed dbt-duckdb version, when they move.
"""

from __future__ import annotations

import gc
import sys

PRIVATES = ("_LOCK", "_ENV")  # DuckDBConnectionManager attributes this module relies on


def dbt_duckdb_version() -> str:
    """The installed dbt-duckdb version (``unknown`` when it cannot be read)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dbt-duckdb")
    except PackageNotFoundError:
        return "unknown"


def missing_privates() -> list[str]:
    """The private attributes :func:`release_dbt_duckdb` needs that this dbt-duckdb lacks (empty: fine)."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager as manager

    return [name for name in PRIVATES if name not in vars(manager)]


def release_dbt_duckdb(only_if_open: bool = False, collect: bool = True) -> None:
    """Close the DuckDB database dbt-duckdb keeps open in this process after a run (drops the file lock).

    ``only_if_open``: do nothing (cheaply) unless dbt-duckdb still holds a database.
    ``collect``: also run the garbage collector, so no stray cursor keeps the database alive.
    Never raises for a database that will not close: releasing is best effort.
    """
    if only_if_open and "dbt.adapters.duckdb.connections" not in sys.modules:
        return  # dbt never ran in this process
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager as manager
        from dbt.adapters.factory import reset_adapters
    except ImportError:
        return
    if only_if_open and manager._ENV is None:
        return
    with manager._LOCK:
        env = manager._ENV
        if env is not None:
            try:
                env.close()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
            conn = getattr(env, "conn", None)  # an environment whose close() leaves it open
            if conn is not None:
                try:
                    conn.close()
                except Exception:  # noqa: BLE001
                    pass
                env.conn = None
        manager._ENV = None
    reset_adapters()
    if collect:
        gc.collect()
