"""Benchmark a newcomer's first run: a clean clone to a built warehouse at scale 1.

    .venv/bin/python bench/bench_first_run.py [--installer uv,pip] [--cache warm,cold] [--python python3.12]
                                              [--keep DIR]

For each installer (`make ... INSTALLER=uv`, the default, and `INSTALLER=pip`) and each package cache
(warm: the user's own caches, ~/.cache/pip and ~/.cache/uv, as after any earlier install; cold: empty
throwaway cache folders, so every package is downloaded from the index, which needs the network):
clones this repository's committed HEAD into a temporary folder (nothing of this checkout's .venv,
data or warehouse is reused), then times `make venv` (venv + install of the pinned set), `make data`
(seed 42, scale 1) and `make warehouse` (dbt build) one after the other, as `make warehouse` runs them.
CPU-s are the children's user + system time (what other work on the machine does not inflate).
Also prints what a cold run must fetch: the number of distributions and their installed size.
Numbers only, no asserts.
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
INSTALLERS = ("uv", "pip")
CACHES = ("warm", "cold")


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def first_run(installer: str, cache: str, tmp: Path, args: argparse.Namespace) -> tuple[float, float] | None:
    """One clean clone to a built warehouse; prints its steps; (wall s, CPU-s), None when a step failed."""
    clone = args.keep / f"{installer}-{cache}" if args.keep else tmp / f"clone-{installer}-{cache}"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(clone)], check=True)
    head = subprocess.run(["git", "-C", str(clone), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    # the caller's venv and make, and every VB_* override: a fresh clone has none
    dropped = ("VIRTUAL_ENV", "PYTHONPATH", "MAKEFLAGS", "MAKELEVEL")
    env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("VB_")}
    if cache == "cold":  # empty caches of both installers (uv itself then comes from the index too)
        env["PIP_CACHE_DIR"] = str(tmp / f"empty-pip-cache-{installer}")
        env["UV_CACHE_DIR"] = str(tmp / f"empty-uv-cache-{installer}")
    make = ["make", "--no-print-directory", f"INSTALLER={installer}"]
    make += [f"PYTHON={args.python}"] if args.python else []
    print(f"INSTALLER={installer}, {cache} cache: clean clone of {head} in {clone}")
    times: dict[str, float] = {}
    cpus: dict[str, float] = {}
    for step in STEPS:
        before, started = _children_cpu(), time.perf_counter()
        done = subprocess.run([*make, step], cwd=clone, env=env, capture_output=True, text=True)
        times[step] = time.perf_counter() - started
        cpus[step] = _children_cpu() - before
        picked = [line for line in done.stdout.splitlines()
                  if line.startswith(("Creating .venv", ".venv uses", "Could not install"))]
        print(f"  make {step:<10} {times[step]:6.1f} s wall, {cpus[step]:6.1f} CPU-s"
              + (f"   ({'; '.join(picked)})" if picked else ""))
        if done.returncode != 0:
            print(f"make {step} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}", file=sys.stderr)
            return None
    wall, cpu = sum(times.values()), sum(cpus.values())
    print(f"  first run, clean clone to a built warehouse (scale 1): {wall:.1f} s wall, {cpu:.1f} CPU-s "
          f"(INSTALLER={installer}, {cache} cache; load average {os.getloadavg()[0]:.1f})")
    site = next((clone / ".venv" / "lib").glob("python3*/site-packages"))
    print(f"  installed: {len(list(site.glob('*.dist-info')))} distributions, "
          f"{folder_size(site) / 1e6:.0f} MB")
    return wall, cpu


def main(argv: list[str]) -> int:
    """Run the first runs asked for, each in a fresh clone, and print their timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--installer", default=",".join(INSTALLERS), help="comma-separated: uv,pip")
    parser.add_argument("--cache", default=",".join(CACHES), help="comma-separated: warm,cold")
    parser.add_argument("--cold", action="store_true", help="same as --cache cold")
    parser.add_argument("--python", default=None, help="make PYTHON=... (default: the Makefile's pick)")
    parser.add_argument("--keep", type=Path, default=None, help="clone into folders under this one, kept")
    args = parser.parse_args(argv)
    installers = [i for i in args.installer.split(",") if i]
    caches = ["cold"] if args.cold else [c for c in args.cache.split(",") if c]
    wrong = [i for i in installers if i not in INSTALLERS] + [c for c in caches if c not in CACHES]
    if wrong:
        parser.error(f"unknown {', '.join(wrong)}: --installer takes uv,pip and --cache warm,cold")
    summary: list[str] = []
    with tempfile.TemporaryDirectory(prefix="vb-first-run-") as tmp:
        for installer in installers:
            for cache in caches:
                result = first_run(installer, cache, Path(tmp), args)
                if result is None:
                    return 1
                summary.append(f"  INSTALLER={installer:<4} {cache} cache: {result[0]:6.1f} s wall, "
                               f"{result[1]:6.1f} CPU-s")
    print("first run, clean clone to a built warehouse (scale 1); other work on the machine inflates the "
          f"wall time, not the CPU-s (load average now {os.getloadavg()[0]:.1f}):")
    print("\n".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
