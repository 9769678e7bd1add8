"""The course's own notebooks through the real grader: every solution notebook scores full marks
on the auto-graded checks of its exercise, every intern notebook (notebooks/) scores zero.

Runs on the repository itself (starting project, solutions/ as reference); exercises without a
solution notebook yet, or without checks, are skipped.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader.api import registry
from grader.batch import grade_batch

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent


def _graded_exercises() -> list[str]:
    solved = {p.name[:3] for p in (REPO / "solutions").glob("*.ipynb")}
    return [ex_id for ex_id, ex in registry().items()
            if ex.checks and ex_id.replace(".", "_")[:3] in solved]


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict:
    if not _graded_exercises():
        pytest.skip("no solution notebook with auto-graded checks yet")
    klass = tmp_path_factory.mktemp("class")
    shutil.copytree(REPO / "solutions", klass / "solutions", ignore=shutil.ignore_patterns(".*"))
    shutil.copytree(REPO / "notebooks", klass / "notebooks", ignore=shutil.ignore_patterns(".*"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VB_GRADER_CACHE", str(tmp_path_factory.mktemp("cache")))
        done = grade_batch([klass / "solutions", klass / "notebooks"], tmp_path_factory.mktemp("out"), jobs=2,
                           timeout=900, seed=7, scale=0.02, log=lambda _m: None)
    return {r["submission"]: r for r in done}


@pytest.mark.parametrize("ex_id", _graded_exercises())
def test_solutions_full_marks_and_intern_notebooks_zero(reports: dict, ex_id: str):
    solved = reports["solutions"]["exercises"][ex_id]
    # 0-point checks are self-check feedback only (5.4's workflow_runs skips when grading)
    lost = [(c["name"], c["message"]) for c in solved["checks"] if not c["passed"] and c["max_points"]]
    assert not lost, lost
    assert reports["notebooks"]["exercises"][ex_id]["score"] == 0, reports["notebooks"]["exercises"][ex_id]
