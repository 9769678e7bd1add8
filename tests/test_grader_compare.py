"""grader.compare counts the rows only one side has in one grouping pass (issue 13): the counts must be
exactly those of EXCEPT ALL, on the values where equality is subtle (NULL, -0.0, NaN, duplicates)."""

from __future__ import annotations

import random

import duckdb

from grader.compare import _bag_differences, _count, compare_loaded

VALUES = [None, 0.0, -0.0, 1.5, float("nan"), 2.0]
TEXTS = [None, "a", "b", ""]


def _load(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple]) -> None:
    con.execute(f"create or replace temp table {table} (x double, y varchar, z integer)")
    if rows:
        con.executemany(f"insert into {table} values (?, ?, ?)", rows)


def test_one_pass_counts_equal_except_all():
    con = duckdb.connect()
    rng = random.Random(13)
    for _ in range(200):
        for table in ("__g", "__e"):
            _load(con, table, [(rng.choice(VALUES), rng.choice(TEXTS), rng.choice([None, 1, 2]))
                               for _ in range(rng.randint(0, 10))])
        expected = (_count(con, "select * from __g except all select * from __e"),
                    _count(con, "select * from __e except all select * from __g"))
        assert _bag_differences(con, ["x", "y", "z"]) == expected


def test_messages_count_duplicates_on_both_sides():
    con = duckdb.connect()
    con.execute("create temp table __got as select * from (values (1, 'a'), (1, 'a'), (2, null)) t(k, v)")
    con.execute("create temp table __exp as select * from (values (1, 'a'), (2, null), (3, 'c')) t(k, v)")
    result = compare_loaded(con)
    assert not result.ok
    assert result.message == ("your model has 3 rows, expected 3; 1 of yours are not expected and "
                              "1 expected rows are missing")
