"""Issue 11, item 5: self-checks test what is taught.

The public 5.2 and bonus checks `replay_equals_full_refresh` run the intern's own model on the
intern's own data in a scratch copy (grader/self_replay.py): an arrival day with late, re-delivered
and duplicated events, then a full refresh to compare with. The seed's broken 5.2 model fails it,
for the bonus a model that adds up only the new events fails (that the solutions pass is what nbval
proves: their stored self-check outputs show the replay's PASS line, on the default data). Small data
(scale 0.02), real dbt in the replay's child process. The self-check's closing sentence reads
naturally (no "0 more check(s)").
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from grader.answers import Answers
from grader.context import CheckContext
from grader.course import reference_answers, starting_project
from grader.exercises import get_exercise
from grader.report import CheckResult
from grader.runner import run_check
from grader.selfcheck import hidden_sentence
from grader.selfcheck_report import ExerciseResult, markdown, run_one

REPO = Path(__file__).resolve().parent.parent
SEED_NOTEBOOK = REPO / "tests" / "fixtures" / "submissions" / "seed_answers" / "5_2_incremental_loading.ipynb"
MODELS = {"5.2": "stg_clickstream_incremental", "bonus": "int_customer_behavior_incremental"}


def test_hidden_check_sentence_reads_naturally():
    assert hidden_sentence(0) == ""
    assert hidden_sentence(1) == " The instructor also runs 1 more check on hidden data."
    assert hidden_sentence(5) == " The instructor also runs 5 more checks on hidden data."


def test_a_self_check_without_hidden_checks_says_nothing_about_them(monkeypatch):
    exercise = get_exercise("5.4")
    monkeypatch.setattr("grader.selfcheck_report.selfcheck_lines", lambda _ex: [
        "Exercise 5.4 (x): self-check of 1 public check", "  [PASS] workflow_parses: the workflow parses",
        "1/1 public checks pass."])
    result = run_one(exercise.id)
    assert result.hidden == 0 and result.checks == [(True, "workflow_parses", "the workflow parses", "")]
    assert "| 5.4 | 1/1 | pass | 0 |" in markdown([result])
    assert isinstance(result, ExerciseResult)


def _writefiles(notebook: Path) -> dict[str, str]:
    files = {}
    for cell in json.loads(notebook.read_text())["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and source.startswith("%%writefile ../dbt_project/"):
            first, body = source.split("\n", 1)
            files[first.split("../dbt_project/", 1)[1].strip()] = body
    return files


@pytest.fixture(scope="module")
def small_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    raw = tmp_path_factory.mktemp("replay-raw") / "raw"
    subprocess.run([sys.executable, "-m", "datasets.generate", "--seed", "42", "--scale", "0.02",
                    "--out", str(raw), "--quiet"], cwd=REPO, check=True)
    return raw


def _self_check(root: Path, raw: Path, exercise: str, answers: dict[str, str], monkeypatch) -> CheckResult:
    """The public check `replay_equals_full_refresh` as an intern's self-check runs it, in a repository
    at ``root`` holding the starting project plus ``answers`` and ``raw`` as its data."""
    project = root / "dbt_project"
    files = {rel: data for rel, data in starting_project(REPO).items() if not rel.startswith("docs/")}
    files.update({rel: text.encode("utf-8") for rel, text in answers.items()})
    for rel, data in files.items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_bytes(data)
    (root / "datasets").mkdir()
    (root / "datasets" / "raw").symlink_to(raw, target_is_directory=True)
    monkeypatch.setenv("VB_REPO_ROOT", str(root))
    monkeypatch.delenv("VB_RAW_DIR", raising=False)
    model = MODELS[exercise]
    manifest = {"nodes": {f"model.vyaparbazaar.{model}": {
        "resource_type": "model", "name": model, "unique_id": f"model.vyaparbazaar.{model}",
        "config": {"materialized": "incremental"}}}}
    ctx = CheckContext(exercise, Answers(files=answers), mode="self", manifest=manifest)
    spec = next(c for c in get_exercise(exercise).checks if c.name == "replay_equals_full_refresh")
    assert spec.public and spec.points == 0
    return run_check(ctx, spec, [])


def test_5_2_seed_model_fails_the_public_replay(small_raw: Path, tmp_path: Path, monkeypatch):
    result = _self_check(tmp_path, small_raw, "5.2", _writefiles(SEED_NOTEBOOK), monkeypatch)
    assert not result.passed, result
    assert result.message.startswith(("after the first run", "after an arrival day")), result.message
    assert "late" in result.message or "duplicated" in result.message


def _bonus_answers() -> dict[str, str]:
    return {p: t for p, t in reference_answers(REPO).files.items()
            if p.startswith(("models/intermediate/int_c", "models/intermediate/_bonus", "macros/get_date",
                             "macros/days_since"))}


def test_bonus_new_rows_only_fails_the_public_replay(small_raw: Path, tmp_path: Path, monkeypatch):
    from grader.exercises import ex_bonus

    answers = _bonus_answers()
    good = answers[ex_bonus.MODEL_FILE]
    touched_only = "      and customer_id in (select customer_id from customers)"
    assert touched_only in good
    wrong = good.replace(touched_only, touched_only +
                         "\n      and _loaded_at > (select events_loaded_through from watermarks)")
    failed = _self_check(tmp_path, small_raw, "bonus", {**answers, ex_bonus.MODEL_FILE: wrong},
                         monkeypatch)
    assert not failed.passed and "differs from a full refresh of your model" in failed.message, failed


def test_the_replay_is_not_run_for_an_unfinished_model(tmp_path: Path):
    ctx = CheckContext("5.2", Answers(files={"models/staging/stg_clickstream_incremental.sql": "select 1"}),
                       mode="self", manifest={"nodes": {}})
    spec = next(c for c in get_exercise("5.2").checks if c.name == "replay_equals_full_refresh")
    result = run_check(ctx, spec, [])
    assert not result.passed and "not in the project" in result.message
