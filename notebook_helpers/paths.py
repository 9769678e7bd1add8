"""Where things live: repo root, dbt project, warehouse file, raw data folder.

Resolved exactly like ``dbt_project/profiles.yml`` so the notebook and dbt always open the
same DuckDB file. The repo root is the folder that contains this package (override with
``VB_REPO_ROOT``), so a copy of the repo resolves to itself, never to the original tree.
"""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """The repository root: ``$VB_REPO_ROOT`` or the parent of this package."""
    override = os.environ.get("VB_REPO_ROOT")
    if override:
        return Path(override).resolve()
    return Path(__file__).resolve().parent.parent


def dbt_project_dir() -> Path:
    """``<repo>/dbt_project`` (dbt always runs with this as working directory)."""
    return repo_root() / "dbt_project"


def _from_project(path: str) -> Path:
    """A path as dbt sees it: relative paths are relative to ``dbt_project/``."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else (dbt_project_dir() / p).resolve()


def target_name() -> str:
    """The dbt target in use: ``$VB_TARGET`` or ``dev``."""
    return os.environ.get("VB_TARGET", "dev")


def warehouse_path(target: str | None = None) -> Path:
    """The DuckDB file of a target, resolved like ``profiles.yml`` (default: the dev warehouse)."""
    target = target or target_name()
    folder = os.environ.get("VB_WAREHOUSE_DIR", "warehouse")
    if target == "dev":
        return _from_project(os.environ.get("VB_DUCKDB_PATH", f"{folder}/dev.duckdb"))
    if target == "prod":
        return _from_project(os.environ.get("VB_PROD_DUCKDB_PATH", f"{folder}/prod.duckdb"))
    return _from_project(f"{folder}/{target}.duckdb")


def raw_dir() -> Path:
    """The raw Parquet folder: ``$VB_RAW_DIR`` (relative to ``dbt_project/``) or ``<repo>/datasets/raw``."""
    override = os.environ.get("VB_RAW_DIR")
    if override:
        return _from_project(override)
    return repo_root() / "datasets" / "raw"


def manifest_path() -> Path:
    """``dbt_project/target/manifest.json`` (written by every dbt parse/compile/build)."""
    return dbt_project_dir() / "target" / "manifest.json"
