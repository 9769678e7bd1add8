"""Run dbt from a notebook: release DuckDB locks, run in-process, summarise, reconnect.

dbt runs in the kernel's own process through ``dbtRunner`` (about 0.4-0.6 s per call
after the first, against 2.3 s+ for a CLI subprocess). dbt-duckdb keeps its DuckDB file
open after ``invoke()`` returns; :func:`release_dbt_duckdb` closes it explicitly, so the
warehouse is free for other processes as soon as ``dbt()`` returns.

An interrupt (the notebook's stop button) stops dbt for real: dbt-duckdb's own cancel can
miss a query that starts just after it (the model is then rebuilt anyway), so while dbt
winds down every statement is refused and running queries are interrupted again until its
threads are done. A model whose transaction was not committed keeps its previous version
(dbt-duckdb builds ``<model>__dbt_tmp`` and renames it inside one transaction).
"""

from __future__ import annotations

import shlex
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from course_core import dbt_invoke
from course_core.dbt_release import release_dbt_duckdb
from course_core.dbt_result import built_relations, depends_on, node_results
from course_core.settings import dbt_project_dir
from notebook_helpers import connections, sqlmagic
from notebook_helpers.dbt_result import DbtResult, NodeResult, clean, stable_order
from notebook_helpers.errors import HelperError, Interrupted
from notebook_helpers.release import release_all

_QUIET = ["--log-level", "none", "--no-use-colors"]
_last: dict[str, DbtResult | None] = {"result": None}
_REINTERRUPT_SECONDS = 0.05  # while an interrupted dbt winds down: interrupt its queries this often
_FIRST_DBT_RETRY = 0.2  # seconds before dbt is retried on a warehouse another process holds


def _split(args: str | Sequence[str]) -> list[str]:
    return shlex.split(args) if isinstance(args, str) else [str(a) for a in args]


class _Progress:
    """What the running dbt did, from its events: started and finished nodes, commits."""

    def __init__(self) -> None:
        self.started: dict[str, Any] = {}  # unique_id -> node_info, in start order
        self.finished: dict[str, tuple[Any, Any]] = {}  # unique_id -> (node_info, run_result)
        self.committed: set[str] = set()
        self.thread_node: dict[int, str] = {}
        self.cancelled = threading.Event()
        self.cancelled_at_finish: set[str] = set()

    def on_event(self, msg: Any) -> None:
        name = msg.info.name
        if name == "NodeStart":
            info = msg.data.node_info
            self.started.setdefault(info.unique_id, info)
            self.thread_node[threading.get_ident()] = info.unique_id
        elif name == "NodeFinished":
            info = msg.data.node_info
            self.finished[info.unique_id] = (info, msg.data.run_result)
            if self.cancelled.is_set():
                self.cancelled_at_finish.add(info.unique_id)


@contextmanager
def _firm_cancel(progress: _Progress) -> Iterator[None]:
    """While dbt runs: make dbt-duckdb's cancel (on interrupt) stick, and note COMMITs per node."""
    try:
        from dbt.adapters.duckdb.environments import local
        from dbt_common.exceptions import DbtRuntimeError
    except ImportError:
        yield
        return
    wrapper, environment = local.DuckDBCursorWrapper, local.LocalEnvironment
    original_execute, original_cancel = wrapper.execute, environment.__dict__["cancel"]
    cursors: weakref.WeakSet = weakref.WeakSet()
    done = threading.Event()

    def execute(self: Any, sql: str, bindings: Any = None) -> Any:
        if progress.cancelled.is_set():
            raise DbtRuntimeError("INTERRUPT Error: Interrupted! (the cell was interrupted)")
        result = original_execute(self, sql, bindings)
        if sql.strip().rstrip(";").upper() == "COMMIT":
            node = progress.thread_node.get(threading.get_ident())
            if node:
                progress.committed.add(node)
        return result

    def keep_interrupting() -> None:
        while not done.wait(_REINTERRUPT_SECONDS):
            for cursor in list(cursors):
                try:
                    cursor.interrupt()
                except Exception:  # noqa: BLE001 - a closed cursor has nothing to interrupt
                    pass

    def cancel(cls: Any, connection: Any) -> None:
        first = not progress.cancelled.is_set()
        progress.cancelled.set()
        try:
            cursors.add(connection.handle.cursor())
        except Exception:  # noqa: BLE001
            pass
        if first:
            threading.Thread(target=keep_interrupting, name="vb-dbt-interrupt", daemon=True).start()
        original_cancel.__func__(cls, connection)

    wrapper.execute = execute
    environment.cancel = classmethod(cancel)
    try:
        yield
    finally:
        done.set()
        wrapper.execute = original_execute
        environment.cancel = original_cancel


