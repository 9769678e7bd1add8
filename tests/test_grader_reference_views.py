"""Trusted connections map the reference's relations lazily (issue 13): a statement that names one,
one that lists the catalog and one the static table list misses all see exactly what they saw when
every view was created up front."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from grader.remote import REFERENCE_CATALOG, TrustedConnection, trusted_connection


def _reference(folder: Path) -> Path:
    """A reference export: main.a (3 rows), main.b (2 rows), grader_ref.a__day_0 (1 row)."""
    folder.mkdir()
    index = []
    con = duckdb.connect()
    relations = [("main", "a", 3), ("main", "b", 2), ("grader_ref", "a__day_0", 1)]
    for n, (schema, name, rows) in enumerate(relations):
        file = folder / f"r{n}.parquet"
        con.execute(f"copy (select range as k from range({rows})) to '{file}' (format parquet)")
        index.append({"schema": schema, "name": name, "file": file.name})
    (folder / "index.json").write_text(json.dumps(index), encoding="utf-8")
    return folder


def _connect(tmp_path: Path) -> TrustedConnection:
    reference = _reference(tmp_path / "ref")
    con = trusted_connection(tmp_path / "tmp", [reference], reference)
    return TrustedConnection(con, None, reference)


def test_views_are_created_when_named(tmp_path: Path):
    con = _connect(tmp_path)
    assert con.sql("select count(*) from a").fetchall() == [(3,)]
    assert con.sql("select count(*) from grader_ref.a__day_0").fetchall() == [(1,)]
    assert con.sql(f"select count(*) from {REFERENCE_CATALOG}.main.b").fetchall() == [(2,)]
    assert not con.reference_pending


def test_only_named_views_are_created(tmp_path: Path):
    con = _connect(tmp_path)
    con.sql("select count(*) from a").fetchall()
    assert sorted(con.reference_pending) == [("grader_ref", "a__day_0"), ("main", "b")]


def test_a_catalog_listing_sees_every_relation(tmp_path: Path):
    con = _connect(tmp_path)
    rows = con.sql("select table_schema, table_name from information_schema.tables "
                   f"where table_catalog = '{REFERENCE_CATALOG}' order by all").fetchall()
    assert rows == [("grader_ref", "a__day_0"), ("main", "a"), ("main", "b")]


def test_a_name_the_table_list_misses_is_mapped_on_retry(tmp_path: Path):
    con = _connect(tmp_path)
    # a name inside a string that DuckDB resolves at run time: not in get_table_names' static list
    assert con.sql("select count(*) from query_table('b')").fetchall() == [(2,)]
