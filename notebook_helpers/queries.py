"""Ask the warehouse questions from Python: results, query plans with row counts, timings."""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from notebook_helpers.connections import short_connection
from notebook_helpers.errors import HelperError

# extra_info keys worth showing: they explain where rows come from (no estimates, no timings)
_KEY_INFO = ("Join Type", "Conditions", "Table", "Text", "Filters", "Groups", "Aggregates", "Function")


def _failed(error: Exception) -> HelperError:
    """The one-line error for a query that failed or was interrupted (stop button)."""
    first = str(error).splitlines()[0] if str(error) else type(error).__name__
    if "interrupted" in first.lower():
        return HelperError("Query interrupted: nothing was changed.")
    return HelperError(f"Query failed: {first}")


def query(sql: str) -> pd.DataFrame:
    """Run ``sql`` on the warehouse and return a DataFrame (the connection is closed after)."""
    with short_connection() as con:
        try:
            return con.execute(sql).df()
        except Exception as error:  # noqa: BLE001 - one clear line instead of a traceback
            raise _failed(error) from None


def _rows(op: dict[str, Any]) -> int:
    for key in ("operator_cardinality", "intermediate_rows", "cardinality"):
        if key in op:
            return int(op[key])
    return 0


def _info(op: dict[str, Any]) -> str:
    extra = op.get("extra_info") or {}
    parts = []
    for key in _KEY_INFO:
        value = extra.get(key)
        if value in (None, "", []):
            continue
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        parts.append(f"{key.lower()}: {' '.join(str(value).split())}")
    return "; ".join(parts)


def _flatten(op: dict[str, Any], depth: int, out: list[dict[str, Any]]) -> None:
    name = op.get("operator_name") or op.get("name") or op.get("operator_type") or "?"
    out.append({"depth": depth, "operator": str(name).strip(), "rows": _rows(op), "detail": _info(op)})
    for child in op.get("children", []):
        _flatten(child, depth + 1, out)


def profile(sql: str, show: bool = True) -> pd.DataFrame:
    """Run ``sql`` under DuckDB's profiler and print the operator tree with output rows per operator.

    The printout has no timings, so it is the same on every machine; the DataFrame has
    columns depth, operator, rows, detail (join type/condition, table, filters).
    """
    with tempfile.TemporaryDirectory() as tmp, short_connection() as con:
        out = Path(tmp) / "profile.json"
        con.execute("PRAGMA enable_profiling = 'json'")
        con.execute(f"SET profiling_output = '{out}'")
        try:
            con.execute(sql).fetchall()
        except Exception as error:  # noqa: BLE001
            raise _failed(error) from None
        finally:
            con.execute("PRAGMA disable_profiling")
        tree = json.loads(out.read_text())
    rows: list[dict[str, Any]] = []
    for child in tree.get("children", tree.get("operator", [])):
        _flatten(child, 0, rows)
    if rows and rows[0]["operator"] in ("RESULT_COLLECTOR", "EXPLAIN_ANALYZE") and len(rows) > 1:
        rows = [dict(r, depth=r["depth"] - 1) for r in rows[1:]]
    frame = pd.DataFrame(rows, columns=["depth", "operator", "rows", "detail"])
    if show:
        for r in rows:
            detail = f"  [{r['detail']}]" if r["detail"] else ""
            print(f"{'  ' * r['depth']}{r['operator']}  rows={r['rows']:,}{detail}")
    return frame


@dataclass(frozen=True)
class Timing:
    """Median and every run, in seconds."""

    median: float
    runs: list[float]

    def __float__(self) -> float:
        return self.median

    def __repr__(self) -> str:
        return f"Timing(median={self.median:.3f}s, runs={len(self.runs)})"


def _time(con: Any, sql: str, runs: int) -> Timing:
    if runs < 1:
        raise HelperError("runs must be at least 1.")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        try:
            con.execute(sql).fetchall()
        except Exception as error:  # noqa: BLE001
            raise _failed(error) from None
        times.append(time.perf_counter() - start)
    return Timing(statistics.median(times), times)


