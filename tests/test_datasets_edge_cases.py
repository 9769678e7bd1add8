"""The grader's edge-case fixture: every case present, keys valid, recorded in the manifest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pytest

from datasets.generate import generate
from datasets.schema import TABLES


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("edge") / "raw"
    generate(folder, seed=3, scale=0.02, edge_cases=True)
    return folder


@pytest.fixture(scope="module")
def con(raw: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    for table in TABLES:
        connection.execute(f"create view {table} as select * from read_parquet('{raw}/{table}/*.parquet')")
    return connection


def one(con, sql: str):
    return con.execute(sql).fetchone()[0]


def test_manifest_lists_edge_files_with_hashes(raw: Path) -> None:
    manifest = json.loads((raw / "_manifest.json").read_text())
    assert manifest["edge_cases"] is True
    files = manifest["tables"]["clickstream"]["files"]
    assert set(files) == {"part-0.parquet", "edge-cases.parquet"}
    path = raw / "clickstream" / "edge-cases.parquet"
    assert files["edge-cases.parquet"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert manifest["row_counts"]["clickstream"] == sum(f["rows"] for f in files.values())


def test_every_edge_case_is_present(con) -> None:
    assert (
        one(
            con,
            "select count(*) from customers where customer_id = 'C9900001' and customer_id not in "
            "(select customer_id from orders) and customer_id not in "
            "(select customer_id from clickstream where customer_id is not null)",
        )
        == 1
    )
    assert one(con, "select count(*) from customers where customer_unique_id = 'U9900001'") == 2
    assert (
        one(
            con,
            "select count(*) from products where product_id = 'P990001' and product_id not in "
            "(select product_id from order_items) and product_id not in (select product_id from "
            "product_reviews) and product_id not in (select product_id from inventory)",
        )
        == 1
    )
    assert (
        one(con, "select count(*) from order_items where product_id = 'P990002' and price < cost_price") == 1
    )
    assert (
        one(con, "select count(*) from clickstream where session_id = 'S990000001' and customer_id is null")
        == 4
    )
    assert (
        one(
            con,
            "select count(*) from clickstream where event_id like 'E99%' "
            "and _loaded_at - event_timestamp > interval 1 day",
        )
        == 2
    )
    assert one(con, "select count(*) from clickstream where event_id = 'E9900000009'") == 2


def test_keys_still_valid(con) -> None:
    for child, col, parent in [
        ("orders", "customer_id", "customers"),
        ("order_items", "order_id", "orders"),
        ("order_items", "product_id", "products"),
        ("payments", "order_id", "orders"),
        ("product_reviews", "order_id", "orders"),
        ("inventory", "product_id", "products"),
        ("clickstream", "product_id", "products"),
        ("clickstream", "customer_id", "customers"),
    ]:
        assert (
            one(con, f"select count(*) from {child} where {col} not in (select {col} from {parent})") == 0
        ), child
    for table, key in [
        ("customers", "customer_id"),
        ("products", "product_id"),
        ("orders", "order_id"),
        ("order_items", "order_item_id"),
        ("payments", "payment_id"),
        ("product_reviews", "review_id"),
    ]:
        assert one(con, f"select count(*) - count(distinct {key}) from {table}") == 0, table
    assert (
        one(
            con,
            "select count(*) from orders o join (select order_id, sum(price) s from order_items group by 1) "
            "i using (order_id) where s <> order_total",
        )
        == 0
    )
    assert (
        one(
            con,
            "select count(*) from orders o join (select order_id, sum(payment_amount) s from payments "
            "group by 1) p using (order_id) where s <> order_total",
        )
        == 0
    )
