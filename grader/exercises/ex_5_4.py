"""Checks of exercise 5.4: the CI workflow and the deployment strategy document.

Answers (solutions/5_4_deployment_strategy.ipynb): ``ci/dbt_ci.yml`` (a GitHub Actions workflow,
checked with ``ops.workflow_check``: it must parse and have a ``dbt build``, a ``dbt test`` and a
slim CI step; the self-check then runs it with ``ops.workflow_run``, as a pull request and as a
push) and ``docs/deployment_strategy.md`` (its required sections are checked by heading;
the content is scored by hand). The four questions are manual items. Nothing here needs a
warehouse, so every auto check is public (the intern's self-check runs them all).
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from course_core.settings import dbt_project_dir, repo_root
from grader.api import Fail, Skip, exercise
from grader.context import CheckContext

WORKFLOW = "ci/dbt_ci.yml"
STRATEGY = "docs/deployment_strategy.md"
PLACEHOLDER = "YOUR CODE HERE"

# Required sections of deployment_strategy.md: label -> pattern one heading must match.
SECTIONS: dict[str, str] = {
    "Environments": r"environment",
    "CI/CD": r"\bci\s*/\s*cd\b|continuous (integration|deployment)",
    "Schedule": r"schedul",
    "Monitoring and alerting": r"monitor|alert",
    "Failure handling and rollback": r"failure|rollback|roll back|recovery",
    "Data flow": r"data[\s-]*flow|diagram",
    "Questions to consider": r"question",
}
STEP_NAMES = {"build": "`dbt build` step", "test": "`dbt test` step", "slim_ci": "slim CI step"}
_HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.+?)\s*#*\s*$")

EX = exercise("5.4", "Develop a deployment strategy", answer_files=[WORKFLOW, STRATEGY])
EX.manual("q1", points=2, prompt="How would you handle emergency fixes that need to be deployed quickly?")
EX.manual("q2", points=2, prompt="What metrics would you track to measure deployment health?")
EX.manual("q3", points=2, prompt="How would you balance the need for fresh data with performance?")
EX.manual("q4", points=2, prompt="How would you involve stakeholders in the deployment process?")
EX.manual("strategy", points=6, prompt="deployment_strategy.md: environments, CI/CD, schedule table, "
          "monitoring, failure handling, data-flow diagram, questions; grounded in the notebook's runs",
          answer_file=STRATEGY)


def _project_file(path: str) -> str | None:
    """Self-check only: the intern's own dbt_project/<path> (for folders the answer scan skips)."""
    file = dbt_project_dir() / path
    return file.read_text(encoding="utf-8", errors="replace") if file.is_file() else None


def _answer(ctx: CheckContext, path: str, placeholder_ok: bool = False) -> str:
    """The answer text of a file; Fail when missing, empty or (unless allowed) still a placeholder."""
    text = ctx.answer_file(path)
    if text is None and not ctx.is_grading:
        text = _project_file(path)
    if text is None or not text.strip():
        raise Fail(f"no answer for dbt_project/{path}: write it with its %%writefile cell and run the cell")
    if PLACEHOLDER in text and not placeholder_ok:
        raise Fail(f"dbt_project/{path} still contains '{PLACEHOLDER}': replace it with your answer")
    return text


def workflow_checks(text: str) -> dict[str, bool]:
    """Which required steps a workflow text has ({'build': ..., 'test': ..., 'slim_ci': ...}).

    Raises Fail with the parser's one-line message when it is not a workflow.
    """
    from ops.dbt_invoke import OpsError
    from ops.workflow_check import check_workflow

    with tempfile.TemporaryDirectory(prefix="grader-5_4-") as tmp:
        path = Path(tmp) / "dbt_ci.yml"
        path.write_text(text, encoding="utf-8")
        try:
            checks = check_workflow(path)
        except OpsError as error:
            raise Fail(str(error).replace(str(path), "dbt_project/ci/dbt_ci.yml"),
                       hint="GitHub Actions workflows are YAML: `on:`, then `jobs:` with `steps:`") from None
    return {c.name: c.present for c in checks if c.required}


def _require_steps(ctx: CheckContext, *names: str) -> str:
    found = workflow_checks(_answer(ctx, WORKFLOW, placeholder_ok=True))
    missing = [n for n in names if not found.get(n)]
    if missing:
        raise Fail(f"the workflow has no {' and no '.join(STEP_NAMES[n] for n in missing)}",
                   hint="check it with `python -m ops.workflow_check dbt_project/ci/dbt_ci.yml`")
    return "the workflow has a " + " and a ".join(STEP_NAMES[n] for n in names)


@EX.check("workflow_parses", points=1, public=True,
          hint="`%%writefile ../dbt_project/ci/dbt_ci.yml` with a complete GitHub Actions workflow")
def workflow_parses(ctx: CheckContext) -> str:
    """The CI workflow is valid YAML with jobs and steps (and no longer the unfinished starting point)."""
    workflow_checks(_answer(ctx, WORKFLOW))
    return "the workflow parses"


@EX.check("workflow_build_and_test", points=2, public=True,
          hint="a step running `dbt build` (on the ci target) and one running `dbt test`")
def workflow_build_and_test(ctx: CheckContext) -> str:
    """The CI workflow runs `dbt build` and `dbt test`."""
    return _require_steps(ctx, "build", "test")


