"""Checks of exercise 5.2: ``stg_clickstream_incremental`` (incremental, delete+insert on event_id).

The grader replays the hidden clickstream arrival days (late events and re-delivered
duplicates) into a private copy, runs the intern's model after each day, and compares it with
the reference model fully refreshed on the same data; then re-runs it to check idempotence.
"""

from __future__ import annotations

from typing import Any

from course_core import manifest as dbt_manifest
from grader.api import SNAPSHOT_SCHEMA, Fail, Skip, arrival_snapshot, exercise
from grader.context import CheckContext
from grader.dbt_runner import short_message
from grader.workspace import RAW_SCHEMA, Workspace

MODEL = "stg_clickstream_incremental"
MODEL_FILE = f"models/staging/{MODEL}.sql"
SNAPSHOTS = SNAPSHOT_SCHEMA

EX = exercise("5.2", "Implement incremental loading", answer_files=[MODEL_FILE])
EX.manual("q1", points=2, prompt="Trade-offs of incremental versus full refresh")
EX.manual("q2", points=1, prompt="How do you handle schema changes?")
EX.manual("q3", points=1, prompt="What would you monitor?")
EX.manual("q4", points=2, prompt="Scenarios where the incremental logic fails, and what you do about them")


@EX.reference_setup
def snapshot_reference(ref: Any) -> None:
    """Reference model fully refreshed after each arrival day, stored as grader_ref.<model>__day_<n>."""
    ref.snapshot_after_each_arrival(MODEL, MODEL, f"select * from main.{MODEL}", SNAPSHOTS)


def _config(ctx: CheckContext) -> dict:
    return ctx.require_config(MODEL, MODEL_FILE)


@EX.check("materialized_incremental", points=1, public=True)
def materialized_incremental(ctx: CheckContext) -> str:
    """config(materialized='incremental')."""
    kind = _config(ctx).get("materialized")
    if kind != "incremental":
        raise Fail(f"materialized as {kind!r}, expected 'incremental'")
    return "materialized incrementally"


@EX.check("unique_key", points=1, public=True, hint="Which column identifies one event?")
def unique_key(ctx: CheckContext) -> str:
    """config(unique_key='event_id')."""
    key = _config(ctx).get("unique_key")
    if key not in ("event_id", ["event_id"]):
        raise Fail(f"unique_key is {key!r}, expected the event's id column")
    return "unique_key = event_id"


@EX.check("incremental_strategy", points=1, public=True)
def incremental_strategy(ctx: CheckContext) -> str:
    """config(incremental_strategy='delete+insert')."""
    strategy = _config(ctx).get("incremental_strategy")
    if strategy != "delete+insert":
        raise Fail(f"incremental_strategy is {strategy!r}, the exercise asks for 'delete+insert'")
    return "delete+insert"


@EX.check("key_tests", points=1, public=True, hint="Add unique and not_null tests on event_id in the YAML.")
def key_tests(ctx: CheckContext) -> str:
    """unique and not_null tests on event_id."""
    ctx.require_answer_file(MODEL_FILE)
    metadata = [dbt_manifest.test_metadata(t) for t in ctx.tests_on(MODEL)]
    found = {meta.name for meta in metadata if meta.column == "event_id"}
    missing = [name for name in ("unique", "not_null") if name not in found]
    if missing:
        raise Fail(f"missing test(s) on event_id: {', '.join(missing)}")
    return "unique and not_null on event_id"


@EX.check("documented", points=1, public=True)
def documented(ctx: CheckContext) -> str:
    """The model has a description in its YAML."""
    ctx.require_answer_file(MODEL_FILE)
    node = ctx.node(MODEL)
    if node is None or not (node.get("description") or "").strip():
        raise Fail(f"{MODEL} has no description: document it in the staging YAML")
    return "described"


@EX.check("replay_equals_full_refresh", points=0, public=True,
          hint="Which rows must a run read so that a late event (old event_timestamp, new _loaded_at) "
               "is not missed, and what happens to an event delivered twice?")
