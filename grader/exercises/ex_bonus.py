"""Checks of the bonus exercise: end-to-end project optimization.

Auto-graded: the incremental ``int_customer_behavior_incremental`` (config, build, values, and
equality with a full refresh after replayed clickstream arrivals) and the ``get_date_parts`` macro
(defined, used by a model, compiles). The performance analysis, the review and
``docs/project_optimization.md`` are read by the instructor (manual items).

The replay: in a private fork of the submission, the model and everything upstream of it
(``+model``) are run once, then once per hidden arrival day; after each run the model's 15
contract columns are compared with the reference model fully refreshed on the same data; finally
the fork's own model is fully refreshed and compared with its incremental state.
"""

from __future__ import annotations

from typing import Any

from course_core import manifest as dbt_manifest
from grader.api import SNAPSHOT_SCHEMA, Fail, Skip, arrival_snapshot, exercise
from grader.context import CheckContext
from grader.dbt_runner import short_message
from grader.workspace import Workspace

MODEL = "int_customer_behavior_incremental"
MODEL_FILE = f"models/intermediate/{MODEL}.sql"
MACRO = "get_date_parts"
MACRO_FILE = f"macros/{MACRO}.sql"
DOC_FILE = "docs/project_optimization.md"
SNAPSHOTS = SNAPSHOT_SCHEMA
CONTRACT = ["customer_id", "customer_unique_id", "customer_city", "customer_state", "order_count",
            "total_spend", "avg_order_value", "first_order_date", "last_order_date",
            "customer_lifetime_days", "days_since_last_order", "total_sessions", "product_view_count",
            "cart_add_count", "purchase_event_count"]
SELECT_CONTRACT = f"select {', '.join(CONTRACT)} from main.{MODEL}"

EX = exercise("bonus", "End-to-end project optimization", answer_files=[MODEL_FILE, MACRO_FILE])
EX.manual("analysis", points=3, prompt="Performance analysis: median build times per model and layer over "
          "several builds, rows, storage, bar chart, critical path (measured in the notebook; its answer "
          "cell interprets the profile)", answer_tag="answer:bonus:profile")
EX.manual("document", points=5, prompt="project_optimization.md: findings, prioritization, measured impact, "
          "next steps (every figure measured)", answer_file=DOC_FILE)
EX.manual("q1", points=1, prompt="How did you prioritize the optimizations?")
EX.manual("q2", points=1, prompt="How did you measure their impact?")
EX.manual("q3", points=1, prompt="What do you recommend next?")


@EX.reference_setup
def snapshot_reference(ref: Any) -> None:
    """Reference model fully refreshed after each arrival day, stored as grader_ref.<model>__day_<n>."""
    ref.snapshot_after_each_arrival(MODEL, f"+{MODEL}", SELECT_CONTRACT, SNAPSHOTS)


def _config(ctx: CheckContext, path: str, name: str) -> dict:
    return ctx.require_config(name, path)


@EX.check("incremental_config", points=1, public=True,
          hint="config(materialized='incremental', unique_key='customer_id'): one row per customer, "
               "replaced when the customer is touched.")
def incremental_config(ctx: CheckContext) -> str:
    """Materialized incrementally with unique_key customer_id."""
    config = _config(ctx, MODEL_FILE, MODEL)
    kind, key = config.get("materialized"), config.get("unique_key")
    if kind != "incremental":
        raise Fail(f"materialized as {kind!r}, expected 'incremental'")
    if key not in ("customer_id", ["customer_id"]):
        raise Fail(f"unique_key is {key!r}, expected the customer's id column")
    return "incremental, unique_key = customer_id"


@EX.check("builds", points=1, public=True, hint="Read dbt's error message: it names the line that fails.")
def builds(ctx: CheckContext) -> str:
    """The model (and what it reads) builds in a fresh copy of the course project."""
    if ctx.is_grading:
        ctx.require_answer_file(MODEL_FILE)
        ctx.require_build(f"+{MODEL}", command="run")
    elif not ctx.relation_exists(MODEL):
        raise Fail(f"{MODEL} is not in your warehouse yet: run the %%writefile cell, "
                   f"then `%dbt build -s {MODEL}`")
    return "the model builds"


