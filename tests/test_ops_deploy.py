"""ops.deploy with real dbt on the demo project: deploy, failed deploy, rollback, status."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from ops import deploy as dep
from ops.dbt_invoke import OpsError
from ops.demo_project import write_demo_project

REPO = Path(__file__).resolve().parents[1]
FAIL_VARS = "{demo_min_amount: 50}"


@pytest.fixture(autouse=True)
def _no_vb_overrides(monkeypatch):
    """Tests choose every path themselves: no VB_* variable of the caller leaks into dbt."""
    for var in ("VB_DUCKDB_PATH", "VB_WAREHOUSE_DIR", "VB_PROD_DUCKDB_PATH", "VB_RAW_DIR", "VB_TARGET"):
        monkeypatch.delenv(var, raising=False)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ops.deploy", *args], capture_output=True, text=True, check=False
    )


@pytest.mark.slow
def test_deploy_fail_deploy_rollback_cycle(tmp_path, monkeypatch):
    project = write_demo_project(tmp_path / "demo")
    wh = project / "warehouse"
    lay = dep.layout_for(project)
    assert dep.status(project)["prod"] is None

    first = dep.deploy(project)
    assert first.deployed and first.problems == [] and "first deploy" in first.message
    assert not lay.candidate.exists() and not lay.previous.exists()
    assert (lay.prod_state / "manifest.json").is_file() and (lay.prod_state / "run_results.json").is_file()
    sha_a = sha(lay.prod)
    assert json.loads((lay.prod_state / "deploy.json").read_text())["sha256"] == sha_a
    # the catalog keeps the name prod after the rename (views reference "prod"."main"...)
    with duckdb.connect(str(lay.prod), read_only=True) as con:
        assert con.execute("select current_database()").fetchone()[0] == "prod"
        assert con.execute("select count(*) from ml_customer_features").fetchone()[0] == 3
    manifest_a = (lay.prod_state / "manifest.json").read_bytes()

    failed = dep.deploy(project, vars_yaml=FAIL_VARS)
    assert not failed.deployed
    assert failed.problems == ["test.demo.assert_order_amount_at_least_min: fail (1 failing rows)"]
    assert sha(lay.prod) == sha_a, "a failed deploy must leave prod byte-for-byte untouched"
    assert (lay.prod_state / "manifest.json").read_bytes() == manifest_a
    assert not lay.candidate.exists() and lay.failed.exists() and not lay.previous.exists()
    assert "fail" in (lay.failed_state / "dbt.log").read_text()

    second = dep.deploy(project)
    assert second.deployed and "previous kept as prod.previous.duckdb" in second.message
    sha_b = sha(lay.prod)
    assert sha(lay.previous) == sha_a and sha_b != sha_a
    assert sorted(p.name for p in wh.glob("*.duckdb*")) == [
        "prod.duckdb",
        "prod.failed.duckdb",
        "prod.previous.duckdb",
    ]
    assert len(list(lay.history.glob("*.json"))) == 3  # every build is archived for the monitor

    out = cli("rollback", "--project-dir", str(project))
    assert out.returncode == 0, out.stderr
    assert sha(lay.prod) == sha_a and sha(lay.previous) == sha_b
    info = dep.status(project)
    assert info["prod"]["matches_deploy"] is True and info["previous"]["matches_deploy"] is True
    assert info["prod"]["sha256"] == sha_a[:12]
    dep.rollback(project)  # rolling back twice rolls forward
    assert sha(lay.prod) == sha_b
    status = cli("status", "--project-dir", str(project))
    assert status.returncode == 0 and f"prod    : {lay.prod} sha256 {sha_b[:12]}" in status.stdout
    with duckdb.connect(str(lay.prod)) as con:  # no lock is held after any command returned
        assert con.execute("select count(*) from dim_customers").fetchone()[0] == 3


@pytest.mark.slow
def test_real_project_deploys_and_its_views_resolve_in_the_swapped_file(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    subprocess.run(
        [sys.executable, "-m", "datasets.generate", "--seed", "7", "--scale", "0.02", "--out", str(raw)],
        check=True,
        capture_output=True,
        cwd=REPO,
    )
    project = tmp_path / "dbt_project"
    shutil.copytree(
        REPO / "dbt_project", project, ignore=shutil.ignore_patterns("target", "warehouse", "logs")
    )
    monkeypatch.setenv("VB_RAW_DIR", str(raw))
    outcome = dep.deploy(project, tmp_path / "wh")
    assert outcome.deployed, outcome.problems
    lay = dep.layout_for(project, tmp_path / "wh")
    with duckdb.connect(str(lay.prod), read_only=True) as con:
        views = [
            r[0] for r in con.execute("select view_name from duckdb_views() where not internal").fetchall()
        ]
        assert "stg_orders" in views
        for view in views:  # every view still resolves after candidate -> prod rename
            con.execute(f'select count(*) from main."{view}"').fetchone()
        assert con.execute("select count(*) from mart_daily_sales").fetchone()[0] > 0


def test_rollback_without_previous_and_bad_project_are_one_line_errors(tmp_path):
    project = write_demo_project(tmp_path / "demo")
    out = cli("rollback", "--project-dir", str(project))
    assert out.returncode == 2 and out.stderr.startswith("error: nothing to roll back to")
    assert out.stderr.count("\n") == 1
    out = cli("status", "--project-dir", str(tmp_path / "nowhere"))
    assert out.returncode == 2 and "no dbt_project.yml" in out.stderr and "Traceback" not in out.stderr


def test_deploy_refuses_when_prod_has_a_wal(tmp_path):
    project = write_demo_project(tmp_path / "demo")
    (project / "warehouse" / "prod.duckdb").write_bytes(b"x")
    (project / "warehouse" / "prod.duckdb.wal").write_bytes(b"x")
    with pytest.raises(OpsError, match="prod.duckdb.wal exists"):
        dep.deploy(project)
    assert (project / "warehouse" / "prod.duckdb").read_bytes() == b"x"
