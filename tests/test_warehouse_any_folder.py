"""The dev warehouse works from any working directory (views store absolute raw-data paths)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import copy_workspace, dbt_here, scratch_env

from grader.course import reference_answers

COUNT_EVERY_RELATION = """
import json, sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
con.execute("set enable_progress_bar = false")
names = [r[0] for r in con.execute(
    "select table_name from information_schema.tables where table_schema = 'main' order by 1").fetchall()]
probe = 'select count(*) from (select 1 from main."{}" limit 1)'  # reads files, stops at one row
print(json.dumps({n: con.execute(probe.format(n)).fetchall()[0][0] for n in names}))
"""


@pytest.fixture(scope="module")
def solved_copy(tmp_path_factory: pytest.TempPathFactory, built_warehouse: Path) -> Path:
    """A scratch copy of the course whose warehouse also holds the 5.1 answer, built by dbt."""
    root = copy_workspace(tmp_path_factory.mktemp("any-folder"), built_warehouse, parse_state=True)
    answers = reference_answers()
    for path, text in answers.files.items():
        if "int_customer_behavior_optimized" in path + text:  # the model, its YAML, its singular test
            target = root / "dbt_project" / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    built = dbt_here(["build", "--quiet", "-s", "int_customer_behavior_optimized"], root / "dbt_project",
                     env=scratch_env(root))  # real dbt, in this process
    assert built.returncode == 0, built.stdout[-3000:]
    return root


def _folders(root: Path) -> list[Path]:
    return [root, Path("/"), root / "notebooks"]


def test_every_relation_is_readable_from_any_folder(solved_copy: Path) -> None:
    warehouse = solved_copy / "dbt_project" / "warehouse" / "dev.duckdb"
    seen = []
    for folder in _folders(solved_copy):
        run = subprocess.run([sys.executable, "-c", COUNT_EVERY_RELATION, str(warehouse)], cwd=folder,
                             env=scratch_env(solved_copy), capture_output=True, text=True)
        assert run.returncode == 0, f"from {folder}: {run.stderr[-800:]}"
        seen.append(json.loads(run.stdout))
    assert len(seen[0]) > 20 and "stg_clickstream" in seen[0]
    assert seen[0] == seen[1] == seen[2]


def test_self_check_gives_the_same_verdict_from_any_folder(solved_copy: Path) -> None:
    outputs = []
    for folder in _folders(solved_copy):
        run = subprocess.run([sys.executable, "-m", "grader", "check", "5.1"], cwd=folder,
                             env=scratch_env(solved_copy), capture_output=True, text=True)
        outputs.append((run.returncode, run.stdout))
    assert outputs[0][0] == 0, outputs[0][1]  # the solution passes its public checks
    assert outputs[0] == outputs[1] == outputs[2]
