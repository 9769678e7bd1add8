"""The course's own notebooks through the real grader: every solution notebook scores full marks
on the auto-graded checks of its exercise; what an intern hands in from the intern edition grades
here unchanged: its unsolved notebooks (zipped by the edition's `make submission`) score zero, and
with 5.1 solved (the solution's %%writefile cells in the edition's notebook) 5.1 alone scores full marks.

Runs on the repository itself (starting project, solutions/ as reference); every exercise is graded
(the bonus too): a missing solution notebook fails.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import scratch_env

from grader.batch import grade_batch
from grader.exercises import registry

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent


def solution_notebook(ex_id: str) -> Path | None:
    """The solution notebook of an exercise: 5_1_*.ipynb for 5.1, 5_bonus_*.ipynb for the bonus."""
    stem = "5_bonus_" if ex_id == "bonus" else ex_id.replace(".", "_") + "_"
    found = sorted((REPO / "solutions").glob(f"{stem}*.ipynb"))
    return found[0] if found else None


def _graded_exercises() -> list[str]:
    """Every exercise with auto-graded checks (a missing solution notebook fails, never skips)."""
    return [ex_id for ex_id, ex in registry().items() if ex.checks]


def test_every_graded_exercise_has_its_solution_notebook():
    assert _graded_exercises() == list(registry()), "an exercise lost its checks"
    missing = [ex_id for ex_id in _graded_exercises() if solution_notebook(ex_id) is None]
    assert not missing, f"no solution notebook for {missing}"
    assert solution_notebook("bonus").name.startswith("5_bonus_")


def _edition_submission(release_folder: Path, scratch: Path) -> Path:
    """`make submission` in a clean copy of the edition (using this checkout's .venv): submission.zip."""
    copy = scratch / "edition"
    shutil.copytree(release_folder, copy)
    (copy / ".venv").symlink_to(REPO / ".venv", target_is_directory=True)
    (copy / ".state").mkdir(exist_ok=True)
    (copy / ".state" / "venv.ok").touch()
    done = subprocess.run(["make", "submission"], cwd=copy, capture_output=True, text=True, timeout=300,
                          env=scratch_env(copy) | {"MAKEFLAGS": ""})
    assert done.returncode == 0, done.stdout + done.stderr
    return copy / "submission.zip"


def _with_solved_writefiles(intern: Path, solution: Path) -> str:
    """The intern notebook with each %%writefile cell replaced by the solution's cell for that path."""
    solved = {}
    for cell in json.loads(solution.read_text())["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and source.startswith("%%writefile"):
            solved[source.split("\n", 1)[0]] = cell["source"]
    notebook = json.loads(intern.read_text())
    for cell in notebook["cells"]:
        first = "".join(cell["source"]).split("\n", 1)[0]
        if cell["cell_type"] == "code" and first in solved:
            cell["source"] = solved[first]
    return json.dumps(notebook, indent=1)


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory, release_build, grader_cache: Path) -> dict:
    klass = tmp_path_factory.mktemp("class")
    shutil.copytree(REPO / "solutions", klass / "solutions", ignore=shutil.ignore_patterns(".*"))
    shutil.copy(_edition_submission(release_build.folder, tmp_path_factory.mktemp("scratch")),
                klass / "edition_unsolved.zip")
    partly = klass / "edition_5_1_solved"
    shutil.copytree(release_build.folder / "notebooks", partly)
    name = next(p.name for p in (REPO / "solutions").glob("5_1_*.ipynb"))
    (partly / name).write_text(_with_solved_writefiles(partly / name, REPO / "solutions" / name))
    with pytest.MonkeyPatch.context() as mp:  # the default seed and scale: tests/test_readme.py's grading
        mp.setenv("VB_GRADER_CACHE", str(grader_cache))  # (the same course) reuses this preparation
        done = grade_batch([klass / "solutions", klass / "edition_unsolved.zip", partly],
                           tmp_path_factory.mktemp("out"), jobs=2, timeout=900, log=lambda _m: None)
    return {r.submission: r for r in done}


@pytest.mark.parametrize("ex_id", _graded_exercises())
def test_solutions_full_marks_and_intern_notebooks_zero(reports: dict, ex_id: str):
    solved = reports["solutions"].exercises[ex_id]
    # 0-point checks are self-check feedback only (5.4's workflow_runs skips when grading)
    lost = [(c.name, c.message) for c in solved.checks if not c.passed and c.max_points]
    assert not lost, lost
    unsolved = reports["edition_unsolved"]
    assert unsolved.status == "ok" and not unsolved.problems, unsolved
    assert unsolved.exercises[ex_id].score == 0, unsolved.exercises[ex_id]


@pytest.mark.parametrize("ex_id", _graded_exercises())
def test_an_edition_notebook_solved_in_place_grades_like_the_solution(reports: dict, ex_id: str):
    partly = reports["edition_5_1_solved"].exercises[ex_id]
    if ex_id == "5.1":
        assert partly.score == partly.max_score > 0, [c for c in partly.checks if not c.passed]
    else:
        assert partly.score == 0, partly
