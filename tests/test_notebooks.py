"""Every notebook runs in a scratch copy: solutions/ reproduce their stored outputs (nbval) in a copy
of the workspace with a copy of the built warehouse; the intern notebooks run top to bottom unsolved
where interns run them, in a clean copy of the intern edition after its own `make warehouse`; the
real tree is left as it was. New notebooks are picked up automatically.

The notebooks are the suite's longest stream: this module's first test (run first, tests/conftest.py)
starts them on one background worker, one at a time (the solutions in file-name order, then the
intern notebooks); the rest of the suite runs meanwhile on the other core, and this module's other
tests (run last) collect the results."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import REPO, copy_workspace, repoint_raw_views, run_measured, scratch_env

SOLUTIONS = sorted(p.name for p in (REPO / "solutions").glob("*.ipynb"))
INTERN = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))  # the edition's are generated alike
TIMEOUT = int(os.environ.get("VB_NOTEBOOK_TIMEOUT", "900"))  # seconds per notebook

# nbformat imports jsonschema, which builds a Lark grammar (rfc3987_syntax) at import for its optional
# "iri" format checks: ~2.5 CPU-s per runner process. The notebook schemas use no such format, so both
# runners go without it (course_core.dbt_invoke.skip_rfc3987_import does the same for dbt).
_SKIP_IRI = "import sys\nsys.modules.setdefault('rfc3987_syntax', None)\n"
_NBVAL = _SKIP_IRI + "import pytest\nsys.exit(pytest.main(sys.argv[1:]))\n"
_RUN_TOP_TO_BOTTOM = _SKIP_IRI + """
import sys
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
notebook = nbformat.read(sys.argv[1], as_version=4)
client = NotebookClient(notebook, timeout=int(sys.argv[2]), kernel_name="python3",
                        resources={"metadata": {"path": "notebooks"}})
try:
    client.execute()
except CellExecutionError as error:
    print(str(error)[-4000:])
    sys.exit(1)
"""


WRITABLE = ("dbt_project", "solutions", "notebooks", "datasets")  # where a notebook could write


def _tree_state(root: Path) -> dict[str, object]:
    """Content hash of every tracked or untracked-but-not-ignored file where notebooks could write,
    plus the dev warehouse and arrival files (ignored by git, but notebooks must not touch them)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *WRITABLE],
        cwd=root, capture_output=True, check=True,
    ).stdout.decode().split("\0")
    state: dict[str, object] = {}
    for name in filter(None, listed):
        path = root / name
        state[name] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
    warehouse = root / "dbt_project" / "warehouse"
    raw = root / "datasets" / "raw"
    for folder in (warehouse, raw / "clickstream"):
        for path in sorted(folder.glob("*")) if folder.is_dir() else []:
            state[str(path.relative_to(root))] = (path.stat().st_mtime_ns, path.stat().st_size)
    return state


@pytest.fixture(scope="session")
def tree_before(repo_root: Path) -> dict[str, object]:
    """The real tree before any notebook ran (and before the rest of the suite ran beside them)."""
    return _tree_state(repo_root)


@pytest.fixture(scope="session")
def solutions_copy(tmp_path_factory, built_warehouse: Path, tree_before) -> Path:
    return copy_workspace(tmp_path_factory.mktemp("solutions-run"), built_warehouse)


@pytest.fixture(scope="session")
def notebook_worker() -> Iterator[ThreadPoolExecutor]:
    """The background worker the solution notebooks run on, one at a time, in file-name order (they
    share one scratch copy). They are the session's longest chain (~650 of its ~1,200 CPU-s)."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notebooks")
    yield pool
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="session")
def intern_worker() -> Iterator[ThreadPoolExecutor]:
    """A second background worker for the intern notebooks (~280 CPU-s), one at a time, beside the
    solutions: they run in their own copy of the edition, so the two chains share nothing; queued after
    the solutions they made the session as long as both chains end to end."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="intern-notebooks")
    yield pool
    pool.shutdown(wait=True, cancel_futures=True)


def _selected(request: pytest.FixtureRequest, test: str) -> set[str]:
    """The notebook names of the selected cases of ``test`` (so ``-k`` runs only those notebooks)."""
    return {item.callspec.params["name"] for item in request.session.items
            if getattr(item, "originalname", None) == test and hasattr(item, "callspec")}


