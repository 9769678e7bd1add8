"""Benchmark the batch grader: a class of copies of the solution notebooks.

    .venv/bin/python bench/bench_grading.py [--copies 4] [--jobs 2] [--scale 0.05] [--seed 2027]

Prints the one-off preparation time (hidden data, base and reference warehouses; cached),
then the median seconds per submission and submissions per minute. Numbers only, no asserts.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FALLBACK = REPO / "tests" / "fixtures" / "submissions" / "synthetic_solutions"


def main(argv: list[str]) -> int:
    """Run the benchmark and print its numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=2027)
    args = parser.parse_args(argv)
    from grader.batch import grade_batch
    from grader.course import starting_project
    from grader.preparation import prepare

    with tempfile.TemporaryDirectory(prefix="vb-bench-") as tmp:
        tmp_path = Path(tmp)
        course_root = tmp_path / "course"
        for rel, data in starting_project(REPO).items():
            (course_root / "dbt_project" / rel).parent.mkdir(parents=True, exist_ok=True)
            (course_root / "dbt_project" / rel).write_bytes(data)
        (course_root / "datasets").symlink_to(REPO / "datasets", target_is_directory=True)
        (course_root / "solutions").mkdir()
        for notebook in sorted((REPO / "solutions").glob("*.ipynb")):
            shutil.copy(notebook, course_root / "solutions" / notebook.name)
        for notebook in sorted(FALLBACK.glob("*.ipynb")):
            prefix = notebook.name[:3]
            if not list((course_root / "solutions").glob(f"{prefix}*.ipynb")):
                print(f"solutions/ has no {prefix}* notebook: using {notebook.relative_to(REPO)}")
                shutil.copy(notebook, course_root / "solutions" / notebook.name)
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
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        reports = grade_batch([klass], tmp_path / "out", jobs=args.jobs, seed=args.seed, scale=args.scale,
                              course_root=course_root, log=lambda _m: None)
        wall = time.perf_counter() - started
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    per = [r["seconds"] for r in reports]
    scores = sorted({f"{r['score']:g}/{r['max_score']:g}" for r in reports})
    print(f"submissions: {len(reports)}  jobs: {args.jobs}  scale: {args.scale}  scores: {', '.join(scores)}")
    median = statistics.median(per)
    print(f"median seconds per submission: {median:.1f}  (min {min(per):.1f}, max {max(per):.1f})")
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime) / len(reports)
    # a worker in a pid namespace (bubblewrap) is not in our rusage: it reports its own CPU time
    cpu += sum(r.get("worker_cpu_seconds", 0.0) for r in reports) / len(reports)
    print(f"CPU seconds per submission (grading processes, load-independent): {cpu:.1f}")
    print(f"submissions per minute: {60 * len(reports) / wall:.2f}  (wall {wall:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
