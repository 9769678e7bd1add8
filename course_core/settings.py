"""Every path and every ``VB_*`` setting of the course, read in one place (at call time).

Paths resolve exactly like ``dbt_project/profiles.yml`` so Python and dbt always open the same
DuckDB file. The repository root is the folder that holds this package (``$VB_REPO_ROOT``
overrides it), so a copy of the repo resolves to itself, never to the original tree. The table of
variables (default, reader, purpose) is in DEVELOPING.md, "Settings"; tests/test_course_core.py fails
when Python outside course_core reads a ``VB_*`` variable or when the table misses one. The grader's
cache (hidden data) is set in ``course_core.instructor_settings``, which the intern edition leaves out.
"""

from __future__ import annotations

import os
from pathlib import Path

# The names, for code that passes them on to a child process (dbt, a sandbox) or removes them.
REPO_ROOT = "VB_REPO_ROOT"
TARGET = "VB_TARGET"
DUCKDB_PATH = "VB_DUCKDB_PATH"
WAREHOUSE_DIR = "VB_WAREHOUSE_DIR"
PROD_DUCKDB_PATH = "VB_PROD_DUCKDB_PATH"
RAW_DIR = "VB_RAW_DIR"
LOCK_WAIT = "VB_LOCK_WAIT"
GRADER_TIMINGS = "VB_GRADER_TIMINGS"
GRADER_ISOLATION = "VB_GRADER_ISOLATION"
OPS_CRASH_AFTER = "VB_OPS_CRASH_AFTER"
OPS_CRASH_TRACE = "VB_OPS_CRASH_TRACE"
# The paths dbt reads from profiles.yml / _sources.yml: a child process with none of them set
# builds the default dev warehouse from the default raw folder.
DBT_PATH_VARIABLES = (DUCKDB_PATH, WAREHOUSE_DIR, PROD_DUCKDB_PATH, RAW_DIR, TARGET)
LOCK_WAIT_SECONDS = 5.0  # default of VB_LOCK_WAIT: how long a cell waits for another process


def _get(name: str) -> str | None:
    return os.environ.get(name)


# ---- the repository ----------------------------------------------------------------------------
def repo_root() -> Path:
    """The repository root: ``$VB_REPO_ROOT`` or the parent of this package."""
    override = _get(REPO_ROOT)
    if override:
        return Path(override).resolve()
    return Path(__file__).resolve().parent.parent


def dbt_project_dir() -> Path:
    """``<repo>/dbt_project`` (dbt always runs with this as working directory)."""
    return repo_root() / "dbt_project"


def from_project(path: str | Path, project: Path | None = None) -> Path:
    """A path as dbt sees it: relative paths are relative to ``dbt_project/`` (or ``project``)."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else ((project or dbt_project_dir()) / p).resolve()


def manifest_path() -> Path:
    """``dbt_project/target/manifest.json`` (written by every dbt parse/compile/build)."""
    return dbt_project_dir() / "target" / "manifest.json"


# ---- warehouse and raw data (as profiles.yml and _sources.yml resolve them) ---------------------
def target_name() -> str:
    """The dbt target in use: ``$VB_TARGET`` or ``dev``."""
    return os.environ.get(TARGET, "dev")


def warehouse_dir_setting() -> str | None:
    """``$VB_WAREHOUSE_DIR`` as set (None when unset): the folder of the ci and prod files."""
    return _get(WAREHOUSE_DIR)


def warehouse_path(target: str | None = None) -> Path:
    """The DuckDB file of a target, resolved like ``profiles.yml`` (default: the dev warehouse)."""
    target = target or target_name()
    folder = os.environ.get(WAREHOUSE_DIR, "warehouse")
    if target == "dev":
        return from_project(os.environ.get(DUCKDB_PATH, f"{folder}/dev.duckdb"))
    if target == "prod":
        return from_project(os.environ.get(PROD_DUCKDB_PATH, f"{folder}/prod.duckdb"))
    return from_project(f"{folder}/{target}.duckdb")


def raw_dir() -> Path:
    """The raw Parquet folder: ``$VB_RAW_DIR`` (relative to ``dbt_project/``) or ``<repo>/datasets/raw``."""
    override = _get(RAW_DIR)
    if override:
        return from_project(override)
    return repo_root() / "datasets" / "raw"


# ---- notebooks ---------------------------------------------------------------------------------
def lock_wait_seconds() -> float:
    """``$VB_LOCK_WAIT`` (seconds a cell waits for a warehouse another process holds), default 5."""
    try:
        return max(0.0, float(os.environ.get(LOCK_WAIT, LOCK_WAIT_SECONDS)))
    except ValueError:
        return LOCK_WAIT_SECONDS


# ---- grader ------------------------------------------------------------------------------------
def grader_timings() -> bool:
    """``VB_GRADER_TIMINGS=1``: the grader records where the time goes (bench/bench_grading.py)."""
    return _get(GRADER_TIMINGS) == "1"


def grader_isolation_override() -> str:
    """``$VB_GRADER_ISOLATION``: a weaker isolation level asked for (tests, debugging), or ``""``."""
    return os.environ.get(GRADER_ISOLATION, "").strip()


# ---- ops (test hooks) ----------------------------------------------------------------------------
def ops_crash_after() -> str | None:
    """``$VB_OPS_CRASH_AFTER``: the step number or name after which an ops command kills itself."""
    return _get(OPS_CRASH_AFTER)


def ops_crash_trace() -> str | None:
    """``$VB_OPS_CRASH_TRACE``: a file to which an ops command appends the steps it completes."""
    return _get(OPS_CRASH_TRACE)
