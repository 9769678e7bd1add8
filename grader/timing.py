"""Where the grading time of one submission goes (for bench/bench_grading.py; off unless
``VB_GRADER_TIMINGS=1``).

Measured in the trusted grading process: every request to the untrusted worker (wall seconds and the
worker's CPU seconds, read with its ``stats`` op before and after), grouped by what it is (``parse``,
``dbt <command>``, exports for comparisons, an arrival replay's loads and dbt runs), every dbt
invocation with its exercise, and per exercise its wall, trusted CPU and worker CPU. Nothing here
changes what is graded or any report.json.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from course_core import settings

_STATE: dict[str, Any] = {"exercise": "setup", "categories": {}, "dbt": [], "exercises": {},
                          "replay": set()}
_QUIET_OPS = ("hello", "stats", "quit")
_COMPARISON_OPS = ("export", "export_query", "relations", "profile")


def _add(table: dict[str, dict[str, float]], key: str, wall: float, cpu: float) -> None:
    row = table.setdefault(key, {"calls": 0, "wall": 0.0, "worker_cpu": 0.0})
    row["calls"] += 1
    row["wall"] += wall
    row["worker_cpu"] += cpu


def category(op: str, fields: dict[str, Any]) -> str:
    """The group a worker request counts in."""
    replay = fields.get("ws") in _STATE["replay"]
    if op == "dbt":
        what = f"dbt {(fields.get('args') or ['?'])[0]}"
    elif op in _COMPARISON_OPS:
        what = "exports for comparison"
    else:
        what = op
    return f"arrival replay: {what}" if replay and op in ("dbt", "execute") else what


def measured(worker_stats: Callable[[], float], call: Callable[..., dict[str, Any]], op: str,
             fields: dict[str, Any]) -> dict[str, Any]:
    """``call(op, **fields)``, timed (wall and the worker's CPU) when timings are enabled."""
    if not settings.grader_timings() or op in _QUIET_OPS:
        return call(op, **fields)
    cpu_before, started = worker_stats(), time.perf_counter()
    try:
        return call(op, **fields)
    finally:
        wall = time.perf_counter() - started
        try:
            cpu = max(0.0, worker_stats() - cpu_before)
        except Exception:  # noqa: BLE001 - a dead worker: its CPU is unknown
            cpu = 0.0
        key = category(op, fields)
        _add(_STATE["categories"], key, wall, cpu)
        if op == "dbt":
            _STATE["dbt"].append({"exercise": _STATE["exercise"], "what": key,
                                  "args": " ".join(fields.get("args") or []), "wall": round(wall, 3),
                                  "worker_cpu": round(cpu, 3)})


def mark_replay(ws_name: str) -> None:
    """Requests on this workspace from now on count as an arrival replay."""
    _STATE["replay"].add(ws_name)


@contextmanager
def exercise(ex_id: str, worker_stats: Callable[[], float]) -> Iterator[None]:
    """Attribute what runs inside to exercise ``ex_id`` (wall, trusted CPU, worker CPU)."""
    if not settings.grader_timings():
        yield
        return
    _STATE["exercise"] = ex_id
    cpu, trusted, started = worker_stats(), time.process_time(), time.perf_counter()
    try:
        yield
    finally:
        try:
            worker_cpu = max(0.0, worker_stats() - cpu)
        except Exception:  # noqa: BLE001
            worker_cpu = 0.0
        _STATE["exercises"][ex_id] = {"wall": time.perf_counter() - started,
                                      "trusted_cpu": time.process_time() - trusted, "worker_cpu": worker_cpu}
        _STATE["exercise"] = "setup"


@contextmanager
def timed(name: str) -> Iterator[None]:
    """Wall and trusted CPU of a block of trusted code (e.g. comparisons in the trusted DuckDB)."""
    if not settings.grader_timings():
        yield
        return
    started, cpu = time.perf_counter(), time.process_time()
    try:
        yield
    finally:
        row = _STATE["categories"].setdefault(name, {"calls": 0, "wall": 0.0, "trusted_cpu": 0.0})
        row["calls"] += 1
        row["wall"] += time.perf_counter() - started
        row["trusted_cpu"] += time.process_time() - cpu


def snapshot(worker_stats: Callable[[], float]) -> dict[str, Any] | None:
    """What was measured in this process, with the CPU seconds of this process and of the worker so far
    (None when timings are off)."""
    if not settings.grader_timings():
        return None
    try:
        worker_cpu = worker_stats()
    except Exception:  # noqa: BLE001 - a dead or never started worker
        worker_cpu = None
    return {"categories": _STATE["categories"], "dbt": _STATE["dbt"], "exercises": _STATE["exercises"],
            "trusted_cpu": time.process_time(), "worker_cpu": worker_cpu}
