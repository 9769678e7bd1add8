"""Benchmark the notebooks: wall and CPU seconds to execute each one top to bottom.

    .venv/bin/python bench/bench_notebooks.py                      # every solution notebook
    .venv/bin/python bench/bench_notebooks.py 5_4 5_5              # only these (name prefixes)
    .venv/bin/python bench/bench_notebooks.py --edition notebooks  # the intern versions, unsolved
    .venv/bin/python bench/bench_notebooks.py --json bench-results/notebooks.json

Copies the workspace (dbt project, raw data, notebooks and the packages they import) and the
built dev warehouse into a scratch folder, then executes the chosen notebooks there one after the
other, in file-name order (as CI's nbval run does: later notebooks may use what earlier ones
wrote), each in its own kernel. The real tree is never touched. Needs `make warehouse` first.

Prints, per notebook, the wall seconds and the CPU seconds (user + system of the kernel and every
process it started: dbt, DuckDB). CPU seconds hardly change with the machine's load; wall seconds
do: on a shared machine, quote the wall time rounded up and say it was measured under load (the
load average is printed before and after). Numbers only, no assertions.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The same scratch copy as the test suite's (tests/conftest.py): workspace parts, the built warehouse
# with its raw-data views re-pointed at the copy, an environment without VB_* overrides.
sys.path.insert(0, str(REPO / "tests"))
from conftest import copy_workspace, scratch_env  # noqa: E402

# Runs in a child process so that RUSAGE_CHILDREN covers the kernel and everything it started.
EXECUTE = """
import sys
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
path, folder, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3])
notebook = nbformat.read(path, as_version=4)
client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                        resources={"metadata": {"path": folder}})
try:
    client.execute()
except CellExecutionError as error:
    lines = [line for line in str(error).splitlines() if line.strip()]
    print(lines[-1] if lines else "a cell raised", file=sys.stderr)
    sys.exit(1)
"""


def fail(message: str) -> None:
    """Print a one-line error and exit 2."""
    print(f"{Path(sys.argv[0]).stem}: {message}", file=sys.stderr)  # this script or bench_notebook_cells
    raise SystemExit(2)


def pick(folder: Path, prefixes: list[str]) -> list[Path]:
    """Notebooks of ``folder`` in file-name order, only those starting with one of ``prefixes``."""
    every = sorted(folder.glob("*.ipynb"))
    if not prefixes:
        return every
    chosen = [p for p in every if any(p.name.startswith(prefix) for prefix in prefixes)]
    unknown = [prefix for prefix in prefixes if not any(p.name.startswith(prefix) for p in every)]
    if unknown:
        fail(f"no notebook in {folder.name}/ starts with {', '.join(unknown)} "
             f"(have: {', '.join(p.stem for p in every)})")
    return chosen


def cpu_seconds() -> float:
    """User + system seconds of every finished child process so far (and their children)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def execute(notebook: Path, root: Path, timeout: int) -> dict[str, object]:
    """Execute one notebook in ``root``; wall and CPU seconds, and the error if a cell raised."""
    cpu_before = cpu_seconds()
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", EXECUTE, str(notebook), str(notebook.parent), str(timeout)],
        cwd=root, env=scratch_env(root), capture_output=True, text=True,
    )
    wall = time.perf_counter() - started
    return {
        "notebook": notebook.name,
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(cpu_seconds() - cpu_before, 1),
        "ok": done.returncode == 0,
        "error": done.stderr.strip().splitlines()[-1] if done.returncode and done.stderr.strip() else None,
    }


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def main(argv: list[str]) -> int:
    """Run the benchmark and print its numbers; exit 1 if a notebook raised."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prefixes", nargs="*", help="notebook name prefixes, e.g. 5_4 00 (default: all)")
    parser.add_argument("--edition", choices=("solutions", "notebooks"), default="solutions",
                        help="solutions/ (solved, default) or notebooks/ (the intern versions, unsolved)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell (default 1800)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch copy and print its path")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    warehouse = REPO / "dbt_project" / "warehouse" / "dev.duckdb"
    if not warehouse.is_file() or not (REPO / "datasets" / "raw" / "_manifest.json").is_file():
        fail(f"no built warehouse at {warehouse.relative_to(REPO)} (or no raw data): "
             "run `make warehouse` first")
    notebooks = pick(REPO / args.edition, args.prefixes)

    scratch = Path(tempfile.mkdtemp(prefix="vb-bench-notebooks-"))
    results: list[dict[str, object]] = []
    try:
        copy_workspace(scratch, warehouse)
        print(f"{args.edition}/ in a scratch copy, file-name order; cores: {os.cpu_count()}; "
              f"load average before: {load()}")
        print(f"{'notebook':<40} {'wall s':>8} {'CPU s':>8}  quote")
        for notebook in notebooks:
            result = execute(scratch / args.edition / notebook.name, scratch, args.timeout)
            minutes = math.ceil(float(result["wall_seconds"]) / 60)
            plural = "s" if minutes != 1 else ""
            quote = f"about {minutes} minute{plural}" if result["ok"] else f"FAILED: {result['error']}"
            result["quote_minutes"] = minutes
            results.append(result)
            wall, cpu = result["wall_seconds"], result["cpu_seconds"]
            print(f"{notebook.name:<40} {wall:>8.1f} {cpu:>8.1f}  {quote}", flush=True)
        total_wall = sum(float(r["wall_seconds"]) for r in results)
        total_cpu = sum(float(r["cpu_seconds"]) for r in results)
        print(f"{'total':<40} {total_wall:>8.1f} {total_cpu:>8.1f}")
        print(f"load average after: {load()}  "
              f"(1, 5, 15 min; above {os.cpu_count()} means the cores were shared)")
    finally:
        if args.keep:
            print(f"scratch copy kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        report = {"edition": args.edition, "cores": os.cpu_count(), "results": results}
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
