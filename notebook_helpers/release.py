"""Giving the warehouse back: the one place that closes what holds DuckDB's lock in this kernel.

:func:`release_all` runs before dbt (so dbt never meets "Could not set lock on file"),
:func:`release_idle` after every notebook cell (``%load_ext`` registers it as IPython's
``post_run_cell`` hook), :func:`release_dbt_duckdb` frees the database dbt-duckdb keeps open.
"""

from __future__ import annotations

import gc
import sys

from notebook_helpers import connections, sqlmagic


def release_dbt_duckdb(only_if_open: bool = False) -> None:
    """Close the DuckDB database dbt-duckdb keeps open in this process after a run.

    ``only_if_open``: do nothing (cheaply) unless dbt-duckdb still holds a database.
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
            except Exception:  # noqa: BLE001 - closing must never break the notebook
                pass
        manager._ENV = None
    reset_adapters()
    gc.collect()


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
