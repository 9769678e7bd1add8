"""``CheckContext``: everything a check receives (see grader/README.md for the full contract)."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from course_core import manifest as dbt_manifest
from grader.answers import Answers
from grader.api import Fail, Skip
from grader.compare import Comparison, compare_loaded, load_sides
from grader.dbt_runner import DbtOutcome, short_message
from grader.plan import JoinStats, joins_from_profile, profile_joins
from grader.workspace import Workspace

_fork_ids = itertools.count(1)


class CheckContext:
    """The submission (answers, workspace, warehouse) and the reference, as seen by checks."""

    def __init__(
        self,
        exercise: str,
        answers: Answers,
        *,
        mode: str = "grade",
        workspace: Any = None,
        reference: Any = None,
        reference_answers: Answers | None = None,
        arrival_files: list[Path] | None = None,
        base_raw_dir: Path | None = None,
        scratch_dir: Path | None = None,
        connect: Callable[[], duckdb.DuckDBPyConnection] | None = None,
        manifest: dict | None = None,
        shared: dict[str, Any] | None = None,
    ):
        self.exercise = exercise
        self.answers = answers
        self.mode = mode
        self.workspace = workspace
        self.reference = reference
        self._reference_answers = reference_answers
        self.arrival_files = arrival_files or []
        self.base_raw_dir = base_raw_dir
        self.scratch_dir = scratch_dir
        self._connect = connect
        self._manifest = manifest
        self._builds: dict[tuple[str, ...], DbtOutcome] = {}
        self.cache: dict[str, Any] = {}
        # shared by the exercises of one submission graded in one workspace (None otherwise):
        # e.g. one arrival replay for 5.2 and the bonus (grader.shared_replay)
        self.shared = shared

    @property
    def reference_answers(self) -> Answers:
        """The solutions' answers (parsed lazily from solutions/; never sent to the worker)."""
        if self._reference_answers is None:
            from grader.course import reference_answers

            self._reference_answers = reference_answers()
        return self._reference_answers

    # ---- answers ----------------------------------------------------------------------------
    def answer_file(self, path: str) -> str | None:
        """The submission's text of a dbt_project file it wrote (None when it wrote none)."""
        return self.answers.files.get(path)

    def require_answer_file(self, path: str) -> str:
        """Like ``answer_file`` but fails the check with a clear message when absent or empty."""
        text = self.answer_file(path)
        if path in self.answers.refused:
            raise Fail(f"dbt_project/{path} was refused: {self.answers.refused[path]}")
        if text is None or not text.strip():
            raise Fail(f"no answer for dbt_project/{path}: write it with a %%writefile cell")
        if "YOUR CODE HERE" in text:
            raise Fail(f"dbt_project/{path} still contains 'YOUR CODE HERE': replace it with your answer")
        return text

    def prose(self, question: str) -> str:
        """The prose answer tagged ``answer:<this exercise>:<question>`` ('' when absent)."""
        return self.answers.prose.get(f"{self.exercise}:{question}", "")

    # ---- the submission's warehouse ----------------------------------------------------------
    @property
    def is_grading(self) -> bool:
        """True in instructor grading (a workspace exists), False in an intern's self-check."""
        return self.workspace is not None

    def connection(self) -> Any:
        """Self-check: a read-only connection to the intern's warehouse. Grading: a trusted
        in-memory connection where the submission's relations appear as exported data."""
        if self.workspace is not None:
            return self.workspace.connect()
        if self._connect is None:
            raise Skip("no warehouse available")
        return self._connect()

    def query(self, sql: str) -> list[tuple]:
        """Rows of a query on the submission's warehouse; a DuckDB error becomes a failed check."""
        from grader.remote import WorkerError

        try:
            return self.connection().sql(sql).fetchall()
        except (duckdb.Error, WorkerError) as error:
            raise Fail(f"query failed on your warehouse: {short_message(str(error), 200)}") from None

    def relation_exists(self, name: str, con: duckdb.DuckDBPyConnection | None = None) -> bool:
        """True if a table or view of this name exists in schema main."""
        if con is None and hasattr(self.workspace, "relation_type"):
            return self.workspace.relation_type(name) is not None
        con = con or self.connection()
        rows = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'main' and table_name = ?",
            [name],
        ).fetchall()[0]
        return bool(rows and rows[0])

    @property
    def manifest(self) -> dict:
        """The submission's manifest.json (parsed in the workspace, or the intern's target/)."""
        if self.workspace is not None:
            return self.workspace.manifest()
        return self._manifest or {}

    def node(self, name: str, resource_type: str = "model") -> dict | None:
        """The manifest node of a model (or other resource) by name."""
        return dbt_manifest.find_node(self.manifest, name, resource_type)

    def tests_on(self, model: str) -> list[dict]:
        """Manifest test nodes that depend on a model (generic and singular)."""
        model_node = self.node(model)
        if model_node is None:
            return []
        return dbt_manifest.tests_on(self.manifest, model_node["unique_id"])

    # ---- dbt ----------------------------------------------------------------------------------
    def _need_workspace(self) -> Workspace:
        if self.workspace is None:
            raise Skip("runs only when the instructor grades (it builds on hidden data)")
        return self.workspace

    def build(self, *select: str, command: str = "build", full_refresh: bool = False) -> DbtOutcome:
        """``dbt <command> --select ...`` in the submission workspace, memoized per selection."""
        ws = self._need_workspace()
        key = (command, *select, str(full_refresh))
        if key not in self._builds:
            args = [command, "--select", *select]
            if full_refresh:
                args.append("--full-refresh")
            self._builds[key] = ws.dbt(*args)
        return self._builds[key]

    def require_build(self, *select: str, command: str = "build") -> DbtOutcome:
        """Build a selection; a failed build fails (or, if already seen failing, skips) the check."""
        key = (command, *select, "False")
        seen = key in self._builds
        outcome = self.build(*select, command=command)
        if not outcome.success:
            kind = Skip if seen else Fail
            raise kind(f"does not build: {outcome.summary()}")
        return outcome

    def require_model(self, model: str, answer_file: str, *,
                      how: str = "run its %%writefile cell, then") -> None:
        """The usual first step of a check on an answer model.

        Grading: the answer file is written and the model builds (once, memoized). Self-check: the
        model is in the intern's warehouse (``how`` says what to do when it is not).
        """
        if self.is_grading:
            self.require_answer_file(answer_file)
            self.require_build(model, command="run")
        elif not self.relation_exists(model):
            raise Fail(f"{model} is not in your warehouse yet: {how} `%dbt build -s {model}`")

    def columns(self, relation: str) -> list[str]:
        """Lower-cased column names of a relation in schema main, in order."""
        if hasattr(self.workspace, "columns"):
            return self.workspace.columns(relation)
        rows = self.query("select column_name from information_schema.columns where table_schema = 'main' "
                          f"and table_name = '{relation}' order by ordinal_position")
        return [r[0].lower() for r in rows]

    def require_config(self, model: str, answer_file: str) -> dict:
        """The model's config from the manifest; Fail when the answer or the node is missing."""
        self.require_answer_file(answer_file)
        node = self.node(model)
        if node is None:
            raise Fail(f"{model} is not in the project (run its %%writefile cell, then `%dbt parse`)")
        return node.get("config") or {}

    def require_reference_relation(self, model: str, what: str) -> None:
        """Skip unless grading with a reference warehouse that holds ``model`` (``what``: for the message)."""
        if self.reference is None:
            raise Skip("runs only when the instructor grades")
        if not self.relation_exists(model, self.reference.connect()):
            raise Skip(f"the reference answer is not available (solutions/ has no {what})")

    def fork(self, label: str = "fork") -> Any:
        """A private copy of the submission workspace for destructive experiments (in the worker)."""
        ws = self._need_workspace()
        if hasattr(ws, "fork"):
            return ws.fork(label)
        base = self.scratch_dir or ws.root.parent
        return ws.clone(base / f"{label}-{next(_fork_ids)}")

    def discard(self, ws: Any) -> None:
        """Delete a fork (frees disk; optional)."""
        if hasattr(ws, "discard"):
            ws.discard()
            return
        ws.close()
        shutil.rmtree(ws.root, ignore_errors=True)

    def replay_arrivals(self, ws: Workspace, days: int) -> None:
        """Make raw clickstream = base files + the first ``days`` arrival files, in workspace ``ws``."""
        if self.base_raw_dir is None:
            raise Skip("no arrival data available")
        files = sorted((self.base_raw_dir / "clickstream").glob("*.parquet")) + self.arrival_files[:days]
        from grader import timing  # lazily: the self-check never grades

        timing.mark_replay(getattr(ws, "name", ""))  # the benchmark counts its loads and dbt runs as a replay
        ws.load_raw_files("clickstream", files)

    # ---- comparison ---------------------------------------------------------------------------
    def compare(
        self,
        sql: str,
        reference_sql: str | None = None,
        *,
        key: list[str] | None = None,
        columns: str = "exact",
        ignore: tuple[str, ...] = (),
        tolerance: float = 1e-6,
        what: str = "your model",
        workspace: Workspace | None = None,
    ) -> Comparison:
        """Compare a query on the submission (or ``workspace``) with a query on the reference warehouse."""
        if self.reference is None:
            raise Skip("runs only when the instructor grades (it needs the reference answers)")
        from grader import timing
        from grader.remote import WorkerError

        ws = workspace or self._need_workspace()
        self.reference.close()
        with timing.timed("compare() calls (whole, incl. their exports)"):
            con = ws.connect(reference=self.reference.warehouse)
            try:
                load_sides(con, sql, reference_sql or sql, "warehouse")
            except (duckdb.Error, WorkerError) as error:
                raise Fail(f"{what} cannot be read: {short_message(str(error), 200)}") from None
            return compare_loaded(con, key=key, columns=columns, ignore=ignore, tolerance=tolerance,
                                  what=what)

    # ---- submission SQL, plans, reference data handed in (grading: through the worker) --------------
    def profile_joins(self, sql: str) -> list[JoinStats]:
        """Join row counts of ``sql`` (EXPLAIN ANALYZE on the submission's warehouse; see grader.plan)."""
        if self.workspace is not None and hasattr(self.workspace, "profile"):
            return joins_from_profile(self.workspace.profile(sql))
        return profile_joins(self.connection(), sql)

    def compiled_sql(self, name: str, folder: str = "**") -> str | None:
        """The SQL dbt compiled for a node in the grading workspace (None when absent)."""
        ws = self._need_workspace()
        if hasattr(ws, "compiled_sql"):
            return ws.compiled_sql(name, folder)
        found = sorted(ws.project_dir.glob(f"target/compiled/{folder}/{name}.sql"))
        return found[0].read_text(encoding="utf-8") if found else None

    def submission_result(self, sql: str, name: str) -> str:
        """Run the submission's own SQL (an analysis) where submission SQL runs and return a relation
        to use in ``ctx.query`` (grading: its exported result; self-check: the SQL as a subquery)."""
        if self.workspace is None or not hasattr(self.workspace, "export_query"):
            return f"(\n{sql}\n)"
        from grader.remote import WorkerError

        try:
            path = self.workspace.export_query(sql)
        except WorkerError as error:
            raise Fail(f"{name} does not run on your warehouse: {short_message(str(error), 200)}") from None
        con = self.workspace.connect()
        con.add_view("grader_results", name, path)
        return f'warehouse.grader_results."{name}"'

    def reference_file(self, sql: str) -> Any:
        """Grader SQL on the reference's data, as a Parquet file the worker may read (for checks that
        put known-correct or perturbed data into the submission's warehouse)."""
        if self.reference is None:
            raise Skip("runs only when the instructor grades")
        return self.reference.hand_in(sql)

    def require_same(self, sql: str, reference_sql: str | None = None, **kwargs: Any) -> str:
        """``compare`` that fails the check (with example rows) on any difference."""
        result = self.compare(sql, reference_sql, **kwargs)
        if not result.ok:
            raise Fail(result.message, examples=result.examples)
        return result.message
