"""Run dbt in-process (course_core.dbt_invoke) on one workspace: parse once, reuse the manifest.

After every invocation dbt-duckdb's database is closed (``course_core.dbt_release``), so the grader
can open the warehouse itself between dbt invocations. ``NodeResult``/``DbtOutcome`` are the course's
one result type (course_core.dbt_result).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from course_core import dbt_invoke
from course_core.dbt_invoke import QUIET_ENV
from course_core.dbt_release import release_dbt_duckdb
from course_core.dbt_result import DbtOutcome, NodeResult, last_error_line, short_message

__all__ = ["QUIET_ENV", "DbtOutcome", "DbtSession", "NodeResult", "forbid_python_jobs", "release_duckdb",
           "reuse_linked_graph", "short_message", "skip_graph_summary", "skip_unprinted_lines"]


# (class, attribute) -> what it was before forbid_python_jobs() replaced it (tests restore these)
ORIGINAL_PYTHON_JOBS: dict[tuple[type, str], Any] = {}


def forbid_python_jobs() -> None:
    """Make dbt refuse every Python job in this process (issue 9: dbt-duckdb runs
    ``statement(language='python')``; no exercise needs Python). Idempotent."""
    from dbt.context.providers import ProviderContext

    def refused(*_args: Any, **_kwargs: Any) -> Any:
        from dbt_common.exceptions import DbtRuntimeError

        raise DbtRuntimeError("Python models and python statements are not accepted by the grader")

    owners: list[tuple[type, str, Any]] = [(ProviderContext, "submit_python_job", refused)]
    try:
        from dbt.adapters.duckdb.environments import Environment
        from dbt.adapters.duckdb.impl import DuckDBAdapter
    except ImportError:  # pragma: no cover - dbt-duckdb is part of the pinned set
        pass
    else:
        owners += [(DuckDBAdapter, "submit_python_job", refused),
                   (Environment, "run_python_job", staticmethod(refused))]
    for owner, name, replacement in owners:
        ORIGINAL_PYTHON_JOBS.setdefault((owner, name), owner.__dict__[name])
        setattr(owner, name, replacement)


def skip_graph_summary() -> None:
    """Make dbt skip its per-invocation diagnostic ``target/graph_summary.json`` in this process (the
    grader never reads it; computing and writing it costs ~20 ms of CPU per dbt call). Idempotent."""
    from dbt.compilation import Linker

    if "_course_skipped" not in Linker.__dict__:
        Linker._course_skipped = Linker.get_graph_summary
        Linker.get_graph_summary = lambda _self, _manifest: {}


def reuse_linked_graph() -> None:
    """dbt links its DAG and searches it for cycles on every invocation; the grader's sessions run many
    invocations on one parsed manifest, so link it once per manifest (and shape: node counts) and share
    the graph (dbt copies it before any change: selection takes a subset copy; ``build``'s test edges
    go on a copy made here). Idempotent."""
    from dbt.compilation import Linker

    if "_course_link_graph" in Linker.__dict__:
        return
    link_graph, add_test_edges = Linker.link_graph, Linker.add_test_edges

    def shape(manifest: Any) -> tuple[int, ...]:
        return tuple(len(getattr(manifest, name, None) or ()) for name in (
            "nodes", "sources", "exposures", "metrics", "semantic_models", "unit_tests", "saved_queries",
            "functions", "macros"))

    def linked(self: Any, manifest: Any) -> None:
        cached = manifest.__dict__.get("_course_linked_graph")
        if cached is not None and cached[0] == shape(manifest):
            self.graph, self._course_shared = cached[1], True
            return
        link_graph(self, manifest)
        manifest.__dict__["_course_linked_graph"] = (shape(manifest), self.graph)
        self._course_shared = True

    def with_test_edges(self: Any, manifest: Any) -> None:
        if getattr(self, "_course_shared", False):
            self.graph, self._course_shared = self.graph.copy(), False
        add_test_edges(self, manifest)

    Linker._course_link_graph = link_graph
    Linker.link_graph = linked
    Linker.add_test_edges = with_test_edges


def skip_unprinted_lines() -> None:
    """Make dbt's loggers skip formatting a line their Python logger drops anyway (with ``--quiet`` the
    console keeps errors and print events only: ~150 lines formatted for nothing per invocation).
    What is written is unchanged. Idempotent."""
    import logging

    from dbt_common.events import logger as dbt_logger

    if "_course_write_line" in vars(dbt_logger._Logger):
        return
    write_line = dbt_logger._Logger.write_line
    levels = {"test": logging.DEBUG, "debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
              "error": logging.ERROR}

    def written(self: Any, msg: Any) -> None:
        log = self._python_logger
        if log is not None:
            level = "error" if dbt_logger._is_print_event(msg) else msg.info.level
            if level in levels and not log.isEnabledFor(levels[level]):
                return
        write_line(self, msg)

    dbt_logger._Logger._course_write_line = write_line
    dbt_logger._Logger.write_line = written


def release_duckdb() -> None:
    """Close the DuckDB connection dbt-duckdb keeps between invocations (drops the file lock)."""
    release_dbt_duckdb(collect=False)


class DbtSession:
    """dbt invocations on one project folder with a fixed profiles folder (in-process)."""

    def __init__(self, project_dir: Path, profiles_dir: Path, log_dir: Path, *, file_log: bool = True):
        self.project_dir = project_dir
        self.profiles_dir = profiles_dir
        self.log_dir = log_dir
        self.file_log = file_log  # False: no dbt.log (the grading worker: nothing reads it)
        self.manifest: Any = None
        self.last_output = ""

    def _flags(self) -> list[str]:
        return ["--quiet", "--no-use-colors", "--log-path", str(self.log_dir),
                *([] if self.file_log else ["--log-level-file", "none"]),
                "--target-path", str(self.project_dir / "target")]

    def _options(self, manifest: Any) -> dict[str, Any]:
        """dbt refuses Python jobs, prints quietly; the options of course_core.dbt_invoke."""
        forbid_python_jobs()
        skip_graph_summary()
        reuse_linked_graph()
        skip_unprinted_lines()
        os.environ.update(QUIET_ENV)
        return {"profiles_dir": self.profiles_dir, "flags": self._flags(), "manifest": manifest,
                "capture": True, "collect": False}

    def invoke(self, args: list[str], *, reuse_manifest: bool = True) -> DbtOutcome:
        """Run one dbt command (e.g. ``["build", "--select", "x"]``) and collect node results."""
        options = self._options(self.manifest if reuse_manifest else None)
        outcome = dbt_invoke.run(args, self.project_dir, **options)
        self.last_output = outcome.output
        return outcome

    def parse(self) -> DbtOutcome:
        """Parse the project (once); later invocations reuse this manifest."""
        options = self._options(None)
        try:
            result, output = dbt_invoke.invoke(["parse"], self.project_dir, **options)
        except Exception as error:  # noqa: BLE001
            return DbtOutcome(False, [], f"dbt could not parse the project: {short_message(str(error))}")
        if not result.success:
            if result.exception is not None:  # to the process's log (a worker's log, never a report)
                traceback.print_exception(result.exception, file=sys.__stderr__)
            detail = short_message(str(result.exception or "")) or last_error_line(output)
            return DbtOutcome(False, [], f"dbt could not parse the project: {detail}")
        self.manifest = result.result
        return DbtOutcome(True)

    def manifest_dict(self) -> dict:
        """manifest.json as written by the last parse (empty dict when there is none)."""
        path = self.project_dir / "target" / "manifest.json"
        if not path.exists():
            return {}
        return json.loads(path.read_text(encoding="utf-8"))
