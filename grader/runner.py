"""Grade one submission (inside a worker process): workspace, answers, every exercise's checks."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from grader.answers import ANSWER_PROMPT, Answers
from grader.api import CheckSpec, Exercise, Fail, GradingAborted, Skip
from grader.context import CheckContext
from grader.dbt_runner import short_message
from grader.exercises import registry
from grader.report import CheckResult, ExampleRow, ExerciseReport, ManualAnswer
from grader.shared_replay import replay_with_bonus

if TYPE_CHECKING:  # the intern edition has no grading modules (python -m grader release)
    from grader.preparation import GradingSetup


def run_check(ctx: CheckContext, spec: CheckSpec, scrub: list[str]) -> CheckResult:
    """Run one check and turn its outcome into its result (never raises)."""
    hint, examples = "", tuple[ExampleRow, ...]()
    try:
        message = spec.function(ctx)
        return CheckResult(spec.name, True, spec.points, spec.points, spec.public,
                           scrub_paths(str(message or "passed"), scrub))
    except Skip as skip:
        text = f"not checked: {skip.message}"
    except GradingAborted:  # the worker is gone: the whole submission stops, not this check
        raise
    except Fail as fail:
        text, hint, examples = fail.message, fail.hint or spec.hint, tuple(fail.examples)
    except Exception as error:  # noqa: BLE001 - a grader bug must not sink the submission
        detail = short_message(str(error), 200)
        text = f"grader error in this check ({type(error).__name__}: {detail})"
    return CheckResult(spec.name, False, 0.0, spec.points, spec.public, scrub_paths(text, scrub), hint,
                       examples)


def scrub_paths(text: str, roots: list[str]) -> str:
    """Remove grader-private paths (temp folders) from a message so reports are reproducible."""
    for root in roots:
        text = text.replace(root, "<workspace>")
    return re.sub(r"/tmp/[^\s'\"]*", "<tmp>", text)


def manual_entries(exercise: Exercise, answers: Answers) -> tuple[ManualAnswer, ...]:
    """The manual items of an exercise with the submission's answer text for the review sheet."""
    items = []
    for item in exercise.manual_items:
        if item.answer_file:
            text = answers.files.get(item.answer_file, "")
        else:
            text = answers.prose.get((item.answer_tag or "").removeprefix("answer:"), "")
        if text.strip() in (ANSWER_PROMPT, "YOUR CODE HERE", "-- YOUR CODE HERE"):
            text = ""
        source = item.answer_file or item.answer_tag or ""
        items.append(ManualAnswer(item.name, item.points, item.prompt, source, text.strip()))
    return tuple(items)


def grade_answers(answers: Answers, setup: GradingSetup, scratch: Path, *, timeout: float = 600.0,
                  hide: list[str] | None = None, level: str | None = None,
                  stats: dict[str, float] | None = None,
                  zygote: Path | None = None) -> tuple[dict[str, ExerciseReport], str]:
    """Grade every exercise of one submission: (the ``exercises`` part of report.json, isolation level).

    Check code runs here (trusted); everything that runs the submission's files runs in one
    confined worker (grader.remote, grader.untrusted). All answer files go into one workspace. If
    that project does not parse, each exercise is graded in its own workspace with only the files
    of its notebook, so one broken YAML does not sink the other exercises. WorkerDied propagates.
    """
    from grader import timing
    from grader.intake import screen_paths, screened_parse
    from grader.isolation import isolation_level
    from grader.remote import REFERENCE_DATA, ReferenceData, UntrustedWorker

    level = level or isolation_level()
    worker = UntrustedWorker(scratch, level=level, cpu_seconds=timeout, hide=hide or [], zygote=zygote)
    reference = ReferenceData(Path(setup.folder) / REFERENCE_DATA, worker)
    scrub = [str(scratch), str(Path(setup.folder))]
    exercises: dict[str, ExerciseReport] = {}
    try:
        worker.start()
        base_project = Path(setup.base) / "dbt_project"
        screen_paths(answers, base_project)  # intake: paths the file system cannot hold cost that answer only
        ws = worker.stage_workspace("main", Path(setup.base), answers.files)
        ws.reference_dir = reference.folder
        parsed = screened_parse(ws, answers, base_project)  # intake: manifest re-check (hooks, names)
        # one submission's state shared by exercises graded in the same workspace; the shared arrival
        # replay comes from here (grader.shared_replay imports the exercises, they do not import it)
        shared: dict = {"replay_with_bonus": replay_with_bonus}
        for ex_id, exercise in registry().items():
            ex_ws, ex_parsed = ws, parsed
            if not parsed.success and exercise.checks:
                ex_ws = worker.stage_workspace(f"ex-{ex_id.replace('.', '_')}", Path(setup.base),
                                               answers.files_of(ex_id))
                ex_ws.reference_dir = reference.folder
                ex_parsed = screened_parse(ex_ws, answers, base_project)
            ctx = CheckContext(
                ex_id, answers, workspace=ex_ws, reference=reference if reference.available() else None,
                arrival_files=[Path(p) for p in setup.arrival_files], base_raw_dir=Path(setup.raw_dir),
                scratch_dir=scratch, shared=shared if ex_ws is ws else None,
            )
            checks: list[CheckResult] = []
            timer = timing.exercise(ex_id, worker._worker_cpu)
            timer.__enter__()
            for spec in exercise.checks:
                if not ex_parsed.success and _needs_project(spec):
                    message = ("not checked: the project does not parse with your files: "
                               f"{ex_parsed.summary()}")
                    checks.append(CheckResult(spec.name, False, 0.0, spec.points, spec.public,
                                              scrub_paths(message, scrub)))
                    continue
                started = time.perf_counter()
                checks.append(run_check(ctx, spec, scrub))
                print(f"[timing] {ex_id} {spec.name}: {time.perf_counter() - started:.2f} s", file=sys.stderr)
            timer.__exit__(None, None, None)
            exercises[ex_id] = ExerciseReport(sum(c.points for c in checks), exercise.max_auto_points,
                                              tuple(checks), manual_entries(exercise, answers))
    finally:
        measured = timing.snapshot(worker._worker_cpu)  # None unless the benchmark asked for timings
        worker.close()
        if stats is not None:
            stats["worker_cpu_seconds"] = worker.cpu_used
            if measured:
                stats["timings"] = measured
    return exercises, level


def _needs_project(spec: CheckSpec) -> bool:
    """Checks that only read answers (no dbt) may still run when the project does not parse."""
    return not getattr(spec.function, "answers_only", False)
