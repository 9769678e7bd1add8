"""The DuckDB sandbox, comparisons and plan checks, on real DuckDB files."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from grader.compare import compare_loaded, load_sides
from grader.plan import profile_joins
from grader.sandbox import sandboxed_connect

HOSTILE = [
    "select * from read_csv('/etc/passwd')",
    "select * from read_text('/etc/passwd')",
    "copy (select 1) to '{tmp}/out.csv'",
    "attach '{tmp}/other.duckdb' as o",
    "install httpfs",
    "load httpfs",
    "set enable_external_access = true",
    "set memory_limit = '100GB'",
    "select * from glob('/etc/*')",
]


@pytest.fixture()
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create table a as select range as i, range % 10 as k from range(1000)")
    con.execute("create table b as select range as i, range % 10 as k from range(500)")
    con.execute("create table c as select range as k, 'x' || range as label from range(10)")
    con.close()
    return path


@pytest.mark.parametrize("sql", HOSTILE)
def test_hostile_sql_is_refused(warehouse: Path, tmp_path: Path, sql: str):
    con = sandboxed_connect(warehouse, tmp_path / "tmp", read_only=False)
    with pytest.raises(duckdb.Error):
        con.execute(sql.format(tmp=tmp_path))
    con.close()
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "other.duckdb").exists()


def test_reference_attach_allows_only_the_reference(warehouse: Path, tmp_path: Path):
    ref = tmp_path / "ref.duckdb"
    duckdb.connect(str(ref)).execute("create table a as select range as i from range(3)").close()
    con = sandboxed_connect(warehouse, tmp_path / "tmp", attach=ref)
    assert con.sql("select count(*) from grader_ref_db.a").fetchall() == [(3,)]
    with pytest.raises(duckdb.Error):
        con.execute("select * from read_csv('/etc/passwd')")
    with pytest.raises(duckdb.Error):
        con.execute(f"copy (select 1) to '{ref}.wal'")
    con.close()


def _compare(warehouse: Path, tmp_path: Path, got: str, expected: str, **kwargs):
    ref = tmp_path / "ref.duckdb"
    rc = duckdb.connect(str(ref))
    rc.execute(f"create or replace table t as {expected}")
    rc.close()
    con = sandboxed_connect(warehouse, tmp_path / "tmp", attach=ref)
    load_sides(con, got, "select * from t", "w")
    result = compare_loaded(con, **kwargs)
    con.close()
    return result


def test_compare_is_order_insensitive_with_float_tolerance(warehouse: Path, tmp_path: Path):
    got = "select k, 1.0 / 3 + 1e-9 as x from c order by k desc"
    result = _compare(warehouse, tmp_path, got, "select k, 1.0 / 3 as x from range(10) r(k)", key=["k"])
    assert result.ok, result.message


def test_compare_reports_missing_changed_and_extra(warehouse: Path, tmp_path: Path):
    expected = "select range as k, range * 2 as v from range(10)"
    missing = _compare(warehouse, tmp_path, "select k, k * 2 as v from c where k > 0", expected, key=["k"])
    assert not missing.ok and "1 expected k value(s) are missing" in missing.message
    changed = _compare(warehouse, tmp_path, "select k, k * 2 + (k = 3)::int as v from c", expected, key=["k"])
    assert not changed.ok and "differ" in changed.message and changed.examples[0]["k"] == 3
    extra = _compare(warehouse, tmp_path, "select k, k * 2 as v, 1 as w from c", expected, key=["k"])
    assert not extra.ok and "unexpected column" in extra.message
    allowed = _compare(warehouse, tmp_path, "select k, k * 2 as v, 1 as w from c", expected, key=["k"],
                       columns="reference")
    assert allowed.ok


def test_profiler_finds_fan_out_joins(warehouse: Path, tmp_path: Path):
    con = sandboxed_connect(warehouse, tmp_path / "tmp")
    fan = profile_joins(con, "select a.k, b.i from a join b on a.k = b.k")
    assert any(j.fans_out for j in fan)
    ok = profile_joins(con, "select a.k, c.label from a join c on a.k = c.k")
    assert ok and not any(j.fans_out for j in ok)
    con.close()


def test_a_runaway_query_is_stopped_by_the_query_time_limit(warehouse: Path, tmp_path: Path, monkeypatch):
    import grader.sandbox as sandbox

    monkeypatch.setattr(sandbox, "QUERY_TIME_LIMIT_MS", 500)
    con = sandboxed_connect(warehouse, tmp_path / "tmp", read_only=True)
    with pytest.raises(duckdb.Error, match="maximum execution time"):
        con.execute("with recursive r(n) as (select 1 union all select n + 1 from r) select count(*) from r")
    assert con.execute("select count(*) from a").fetchall() == [(1000,)], "the connection stays usable"
    with pytest.raises(duckdb.Error):
        con.execute("set max_execution_time = 0")  # an intern cannot lift it
    con.close()
