"""Grade one submission (inside a worker process): workspace, answers, every exercise's checks."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any

from grader.answers import Answers
from grader.api import Exercise, Fail, Skip, registry
from grader.context import CheckContext
from grader.dbt_runner import short_message
from grader.intake import screen_paths, screened_parse, write_answer_files
from grader.preparation import GradingSetup
from grader.workspace import Workspace

try:
    from grader.assign import ANSWER_PROMPT
except ImportError:  # assign.py is another engineer's module; the prompt is in DEVELOPING.md
    ANSWER_PROMPT = "_Your answer here._"


def run_check(ctx: CheckContext, spec: Any, scrub: list[str]) -> dict[str, Any]:
    """Run one check and turn its outcome into a result entry (never raises)."""
    entry: dict[str, Any] = {"name": spec.name, "passed": False, "points": 0.0,
                             "max_points": spec.points, "public": spec.public}
    try:
        message = spec.function(ctx)
        entry.update(passed=True, points=spec.points, message=str(message or "passed"))
    except Skip as skip:
        entry.update(message=f"not checked: {skip.message}")
    except Fail as fail:
        entry["message"] = fail.message
        if fail.hint or spec.hint:
            entry["hint"] = fail.hint or spec.hint
        if fail.examples:
            entry["examples"] = fail.examples
    except Exception as error:  # noqa: BLE001 - a grader bug must not sink the submission
        detail = short_message(str(error), 200)
        entry["message"] = f"grader error in this check ({type(error).__name__}: {detail})"
    entry["message"] = scrub_paths(entry["message"], scrub)
    return entry


def scrub_paths(text: str, roots: list[str]) -> str:
    """Remove grader-private paths (temp folders) from a message so reports are reproducible."""
    for root in roots:
        text = text.replace(root, "<workspace>")
    return re.sub(r"/tmp/[^\s'\"]*", "<tmp>", text)


def manual_entries(exercise: Exercise, answers: Answers) -> list[dict[str, Any]]:
    """The manual items of an exercise with the submission's answer text for the review sheet."""
    items = []
    for item in exercise.manual_items:
        if item.answer_file:
            text = answers.files.get(item.answer_file, "")
        else:
            text = answers.prose.get((item.answer_tag or "").removeprefix("answer:"), "")
        if text.strip() in (ANSWER_PROMPT, "YOUR CODE HERE", "-- YOUR CODE HERE"):
            text = ""
        items.append({"name": item.name, "max_points": item.points, "points": None, "manual": True,
                      "prompt": item.prompt, "source": item.answer_file or item.answer_tag,
                      "answer": text.strip()})
    return items


def _workspace_for(answers: Answers, files: dict[str, str], setup: GradingSetup, root: Path) -> Workspace:
    ws = Workspace(Path(setup.base)).clone(root)
    write_answer_files(ws, files, answers)  # intake: a path the file system rejects costs that answer only
    return ws


def grade_answers(answers: Answers, setup: GradingSetup, reference: Answers, scratch: Path) -> dict[str, Any]:
    """Grade every exercise of one submission; returns the ``exercises`` part of report.json.

    All answer files go into one workspace. If that project does not parse, each exercise is
    graded in its own workspace with only the files of its notebook, so one broken YAML does not
    sink the other exercises.
    """
    base_project = Path(setup.base) / "dbt_project"
    screen_paths(answers, base_project)  # intake: paths the file system cannot hold cost that answer only
    ws = _workspace_for(answers, answers.files, setup, scratch / "ws")
    parsed = screened_parse(ws, answers, base_project)  # intake: manifest re-check (hooks, language, names)
    ref_ws = Workspace(Path(setup.reference))
    scrub = [str(scratch), str(Path(setup.folder))]
    exercises: dict[str, Any] = {}
    for ex_id, exercise in registry().items():
        ex_ws, ex_parsed = ws, parsed
        if not parsed.success and exercise.checks:
            ex_ws = _workspace_for(answers, answers.files_of(ex_id), setup, scratch / f"ws-{ex_id}")
            ex_parsed = screened_parse(ex_ws, answers, base_project)
        ctx = CheckContext(
            ex_id, answers, workspace=ex_ws, reference=ref_ws, reference_answers=reference,
            arrival_files=[Path(p) for p in setup.arrival_files], base_raw_dir=Path(setup.raw_dir),
            scratch_dir=scratch,
        )
        checks = []
        for spec in exercise.checks:
            if not ex_parsed.success and _needs_project(spec):
                message = f"not checked: the project does not parse with your files: {ex_parsed.summary()}"
                checks.append({"name": spec.name, "passed": False, "points": 0.0, "max_points": spec.points,
                               "public": spec.public, "message": scrub_paths(message, scrub)})
                continue
            started = time.perf_counter()
            checks.append(run_check(ctx, spec, scrub))
            print(f"[timing] {ex_id} {spec.name}: {time.perf_counter() - started:.2f} s", file=sys.stderr)
        ex_ws.close()
        ref_ws.close()
        exercises[ex_id] = {
            "score": sum(c["points"] for c in checks),
            "max_score": exercise.max_auto_points,
            "checks": checks,
            "manual": manual_entries(exercise, answers),
        }
    return exercises


def _needs_project(spec: Any) -> bool:
    """Checks that only read answers (no dbt) may still run when the project does not parse."""
    return not getattr(spec.function, "answers_only", False)
