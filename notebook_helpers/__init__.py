"""Helpers for the Module 5 notebooks: ``%load_ext notebook_helpers`` and friends.

See ``notebook_helpers/README.md`` for the API with examples.
"""

from course_core.settings import dbt_project_dir, raw_dir, repo_root, warehouse_path
from notebook_helpers.arrivals import replay_arrival, reset_arrivals
from notebook_helpers.connections import relation_exists
from notebook_helpers.dag import show_dag
from notebook_helpers.dbt_project import compiled_sql, model_exists, model_overview
from notebook_helpers.dbt_result import DbtResult, NodeResult
from notebook_helpers.dbt_run import last_result
from notebook_helpers.dbt_run import run_dbt as dbt
from notebook_helpers.errors import HelperError
from notebook_helpers.magics import load_ipython_extension, unload_ipython_extension
from notebook_helpers.misc import not_done_yet
from notebook_helpers.queries import (
    Memory,
    ModelRuns,
    Timing,
    measure_model,
    memory_model,
    profile,
    query,
    time_model,
    time_query,
)
from notebook_helpers.release import release_all, release_dbt_duckdb

__all__ = [
    "DbtResult",
    "HelperError",
    "NodeResult",
    "Timing",
    "compiled_sql",
    "dbt",
    "dbt_project_dir",
    "last_result",
    "load_ipython_extension",
    "model_exists",
    "Memory",
    "ModelRuns",
    "measure_model",
    "memory_model",
    "model_overview",
    "not_done_yet",
    "profile",
    "query",
    "raw_dir",
    "relation_exists",
    "release_all",
    "release_dbt_duckdb",
    "replay_arrival",
    "repo_root",
    "reset_arrivals",
    "show_dag",
    "time_model",
    "time_query",
    "unload_ipython_extension",
    "warehouse_path",
]
