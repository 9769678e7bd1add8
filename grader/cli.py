"""Command line: ``python -m grader {check,grade,assign}`` with one-line errors, never tracebacks."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grader.batch import DEFAULT_SCALE, DEFAULT_SEED, DEFAULT_TIMEOUT


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        print(f"grader: {message} (see python -m grader --help)", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the three verbs."""
    parser = _Parser(prog="python -m grader", description="VyaparBazaar Module 5 grader")
    verbs = parser.add_subparsers(dest="verb", required=True, parser_class=_Parser)
    check = verbs.add_parser("check", help="self-check one exercise against your dev warehouse")
    check.add_argument("exercise", help="5.1, 5.2, 5.3, 5.4, 5.5 or bonus")
    grade = verbs.add_parser("grade", help="grade submissions on hidden data (instructor)")
    grade.add_argument("submissions", nargs="+", type=Path,
                       help=".ipynb, folder or .zip (or a folder of them)")
    grade.add_argument("--out", type=Path, required=True, help="output folder (gradebook.csv, reports)")
    grade.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel (default 1)")
    grade.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per submission")
    grade.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the hidden dataset")
    grade.add_argument("--scale", type=float, default=DEFAULT_SCALE, help="scale of the hidden dataset")
    grade.add_argument("--course-root", type=Path, default=None, help=argparse.SUPPRESS)
    verbs.add_parser("assign", help="generate notebooks/ from solutions/", add_help=False)
    return parser


def main(argv: list[str]) -> int:
    """Run one verb; returns the process exit code."""
    if argv[:1] == ["assign"]:
        try:
            from grader.assign import main as assign_main
        except ImportError:
            print("grader: the assign verb is not available yet (grader/assign.py missing)", file=sys.stderr)
            return 2
        return assign_main(argv[1:])
    args = build_parser().parse_args(argv)
    if args.verb == "check":
        from grader.selfcheck import run_selfcheck

        return 0 if run_selfcheck(args.exercise) else 1
    if args.jobs < 1 or args.timeout <= 0 or args.scale <= 0:
        print("grader: --jobs, --timeout and --scale must be positive", file=sys.stderr)
        return 2
    from grader.batch import grade_batch
    from grader.faults import DiskFull, disk_full_folder, is_disk_full
    from grader.outputs import OutputsIncomplete
    from grader.preparation import SetupError
    from grader.shutdown import GradingInterrupted

    missing = [str(p) for p in args.submissions if not p.exists() and not p.is_symlink()]
    if missing:
        print(f"grader: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        grade_batch(args.submissions, args.out, jobs=args.jobs, timeout=args.timeout, seed=args.seed,
                    scale=args.scale, log=lambda m: print(m, file=sys.stderr),
                    course_root=args.course_root)
    except (SetupError, ValueError, FileNotFoundError, DiskFull, OutputsIncomplete) as error:
        print(f"grader: {error}", file=sys.stderr)
        return 1
    except GradingInterrupted as stop:
        print(f"grader: {stop.describe(args.out)}", file=sys.stderr)
        return 128 + stop.signum
    except OSError as error:
        if not is_disk_full(error):
            raise
        print(f"grader: {DiskFull(disk_full_folder(error, args.out))}", file=sys.stderr)
        return 1
    print(f"gradebook: {args.out / 'gradebook.csv'}")
    return 0
