"""The intern's self-check: public checks of one exercise against their own dev warehouse.

Read-only and short-lived: the notebook's own DuckDB connections are released first (so the
check can open the file), and the check's connection is closed before returning (no lock kept).
Output is deterministic text: what passed, what failed, a hint; never the solution.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from course_core.settings import dbt_project_dir, warehouse_path
from grader.answers import ALLOWED_TOP_DIRS, Answers
from grader.context import CheckContext
from grader.edition import hidden_check_count
from grader.exercises import get_exercise
from grader.report import CheckResult
from grader.runner import run_check


def _paths() -> tuple[Path, Path]:
    """(dbt_project dir, dev warehouse file), resolved like the notebooks and profiles.yml do."""
    return dbt_project_dir(), warehouse_path()


def _release_notebook_connections() -> None:
    from notebook_helpers.release import release_all

    release_all()


def _open_read_only(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """The warehouse, read-only; waits a few seconds for another process's lock (as notebooks do)."""
    from notebook_helpers.connections import open_waiting
    from notebook_helpers.errors import HelperError

    try:
        return open_waiting(warehouse, read_only=True)
    except HelperError as error:
        raise duckdb.IOException(str(error)) from None


def _own_answers(project: Path) -> Answers:
    answers = Answers()
    for top in ALLOWED_TOP_DIRS:
        for path in sorted((project / top).rglob("*")) if (project / top).is_dir() else []:
            if path.is_file() and path.suffix in (".sql", ".yml", ".yaml", ".md"):
                answers.files[path.relative_to(project).as_posix()] = path.read_text(errors="replace")
    return answers


def selfcheck_lines(exercise_id: str) -> list[str]:
    """The feedback lines of a self-check (also used by tests); a usage problem starts with 'grader:'."""
    try:
        exercise = get_exercise(exercise_id)
    except ValueError as error:
        return [f"grader: {error}"]
    public = [c for c in exercise.checks if c.public]
    if not public:
        return [f"Exercise {exercise.id}: no self-checks yet. Your work is graded by the instructor."]
    project, warehouse = _paths()
    if not warehouse.exists():
        return [f"Exercise {exercise.id}: your warehouse {warehouse.name} does not exist yet: "
                "run `make lab` (or `%dbt build`) first."]
    manifest_path = project / "target" / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    _release_notebook_connections()
    holder: dict[str, duckdb.DuckDBPyConnection] = {}
    failed: list[duckdb.Error] = []  # a warehouse in use is waited for once, not once per check

    def connect() -> duckdb.DuckDBPyConnection:
        if failed:
            raise failed[0]
        if "con" not in holder:
            try:
                holder["con"] = _open_read_only(warehouse)
            except duckdb.Error as error:
                failed.append(error)
                raise
        return holder["con"]

    try:
        connect()
    except duckdb.Error as error:  # in use by another process: one line, not one per check
        if "lock" in str(error).lower() or "in use by" in str(error):
            return [f"Exercise {exercise.id}: {str(error).splitlines()[0]}"]
    ctx = CheckContext(exercise.id, _own_answers(project), mode="self", connect=connect, manifest=manifest)
    plural = "s" if len(public) != 1 else ""
    lines = [f"Exercise {exercise.id} ({exercise.title}): self-check of {len(public)} public check{plural}"]
    passed = 0
    try:
        for spec in public:
            try:
                entry = run_check(ctx, spec, [str(project)])
            except duckdb.Error as error:
                first_line = str(error).splitlines()[0]
                entry = CheckResult(spec.name, False, 0.0, spec.points, spec.public, first_line)
            mark = "PASS" if entry.passed else "FAIL"
            passed += entry.passed
            lines.append(f"  [{mark}] {spec.name}: {entry.message}")
            if not entry.passed and entry.hint:
                lines.append(f"         hint: {entry.hint}")
    finally:
        if "con" in holder:
            holder["con"].close()
    hidden = len(exercise.checks) - len(public) + hidden_check_count(exercise.id)
    lines.append(f"{passed}/{len(public)} public checks pass.{hidden_sentence(hidden)}")
    return lines


def hidden_sentence(hidden: int) -> str:
    """' The instructor also runs 1 more check on hidden data.' (plural from 2; '' for none)."""
    if hidden <= 0:
        return ""
    return f" The instructor also runs {hidden} more check{'s' if hidden != 1 else ''} on hidden data."


def run_selfcheck(exercise_id: str) -> bool:
    """Print the self-check feedback; True when every public check passes."""
    lines = selfcheck_lines(exercise_id)
    print("\n".join(lines))
    return not lines[0].startswith("grader:") and all("[FAIL]" not in line for line in lines)