def _invoke(argv: list[str], progress: _Progress | None = None) -> tuple[Any, list[str]]:
    """Run dbt in-process (course_core.dbt_invoke) on dbt_project/; returns (dbtRunnerResult, warnings)."""
    warnings: list[str] = []
    progress = progress or _Progress()

    def on_event(msg: Any) -> None:
        if msg.info.level == "warn" and msg.info.msg:
            text = clean(str(msg.info.msg))
            if text and text not in warnings:
                warnings.append(text)
        progress.on_event(msg)

    project = dbt_project_dir()
    if not (project / "dbt_project.yml").exists():
        raise HelperError(f"No dbt project at {project}: is this notebook inside the course repo?")
    sqlmagic.telemetry_off()
    with _firm_cancel(progress):
        res, _ = dbt_invoke.invoke(argv, project, flags=_QUIET, callbacks=[on_event])
    return res, sorted(warnings)


def _nodes(res: Any) -> tuple[list[NodeResult], dict[str, list[str]]]:
    """Nodes of a run (messages kept only where something went wrong) and their dependencies."""
    nodes = [replace(n, message=(n.message or None) if n.status in ("error", "fail", "warn") else None)
             for n in node_results(res.result)]
    return nodes, depends_on(res.result)


def _count_rows(nodes: list[NodeResult], relations: dict[str, str]) -> list[NodeResult]:
    if not relations:
        return nodes
    counted = []
    try:
        with connections.short_connection() as con:
            for n in nodes:
                rel = relations.get(n.unique_id)
                rows = con.execute(f"select count(*) from {rel}").fetchone()[0] if rel else None
                counted.append(replace(n, rows=rows))
    except Exception:  # noqa: BLE001 - row counts are a nicety; the run result stands
        return nodes
    return counted


def _invoke_waiting(argv: list[str], progress: _Progress) -> tuple[Any, list[str], float]:
    """:func:`_invoke`; while another process holds the warehouse (dbt-duckdb fails at once, before
    any node), retry with backoff for up to ``VB_LOCK_WAIT`` seconds. Returns the seconds waited
    (0 unless it gave up waiting)."""
    budget = connections.lock_wait_seconds()
    deadline = time.monotonic() + budget
    delay = _FIRST_DBT_RETRY
    while True:
        res, warnings = _invoke(argv, progress)
        locked = res.exception is not None and connections.is_lock_error(res.exception)
        if not locked or progress.started:
            return res, warnings, 0.0
        left = deadline - time.monotonic()
        if left <= 0:
            return res, warnings, budget
        time.sleep(min(delay, left))
        delay = min(delay * 2, 1.0)