def replay_equals_full_refresh(ctx: CheckContext) -> str:
    """Self-check (no points): on your own data, after an arrival day, the model equals its full refresh."""
    if ctx.is_grading:
        raise Skip("this replay is part of your self-check (no points); late_events, no_duplicates and "
                   "equals_full_refresh replay the hidden arrival days")
    if _config(ctx).get("materialized") != "incremental":
        raise Fail("not run yet: the model is not incremental (the checks above say what it needs)",
                   hint="when they pass, this check replays an arrival day on your data (about 20 s)")
    from grader.self_replay import intern_paths, run_replay, verdict

    project, raw = intern_paths()
    return verdict(run_replay("5.2", project, raw), "event_id")


# ---- the replay: one fork, runs after each arrival day, results shared by the checks below ------
def _run(ws: Workspace, full_refresh: bool = False) -> None:
    outcome = ws.dbt("run", "--select", MODEL, *(["--full-refresh"] if full_refresh else []))
    if not outcome.success:
        raise Fail(f"the model does not build: {outcome.summary()}")


def _state(ctx: CheckContext, ws: Workspace, day: int) -> dict[str, Any]:
    reference = f"select * from {arrival_snapshot(MODEL, day)}"
    comparison = ctx.compare(f"select * from main.{MODEL}", reference,
                             key=["event_id"], columns="reference", workspace=ws,
                             what=f"after arrival day {day}" if day else "after the first run")
    con = ws.connect(reference=ctx.reference.warehouse)
    rows, ids = con.sql("select count(*), count(distinct event_id) from __got").fetchall()[0]
    (missing,) = con.sql("select count(*) from (select distinct event_id from __exp "
                         "except select distinct event_id from __got)").fetchall()[0]
    return {"day": day, "rows": rows, "duplicates": rows - ids, "missing": missing, "comparison": comparison}


def _replay(ctx: CheckContext) -> dict[str, Any]:
    """Run the scenarios once per submission; the checks below read the recorded results.

    Main scenario (fork 1): first run from scratch, then one incremental run per arrival day,
    then a re-run without new data. Empty-target scenario (fork 2): the first run meets an
    existing empty table.
    """
    if "replay" in ctx.cache:
        return ctx.cache["replay"]
    result: dict[str, Any] = {"error": None, "states": [], "empty_target_missing": None}
    ctx.cache["replay"] = result
    try:
        if ctx.reference is None:
            raise Skip("runs only when the instructor grades")
        ctx.require_answer_file(MODEL_FILE)
        has_snapshots = ctx.reference.connect().sql(
            f"select count(*) from information_schema.tables where table_schema = '{SNAPSHOTS}'"
        ).fetchall()[0][0]
        if not has_snapshots:
            raise Skip("the reference answer is not available (solutions/ has no 5.2 model)")
        shared = None
        replay_with_bonus = (ctx.shared or {}).get("replay_with_bonus")  # grader.shared_replay, via runner
        if replay_with_bonus is not None:  # the bonus's replay in the same fork when it can
            shared = replay_with_bonus(ctx)
        if shared is not None:
            result["states"], result["idempotent"] = shared["states"], shared["idempotent"]
        else:
            ws = ctx.fork("replay")
            _run(ws)
            result["states"].append(_state(ctx, ws, 0))
            for day in range(1, len(ctx.arrival_files) + 1):
                ctx.replay_arrivals(ws, day)
                _run(ws)
                result["states"].append(_state(ctx, ws, day))
            before = _fingerprint(ws)
            _run(ws)
            result["idempotent"] = _fingerprint(ws) == before
            ctx.discard(ws)
        empty = ctx.fork("empty-target")
        empty.execute_trusted(f"create or replace table {RAW_SCHEMA}.clickstream_full as "
                              f"select * from {RAW_SCHEMA}.clickstream; "
                              f"create or replace table {RAW_SCHEMA}.clickstream as "
                              f"select * from {RAW_SCHEMA}.clickstream_full limit 0")
        _run(empty)
        ctx.replay_arrivals(empty, 0)
        _run(empty)
        result["empty_target_missing"] = _state(ctx, empty, 0)["missing"]
        ctx.discard(empty)
    except (Fail, Skip) as stop:
        result["error"] = stop
    except Exception as error:  # noqa: BLE001
        result["error"] = Fail(f"the replay failed: {short_message(str(error), 200)}")
    return result


