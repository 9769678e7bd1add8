"""Shared fixtures: the repo root, a built warehouse, scratch copies of the workspace."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# What a notebook needs to run: the dbt project, the data, the notebooks and what they import.
WORKSPACE_PARTS = (
    "dbt_project", "datasets", "solutions", "notebooks",
    "course_core", "notebook_helpers", "grader", "ops", "stakeholder_docs",
)
_SKIP_NAMES = ("__pycache__", ".ipynb_checkpoints", "target", "logs", "*.duckdb", "*.duckdb.wal", "*.tmp")
_VB_VARS = (
    "VB_DUCKDB_PATH", "VB_WAREHOUSE_DIR", "VB_PROD_DUCKDB_PATH", "VB_RAW_DIR", "VB_TARGET", "VB_REPO_ROOT",
)
# The environment the session started with: what background work (the notebook runs) sees, never a
# variable that a test running meanwhile on the main thread has monkeypatched.
SESSION_ENV = dict(os.environ)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test marked ``run_first`` starts background work (tests/test_notebooks.py: the notebooks): it
    runs before every other test, and the rest of its module, which collects that work, runs last."""
    first = [item for item in items if item.get_closest_marker("run_first")]
    modules = {item.path for item in first}
    last = [item for item in items if item.path in modules and item not in first]
    items[:] = first + [item for item in items if item.path not in modules] + last


# `VB_TEST_CPU=N pytest ...` prints the N tests that used most CPU (this process + the subprocesses it
# waited for, setup and teardown included; background work, the notebook runs, counts where it ran):
# CPU-s, unlike --durations' wall seconds, are not inflated by other work on the machine.
_CPU: dict[str, float] = {}
_SESSION_START = time.monotonic()
BACKGROUND_TIMES: list[tuple[str, float, float]] = []  # (what, started, ended): the notebook worker's runs


