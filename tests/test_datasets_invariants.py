"""Invariants of the generated data that the course teaches with (checked with DuckDB)."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from datasets.arrivals import write_arrivals_through
from datasets.calendar import N_DAYS, day_weights
from datasets.generate import generate
from datasets.schema import TABLES


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    raw = tmp_path_factory.mktemp("inv") / "raw"
    generate(raw, seed=42, scale=0.05)
    connection = duckdb.connect()
    for table in TABLES:
        connection.execute(f"create view {table} as select * from read_parquet('{raw}/{table}/*.parquet')")
    return connection


def one(con: duckdb.DuckDBPyConnection, sql: str):
    return con.execute(sql).fetchone()[0]


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ("customers", "customer_id"),
        ("products", "product_id"),
        ("orders", "order_id"),
        ("order_items", "order_item_id"),
        ("payments", "payment_id"),
        ("product_reviews", "review_id"),
        ("marketing_campaigns", "campaign_id"),
        ("email_events", "email_event_id"),
        ("inventory", "product_id, snapshot_date"),
        ("payments", "order_id, payment_sequential"),
    ],
)
def test_keys_are_unique(con, table: str, key: str) -> None:
    assert one(con, f"select count(*) - count(distinct ({key})) from {table}") == 0


@pytest.mark.parametrize(
    ("child", "col", "parent", "pcol"),
    [
        ("orders", "customer_id", "customers", "customer_id"),
        ("order_items", "order_id", "orders", "order_id"),
        ("order_items", "product_id", "products", "product_id"),
        ("payments", "order_id", "orders", "order_id"),
        ("clickstream", "customer_id", "customers", "customer_id"),
        ("clickstream", "product_id", "products", "product_id"),
        ("inventory", "product_id", "products", "product_id"),
        ("product_reviews", "order_id", "orders", "order_id"),
        ("product_reviews", "product_id", "products", "product_id"),
        ("product_reviews", "customer_id", "customers", "customer_id"),
        ("email_events", "campaign_id", "marketing_campaigns", "campaign_id"),
        ("email_events", "customer_id", "customers", "customer_id"),
    ],
)
def test_foreign_keys_resolve(con, child: str, col: str, parent: str, pcol: str) -> None:
    sql = f"select count(*) from {child} c where c.{col} not in (select {pcol} from {parent})"
    assert one(con, sql) == 0


def test_money_adds_up(con) -> None:
    assert (
        one(
            con,
            "select count(*) from orders o left join (select order_id, sum(price) s from order_items "
            "group by 1) i using (order_id) where i.s is distinct from o.order_total",
        )
        == 0
    )
    assert (
        one(
            con,
            "select count(*) from orders o left join (select order_id, sum(payment_amount) s "
            "from payments group by 1) p using (order_id) where p.s is distinct from o.order_total",
        )
        == 0
    )


def test_loaded_at_never_before_event_and_base_cut_at_as_of(con) -> None:
    assert one(con, "select count(*) from clickstream where _loaded_at < event_timestamp") == 0
    assert one(con, "select max(_loaded_at) < timestamp '2026-01-01' from clickstream")
    share = con.execute(
        "select avg((_loaded_at - event_timestamp > interval 1 hour)::int), "
        "avg((_loaded_at - event_timestamp > interval 1 day)::int) from clickstream"
    ).fetchone()
    assert 0.01 < share[0] < 0.05 and 0.001 < share[1] < 0.015


def test_base_has_redelivered_duplicates_with_same_content(con) -> None:
    dups = one(con, "select count(*) from (select event_id from clickstream group by 1 having count(*) > 1)")
    assert dups > 0
    assert (
        one(
            con,
            "select count(*) from (select event_id from clickstream group by 1 having "
            "count(distinct (session_id, event_timestamp, event_type, product_id)) > 1)",
        )
        == 0
    )
    assert (
        one(
            con,
            "select count(*) from (select event_id from clickstream group by 1 "
            "having count(distinct _loaded_at) < count(*))",
        )
        == 0
    )


def test_growth_and_festival_season(con) -> None:
    by_year = dict(con.execute("select year(order_date), count(*) from orders group by 1").fetchall())
    assert by_year[2025] > 1.2 * by_year[2024]
    festival, other = con.execute(
        "select avg(n) filter (where m in (9, 10, 11)), avg(n) filter (where m not in "
        "(9, 10, 11)) from (select month(order_date) m, count(*) n from orders "
        "group by 1)"
    ).fetchone()
    assert festival > 1.4 * other
    weekend, weekday = con.execute(
        "select avg(n) filter (where d in (0, 6)), avg(n) filter (where d not in (0, 6)) "
        "from (select dayofweek(order_date) d, count(*) n from orders group by 1)"
    ).fetchone()
    assert weekend > 1.1 * weekday


def test_customers_people_and_geography(con) -> None:
    late_signup = "select count() from orders join customers using (customer_id) where order_date<signup_date"
    assert one(con, late_signup) == 0
    no_orders = one(
        con, "select avg((customer_id not in (select customer_id from orders))::int) from customers"
    )
    assert 0.15 <= no_orders <= 0.25
    multi = one(
        con, "select avg((n > 1)::int) from (select customer_unique_id, count(*) n from customers group by 1)"
    )
    assert 0.02 <= multi <= 0.08
    assert (
        one(con, "select max(n) from (select customer_unique_id, count(*) n from customers group by 1)") <= 3
    )
    assert one(con, "select count(distinct customer_state) from customers where customer_city = 'Pune'") == 1
    assert one(con, "select customer_city from customers group by 1 order by count(*) desc limit 1") in (
        "Mumbai",
        "Delhi",
        "Bengaluru",
    )


def test_products_without_sales_or_reviews_and_long_tail(con) -> None:
    assert (
        one(con, "select count(*) from products where product_id not in (select product_id from order_items)")
        > 0
    )
    assert (
        one(
            con,
            "select count(*) from products where product_id not in (select product_id from product_reviews)",
        )
        > 0
    )
    top_share = one(
        con,
        "select sum(n) filter (where r <= 10) / sum(n) from (select count(*) n, "
        "row_number() over (order by count(*) desc) r from order_items group by product_id)",
    )
    assert top_share > 0.15  # ten products of a hundred sell far more than a tenth


def test_orders_items_and_payments_are_realistic(con) -> None:
    statuses = {r[0] for r in con.execute("select distinct order_status from orders").fetchall()}
    assert {"cancelled", "returned", "delivered"} <= statuses
    loss = one(con, "select avg((price < cost_price)::int) from order_items")
    assert 0.015 < loss < 0.05
    assert 2.0 <= one(con, "select count(*) / count(distinct order_id) from order_items") <= 3.0
    top = con.execute("select payment_method from payments group by 1 order by count(*) desc").fetchall()
    assert top[0][0] == "upi" and len(top) == 6
    assert one(con, "select count(*) from (select order_id from payments group by 1 having count(*) = 2)") > 0


def test_clickstream_sessions_look_like_funnels(con) -> None:
    anonymous = one(
        con,
        "select avg((c is null)::int) from (select session_id, any_value(customer_id) c "
        "from clickstream group by 1)",
    )
    assert 0.25 <= anonymous <= 0.35
    wrong_product = one(
        con,
        "select count(*) from clickstream where (product_id is null) = (event_type in "
        "('product_view', 'cart_add', 'cart_remove', 'purchase'))",
    )
    assert wrong_product == 0
    counts = dict(con.execute("select event_type, count(*) from clickstream group by 1").fetchall())
    assert counts["product_view"] > counts["cart_add"] > counts["checkout"] > 0 and counts["purchase"] > 0
    assert (
        one(
            con,
            "select count(*) from (select session_id from clickstream group by 1 "
            "having count(distinct customer_id) > 1 or count(distinct device) > 1)",
        )
        == 0
    )


def test_inventory_and_reviews(con) -> None:
    n_products, n_days = con.execute(
        "select count(distinct product_id), count(distinct snapshot_date) from inventory"
    ).fetchone()
    assert n_days == 731 and one(con, "select count(*) from inventory") == n_products * n_days
    assert one(con, "select count(*) from inventory where stock_level = 0") > 0
    assert one(con, "select count(*) from inventory where stock_level < 0") == 0
    assert one(con, "select max(daily_sales_rate) from inventory") > 0
    assert (
        one(
            con,
            "select count(*) from product_reviews r join orders o using (order_id) "
            "where r.review_date <= o.order_date or r.customer_id <> o.customer_id",
        )
        == 0
    )
    assert one(con, "select avg(review_score) from product_reviews") > 3.5
    assert one(con, "select min(review_score) = 1 and max(review_score) = 5 from product_reviews")


# ---- volume per day follows the season model (no pile-up on the as-of date) ----------------------
def _daily_counts(con: duckdb.DuckDBPyConnection, raw, table: str, day_expr: str) -> np.ndarray:
    counts = np.zeros(N_DAYS)
    rows = con.execute(
        f"select datediff('day', date '2024-01-01', {day_expr}) as d, count(*) "
        f"from read_parquet('{raw}/{table}/*.parquet') group by 1"
    ).fetchall()
    for day, n in rows:
        if 0 <= day < N_DAYS:
            counts[day] = n
    return counts


@pytest.mark.parametrize(("seed", "scale"), [(42, 0.05), (7, 0.05), (42, 0.2), (7, 0.2)])
def test_no_day_exceeds_its_seasonal_share(tmp_path, seed: int, scale: float) -> None:
    """Each day's orders and loaded events stay near total * day_weight / sum(weights).

    The bound: 1.6 x the expected count plus a sampling margin (6 sqrt(e) for orders, 12 sqrt(e)
    for events, which come in sessions of several events) plus 10. The as-of date once carried
    6.5x its share (first orders of recent sign-ups clipped to the last day).
    """
    raw = tmp_path / "raw"
    generate(raw, seed=seed, scale=scale)
    weights = day_weights()
    con = duckdb.connect()
    for table, day_expr, spread in [
        ("orders", "order_date", 6.0),
        ("clickstream", "cast(event_timestamp as date)", 12.0),
        ("clickstream", "cast(_loaded_at as date)", 12.0),
    ]:
        counts = _daily_counts(con, raw, table, day_expr)
        expected = counts.sum() * weights / weights.sum()
        bound = 1.6 * expected + spread * np.sqrt(expected) + 10
        worst = int(np.argmax(counts - bound))
        assert counts[worst] <= bound[worst], (
            f"{table} by {day_expr}: day {worst} has {counts[worst]:.0f} rows, expected about "
            f"{expected[worst]:.0f} (bound {bound[worst]:.0f})"
        )


def test_arrival_days_look_like_ordinary_days(tmp_path) -> None:
    """Arrival days carry the season's volume: a volume monitor (0.5x-2x of the last 7 days) is quiet."""
    raw = tmp_path / "raw"
    generate(raw, seed=42, scale=0.2)
    write_arrivals_through(raw, 3)
    con = duckdb.connect()
    loaded = con.execute(
        f"select cast(_loaded_at as date) as d, count(*) from read_parquet('{raw}/clickstream/*.parquet') "
        "where _loaded_at >= timestamp '2025-12-01' group by 1 order by 1"
    ).fetchall()
    counts = [n for _, n in loaded]
    assert len(counts) == 31 + 3
    for i in range(31, 34):
        previous = sum(counts[i - 7 : i]) / 7
        assert 0.7 * previous <= counts[i] <= 1.4 * previous, (loaded[i], previous)
