"""Checks of exercise 5.1: ``int_customer_behavior_optimized`` (pre-aggregate, then join).

The correct model has one row per customer of ``stg_customers``, the columns of
``int_customer_behavior``, and order metrics from orders alone (the original's ``total_spend``
is inflated by its orders x clickstream fan-out). Its singular test must catch a wrong model.
"""

from __future__ import annotations

from course_core import manifest as dbt_manifest
from grader.api import Fail, Skip, exercise
from grader.context import CheckContext

MODEL = "int_customer_behavior_optimized"
ORIGINAL = "int_customer_behavior"
MODEL_FILE = f"models/intermediate/{MODEL}.sql"

EX = exercise("5.1", "Optimize a complex model", answer_files=[MODEL_FILE])
EX.manual("q1", points=2, prompt="Which bottlenecks did you find in int_customer_behavior?")
EX.manual("q2", points=2, prompt="What did you change to fix each one, and why?")
EX.manual("q3", points=1, prompt="Which materialization did you choose, and why?")
EX.manual("q4", points=1, prompt="How did you measure the improvement (numbers, not impressions)?")


def _require_model(ctx: CheckContext) -> None:
    """Grading: build the model (once). Self-check: it must exist in your warehouse."""
    ctx.require_model(MODEL, MODEL_FILE, how="run the %%writefile cell, then")


@EX.check("builds", points=2, public=True, hint="Read dbt's error message: it names the line that fails.")
def builds(ctx: CheckContext) -> str:
    """The model builds in a fresh copy of the course project."""
    _require_model(ctx)
    return "the model builds"


@EX.check("one_row_per_customer", points=1, public=True,
          hint="Start from stg_customers and LEFT JOIN pre-aggregated metrics (one row per customer each).")
def one_row_per_customer(ctx: CheckContext) -> str:
    """One row per customer of stg_customers, none missing, none repeated."""
    _require_model(ctx)
    rows, keys = ctx.query(f"select count(*), count(distinct customer_id) from {MODEL}")[0]
    (customers,) = ctx.query("select count(*) from stg_customers")[0]
    if rows != keys:
        raise Fail(f"{rows - keys} customer_id value(s) appear more than once in {MODEL}")
    if rows != customers:
        raise Fail(f"{MODEL} has {rows} rows but stg_customers has {customers} customers "
                   "(customers without orders or sessions must stay)")
    return f"{rows} rows, one per customer"


@EX.check("same_columns", points=1, public=True,
          hint=f"Keep every column of {ORIGINAL}, with the same names.")
def same_columns(ctx: CheckContext) -> str:
    """The same column names as int_customer_behavior."""
    _require_model(ctx)
    ours = ctx.columns(MODEL)
    original = ctx.columns(ORIGINAL)
    missing = [c for c in original if c not in ours]
    extra = [c for c in ours if c not in original]
    if missing or extra:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"unexpected {', '.join(extra)}"] if extra else [])
        raise Fail(f"columns differ from {ORIGINAL}: " + "; ".join(parts))
    return f"the {len(ours)} columns of {ORIGINAL}"


def _require_reference(ctx: CheckContext) -> None:
    ctx.require_reference_relation(MODEL, "5.1 model")


@EX.check("matches_reference", points=3, hint="Aggregate orders on their own: joining clickstream first "
          "repeats each order once per event and inflates sums.")
def matches_reference(ctx: CheckContext) -> str:
    """Same rows and values as the reference answer on hidden data (order-insensitive)."""
    _require_model(ctx)
    _require_reference(ctx)
    return ctx.require_same(f"select * from {MODEL}", key=["customer_id"], columns="exact",
                            tolerance=1e-6, what=MODEL)


@EX.check("no_fanout_join", points=1, hint="Pre-aggregate each fact table per customer before joining.")
def no_fanout_join(ctx: CheckContext) -> str:
    """DuckDB's profiler: no join in the model's plan outputs more rows than its inputs together."""
    _require_model(ctx)
    sql = ctx.compiled_sql(MODEL)
    if not sql:
        raise Skip("dbt did not leave the compiled SQL of the model")
    joins = ctx.profile_joins(sql)
    bad = [j for j in joins if j.fans_out]
    if bad:
        worst = max(bad, key=lambda j: j.output_rows)
        raise Fail(f"a join multiplies rows: {worst.operator} turns {' + '.join(map(str, worst.input_rows))} "
                   f"input rows into {worst.output_rows} (fan-out); aggregate before joining")
    return f"{len(joins)} join(s), none multiplies rows"


@EX.check("materialization", points=1, public=True,
          hint="A model read by several marts is usually a table; explain your choice in the questions.")
