"""Shared helpers: run the dbt CLI in a subprocess, read its JSON artifacts, one-line errors.

dbt runs as a subprocess (never in-process) so that no DuckDB lock outlives a call.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PROJECT_DIR = REPO_ROOT / "dbt_project"

QUIET_ENV = {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "PLOOMBER_STATS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
}


# Runs before dbt in the child: ask Linux for SIGKILL when the parent dies (PR_SET_PDEATHSIG = 1,
# kept across exec), give up if the parent is already gone, then become dbt.
_DIE_WITH_PARENT = (
    "import ctypes, os, sys; ctypes.CDLL(None).prctl(1, 9); "
    "os.getppid() == int(sys.argv[1]) or sys.exit(137); os.execvp(sys.argv[2], sys.argv[2:])"
)


class OpsError(Exception):
    """A problem the user can fix; printed as one line by the CLIs."""


@dataclass(frozen=True)
class DbtResult:
    """Outcome of one dbt CLI call."""

    returncode: int
    stdout: str
    target_path: Path

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def last_lines(self, n: int = 15) -> str:
        return "\n".join(self.stdout.strip().splitlines()[-n:])


def dbt_executable() -> str:
    """The dbt next to the running Python (the venv), else dbt on PATH."""
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


def project_dir_of(path: str | os.PathLike | None) -> Path:
    """Resolve and check a dbt project folder (default: the repo's dbt_project/)."""
    project = Path(path) if path else DEFAULT_PROJECT_DIR
    if not (project / "dbt_project.yml").is_file():
        raise OpsError(
            f"no dbt_project.yml in {project}: pass --project-dir pointing at the dbt project folder"
        )
    return project.resolve()


def run_dbt(
    args: Sequence[str],
    project_dir: Path,
    target_path: Path,
    env: Mapping[str, str] | None = None,
    profiles_dir: Path | None = None,
    die_with_parent: bool = False,
) -> DbtResult:
    """Run `dbt <args>` with dbt_project/ as working directory and its own target/log folders.

    die_with_parent: on Linux, dbt is SIGKILLed when this process dies (no orphan keeps writing).
    """
    target_path = Path(target_path).resolve()
    target_path.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **QUIET_ENV, **(env or {})}
    cmd = [
        dbt_executable(),
        *args,
        "--target-path",
        str(target_path),
        "--log-path",
        str(target_path / "logs"),
    ]
    cmd += ["--profiles-dir", str(profiles_dir or project_dir)]
    if die_with_parent and sys.platform == "linux":
        if shutil.which(cmd[0]) is None:
            raise OpsError(f"cannot run dbt ({cmd[0]} not found): activate the course venv (.venv/bin/dbt)")
        cmd = [sys.executable, "-c", _DIE_WITH_PARENT, str(os.getpid()), *cmd]
    try:
        proc = subprocess.run(
            cmd,
            cwd=project_dir,
            env=full_env,
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError as exc:
        raise OpsError(f"cannot run dbt ({exc}): activate the course venv (.venv/bin/dbt)") from exc
    return DbtResult(proc.returncode, proc.stdout + proc.stderr, target_path)


def load_json(path: str | os.PathLike, what: str) -> dict:
    """Read a JSON artifact or raise a one-line OpsError naming what was expected."""
    p = Path(path)
    if not p.is_file():
        raise OpsError(f"{what} not found at {p}: run dbt first or pass the right path")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise OpsError(f"{p} is not valid JSON ({exc.msg} at line {exc.lineno}): pass a dbt {what}") from exc


def load_run_results(path: str | os.PathLike) -> dict:
    """Load a run_results.json and check its shape."""
    data = load_json(path, "run_results.json")
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise OpsError(f"{path} has no 'results' list: it is not a dbt run_results.json")
    return data


def load_manifest(path: str | os.PathLike) -> dict:
    """Load a manifest.json and check its shape."""
    data = load_json(path, "manifest.json")
    if not isinstance(data, dict) or "nodes" not in data or "parent_map" not in data:
        raise OpsError(f"{path} has no 'nodes'/'parent_map': it is not a dbt manifest.json")
    return data


def cli_main(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Run a CLI entry point, turning OpsError into a one-line message and exit code 2."""
    try:
        return main(argv)
    except OpsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