def _cpu_now() -> float:
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    if not os.environ.get("VB_TEST_CPU"):
        yield
        return
    before = _cpu_now()
    yield
    _CPU[item.nodeid] = _cpu_now() - before


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    wanted = os.environ.get("VB_TEST_CPU")
    if not wanted or not _CPU:
        return
    top = sorted(_CPU.items(), key=lambda kv: -kv[1])[: int(wanted) if wanted.isdigit() else 40]
    total = sum(_CPU.values())
    terminalreporter.write_sep("=", f"CPU-s per test (top {len(top)}; all tests: {total:.1f} CPU-s)")
    for nodeid, cpu in top:
        terminalreporter.write_line(f"{cpu:8.1f}  {nodeid}")
    if BACKGROUND_TIMES:
        terminalreporter.write_sep("=", "background work: wall s per run (from .. to, s into the session)")
        for what, started, ended in BACKGROUND_TIMES:
            terminalreporter.write_line(f"{ended - started:8.1f}  {started - _SESSION_START:7.1f} .. "
                                        f"{ended - _SESSION_START:7.1f}  {what}")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository under test."""
    return REPO


def built_warehouse_path() -> Path:
    """The dev warehouse built by make (or the file ``VB_DUCKDB_PATH`` names, for development)."""
    override = os.environ.get("VB_DUCKDB_PATH")
    return Path(override) if override else REPO / "dbt_project" / "warehouse" / "dev.duckdb"


@pytest.fixture(scope="session")
def built_warehouse() -> Path:
    """A built dev warehouse to copy from (never opened or modified); skips when there is none."""
    path = built_warehouse_path()
    if not path.is_file() or not (REPO / "datasets" / "raw" / "_manifest.json").is_file():
        pytest.skip(f"no built warehouse at {path} (or no raw data): run `make warehouse` first")
    return path


def copy_workspace(dest: Path, warehouse: Path | None = None) -> Path:
    """Copy the workspace into ``dest`` (no dbt target/ or logs/), with ``warehouse`` as its dev.duckdb."""
    dest.mkdir(parents=True, exist_ok=True)
    for part in WORKSPACE_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, dest / part, ignore=shutil.ignore_patterns(*_SKIP_NAMES))
    for name in ("pyproject.toml", "requirements.txt"):
        shutil.copy2(REPO / name, dest / name)
    if warehouse is not None:
        target = dest / "dbt_project" / "warehouse" / "dev.duckdb"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(warehouse, target)
        wal = warehouse.with_name(warehouse.name + ".wal")
        if wal.exists():
            shutil.copy2(wal, target.with_name(target.name + ".wal"))
        repoint_raw_views(dest)
    return dest


def repoint_raw_views(root: Path) -> None:
    """Rebuild the views that read raw files so they read ``root``'s data (views store absolute
    paths): what `make warehouse` does after the repository folder moved."""
    from course_core.dbt_invoke import dbt_command

    subprocess.run(
        [*dbt_command(), "run", "--quiet", "-s", "source:vyaparbazaar_raw+1,config.materialized:view"],
        cwd=root / "dbt_project", env=scratch_env(root), check=True,
    )


def scratch_env(root: Path) -> dict[str, str]:
    """Environment for a subprocess working in the scratch copy ``root``: its own packages,
    its own HOME, default paths (no VB_* overrides), no telemetry, no display, and none of the outer
    pytest's PYTEST_* options (an nbval run there is a pytest of its own)."""
    # no MPLBACKEND: kernels then use the inline backend, as in JupyterLab (Agg would drop stored figures)
    base = os.environ if threading.current_thread() is threading.main_thread() else SESSION_ENV
    env = {k: v for k, v in base.items()
           if k not in _VB_VARS and k != "MPLBACKEND" and not k.startswith(("JUPYTER", "PYTEST_"))}
    home = root / "home"
    home.mkdir(exist_ok=True)
    env.update(
        PYTHONPATH=str(root),
        HOME=str(home),
        PLOOMBER_STATS_ENABLED="false",
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DO_NOT_TRACK="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


@pytest.fixture(scope="session")
def release_build(tmp_path_factory):
    """The intern edition built from this checkout (folder and zip), never modified by a test."""
    from grader.release import release

    # leaks do not stop this build: tests/test_release.py names them, the other tests still run
    return release(tmp_path_factory.mktemp("release") / "intern-edition", make_zip=True, log=lambda _m: None,
                   refuse_leaks=False)


def prepare_edition(release_folder: Path, root: Path) -> Path:
    """A clean copy of the edition at ``root`` after its own `make warehouse` (generator at seed 42
    scale 1, dbt build). The one step skipped is pip: the copy uses this checkout's .venv (same pins)."""
    import subprocess

    shutil.copytree(release_folder, root)
    (root / ".venv").symlink_to(REPO / ".venv", target_is_directory=True)
    (root / ".state").mkdir(exist_ok=True)  # make -n in an earlier test may have made it
    (root / ".state" / "venv.ok").touch()
    env = scratch_env(root) | {"MAKEFLAGS": ""}
    started = time.monotonic()
    done = subprocess.run(["make", "warehouse"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=1200)
    BACKGROUND_TIMES.append(("the edition's make warehouse", started, time.monotonic()))
    output = done.stdout[-3000:] + done.stderr[-3000:]
    assert done.returncode == 0, f"make warehouse failed in the edition:\n{output}"
    return root


@pytest.fixture(scope="session")
def edition_future(tmp_path_factory, release_build):
    """``prepare_edition`` started in the background (tests/test_notebooks.py overlaps it with the
    solution notebooks); ``.result()`` is the ready copy, or raises what went wrong."""
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=1)
    root = tmp_path_factory.mktemp("edition") / "intern-edition"
    yield pool.submit(prepare_edition, release_build.folder, root)
    pool.shutdown(wait=True)


@pytest.fixture(scope="session")
def edition_ready(edition_future) -> Path:
    """The edition copy after `make warehouse` (shared by tests/test_notebooks.py and test_release.py)."""
    return edition_future.result()
