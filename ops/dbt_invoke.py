"""Shared helpers: run the dbt CLI in a subprocess, read its JSON artifacts, one-line errors.

dbt runs as a subprocess (course_core.dbt_invoke.run_subprocess; build_profile's builds run in-process,
through course_core.dbt_invoke.run, which releases the database) so that no DuckDB lock outlives a
call. Its outcome is the course's one result type (``DbtResult`` here:
``ok``/``returncode``/``stdout``/``target_path``/``last_lines()`` and the per-node results).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from course_core import dbt_invoke
from course_core.dbt_invoke import TELEMETRY_OFF as QUIET_ENV
from course_core.dbt_invoke import dbt_command, dbt_executable
from course_core.dbt_result import DbtOutcome as DbtResult
from course_core.settings import dbt_project_dir

__all__ = ["QUIET_ENV", "DbtResult", "OpsError", "cli_main", "dbt_command", "dbt_executable", "load_json",
           "load_manifest", "load_run_results", "project_dir_of", "run_dbt"]



class OpsError(Exception):
    """A problem the user can fix; printed as one line by the CLIs."""


def project_dir_of(path: str | os.PathLike | None) -> Path:
    """Resolve and check a dbt project folder (default: the repo's dbt_project/)."""
    project = Path(path) if path else dbt_project_dir()
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
    try:
        return dbt_invoke.run_subprocess(args, project_dir, target_path, env=env, profiles_dir=profiles_dir,
                                         die_with_parent=die_with_parent)
    except dbt_invoke.DbtNotFound as exc:
        raise OpsError(str(exc)) from exc


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
