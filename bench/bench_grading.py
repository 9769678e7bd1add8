"""Benchmark the batch grader: a class of copies of the solution notebooks.

    .venv/bin/python bench/bench_grading.py [--copies 4] [--jobs 1,2] [--shards 2] [--scale 0.05]
                                            [--seed 2027]

Prints the one-off preparation time (hidden data, base and reference warehouses; cached), then for
each --jobs value: wall and CPU seconds per submission (median, p90) and submissions per minute; where
the time goes (grader.timing, enabled here with VB_GRADER_TIMINGS=1): per exercise, per kind of work
(parse, dbt builds, exports for comparisons, arrival replays) and per dbt invocation; and the overhead
of grading the class as --shards shards (separate ``grade --shard`` processes, one after the other)
plus ``merge``. CPU seconds = the trusted grading process + its untrusted worker (load-independent).
Numbers only, no asserts.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
FALLBACK = REPO / "tests" / "fixtures" / "submissions" / "synthetic_solutions"


def p90(values: list[float]) -> float:
    """The 90th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, -(-9 * len(ordered) // 10) - 1)]


def cpu_of(timings: Any) -> float:
    """CPU seconds of one submission (its report's timings): trusted grading process + untrusted worker
    (+ its share of the batch's worker fork server, grader.zygote, when there is one)."""
    t = timings or {}
    return (float(t.get("trusted_cpu") or 0.0) + float(t.get("worker_cpu") or 0.0)
            + float(t.get("zygote_cpu") or 0.0))


def make_course(tmp: Path) -> Path:
    """The starting project, datasets/ and solutions/ (fallbacks where solutions/ lacks a notebook)."""
    from grader.course import write_course

    notebooks = sorted((REPO / "solutions").glob("*.ipynb"))
    for notebook in sorted(FALLBACK.glob("*.ipynb")):
        prefix = notebook.name[:3]
        if not [n for n in notebooks if n.name.startswith(prefix)]:
            print(f"solutions/ has no {prefix}* notebook: using {notebook.relative_to(REPO)}")
            notebooks.append(notebook)
    return write_course(tmp / "course", notebooks, REPO)


def print_breakdown(reports: list[Any]) -> None:
    """Mean per submission (``SubmissionReport``s): per exercise, per kind of work, per dbt invocation."""
    timed = [r.timings for r in reports if r.timings]
    if not timed:
        print("  (no timings: the grading processes did not report any)")
        return
    n = len(timed)
    print(f"  where the time goes (mean per submission over {n}; worker = the untrusted dbt/DuckDB process):")
    print(f"    {'exercise':<10} {'wall s':>8} {'trusted CPU s':>14} {'worker CPU s':>13}")
    exercises: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for t in timed:
        for ex, row in t["exercises"].items():
            exercises[ex][0] += row["wall"] / n
            exercises[ex][1] += row["trusted_cpu"] / n
            exercises[ex][2] += row["worker_cpu"] / n
    total_cpu = statistics.mean(cpu_of(t) for t in timed)
    setup_cpu = total_cpu - sum(v[1] + v[2] for v in exercises.values())
    setup_trusted = statistics.mean(float(t.get("trusted_cpu") or 0.0) for t in timed) - sum(
        v[1] for v in exercises.values())
    for ex, (wall, trusted, worker) in exercises.items():
        print(f"    {ex:<10} {wall:8.1f} {trusted:14.1f} {worker:13.1f}")
    print(f"    {'start-up, staging, first parse, close (CPU)':<48} {setup_cpu:6.1f}  (trusted "
          f"{setup_trusted:.1f}, worker {setup_cpu - setup_trusted:.1f})")
    zygote = statistics.mean(float(t.get("zygote_cpu") or 0.0) for t in timed)
    if zygote:
        print(f"    {'share of the batch worker fork server (CPU)':<48} {zygote:6.1f}  (its imports)")
    print(f"    {'kind of work':<44} {'calls':>6} {'wall s':>8} {'worker CPU s':>13}")
    kinds: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for t in timed:
        for kind, row in t["categories"].items():
            kinds[kind][0] += row["calls"] / n
            kinds[kind][1] += row["wall"] / n
            kinds[kind][2] += row.get("worker_cpu", row.get("trusted_cpu", 0.0)) / n
    for kind, (calls, wall, cpu) in sorted(kinds.items(), key=lambda kv: -kv[1][1]):
        label = f"{kind} (trusted CPU)" if kind.startswith("compare()") else kind
        print(f"    {label[:44]:<44} {calls:6.1f} {wall:8.1f} {cpu:13.1f}")
    print(f"    {'dbt invocation (exercise: command)':<64} {'calls':>5} {'wall s':>7} {'worker CPU s':>13}")
    calls: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for t in timed:
        for call in t["dbt"]:
            key = (call["exercise"], f"{call['what']}: {call['args']}")
            calls[key][0] += 1 / n
            calls[key][1] += call["wall"] / n
            calls[key][2] += call["worker_cpu"] / n
    for (ex, what), (count, wall, cpu) in calls.items():
        print(f"    {(ex + ': ' + what)[:64]:<64} {count:5.1f} {wall:7.2f} {cpu:13.2f}")


def grade_class(klass: Path, out: Path, jobs: int, args: argparse.Namespace, course_root: Path) -> float:
    from grader.batch import grade_batch

    started = time.perf_counter()
    reports = grade_batch([klass], out, jobs=jobs, seed=args.seed, scale=args.scale, course_root=course_root,
                          log=lambda _m: None)
    wall = time.perf_counter() - started
    per = [r.seconds for r in reports]
    cpu = [cpu_of(r.timings) for r in reports]
    scores = sorted({f"{r.score:g}/{r.max_score:g}" for r in reports})
    print(f"--jobs {jobs}: {len(reports)} submissions, scores {', '.join(scores)}")
    print(f"  wall s per submission: median {statistics.median(per):.1f}, p90 {p90(per):.1f}")
    print(f"  CPU s per submission:  median {statistics.median(cpu):.1f}, p90 {p90(cpu):.1f}")
    print(f"  submissions per minute: {60 * len(reports) / wall:.2f}  (class wall {wall:.1f} s)")
    if jobs == min(args.jobs):
        print_breakdown(reports)
    return wall


def shard_overhead(klass: Path, tmp: Path, args: argparse.Namespace, course_root: Path) -> None:
    """The class as --shards ``grade --shard i/n --jobs 1`` processes one after the other, then ``merge``.

    A shard's overhead = its process's wall time minus the grading time of its submissions (from its
    log): interpreter start, the cached preparation's check, discovery, writing outputs, shard.json.
    """
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    base = [sys.executable, "-m", "grader", "grade", str(klass), "--jobs", "1", "--seed",
            str(args.seed), "--scale", str(args.scale), "--course-root", str(course_root)]
    overheads = []
    for i in range(1, args.shards + 1):
        started = time.perf_counter()
        done = subprocess.run([*base, "--out", str(tmp / f"shard-{i}"), "--shard", f"{i}/{args.shards}"],
                              check=True, env=env, cwd=REPO, capture_output=True, text=True)
        wall = time.perf_counter() - started
        graded = [float(m) for m in re.findall(r"^  \S+: \S+ \S+ \(([\d.]+) s\)$", done.stderr, re.M)]
        overheads.append(wall - sum(graded))
        print(f"  shard {i}/{args.shards}: {len(graded)} submission(s), {wall:.1f} s, of which grading "
              f"{sum(graded):.1f} s, overhead {wall - sum(graded):.1f} s")
    started = time.perf_counter()
    shards = [str(tmp / f"shard-{i}") for i in range(1, args.shards + 1)]
    subprocess.run([sys.executable, "-m", "grader", "merge", *shards, "--out", str(tmp / "merged")],
                   check=True, env=env, cwd=REPO, capture_output=True)
    merge = time.perf_counter() - started
    single = tmp / "single-1"
    same = single.exists() and all((tmp / "merged" / f).read_bytes() == (single / f).read_bytes()
                                   for f in ("gradebook.csv", "manual_scores.csv"))
    print(f"shard overhead per shard process: median {statistics.median(overheads):.1f} s; merge "
          f"{merge:.2f} s; merged gradebook identical to the --jobs 1 run's: {same}")


def main(argv: list[str]) -> int:
    """Run the benchmark and print its numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--jobs", default="1,2", type=lambda s: [int(x) for x in s.split(",")],
                        help="comma-separated --jobs values to measure (default 1,2)")
    parser.add_argument("--shards", type=int, default=2, help="0 = skip the shard/merge measurement")
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=2027)
    parser.add_argument("--no-fork-server", action="store_true",
                        help="start every worker afresh, as before grader.zygote (for a before/after)")
    args = parser.parse_args(argv)
    os.environ["VB_GRADER_TIMINGS"] = "1"  # read by grader.timing in every grading process
    if args.no_fork_server:
        import grader.batch

        grader.batch.start_zygote = lambda *_args: None
    from grader.preparation import prepare

    with tempfile.TemporaryDirectory(prefix="vb-bench-") as tmp:
        tmp_path = Path(tmp)
        course_root = make_course(tmp_path)
        solutions = sorted((course_root / "solutions").glob("*.ipynb"))
        started = time.perf_counter()
        prepare(args.seed, args.scale, root=course_root, log=lambda _m: None)
        print(f"preparation (cached after the first run): {time.perf_counter() - started:.1f} s")
        klass = tmp_path / "class"
        for i in range(args.copies):
            folder = klass / f"intern_{i:03d}"
            folder.mkdir(parents=True)
            for notebook in solutions:
                shutil.copy(notebook, folder / notebook.name)
        for jobs in args.jobs:
            grade_class(klass, tmp_path / f"single-{jobs}", jobs, args, course_root)
        if args.shards > 1:
            shard_overhead(klass, tmp_path, args, course_root)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
