"""ops.monitor: alerts from synthetic artifacts, then from a real dbt build + freshness run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from course_core.dbt_invoke import dbt_command
from ops import monitor
from ops.demo_project import write_demo_project


@pytest.fixture(autouse=True)
def _no_vb_overrides(monkeypatch):
    """Tests choose every path themselves: no VB_* variable of the caller leaks into dbt."""
    for var in ("VB_DUCKDB_PATH", "VB_WAREHOUSE_DIR", "VB_PROD_DUCKDB_PATH", "VB_RAW_DIR", "VB_TARGET"):
        monkeypatch.delenv(var, raising=False)


def run_results(generated_at: str, results: list[dict]) -> dict:
    return {
        "metadata": {"generated_at": generated_at, "invocation_id": generated_at[-6:]},
        "results": results,
    }


def model(name: str, seconds: float, status: str = "success") -> dict:
    return {"unique_id": f"model.p.{name}", "status": status, "execution_time": seconds, "message": ""}


def history(times: list[float], name: str = "m") -> list[dict]:
    return [run_results(f"2025-12-{i + 1:02d}T00:00:00Z", [model(name, t)]) for i, t in enumerate(times)]


def test_slow_model_is_judged_against_the_rolling_median_of_earlier_runs():
    past = history([1.0, 1.2, 0.8, 100.0, 1.0])  # one outlier must not move the median much
    current = run_results("2025-12-31T00:00:00Z", [model("m", 1.6)])
    [alert] = monitor.slow_models(current, past)
    assert alert.kind == "slow_model" and alert.node == "model.p.m"
    assert "baseline 1.00s" in alert.message and alert.value == 1.6
    assert monitor.slow_models(run_results("2025-12-31T00:00:00Z", [model("m", 1.5)]), past) == []


def test_slow_model_needs_enough_history_and_ignores_later_runs():
    current = run_results("2025-12-03T00:00:00Z", [model("m", 9.0)])
    assert monitor.slow_models(current, history([1.0, 1.0])) == []  # only 2 earlier runs
    later = history([1.0, 1.0, 1.0, 1.0])  # dated 12-01 .. 12-04: only 2 are earlier than 12-03
    assert monitor.slow_models(current, later) == []
    assert len(monitor.slow_models(current, later, min_runs=2)) == 1
    window = history([9.0, 9.0, 9.0, 1.0, 1.0, 1.0])
    late = run_results("2025-12-31T00:00:00Z", [model("m", 2.0)])
    assert len(monitor.slow_models(late, window, window=3)) == 1
    assert monitor.slow_models(late, window, window=6) == []


def test_failures_errors_and_skips_are_reported_with_counts_and_sorted():
    run = run_results(
        "2025-12-31T00:00:00Z",
        [
            model("b", 1.0, "error") | {"message": "Binder Error: column x not found\nmore"},
            {"unique_id": "test.p.unique_x", "status": "fail", "failures": 7, "message": "Got 7 results"},
            {"unique_id": "test.p.range_y", "status": "warn", "failures": 2, "message": ""},
            model("c", 0.0, "skipped"),
            model("a", 1.0),
            {"unique_id": "test.p.ok", "status": "pass", "failures": 0},
        ],
    )
    alerts = monitor.collect_alerts(run)
    assert [(a.severity, a.kind, a.node) for a in alerts] == [
        ("error", "failed_node", "model.p.b"),
        ("error", "test_failure", "test.p.unique_x"),
        ("warn", "failed_node", "model.p.c"),
        ("warn", "test_failure", "test.p.range_y"),
    ]
    assert alerts[0].message == "b errored: Binder Error: column x not found"
    assert alerts[1].value == 7


def sources(max_loaded_at: str | None, warn_h: int = 24, error_h: int = 72) -> dict:
    res = {
        "unique_id": "source.p.raw.clicks",
        "status": "pass",
        "criteria": {
            "warn_after": {"count": warn_h, "period": "hour"},
            "error_after": {"count": error_h, "period": "hour"},
        },
    }
    if max_loaded_at:
        res["max_loaded_at"] = max_loaded_at
    else:
        res["error"] = "Binder Error: column _loaded_at not found"
    return {"results": [res]}


def test_freshness_is_measured_at_the_reference_time_not_the_clock():
    ref = monitor.reference_time_of("2025-12-31")
    assert ref == datetime(2026, 1, 1, tzinfo=UTC)
    assert monitor.stale_sources(sources("2025-12-31T09:00:00+00:00"), ref) == []
    [warn] = monitor.stale_sources(sources("2025-12-30T12:00:00+00:00"), ref)
    assert (warn.severity, warn.value) == ("warn", 36.0)
    [err] = monitor.stale_sources(sources("2025-12-27T00:00:00"), ref)  # naive = UTC
    assert (err.severity, err.value) == ("error", 120.0)
    [broken] = monitor.stale_sources(sources(None), ref)
    assert broken.severity == "error" and "column _loaded_at not found" in broken.message
    explicit = monitor.reference_time_of(reference_time="2025-12-31T10:00:00")
    assert monitor.stale_sources(sources("2025-12-30T12:00:00+00:00"), explicit) == []


def test_archive_names_copies_by_generated_at_and_history_sorts_them(tmp_path):
    for stamp in ["2025-12-02T00:00:00Z", "2025-12-01T00:00:00Z"]:
        src = tmp_path / "run_results.json"
        src.write_text(json.dumps(run_results(stamp, [model("m", 1.0)])))
        monitor.archive_run_results(src, tmp_path / "hist")
    names = sorted(p.name for p in (tmp_path / "hist").iterdir())
    assert names[0].startswith("run_results_20251201T000000Z")
    (tmp_path / "hist" / "manifest.json").write_text("{}")  # other artifacts in the folder are ignored
    loaded = monitor.load_history(tmp_path / "hist")
    assert [r["metadata"]["generated_at"] for r in loaded] == ["2025-12-01T00:00:00Z", "2025-12-02T00:00:00Z"]


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ops.monitor", *args], capture_output=True, text=True, cwd=cwd, check=False
    )


def test_cli_bad_input_gives_one_line_errors(tmp_path):
    res = cli("--run-results", str(tmp_path / "missing.json"))
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "run_results.json not found" in res.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    res = cli("--run-results", str(bad))
    assert res.returncode == 2 and "not valid JSON" in res.stderr and "Traceback" not in res.stderr
    good = tmp_path / "rr.json"
    good.write_text(json.dumps(run_results("2025-12-31T00:00:00Z", [])))
    res = cli("--run-results", str(good), "--as-of", "31/12/2025")
    assert res.returncode == 2 and "YYYY-MM-DD" in res.stderr


@pytest.mark.slow
def test_real_dbt_build_and_freshness_feed_the_monitor(tmp_path):
    project = write_demo_project(tmp_path / "demo")
    env = {
        **os.environ,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "VB_DUCKDB_PATH": str(tmp_path / "dev.duckdb"),
    }
    dbt = dbt_command()
    build = subprocess.run(
        [*dbt, "build", "--profiles-dir", ".", "--vars", "{demo_min_amount: 20}"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 1, build.stdout[-2000:]
    subprocess.run(
        [*dbt, "source", "freshness", "--profiles-dir", "."],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    target = project / "target"
    out = cli(
        "--run-results",
        str(target / "run_results.json"),
        "--sources",
        str(target / "sources.json"),
        "--as-of",
        "2026-01-02",
        "--history",
        str(tmp_path / "hist"),
        "--archive",
    )
    assert out.returncode == 1, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith(
        "[ERROR] test_failure test.demo.assert_order_amount_at_least_min fail: 1 failing"
    )
    assert lines[1].startswith("[WARN ] stale_source raw.events is 63.0h old at 2026-01-03T00:00:00+00:00")
    assert lines[-1] == "2 alert(s): 1 error(s), 1 warning(s)"
    assert len(list((tmp_path / "hist").glob("run_results_*.json"))) == 1
    again = cli(
        "--run-results",
        str(target / "run_results.json"),
        "--sources",
        str(target / "sources.json"),
        "--as-of",
        "2026-01-02",
    )
    assert again.stdout == out.stdout  # deterministic
