"""Issue 11, item 6: the checks accept exactly what the notebooks' contracts allow.

5.3's inventory figures on test_grader_ex_5_3's tiny warehouses (no dbt): in a product-month without
inventory snapshots the contract allows `out_of_stock_days` 0 or NULL, and nothing but NULL for the
stock figures; where snapshots exist, `out_of_stock_days` is a count (NULL is wrong). The contract
texts of the solution notebooks state each column's NULL/zero rule and what 5.2's var needs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_grader_ex_5_3 import GOOD_MART, _grading_context, _warehouse

from grader.exercises import get_exercise
from grader.report import CheckResult
from grader.runner import run_check

REPO = Path(__file__).resolve().parent.parent
# GOOD_MART plus the inventory columns: no snapshots before March 2025, snapshots from March on.
NO_SNAPSHOT = "date_month < date '2025-03-01'"
INVENTORY = f"""
create table mart_product_performance as
select *,
       case when {NO_SNAPSHOT} then null else 4 end as stock_level,
       case when {NO_SNAPSHOT} then null else 4.5 end as avg_stock_level,
       case when {NO_SNAPSHOT} then null else 0 end as min_stock_level,
       case when {NO_SNAPSHOT} then null else 2 - (product_id = 'P1')::int * 2 end as out_of_stock_days,
       case when {NO_SNAPSHOT} then null else 8.0 end as days_of_inventory
from good_mart
"""


def _mart(tmp_path: Path, name: str, inventory_sql: str) -> Path:
    base = GOOD_MART.replace("create table mart_product_performance as", "create table good_mart as", 1)
    return _warehouse(tmp_path / name / "warehouse.duckdb", base + ";\n" + inventory_sql)


def _inventory_check(submission: Path, reference: Path, monkeypatch: pytest.MonkeyPatch) -> CheckResult:
    spec = next(c for c in get_exercise("5.3").checks if c.name == "inventory_metrics")
    return run_check(_grading_context(submission, reference, monkeypatch), spec, [])


@pytest.mark.parametrize(("variant", "allowed"), [
    ("same as the reference", True),
    ("0 out-of-stock days without snapshots", True),
    ("NULL out-of-stock days with snapshots", False),
    ("stock level 0 without snapshots", False),
])
def test_5_3_inventory_accepts_exactly_the_contract(variant: str, allowed: bool, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    reference = _mart(tmp_path, "ref", INVENTORY)
    sql = {
        "same as the reference": INVENTORY,
        "0 out-of-stock days without snapshots": INVENTORY.replace(
            "then null else 2 - (product_id", "then 0 else 2 - (product_id"),
        "NULL out-of-stock days with snapshots": INVENTORY.replace(
            "else 2 - (product_id = 'P1')::int * 2 end", "else null end"),
        "stock level 0 without snapshots": INVENTORY.replace("then null else 4 end", "then 0 else 4 end"),
    }[variant]
    assert sql != INVENTORY or variant == "same as the reference"
    result = _inventory_check(_mart(tmp_path, "sub", sql), reference, monkeypatch)
    assert result.passed is allowed, result.message


def _markdown(notebook: str) -> str:
    cells = json.loads((REPO / "solutions" / notebook).read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown"
                     and "solution-only" not in c["metadata"].get("tags", [])
                     and not any(t.startswith("answer:") for t in c["metadata"].get("tags", [])))


@pytest.mark.parametrize(("notebook", "rules"), [
    ("5_1_optimize_model.ipynb", ["`order_count`", "`total_sessions`", "`customer_lifetime_days`",
                                  "`days_since_last_order`", "NULL"]),
    ("5_2_incremental_loading.ipynb", ["var('clickstream_lookback_hours', 72)", "dbt_project.yml",
                                       "`customer_id` is NULL", "`product_id` is NULL"]),
    ("5_3_product_performance_mart.ipynb", ["`out_of_stock_days`", "0 or NULL", "`prev_week_revenue`",
                                            "units of the week before"]),
    ("5_5_stakeholder_documentation.ipynb", ["NULL"]),
    ("5_bonus_project_optimization.ipynb", ["`last_event_loaded_at`", "`order_count`",
                                            "`customer_lifetime_days`", "NULL"]),
])
def test_contracts_state_null_and_zero_rules(notebook: str, rules: list[str]) -> None:
    text = _markdown(notebook)
    assert [r for r in rules if r not in text] == []


def test_interns_are_never_pointed_at_the_instructors_seed_document() -> None:
    for notebook in sorted((REPO / "notebooks").glob("*.ipynb")):
        assert "module5_exercise_solutions" not in notebook.read_text(), notebook.name