def time_query(sql: str, runs: int = 5) -> Timing:
    """Run ``sql`` ``runs`` times (results fetched) and return the median seconds and all runs."""
    with short_connection() as con:
        return _time(con, sql, runs)


def time_model(model: str, runs: int = 3) -> Timing:
    """Median seconds to build ``model``: its compiled SQL run as ``CREATE OR REPLACE TEMP TABLE``.

    Measures DuckDB's work for the model only (no dbt start-up, no tests); the temp table
    lives in memory, so the warehouse file is not changed. The model is compiled first.
    """
    from notebook_helpers.dbt_project import compiled_sql

    sql = compiled_sql(model)
    if sql is None:
        raise HelperError(f"Could not compile model {model!r}: see the dbt error printed above.")
    with short_connection() as con:
        timing = _time(con, f"CREATE OR REPLACE TEMP TABLE __time_model AS {sql}", runs)
        con.execute("DROP TABLE IF EXISTS __time_model")
    return timing


@dataclass(frozen=True)
class Memory:
    """Peak memory of DuckDB's buffer manager per run, in bytes, and the median of the runs."""

    median: int
    runs: list[int]

    def __repr__(self) -> str:
        return f"Memory(median={self.median / 2**20:.1f} MiB, runs={len(self.runs)})"


@dataclass(frozen=True)
class ModelRuns:
    """Seconds and peak memory of the same runs of a model (``measure_model``)."""

    time: Timing
    memory: Memory


def measure_model(model: str, runs: int = 3) -> ModelRuns:
    """Time AND peak memory of ``runs`` builds of ``model``, each run measured once for both.

    Like ``time_model`` (compiled SQL as ``CREATE OR REPLACE TEMP TABLE``, warehouse untouched),
    but every run is profiled by DuckDB: its wall seconds go into ``.time``, its
    ``system.peak_buffer_memory`` (the most memory DuckDB's buffer manager held at once: hash
    tables, sorts, the result; bytes spilled to disk under a memory limit are not in it) into
    ``.memory``. One set of runs instead of two for a slow model. The profiler adds the same small
    overhead to every model measured this way. Machine- and thread-dependent: print it in a cell
    tagged ``nbval-ignore-output``.
    """
    from notebook_helpers.dbt_project import compiled_sql

    if runs < 1:
        raise HelperError("runs must be at least 1.")
    sql = compiled_sql(model)
    if sql is None:
        raise HelperError(f"Could not compile model {model!r}: see the dbt error printed above.")
    times, peaks = [], []
    with tempfile.TemporaryDirectory() as tmp, short_connection() as con:
        out = Path(tmp) / "profile.json"
        for _ in range(runs):
            con.execute("PRAGMA enable_profiling = 'json'")
            con.execute(f"SET profiling_output = '{out}'")
            start = time.perf_counter()
            try:
                con.execute(f"CREATE OR REPLACE TEMP TABLE __measure_model AS {sql}").fetchall()
            except Exception as error:  # noqa: BLE001
                raise _failed(error) from None
            finally:
                times.append(time.perf_counter() - start)
                con.execute("PRAGMA disable_profiling")
            con.execute("DROP TABLE IF EXISTS __measure_model")
            system = json.loads(out.read_text()).get("system", {})
            if "peak_buffer_memory" not in system:
                raise HelperError("This DuckDB version does not report peak_buffer_memory in its profile.")
            peaks.append(int(system["peak_buffer_memory"]))
    return ModelRuns(Timing(statistics.median(times), times), Memory(int(statistics.median(peaks)), peaks))


def memory_model(model: str, runs: int = 3) -> Memory:
    """Peak memory to build ``model``, measured like ``time_model`` (compiled SQL as a temp table).

    Each run is profiled by DuckDB (see ``measure_model``, which also returns the seconds of the
    same runs). Machine- and thread-dependent: print it in a cell tagged ``nbval-ignore-output``.
    """
    return measure_model(model, runs).memory
