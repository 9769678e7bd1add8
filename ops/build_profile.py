"""Where does build time go? Median times per model and layer, sizes, and the critical path.

    python -m ops.build_profile --runs 3 --duckdb-path /tmp/me/profile.duckdb   # builds 3 times
    python -m ops.build_profile --from-dir runs/ --manifest runs/manifest.json  # reuse run_results

Times are dbt's `execution_time` per node (run_results.json), median over the runs.
Rows: exact `count(*)` of every table (views: not materialized, no rows stored).
Storage: blocks a table's column segments live in (`pragma_storage_info`), times the
block size: an UPPER bound (small tables share blocks; each sharer counts the block).
Critical path: the chain of models through the DAG whose medians sum highest, i.e. the
shortest the build could take with unlimited threads.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pandas as pd

from course_core import dbt_invoke
from course_core import manifest as dbt_manifest
from course_core.dbt_invoke import TELEMETRY_OFF
from course_core.dbt_layers import FOLDER_LAYERS, folder_layer
from ops.dbt_invoke import OpsError, cli_main, load_manifest, load_run_results, project_dir_of

LAYER_ORDER = FOLDER_LAYERS
layer_of = folder_layer  # the model's folder layer, marts/core as "core" (not the DAG drawing's layer)


def run_builds(
    n: int,
    out_dir: str | Path,
    project_dir: str | Path | None = None,
    duckdb_path: str | Path | None = None,
    target: str = "dev",
    extra_args: Sequence[str] = (),
) -> list[Path]:
    """Run `dbt build` n times; keep each run_results.json (run_results_<i>.json) and the manifest.

    dbt runs inside this process (course_core.dbt_invoke.run): no dbt process to start per build, and
    the warehouse is released after each. Each build parses only what changed since the previous one.
    """
    if n < 1:
        raise OpsError(f"--runs must be at least 1 (got {n})")
    project = project_dir_of(project_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    env = {"VB_TARGET": target}
    if duckdb_path:
        env["VB_DUCKDB_PATH"] = str(Path(duckdb_path).resolve())
    paths = []
    target_path = out / ".target"
    for i in range(1, n + 1):
        where = target_path.resolve()
        res = dbt_invoke.run(["build", "--target", target, *extra_args, "--target-path", where,
                              "--log-path", where / "logs"], project, env={**TELEMETRY_OFF, **env})
        if not (target_path / "run_results.json").exists():
            raise OpsError(f"dbt build run {i} did not run: {res.last_lines(1)}")
        dest = out / f"run_results_{i:03d}.json"
        shutil.copyfile(target_path / "run_results.json", dest)
        paths.append(dest)
    shutil.copyfile(target_path / "manifest.json", out / "manifest.json")
    shutil.rmtree(target_path, ignore_errors=True)
    return paths


def model_timings(runs: Sequence[dict], manifest: dict) -> pd.DataFrame:
    """One row per model: layer, materialization, runs, median/min/max seconds (slowest first)."""
    series: dict[str, list[float]] = {}
    for run in runs:
        for r in run["results"]:
            if r.get("unique_id", "").startswith("model.") and r.get("status") == "success":
                series.setdefault(r["unique_id"], []).append(float(r.get("execution_time") or 0.0))
    rows = []
    for uid, times in series.items():
        node = manifest["nodes"].get(uid, {})
        rows.append(
            {
                "model": uid.split(".")[-1],
                "unique_id": uid,
                "layer": layer_of(node),
                "materialized": node.get("config", {}).get("materialized"),
                "runs": len(times),
                "median_s": round(statistics.median(times), 4),
                "min_s": round(min(times), 4),
                "max_s": round(max(times), 4),
            }
        )
    columns = ["model", "unique_id", "layer", "materialized", "runs", "median_s", "min_s", "max_s"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values(["median_s", "model"], ascending=[False, True], ignore_index=True)


def layer_timings(models: pd.DataFrame) -> pd.DataFrame:
    """Per layer: number of models, sum of medians, share of the total (in layer order)."""
    grouped = models.groupby("layer", sort=False).agg(
        models=("model", "count"), median_total_s=("median_s", "sum")
    )
    total = grouped["median_total_s"].sum()
    grouped["share"] = (grouped["median_total_s"] / total).round(3) if total else 0.0
    grouped["median_total_s"] = grouped["median_total_s"].round(4)
    order = [layer for layer in LAYER_ORDER if layer in grouped.index]
    return grouped.loc[order].reset_index()


def model_sizes(duckdb_path: str | Path, manifest: dict) -> pd.DataFrame:
    """Rows and estimated storage per model relation (read-only connection, closed on return)."""
    path = Path(duckdb_path)
    if not path.is_file():
        raise OpsError(f"warehouse {path} not found: build it first or pass --duckdb-path")
    models = {
        n["alias"] or n["name"]: n for n in dbt_manifest.models(manifest).values()
    }
    rows = []
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            block_size = con.execute("select block_size from pragma_database_size()").fetchone()[0]
            tables = {
                r[0]
                for r in con.execute(
                    "select table_name from duckdb_tables() where schema_name = 'main'"
                ).fetchall()
            }
            for name in sorted(models):
                node = models[name]
                count = blocks = None
                kind = "table" if name in tables else "view"
                if kind == "table":
                    count = con.execute(f'select count(*) from main."{name}"').fetchone()[0]
                    blocks = con.execute(
                        "select count(distinct block_id) from pragma_storage_info(?) "
                        "where block_id is not null",
                        [f'main."{name}"'],
                    ).fetchone()[0]
                rows.append(
                    {
                        "model": name,
                        "layer": layer_of(node),
                        "relation": kind,
                        "rows": count,
                        "est_bytes": None if blocks is None else int(blocks) * int(block_size),
                    }
                )
    except duckdb.IOException as exc:
        raise OpsError(
            f"cannot open {path} read-only ({str(exc).splitlines()[0]}): close the process holding it"
        ) from exc
    frame = pd.DataFrame(rows, columns=["model", "layer", "relation", "rows", "est_bytes"])
    return frame.astype({"rows": "Int64", "est_bytes": "Int64"})


def critical_path(models: pd.DataFrame, manifest: dict) -> tuple[list[str], float]:
    """The chain of models whose median times sum highest (ties broken by name)."""
    weight = dict(zip(models["unique_id"], models["median_s"], strict=True))
    parents = {uid: sorted(p for p in manifest["parent_map"].get(uid, []) if p in weight) for uid in weight}
    best: dict[str, tuple[float, list[str]]] = {}

    def longest(uid: str) -> tuple[float, list[str]]:
        if uid not in best:
            base: tuple[float, list[str]] = (0.0, [])
            for parent in parents[uid]:  # sorted: on equal totals the first parent by id wins
                option = longest(parent)
                if option[0] > base[0]:
                    base = option
            best[uid] = (base[0] + weight[uid], [*base[1], uid])
        return best[uid]

    total, path = 0.0, []
    for uid in sorted(weight):
        option = longest(uid)
        if option[0] > total:
            total, path = option
    return [u.split(".")[-1] for u in path], round(total, 4)


def plot_bars(
    frame: pd.DataFrame,
    value: str = "median_s",
    label: str = "model",
    top: int = 20,
    ax=None,
    title: str | None = None,
):
    """Horizontal bar chart of the `top` largest values; returns the matplotlib Axes."""
    import matplotlib.pyplot as plt

    data = frame.nlargest(top, value).iloc[::-1]
    if ax is None:
        _, ax = plt.subplots(figsize=(8, max(2.0, 0.35 * len(data))))
    ax.barh(data[label].astype(str), data[value])
    ax.set_xlabel(value)
    ax.set_title(title or f"{value} by {label} (top {len(data)})")
    return ax


def load_runs(from_dir: str | Path) -> list[dict]:
    """Every run_results*.json in a folder, in file-name order."""
    paths = sorted(Path(from_dir).glob("run_results*.json"))
    if not paths:
        raise OpsError(
            f"no run_results*.json in {from_dir}: run `python -m ops.build_profile --runs N` first"
        )
    return [load_run_results(p) for p in paths]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.build_profile", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, help="build this many times (else read --from-dir)")
    parser.add_argument("--from-dir", default="build-profile", help="folder of run_results copies")
    parser.add_argument("--manifest", help="manifest.json (default <from-dir>/manifest.json)")
    parser.add_argument("--project-dir", help="dbt project folder (default: the repo's dbt_project/)")
    parser.add_argument("--duckdb-path", help="warehouse file to build into and measure (VB_DUCKDB_PATH)")
    parser.add_argument("--target", default="dev")
    args = parser.parse_args(argv)
    if args.runs is not None:
        run_builds(args.runs, args.from_dir, args.project_dir, args.duckdb_path, args.target)
    manifest = load_manifest(args.manifest or Path(args.from_dir) / "manifest.json")
    models = model_timings(load_runs(args.from_dir), manifest)
    with pd.option_context("display.width", 140, "display.max_rows", 200):
        print(models.drop(columns="unique_id").to_string(index=False))
        print()
        print(layer_timings(models).to_string(index=False))
        if args.duckdb_path:
            print()
            print(model_sizes(args.duckdb_path, manifest).to_string(index=False))
    path, total = critical_path(models, manifest)
    print(f"\ncritical path ({total:.2f}s): " + " -> ".join(path))
    return 0


if __name__ == "__main__":
    raise SystemExit(cli_main(main))
