"""Benchmark the notebooks cell by cell: wall and CPU seconds of every code cell, slowest first.

    .venv/bin/python bench/bench_notebook_cells.py 5_1                     # the solution notebook
    .venv/bin/python bench/bench_notebook_cells.py 5_1 --edition notebooks # its intern version
    .venv/bin/python bench/bench_notebook_cells.py 5_bonus --prior         # after 00 .. 5_5, as CI runs it
    .venv/bin/python bench/bench_notebook_cells.py 5_2 --top 0 --json bench-results/5_2.json

Copies the workspace and the built dev warehouse into a scratch folder (tests/conftest.py's
`copy_workspace`, as tests/test_notebooks.py does), then executes the chosen notebooks there with
nbclient, one kernel each, in file-name order. With ``--prior`` the notebooks of the same edition
that come before the first chosen one run first, unmeasured (CI runs the solutions in file-name order
in one copy: later notebooks see the answer files and models earlier ones wrote). ``--keep`` keeps
the scratch copy; ``--from-copy DIR`` starts from a copy of such a kept folder instead of a new one
(say, one prepared with ``--prior --keep``); ``--rev REV`` runs the chosen notebooks as they were at
git revision REV (a before/after comparison from one tree). The real tree is never touched. Needs
`make warehouse`.

Per cell: wall seconds, and CPU seconds (user + system) of the kernel process plus every child it
waited for (dbt, the grader's workers), read with psutil before and after the cell. Per notebook:
the sum over cells and the whole kernel's CPU seconds (start-up included). CPU seconds hardly change
with the machine's load; wall seconds do. Numbers only, no assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from bench_notebooks import fail, pick  # noqa: E402 - the same notebook choice and one-line errors
from conftest import copy_workspace, scratch_env  # noqa: E402


def kernel_cpu(process: psutil.Process) -> float:
    """User + system seconds of the kernel and of every child process it has waited for."""
    times = process.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


class TimedClient(NotebookClient):
    """A NotebookClient that records, per code cell, wall and kernel(+children) CPU seconds."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.records: list[dict[str, object]] = []
        self.kernel_total: float | None = None
        self._process: psutil.Process | None = None

    def _kernel(self) -> psutil.Process:
        if self._process is None:
            self._process = psutil.Process(self.km.provisioner.process.pid)
        return self._process

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if cell.cell_type != "code" or not cell.source.strip():
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        process = self._kernel()
        cpu, started = kernel_cpu(process), time.perf_counter()
        try:
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        finally:
            self.kernel_total = kernel_cpu(process)
            first = cell.source.strip().splitlines()[0]
            self.records.append({
                "index": cell_index,
                "id": cell.get("id"),
                "tags": ",".join(cell.metadata.get("tags", [])),
                "first_line": first[:70],
                "wall_seconds": round(time.perf_counter() - started, 2),
                "cpu_seconds": round(self.kernel_total - cpu, 2),
            })


def execute(path: Path, timeout: int, root: Path) -> tuple[TimedClient, str | None, float]:
    """Run one notebook in the scratch copy ``root``; the client (its records), the error, the wall."""
    notebook = nbformat.read(path, as_version=4)
    client = TimedClient(notebook, timeout=timeout, kernel_name="python3",
                         resources={"metadata": {"path": str(path.parent)}})
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(scratch_env(root))  # the kernel inherits this process's environment
    started, error = time.perf_counter(), None
    try:
        client.execute(cwd=str(path.parent))
    except CellExecutionError as raised:
        lines = [line for line in str(raised).splitlines() if line.strip()]
        error = lines[-1] if lines else "a cell raised"
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return client, error, time.perf_counter() - started


def table(name: str, client: TimedClient, wall: float, top: int) -> None:
    records = client.records
    cells_cpu = sum(float(r["cpu_seconds"]) for r in records)
    cells_wall = sum(float(r["wall_seconds"]) for r in records)
    print(f"\n{name}: {len(records)} code cells, cells {cells_wall:.1f} wall s / {cells_cpu:.1f} CPU s; "
          f"kernel total {client.kernel_total or 0:.1f} CPU s; notebook wall {wall:.1f} s")
    shown = sorted(records, key=lambda r: -float(r["cpu_seconds"]))
    shown = shown[:top] if top else sorted(records, key=lambda r: int(r["index"]))
    print(f"  {'cell':>4} {'id':<10} {'wall s':>7} {'CPU s':>7}  first line [tags]")
    for r in shown:
        tags = f" [{r['tags']}]" if r["tags"] else ""
        print(f"  {r['index']:>4} {str(r['id'])[:10]:<10} {r['wall_seconds']:>7.2f} {r['cpu_seconds']:>7.2f}"
              f"  {r['first_line']}{tags}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prefixes", nargs="+", help="notebook name prefixes, e.g. 5_1 5_bonus")
    parser.add_argument("--edition", choices=("solutions", "notebooks"), default="solutions")
    parser.add_argument("--prior", action="store_true",
                        help="first run (unmeasured) the notebooks before the first chosen one")
    parser.add_argument("--from-copy", type=Path, help="start from a copy of this kept scratch folder")
    parser.add_argument("--keep", action="store_true", help="keep the scratch copy and print its path")
    parser.add_argument("--rev", help="run the chosen notebooks as they were at this git revision")
    parser.add_argument("--top", type=int, default=10, help="cells shown, slowest first (0: all)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell (default 1800)")
    parser.add_argument("--json", type=Path, help="also write the per-cell records to this JSON file")
    args = parser.parse_args(argv)

    warehouse = REPO / "dbt_project" / "warehouse" / "dev.duckdb"
    if not args.from_copy and not warehouse.is_file():
        fail(f"no built warehouse at {warehouse.relative_to(REPO)}: run `make warehouse` first")
    chosen = pick(REPO / args.edition, args.prefixes)
    every = sorted((REPO / args.edition).glob("*.ipynb"))
    prior = [p for p in every if p.name < chosen[0].name] if args.prior else []

    scratch = Path(tempfile.mkdtemp(prefix="vb-bench-cells-"))
    report: list[dict[str, object]] = []
    failed = False
    try:
        if args.from_copy:
            shutil.rmtree(scratch)
            shutil.copytree(args.from_copy, scratch, symlinks=True)
        else:
            copy_workspace(scratch, warehouse)
        for path in chosen if args.rev else []:
            old = subprocess.run(["git", "show", f"{args.rev}:{args.edition}/{path.name}"], cwd=REPO,
                                 capture_output=True, check=True).stdout
            (scratch / args.edition / path.name).write_bytes(old)
        print(f"{args.edition}/ in {scratch}{' at ' + args.rev if args.rev else ''}; "
              f"load average {os.getloadavg()[0]:.2f}")
        for path in prior:
            _, error, wall = execute(scratch / args.edition / path.name, args.timeout, scratch)
            failed_prior = f"; FAILED: {error}" if error else ""
            print(f"(prior) {path.name}: {wall:.0f} s wall{failed_prior}", flush=True)
        for path in chosen:
            client, error, wall = execute(scratch / args.edition / path.name, args.timeout, scratch)
            table(path.name, client, wall, args.top)
            if error:
                failed = True
                print(f"  FAILED: {error}")
            report.append({"notebook": path.name, "edition": args.edition, "wall_seconds": round(wall, 1),
                           "kernel_cpu_seconds": round(client.kernel_total or 0, 1), "error": error,
                           "cells": client.records})
        print(f"\nload average after: {os.getloadavg()[0]:.2f} (1 min; cores: {os.cpu_count()})")
    finally:
        if args.keep:
            print(f"scratch copy kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
