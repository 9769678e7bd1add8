"""Giving the warehouse back: the one place that closes what holds DuckDB's lock in this kernel.

:func:`release_all` runs before dbt (so dbt never meets "Could not set lock on file"),
:func:`release_idle` after every notebook cell (``%load_ext`` registers it as IPython's
``post_run_cell`` hook), :func:`release_dbt_duckdb` (course_core.dbt_release) frees the database
dbt-duckdb keeps open.
"""

from __future__ import annotations

from course_core.dbt_release import release_dbt_duckdb
from notebook_helpers import connections, sqlmagic

__all__ = ["release_all", "release_dbt_duckdb", "release_idle"]


def release_all() -> None:
    """Close every DuckDB connection the helpers and jupysql hold in this process."""
    sqlmagic.disconnect()
    connections.close_registered()


def release_idle(*_: object) -> None:
    """After a cell: close the helpers' connections, detach ``%sql`` and free dbt-duckdb's file.

    ``%sql`` (and result sets kept in variables) reconnect on their next use. Connections a
    notebook opened itself with ``duckdb.connect`` are left alone. Registered as IPython's
    ``post_run_cell`` hook by ``%load_ext notebook_helpers``; cheap when nothing is open.
    """
    steps = (sqlmagic.detach, connections.close_registered, lambda: release_dbt_duckdb(only_if_open=True))
    for step in steps:
        try:
            step()
        except Exception:  # noqa: BLE001, S112 - a hook must never break the notebook; the next one retries
            continue
