"""ops.slim_ci with real dbt: deploy the demo project, change one model, build only what changed."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest
import yaml

from ops import slim_ci
from ops.demo_project import write_demo_project
from ops.deploy import deploy


@pytest.fixture(autouse=True)
def _no_vb_overrides(monkeypatch):
    """Tests choose every path themselves: no VB_* variable of the caller leaks into dbt."""
    for var in ("VB_DUCKDB_PATH", "VB_WAREHOUSE_DIR", "VB_PROD_DUCKDB_PATH", "VB_RAW_DIR", "VB_TARGET"):
        monkeypatch.delenv(var, raising=False)


@pytest.mark.slow
def test_slim_ci_builds_only_the_modified_model_and_its_children(tmp_path, monkeypatch):
    project = write_demo_project(tmp_path / "demo")
    assert deploy(project).deployed
    sql = project / "models" / "intermediate" / "int_customer_orders.sql"
    sql.write_text(
        sql.read_text().replace("count(*) as order_count", "count(*) as order_count, 1 as new_col")
    )

    res = slim_ci.run_slim_ci(project_dir=project)
    assert res.ok and res.warnings == ()
    assert res.models == [
        "model.demo.dim_customers",
        "model.demo.int_customer_orders",
        "model.demo.mart_customer_summary",
        "model.demo.ml_customer_features",
    ]
    assert res.tests == [
        "test.demo.not_null_dim_customers_customer_id.dd91cd1c8d",
        "test.demo.unique_dim_customers_customer_id.15c9f1e2fd",
    ]
    assert slim_ci.format_result(res).splitlines()[-1] == (
        "slim CI built 6 node(s): 4 model(s), 2 test(s); all passed"
    )
    with duckdb.connect(str(project / "warehouse" / "ci.duckdb"), read_only=True) as con:
        tables = {r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()}
        views = {
            r[0] for r in con.execute("select view_name from duckdb_views() where not internal").fetchall()
        }
        assert "new_col" in {
            r[0]
            for r in con.execute(
                "select column_name from duckdb_columns() where table_name = 'int_customer_orders'"
            ).fetchall()
        }
    assert tables == {"dim_customers", "int_customer_orders", "mart_customer_summary", "ml_customer_features"}
    assert views == set(), "unmodified parents are deferred to prod, not rebuilt"
    assert (project / "profiles.yml").read_text().count("attach") == 0, (
        "the project's profile is not modified"
    )


def test_ci_profile_attaches_prod_read_only(tmp_path):
    project = write_demo_project(tmp_path / "demo")
    out = slim_ci.write_ci_profile(project, tmp_path / "prod.duckdb", "prod", tmp_path / "profiles")
    profile = yaml.safe_load((out / "profiles.yml").read_text())["demo"]["outputs"]
    assert profile["ci"]["attach"] == [
        {"path": str(tmp_path / "prod.duckdb"), "alias": "prod", "read_only": True}
    ]
    assert "attach" not in profile["prod"] and profile["ci"]["path"].startswith("{{ env_var(")


def test_missing_unrendered_flag_is_warned(tmp_path):
    project = write_demo_project(tmp_path / "demo")
    assert slim_ci.flag_warnings(project) == ()
    cfg = project / "dbt_project.yml"
    cfg.write_text(cfg.read_text().replace("  state_modified_compare_more_unrendered_values: true\n", ""))
    [warning] = slim_ci.flag_warnings(project)
    assert "every source looks modified" in warning


def test_no_prod_state_is_a_one_line_error(tmp_path):
    project = write_demo_project(tmp_path / "demo")
    out = subprocess.run(
        [sys.executable, "-m", "ops.slim_ci", "--project-dir", str(project)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 2 and out.stderr.startswith("error: manifest.json not found")
    assert out.stderr.count("\n") == 1
