"""jupysql (``%sql`` / ``%%sql``) on the warehouse: quiet, deterministic, releasable.

``%sql`` gets a connection that opens the warehouse at its first use in a cell and is closed
when the cell ends (:func:`detach`, from the ``post_run_cell`` hook). Result sets a notebook
keeps in a variable re-run their query on the next connection when they need more rows.
Connections jupysql made from a URL (``%sql duckdb:///...``: SQLAlchemy + duckdb_engine) are
closed and their engine's pool disposed the same way, and reconnect at their next use.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from course_core.dbt_invoke import TELEMETRY_OFF

ALIAS = "vyaparbazaar"
_state: dict[str, Any] = {"ipython": None, "connected": False, "lazy": None}


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


class LazyWarehouse:
    """Stands in for the warehouse's DuckDB connection under ``%sql``: opened at first use,
    closed by :meth:`close` (lock released) and reopened by the next use."""

    def __init__(self) -> None:
        self._con: Any = None

    def _real(self) -> Any:
        if self._con is None:
            from notebook_helpers.connections import connect

            self._con = connect()
        return self._con

    @property
    def is_open(self) -> bool:
        return self._con is not None

    def close(self) -> None:
        con, self._con = self._con, None
        if con is not None:
            try:
                con.close()
            except Exception:  # noqa: BLE001 - an already closed connection is fine
                pass

    # PEP 249 and duckdb methods jupysql looks for with hasattr(): defined here so that the
    # check does not open the file.
    def cursor(self) -> Any:
        return self._real().cursor()

    def commit(self) -> Any:
        return self._real().commit()

    def rollback(self) -> Any:
        return self._real().rollback()

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        return self._real().execute(*args, **kwargs)

    def df(self, *args: Any, **kwargs: Any) -> Any:
        return self._real().df(*args, **kwargs)

    def pl(self, *args: Any, **kwargs: Any) -> Any:
        return self._real().pl(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._real(), name)


class _Replay:
    """A result set's cursor after its connection was closed: on first use, a cursor of the
    reconnected connection; it re-runs the query and skips the rows the result set already
    holds when more rows are wanted (``DataFrame()`` re-runs the query itself)."""

    def __init__(self, result_set: Any) -> None:
        self._rs = result_set
        self._cursor: Any = None

    def close(self) -> None:
        if self._cursor is not None:
            self._cursor.close()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if self._cursor is None:
            rs = self._rs
            if rs._done_fetching():
                cursor = rs._conn._connection.cursor()
                if rs._conn.is_dbapi_connection:
                    cursor.execute("SET python_scan_all_frames=true")
            else:
                cursor = rs._conn.raw_execute(rs._statement)
                if rs._results:
                    cursor.fetchmany(len(rs._results))
            self._cursor = cursor
        return getattr(self._cursor, name)


class _LazySqlAlchemy:
    """A jupysql SQLAlchemy connection whose pool was disposed: reconnects at first use."""

    def __init__(self, engine: Any, autocommit: bool) -> None:
        self.engine = engine
        self._autocommit = autocommit
        self._con: Any = None

    def close(self) -> None:
        con, self._con = self._con, None
        if con is not None:
            con.close()
        self.engine.dispose()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if self._con is None:
            self._con = self.engine.connect()
            if self._autocommit:
                from sql.connection.connection import set_sqlalchemy_isolation_level

                set_sqlalchemy_isolation_level(self._con)
        return getattr(self._con, name)


def _park_result_sets(conn: Any) -> None:
    """Make the result sets of ``conn`` survive its closing (select: replay; others: done)."""
    from sql.run.resultset import _statement_is_select

    for rs in list(getattr(conn, "_result_sets", [])):
        if isinstance(rs._sqlaproxy, _Replay):  # parked before, maybe used since: park again
            rs._sqlaproxy.close()
            rs._sqlaproxy._cursor = None
            continue
        done = rs._done_fetching()
        if done and not conn.is_dbapi_connection:
            continue  # SQLAlchemy: DataFrame() uses the connection, not this cursor
        if rs._statement and _statement_is_select(rs._statement):
            try:
                rs._sqlaproxy.close()
            except Exception:  # noqa: BLE001 - closed already
                pass
            rs._sqlaproxy = _Replay(rs)
        elif not done:
            rs.mark_fetching_as_done()


def _detach_sqlalchemy(conn: Any) -> None:
    """Close a jupysql SQLAlchemy connection on a DuckDB file and dispose its engine's pool."""
    current = conn._connection_sqlalchemy
    if isinstance(current, _LazySqlAlchemy):
        current.close()
        return
    engine = current.engine
    _park_result_sets(conn)
    try:
        current.close()
    finally:
        engine.dispose()
    conn._connection_sqlalchemy = _LazySqlAlchemy(engine, not conn._requires_manual_commit)


def _jupysql_imported() -> bool:
    """jupysql holds connections only once this process imported it (``%load_ext``, ``%sql``): a self-check
    or a script has nothing of it to release, and need not import it (~2 CPU-s) to find that out."""
    return "sql.connection" in sys.modules


def detach() -> None:
    """Release the warehouse without forgetting ``%sql``'s connections (they reconnect lazily)."""
    lazy = _state["lazy"]
    if lazy is not None and lazy.is_open:
        from sql.connection import ConnectionManager

        own = ConnectionManager.connections.get(ALIAS)
        if own is not None:
            _park_result_sets(own)
        lazy.close()
    if not _jupysql_imported():
        return
    try:
        from sql.connection import ConnectionManager
        from sql.connection.connection import SQLAlchemyConnection
    except ImportError:
        return
    for conn in list(ConnectionManager.connections.values()):
        if isinstance(conn, SQLAlchemyConnection) and conn.dialect == "duckdb":
            _detach_sqlalchemy(conn)


def warehouse_problem() -> str | None:
    """One line when the warehouse file does not exist yet (``%sql`` would fail), else None."""
    from course_core.settings import warehouse_path

    path = warehouse_path()
    if path.exists():
        return None
    return f"The warehouse {path} does not exist yet: run `make lab` (or `%dbt build`) first."


def connect() -> str | None:
    """Point ``%sql`` at the warehouse (opened at first use); returns a one-line problem or None."""
    from sql.connection import ConnectionManager

    magic = _sql_magic()
    if magic is None:
        return None
    if _state["lazy"] is None or ConnectionManager.connections.get(ALIAS) is None:
        disconnect()
        lazy = LazyWarehouse()
        ConnectionManager.set(lazy, displaycon=False, alias=ALIAS, config=magic)
        _state["lazy"] = lazy
    else:
        ConnectionManager.current = ConnectionManager.connections[ALIAS]
    _state["connected"] = True
    return warehouse_problem()


def disconnect() -> None:
    """Release every jupysql connection: ours and URL ones reconnect at next use, others close."""
    detach()
    if not _jupysql_imported():
        return
    try:
        from sql.connection import ConnectionManager
        from sql.connection.connection import SQLAlchemyConnection
    except ImportError:
        return
    for alias, conn in list(ConnectionManager.connections.items()):
        if alias == ALIAS or (isinstance(conn, SQLAlchemyConnection) and conn.dialect == "duckdb"):
            continue
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - closing must never break the notebook
            pass
        ConnectionManager.connections.pop(alias, None)
        if ConnectionManager.current is conn:
            ConnectionManager.current = None


def reconnect() -> str | None:
    """Reconnect ``%sql`` if the extension is loaded (after a dbt run)."""
    if _state["ipython"] is None:
        return None
    return connect()
