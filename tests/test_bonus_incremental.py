"""The bonus's incremental ``int_customer_behavior_incremental`` equals a full refresh after new data.

Real generator (small scale), real dbt (in this process: one parse, then each run reuses its manifest),
real DuckDB, in a scratch copy: the starting project plus
the bonus answer files of ``solutions/`` is built, three clickstream arrival days are replayed
(new, late, re-delivered and duplicated events), the model runs incrementally after each one and is
compared with an independent SQL computation of the same lifetime metrics over the full history;
at the end a ``--full-refresh`` must reproduce the incrementally built table exactly.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from course_core.dbt_invoke import invoke, run
from datasets.arrivals import write_arrival
from grader.course import reference_answers, starting_project

REPO = Path(__file__).resolve().parent.parent
MODEL = "int_customer_behavior_incremental"
BONUS_PREFIXES = ("models/intermediate/int_clickstream_events_incremental", f"models/intermediate/{MODEL}",
                  "models/intermediate/_bonus_intermediate", "macros/get_date_parts", "macros/days_since")
COLUMNS = ("customer_id, customer_unique_id, customer_city, customer_state, order_count, total_spend, "
           "round(avg_order_value, 6) as avg_order_value, first_order_date, last_order_date, "
           "customer_lifetime_days, days_since_last_order, total_sessions, product_view_count, "
           "cart_add_count, purchase_event_count")

# An independent oracle: the same lifetime metrics, computed from scratch from the staging views.
ORACLE = f"""
with o as (
    select customer_id, count(*) as order_count, sum(order_total) as total_spend,
           avg(order_total) as avg_order_value, min(order_date) as first_order_date,
           max(order_date) as last_order_date
    from main.stg_orders group by customer_id
),
e as (
    select customer_id, count(distinct session_id) as total_sessions,
           count(*) filter (where event_type = 'product_view') as product_view_count,
           count(*) filter (where event_type = 'cart_add') as cart_add_count,
           count(*) filter (where event_type = 'purchase') as purchase_event_count
    from main.stg_clickstream where customer_id is not null group by customer_id
),
full_history as (
    select c.customer_id, c.customer_unique_id, c.customer_city, c.customer_state,
           coalesce(o.order_count, 0) as order_count, coalesce(o.total_spend, 0) as total_spend,
           o.avg_order_value, o.first_order_date, o.last_order_date,
           datediff('day', o.first_order_date, o.last_order_date) as customer_lifetime_days,
           datediff('day', o.last_order_date, date '2025-12-31') as days_since_last_order,
           coalesce(e.total_sessions, 0) as total_sessions,
           coalesce(e.product_view_count, 0) as product_view_count,
           coalesce(e.cart_add_count, 0) as cart_add_count,
           coalesce(e.purchase_event_count, 0) as purchase_event_count
    from main.stg_customers c left join o using (customer_id) left join e using (customer_id)
)
select {COLUMNS} from full_history
"""
MODEL_ROWS = f"select {COLUMNS} from main.{MODEL}"


def _differences(warehouse: Path, left: str, right: str) -> int:
    """Rows in one query and not the other, both directions, duplicates counted."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        a, b = f"select * from ({left})", f"select * from ({right})"
        return con.sql(f"select (select count(*) from ({a} except all {b})) + "
                       f"(select count(*) from ({b} except all {a}))").fetchall()[0][0]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small raw data and the starting project plus the bonus answers, in a temp folder."""
    answers = {p: t for p, t in reference_answers(REPO).files.items() if p.startswith(BONUS_PREFIXES)}
    assert any(p.endswith(f"{MODEL}.sql") for p in answers), "solutions/ lost the bonus model"
    root = tmp_path_factory.mktemp("bonus-incremental")
    raw = root / "raw"
    subprocess.run([sys.executable, "-m", "datasets.generate", "--seed", "42", "--scale", "0.02",
                    "--out", str(raw), "--quiet"], cwd=REPO, check=True)
    project = root / "dbt_project"
    files = {rel: data for rel, data in starting_project(REPO).items() if not rel.startswith("docs/")}
    files.update({rel: text.encode("utf-8") for rel, text in answers.items()})
    files["profiles.yml"] = (REPO / "dbt_project" / "profiles.yml").read_bytes()
    for rel, data in files.items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_bytes(data)
    return {"root": root, "raw": raw, "project": project, "warehouse": root / "warehouse.duckdb"}


def _dbt(scratch: dict, *args: str) -> None:
    """``dbt <args>`` on the scratch project, in this process: parsed once, then every run reuses that
    manifest (the project's files never change here; only the raw data does, which views read)."""
    env = {"VB_RAW_DIR": str(scratch["raw"]), "VB_DUCKDB_PATH": str(scratch["warehouse"]), "VB_TARGET": "dev"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        target = ["--target-path", str(scratch["root"] / "target")]
        if "manifest" not in scratch:
            parsed, output = invoke(["parse", *target], scratch["project"], capture=True)
            assert parsed.success, output[-3000:]
            scratch["manifest"] = parsed.result
        res = run([*args, *target], scratch["project"], manifest=scratch["manifest"])
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    assert res.ok, res.last_lines(15)


def test_incremental_equals_full_history_after_arrivals_and_a_full_refresh(scratch: dict[str, Path]) -> None:
    warehouse = scratch["warehouse"]
    _dbt(scratch, "run", "--select", f"+{MODEL}")
    assert _differences(warehouse, MODEL_ROWS, ORACLE) == 0, "the first (full) run differs from the oracle"
    for day in (1, 2, 3):
        write_arrival(scratch["raw"], day)
        _dbt(scratch, "run", "--select", f"+{MODEL}")
        with duckdb.connect(str(warehouse), read_only=True) as con:
            since = f"timestamp '2026-01-01' + interval {day - 1} day"
            (arrived,) = con.execute("select count(*) from main.int_clickstream_events_incremental "
                                     f"where _loaded_at >= {since}").fetchone()
        assert arrived > 0, f"arrival day {day} brought no events into the model's input"
        assert _differences(warehouse, MODEL_ROWS, ORACLE) == 0, f"after arrival day {day} the model differs"
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"create table main.incremental_snapshot as {MODEL_ROWS}")
    _dbt(scratch, "run", "--select", f"+{MODEL}", "--full-refresh")
    assert _differences(warehouse, "select * from main.incremental_snapshot", MODEL_ROWS) == 0

    # the comparison can fail: one changed value in the snapshot is caught
    with duckdb.connect(str(warehouse)) as con:
        con.execute("update main.incremental_snapshot set total_sessions = total_sessions + 1 "
                    "where customer_id = (select min(customer_id) from main.incremental_snapshot)")
    assert _differences(warehouse, "select * from main.incremental_snapshot", MODEL_ROWS) == 2
