"""Alerts from dbt artifacts: failed nodes, test failures, slow models, stale sources.

Inputs: a run_results.json, optionally a history folder of earlier run_results copies
(`archive_run_results` puts them there) and a sources.json from `dbt source freshness`.
Freshness is recomputed against an explicit reference time (default: the end of the
course's as-of date 2025-12-31), so the report never depends on today's clock.

    python -m ops.monitor --run-results target/run_results.json --history .state/history \
        --sources target/sources.json --as-of 2025-12-31
"""

from __future__ import annotations

import argparse
import shutil
import statistics
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from ops.dbt_invoke import OpsError, cli_main, load_json, load_run_results

AS_OF_DATE = "2025-12-31"
SLOW_FACTOR = 1.5
SEVERITY_RANK = {"error": 0, "warn": 1}
KIND_RANK = {"failed_node": 0, "test_failure": 1, "stale_source": 2, "slow_model": 3, "resource": 4}
PERIOD_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class Alert:
    """One alert. `value` is the number behind it (failures, seconds, hours stale)."""

    kind: str  # failed_node | test_failure | stale_source | slow_model | resource (ops.resources)
    severity: str  # error | warn
    node: str  # dbt unique_id
    message: str
    value: float | None = None

    def sort_key(self) -> tuple:
        return (SEVERITY_RANK[self.severity], KIND_RANK[self.kind], self.node)


def reference_time_of(as_of: str | None = None, reference_time: str | None = None) -> datetime:
    """The moment freshness is measured at: an explicit ISO time, else the end of the as-of date (UTC)."""
    if reference_time:
        try:
            moment = datetime.fromisoformat(reference_time)
        except ValueError as exc:
            raise OpsError(
                f"--reference-time '{reference_time}' is not ISO 8601: e.g. 2025-12-31T23:59:59"
            ) from exc
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    day = as_of or AS_OF_DATE
    try:
        start = date.fromisoformat(day)
    except ValueError as exc:
        raise OpsError(f"--as-of '{day}' is not a date: write YYYY-MM-DD, e.g. 2025-12-31") from exc
    return datetime(start.year, start.month, start.day, tzinfo=UTC) + timedelta(days=1)


def _short(unique_id: str) -> str:
    return unique_id.split(".")[-1] if unique_id.startswith(("model.", "seed.", "snapshot.")) else unique_id


def failures_and_errors(run_results: dict) -> list[Alert]:
    """Failed/errored/skipped nodes and failing (or warning) tests of one run."""
    alerts: list[Alert] = []
    for res in run_results["results"]:
        uid, status = res.get("unique_id", "?"), res.get("status")
        is_test = uid.startswith(("test.", "unit_test."))
        message = (res.get("message") or "").strip().splitlines()
        first = message[0][:200] if message else ""
        if status in ("fail", "warn") and is_test:
            count = res.get("failures")
            sev = "error" if status == "fail" else "warn"
            alerts.append(Alert("test_failure", sev, uid, f"{uid} {status}: {count} failing rows", count))
        elif status in ("error", "runtime error"):
            alerts.append(Alert("failed_node", "error", uid, f"{_short(uid)} errored: {first}"))
        elif status == "skipped":
            alerts.append(
                Alert("failed_node", "warn", uid, f"{_short(uid)} skipped (an upstream node failed)")
            )
    return alerts


def _generated_at(run_results: dict) -> str:
    return str(run_results.get("metadata", {}).get("generated_at", ""))


def load_history(history_dir: str | Path | None) -> list[dict]:
    """All run_results*.json copies in a folder, oldest first (by generated_at, then file name)."""
    if not history_dir:
        return []
    folder = Path(history_dir)
    if not folder.is_dir():
        raise OpsError(f"history folder {folder} does not exist: create it or archive a run into it first")
    runs = [(load_run_results(p), p.name) for p in sorted(folder.glob("run_results*.json"))]
    runs.sort(key=lambda pair: (_generated_at(pair[0]), pair[1]))
    return [run for run, _ in runs]


def model_times(run_results: dict) -> dict[str, float]:
    """execution_time of every model that succeeded in a run."""
    return {
        r["unique_id"]: float(r.get("execution_time") or 0.0)
        for r in run_results["results"]
        if r.get("unique_id", "").startswith("model.") and r.get("status") == "success"
    }


def slow_models(
    run_results: dict,
    history: list[dict],
    factor: float = SLOW_FACTOR,
    window: int = 10,
    min_runs: int = 3,
    min_seconds: float = 0.0,
) -> list[Alert]:
    """Models slower than factor x the median of their last `window` earlier runs (needs `min_runs`)."""
    current_at = _generated_at(run_results)
    earlier = [run for run in history if not current_at or _generated_at(run) < current_at]
    series: dict[str, list[float]] = {}
    for run in earlier:
        for uid, seconds in model_times(run).items():
            series.setdefault(uid, []).append(seconds)
    alerts = []
    for uid, seconds in sorted(model_times(run_results).items()):
        past = series.get(uid, [])[-window:]
        if len(past) < min_runs or seconds < min_seconds:
            continue
        baseline = statistics.median(past)
        if baseline > 0 and seconds > factor * baseline:
            alerts.append(
                Alert(
                    "slow_model",
                    "warn",
                    uid,
                    f"{_short(uid)} took {seconds:.2f}s, {seconds / baseline:.0%} of its baseline "
                    f"{baseline:.2f}s (median of {len(past)} runs)",
                    round(seconds, 3),
                )
            )
    return alerts


