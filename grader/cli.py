"""Command line: ``python -m grader {check,grade,assign,release,finalize}`` with one-line errors.

A verb is offered only when its module is present: the intern edition (``python -m grader release``)
ships the self-check alone, so there ``python -m grader --help`` lists ``check`` only.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from course_core.cli_errors import OneLineParser

# verb -> the module that implements it (imported by name, only when the verb runs)
VERB_MODULES = {"check": "grader.selfcheck", "grade": "grader.batch", "assign": "grader.assign",
                "release": "grader.release", "finalize": "grader.finalize", "merge": "grader.shards"}


USAGE_LINE = "grader: {message} (see python -m grader --help)"  # a usage error: this line, exit 2


def available(verb: str) -> bool:
    """True when this copy of the grader has the verb's module (the intern edition has ``check`` only)."""
    return importlib.util.find_spec(VERB_MODULES[verb]) is not None  # None: grader/ has no such module


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the verbs this copy of the grader has."""
    parser = OneLineParser(prog="python -m grader", description="VyaparBazaar Module 5 grader",
                           line=USAGE_LINE)
    verbs = parser.add_subparsers(dest="verb", required=True)
    check = verbs.add_parser("check", help="self-check exercises against your dev warehouse (public checks)")
    check.add_argument("exercise", nargs="?", help="5.1, 5.2, 5.3, 5.4, 5.5 or bonus")
    check.add_argument("--all", action="store_true", help="every exercise, one after the other")
    check.add_argument("--summary-md", action="store_true",
                       help="print Markdown (for $GITHUB_STEP_SUMMARY) instead of plain text")
    if available("grade"):
        batch = importlib.import_module(VERB_MODULES["grade"])
        grade = verbs.add_parser("grade", help="grade submissions on hidden data (instructor)")
        grade.add_argument("submissions", nargs="+", type=Path,
                           help=".ipynb, folder or .zip (or a folder of them)")
        grade.add_argument("--out", type=Path, required=True, help="output folder (gradebook.csv, reports)")
        grade.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel (default 1)")
        grade.add_argument("--timeout", type=float, default=batch.DEFAULT_TIMEOUT,
                           help="seconds per submission")
        grade.add_argument("--seed", type=int, default=batch.DEFAULT_SEED, help="seed of the hidden dataset")
        grade.add_argument("--scale", type=float, default=batch.DEFAULT_SCALE,
                           help="scale of the hidden dataset")
        grade.add_argument("--shard", default=None, metavar="I/N",
                           help="grade only part I of N of the class (merge the N outputs with `merge`)")
        grade.add_argument("--course-root", type=Path, default=None, help=argparse.SUPPRESS)
    if available("merge"):
        merge = verbs.add_parser("merge", help="merge the outputs of `grade --shard i/n` (instructor)")
        merge.add_argument("shards", nargs="+", type=Path, help="the output folder of every shard")
        merge.add_argument("--out", type=Path, required=True, help="merged output folder")
    if available("assign"):
        verbs.add_parser("assign", help="generate notebooks/ from solutions/", add_help=False)
    if available("release"):
        release = verbs.add_parser("release", help="build the intern edition (instructor)")
        release.add_argument("--out", type=Path, required=True,
                             help="folder to write (replaced if a release)")
        release.add_argument("--zip", action="store_true", help="also write <out>.zip (byte-reproducible)")
    if available("finalize"):
        final = verbs.add_parser("finalize", help="merge manual scores into final grades (instructor)")
        final.add_argument("--out", type=Path, required=True, help="the output folder of `grade`")
        final.add_argument("--scores", type=Path, default=None,
                           help="manual-scores CSV (default: <out>/manual_scores.csv)")
    return parser


def _verb(verb: str) -> ModuleType:
    """The module of a verb, imported by name (so the edition's static import check skips it)."""
    return importlib.import_module(VERB_MODULES[verb])


def _check(args: argparse.Namespace) -> int:
    from grader.selfcheck_report import run_checks

    if args.all == bool(args.exercise):
        print("grader: name one exercise (e.g. `check 5.1`) or use --all", file=sys.stderr)
        return 2
    return run_checks(None if args.all else [args.exercise], markdown_output=args.summary_md)


def _grade(args: argparse.Namespace) -> int:
    if args.jobs < 1 or args.timeout <= 0 or args.scale <= 0:
        print("grader: --jobs, --timeout and --scale must be positive", file=sys.stderr)
        return 2
    grade_batch = _verb("grade").grade_batch
    setup_error = importlib.import_module("grader.preparation").SetupError
    faults = importlib.import_module("grader.faults")
    outputs_incomplete = importlib.import_module("grader.outputs").OutputsIncomplete
    interrupted = importlib.import_module("grader.shutdown").GradingInterrupted
    shard = None
    if args.shard is not None:
        shards = _verb("merge")
        try:
            shard = shards.parse_shard(args.shard)
        except shards.ShardError as error:
            print(f"grader: {error}", file=sys.stderr)
            return 2
    missing = [str(p) for p in args.submissions if not p.exists() and not p.is_symlink()]
    if missing:
        print(f"grader: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        grade_batch(args.submissions, args.out, jobs=args.jobs, timeout=args.timeout, seed=args.seed,
                    scale=args.scale, log=lambda m: print(m, file=sys.stderr),
                    course_root=args.course_root, shard=shard)
    except (setup_error, ValueError, FileNotFoundError, faults.DiskFull, outputs_incomplete) as error:
        print(f"grader: {error}", file=sys.stderr)
        return 1
    except interrupted as stop:
        print(f"grader: {stop.describe(args.out)}", file=sys.stderr)
        return 128 + stop.signum
    except OSError as error:
        if not faults.is_disk_full(error):
            raise
        print(f"grader: {faults.DiskFull(faults.disk_full_folder(error, args.out))}", file=sys.stderr)
        return 1
    print(f"gradebook: {args.out / 'gradebook.csv'}")
    return 0


def _reported(verb: str, error: str, work: Callable[[ModuleType], list[str]]) -> int:
    """Run a verb's work and print the lines it returns (exit 0); the verb module's ``error`` class
    becomes one ``grader: ...`` line on stderr and exit code 1."""
    module = _verb(verb)
    try:
        lines = work(module)
    except getattr(module, error) as failure:
        print(f"grader: {failure}", file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    return 0


def _merge(args: argparse.Namespace) -> int:
    def work(module: ModuleType) -> list[str]:
        names = module.merge(args.shards, args.out)
        return [f"merged {len(args.shards)} shard(s), {len(names)} submission(s); "
                f"gradebook: {args.out / 'gradebook.csv'}"]

    return _reported("merge", "ShardError", work)


def _release(args: argparse.Namespace) -> int:
    def work(module: ModuleType) -> list[str]:
        built = module.release(args.out, make_zip=args.zip, log=lambda m: print(m, file=sys.stderr))
        return [f"intern edition: {built.folder} ({built.files} files)"
                + (f", {built.zip}" if built.zip else "")]

    return _reported("release", "ReleaseError", work)


def _finalize(args: argparse.Namespace) -> int:
    return _reported("finalize", "FinalizeError",
                     lambda module: [f"wrote {path}" for path in module.finalize(args.out, args.scores)])


def main(argv: list[str]) -> int:
    """Run one verb; returns the process exit code."""
    if argv[:1] == ["assign"] and available("assign"):
        return _verb("assign").main(argv[1:])
    args = build_parser().parse_args(argv)
    return {"check": _check, "grade": _grade, "release": _release, "finalize": _finalize,
            "merge": _merge}[args.verb](args)