def _fingerprint(ws: Workspace) -> tuple:
    con = ws.connect()
    return con.sql(f"select count(*), sum(hash(columns(*))) from main.{MODEL}").fetchall()[0]


def _need(ctx: CheckContext) -> list[dict[str, Any]]:
    result = _replay(ctx)
    if not result["states"]:
        raise result["error"] or Skip("the replay did not run")
    return result["states"]


@EX.check("first_run_on_empty_target", points=1,
          hint="When the target is empty, max(...) is NULL and `x > NULL` selects nothing: coalesce it.")
def first_run_on_empty_target(ctx: CheckContext) -> str:
    """Starting from an existing empty table, the first incremental run loads every event."""
    _need(ctx)
    missing = _replay(ctx)["empty_target_missing"]
    if missing is None:
        error = _replay(ctx)["error"]
        raise Skip(error.message if error else "the scenario did not run")
    if missing:
        raise Fail(f"when the table exists but is empty, the next run leaves {missing} event(s) out")
    return "an empty target is filled by the next run"


@EX.check("late_events", points=2, hint="Filter on when rows arrived (_loaded_at), with a lookback window.")
def late_events(ctx: CheckContext) -> str:
    """Late-arriving events (old event_timestamp, new _loaded_at) are loaded on the day they arrive."""
    states = _need(ctx)
    if len(states) < 2:
        error = _replay(ctx)["error"]
        raise Skip(error.message if error else "no arrival days to replay")
    bad = [s for s in states[1:] if s["missing"]]
    if bad:
        raise Fail(f"after arrival day {bad[0]['day']}: {bad[0]['missing']} arrived event(s) are missing")
    return f"no event missed over {len(states) - 1} arrival day(s)"


@EX.check("no_duplicates", points=2, hint="Deduplicate within the batch: qualify row_number() over "
          "(partition by event_id order by _loaded_at desc) = 1.")
def no_duplicates(ctx: CheckContext) -> str:
    """event_id stays unique after the first run and after each arrival day (re-delivered events)."""
    states = _need(ctx)
    bad = [s for s in states if s["duplicates"]]
    if bad:
        raise Fail(f"after {'the first run' if bad[0]['day'] == 0 else 'arrival day ' + str(bad[0]['day'])}: "
                   f"{bad[0]['duplicates']} duplicated event_id row(s)")
    return "event_id unique after every run"


@EX.check("equals_full_refresh", points=2,
          hint="Keep the latest delivery of each event, like stg_clickstream.")
def equals_full_refresh(ctx: CheckContext) -> str:
    """After every run the table equals the reference model fully refreshed on the same data."""
    states = _need(ctx)
    for state in states:
        comparison = state["comparison"]
        if not comparison.ok:
            raise Fail(comparison.message, examples=comparison.examples)
    error = _replay(ctx)["error"]
    if error is not None:
        raise error
    return f"equal to a full refresh after each of {len(states)} run(s)"


@EX.check("idempotent", points=1, hint="Re-running without new data must not change the table.")
def idempotent(ctx: CheckContext) -> str:
    """Running again with no new data changes nothing."""
    result = _replay(ctx)
    if "idempotent" not in result:
        raise Skip(result["error"].message if result["error"] else "the replay did not finish")
    if not result["idempotent"]:
        raise Fail("a second run without new data changed the table")
    return "a re-run changes nothing"
