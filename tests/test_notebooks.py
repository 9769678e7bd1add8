"""Every notebook runs in a scratch copy: solutions/ reproduce their stored outputs (nbval) in a copy
of the workspace with a copy of the built warehouse; the intern notebooks run top to bottom unsolved
where interns run them, in a clean copy of the intern edition after its own `make warehouse`; the
real tree is left as it was. New notebooks are picked up automatically.

The notebooks are most of the suite's CPU: this module's first test (run first, tests/conftest.py)
starts them on three background workers, one notebook at a time each: the solutions as two chains
(file-name order, each chain in its own scratch copy, the later chain's copy prepared with what the
earlier notebooks leave for it, see LATE_FROM) and the intern notebooks in their edition copy; the
rest of the suite runs meanwhile, and this module's other tests (run last) collect the results."""

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

from notebook_helpers.answer_files import written_files

SOLUTIONS = sorted(p.name for p in (REPO / "solutions").glob("*.ipynb"))
# The solutions run as two chains side by side, each in file-name order in its own scratch copy: the
# notebooks named before LATE_FROM in one, the rest in the other (5.4, the longest notebook, starts
# it). The later chain's copy starts as the earlier notebooks leave theirs: their answer files (what
# their %%writefile cells write) and the models those define, built; what else they write or build
# they remove again (demo models, replayed arrival files, scratch folders). nbval proves that each
# notebook reproduces its stored outputs in that state.
LATE_FROM = "5_4"
# The background notebook runs (both solution chains, the intern notebooks) run this much nicer than
# the session, their kernels' autogroups included (_NICE_KERNELS): the main thread's tests are the
# longest stream (~300 CPU-s, one test at a time, it cannot be split), so they must get a core whenever
# they want one and the chains fill the rest; three chains then take both cores once it ends. With the
# kernels at nice 0 in their own autogroups, the main stream's tests waited ~120 s for a core and it
# ended alone, 230 s after the chains. Unchanged: DuckDB's and dbt's threads (2 each, as interns have
# them): a full `dbt build` costs the same CPU-s with 1 or 2 DuckDB threads, with or without busy
# processes beside it (no spinning waste to cut).
NICE_BACKGROUND = 10
# ... except the later solution chain, the longest (~200 CPU-s against ~150 and ~150): at nice 8
# (weight 172 against 110 each) it gets ~0.44 of the core the main stream leaves, the share that
# makes the three chains end together; at equal niceness it ended ~50 s after the others, alone.
NICE_LATE_CHAIN = 8
INTERN = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))  # the edition's are generated alike
TIMEOUT = int(os.environ.get("VB_NOTEBOOK_TIMEOUT", "900"))  # seconds per notebook

