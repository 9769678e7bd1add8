"""ops.build_profile: medians, layers and critical path on known numbers, then real dbt builds."""

from __future__ import annotations

import os

import matplotlib
import pytest

from ops import build_profile as bp
from ops.demo_project import write_demo_project

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _no_vb_overrides(monkeypatch):
    """Tests choose every path themselves: no VB_* variable of the caller leaks into dbt."""
    for var in ("VB_DUCKDB_PATH", "VB_WAREHOUSE_DIR", "VB_PROD_DUCKDB_PATH", "VB_RAW_DIR", "VB_TARGET"):
        monkeypatch.delenv(var, raising=False)


def node(name: str, folder: list[str], materialized: str = "table") -> dict:
    return {
        "name": name,
        "alias": name,
        "resource_type": "model",
        "fqn": ["p", *folder, name],
        "config": {"materialized": materialized},
    }


MANIFEST = {
    "nodes": {
        "model.p.stg_a": node("stg_a", ["staging"], "view"),
        "model.p.stg_b": node("stg_b", ["staging"], "view"),
        "model.p.int_x": node("int_x", ["intermediate"]),
        "model.p.dim_y": node("dim_y", ["marts", "core"]),
        "model.p.mart_z": node("mart_z", ["marts"]),
    },
    "parent_map": {
        "model.p.stg_a": [],
        "model.p.stg_b": [],
        "model.p.int_x": ["model.p.stg_a"],
        "model.p.dim_y": ["model.p.stg_b"],
        "model.p.mart_z": ["model.p.int_x", "model.p.dim_y"],
    },
}


def run(times: dict[str, float]) -> dict:
    return {
        "results": [
            {"unique_id": f"model.p.{k}", "status": "success", "execution_time": v} for k, v in times.items()
        ]
        + [{"unique_id": "test.p.t", "status": "pass", "execution_time": 9}]
    }


RUNS = [
    run({"stg_a": 1, "stg_b": 1, "int_x": 2, "dim_y": 5, "mart_z": 1}),
    run({"stg_a": 1, "stg_b": 3, "int_x": 4, "dim_y": 5, "mart_z": 1}),
    run({"stg_a": 9, "stg_b": 2, "int_x": 3, "dim_y": 5, "mart_z": 1}),
]


def test_medians_layers_and_critical_path():
    models = bp.model_timings(RUNS, MANIFEST)
    assert list(models["model"]) == ["dim_y", "int_x", "stg_b", "mart_z", "stg_a"]
    assert list(models["median_s"]) == [5, 3, 2, 1, 1] and set(models["runs"]) == {3}
    layers = bp.layer_timings(models)
    assert list(layers["layer"]) == ["staging", "intermediate", "core", "marts"]
    assert list(layers["median_total_s"]) == [3, 3, 5, 1] and layers["share"].sum() == pytest.approx(1.0)
    path, total = bp.critical_path(models, MANIFEST)
    assert (path, total) == (["stg_b", "dim_y", "mart_z"], 8.0)  # not stg_a -> int_x -> mart_z (5.0)


@pytest.mark.slow
def test_real_builds_sizes_and_chart(tmp_path, monkeypatch):
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    project = write_demo_project(tmp_path / "demo")
    db = tmp_path / "profile.duckdb"
    paths = bp.run_builds(2, tmp_path / "runs", project, db)
    assert [p.name for p in paths] == ["run_results_001.json", "run_results_002.json"]
    assert "VB_DUCKDB_PATH" not in os.environ and "VB_TARGET" not in os.environ  # set while dbt ran only
    manifest = bp.load_manifest(tmp_path / "runs" / "manifest.json")
    models = bp.model_timings(bp.load_runs(tmp_path / "runs"), manifest)
    assert len(models) == 8 and set(models["runs"]) == {2} and (models["median_s"] > 0).all()
    path, total = bp.critical_path(models, manifest)
    assert path[-2:] == ["mart_customer_summary", "ml_customer_features"] and total > 0
    sizes = bp.model_sizes(db, manifest).set_index("model")
    assert sizes.loc["fct_orders", "rows"] == 4 and sizes.loc["dim_customers", "rows"] == 3
    assert sizes.loc["stg_orders", "relation"] == "view" and sizes["rows"].isna().sum() == 3
    assert (sizes.loc[sizes["relation"] == "table", "est_bytes"] >= 262144).all()
    ax = bp.plot_bars(models, top=3)
    assert len(ax.patches) == 3
