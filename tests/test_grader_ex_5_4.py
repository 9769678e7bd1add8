"""Checks of exercise 5.4 against the answers of its own solution notebook, the intern version of
the same cells, and broken answers. No warehouse is needed: the checks read answer files only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.answers import Answers, answers_from_notebooks, strip_solution_markers
from grader.api import Fail
from grader.assign import strip_cell
from grader.context import CheckContext
from grader.exercises import ex_5_4, get_exercise

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO / "solutions" / "5_4_deployment_strategy.ipynb"
PREFIX = "%%writefile ../dbt_project/"


def _writefile_cells() -> dict[str, str]:
    """{dbt_project path: cell body} of the notebook's %%writefile cells (markers kept)."""
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    found = {}
    for cell in cells:
        source = "".join(cell["source"])
        first, _, body = source.partition("\n")
        if cell["cell_type"] == "code" and first.startswith(PREFIX):
            found[first[len(PREFIX):].strip()] = body
    return found


def _run(files: dict[str, str]) -> dict[str, str]:
    """Run every check of 5.4 on answer files; {check: 'pass: msg' | 'fail: msg'}."""
    ctx = CheckContext("5.4", Answers(files=dict(files)), mode="self")
    outcome = {}
    for spec in get_exercise("5.4").checks:
        if spec.name == "workflow_runs":  # runs the workflow for minutes: tests/test_ops_workflow_run.py
            continue
        try:
            outcome[spec.name] = f"pass: {spec.function(ctx)}"
        except Fail as failure:
            outcome[spec.name] = f"fail: {failure.message}"
    return outcome


@pytest.fixture()
def no_project(tmp_path, monkeypatch) -> None:
    """Self-check fallback (reading dbt_project/ directly) sees an empty project."""
    monkeypatch.setenv("VB_REPO_ROOT", str(tmp_path))


def test_solution_answers_pass_every_check(no_project):
    cells = _writefile_cells()
    assert set(cells) == {ex_5_4.WORKFLOW, ex_5_4.STRATEGY}
    result = _run({path: strip_solution_markers(body) for path, body in cells.items()})
    assert all(v.startswith("pass") for v in result.values()), result
    assert result["strategy_sections"] == (
        "pass: all 7 required sections are there (your instructor reads the content)")


def test_intern_starting_point_scores_nothing(no_project):
    intern = {path: strip_cell(body) for path, body in _writefile_cells().items()}
    assert "YOUR CODE HERE" in intern[ex_5_4.WORKFLOW]
    result = _run(intern)
    assert result["workflow_parses"] == (
        "fail: dbt_project/ci/dbt_ci.yml still contains 'YOUR CODE HERE': replace it with your answer")
    assert result["workflow_build_and_test"] == (
        "fail: the workflow has no `dbt build` step and no `dbt test` step")
    assert result["workflow_slim_ci"] == "fail: the workflow has no slim CI step"
    assert result["strategy_sections"] == (
        "fail: dbt_project/docs/deployment_strategy.md still contains 'YOUR CODE HERE': "
        "replace it with your answer")


def test_missing_answers_say_how_to_write_them(no_project):
    result = _run({})
    assert result["workflow_parses"].startswith("fail: no answer for dbt_project/ci/dbt_ci.yml")
    assert result["strategy_sections"].startswith(
        "fail: no answer for dbt_project/docs/deployment_strategy.md")


def test_bad_yaml_is_one_line_without_temp_paths(no_project):
    result = _run({ex_5_4.WORKFLOW: "jobs:\n  dbt: [\n"})
    message = result["workflow_parses"]
    assert message.startswith("fail: dbt_project/ci/dbt_ci.yml is not valid YAML at line"), message
    assert "\n" not in message and "/tmp" not in message and "grader-5_4" not in message


def test_slim_ci_needs_defer_and_state(no_project):
    workflow = _writefile_cells()[ex_5_4.WORKFLOW]
    solved = strip_solution_markers(workflow)
    no_slim = solved.replace("python -m ops.slim_ci", "echo skipped").replace(
        "# ops.slim_ci runs", "# it ran")
    assert _run({ex_5_4.WORKFLOW: no_slim})["workflow_slim_ci"] == "fail: the workflow has no slim CI step"
    literal = no_slim.replace("run: echo skipped",
                              "run: dbt build --select state:modified+ --state prod-state")
    assert _run({ex_5_4.WORKFLOW: literal})["workflow_slim_ci"].startswith("fail")  # no --defer
    literal = literal.replace("--state prod-state", "--defer --state prod-state")
    assert _run({ex_5_4.WORKFLOW: literal})["workflow_slim_ci"] == "pass: the workflow has a slim CI step"


def test_sections_are_headings_outside_code_blocks():
    doc = "# Strategy\n## Environments\nCI/CD is in the text only.\n```\n## Schedule\n```\n"
    missing = ex_5_4.missing_sections(doc)
    assert missing == ["CI/CD", "Schedule", "Monitoring and alerting", "Failure handling and rollback",
                       "Data flow", "Questions to consider"]
    assert ex_5_4.missing_sections(doc + "### CI / CD\n## Schedule table\n") == missing[2:]


def test_prose_answers_and_document_are_manual_items():
    exercise = get_exercise("5.4")
    manual = {m.name: (m.answer_tag, m.answer_file) for m in exercise.manual_items}
    assert manual == {
        "q1": ("answer:5.4:q1", None), "q2": ("answer:5.4:q2", None), "q3": ("answer:5.4:q3", None),
        "q4": ("answer:5.4:q4", None), "strategy": (None, ex_5_4.STRATEGY),
    }
    reference = answers_from_notebooks([(NOTEBOOK.name, NOTEBOOK.read_bytes())], reference=True)
    for question in ("q1", "q2", "q3", "q4"):
        assert len(reference.prose[f"5.4:{question}"]) > 200
