"""Generator output: byte-identical per (seed, scale), schema equals DEVELOPING.md, manifest."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from datasets.generate import generate
from datasets.schema import TABLES

ROOT = Path(__file__).resolve().parents[1]
SCALE = 0.03

# DuckDB types of the contract (DEVELOPING.md, "Raw data")
EXPECTED_TYPES = {
    "customers": "VARCHAR VARCHAR VARCHAR VARCHAR DATE",
    "products": "VARCHAR VARCHAR VARCHAR VARCHAR VARCHAR DECIMAL(12,2) DATE",
    "orders": "VARCHAR VARCHAR DATE TIMESTAMP VARCHAR DECIMAL(12,2)",
    "order_items": "VARCHAR VARCHAR VARCHAR DECIMAL(12,2) DECIMAL(12,2)",
    "payments": "VARCHAR VARCHAR INTEGER VARCHAR DECIMAL(12,2)",
    "clickstream": "VARCHAR VARCHAR VARCHAR TIMESTAMP VARCHAR VARCHAR VARCHAR VARCHAR VARCHAR TIMESTAMP",
    "inventory": "DATE VARCHAR INTEGER DECIMAL(10,2)",
    "product_reviews": "VARCHAR VARCHAR VARCHAR VARCHAR INTEGER DATE",
    "marketing_campaigns": "VARCHAR VARCHAR VARCHAR DATE DATE DECIMAL(12,2) VARCHAR",
    "email_events": "VARCHAR VARCHAR VARCHAR VARCHAR TIMESTAMP",
}


def contract_columns() -> dict[str, list[str]]:
    """Column names per table, parsed from the raw-data table of DEVELOPING.md."""
    text = (ROOT / "DEVELOPING.md").read_text(encoding="utf-8")
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        m = re.match(r"^\| (\w+) \| (.+) \|$", line)
        if not m or m.group(1) == "table":
            continue
        depth, parts, current = 0, [], ""
        for ch in m.group(2):
            depth += ch == "("
            depth -= ch == ")"
            if ch == "," and depth == 0:
                parts.append(current)
                current = ""
            else:
                current += ch
        parts.append(current)
        out[m.group(1)] = [p.split()[0] for p in parts if p.strip()]
    return out


def digest_tree(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def twice(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("gen")
    generate(base / "a", seed=7, scale=SCALE)
    generate(base / "b", seed=7, scale=SCALE)
    return base / "a", base / "b"


def test_same_seed_and_scale_give_identical_bytes(twice: tuple[Path, Path]) -> None:
    a, b = twice
    assert digest_tree(a) == digest_tree(b)
    assert len(digest_tree(a)) == len(TABLES) + 1


def test_other_seed_gives_other_data(twice: tuple[Path, Path], tmp_path: Path) -> None:
    generate(tmp_path / "c", seed=8, scale=SCALE, tables=["orders", "clickstream"])
    a = digest_tree(twice[0])
    c = digest_tree(tmp_path / "c")
    for name in ("orders/part-0.parquet", "clickstream/part-0.parquet"):
        assert a[name] != c[name]


def test_schema_equals_the_contract(twice: tuple[Path, Path]) -> None:
    contract = contract_columns()
    assert set(contract) == set(TABLES)
    con = duckdb.connect()
    for table in TABLES:
        rows = con.execute(f"describe select * from read_parquet('{twice[0]}/{table}/*.parquet')").fetchall()
        assert [r[0] for r in rows] == contract[table], table
        assert " ".join(r[1] for r in rows) == EXPECTED_TYPES[table], table


def test_manifest_records_counts_and_hashes(twice: tuple[Path, Path]) -> None:
    folder = twice[0]
    manifest = json.loads((folder / "_manifest.json").read_text())
    assert (manifest["seed"], manifest["scale"], manifest["as_of_date"]) == (7, SCALE, "2025-12-31")
    for table in TABLES:
        path = folder / table / "part-0.parquet"
        entry = manifest["tables"][table]["files"]["part-0.parquet"]
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert entry["rows"] == pq.read_metadata(path).num_rows == manifest["row_counts"][table]


def test_subset_of_tables_matches_the_full_run(twice: tuple[Path, Path], tmp_path: Path) -> None:
    generate(tmp_path / "sub", seed=7, scale=SCALE, tables=["payments", "customers"])
    sub = digest_tree(tmp_path / "sub")
    assert sorted(sub) == ["_manifest.json", "customers/part-0.parquet", "payments/part-0.parquet"]
    full = digest_tree(twice[0])
    assert sub["payments/part-0.parquet"] == full["payments/part-0.parquet"]


def test_rows_scale_linearly(tmp_path: Path) -> None:
    small = generate(tmp_path / "s", seed=1, scale=0.05, tables=["orders", "inventory"])["row_counts"]
    large = generate(tmp_path / "l", seed=1, scale=0.15, tables=["orders", "inventory"])["row_counts"]
    assert large["orders"] == 3 * small["orders"]
    assert large["inventory"] == 3 * small["inventory"]


def test_regenerating_replaces_the_old_folder(tmp_path: Path) -> None:
    out = tmp_path / "raw"
    generate(out, seed=1, scale=0.02, tables=["customers"])
    (out / "stale.txt").write_text("old")
    generate(out, seed=1, scale=0.02, tables=["products"])
    assert sorted(p.name for p in out.iterdir()) == ["_manifest.json", "products"]
    assert [p.name for p in tmp_path.iterdir()] == ["raw"]  # no temporary siblings left


def test_crash_midway_keeps_the_previous_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "raw"
    generate(out, seed=1, scale=0.02, tables=["customers"])
    before = digest_tree(out)

    def boom(self) -> None:
        raise RuntimeError("simulated crash while writing")

    monkeypatch.setattr("datasets.world.World.products_table", boom)
    with pytest.raises(RuntimeError):
        generate(out, seed=2, scale=0.02, tables=["customers", "products"])
    assert digest_tree(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["raw"]
    with pytest.raises(RuntimeError):
        generate(tmp_path / "fresh", seed=2, scale=0.02, tables=["customers", "products"])
    assert not (tmp_path / "fresh").exists()