# nbformat imports jsonschema, which builds a Lark grammar (rfc3987_syntax) at import for its optional
# "iri" format checks: ~2.5 CPU-s per runner process. The notebook schemas use no such format, so both
# runners go without it (course_core.dbt_invoke.skip_rfc3987_import does the same for dbt).
_SKIP_IRI = "import sys\nsys.modules.setdefault('rfc3987_syntax', None)\n"
# jupyter_client starts every kernel in a session of its own (start_new_session), and Linux schedules
# each session as an autogroup (sched_autogroup_enabled=1 on these machines): the kernel's niceness
# then counts only inside its own group, and against the session's tests every kernel weighed as much
# as they did. The runners give the kernel's group their own niceness (course_core.niceness), so what
# the notebooks run (dbt, the generator, the grader) stays as nice as NICE_BACKGROUND asks.
_NICE_KERNELS = """
import jupyter_client.provisioning.local_provisioner as _provisioner
from course_core.niceness import keep_niceness
_launch = _provisioner.launch_kernel
def _launch_as_nice(*args, **kwargs):
    process = _launch(*args, **kwargs)
    keep_niceness(process.pid)
    return process
_provisioner.launch_kernel = _launch_as_nice
"""
_NBVAL = _SKIP_IRI + _NICE_KERNELS + "import pytest\nsys.exit(pytest.main(sys.argv[1:]))\n"
_RUN_TOP_TO_BOTTOM = _SKIP_IRI + _NICE_KERNELS + """
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
    """The background worker the solution notebooks before LATE_FROM run on, one at a time, in
    file-name order (they share one scratch copy)."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notebooks")
    yield pool
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="session")
def late_notebook_worker() -> Iterator[ThreadPoolExecutor]:
    """The background worker of the solution notebooks from LATE_FROM on, in their own copy, beside
    the earlier ones: one chain of all the solutions (~650 CPU-s) made the session as long as it."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="late-notebooks")
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


def early_notebooks_state() -> tuple[dict[str, str], tuple[str, ...]]:
    """What the solution notebooks before LATE_FROM leave in their copy for the later ones: the files
    their %%writefile cells write (path in the copy: content, byte for byte) and a dbt selection of the
    models among them (the notebooks leave those built, on the base data)."""
    files: dict[str, str] = {}
    for name in (n for n in SOLUTIONS if n < LATE_FROM):
        for path, (content, _cells) in written_files(REPO / "solutions" / name).items():
            files[os.path.normpath(os.path.join("solutions", path))] = content
    models = tuple(f"path:{rel.removeprefix('dbt_project/')}" for rel in sorted(files)
                   if rel.startswith("dbt_project/models/") and rel.endswith(".sql"))
    return files, models


def _late_copy(root: Path, warehouse: Path) -> Path:
    files, models = early_notebooks_state()
    return copy_workspace(root, warehouse, files=files, run_also=models)


@pytest.fixture(scope="session")
def solution_runs(request: pytest.FixtureRequest, tmp_path_factory, built_warehouse: Path, tree_before,
                  notebook_worker: ThreadPoolExecutor, late_notebook_worker: ThreadPoolExecutor
                  ) -> dict[str, Future]:
    """nbval of every selected solution notebook: before LATE_FROM in file-name order in the scratch
    copy `solutions_copy`, from LATE_FROM on in file-name order in a copy prepared on their own worker."""
    selected = _selected(request, "test_solution_notebook_reproduces_its_outputs")
    chosen = [name for name in SOLUTIONS if name in selected]
    early = [name for name in chosen if name < LATE_FROM]
    copy = request.getfixturevalue("solutions_copy") if early else None
    runs = {name: notebook_worker.submit(_run, _nbval_command(name), copy, NICE_BACKGROUND) for name in early}
    late = [name for name in chosen if name >= LATE_FROM]
    if late:
        root = tmp_path_factory.mktemp("solutions-late-run")
        late_copy = late_notebook_worker.submit(_late_copy, root, built_warehouse)
        for name in late:  # the copy is ready when the first of them starts (one worker, in order)
            runs[name] = late_notebook_worker.submit(
                lambda n=name: _run(_nbval_command(n), late_copy.result(), NICE_LATE_CHAIN))
    return {name: runs[name] for name in chosen}


def _run(command: list[str], root: Path, nice: int = 0) -> subprocess.CompletedProcess:
    """Run ``command`` in ``root`` (``nice``: that much lower a priority than the session's, for it and
    every process it starts); on a worker thread its CPU-s and wall seconds are listed by VB_TEST_CPU
    (tests/conftest.py), with the copy it ran in, and not charged to the test running meanwhile."""
    what = f"{next((a for a in command if a.endswith('.ipynb')), command[-1])} in {root.name}"
    try:
        return run_measured(["nice", "-n", str(nice), *command] if nice else command, cwd=root,
                            env=scratch_env(root), timeout=TIMEOUT, what=what)
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
    clean copy of the intern edition once its `make warehouse` is done (tests/conftest.py), at scale
    0.05: they prove that each runs top to bottom, its self-check included, not its outputs (nbval
    on solutions/ at scale 1 does that; ``prepare_edition`` says why the small scale is honest)."""
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

    return {name: intern_worker.submit(lambda n=name: _run(_intern_command(n), own_copy(), NICE_BACKGROUND))
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
