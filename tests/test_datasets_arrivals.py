"""Clickstream arrivals for 5.2: deterministic per day, late and duplicate events, no id clashes."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import duckdb
import pytest

from datasets.arrivals import arrival_path, reset_arrivals, write_arrival, write_arrivals_through
from datasets.generate import generate


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("arr") / "raw"
    generate(folder, seed=42, scale=0.03, tables=["customers", "products", "clickstream"])
    write_arrivals_through(folder, 3)
    return folder


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def q(sql: str):
    return duckdb.connect().execute(sql).fetchall()


def test_rewriting_a_day_gives_identical_bytes_independent_of_other_days(raw: Path, tmp_path: Path) -> None:
    before = sha(arrival_path(raw, 2))
    other = tmp_path / "raw"
    shutil.copytree(raw, other)
    reset_arrivals(other)
    assert write_arrival(other, 2) == arrival_path(other, 2)  # day 2 alone, without day 1
    assert sha(arrival_path(other, 2)) == before
    write_arrival(raw, 2)
    assert sha(arrival_path(raw, 2)) == before


def test_loaded_on_its_day_with_late_events(raw: Path) -> None:
    for day in (1, 2, 3):
        path = arrival_path(raw, day)
        lo, hi, bad = q(
            f"select min(_loaded_at)::date, max(_loaded_at)::date, "
            f"count(*) filter (where _loaded_at < event_timestamp) from '{path}'"
        )[0]
        assert str(lo) == str(hi) == f"2026-01-0{day}" and bad == 0
        late = q(
            f"select avg((_loaded_at - event_timestamp > interval 1 day)::int) from '{path}' "
            f"where event_id >= 'E5'"
        )[0][0]
        assert 0 < late < 0.2
    assert q(f"select count(*) from '{arrival_path(raw, 1)}' where event_timestamp < '2025-12-31'")[0][0] > 0


def test_duplicates_of_earlier_deliveries_and_within_the_file(raw: Path) -> None:
    base = raw / "clickstream" / "part-0.parquet"
    day1, day2 = arrival_path(raw, 1), arrival_path(raw, 2)
    assert q(f"select count(*) from '{day2}' where event_id in (select event_id from '{base}')")[0][0] > 0
    assert q(f"select count(*) from '{day2}' where event_id in (select event_id from '{day1}')")[0][0] > 0
    exact = q(f"select count(*) - count(distinct columns(*)) from (select distinct * from '{day2}')")
    assert exact[0][0] == 0
    assert (
        q(f"select count(*) - (select count(*) from (select distinct * from '{day2}')) from '{day2}'")[0][0]
        > 0
    )


def test_new_event_ids_never_collide(raw: Path) -> None:
    files = [arrival_path(raw, d) for d in (1, 2, 3)]
    new_ids = [
        set(r[0] for r in q(f"select event_id from '{f}' where event_id like 'E5{d:03d}%'"))
        for d, f in zip((1, 2, 3), files, strict=True)
    ]
    assert all(new_ids) and not (new_ids[0] & new_ids[1]) and not (new_ids[1] & new_ids[2])
    for d, f in zip(
        (1, 2, 3), files, strict=True
    ):  # an id of another day is a re-delivery of that day's event
        assert (
            q(
                f"select count(*) from '{f}' where event_id >= 'E5' and event_id not like 'E5{d:03d}%' "
                f"and event_id not like 'E5{d - 1:03d}%'"
            )[0][0]
            == 0
        )
    base_max = q(f"select max(event_id) from '{raw}/clickstream/part-0.parquet'")[0][0]
    assert base_max < "E5"
    assert (
        q(
            f"select count(*) from read_parquet({[str(f) for f in files]}) a "
            f"where a.product_id not in (select product_id from '{raw}/products/part-0.parquet')"
        )[0][0]
        == 0
    )


def test_reset_removes_every_arrival_file(raw: Path, tmp_path: Path) -> None:
    other = tmp_path / "raw"
    shutil.copytree(raw, other)
    assert reset_arrivals(other) == 3
    assert sorted(p.name for p in (other / "clickstream").iterdir()) == ["part-0.parquet"]
