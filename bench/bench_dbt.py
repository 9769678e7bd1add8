"""Benchmark the dbt project: `dbt build` wall time per data scale, and dbt's overhead.

For each scale: generate raw data into a temp folder (datasets.generate), copy
dbt_project there, `dbt parse` (warm-up, not timed), then time `dbt build` (models AND
tests). Then replay the very same compiled SQL from target/manifest.json directly in
DuckDB, in a fresh file, in topological order: `create or replace view|table ... as
<compiled_code>` for every model, then `select count(*) from (<compiled test>)` for every
test. Tests are INCLUDED on both sides; the overhead ratio is
dbt build wall time / direct DuckDB wall time (models + tests).

    .venv/bin/python bench/bench_dbt.py                 # scales 1 and 10
    .venv/bin/python bench/bench_dbt.py --scales 0.05,1 --json bench-results/dbt.json
"""

from __future__ import annotations

import argparse
import graphlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from course_core.dbt_invoke import dbt_command

REPO = Path(__file__).resolve().parents[1]
PROJECT = REPO / "dbt_project"
DBT = dbt_command()  # what the course runs: dbt started by course_core.dbt_cli
WAREHOUSE_STEM = "bench"  # same file stem on both sides, so compiled "bench"."main"."x" resolves


def fail(message: str) -> None:
    """Print a one-line error and exit 2."""
    print(f"bench_dbt: {message}", file=sys.stderr)
    raise SystemExit(2)


def parse_scales(text: str) -> list[float]:
    """'1,10' -> [1.0, 10.0]; positive numbers only."""
    try:
        scales = [float(s) for s in text.split(",") if s.strip()]
    except ValueError:
        fail(f"--scales must be comma-separated numbers such as 1,10 (got '{text}')")
    if not scales or any(s <= 0 for s in scales):
        fail(f"--scales must be positive numbers such as 1,10 (got '{text}')")
    return scales


def dbt_env(raw: Path, warehouse: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"VB_RAW_DIR": str(raw), "VB_DUCKDB_PATH": str(warehouse), "VB_TARGET": "dev",
                "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"})
    return env


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    """Run a command, return its wall time in seconds; exit with its tail on failure."""
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
        fail(f"{' '.join(cmd[:3])} failed: " + " | ".join(tail))
    return elapsed


def ordered_nodes(manifest: dict) -> list[dict]:
    """Models then tests of the project, each group in dependency order."""
    nodes = {uid: n for uid, n in manifest["nodes"].items()
             if n["resource_type"] in ("model", "test") and n.get("compiled_code")}
    graph = {uid: [d for d in n["depends_on"]["nodes"] if d in nodes] for uid, n in nodes.items()}
    order = list(graphlib.TopologicalSorter(graph).static_order())
    models = [nodes[u] for u in order if nodes[u]["resource_type"] == "model"]
    tests = [nodes[u] for u in order if nodes[u]["resource_type"] == "test"]
    return models + tests


def replay_direct(manifest: dict, warehouse: Path) -> tuple[float, float]:
    """Run the compiled SQL in a fresh DuckDB file; (models seconds, models+tests seconds)."""
    con = duckdb.connect(str(warehouse))
    start = time.perf_counter()
    models_done = 0.0
    for node in ordered_nodes(manifest):
        sql = node["compiled_code"]
        if node["resource_type"] == "model":
            kind = "view" if node["config"]["materialized"] == "view" else "table"
            con.execute(f'create or replace {kind} main."{node["alias"]}" as {sql}')
            models_done = time.perf_counter() - start
        else:
            con.execute(f"select count(*) from ({sql}) as t").fetchall()
    total = time.perf_counter() - start
    con.close()
    return models_done, total


def bench_scale(scale: float, seed: int, workdir: Path) -> dict:
    """Generate, build, replay; one row of results."""
    here = workdir / f"scale-{scale:g}"
    raw = here / "raw"
    gen_s = run([sys.executable, "-m", "datasets.generate", "--seed", str(seed), "--scale", f"{scale:g}",
                 "--out", str(raw), "--quiet"], cwd=REPO)
    raw_rows = sum(json.loads((raw / "_manifest.json").read_text())["row_counts"].values())
    project = here / "project"
    ignore = shutil.ignore_patterns("target", "logs", "dbt_packages", "*.duckdb*")
    shutil.copytree(PROJECT, project, ignore=ignore)
    env = dbt_env(raw, here / "dbt" / f"{WAREHOUSE_STEM}.duckdb")
    (here / "dbt").mkdir()
    run([*DBT, "parse"], cwd=project, env=env)
    build_s = run([*DBT, "build"], cwd=project, env=env)
    results = json.loads((project / "target" / "run_results.json").read_text())
    manifest = json.loads((project / "target" / "manifest.json").read_text())
    (here / "direct").mkdir()
    models_s, direct_s = replay_direct(manifest, here / "direct" / f"{WAREHOUSE_STEM}.duckdb")
    slowest = max((r for r in results["results"]), key=lambda r: r["execution_time"])
    return {
        "scale": scale, "raw_rows": raw_rows, "generate_s": round(gen_s, 2), "dbt_build_s": round(build_s, 2),
        "dbt_elapsed_s": round(results["elapsed_time"], 2), "direct_models_s": round(models_s, 2),
        "direct_models_tests_s": round(direct_s, 2), "overhead_ratio": round(build_s / direct_s, 2),
        "nodes": len(results["results"]), "slowest_node": slowest["unique_id"].split(".")[2],
        "slowest_node_s": round(slowest["execution_time"], 2),
    }


def print_table(rows: list[dict]) -> None:
    header = ("scale", "raw rows", "dbt build s", "dbt elapsed s", "direct models s", "direct all s", "ratio",
              "slowest node (s)")
    lines = [header] + [(f"{r['scale']:g}", f"{r['raw_rows']:,}", f"{r['dbt_build_s']:.2f}",
                         f"{r['dbt_elapsed_s']:.2f}", f"{r['direct_models_s']:.2f}",
                         f"{r['direct_models_tests_s']:.2f}", f"{r['overhead_ratio']:.2f}",
                         f"{r['slowest_node']} ({r['slowest_node_s']:.2f})") for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for i, line in enumerate(lines):
        cells = zip(line, widths, strict=True)
        print("  ".join(cell.rjust(w) if j < 7 else cell for j, (cell, w) in enumerate(cells)))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    print("ratio = dbt build wall time (CLI start, partial parse, models + tests, 2 threads)"
          " / the same compiled SQL of models + tests run directly in DuckDB (one connection)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,10", help="comma-separated data scales (default 1,10)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", type=Path,
                        help="keep the data and warehouses here (default: a temp folder, removed)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    args = parser.parse_args(argv)
    scales = parse_scales(args.scales)
    if shutil.which(DBT[0]) is None:
        fail(f"dbt not found ({DBT[0]}); run with .venv/bin/python")
    if args.workdir and args.workdir.exists() and any(args.workdir.iterdir()):
        fail(f"--workdir {args.workdir} is not empty; give a new or empty folder")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_dbt_"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        rows = []
        for scale in scales:
            rows.append(bench_scale(scale, args.seed, workdir))
            print(f"scale {scale:g}: done", file=sys.stderr, flush=True)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    print_table(rows)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
