"""Benchmark a newcomer's first run: a clean clone to a built warehouse at scale 1.

    .venv/bin/python bench/bench_first_run.py [--cold] [--python python3.12] [--keep DIR]

Clones this repository's committed HEAD into a temporary folder (nothing of this checkout's .venv,
data or warehouse is reused), then times `make venv` (venv + pip install of the pinned set), `make data`
(seed 42, scale 1) and `make warehouse` (dbt build) one after the other, as `make warehouse` runs them.
pip's cache is the user's (warm when packages were installed before); --cold gives pip an empty
cache folder, so every package is downloaded from the index (needs the network). Also prints what
a cold run must fetch: the number of distributions and their installed size. Numbers only, no asserts.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STEPS = ("venv", "data", "warehouse")


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str]) -> int:
    """Run the first run in a fresh clone and print its timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="pip gets an empty cache (downloads everything)")
    parser.add_argument("--python", default=None, help="make PYTHON=... (default: the Makefile's pick)")
    parser.add_argument("--keep", type=Path, default=None, help="clone into this (new) folder and keep it")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vb-first-run-") as tmp:
        clone = args.keep or Path(tmp) / "clone"
        subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(clone)], check=True)
        head = subprocess.run(["git", "-C", str(clone), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
        dropped = ("VIRTUAL_ENV", "PYTHONPATH")  # and every VB_* override: a fresh clone has none
        env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("VB_")}
        if args.cold:
            env["PIP_CACHE_DIR"] = str(Path(tmp) / "empty-pip-cache")
        make = ["make", "--no-print-directory"] + ([f"PYTHON={args.python}"] if args.python else [])
        cache = "empty (cold)" if args.cold else "the user's (warm)"
        print(f"clean clone of {head} in {clone}; pip cache: {cache}")
        times: dict[str, float] = {}
        cpus: dict[str, float] = {}
        for step in STEPS:
            before, started = _children_cpu(), time.perf_counter()
            done = subprocess.run([*make, step], cwd=clone, env=env, capture_output=True, text=True)
            times[step] = time.perf_counter() - started
            cpus[step] = _children_cpu() - before
            picked = [line for line in done.stdout.splitlines()
                      if line.startswith(("Creating .venv", ".venv uses"))]
            print(f"  make {step:<10} {times[step]:6.1f} s wall, {cpus[step]:6.1f} CPU-s"
                  + (f"   ({'; '.join(picked)})" if picked else ""))
            if done.returncode != 0:
                print(f"make {step} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}", file=sys.stderr)
                return 1
        print(f"first run, clean clone to a built warehouse (scale 1): {sum(times.values()):.1f} s wall, "
              f"{sum(cpus.values()):.1f} CPU-s ({'cold' if args.cold else 'warm'} pip cache; load average "
              f"{os.getloadavg()[0]:.1f}: other work on the machine inflates the wall time, not the CPU-s)")
        site = next((clone / ".venv" / "lib").glob("python3*/site-packages"))
        dists = len(list(site.glob("*.dist-info")))
        print(f"a cold run downloads {dists} distributions ({folder_size(site) / 1e6:.0f} MB installed); "
              "measure it with --cold")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