def _interrupted_nodes(progress: _Progress) -> tuple[list[NodeResult], list[str]]:
    """Nodes of an interrupted run (from dbt's events) and one note per node cut short."""
    from notebook_helpers.connections import relation_exists

    nodes: list[NodeResult] = []
    notes: list[str] = []
    for uid, info in progress.started.items():
        info, run = progress.finished.get(uid, (info, None))
        status = str(run.status).lower() if run is not None else "interrupted"
        cut = run is None or (uid in progress.cancelled_at_finish and status not in ("success", "pass"))
        if cut:
            status = "interrupted"
        kind = str(info.resource_type)
        nodes.append(NodeResult(unique_id=uid, resource_type=kind, name=info.node_name, status=status,
                                message=clean(run.message) if run is not None and not cut else None,
                                execution_time=float(run.execution_time) if run is not None else 0.0))
        if not cut:
            continue
        relation = info.node_relation.alias or info.node_name
        if kind not in ("model", "seed", "snapshot") or info.materialized == "ephemeral":
            notes.append(f"interrupted: {kind} {info.node_name} did not finish")
        elif uid in progress.committed:
            notes.append(f"interrupted: {info.node_name} was already rebuilt (its new version is kept)")
        else:
            try:
                existed = relation_exists(relation)
            except HelperError:
                existed = True
            notes.append(f"interrupted: {info.node_name} kept its previous version" if existed
                         else f"interrupted: {info.node_name} was not built (it did not exist before)")
    return nodes, notes


def _run(argv: list[str]) -> DbtResult:
    """Run dbt (waiting for another process's lock first); KeyboardInterrupt is reported, not raised."""
    progress = _Progress()
    try:
        res, warnings, waited = _invoke_waiting(argv, progress)
        if not isinstance(res.exception, KeyboardInterrupt):
            nodes, depends = _nodes(res)
            nodes = stable_order(_count_rows(nodes, built_relations(res.result)), depends)
            error = None
            if res.exception is not None:
                error = str(res.exception)
                if waited:
                    error = connections.lock_message(res.exception, waited)
            listed = [str(x) for x in res.result] if isinstance(res.result, list) else []
            return DbtResult(bool(res.success), nodes, error, args=argv, warnings=warnings,
                             listed=sorted(listed))
    except KeyboardInterrupt:
        release_dbt_duckdb()
    except HelperError as problem:
        return DbtResult(False, error=str(problem), args=argv)
    except Exception as problem:  # noqa: BLE001 - interns must never see a traceback here
        return DbtResult(False, error=f"{type(problem).__name__}: {problem}", args=argv)
    try:
        nodes, notes = _interrupted_nodes(progress)
    except Exception:  # noqa: BLE001 - the interrupt is what matters
        nodes, notes = [], []
    if not progress.started:
        notes.append("interrupted before any model or test ran: the warehouse is unchanged")
    notes.append("the warehouse is free; nodes that had not started were not run: re-run the cell")
    return DbtResult(False, nodes, args=argv, interrupted=True, notes=notes)


def run_dbt(args: str | Sequence[str], quiet: bool = False) -> DbtResult:
    """Run a dbt command (``"build -s my_model"``), print its summary, never raise (except on interrupt).

    Every DuckDB lock the kernel holds (``%sql``, helper connections) is released first;
    ``%sql`` is reconnected afterwards. Per-node execution seconds: ``result.timings``.
    When another process holds the warehouse, dbt is retried for up to ``VB_LOCK_WAIT`` seconds.
    Interrupted (stop button): prints what was left as it was, then raises :class:`Interrupted`
    so the rest of the cell does not run; the warehouse lock is released either way.
    """
    argv = _split(args)
    if argv[:1] == ["dbt"]:
        argv = argv[1:]
    if not argv:
        result = DbtResult(False, error="Give a dbt command, e.g. dbt('build -s stg_orders').", args=[])
    else:
        release_all()
        result = _run(argv)
        problem_text = sqlmagic.reconnect()
        if problem_text:
            print(problem_text)
    _last["result"] = result
    if not quiet or result.interrupted:
        print(result.summary())
    if result.interrupted:
        raise Interrupted(f"dbt {' '.join(result.args)} was interrupted (see above); the warehouse is free.")
    return result


def last_result() -> DbtResult | None:
    """The result of the most recent ``dbt(...)`` / ``%dbt`` call in this kernel."""
    return _last["result"]
