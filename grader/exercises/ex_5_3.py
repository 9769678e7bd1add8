"""Checks of exercise 5.3: ``mart_product_performance`` (product x calendar month, from a spine).

The data contract is in the notebook (section 1): one row per product and calendar month from
the product's first month (launch month, or first revenue sale if earlier, never before the
first month of ``dim_date``) through the as-of month; sales from revenue orders; growth rates
as fractions against the previous *calendar* month; ranks within the month. The seed's mart
(months from sales only, ``lag`` over months with sales, NULL ``date_month`` for products that
never sold, no uniqueness test, a -100 bound on the margin) fails the checks below.

Public checks run in the intern's self-check against their own warehouse and manifest and
compute what they expect with the grader's own SQL; hidden checks compare with the reference
answer (solutions/) on hidden data.
"""

from __future__ import annotations

import datetime
from typing import Any

from course_core import manifest as dbt_manifest
from grader.api import Fail, Skip, exercise
from grader.context import CheckContext

MODEL = "mart_product_performance"
MODEL_FILE = f"models/marts/{MODEL}.sql"
YAML_FILE = f"models/marts/{MODEL}.yml"
TEST_FILE = "tests/assert_mart_product_performance_reconciles_with_fct_order_items.sql"
KEY = ["product_id", "date_month"]

EX = exercise("5.3", "Create a mart model with advanced materializations",
              answer_files=[MODEL_FILE, YAML_FILE, TEST_FILE])
EX.manual("q1", points=2, prompt="Why this materialization (and not the seed's partition_by/cluster_by)?")
EX.manual("q2", points=2, prompt="What would change if the mart had to be near real time?")
EX.manual("q3", points=2, prompt="What are the performance implications of the joins and aggregations?")
EX.manual("q4", points=2, prompt="How would you optimize the mart for different query patterns?")

# The contract's spine, computed in Python from per-product dates (the self-check ships to interns:
# it must not carry an answer's SQL). A product's first month is the earlier of its launch month and
# its first revenue sale; every calendar month from there to the as-of month is one row.
AS_OF_SQL = "(select max(date_day) from dim_date where is_on_or_before_as_of)"
SALES_SQL = f"""
select product_id, cast(date_trunc('month', order_date) as date) as sale_month
from fct_order_items
where is_revenue_order and order_date <= {AS_OF_SQL}
group by all
"""


def _month_index(day: datetime.date | None) -> int | None:
    return None if day is None else day.year * 12 + day.month - 1


def expected_spine(ctx: CheckContext) -> tuple[set[tuple[str, int]], set[tuple[str, int]]]:
    """(every (product_id, month index) the contract asks for, those with a revenue sale)."""
    calendar_start, as_of = ctx.query(
        "select min(month_start_date), max(date_day) filter (where is_on_or_before_as_of) from dim_date")[0]
    sold = {(product, _month_index(month)) for product, month in ctx.query(SALES_SQL)}
    first_sale: dict[str, int] = {}
    for product, month in sold:
        first_sale[product] = min(month, first_sale.get(product, month))
    spine = set()
    for product, launch in ctx.query("select product_id, launch_date from dim_products"):
        firsts = [m for m in (_month_index(launch), first_sale.get(product)) if m is not None]
        if not firsts:  # no launch date and no sale: no month to start from
            continue
        start = max(min(firsts), _month_index(calendar_start))  # the calendar (dim_date) starts the history
        spine.update((product, m) for m in range(start, _month_index(as_of) + 1))
    return spine, sold


def _mart_rows(ctx: CheckContext, *columns: str) -> list[tuple]:
    extra = "".join(f", {c}" for c in columns)
    return [(r[0], _month_index(r[1]), *r[2:]) for r in
            ctx.query(f"select product_id, cast(date_month as date){extra} from {MODEL}")]

