"""ops.project_review: each structure rule on a small manifest, then a real dbt parse."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from course_core.dbt_invoke import dbt_command
from ops import project_review as pr
from ops.demo_project import write_demo_project


@pytest.fixture(autouse=True)
def _no_vb_overrides(monkeypatch):
    """Tests choose every path themselves: no VB_* variable of the caller leaks into dbt."""
    for var in ("VB_DUCKDB_PATH", "VB_WAREHOUSE_DIR", "VB_PROD_DUCKDB_PATH", "VB_RAW_DIR", "VB_TARGET"):
        monkeypatch.delenv(var, raising=False)


def model(
    name: str, folder: list[str], parents: list[str], materialized: str = "table", description: str = "d"
) -> dict:
    return {
        "name": name,
        "resource_type": "model",
        "fqn": ["p", *folder, name],
        "description": description,
        "config": {"materialized": materialized},
        "depends_on": {"nodes": parents},
        "columns": {"id": {"name": "id", "description": "the id"}, "x": {"name": "x", "description": ""}},
    }


def data_test(name: str, model_id: str, column: str | None = "id") -> dict:
    return {
        "resource_type": "test",
        "attached_node": model_id,
        "column_name": column,
        "test_metadata": {"name": name, "kwargs": {}},
    }


def manifest() -> dict:
    m = {
        "model.p.stg_a": model("stg_a", ["staging"], ["source.p.raw.a"], "view"),
        "model.p.stg_b": model("stg_b", ["staging"], ["model.p.stg_a"], "view"),
        "model.p.stg_c": model("stg_c", ["staging"], ["model.p.stg_b"], "view"),
        "model.p.int_v": model("int_v", ["intermediate"], ["model.p.stg_c"], "view"),
        "model.p.int_x": model("int_x", ["intermediate"], ["model.p.stg_a", "source.p.raw.b"]),
        "model.p.dim_date": model("dim_date", ["marts", "core"], [], description=""),
        "model.p.mart_1": model("mart_1", ["marts"], ["model.p.int_x"]),
        "model.p.mart_2": model("mart_2", ["marts"], ["model.p.int_x"]),
        "model.p.mart_3": model("mart_3", ["marts"], ["model.p.int_x"]),
        "model.p.mart_4": model("mart_4", ["marts"], ["model.p.int_x", "model.p.int_v"]),
    }
    tests = {
        f"test.p.t{i}": t
        for i, t in enumerate(
            [
                data_test("unique", "model.p.stg_a"),
                data_test("not_null", "model.p.stg_a"),
                data_test("unique", "model.p.stg_b"),
                data_test("not_null", "model.p.stg_b", "x"),  # different columns: no PK
                data_test("unique_combination_of_columns", "model.p.int_x", None),
                data_test("unique", "model.p.mart_1"),
                data_test("not_null", "model.p.mart_1"),
            ]
        )
    }
    m["model.p.mart_2"]["constraints"] = [{"type": "primary_key", "columns": ["id"]}]
    child_map: dict[str, list[str]] = {}
    for uid, node in m.items():
        for p in node["depends_on"]["nodes"]:
            child_map.setdefault(p, []).append(uid)
    return {
        "nodes": {**m, **tests},
        "parent_map": {u: n["depends_on"]["nodes"] for u, n in m.items()},
        "child_map": child_map,
    }


def test_structure_rules():
    found = {(f.rule, f.model) for f in pr.structure_findings(manifest())}
    assert found == {
        ("chained_views", "int_v"),  # stg_a -> stg_b -> stg_c -> int_v: 4 views > 3
        ("missing_primary_key_test", "stg_b"),
        ("missing_primary_key_test", "stg_c"),
        ("missing_primary_key_test", "int_v"),
        ("missing_primary_key_test", "dim_date"),
        ("missing_primary_key_test", "mart_3"),
        ("missing_primary_key_test", "mart_4"),
        ("model_fanout", "int_x"),
        ("root_model", "dim_date"),
        ("source_outside_staging", "int_x"),
        ("staging_depends_on_staging", "stg_b"),
        ("staging_depends_on_staging", "stg_c"),
        ("undocumented_model", "dim_date"),
    }
    findings = pr.structure_findings(manifest())
    assert findings == sorted(findings, key=lambda f: (f.rule, f.model, f.detail))
    assert pr.structure_findings(manifest(), fanout=4, view_chain=4) == [
        f for f in findings if f.rule not in ("model_fanout", "chained_views")
    ]


def test_coverage_per_layer():
    models, coverage, _ = pr.review(manifest())
    row = coverage.set_index("layer")
    assert list(coverage["layer"]) == ["staging", "intermediate", "core", "marts", "all"]
    assert row.loc["staging", "pk_test_pct"] == pytest.approx(33.3)
    assert row.loc["marts", "pk_test_pct"] == 50.0 and row.loc["marts", "tested_pct"] == 25.0
    assert row.loc["core", "described_pct"] == 0.0
    assert row.loc["all", "columns"] == 20 and row.loc["all", "columns_described_pct"] == 50.0
    catalog = {"nodes": {"model.p.mart_1": {"columns": {c: {} for c in "abcdef"}}}}
    with_catalog = pr.review(manifest(), catalog)[0].set_index("model")
    assert with_catalog.loc["mart_1", "columns"] == 6 and with_catalog.loc["mart_2", "columns"] == 2


@pytest.mark.slow
def test_real_manifest_of_the_demo_project(tmp_path):
    project = write_demo_project(tmp_path / "demo")
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    subprocess.run(
        [*dbt_command(), "parse", "--profiles-dir", "."], cwd=project, env=env, check=True,
        capture_output=True,
    )
    manifest_path = project / "target" / "manifest.json"
    out = subprocess.run(
        [sys.executable, "-m", "ops.project_review", "--manifest", str(manifest_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == [
        "layer",
        "models",
        "tested_pct",
        "pk_test_pct",
        "described_pct",
        "columns",
        "columns_described_pct",
    ]
    assert lines[1].split() == ["staging", "3", "100.0", "66.7", "66.7", "4", "50.0"]
    assert "missing_primary_key_test     stg_events" in out.stdout and lines[-1] == "8 finding(s)"
    again = subprocess.run(
        [sys.executable, "-m", "ops.project_review", "--manifest", str(manifest_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.stdout == out.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "ops.project_review", "--manifest", str(tmp_path / "x.json")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and bad.stderr.startswith("error: manifest.json not found")