@EX.check("workflow_slim_ci", points=2, public=True,
          hint="`dbt build --select state:modified+ --defer --state <prod artifacts>` or ops.slim_ci")
def workflow_slim_ci(ctx: CheckContext) -> str:
    """The CI workflow has a slim CI step (state:modified+, --defer, --state)."""
    return _require_steps(ctx, "slim_ci")


RUN_TIME_LIMIT = 1200.0  # seconds for both events of the self-check's run
RUN_HINT = "run `python -m ops.workflow_run dbt_project/ci/dbt_ci.yml` to see every step and its output"
_SANDBOX_PATH = re.compile(r"/\S*?/wf-run-[^/\s]+/(?:pull_request|push)/(?:repo/?)?")


def workflow_verdict(run) -> str:
    """Pass message of an ops.workflow_run.WorkflowRun; Fail naming the first failed step and its output."""
    titles = {"pull_request": "a pull request into main", "push": "a push to main"}
    for event in run.runs:
        if not event.triggered or event.reason:
            raise Fail(f"the workflow did not run for {titles[event.event]}: {event.reason}")
        for i, step in enumerate(event.steps, start=1):
            if not step.ok:
                output = [line.strip() for line in step.tail.splitlines() if line.strip()][-3:]
                said = f"; its last output: {' / '.join(output)}" if output else ""
                message = f"the workflow failed on {titles[event.event]} at step {i} '{step.name}' " \
                          f"({step.status}: {step.note}){said}"
                raise Fail(_SANDBOX_PATH.sub("", message), hint=RUN_HINT)
    runs = []
    for e in run.runs:
        ran, skipped = sum(s.status == "ok" for s in e.steps), sum(s.status == "skipped" for s in e.steps)
        runs.append(f"{titles[e.event]} ({ran} steps ran" + (f", {skipped} skipped)" if skipped else ")"))
    return "every step succeeded in a sandbox copy of your repository, for " + " and for ".join(runs)


@EX.check("workflow_runs", points=0, public=True, hint=RUN_HINT)
def workflow_runs(ctx: CheckContext) -> str:
    """Self-check (no points): the workflow runs for a pull request and a push, every step succeeds."""
    if ctx.is_grading:
        graded = any(c.name == "workflow_runs_hidden" for c in EX.checks)
        raise Skip("this run is part of your self-check (no points)"
                   + ("; workflow_runs_hidden runs your workflow on hidden data" if graded else ""))
    try:
        text = _answer(ctx, WORKFLOW)
        finished = all(workflow_checks(text).values())
    except Fail:
        finished = False
    if not finished:
        raise Fail("not run yet: the workflow is not finished (the checks above say what it needs)",
                   hint="when they pass, this check runs every step of your workflow")
    from ops.workflow_run import run_workflow

    print("Running your workflow as a pull request into main and as a push to main, in a sandbox copy "
          "of your repository (a few minutes)...", flush=True)
    with tempfile.TemporaryDirectory(prefix="grader-5_4-") as tmp:
        path = Path(tmp) / "dbt_ci.yml"
        path.write_text(text, encoding="utf-8")
        run = run_workflow(path, repo_root(), time_limit=RUN_TIME_LIMIT,
                           overlay={f"dbt_project/{WORKFLOW}": text})
    ctx.cache["workflow_run"] = run
    return workflow_verdict(run)


def enable_hidden_workflow_check(run, points: float = 2) -> None:
    """Register `workflow_runs_hidden` (grading only). `run(answer_files) -> WorkflowRun` runs the
    submission's workflow with its answer files (dbt_project-relative paths), on hidden data, with a
    time limit: `ops.workflow_run.grading_runner(...)`. Not enabled by default (see ops/README.md)."""
    if any(c.name == "workflow_runs_hidden" for c in EX.checks):
        return

    @EX.check("workflow_runs_hidden", points=points, hint=RUN_HINT)
    def workflow_runs_hidden(ctx: CheckContext) -> str:
        """The workflow runs on hidden data for a pull request and a push; every step succeeds."""
        text = ctx.require_answer_file(WORKFLOW)
        if not all(workflow_checks(text).values()):
            raise Fail("not run: the workflow misses a required step (see workflow_build_and_test, "
                       "workflow_slim_ci)")
        return workflow_verdict(run(dict(ctx.answers.files)))


def missing_sections(markdown: str) -> list[str]:
    """Required sections without a matching Markdown heading (code blocks ignored)."""
    headings: list[str] = []
    in_code = False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_code = not in_code
            continue
        match = None if in_code else _HEADING.match(line)
        if match:
            headings.append(match.group(1).lower())
    return [label for label, pattern in SECTIONS.items()
            if not any(re.search(pattern, h) for h in headings)]


@EX.check("strategy_sections", points=2, public=True,
          hint="Markdown headings (`## Environments`, ...) for every section the notebook lists")
def strategy_sections(ctx: CheckContext) -> str:
    """deployment_strategy.md has a heading for every required section."""
    missing = missing_sections(_answer(ctx, STRATEGY))
    if missing:
        raise Fail(f"deployment_strategy.md has no heading for: {', '.join(missing)}")
    return f"all {len(SECTIONS)} required sections are there (your instructor reads the content)"
