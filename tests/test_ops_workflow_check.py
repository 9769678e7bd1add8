"""ops.workflow_check on the reference workflow and on the mistakes interns make."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from grader.course import reference_answers
from ops.workflow_check import check_workflow

# The complete workflow is exercise 5.4's answer: its only source is the solution notebook.
# dbt_project/ci/dbt_ci.yml is the interns' starting point (with TODOs).
STARTING_POINT = Path(__file__).resolve().parents[1] / "dbt_project" / "ci" / "dbt_ci.yml"


@pytest.fixture(scope="module")
def REFERENCE(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("reference") / "dbt_ci.yml"
    path.write_text(reference_answers().files["ci/dbt_ci.yml"])
    return path


def present(path: Path) -> dict[str, bool]:
    return {c.name: c.present for c in check_workflow(path)}


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "wf.yml"
    path.write_text(body)
    return path


def test_starting_point_lacks_the_steps_the_intern_adds():
    assert not all(present(STARTING_POINT).values()), "the starting workflow already holds the answer"


def test_reference_workflow_has_every_step(REFERENCE):
    assert all(present(REFERENCE).values()), present(REFERENCE)
    out = subprocess.run(
        [sys.executable, "-m", "ops.workflow_check", str(REFERENCE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0 and out.stdout.splitlines()[-1] == "all required steps present"


def test_literal_slim_ci_command_split_over_lines_counts(tmp_path):
    wf = write(
        tmp_path,
        """\
on: [pull_request]
env: {VB_TARGET: ci}
jobs:
  ci:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: cd dbt_project && dbt build && dbt test
      - name: slim
        run: |
          dbt build --select "state:modified+" \\
            --defer --state ./prod-artifacts
""",
    )
    found = present(wf)
    assert found["build"] and found["test"] and found["slim_ci"] and found["ci_target"]
    assert found["pull_request_trigger"] and found["checkout"] and not found["python_3_11"]


def test_incomplete_slim_ci_and_commented_steps_do_not_count(tmp_path):
    wf = write(
        tmp_path,
        """\
on: push
jobs:
  ci:
    steps:
      - run: |
          # dbt test --target ci
          dbt build --select state:modified+ --state prod   # no --defer
          echo "dbt test"
      - run: dbt run -s state:modified+ --defer
""",
    )
    found = present(wf)
    assert found["build"] and not found["slim_ci"] and not found["test"] and not found["pull_request_trigger"]
    out = subprocess.run(
        [sys.executable, "-m", "ops.workflow_check", str(wf)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 1 and out.stdout.splitlines()[-1] == "missing required: test, slim_ci"


def test_bad_files_are_one_line_errors(tmp_path):
    cases = {"missing.yml": None, "bad.yml": "jobs: [\n  - x\n", "nojobs.yml": "name: x\non: push\n"}
    for name, body in cases.items():
        path = tmp_path / name
        if body is not None:
            path.write_text(body)
        out = subprocess.run(
            [sys.executable, "-m", "ops.workflow_check", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert out.returncode == 2 and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr, name
        assert out.stderr.startswith("error: ")
