"""notebook_helpers against a tiny real dbt project and a real DuckDB file (no course data needed)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

import notebook_helpers as nh
from notebook_helpers import paths

MODELS = {
    "staging/stg_orders.sql": "select range as order_id, range % 5 as customer_id, 10 * range as amount "
    "from range(100)",
    "staging/stg_customers.sql": "select range as customer_id, 'city ' || range as city from range(5)",
    "marts/mart_customers.sql": "select c.customer_id, c.city, count(*) as orders, sum(o.amount) as spend\n"
    "from {{ ref('stg_customers') }} c join {{ ref('stg_orders') }} o using (customer_id)\ngroup by all",
    "staging/_staging.yml": "version: 2\nmodels:\n  - name: stg_orders\n    columns:\n"
    "      - name: order_id\n        data_tests: [unique, not_null]\n"
    "      - name: customer_id\n        data_tests:\n"
    "          - accepted_values:\n              arguments:\n                values: [0, 1, 2, 3]\n",
}
PROJECT_YML = """name: vyaparbazaar
version: "1.0.0"
profile: vyaparbazaar
config-version: 2
model-paths: ["models"]
models:
  vyaparbazaar:
    +materialized: table
    staging:
      +materialized: view
"""


@pytest.fixture(scope="module")
def tiny_repo(tmp_path_factory) -> Path:
    """A repo with a three-model dbt project, used through VB_REPO_ROOT; built once."""
    root = tmp_path_factory.mktemp("tiny-repo")
    project = root / "dbt_project"
    for name, text in MODELS.items():
        (project / "models" / name).parent.mkdir(parents=True, exist_ok=True)
        (project / "models" / name).write_text(text)
    (project / "dbt_project.yml").write_text(PROJECT_YML)
    shutil.copy2(REPO / "dbt_project" / "profiles.yml", project / "profiles.yml")
    (project / "warehouse").mkdir()
    with pytest.MonkeyPatch.context() as patch:
        for var in ("VB_DUCKDB_PATH", "VB_WAREHOUSE_DIR", "VB_TARGET", "VB_RAW_DIR"):
            patch.delenv(var, raising=False)
        patch.setenv("VB_REPO_ROOT", str(root))
        first = nh.dbt("build", quiet=True)
        assert first.node("mart_customers").status == "skipped"  # accepted_values fails on 4
        yield root


def _other_process_can_write(path: Path) -> subprocess.CompletedProcess:
    code = f"import duckdb; duckdb.connect({str(path)!r}).execute('create or replace table p as select 1')"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_paths_follow_profiles_yml(tiny_repo: Path, monkeypatch):
    assert paths.repo_root() == tiny_repo
    assert paths.warehouse_path() == tiny_repo / "dbt_project" / "warehouse" / "dev.duckdb"
    monkeypatch.setenv("VB_DUCKDB_PATH", "elsewhere/x.duckdb")
    assert paths.warehouse_path() == tiny_repo / "dbt_project" / "elsewhere" / "x.duckdb"
    monkeypatch.delenv("VB_DUCKDB_PATH")
    monkeypatch.setenv("VB_WAREHOUSE_DIR", "/tmp/wh")
    monkeypatch.setenv("VB_TARGET", "ci")
    assert paths.warehouse_path() == Path("/tmp/wh/ci.duckdb")
    assert paths.raw_dir() == tiny_repo / "datasets" / "raw"


def test_dbt_summary_is_deterministic_and_releases_the_lock(tiny_repo: Path, capsys):
    runs = []
    for _ in range(2):
        result = nh.dbt("build -s stg_orders+")
        runs.append(capsys.readouterr().out)
        assert _other_process_can_write(paths.warehouse_path()).returncode == 0
    assert runs[0] == runs[1]
    assert runs[0].splitlines() == [
        "dbt build -s stg_orders+: FAILED (1 fail, 2 pass, 1 skipped, 1 success)",
        "  model    stg_orders                                          success  100 rows",
        "  test     accepted_values_stg_orders_customer_id__0__1__2__3  fail     1 failing row",
        "  test     not_null_stg_orders_order_id                        pass",
        "  test     unique_stg_orders_order_id                          pass",
        "  model    mart_customers                                      skipped",
    ]
    assert not re.search(r"\d+\.\d+\s*s\b", runs[0]), "timings must not be printed"
    assert set(result.timings) == {n.name for n in result.nodes}
    assert all(isinstance(t, float) for t in result.timings.values())


def test_dbt_success_counts_rows_of_built_models(tiny_repo: Path, capsys):
    result = nh.dbt(["run", "-s", "mart_customers"])
    assert result.success and result.node("mart_customers").rows == 5
    line = capsys.readouterr().out.splitlines()[1]
    assert line.split() == ["model", "mart_customers", "success", "5", "rows"]


@pytest.mark.parametrize(
    "sql, expected",
    [
        ("select nope from {{ ref('stg_orders') }}", 'Referenced column "nope" not found'),
        ("select * from {{ ref('stg_nothing') }}", "depends on a node named 'stg_nothing'"),
        ("select {{ oops( }}", "Compilation Error"),
    ],
)
def test_dbt_failures_print_the_error_and_never_raise(tiny_repo: Path, capsys, sql, expected):
    model = tiny_repo / "dbt_project" / "models" / "marts" / "broken.sql"
    model.write_text(sql)
    try:
        result = nh.dbt("build -s broken")
    finally:
        model.unlink()
    out = capsys.readouterr().out
    assert not result.success
    assert expected in out and "Traceback" not in out
    assert _other_process_can_write(paths.warehouse_path()).returncode == 0


def test_dbt_says_when_nothing_was_selected(tiny_repo: Path, capsys):
    result = nh.dbt("build -s no_such_model")
    assert result.nodes == []
    assert "nothing was selected" in capsys.readouterr().out


def test_query_profile_and_timings(tiny_repo: Path, capsys):
    frame = nh.query("select count(*) as n from stg_orders")
    assert frame["n"].tolist() == [100]
    sql = "select c.city, sum(o.amount) from stg_customers c join stg_orders o using (customer_id) group by 1"
    first = nh.profile(sql)
    printed = capsys.readouterr().out
    nh.profile(sql)
    assert capsys.readouterr().out == printed, "profile output must be deterministic"
    assert list(first.columns) == ["depth", "operator", "rows", "detail"]
    join = first[first["operator"].str.contains("JOIN")]
    assert len(join) == 1 and join["rows"].iloc[0] == 100 and "INNER" in join["detail"].iloc[0]
    timing = nh.time_query("select count(*) from stg_orders", runs=3)
    assert len(timing.runs) == 3 and min(timing.runs) <= timing.median <= max(timing.runs)
    assert len(nh.time_model("mart_customers", runs=2).runs) == 2
    assert _other_process_can_write(paths.warehouse_path()).returncode == 0


def test_project_questions(tiny_repo: Path):
    assert nh.model_exists("mart_customers") and not nh.model_exists("nope")
    assert nh.relation_exists("stg_orders") and not nh.relation_exists("nope")
    assert "from range(100)" in nh.compiled_sql("stg_orders")
    overview = nh.model_overview()
    assert overview["model"].tolist() == ["stg_customers", "stg_orders", "mart_customers"]
    assert overview["layer"].tolist() == ["staging", "staging", "marts"]


def test_show_dag_draws_every_model(tiny_repo: Path):
    import matplotlib

    matplotlib.use("Agg")
    figure = nh.show_dag(show=False)
    labels = {t.get_text() for t in figure.axes[0].texts}
    assert {"stg_orders", "stg_customers", "mart_customers", "staging", "marts"} <= labels


def test_locked_warehouse_is_a_one_line_error_naming_the_process(tiny_repo: Path, monkeypatch):
    monkeypatch.setenv("VB_LOCK_WAIT", "0.5")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('ready', flush=True); time.sleep(60)", str(paths.warehouse_path())],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(nh.HelperError) as raised:
            nh.query("select 1")
        message = str(raised.value)
        assert f"in use by process {holder.pid} (python -c ...); waited 0.5 s" in message
        assert "\n" not in message and "re-run this cell" in message
        result = nh.dbt("run -s stg_orders", quiet=True)
        assert not result.success
        assert result.summary().splitlines()[-1].strip() == message
        from grader.selfcheck import selfcheck_lines

        assert selfcheck_lines("5.1") == [f"Exercise 5.1: {message}"]  # one line, not one per check
    finally:
        holder.kill()
        holder.wait()


def test_not_done_yet_prints_and_returns_none(capsys):
    assert nh.not_done_yet("write the model") is None
    assert capsys.readouterr().out == "Not done yet: write the model\n"


def test_release_idle_frees_the_warehouse_and_the_next_use_reconnects(tiny_repo: Path):
    from notebook_helpers import connections, release

    con = connections.connect()
    con.execute("select 1").fetchall()
    release.release_idle()
    assert _other_process_can_write(paths.warehouse_path()).returncode == 0
    assert nh.query("select count(*) as n from stg_orders")["n"].tolist() == [100]


def test_writefile_replaces_the_file_whole_or_not_at_all(tmp_path: Path, monkeypatch, capsys):
    from notebook_helpers.magics import _writefile_magic

    answer = tmp_path / "models" / "answer.sql"
    _writefile_magic(str(answer), "select 1\n")
    _writefile_magic(f"-a {answer}", "union all select 2\n")
    assert answer.read_text() == "select 1\nunion all select 2\n"
    assert capsys.readouterr().out.splitlines() == [f"Writing {answer}", f"Appending to {answer}"]

    def interrupted(*_):
        raise KeyboardInterrupt

    monkeypatch.setattr("notebook_helpers.magics.os.replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _writefile_magic(str(answer), "select 'half written'\n")
    assert answer.read_text() == "select 1\nunion all select 2\n"
    assert sorted(p.name for p in answer.parent.iterdir()) == ["answer.sql"], "no temporary file left"