# Metric groups compared with the reference on the (product_id, date_month) keys both have.
# The tolerance is the precision the contract gives (compare rounds both sides to it).
METRIC_GROUPS: dict[str, tuple[list[str], float]] = {
    "sales": (["units_sold", "order_count", "revenue", "profit", "profit_margin"], 0.01),
    "growth": (["mom_revenue_growth", "mom_units_growth", "wow_revenue_growth", "wow_units_growth"], 1e-4),
    "inventory": (["stock_level", "avg_stock_level", "min_stock_level", "out_of_stock_days",
                   "days_of_inventory"], 0.1),
    "engagement": (["product_views", "product_purchases", "view_to_purchase_ratio", "review_count",
                    "avg_review_score", "cumulative_avg_review_score"], 0.01),
    "rank": (["category_revenue_rank", "overall_revenue_rank"], 1.0),
}
# Where the contract (the stage tables of the notebook) allows either 0 or NULL: column -> the
# condition, on the reference's row (alias o), of the cells where both are right. Elsewhere a
# column has exactly one right value, NULL or not.
ZERO_OR_NULL: dict[str, str] = {
    "out_of_stock_days": "o.min_stock_level is null",  # a product-month without inventory snapshots
}
# Catalog names inside the grader's comparison connection (see grader/compare.py).
SUBMISSION_CATALOG = "warehouse"
REFERENCE_CATALOG = "grader_ref_db"


# ---- helpers -------------------------------------------------------------------------------------
def _columns(ctx: CheckContext) -> list[str]:
    return ctx.columns(MODEL)


def _require_model(ctx: CheckContext, *columns: str) -> None:
    """Grading: the answer file exists and the model builds (once). Self-check: it is in the warehouse."""
    ctx.require_model(MODEL, MODEL_FILE)
    missing = [c for c in (*KEY, *columns) if c not in _columns(ctx)]
    if missing:
        raise Fail(f"{MODEL} has no column {', '.join(missing)} (see the contract in section 1)")


def _require_reference(ctx: CheckContext) -> None:
    ctx.require_reference_relation(MODEL, "5.3 mart")


def _tests(ctx: CheckContext) -> list[dict[str, Any]]:
    tests = ctx.tests_on(MODEL)
    if ctx.node(MODEL) is None:
        raise Fail(f"{MODEL} is not in your dbt project (run its %%writefile cell and `%dbt parse`)")
    return tests


def _generic(tests: list[dict[str, Any]], name: str, column: str | None = None) -> list[dict[str, Any]]:
    found = []
    for t in tests:
        meta = dbt_manifest.test_metadata(t)
        if meta.name != name:
            continue
        if column is None or (meta.column or "").strip().lower() == column:
            found.append(meta.kwargs)
    return found


