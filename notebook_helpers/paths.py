"""Where things live: repo root, dbt project, warehouse file, raw data folder.

The notebook-facing names of :mod:`course_core.settings` (the one place paths and ``VB_*``
settings are read), resolved exactly like ``dbt_project/profiles.yml``.
"""

from __future__ import annotations

from course_core.settings import (
    dbt_project_dir,
    manifest_path,
    raw_dir,
    repo_root,
    target_name,
    warehouse_path,
)

__all__ = ["dbt_project_dir", "manifest_path", "raw_dir", "repo_root", "target_name", "warehouse_path"]
