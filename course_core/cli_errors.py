"""One-line command-line errors (exit code 2, never a traceback), for every command of the course.

``OneLineParser`` is the one argparse subclass: a usage error is a single stderr line and exit code 2.
Its ``line`` is the format of that line (``{message}`` is argparse's text); the default is
``<prog>: error: <message> (see --help)`` (the data generator's commands); the grader passes its own
(``grader: <message> (see python -m grader --help)``). Sub-parsers inherit the parent's line.
"""

from __future__ import annotations

import argparse
import functools
import sys
from typing import Any, NoReturn

USAGE_ERROR = 2


class UsageError(Exception):
    """Bad input: the message says what is wrong and what to do."""


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports bad arguments as a single stderr line and exits with code 2.

    ``line``: the error line, with ``{message}``; None for ``fail``'s ``<prog>: error: ... (see --help)``.
    """

    def __init__(self, *args: Any, line: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line = line

    def add_subparsers(self, **kwargs: Any) -> Any:
        """Sub-parsers report errors the same way as this parser."""
        kwargs.setdefault("parser_class", functools.partial(type(self), line=self.line))
        return super().add_subparsers(**kwargs)

    def error(self, message: str) -> NoReturn:
        if self.line is None:
            fail(f"{message} (see --help)")
        print(self.line.format(message=message), file=sys.stderr)
        raise SystemExit(USAGE_ERROR)


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
