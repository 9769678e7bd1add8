"""Exercise 5.4's guard rails (issue 11 item 9): SQL lint, approval gate, retries, resource alerts."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ops import approval, resources, retry, sql_lint
from ops.dbt_invoke import OpsError

REPO = Path(__file__).resolve().parents[1]


def _project(tmp_path: Path, sql: str) -> Path:
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text("name: demo\n")
    (project / "models" / "m.sql").write_text(sql)
    return project


@pytest.mark.parametrize("sql, rule", [
    ("select current_timestamp as loaded_at\n", "VB01"),
    ("select now() as t\n", "VB01"),
    ("select * from main.stg_orders\n", "VB02"),
    ("select * from read_parquet('../datasets/raw/orders/*.parquet')\n", "VB02"),
    ("{{ config(cluster_by=['product_id']) }}\nselect 1\n", "VB03"),
    ("{{ config(partition_by={'field': 'd', 'granularity': 'month'}) }}\nselect 1\n", "VB03"),
    ("select 1 \n", "VB04"),
    ("select\t1\n", "VB04"),
])
def test_sql_lint_finds_each_rule(tmp_path, sql, rule):
    findings = sql_lint.lint_project(_project(tmp_path, sql))
    assert [f.rule for f in findings] == [rule], findings


def test_sql_lint_ignores_comments_and_passes_the_course_project(tmp_path):
    clean = "-- not current_timestamp()\n{# from main.x #}\n/* cluster_by */\nselect 1 from {{ ref('x') }}\n"
    assert sql_lint.lint_project(_project(tmp_path, clean)) == []
    assert sql_lint.lint_project(REPO / "dbt_project") == []
    assert sql_lint.main([str(_project(tmp_path / "b", "select now()\n"))]) == 1


def test_approval_gate_is_for_one_exact_version(tmp_path):
    project = _project(tmp_path, "select 1\n")
    warehouse = tmp_path / "warehouse"
    with pytest.raises(approval.ApprovalRequired, match="nothing was deployed"):
        approval.gated_deploy(project, warehouse)
    with pytest.raises(OpsError, match="needs a name"):
        approval.approve(project, warehouse, by=" ")
    granted = approval.approve(project, warehouse, by="Asha", note="PR 12")
    assert approval.require_approval(project, warehouse) == granted
    (project / "models" / "m.sql").write_text("select 2\n")           # changed after the approval
    with pytest.raises(approval.ApprovalRequired):
        approval.require_approval(project, warehouse)
    (project / "target").mkdir()
    (project / "target" / "manifest.json").write_text("{}")            # build output is not code
    (project / "models" / "m.sql").write_text("select 1\n")
    assert approval.approval_of(project, warehouse) == granted


def _flaky(tmp_path: Path, failures: int, message: str) -> list[str]:
    counter = tmp_path / "count"
    tmp_path.mkdir(parents=True, exist_ok=True)
    code = (f"import pathlib, sys; p = pathlib.Path({str(counter)!r}); "
            "n = int(p.read_text()) if p.exists() else 0; "
            f"p.write_text(str(n + 1)); sys.exit(0) if n >= {failures} else sys.exit({message!r})")
    return [sys.executable, "-c", code]


def test_retry_retries_transient_failures_only(tmp_path):
    waits: list[float] = []
    lock = "IO Error: Could not set lock on file \"prod.duckdb\": Conflicting lock is held"
    flaky = _flaky(tmp_path / "a", 2, lock)
    result = retry.run_with_retries(flaky, attempts=4, backoff=1, sleep=waits.append)
    assert result.ok and [a.transient for a in result.attempts] == [True, True, False]
    assert waits == [1, 2]
    result = retry.run_with_retries(_flaky(tmp_path / "b", 5, "Parser Error: syntax"), sleep=waits.append)
    assert not result.ok and len(result.attempts) == 1 and "not transient" in result.format()
    result = retry.run_with_retries(_flaky(tmp_path / "c", 5, lock), attempts=2, sleep=lambda s: None)
    assert not result.ok and len(result.attempts) == 2 and "no attempts left" in result.format()


def test_resources_measure_the_process_and_alert_near_the_budget():
    touch = "b = bytearray(300 * 2**20); b[::4096] = b'x' * len(b[::4096])"
    usage = resources.measure([sys.executable, "-c", touch])
    assert usage.returncode == 0 and usage.peak_memory >= 300 * 2**20
    assert resources.resource_alerts(usage, resources.Budget(memory=4 * usage.peak_memory)) == []
    warn = resources.resource_alerts(usage, resources.Budget(memory=int(usage.peak_memory / 0.9)))
    budget = resources.Budget(memory=usage.peak_memory // 2, cpu_seconds=1000)
    error = resources.resource_alerts(usage, budget)
    assert [a.severity for a in warn] == ["warn"] and [a.severity for a in error] == ["error"]
    assert "peak memory" in error[0].message and error[0].kind == "resource"
