"""Edge-case fixture for the grader's hidden dataset: small extra part files, keys all valid.

`add_edge_cases(raw_dir)` writes `<table>/edge-cases.parquet` next to `part-0.parquet` and
records them in `_manifest.json`. Ids live in a reserved range (C99..., P99..., O99...).
What it adds:
- C9900001: a customer with no orders and no events;
- C9900002 and C9900003: one person (U9900001) holding two customer_ids, both with orders;
- P990001: a product with no sales, no reviews and no inventory rows (only viewed, anonymously);
- P990002: a product sold once at a loss (price < cost_price) and never reviewed;
- an anonymous session, late events (_loaded_at days after event_timestamp) and a
  re-delivered duplicate event; an email campaign that sent nothing.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from datasets.arrowio import dates, ids, money, write_parquet
from datasets.calendar import N_DAYS
from datasets.generate import PART, file_entry, read_manifest, write_manifest
from datasets.schema import SCHEMAS

EDGE_PART = "edge-cases.parquet"
D = dt.date
T = dt.datetime


def _legacy_product(raw_dir: Path) -> tuple[str, int]:
    """(product_id, list price in paise) of the first product launched before 2024."""
    products = pq.read_table(raw_dir / "products" / PART, columns=["product_id", "list_price", "launch_date"])
    old = products.filter(pc.less(products["launch_date"], pa.scalar(D(2024, 1, 1))))
    row = old.slice(0, 1).to_pylist()[0]
    return row["product_id"], int(row["list_price"] * 100)


def edge_tables(raw_dir: Path) -> dict[str, pa.Table]:
    """The edge-case rows per table (constant apart from which existing product they reference)."""
    legacy, legacy_cents = _legacy_product(raw_dir)
    price2 = max(legacy_cents - 5_000, 100)
    cost2 = price2 * 7 // 10
    rows: dict[str, dict[str, list]] = {
        "customers": {
            "customer_id": ["C9900001", "C9900002", "C9900003"],
            "customer_unique_id": ["U9900002", "U9900001", "U9900001"],
            "customer_city": ["Mumbai", "Pune", "Pune"],
            "customer_state": ["Maharashtra", "Maharashtra", "Maharashtra"],
            "signup_date": [D(2025, 6, 1), D(2024, 3, 10), D(2025, 9, 2)],
        },
        "products": {
            "product_id": ["P990001", "P990002"],
            "product_name": ["Pigeon Storage 101", "boAt Chargers 202"],
            "product_category": ["Home & Kitchen", "Electronics"],
            "product_subcategory": ["Storage", "Chargers"],
            "brand": ["Pigeon", "boAt"],
            "list_price": [49900, 89900],
            "launch_date": [D(2025, 1, 15), D(2023, 11, 1)],
        },
        "orders": {
            "order_id": ["O99000001", "O99000002"],
            "customer_id": ["C9900002", "C9900003"],
            "order_date": [D(2025, 11, 15), D(2025, 12, 20)],
            "order_timestamp": [T(2025, 11, 15, 20, 41, 5), T(2025, 12, 20, 11, 2, 30)],
            "order_status": ["delivered", "delivered"],
            "order_total": [55000 + price2, legacy_cents],
        },
        "order_items": {
            "order_item_id": ["OI990000001", "OI990000002", "OI990000003"],
            "order_id": ["O99000001", "O99000001", "O99000002"],
            "product_id": ["P990002", legacy, legacy],
            "price": [55000, price2, legacy_cents],
            "cost_price": [62000, cost2, legacy_cents * 7 // 10],
        },
        "payments": {
            "payment_id": ["PY990000001", "PY990000002", "PY990000003"],
            "order_id": ["O99000001", "O99000001", "O99000002"],
            "payment_sequential": [1, 2, 1],
            "payment_method": ["wallet", "upi", "cod"],
            "payment_amount": [10000, 45000 + price2, legacy_cents],
        },
        "product_reviews": {
            "review_id": ["R99000001"],
            "product_id": [legacy],
            "customer_id": ["C9900003"],
            "order_id": ["O99000002"],
            "review_score": [5],
            "review_date": [D(2025, 12, 28)],
        },
        "marketing_campaigns": {
            "campaign_id": ["CMP9901"],
            "campaign_name": ["Win Back 2025 - email (never sent)"],
            "channel": ["email"],
            "start_date": [D(2025, 12, 1)],
            "end_date": [D(2025, 12, 15)],
            "budget": [0],
            "target_segment": ["lapsed"],
        },
    }
    anon, buyer = None, "C9900002"
    events = [  # event_id, session, customer, ts, type, page, product, device, browser, loaded
        (
            "E9900000001",
            "S990000001",
            anon,
            T(2025, 12, 30, 22, 0, 0),
            "page_view",
            "home",
            None,
            "mobile",
            "Chrome",
            T(2025, 12, 30, 22, 0, 20),
        ),
        (
            "E9900000002",
            "S990000001",
            anon,
            T(2025, 12, 30, 22, 1, 0),
            "product_view",
            "product",
            "P990001",
            "mobile",
            "Chrome",
            T(2025, 12, 30, 22, 1, 9),
        ),
        (
            "E9900000003",
            "S990000001",
            anon,
            T(2025, 12, 30, 22, 2, 0),
            "cart_add",
            "product",
            "P990001",
            "mobile",
            "Chrome",
            T(2025, 12, 30, 22, 2, 30),
        ),
        (
            "E9900000004",
            "S990000001",
            anon,
            T(2025, 12, 30, 22, 3, 0),
            "cart_remove",
            "cart",
            "P990001",
            "mobile",
            "Chrome",
            T(2025, 12, 30, 22, 3, 2),
        ),
        (
            "E9900000005",
            "S990000002",
            buyer,
            T(2025, 11, 15, 20, 30, 0),
            "search",
            "search",
            None,
            "desktop",
            "Firefox",
            T(2025, 11, 18, 9, 0, 0),
        ),  # late: 3 days
        (
            "E9900000006",
            "S990000002",
            buyer,
            T(2025, 11, 15, 20, 35, 0),
            "product_view",
            "product",
            "P990002",
            "desktop",
            "Firefox",
            T(2025, 11, 18, 9, 0, 0),
        ),  # late
        (
            "E9900000007",
            "S990000002",
            buyer,
            T(2025, 11, 15, 20, 38, 0),
            "cart_add",
            "product",
            "P990002",
            "desktop",
            "Firefox",
            T(2025, 11, 15, 20, 38, 40),
        ),
        (
            "E9900000008",
            "S990000002",
            buyer,
            T(2025, 11, 15, 20, 40, 0),
            "checkout",
            "checkout",
            None,
            "desktop",
            "Firefox",
            T(2025, 11, 15, 20, 40, 15),
        ),
        (
            "E9900000009",
            "S990000002",
            buyer,
            T(2025, 11, 15, 20, 41, 5),
            "purchase",
            "confirmation",
            "P990002",
            "desktop",
            "Firefox",
            T(2025, 11, 15, 20, 41, 30),
        ),
        (
            "E9900000009",
            "S990000002",
            buyer,
            T(2025, 11, 15, 20, 41, 5),
            "purchase",
            "confirmation",
            "P990002",
            "desktop",
            "Firefox",
            T(2025, 11, 16, 2, 0, 0),
        ),  # re-delivered duplicate
    ]
    names = SCHEMAS["clickstream"].names
    rows["clickstream"] = {name: [e[i] for e in events] for i, name in enumerate(names)}
    money_cols = {"list_price", "order_total", "price", "cost_price", "payment_amount", "budget"}
    out = {}
    for table, cols in rows.items():
        schema = SCHEMAS[table]
        arrays = [
            money(np.array(v, np.int64)) if k in money_cols else pa.array(v, schema.field(k).type)
            for k, v in cols.items()
        ]
        out[table] = pa.Table.from_arrays(arrays, schema=schema)
    days = np.arange(N_DAYS)
    stock = (40 - (days % 20) * 2).astype(np.int32)  # sawtooth, 0 one day in 20... never below 2
    stock[days % 20 == 19] = 0
    out["inventory"] = pa.Table.from_arrays(
        [
            dates(days),
            ids("P", np.full(N_DAYS, 990002), 6),
            pa.array(stock, pa.int32()),
            money(np.where(days >= 684, 3, 0).astype(np.int64), 10),
        ],
        schema=SCHEMAS["inventory"],
    )
    return out


def add_edge_cases(raw_dir: Path | str) -> dict:
    """Write edge-case part files for the tables present in `raw_dir` and update its manifest."""
    raw_dir = Path(raw_dir)
    manifest = read_manifest(raw_dir)
    if "products" not in manifest["tables"]:
        from datasets.cli_errors import UsageError

        raise UsageError("--edge-cases needs the products table; do not leave it out with --tables")
    for name, table in edge_tables(raw_dir).items():
        entry = manifest["tables"].get(name)
        if entry is None:
            continue
        path = raw_dir / name / EDGE_PART
        write_parquet(table, path)
        entry["files"][EDGE_PART] = file_entry(path, table.num_rows)
        entry["rows"] = sum(f["rows"] for f in entry["files"].values())
    manifest["row_counts"] = {name: entry["rows"] for name, entry in manifest["tables"].items()}
    manifest["edge_cases"] = True
    write_manifest(raw_dir, manifest)
    return manifest