@EX.check("replay_equals_full_refresh", points=0, public=True,
          hint="Which customers does an arrival day touch, and from which rows are their values computed?")
def replay_equals_full_refresh(ctx: CheckContext) -> str:
    """Self-check (no points): on your own data, after an arrival day, the model equals its full refresh."""
    if ctx.is_grading:
        raise Skip("this replay is part of your self-check (no points); matches_reference_after_arrivals and "
                   "equals_own_full_refresh replay the hidden arrival days")
    if _config(ctx, MODEL_FILE, MODEL).get("materialized") != "incremental":
        raise Fail("not run yet: the model is not incremental (the checks above say what it needs)",
                   hint="when they pass, this check replays an arrival day on your data (about 20 s)")
    from grader.self_replay import intern_paths, run_replay, verdict

    project, raw = intern_paths()
    return verdict(run_replay("bonus", project, raw), "customer_id")


def _require_reference(ctx: CheckContext) -> None:
    if ctx.reference is None:
        raise Skip("runs only when the instructor grades")
    con = ctx.reference.connect()
    if not con.sql(f"select count(*) from information_schema.tables where table_schema = '{SNAPSHOTS}' "
                   f"and table_name = '{MODEL}__day_0'").fetchall()[0][0]:
        raise Skip("the reference answer is not available (solutions/ has no bonus model)")


@EX.check("first_run_matches_reference", points=2,
          hint="Aggregate orders and events per customer before joining (exercise 5.1): one row per "
               "customer of stg_customers, every order status, total_spend 0 without orders.")
def first_run_matches_reference(ctx: CheckContext) -> str:
    """The first (full) run equals the reference on the 15 columns of int_customer_behavior."""
    builds(ctx)
    _require_reference(ctx)
    first = f"select * from {arrival_snapshot(MODEL, 0)}"
    return ctx.require_same(SELECT_CONTRACT, first, key=["customer_id"], columns="reference", what=MODEL)


def _run(ws: Workspace, *extra: str) -> None:
    outcome = ws.dbt("run", "--select", f"+{MODEL}", *extra)
    if not outcome.success:
        raise Fail(f"the model does not build: {outcome.summary()}")


def _differences(ws: Workspace, left: str, right: str) -> int:
    """Rows of ``left`` not in ``right`` plus rows of ``right`` not in ``left`` (duplicates counted)."""
    con = ws.connect()
    sql = (f"select (select count(*) from ({left} except all {right})) "
           f"+ (select count(*) from ({right} except all {left}))")
    return int(con.sql(sql).fetchall()[0][0])


SHARED_KEY = "bonus-replay"  # ctx.shared: this replay's results when run in 5.2's fork (grader.shared_replay)


def compare_day(ctx: CheckContext, ws: Any, day: int) -> Any:
    """The model in ``ws`` after arrival day ``day`` against the reference's snapshot of that day."""
    return ctx.compare(SELECT_CONTRACT, f"select * from {arrival_snapshot(MODEL, day)}", key=["customer_id"],
                       columns="reference", workspace=ws, what=f"{MODEL} after arrival day {day}")


def keep_incremental(ws: Any) -> None:
    """Keep the incremental result, for ``self_differences`` after a ``--full-refresh``."""
    ws.execute_trusted(f"create schema if not exists grader_scratch; "
                       f"create or replace table grader_scratch.incremental as {SELECT_CONTRACT}")


def self_differences(ws: Any) -> Any:
    """Differences between the kept incremental result and the model after its full refresh."""
    return _differences(ws, "select * from grader_scratch.incremental", SELECT_CONTRACT)


