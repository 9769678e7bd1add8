"""Benchmark: wall time and rows/second of `datasets.generate` at several scales (in a temp dir).

    .venv/bin/python bench/bench_generation.py [--scales 1,10] [--seed 42]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datasets.generate import generate  # noqa: E402


def bench(scale: float, seed: int) -> tuple[int, float]:
    """(total rows, seconds) of one full generation at `scale`."""
    with tempfile.TemporaryDirectory(prefix="vb-bench-") as tmp:
        started = time.perf_counter()
        manifest = generate(Path(tmp) / "raw", seed=seed, scale=scale)
        seconds = time.perf_counter() - started
    return sum(manifest["row_counts"].values()), seconds


def main() -> int:
    """Print one line per scale."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scales", default="1,10", help="comma-separated scales (default 1,10)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    print(f"{'scale':>6} {'rows':>12} {'seconds':>8} {'rows/s':>10}")
    for text in args.scales.split(","):
        scale = float(text)
        rows, seconds = bench(scale, args.seed)
        print(f"{scale:>6g} {rows:>12,} {seconds:>8.2f} {rows / seconds:>10,.0f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
