"""Checks of the bonus exercise.

Public checks (config, macro) on hand-made manifests and a tiny warehouse: no dbt. The grading
replay (slow) with real generated data (scale 0.02), real dbt and real grader workspaces: the
solution's answers pass; a model that adds up only the new events (not the touched customers'
full history) passes its first run and fails after the arrival days.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from datasets.arrivals import write_arrival
from grader.answers import Answers
from grader.context import CheckContext
from grader.course import reference_answers, starting_project
from grader.exercises import ex_bonus, get_exercise
from grader.preparation import GradingSetup, ReferenceSetup
from grader.report import CheckResult
from grader.runner import run_check
from grader.workspace import Workspace

REPO = Path(__file__).resolve().parent.parent
MODEL = ex_bonus.MODEL
UID = f"model.vyaparbazaar.{MODEL}"
MACRO_UID = "macro.vyaparbazaar.get_date_parts"
ANSWERS = {ex_bonus.MODEL_FILE: "select 1",
           ex_bonus.MACRO_FILE: "{% macro get_date_parts(d) %}{% endmacro %}"}


def _manifest(config: dict, macro: bool = True, used: bool = True) -> dict:
    nodes = {UID: {"resource_type": "model", "name": MODEL, "unique_id": UID, "config": config,
                   "depends_on": {"macros": [], "nodes": []}}}
    if used:
        nodes["model.vyaparbazaar.dim_date_v2"] = {
            "resource_type": "model", "name": "dim_date_v2", "unique_id": "model.vyaparbazaar.dim_date_v2",
            "config": {"materialized": "table"}, "depends_on": {"macros": [MACRO_UID], "nodes": []}}
    macros = {MACRO_UID: {"name": "get_date_parts", "package_name": "vyaparbazaar"}} if macro else {}
    return {"nodes": nodes, "macros": macros}


def _self_check(tmp_path: Path, manifest: dict, answers: dict[str, str],
                built: bool = True) -> dict[str, CheckResult]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        if built:
            con.execute(f"create table {MODEL} as select 'C1' as customer_id")
    holder: list[duckdb.DuckDBPyConnection] = []

    def connect() -> duckdb.DuckDBPyConnection:
        if not holder:
            holder.append(duckdb.connect(str(warehouse), read_only=True))
        return holder[0]

    ctx = CheckContext("bonus", Answers(files=answers), mode="self", connect=connect, manifest=manifest)
    try:
        # replay_equals_full_refresh runs dbt on data: tests/test_grader_self_replay.py
        return {s.name: run_check(ctx, s, []) for s in get_exercise("bonus").checks
                if s.public and s.name != "replay_equals_full_refresh"}
    finally:
        for con in holder:
            con.close()


def test_public_checks_pass_on_the_contract(tmp_path: Path) -> None:
    results = _self_check(tmp_path, _manifest({"materialized": "incremental", "unique_key": "customer_id"}),
                          ANSWERS)
    assert {n: r.message for n, r in results.items() if not r.passed} == {}
    assert "dim_date_v2" in results["macro_used"].message


def test_public_checks_name_each_problem(tmp_path: Path) -> None:
    results = _self_check(tmp_path, _manifest({"materialized": "table"}, used=False), ANSWERS, built=False)
    assert "expected 'incremental'" in results["incremental_config"].message
    assert "%%writefile" in results["builds"].message
    assert results["macro_defined"].passed
    assert "no model calls get_date_parts" in results["macro_used"].message
    keyless = _self_check(tmp_path / "k", _manifest({"materialized": "incremental"}), ANSWERS)
    assert "unique_key is None" in keyless["incremental_config"].message
    unsolved = {**ANSWERS, ex_bonus.MACRO_FILE: "-- YOUR CODE HERE"}
    results = _self_check(tmp_path / "u", _manifest({}, macro=False, used=False), unsolved)
    assert "YOUR CODE HERE" in results["macro_defined"].message


# ---- grading replay: real data, real dbt -----------------------------------------------------------
@pytest.fixture(scope="module")
def grading(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Hidden-like data with 2 arrival days, a base workspace, and the reference with its snapshots."""
    reference = {p: t for p, t in reference_answers(REPO).files.items()
                 if p.startswith(("models/intermediate/int_c", "models/intermediate/_bonus",
                                  "macros/get_date", "macros/days_since", "models/marts/core/dim_date_v2",
                                  "models/marts/core/_dim_date_v2"))}
    assert ex_bonus.MODEL_FILE in reference, "solutions/ lost the bonus model"
    root = tmp_path_factory.mktemp("bonus-grading")
    raw, scratch, arrivals = root / "raw", root / "raw-arrivals", root / "arrivals"
    subprocess.run([sys.executable, "-m", "datasets.generate", "--seed", "2027", "--scale", "0.02",
                    "--edge-cases", "--out", str(raw), "--quiet"], cwd=REPO, check=True)
    shutil.copytree(raw, scratch)
    arrivals.mkdir()
    files = [shutil.copy(write_arrival(scratch, day), arrivals) for day in (1, 2)]
    base = Workspace.create(root / "base", starting_project(REPO))
    base.load_raw(raw)
    ref = base.clone(root / "reference")
    ref.write_files(reference)
    setup = GradingSetup("test", 2027, 0.02, str(root), str(raw), [str(f) for f in files], str(root / "base"),
                         str(root / "reference"))
    assert ref.dbt("run", "--select", f"+{MODEL}", "+dim_date_v2").success
    ex_bonus.snapshot_reference(ReferenceSetup(ref, setup))
    ref.close()
    return {"root": root, "raw": raw, "base": base, "ref": ref, "reference": reference,
            "arrivals": [Path(f) for f in files]}


def _grade(grading: dict, name: str, answers: dict[str, str]) -> dict[str, CheckResult]:
    ws = grading["base"].clone(grading["root"] / name)
    ws.write_files(answers)
    ctx = CheckContext("bonus", Answers(files=answers), workspace=ws, reference=grading["ref"],
                       arrival_files=grading["arrivals"], base_raw_dir=grading["raw"],
                       scratch_dir=grading["root"] / f"{name}-forks")
    try:
        return {s.name: run_check(ctx, s, []) for s in get_exercise("bonus").checks}
    finally:
        ws.close()
        grading["ref"].close()


@pytest.mark.slow
def test_solution_passes_every_check(grading: dict) -> None:
    results = _grade(grading, "solution", grading["reference"])
    # 0-point checks are self-check feedback only (replay_equals_full_refresh skips when grading)
    assert {n: r.message for n, r in results.items() if not r.passed and r.max_points} == {}


@pytest.mark.slow
def test_summing_only_new_events_fails_after_arrivals(grading: dict) -> None:
    good = grading["reference"][ex_bonus.MODEL_FILE]
    touched_only = "      and customer_id in (select customer_id from customers)"
    assert touched_only in good
    new_rows_only = "\n      and _loaded_at > (select events_loaded_through from watermarks)"
    wrong = good.replace(touched_only, touched_only + new_rows_only)
    results = _grade(grading, "new-rows-only", {**grading["reference"], ex_bonus.MODEL_FILE: wrong})
    assert results["first_run_matches_reference"].passed, results["first_run_matches_reference"].message
    assert not results["matches_reference_after_arrivals"].passed
    assert "after arrival day 1" in results["matches_reference_after_arrivals"].message
    assert not results["equals_own_full_refresh"].passed