def materialization(ctx: CheckContext) -> str:
    """Materialized as a table (read from the manifest)."""
    ctx.require_answer_file(MODEL_FILE)
    node = ctx.node(MODEL)
    if node is None:
        raise Fail(f"{MODEL} is not in the project (did you run its %%writefile cell and `%dbt parse`?)")
    kind = (node.get("config") or {}).get("materialized")
    if kind != "table":
        raise Fail(f"materialized as {kind!r}, expected 'table' (your justification is reviewed by hand)")
    return "materialized as a table"


@EX.check("indexes_harmless", points=1, public=False,
          hint="DuckDB's ART indexes do not speed up analytical joins; leave `indexes` out.")
def indexes_harmless(ctx: CheckContext) -> str:
    """No ``indexes`` config, or one that does not break the build."""
    _require_model(ctx)
    indexes = ((ctx.node(MODEL) or {}).get("config") or {}).get("indexes")
    if not indexes:
        return "no indexes config"
    return "indexes config present: harmless here, but it does not speed up DuckDB analytics"


def _singular_tests(ctx: CheckContext) -> list[dict]:
    return [t for t in ctx.tests_on(MODEL) if not dbt_manifest.test_metadata(t).generic]


@EX.check("singular_test_present", points=1, public=True,
          hint="Write tests/<name>.sql selecting the rows where the two models disagree.")
def singular_test_present(ctx: CheckContext) -> str:
    """A singular test compares the optimized model with another model."""
    tests = _singular_tests(ctx)
    if not tests:
        raise Fail(f"no singular test (tests/*.sql) refers to {MODEL}")
    comparing = [t for t in tests if len(dbt_manifest.parents(t)) >= 2]
    if not comparing:
        raise Fail(f"your singular test reads only {MODEL}: "
                   f"compare it with {ORIGINAL} (or the source tables)")
    return f"{len(comparing)} singular test(s) compare {MODEL} with another model"


def _swap_and_test(ctx: CheckContext, select_sql: str, names: list[str]) -> dict[str, bool]:
    """Replace the built model by the rows of ``select_sql`` (grader SQL on the reference's data,
    handed to the worker as a file) and run the singular tests: name -> passed."""
    ws = ctx.workspace
    data = str(ctx.reference_file(select_sql)).replace("'", "''")
    ws.execute_trusted(f"create or replace table main.{MODEL} as select * from read_parquet('{data}')")
    outcome = ws.dbt("test", "--select", *names)
    results = {n.name: n.ok for n in outcome.nodes}
    return {name: results.get(name, False) for name in names}


PERTURBATIONS = {
    "a customer with orders is missing": (
        "select * from main.{m} where customer_id <> "
        "(select min(customer_id) from main.{m} where order_count > 0)"
    ),
    "order_count is NULL for one customer with orders": (
        "select * replace (case when customer_id = (select max(customer_id) from main.{m} "
        "where order_count > 0) then null else order_count end as order_count) from main.{m}"
    ),
    "cart_add_count is off by one for one customer": (
        "select * replace (cart_add_count + case when customer_id = (select max(customer_id) "
        "from main.{m}) then 1 else 0 end as cart_add_count) from main.{m}"
    ),
}


@EX.check("singular_test_catches_errors", points=2,
          hint="Compare every column with `is distinct from`, and look for customers missing on either side.")
def singular_test_catches_errors(ctx: CheckContext) -> str:
    """Your singular test passes on a correct model and fails on wrong ones (rows, NULLs, a column)."""
    tests = [t["name"] for t in _singular_tests(ctx)]
    if not tests:
        raise Fail(f"no singular test refers to {MODEL}")
    _require_model(ctx)
    _require_reference(ctx)
    kind = ctx.workspace.relation_type(MODEL)
    saved = "grader_saved_optimized"
    keyword = "view" if "VIEW" in str(kind).upper() else "table"
    ctx.workspace.execute_trusted(f"alter {keyword} main.{MODEL} rename to {saved}")
    try:
        on_correct = _swap_and_test(ctx, f"select * from main.{MODEL}", tests)
        if not any(on_correct.values()):
            raise Fail("your singular test fails on a correct model: compare with the right expectation "
                       "(the original's total_spend is inflated, so it is not a reference for that column)")
        good = [n for n, ok in on_correct.items() if ok]
        missed = []
        for label, template in PERTURBATIONS.items():
            caught = _swap_and_test(ctx, template.format(m=MODEL), good)
            if all(caught.values()):
                missed.append(label)
    finally:
        ctx.workspace.execute_trusted(f"drop table if exists main.{MODEL}; "
                                      f"alter {keyword} main.{saved} rename to {MODEL}")
    if missed:
        raise Fail(f"your singular test passes on wrong models: {'; '.join(missed)}")
    return f"passes on a correct model and catches all {len(PERTURBATIONS)} deliberate errors"