def _number(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


# ---- checks --------------------------------------------------------------------------------------
@EX.check("builds", points=2, public=True, hint="Read dbt's error message: it names the line that fails.")
def builds(ctx: CheckContext) -> str:
    """The mart builds (a plain table) and has the key columns product_id and date_month."""
    _require_model(ctx)
    return "the mart builds"


@EX.check("grain_unique", points=1, public=True,
          hint="Build the rows from a spine (products x months), then LEFT JOIN aggregates on both keys.")
def grain_unique(ctx: CheckContext) -> str:
    """One row per (product_id, date_month); neither key is NULL."""
    _require_model(ctx)
    rows, keys, null_keys = ctx.query(
        f"select count(*), count(distinct (product_id, date_month)), "
        f"count(*) filter (where product_id is null or date_month is null) from {MODEL}")[0]
    if null_keys:
        raise Fail(f"{null_keys} row(s) have a NULL product_id or date_month (a product without sales "
                   "must still get one row per month, with its month)")
    if rows != keys:
        raise Fail(f"{rows - keys} (product_id, date_month) pair(s) appear more than once: "
                   "a join multiplies rows")
    return f"{rows} rows, unique on (product_id, date_month)"


@EX.check("spine_rows", points=2, public=True,
          hint="Every product, every calendar month from its launch month (or first sale) "
               "to the as-of month.")
def spine_rows(ctx: CheckContext) -> str:
    """The rows (product_id, date_month) are exactly the contract's spine (reference on hidden data)."""
    _require_model(ctx)
    got_sql = f"select distinct product_id, cast(date_month as date) as date_month from {MODEL}"
    if ctx.is_grading:
        _require_reference(ctx)
        result = ctx.compare(got_sql, key=KEY, what=f"{MODEL}'s rows")
        if not result.ok:
            raise Fail(result.message, examples=result.examples)
        return result.message
    spine, _ = expected_spine(ctx)
    got = {(product, month) for product, month in _mart_rows(ctx)}
    missing, unexpected, expected = len(spine - got), len(got - spine), len(spine)
    if missing or unexpected:
        parts = ([f"{missing} expected product-month(s) are missing"] if missing else []) + (
            [f"{unexpected} product-month(s) outside the spine (before the product's first month or "
             "after the as-of month)"] if unexpected else [])
        raise Fail(f"{MODEL}'s rows: " + "; ".join(parts))
    return f"{MODEL}'s rows match the expected {expected} product-months"


@EX.check("zero_unit_months", points=1, public=True,
          hint="A month without sales is a row with units_sold = 0 and revenue = 0 "
               "(coalesce after the join).")
def zero_unit_months(ctx: CheckContext) -> str:
    """Every spine month without a revenue sale is present with units_sold = 0 and revenue = 0."""
    _require_model(ctx, "units_sold", "revenue")
    spine, sold = expected_spine(ctx)
    unsold = spine - sold
    rows = {(product, month): (units, revenue) for product, month, units, revenue
            in _mart_rows(ctx, "units_sold", "revenue")}
    expected = len(unsold)
    present = sum(1 for key in unsold if key in rows)
    zero = sum(1 for key in unsold if key in rows and rows[key][0] == 0 and rows[key][1] == 0)
    if present < expected:
        raise Fail(f"{expected - present} of the {expected} product-months without sales are missing "
                   f"from {MODEL}")
    if zero < expected:
        raise Fail(f"{expected - zero} product-month(s) without sales do not show units_sold = 0 and "
                   "revenue = 0 (NULL is not zero)")
    return f"all {expected} product-months without sales are there with zero units"


@EX.check("mom_previous_calendar_month", points=2, public=True,
          hint="lag() over months that had sales skips the months without sales: build on the full spine.")
def mom_previous_calendar_month(ctx: CheckContext) -> str:
    """mom_revenue_growth compares with the previous calendar month (your own revenue column)."""
    _require_model(ctx, "revenue", "mom_revenue_growth")
    total, wrong, percent_like = ctx.query(f"""
        with m as (
            select product_id, cast(date_month as date) as date_month,
                   cast(revenue as double) as revenue, cast(mom_revenue_growth as double) as got
            from {MODEL}
        ),
        chk as (
            select a.got,
                   case when coalesce(b.revenue, 0) = 0 then null
                        else (a.revenue - b.revenue) / b.revenue end as expected
            from m a
            left join m b
              on b.product_id = a.product_id
             and b.date_month = cast(a.date_month - interval 1 month as date)
        )
        select count(*),
               count(*) filter (where (got is null) <> (expected is null)
                                   or abs(got - expected) > 0.001),
               count(*) filter (where expected is not null and expected <> 0
                                   and abs(got - 100 * expected) <= 0.1)
        from chk
    """)[0]
    if wrong:
        if percent_like and percent_like >= wrong / 2:
            raise Fail(f"{wrong} of {total} rows differ: mom_revenue_growth looks like a percent; the "
                       "contract asks for a fraction (0.25 = +25%)")
        raise Fail(f"{wrong} of {total} rows: mom_revenue_growth is not (revenue - revenue of the previous "
                   "calendar month) / that revenue (NULL when the previous month had no revenue or no row)")
    return f"all {total} rows compare with the previous calendar month"


def _compare_group(ctx: CheckContext, group: str) -> str:
    columns, tolerance = METRIC_GROUPS[group]
    _require_model(ctx)
    _require_reference(ctx)
    have = set(_columns(ctx))
    missing = [c for c in columns if c not in have]
    if missing:
        raise Fail(f"{MODEL} has no column {', '.join(missing)}")
    # only the (product_id, date_month) rows both marts have: the rows themselves are spine_rows' job
    select = (f"select product_id, cast(date_month as date) as date_month, "
              f"{', '.join(_contract_value(c) for c in columns)} from {MODEL} t")
    both = ("where exists (select 1 from {other}.main." + MODEL + " o where o.product_id = t.product_id "
            "and cast(o.date_month as date) = cast(t.date_month as date))")
    result = ctx.compare(f"{select} {both.format(other=REFERENCE_CATALOG)}",
                         f"{select} {both.format(other=SUBMISSION_CATALOG)}",
                         key=KEY, columns="subset", tolerance=tolerance, what=f"{group} metrics")
    if not result.ok:
        raise Fail(result.message, examples=result.examples)
    return f"{result.message} (rows both marts have)"


def _contract_value(column: str) -> str:
    """The column, with 0 and NULL made equal in the cells where the contract allows either."""
    if column not in ZERO_OR_NULL:
        return column
    cell = (f"exists (select 1 from {REFERENCE_CATALOG}.main.{MODEL} o where o.product_id = t.product_id "
            f"and cast(o.date_month as date) = cast(t.date_month as date) and {ZERO_OR_NULL[column]})")
    return f"case when {cell} then coalesce(t.{column}, 0) else t.{column} end as {column}"


@EX.check("sales_metrics", points=2,
          hint="Revenue orders only (is_revenue_order); margin = 100 * profit / revenue, "
               "NULL without revenue.")
def sales_metrics(ctx: CheckContext) -> str:
    """units_sold, order_count, revenue, profit, profit_margin match the reference."""
    return _compare_group(ctx, "sales")


@EX.check("growth_metrics", points=2,
          hint="Growth = (this - previous) / previous as a fraction; previous = previous "
               "calendar month / week.")
def growth_metrics(ctx: CheckContext) -> str:
    """Month-over-month and week-over-week growth match the reference."""
    return _compare_group(ctx, "growth")


@EX.check("inventory_metrics", points=1,
          hint="Stock from the month's last snapshot; averages over the month's snapshots since launch.")
def inventory_metrics(ctx: CheckContext) -> str:
    """Stock level, averages, out-of-stock days and days of inventory match the reference."""
    return _compare_group(ctx, "inventory")


@EX.check("engagement_metrics", points=1,
          hint="Aggregate clickstream and reviews per product and month BEFORE joining (no fan-out).")
def engagement_metrics(ctx: CheckContext) -> str:
    """Views, purchases, view-to-purchase ratio and review scores match the reference."""
    return _compare_group(ctx, "engagement")


@EX.check("rank_metrics", points=1,
          hint="row_number() partitioned by the month (and category), ordered by revenue desc, product_id.")
def rank_metrics(ctx: CheckContext) -> str:
    """Revenue ranks within the month (category and overall), ties by product_id, match the reference."""
    return _compare_group(ctx, "rank")


@EX.check("grain_tests", points=1, public=True,
          hint="unique_combination_of_columns on [product_id, date_month], not_null on both, "
               "relationships to dim_products.")
def grain_tests(ctx: CheckContext) -> str:
    """The YAML tests the grain: unique and not null keys, product_id in dim_products."""
    tests = _tests(ctx)
    problems = []
    combos = [{str(c).strip().lower() for c in (k.get("combination_of_columns") or [])}
              for k in _generic(tests, "unique_combination_of_columns")]
    if {"product_id", "date_month"} not in combos:
        problems.append("no uniqueness test on (product_id, date_month)")
    for column in KEY:
        if not _generic(tests, "not_null", column):
            problems.append(f"no not_null test on {column}")
    parents = [str(k.get("to", "")) for k in _generic(tests, "relationships", "product_id")]
    if not any("dim_products" in p for p in parents):
        problems.append("no relationships test from product_id to dim_products")
    if problems:
        raise Fail("; ".join(problems))
    return "uniqueness, not_null and relationships tests are declared"


@EX.check("range_tests", points=1, public=True,
          hint="A test must encode a truth: margin <= 100 always holds; a lower bound does not (selling "
               "at 40% of cost gives -150%).")
def range_tests(ctx: CheckContext) -> str:
    """Review score tested in 1..5; profit_margin tested <= 100 with no (false) lower bound."""
    tests = _tests(ctx)
    problems = []
    scores = [k for k in _generic(tests, "accepted_range", "avg_review_score")
              if _number(k.get("min_value")) == 1 and _number(k.get("max_value")) == 5]
    if not scores:
        problems.append("no accepted_range test keeping avg_review_score in 1..5")
    margins = _generic(tests, "accepted_range", "profit_margin")
    if not any(_number(k.get("max_value")) == 100 for k in margins):
        problems.append("no accepted_range test with max_value 100 on profit_margin")
    bounded = [k for k in margins if k.get("min_value") is not None]
    if bounded:
        problems.append(f"profit_margin has a lower bound ({bounded[0].get('min_value')}): a margin has no "
                        "lower limit, so that test can fail on correct data")
    if problems:
        raise Fail("; ".join(problems))
    return "review score in 1..5, margin at most 100 with no lower bound"


@EX.check("reconciliation_test", points=1, public=True,
          hint="A singular test in tests/ selecting the (product, month) cells where the mart's revenue "
               "differs from fct_order_items.")
def reconciliation_test(ctx: CheckContext) -> str:
    """A singular test reads the mart and fct_order_items (a revenue reconciliation)."""
    tests = [t for t in _tests(ctx) if not dbt_manifest.test_metadata(t).generic]
    if not tests:
        raise Fail(f"no singular test (tests/*.sql) refers to {MODEL}")
    fact = [t for t in tests if any(n.endswith(".fct_order_items") for n in dbt_manifest.parents(t))]
    if not fact:
        raise Fail(f"your singular test reads only {MODEL}: compare its revenue with fct_order_items")
    return f"{len(fact)} singular test(s) reconcile {MODEL} with fct_order_items"


@EX.check("tests_pass", points=1,
          hint="Run `%dbt build -s mart_product_performance` and fix the failing test or the model.")
def tests_pass(ctx: CheckContext) -> str:
    """The mart and all its tests pass on the hidden data."""
    if not ctx.is_grading:
        raise Skip("runs only when the instructor grades")
    _require_model(ctx)
    outcome = ctx.require_build(MODEL)
    tests = [n for n in outcome.nodes if n.resource_type == "test"]
    return f"the mart and its {len(tests)} test(s) pass"


@EX.check("reconciliation_catches_errors", points=1,
          hint="Compare per product and month, in both directions (full outer join, missing side = 0).")
def reconciliation_catches_errors(ctx: CheckContext) -> str:
    """The singular test fails when one month's revenue is changed or one row is deleted."""
    _require_model(ctx, "revenue")
    if not [t for t in _tests(ctx) if not dbt_manifest.test_metadata(t).generic]:
        raise Fail(f"no singular test refers to {MODEL}")
    outcome = ctx.require_build(MODEL)
    if not outcome.success:
        raise Skip("the mart's tests do not pass")
    caught = []
    for label, sql in (
        ("a changed revenue", f"update {MODEL} set revenue = revenue + 1 where (product_id, date_month) in "
                              f"(select (product_id, date_month) from {MODEL} where revenue > 0 "
                              f"order by revenue desc, product_id, date_month limit 1)"),
        ("a deleted month", f"delete from {MODEL} where (product_id, date_month) in "
                            f"(select (product_id, date_month) from {MODEL} where revenue > 0 "
                            f"order by revenue, product_id, date_month limit 1)"),
    ):
        fork = ctx.fork("recon")
        try:
            fork.execute_trusted(sql)
            run = fork.dbt("test", "--select", f"{MODEL},test_type:singular")
            failed = [n for n in run.nodes if n.resource_type == "test" and not n.ok]
            caught.append((label, bool(failed)))
        finally:
            ctx.discard(fork)
    missed = [label for label, ok in caught if not ok]
    if missed:
        raise Fail(f"your singular tests still pass after {' and '.join(missed)} in {MODEL}")
    return "the singular test catches a changed revenue and a deleted month"


@EX.check("columns_described", points=1, public=True,
          hint="Give every column of the mart a description in its YAML.")
def columns_described(ctx: CheckContext) -> str:
    """Every column of the built mart has a non-empty description in the YAML."""
    _require_model(ctx)
    node = ctx.node(MODEL) or {}
    described = {name.lower() for name, col in (node.get("columns") or {}).items()
                 if str(col.get("description") or "").strip()}
    columns = _columns(ctx)
    missing = [c for c in columns if c not in described]
    if missing:
        shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
        raise Fail(f"{len(missing)} of {len(columns)} columns have no description: {shown}")
    return f"all {len(columns)} columns are described"


@EX.check("plain_table", points=1, public=True,
          hint="materialized='table'; BigQuery's partition_by/cluster_by do nothing on DuckDB (section 5).")
def plain_table(ctx: CheckContext) -> str:
    """Materialized as a table, without BigQuery-only partition_by / cluster_by configs."""
    if ctx.is_grading:
        ctx.require_answer_file(MODEL_FILE)
    node = ctx.node(MODEL)
    if node is None:
        raise Fail(f"{MODEL} is not in your dbt project (run its %%writefile cell and `%dbt parse`)")
    config = node.get("config") or {}
    if config.get("materialized") != "table":
        raise Fail(f"materialized as {config.get('materialized')!r}; the graded mart must be a plain 'table'")
    ignored = [k for k in ("partition_by", "cluster_by") if config.get(k)]
    if ignored:
        raise Fail(f"{' and '.join(ignored)} configured: ignored (or failing) on dbt-duckdb, remove it")
    return "a plain table"