def _replay(ctx: CheckContext) -> dict[str, Any]:
    """Run the arrival scenario once per submission; the checks below read the recorded results."""
    if "replay" in ctx.cache:
        return ctx.cache["replay"]
    result: dict[str, Any] = {"error": None, "comparisons": [], "self_differences": None}
    ctx.cache["replay"] = result
    try:
        builds(ctx)
        _require_reference(ctx)
        if not ctx.arrival_files:
            raise Skip("no arrival days to replay")
        shared = (ctx.shared or {}).get(SHARED_KEY)  # replayed in 5.2's fork (grader.shared_replay)
        if shared is not None:
            result.update(comparisons=shared["comparisons"], self_differences=shared["self_differences"])
            return result
        ws = ctx.fork("bonus-replay")
        _run(ws)
        for day in range(1, len(ctx.arrival_files) + 1):
            ctx.replay_arrivals(ws, day)
            _run(ws)
            result["comparisons"].append((day, compare_day(ctx, ws, day)))
        keep_incremental(ws)
        _run(ws, "--full-refresh")
        result["self_differences"] = self_differences(ws)
        ctx.discard(ws)
    except (Fail, Skip) as stop:
        result["error"] = stop
    except Exception as error:  # noqa: BLE001 - one bad submission must not stop the batch
        result["error"] = Fail(f"the replay failed: {short_message(str(error), 200)}")
    return result


@EX.check("matches_reference_after_arrivals", points=3,
          hint="Find the customers touched by new events (by _loaded_at, not event_timestamp) and "
               "recompute their rows from FULL history; never sum only the new rows.")
def matches_reference_after_arrivals(ctx: CheckContext) -> str:
    """After each replayed arrival day, an incremental run gives the reference's full-refresh values."""
    result = _replay(ctx)
    for _day, comparison in result["comparisons"]:
        if not comparison.ok:
            raise Fail(comparison.message, examples=comparison.examples)
    if not result["comparisons"]:
        raise result["error"] or Skip("the replay did not run")
    days = len(result["comparisons"])
    return f"equal to a full refresh of the reference after each of {days} arrival day(s)"


@EX.check("equals_own_full_refresh", points=2,
          hint="Compare your incremental result with `--full-refresh` on the same data: they must be equal.")
def equals_own_full_refresh(ctx: CheckContext) -> str:
    """After the arrival days, the incrementally built table equals a full refresh of the same model."""
    result = _replay(ctx)
    differences = result["self_differences"]
    if differences is None:
        raise result["error"] or Skip("the replay did not finish")
    if differences:
        raise Fail(f"after the arrival days the incremental table and a full refresh differ in {differences} "
                   "row(s) (counted on both sides)")
    return "the incremental table equals a full refresh"


def _macro_users(ctx: CheckContext) -> list[str]:
    users = []
    for node in dbt_manifest.models(ctx.manifest).values():
        if any(m.split(".")[-1] == MACRO for m in dbt_manifest.macros_used(node)):
            users.append(node["name"])
    return sorted(users)


@EX.check("macro_defined", points=1, public=True,
          hint=f"Write {MACRO_FILE} with `{{% macro {MACRO}(...) %}}`.")
def macro_defined(ctx: CheckContext) -> str:
    """macros/get_date_parts.sql defines the get_date_parts macro."""
    ctx.require_answer_file(MACRO_FILE)
    found = [m for m in ctx.manifest.get("macros", {}).values()
             if m.get("name") == MACRO and m.get("package_name") == "vyaparbazaar"]
    if not found:
        raise Fail(f"the project has no macro named {MACRO} "
                   "(did you run its %%writefile cell and `%dbt parse`?)")
    return f"{MACRO} is defined"


@EX.check("macro_used", points=1, public=True,
          hint=f"Call {{{{ {MACRO}('some_date') }}}} in a model's select list (e.g. dim_date_v2).")
def macro_used(ctx: CheckContext) -> str:
    """At least one model calls get_date_parts."""
    ctx.require_answer_file(MACRO_FILE)
    users = _macro_users(ctx)
    if not users:
        raise Fail(f"no model calls {MACRO}: replace hand-written date logic in a model with it")
    return f"used by {', '.join(users)}"


@EX.check("macro_compiles", points=1,
          hint="Compile the model that calls the macro and read the SQL it produced.")
def macro_compiles(ctx: CheckContext) -> str:
    """The models that call get_date_parts build on the hidden data."""
    ctx.require_answer_file(MACRO_FILE)
    users = _macro_users(ctx)
    if not users:
        raise Fail(f"no model calls {MACRO}")
    if not ctx.is_grading:
        raise Skip("runs only when the instructor grades")
    ctx.require_build(*[f"+{u}" for u in users], command="run")
    return f"{', '.join(users)} build(s) with the macro"
