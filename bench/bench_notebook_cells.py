"""Benchmark one notebook cell by cell: wall and CPU seconds of every code cell.

    .venv/bin/python bench/bench_notebook_cells.py 5_4                      # the solution
    .venv/bin/python bench/bench_notebook_cells.py 5_4 --edition notebooks  # the intern version
    .venv/bin/python bench/bench_notebook_cells.py 5_4 --top 10 --json bench-results/cells.json

Executes the notebook top to bottom in a scratch copy of the workspace (the same copy as
bench/bench_notebooks.py and the test suite make), and reads the kernel's CPU accounting from
/proc/<kernel pid>/stat before and after each cell: user + system seconds of the kernel and of every
process it started and waited for (dbt, the generator, DuckDB subprocesses). CPU seconds hardly
change with the machine's load; wall seconds do. Prints a table in cell order, then the most
expensive cells. Linux only (reads /proc). Numbers only, no assertions.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))
from bench_notebooks import fail, load, pick  # noqa: E402
from conftest import copy_workspace, scratch_env  # noqa: E402

# Runs in a child process: executes the notebook and writes one JSON line per code cell.
EXECUTE = r"""
import json, os, sys, time
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

path, folder, timeout, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
TICK = os.sysconf("SC_CLK_TCK")
notebook = nbformat.read(path, as_version=4)
client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                        resources={"metadata": {"path": folder}})
state = {}


def kernel_cpu():
    pid = client.km.provisioner.process.pid
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    # utime, stime, cutime, cstime are fields 14-17 (1-based) of stat; index 11-14 after the ')'
    return sum(int(v) for v in fields[11:15]) / TICK


def started(cell, cell_index, **_):
    state["cpu"], state["wall"] = kernel_cpu(), time.perf_counter()


def executed(cell, cell_index, **_):
    with open(out, "a") as f:
        first = next((line for line in cell.source.splitlines() if line.strip()), "")
        f.write(json.dumps({"cell": cell_index, "first_line": first[:70],
                            "wall": time.perf_counter() - state["wall"],
                            "cpu": kernel_cpu() - state["cpu"]}) + "\n")


client.on_cell_start = started
client.on_cell_executed = executed
try:
    client.execute()
except CellExecutionError as error:
    lines = [line for line in str(error).splitlines() if line.strip()]
    print(lines[-1] if lines else "a cell raised", file=sys.stderr)
    sys.exit(1)
"""


def main(argv: list[str]) -> int:
    """Run one notebook, print its per-cell table; exit 1 if a cell raised."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prefix", help="notebook name prefix, e.g. 5_4")
    parser.add_argument("--edition", choices=("solutions", "notebooks"), default="solutions")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell (default 1800)")
    parser.add_argument("--top", type=int, default=10, help="how many of the most expensive cells to list")
    parser.add_argument("--json", type=Path, help="also write the per-cell numbers to this JSON file")
    args = parser.parse_args(argv)

    warehouse = REPO / "dbt_project" / "warehouse" / "dev.duckdb"
    if not warehouse.is_file():
        fail("no built warehouse: run `make warehouse` first")
    notebooks = pick(REPO / args.edition, [args.prefix])
    if len(notebooks) != 1:
        fail(f"{args.prefix} matches {len(notebooks)} notebooks; name one")
    notebook = notebooks[0]
    scratch = Path(tempfile.mkdtemp(prefix="vb-bench-cells-"))
    try:
        copy_workspace(scratch, warehouse)
        out = scratch / "cells.jsonl"
        print(f"{args.edition}/{notebook.name} in a scratch copy; load average before: {load()}", flush=True)
        done = subprocess.run(
            [sys.executable, "-c", EXECUTE, str(scratch / args.edition / notebook.name),
             str(scratch / args.edition), str(args.timeout), str(out)],
            cwd=scratch, env=scratch_env(scratch), capture_output=True, text=True,
        )
        cells = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"{'cell':>4} {'wall s':>8} {'CPU s':>8}  first line")
    for c in cells:
        print(f"{c['cell']:>4} {c['wall']:>8.1f} {c['cpu']:>8.1f}  {c['first_line']}")
    print(f"{'all':>4} {sum(c['wall'] for c in cells):>8.1f} {sum(c['cpu'] for c in cells):>8.1f}")
    print(f"\ntop {args.top} by CPU s:")
    for c in sorted(cells, key=lambda c: -c["cpu"])[:args.top]:
        print(f"{c['cell']:>4} {c['wall']:>8.1f} {c['cpu']:>8.1f}  {c['first_line']}")
    print(f"load average after: {load()}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"notebook": f"{args.edition}/{notebook.name}", "cells": cells},
                                        indent=2) + "\n")
    if done.returncode:
        print(f"FAILED: {done.stderr.strip()[-500:]}")
    return 1 if done.returncode else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
