"""jupysql (``%sql`` / ``%%sql``) on the warehouse: quiet, deterministic, releasable."""

from __future__ import annotations

import os
from typing import Any

ALIAS = "vyaparbazaar"
TELEMETRY_OFF = {
    "PLOOMBER_STATS_ENABLED": "false",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DO_NOT_TRACK": "1",
}
_state: dict[str, Any] = {"ipython": None, "connected": False}


def telemetry_off() -> None:
    """Switch off jupysql/ploomber and dbt usage statistics for this process."""
    os.environ.update(TELEMETRY_OFF)


def configure(ipython: Any) -> None:
    """Load jupysql into ``ipython`` with no connection banners and no feedback lines."""
    from IPython.utils.capture import capture_output

    telemetry_off()
    with capture_output():  # jupysql's load-time notes (e.g. "the 'toml' package isn't installed")
        ipython.run_line_magic("load_ext", "sql")
    ipython.run_line_magic("config", "SqlMagic.feedback = 0")
    ipython.run_line_magic("config", "SqlMagic.displaycon = False")
    ipython.run_line_magic("matplotlib", "inline")  # plots show even when MPLBACKEND=Agg is exported
    _state["ipython"] = ipython


def _sql_magic() -> Any:
    ipython = _state["ipython"]
    return ipython.magics_manager.registry.get("SqlMagic") if ipython is not None else None


def connect() -> str | None:
    """Point ``%sql`` at the warehouse; returns a one-line problem description or None."""
    from sql.connection import ConnectionManager

    from notebook_helpers.connections import connect as open_warehouse
    from notebook_helpers.errors import HelperError

    magic = _sql_magic()
    if magic is None:
        return None
    disconnect()
    problem = None
    try:
        con = open_warehouse()
    except HelperError as error:
        import duckdb

        problem = str(error)
        con = duckdb.connect(":memory:")
    ConnectionManager.set(con, displaycon=False, alias=ALIAS, config=magic)
    _state["connected"] = True
    return problem


def disconnect() -> None:
    """Close every jupysql connection (and its open result sets) in this kernel."""
    try:
        from sql.connection import ConnectionManager
    except ImportError:
        return
    ConnectionManager.close_all()
    ConnectionManager.current = None
    _state["connected"] = False


def reconnect() -> str | None:
    """Reconnect ``%sql`` if the extension is loaded (after a dbt run)."""
    if _state["ipython"] is None:
        return None
    return connect()