@pytest.fixture(scope="session")
def solution_runs(request: pytest.FixtureRequest, solutions_copy: Path,
                  notebook_worker: ThreadPoolExecutor) -> dict[str, Future]:
    """nbval of every selected solution notebook, in file-name order, in the one scratch copy."""
    chosen = _selected(request, "test_solution_notebook_reproduces_its_outputs")
    return {name: notebook_worker.submit(_run, _nbval_command(name), solutions_copy)
            for name in SOLUTIONS if name in chosen}


def _run(command: list[str], root: Path) -> subprocess.CompletedProcess:
    """Run ``command`` in ``root``; on a worker thread its CPU-s and wall seconds are listed by
    VB_TEST_CPU (tests/conftest.py) and not charged to the test running meanwhile."""
    try:
        return run_measured(command, cwd=root, env=scratch_env(root), timeout=TIMEOUT,
                            what=next((a for a in command if a.endswith(".ipynb")), command[-1]))
    except subprocess.TimeoutExpired:
        pytest.fail(f"{' '.join(command[-3:])} ran longer than {TIMEOUT} s (VB_NOTEBOOK_TIMEOUT)")


def _intern_command(name: str) -> list[str]:
    return [sys.executable, "-c", _RUN_TOP_TO_BOTTOM, f"notebooks/{name}", str(TIMEOUT)]


def _nbval_command(name: str) -> list[str]:
    return [sys.executable, "-c", _NBVAL, "--nbval", "-q", "-p", "no:cacheprovider",
            "--nbval-cell-timeout", str(TIMEOUT), f"solutions/{name}"]


@pytest.fixture(scope="session")
def intern_runs(request: pytest.FixtureRequest, edition_future: Future, tree_before, solution_runs,
                intern_worker: ThreadPoolExecutor) -> dict[str, Future]:
    """The selected intern notebooks, on their own worker beside the solutions, one at a time, in a
    clean copy of the intern edition once its `make warehouse` is done (tests/conftest.py)."""
    chosen = _selected(request, "test_intern_notebook_runs_top_to_bottom")
    copies: list[Path] = []

    def own_copy() -> Path:
        """The intern notebooks run in their own copy of the edition: other tests (the edition's
        self-check on its unsolved state) keep the clean one."""
        if not copies:
            edition = edition_future.result()
            target = edition.parent / "notebooks-run"
            shutil.copytree(edition, target, symlinks=True)
            repoint_raw_views(target)
            copies.append(target)
        return copies[0]

    return {name: intern_worker.submit(lambda n=name: _run(_intern_command(n), own_copy()))
            for name in INTERN if name in chosen}


@pytest.mark.slow
@pytest.mark.run_first  # starts the notebooks in the background; this module's other tests run last
def test_scratch_copy_imports_its_own_packages(solutions_copy: Path, solution_runs: dict[str, Future],
                                               intern_runs: dict[str, Future]):
    probe = (
        "import datasets, grader, notebook_helpers as h; "
        "print(h.repo_root()); print(h.warehouse_path()); print(h.raw_dir()); "
        "print(grader.__file__); print(datasets.__file__)"
    )
    done = _run([sys.executable, "-c", probe], solutions_copy)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == str(solutions_copy.resolve())
    assert lines[1] == str(solutions_copy.resolve() / "dbt_project" / "warehouse" / "dev.duckdb")
    assert all(line.startswith(str(solutions_copy)) for line in lines), lines


@pytest.mark.slow
@pytest.mark.parametrize("name", SOLUTIONS)
def test_solution_notebook_reproduces_its_outputs(name: str, solution_runs: dict[str, Future]):
    done = solution_runs[name].result()
    report = done.stdout[-6000:] + done.stderr[-2000:]
    assert done.returncode == 0, f"nbval failed for solutions/{name}:\n{report}"


@pytest.mark.slow
@pytest.mark.parametrize("name", INTERN)
def test_intern_notebook_runs_top_to_bottom(name: str, intern_runs: dict[str, Future]):
    done = intern_runs[name].result()
    assert done.returncode == 0, f"notebooks/{name} raised:\n{done.stdout}{done.stderr[-2000:]}"


@pytest.mark.slow
def test_running_notebooks_left_the_real_tree_unchanged(repo_root: Path, tree_before, solution_runs,
                                                       intern_runs):
    for run in [*solution_runs.values(), *intern_runs.values()]:  # every notebook has finished
        run.exception()
    after = _tree_state(repo_root)
    changed = sorted(k for k in set(tree_before) | set(after) if tree_before.get(k) != after.get(k))
    assert not changed, f"notebook runs changed the real tree: {changed}"
