"""Resource utilisation of a run, and alerts when it nears its budget.

`measure(command)` runs a command (a `dbt build`, a deploy) and reports what it used, from the
kernel's own accounting of that process (``wait4``): peak resident memory, CPU seconds, wall
seconds; `file_size` adds the warehouse file. `resource_alerts(usage, budget)` turns them into
``ops.monitor`` alerts: warn at WARN_AT of a budget, error above it. The budget is the share of
the machine a tier may use (the course's machine: 2 cores and 24 GiB shared by 6 developers), so an
alert fires before a run starves its neighbours or is killed by the out-of-memory killer.

    python -m ops.resources --memory-mib 2048 --cpu-seconds 600 -- dbt build --selector daily
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ops.dbt_invoke import OpsError, cli_main
from ops.monitor import Alert, format_alerts

WARN_AT = 0.8
MIB = 2**20


@dataclass(frozen=True)
class Usage:
    """What one run used. ``peak_memory`` in bytes (max resident set size of the process)."""

    returncode: int
    wall_seconds: float
    cpu_seconds: float
    peak_memory: int
    file_bytes: int = 0


@dataclass(frozen=True)
class Budget:
    """Limits of one run; None = not limited."""

    memory: int | None = None
    cpu_seconds: float | None = None
    wall_seconds: float | None = None
    file_bytes: int | None = None


def measure(command: Sequence[str], cwd: str | Path | None = None, env: dict[str, str] | None = None,
            file: str | Path | None = None) -> Usage:
    """Run ``command`` to its end and return its resource usage (and the size of ``file`` after it)."""
    started = time.perf_counter()
    with subprocess.Popen(list(command), cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL) as process:
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    size = Path(file).stat().st_size if file and Path(file).is_file() else 0
    return Usage(process.returncode, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, size)


def resource_alerts(usage: Usage, budget: Budget, node: str = "run", warn_at: float = WARN_AT) -> list[Alert]:
    """One alert per resource at or above ``warn_at`` of its budget (error above the budget)."""
    checks = (
        ("peak memory", usage.peak_memory, budget.memory, lambda v: f"{v / MIB:,.0f} MiB"),
        ("CPU time", usage.cpu_seconds, budget.cpu_seconds, lambda v: f"{v:,.1f} s"),
        ("wall time", usage.wall_seconds, budget.wall_seconds, lambda v: f"{v:,.1f} s"),
        ("warehouse file", usage.file_bytes, budget.file_bytes, lambda v: f"{v / MIB:,.0f} MiB"),
    )
    alerts = []
    for name, used, limit, show in checks:
        if limit is None or limit <= 0:
            continue
        share = used / limit
        if share >= warn_at:
            message = f"{node} {name} {show(used)} is {share:.0%} of its budget {show(limit)}"
            alerts.append(Alert("resource", "error" if share > 1 else "warn", node, message, share))
    return alerts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.resources", description=__doc__.splitlines()[0])
    parser.add_argument("--memory-mib", type=float)
    parser.add_argument("--cpu-seconds", type=float)
    parser.add_argument("--wall-seconds", type=float)
    parser.add_argument("--file", help="a file whose size to report and budget (the warehouse)")
    parser.add_argument("--file-mib", type=float)
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- the command to run")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise OpsError("no command: python -m ops.resources --memory-mib 2048 -- dbt build")
    usage = measure(command, file=args.file)
    budget = Budget(int(args.memory_mib * MIB) if args.memory_mib else None, args.cpu_seconds,
                    args.wall_seconds, int(args.file_mib * MIB) if args.file_mib else None)
    print(f"exit code {usage.returncode}; peak memory {usage.peak_memory / MIB:,.0f} MiB; "
          f"CPU {usage.cpu_seconds:,.1f} s; wall {usage.wall_seconds:,.1f} s")
    alerts = resource_alerts(usage, budget)
    print(format_alerts(alerts))
    return 1 if usage.returncode or any(a.severity == "error" for a in alerts) else 0


if __name__ == "__main__":
    raise SystemExit(cli_main(main))
