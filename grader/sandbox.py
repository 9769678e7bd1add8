"""DuckDB settings that contain untrusted SQL, and the process limits of a grading worker.

Intern SQL runs with external access disabled and the configuration locked: no file reads or
writes (raw data is loaded into the warehouse as tables beforehand), no ATTACH of files, no
INSTALL/LOAD of extensions, no COPY, and memory, spill space and query time capped.
"""

from __future__ import annotations

import resource
from pathlib import Path

import duckdb

MEMORY_LIMIT = "2GB"
SPILL_LIMIT = "2GB"
ADDRESS_SPACE_LIMIT = 8 * 1024**3
# One runaway query (e.g. a join that fans out to billions of rows, as the seed's 5.3 mart does)
# fails on its own instead of eating the whole submission's time limit and the other exercises.
QUERY_TIME_LIMIT_MS = 120_000


def duckdb_config(temp_dir: Path, *, threads: int = 1) -> dict[str, str | bool | int]:
    """Connection config for any connection that runs or reads intern SQL."""
    return {
        "enable_external_access": False,
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "allow_community_extensions": False,
        "memory_limit": MEMORY_LIMIT,
        "max_temp_directory_size": SPILL_LIMIT,
        "max_execution_time": QUERY_TIME_LIMIT_MS,
        "temp_directory": str(temp_dir),
        "threads": threads,
        "lock_configuration": True,
    }


def sandboxed_connect(path: Path, temp_dir: Path, *, read_only: bool = True,
                      attach: Path | None = None) -> duckdb.DuckDBPyConnection:
    """Open a warehouse with the sandbox configuration (read-only by default).

    ``attach``: a second warehouse attached read-only as ``grader_ref_db``; it is the only file
    the connection may open (its WAL path included, which DuckDB checks even when absent).
    """
    temp_dir.mkdir(parents=True, exist_ok=True)
    if attach is None:
        return duckdb.connect(str(path), read_only=read_only, config=duckdb_config(temp_dir))
    config = {k: v for k, v in duckdb_config(temp_dir).items()
              if k not in ("enable_external_access", "lock_configuration")}
    con = duckdb.connect(str(path), read_only=read_only, config=config)
    target = str(attach).replace("'", "''")
    con.execute(f"set allowed_paths = ['{target}', '{target}.wal']")
    con.execute("set enable_external_access = false")
    con.execute(f"attach '{target}' as grader_ref_db (read_only)")
    con.execute("set lock_configuration = true")
    return con


def limit_process_memory(limit_bytes: int = ADDRESS_SPACE_LIMIT) -> None:
    """Cap the address space of this process (a worker), so a runaway query cannot take the machine."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    new_hard = limit_bytes if hard == resource.RLIM_INFINITY else min(hard, limit_bytes)
    resource.setrlimit(resource.RLIMIT_AS, (min(limit_bytes, new_hard), new_hard))