def _threshold_seconds(criteria: dict | None) -> float | None:
    if not criteria or not criteria.get("count") or not criteria.get("period"):
        return None
    return float(criteria["count"]) * PERIOD_SECONDS[criteria["period"]]


def stale_sources(sources: dict, reference: datetime) -> list[Alert]:
    """Sources whose newest _loaded_at is older than their warn/error threshold at `reference`."""
    alerts = []
    for res in sources.get("results", []):
        uid = res.get("unique_id", "?")
        name = uid.split(".", 2)[-1] if uid.startswith("source.") else uid
        loaded = res.get("max_loaded_at")
        if not loaded:
            msg = (res.get("error") or res.get("message") or "no max_loaded_at").strip().splitlines()[0][:200]
            alerts.append(Alert("stale_source", "error", uid, f"freshness check of {name} failed: {msg}"))
            continue
        moment = datetime.fromisoformat(loaded)
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        age = (reference - moment).total_seconds()
        criteria = res.get("criteria") or {}
        for severity, key in (("error", "error_after"), ("warn", "warn_after")):
            limit = _threshold_seconds(criteria.get(key))
            if limit is not None and age > limit:
                alerts.append(
                    Alert(
                        "stale_source",
                        severity,
                        uid,
                        f"{name} is {age / 3600:.1f}h old at {reference.isoformat()} "
                        f"({key.replace('_', ' ')} {limit / 3600:g}h; "
                        f"newest _loaded_at {moment.isoformat()})",
                        round(age / 3600, 2),
                    )
                )
                break
    return alerts


def collect_alerts(
    run_results: dict,
    history: list[dict] | None = None,
    sources: dict | None = None,
    reference: datetime | None = None,
    factor: float = SLOW_FACTOR,
    window: int = 10,
    min_runs: int = 3,
    min_seconds: float = 0.0,
) -> list[Alert]:
    """All alerts, sorted: errors first, then by kind, then by node id."""
    alerts = failures_and_errors(run_results)
    alerts += slow_models(run_results, history or [], factor, window, min_runs, min_seconds)
    if sources is not None:
        alerts += stale_sources(sources, reference or reference_time_of())
    return sorted(alerts, key=Alert.sort_key)


def format_alerts(alerts: list[Alert]) -> str:
    """Human-readable report, one alert per line, then a summary line."""
    lines = [f"[{a.severity.upper():5}] {a.kind:12} {a.message}" for a in alerts]
    errors = sum(a.severity == "error" for a in alerts)
    lines.append(f"{len(alerts)} alert(s): {errors} error(s), {len(alerts) - errors} warning(s)")
    return "\n".join(lines)


def archive_run_results(run_results_path: str | Path, history_dir: str | Path) -> Path:
    """Copy a run_results.json into the history folder, named by its generated_at (sortable)."""
    data = load_run_results(run_results_path)
    stamp = _generated_at(data).replace(":", "").replace("-", "") or "unknown"
    invocation = str(data.get("metadata", {}).get("invocation_id", ""))[:8]
    dest_dir = Path(history_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / f"run_results_{stamp}_{invocation}.json"
    shutil.copyfile(run_results_path, dest)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.monitor", description=__doc__.splitlines()[0])
    parser.add_argument("--run-results", required=True, help="run_results.json of the run to check")
    parser.add_argument("--history", help="folder of earlier run_results copies (baseline for slow models)")
    parser.add_argument("--sources", help="sources.json written by `dbt source freshness`")
    parser.add_argument("--as-of", default=AS_OF_DATE, help="freshness is measured at the end of this date")
    parser.add_argument("--reference-time", help="exact ISO time to measure freshness at (overrides --as-of)")
    parser.add_argument("--factor", type=float, default=SLOW_FACTOR, help="slow = above factor x baseline")
    parser.add_argument("--window", type=int, default=10, help="baseline = median of this many earlier runs")
    parser.add_argument("--min-runs", type=int, default=3, help="earlier runs needed before judging speed")
    parser.add_argument("--min-seconds", type=float, default=0.0, help="ignore models faster than this")
    parser.add_argument("--archive", action="store_true", help="afterwards copy the run into --history")
    parser.add_argument("--json", action="store_true", help="print alerts as JSON lines")
    args = parser.parse_args(argv)
    if args.archive and not args.history:
        raise OpsError("--archive needs --history FOLDER to copy the run into")
    run = load_run_results(args.run_results)
    history = load_history(args.history) if args.history and Path(args.history).exists() else []
    sources = load_json(args.sources, "sources.json") if args.sources else None
    reference = reference_time_of(args.as_of, args.reference_time)
    alerts = collect_alerts(
        run, history, sources, reference, args.factor, args.window, args.min_runs, args.min_seconds
    )
    if args.json:
        import json

        for alert in alerts:
            print(json.dumps(asdict(alert), sort_keys=True))
    else:
        print(format_alerts(alerts))
    if args.archive:
        archive_run_results(args.run_results, args.history)
    return 1 if any(a.severity == "error" for a in alerts) else 0


if __name__ == "__main__":
    raise SystemExit(cli_main(main))
