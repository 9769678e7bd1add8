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
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from datasets.arrowio import dates, ids, money, write_parquet
from datasets.calendar import N_DAYS
from datasets.manifest import PART, file_entry, read_manifest, write_manifest
from datasets.schema import SCHEMAS

EDGE_PART = "edge-cases.parquet"
DATA_FILE = Path(__file__).resolve().parent / "data" / "edge_cases.json"
D = dt.date
T = dt.datetime


def _legacy_product(raw_dir: Path) -> tuple[str, int]:
    """(product_id, list price in paise) of the first product launched before 2024."""
    products = pq.read_table(raw_dir / "products" / PART, columns=["product_id", "list_price", "launch_date"])
    old = products.filter(pc.less(products["launch_date"], pa.scalar(D(2024, 1, 1))))
    row = old.slice(0, 1).to_pylist()[0]
    return row["product_id"], int(row["list_price"] * 100)


def _derived_values(raw_dir: Path) -> dict[str, object]:
    """The '$name' values of the data file: they depend on the generated products."""
    legacy, legacy_price = _legacy_product(raw_dir)
    discounted_price = max(legacy_price - 5_000, 100)
    return {
        "legacy": legacy,
        "legacy_price": legacy_price,
        "legacy_cost": legacy_price * 7 // 10,
        "discounted_price": discounted_price,
        "discounted_cost": discounted_price * 7 // 10,
        "order_total": 55_000 + discounted_price,
        "upi_amount": 45_000 + discounted_price,
    }


def _column(values: list, field: pa.Field) -> pa.Array:
    """One column of the data file as Arrow: money from paise, dates and timestamps from ISO text."""
    if pa.types.is_decimal(field.type):
        return money(np.array(values, np.int64), field.type.precision)
    if pa.types.is_date(field.type):
        values = [None if v is None else D.fromisoformat(v) for v in values]
    elif pa.types.is_timestamp(field.type):
        values = [None if v is None else T.fromisoformat(v) for v in values]
    return pa.array(values, field.type)


def edge_tables(raw_dir: Path) -> dict[str, pa.Table]:
    """The edge-case rows per table: the rows of datasets/data/edge_cases.json, plus the inventory
    rows of P990002 (a rule, not data: a sawtooth stock level over the whole calendar)."""
    derived = _derived_values(raw_dir)
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    out = {}
    for table, rows in data.items():
        if table.startswith("_"):
            continue
        schema = SCHEMAS[table]
        resolved = [
            {k: derived[v[1:]] if isinstance(v, str) and v.startswith("$") else v for k, v in row.items()}
            for row in rows
        ]
        out[table] = pa.Table.from_arrays(
            [_column([row[field.name] for row in resolved], field) for field in schema], schema=schema
        )
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
        from course_core.cli_errors import UsageError

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
