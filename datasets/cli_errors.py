"""One-line command-line errors (exit code 2, never a traceback)."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

USAGE_ERROR = 2


class UsageError(Exception):
    """Bad input: the message says what is wrong and what to do."""


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports bad arguments as a single stderr line and exits with code 2."""

    def error(self, message: str) -> NoReturn:
        fail(f"{message} (see --help)")


def fail(message: str) -> NoReturn:
    """Print `<prog>: error: message` on one line and exit 2."""
    prog = argparse.ArgumentParser().prog if not sys.argv else sys.argv[0].rsplit("/", 1)[-1]
    print(f"{prog}: error: {' '.join(message.split())}", file=sys.stderr)
    raise SystemExit(USAGE_ERROR)


def positive_float(text: str) -> float:
    """argparse type for --scale: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--scale must be a number > 0, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"--scale must be a number > 0 (e.g. 1 or 0.05), got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type for --seed: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value
