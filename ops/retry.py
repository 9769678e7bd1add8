"""Retry a command when it fails for a transient reason; fail at once for any other reason.

A scheduled `dbt build` can fail because of the moment, not the code: another process holds the
DuckDB file ("Could not set lock on file"), a network mount hiccups, a remote source answers 503.
Running it again a little later succeeds. A SQL error, a failing test or a missing file fails the
same way every time: retrying it only delays the alert. So a failure is retried only when its
output matches one of TRANSIENT, with a growing wait (backoff), at most ``attempts`` times.

    python -m ops.retry --attempts 3 --backoff 5 -- dbt build --selector daily
"""

from __future__ import annotations

import argparse
import re
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ops.dbt_invoke import OpsError, cli_main

TRANSIENT = (
    r"Could not set lock on file",          # DuckDB: another process has the file open
    r"Resource temporarily unavailable",
    r"Connection (?:reset|refused|timed out)",
    r"Temporary failure in name resolution",
    r"HTTP (?:Error )?50[234]",
)


@dataclass(frozen=True)
class Attempt:
    """One run of the command: exit code, whether the failure was transient, its first error line."""

    returncode: int
    transient: bool
    error: str


@dataclass
class RetryResult:
    """Every attempt, in order; ``ok`` when the last one succeeded."""

    attempts: list[Attempt] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.attempts) and self.attempts[-1].returncode == 0

    def format(self) -> str:
        lines = []
        for number, attempt in enumerate(self.attempts, start=1):
            if attempt.returncode == 0:
                lines.append(f"attempt {number}: success")
            else:
                kind = "transient, retried" if attempt.transient and number < len(self.attempts) else (
                    "transient, no attempts left" if attempt.transient else "not transient, not retried")
                lines.append(f"attempt {number}: failed ({kind}): {attempt.error}")
        return "\n".join(lines)


def is_transient(output: str, patterns: Sequence[str] = TRANSIENT) -> bool:
    """True when the output of a failed run matches a transient cause."""
    return any(re.search(p, output, re.I) for p in patterns)


def _error_line(output: str, patterns: Sequence[str]) -> str:
    """The line that explains a failure: a transient cause, else the first "... Error" line, else the last."""
    plain = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", output)               # no terminal colours
    lines = [re.sub(r"^\d\d:\d\d:\d\d\s+", "", line.strip()) for line in plain.splitlines() if line.strip()]
    for line in lines:
        if is_transient(line, patterns):
            return line[:160]
    errors = [line for line in lines if re.search(r"\b[A-Z]\w* Error\b", line)]
    return (errors[:1] or lines[-1:] or ["(no output)"])[0][:160]


def run_with_retries(
    command: Sequence[str],
    *,
    cwd: str | Path | None = None,
    env: dict[str, str] | None = None,
    attempts: int = 3,
    backoff: float = 2.0,
    patterns: Sequence[str] = TRANSIENT,
    on_retry: Callable[[int, Attempt], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> RetryResult:
    """Run ``command``; after a transient failure wait backoff, 2*backoff, ... and run it again.

    ``on_retry(number, attempt)`` is called before each wait (logging, or a demo's hook).
    """
    if attempts < 1:
        raise OpsError("attempts must be at least 1")
    result = RetryResult()
    for number in range(1, attempts + 1):
        done = subprocess.run(list(command), cwd=cwd, env=env, capture_output=True, text=True, check=False)
        output = done.stdout + "\n" + done.stderr
        failed = done.returncode != 0
        attempt = Attempt(done.returncode, failed and is_transient(output, patterns),
                          _error_line(output, patterns) if failed else "")
        result.attempts.append(attempt)
        if not attempt.transient or number == attempts:
            break
        if on_retry is not None:
            on_retry(number, attempt)
        sleep(backoff * 2 ** (number - 1))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.retry", description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=3)
    parser.add_argument("--backoff", type=float, default=2.0, help="seconds before the first retry (doubles)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- the command to run")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise OpsError("no command: python -m ops.retry -- dbt build")
    result = run_with_retries(command, attempts=args.attempts, backoff=args.backoff)
    print(result.format())
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(cli_main(main))
