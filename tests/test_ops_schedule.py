"""ops.schedule: the tier rules on small graphs, then the real project's selectors.yml."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ops import schedule as sch
from ops.dbt_invoke import OpsError

REPO = Path(__file__).resolve().parents[1]
HOURLY, DAILY, WEEKLY = sch.TIERS

PARENTS = {"stg": [], "int": ["stg"], "fct": ["int"], "mart": ["fct", "stg"], "ml": ["mart"]}


@pytest.fixture(autouse=True)
def _no_vb_overrides(monkeypatch):
    """Tests choose every path themselves: no VB_* variable of the caller leaks into dbt."""
    for var in ("VB_DUCKDB_PATH", "VB_WAREHOUSE_DIR", "VB_PROD_DUCKDB_PATH", "VB_RAW_DIR", "VB_TARGET"):
        monkeypatch.delenv(var, raising=False)


def members(**tiers: list[str]) -> dict[str, set[str]]:
    return {name: set(tiers.get(name, [])) for name in ("hourly", "daily", "weekly")}


def test_well_layered_schedule_has_no_findings():
    ok = members(hourly=["stg", "int"], daily=["fct", "mart"], weekly=["ml"])
    assert sch.validate(PARENTS, ok) == []


def test_child_more_frequent_than_parent_is_flagged():
    bad = members(hourly=["stg", "int", "mart"], daily=["fct"], weekly=["ml"])
    [finding] = sch.validate(PARENTS, bad)
    assert (finding.kind, finding.model) == ("parent_less_frequent", "mart")
    assert "reads fct refreshed only daily" in finding.detail


def test_unscheduled_several_tiers_and_unknown_tier():
    findings = sch.validate(PARENTS, members(hourly=["stg", "int"], daily=["fct", "mart", "int"]))
    assert [(f.kind, f.model) for f in findings] == [("several_tiers", "int"), ("unscheduled", "ml")]
    assert (
        sch.validate(PARENTS, members(hourly=["stg", "int"], daily=["fct", "mart"]), ephemeral={"ml"}) == []
    )
    with pytest.raises(OpsError, match="no schedule"):
        sch.validate(PARENTS, {"monthly": {"stg"}})


def test_parent_must_start_early_enough():
    assert sch.min_lead(HOURLY, DAILY) == 45 and sch.min_lead(DAILY, WEEKLY) == 180
    assert sch.min_lead(HOURLY, WEEKLY) == 45
    same_time = (sch.Tier("hourly", 60, 0), sch.Tier("daily", 1440, 60), WEEKLY)
    [finding] = sch.validate({"a": [], "b": ["a"]}, {"hourly": {"a"}, "daily": {"b"}}, same_time)
    assert finding.kind == "parent_not_earlier" and "starts 0 min after" in finding.detail
    assert sch.validate({"a": [], "b": ["a"]}, {"hourly": {"a"}, "daily": {"b"}}, same_time, min_gap=0) == []


def test_ephemeral_parents_are_seen_through():
    manifest = {
        "nodes": {
            "model.p.a": {"resource_type": "model", "config": {"materialized": "table"}},
            "model.p.e": {"resource_type": "model", "config": {"materialized": "ephemeral"}},
            "model.p.b": {"resource_type": "model", "config": {"materialized": "table"}},
        },
        "parent_map": {
            "model.p.a": ["source.p.raw.x"],
            "model.p.e": ["model.p.a"],
            "model.p.b": ["model.p.e"],
        },
    }
    assert sch.model_parents(manifest) == {
        "model.p.a": [],
        "model.p.b": ["model.p.a"],
        "model.p.e": ["model.p.a"],
    }


@pytest.mark.slow
def test_real_project_tiers_cover_every_model_once_and_respect_the_dag(tmp_path):
    project = tmp_path / "dbt_project"
    shutil.copytree(
        REPO / "dbt_project", project, ignore=shutil.ignore_patterns("target", "warehouse", "logs")
    )
    membership, manifest = sch.tier_membership(project)
    parents = sch.model_parents(manifest)
    findings = sch.validate(parents, membership)
    assert findings == [], sch.format_report(membership, findings)
    assert set(parents) == set().union(*membership.values()), "every model is in a tier"
    names = {tier: {u.split(".")[-1] for u in uids} for tier, uids in membership.items()}
    assert {"stg_orders", "int_customer_behavior"} <= names["hourly"]
    assert {"dim_customers", "fct_orders", "mart_customer_overview"} <= names["daily"]
    assert "ml_customer_features" in names["weekly"]
    # the seed's business table wants mart_inventory_status hourly: its daily parents make that wrong
    moved = sch.validate(parents, sch.apply_moves(membership, {"mart_inventory_status": "hourly"}))
    assert moved and {f.kind for f in moved} == {"parent_less_frequent"}
    assert {f.model for f in moved} == {"model.vyaparbazaar.mart_inventory_status"}
    out = subprocess.run(
        [sys.executable, "-m", "ops.schedule", "--project-dir", str(project), "--move", "x"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 2 and "must look like MODEL=TIER" in out.stderr
