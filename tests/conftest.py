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
# waited for, setup and teardown included), then each background run (the notebooks, the edition's
# `make warehouse`) with its own CPU-s and wall seconds, and the session's total. CPU-s, unlike
# --durations' wall seconds, are not inflated by other work on the machine. A background run is reaped
# by its worker thread while some test runs on the main thread: RUSAGE_CHILDREN then grows by that run's
# CPU, so `run_measured` measures it (os.wait4) and the report subtracts it from that test. A child still
# running (a Jupyter kernel a module fixture keeps, a worker pool) counts as it goes (/proc), not all at
# once for the test during which it is reaped; a background run's process tree is left out until reaped.
# The grader's bubblewrap workers never reach RUSAGE_CHILDREN: a thread reads their CPU every half second.
_CPU: dict[str, float] = {}
_WALL: dict[str, tuple[float, float]] = {}  # nodeid -> (started, ended), s into the session
_SESSION_START = time.monotonic()
BACKGROUND_TIMES: list[tuple[str, float, float, float]] = []  # (what, started, ended, CPU-s) per run
_BACKGROUND_LOCK = threading.Lock()  # held while a background run is reaped and while a test reads the clocks
_BACKGROUND_CPU = [0.0]  # CPU-s of every background run reaped so far
_BACKGROUND_PIDS: set[int] = set()  # background runs not reaped yet
_SCAN_LOCK = threading.Lock()
_SANDBOXES: dict[tuple[int, str], int] = {}  # (pid, start time) of a sandbox's init -> its tree's CPU ticks
_SCAN_CPU = [0.0]  # CPU-s this process spent reading /proc for the report


def _cpu_now() -> float:
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


_SESSION_CPU_START = _cpu_now()


def _descendants_cpu(skip: set[int]) -> float:
    """CPU-s so far of this process's descendants that are still running (or not reaped yet), each with
    its own reaped children, leaving out the trees under ``skip``: what RUSAGE_CHILDREN gets later. A
    bubblewrap sandbox with its own pid namespace (the grader's workers) never reaches RUSAGE_CHILDREN
    (bwrap does not reap its sandbox's init): its tree's CPU-s at the last scan (``_SANDBOXES``, kept
    by ``_sample`` every half second) are counted instead, also once it is gone."""
    thread_cpu = time.thread_time()
    parent, spent, started, comm = {}, {}, {}, {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as stat:
                    head, _, tail = stat.read().rpartition(")")
            except OSError:  # gone meanwhile
                continue
            fields, pid = tail.split(), int(name)
            parent[pid] = int(fields[1])  # ppid; utime stime cutime cstime: fields 14-17; starttime 22
            spent[pid] = sum(int(f) for f in fields[11:15])
            started[pid], comm[pid] = fields[19], head.partition("(")[2]
    children: dict[int, list[int]] = {}
    for pid, ppid in parent.items():
        children.setdefault(ppid, []).append(pid)

    def tree(root: int) -> int:
        todo, ticks = [root], 0
        while todo:
            pid = todo.pop()
            ticks += spent[pid]
            todo += children.get(pid, [])
        return ticks

    with _SCAN_LOCK:
        own_ns, ticks = os.readlink("/proc/self/ns/pid"), 0
        todo = [pid for pid in children.get(os.getpid(), []) if pid not in skip]
        while todo:
            pid = todo.pop()
            try:
                sandbox = comm[parent[pid]] == "bwrap" and os.readlink(f"/proc/{pid}/ns/pid") != own_ns
            except OSError:
                sandbox = False
            if sandbox:
                key = (pid, started[pid])
                _SANDBOXES[key] = max(_SANDBOXES.get(key, 0), tree(pid))
                continue
            ticks += spent[pid]
            todo += [child for child in children.get(pid, []) if child not in skip]
        ticks += sum(_SANDBOXES.values())
        _SCAN_CPU[0] += time.thread_time() - thread_cpu  # the measuring's own CPU, left out of the tests'
    return ticks / os.sysconf("SC_CLK_TCK")


def _sample() -> None:
    """Every half second, the sandboxes' CPU-s (a sandbox that comes and goes within one test counts)."""
    while True:
        with _BACKGROUND_LOCK:
            skip = set(_BACKGROUND_PIDS)
        _descendants_cpu(skip)
        time.sleep(0.5)


def pytest_configure(config) -> None:
    if os.environ.get("VB_TEST_CPU"):
        threading.Thread(target=_sample, name="cpu-sampler", daemon=True).start()


def cpu_snapshot() -> tuple[float, float]:
    """(this process + its children, reaped or running, of which background runs) CPU-s, read together."""
    with _BACKGROUND_LOCK:
        children = _descendants_cpu(_BACKGROUND_PIDS)
        return _cpu_now() - _SCAN_CPU[0] + children, _BACKGROUND_CPU[0]


def charged_cpu(before: tuple[float, float], after: tuple[float, float]) -> float:
    """A test's CPU-s between two snapshots: everything, less the background runs reaped meanwhile."""
    return (after[0] - before[0]) - (after[1] - before[1])


def run_measured(command: list[str], *, cwd: Path, env: dict[str, str], timeout: float | None = None,
                 capture: bool = True, what: str | None = None) -> subprocess.CompletedProcess:
    """``subprocess.run(command, capture_output=capture, text=True, timeout=timeout)``, reaped with
    os.wait4 to know the run's own CPU-s (its reaped descendants included). On a worker thread the run
    is background work: listed with its CPU-s and wall seconds (``what`` names it) and not charged to
    the test running meanwhile. On timeout the child is killed and TimeoutExpired raised, as in run."""
    started = time.monotonic()
    pipe = subprocess.PIPE if capture else None
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=pipe, stderr=pipe, text=True)
    output: dict[str, str] = {}
    readers = [threading.Thread(target=lambda n=name, f=stream: output.__setitem__(n, f.read()), daemon=True)
               for name, stream in (("stdout", proc.stdout), ("stderr", proc.stderr)) if stream is not None]
    for reader in readers:
        reader.start()
    background = threading.current_thread() is not threading.main_thread()
    if background:
        with _BACKGROUND_LOCK:
            _BACKGROUND_PIDS.add(proc.pid)
    deadline = None if timeout is None else started + timeout
    timed_out, pause, pid = False, 0.005, 0
    try:
        while True:
            with _BACKGROUND_LOCK:  # reaped and counted in one step: a test never sees one alone
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    cpu = usage.ru_utime + usage.ru_stime
                    if background:
                        _BACKGROUND_CPU[0] += cpu
                        _BACKGROUND_PIDS.discard(pid)
                    break
            if deadline is not None and not timed_out and time.monotonic() > deadline:
                proc.kill()
                timed_out = True
            time.sleep(pause)
            pause = min(pause * 2, 0.1)
    except BaseException:  # interrupted (Ctrl-C): the child goes too, as with subprocess.run
        if not pid:
            proc.kill()
            proc.wait()
            with _BACKGROUND_LOCK:
                _BACKGROUND_PIDS.discard(proc.pid)
        raise
    proc.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join()
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    ended = time.monotonic()
    if background:
        BACKGROUND_TIMES.append((what or " ".join(command[-1:]), started, ended, cpu))
    if timed_out:
        raise subprocess.TimeoutExpired(command, timeout, output.get("stdout"), output.get("stderr"))
    return subprocess.CompletedProcess(command, proc.returncode, output.get("stdout"), output.get("stderr"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    if not os.environ.get("VB_TEST_CPU"):
        yield
        return
    before, started = cpu_snapshot(), time.monotonic() - _SESSION_START
    yield
    _CPU[item.nodeid] = charged_cpu(before, cpu_snapshot())
    _WALL[item.nodeid] = (started, time.monotonic() - _SESSION_START)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    wanted = os.environ.get("VB_TEST_CPU")
    if not wanted or not _CPU:
        return
    top = sorted(_CPU.items(), key=lambda kv: -kv[1])[: int(wanted) if wanted.isdigit() else 40]
    total = sum(_CPU.values())
    terminalreporter.write_sep("=", f"CPU-s per test, wall s, from (s into the session) (top {len(top)}; "
                                    f"all tests: {total:.1f} CPU-s)")
    for nodeid, cpu in top:
        started, ended = _WALL[nodeid]
        terminalreporter.write_line(f"{cpu:8.1f}  {ended - started:8.1f}  {started:7.1f}  {nodeid}")
    # wall far above CPU-s: the test waited for background work or for a core (its own jobs compete with
    # the notebook workers), or slept
    waits = sorted(((e - s) - _CPU[n], n, s) for n, (s, e) in _WALL.items() if (e - s) - _CPU[n] > 30)
    if waits:
        terminalreporter.write_sep("=", "tests that waited > 30 s, for background work or a core "
                                            "(wall - CPU-s, from)")
        for waited, nodeid, started in reversed(waits):
            terminalreporter.write_line(f"{waited:8.1f}  {started:7.1f}  {nodeid}")
    background = sum(cpu for *_, cpu in BACKGROUND_TIMES)
    if BACKGROUND_TIMES:
        terminalreporter.write_sep("=", "background runs: CPU-s, wall s (from .. to, s into the session)")
        for what, started, ended, cpu in BACKGROUND_TIMES:
            since = started - _SESSION_START
            terminalreporter.write_line(f"{cpu:8.1f}  {ended - started:8.1f}  {since:7.1f} .. "
                                        f"{ended - _SESSION_START:7.1f}  {what}")
    sandboxes = sum(_SANDBOXES.values()) / os.sysconf("SC_CLK_TCK")  # CPU-s RUSAGE_CHILDREN never got
    session_cpu, wall = _cpu_now() - _SESSION_CPU_START + sandboxes, time.monotonic() - _SESSION_START
    rest = session_cpu - total - background  # collection, the worker threads' own Python, reading /proc
    terminalreporter.write_sep(
        "=", f"session: {session_cpu:.1f} CPU-s in {wall:.1f} s wall = tests {total:.1f} + background "
             f"{background:.1f} + the rest {rest:.1f}; {session_cpu / (2 * wall):.0%} of 2 cores")


@pytest.fixture(scope="session", autouse=True)
def _temp_reachable_by_workers(tmp_path_factory: pytest.TempPathFactory) -> None:
    """As root, the grader's worker runs under a uid of its own and must reach the folders tests
    grade in: pytest's base temp (/tmp/pytest-of-root/pytest-N, mode 0700) gets traverse permission
    for others (0711: no listing), as /tmp has. Without bubblewrap, the worker's uid level refuses a
    closed parent (grader.remote), which made every test grading under tmp_path fail."""
    if os.geteuid() != 0:
        return
    base = tmp_path_factory.getbasetemp()
    for folder in (base.parent, base):
        os.chmod(folder, os.stat(folder).st_mode | 0o011)


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


def copy_workspace(dest: Path, warehouse: Path | None = None, files: dict[str, str] | None = None,
                   run_also: tuple[str, ...] = (), *, parse_state: bool = False) -> Path:
    """Copy the workspace into ``dest`` (no dbt target/ or logs/), with ``warehouse`` as its dev.duckdb,
    plus ``files`` (path relative to ``dest``: text) and the models ``run_also`` selects built in it
    (in the one dbt run that re-points the raw views); with ``parse_state`` also dbt's partial-parse
    file, so the copy's first dbt parses only what differs (dbt checks that file itself and parses
    everything when it does not fit)."""
    dest.mkdir(parents=True, exist_ok=True)
    for part in WORKSPACE_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, dest / part, ignore=shutil.ignore_patterns(*_SKIP_NAMES))
    state = REPO / "dbt_project" / "target" / "partial_parse.msgpack"
    if parse_state and state.is_file():
        (dest / "dbt_project" / "target").mkdir(exist_ok=True)
        shutil.copy2(state, dest / "dbt_project" / "target" / state.name)
    for name in ("pyproject.toml", "requirements.txt"):
        shutil.copy2(REPO / name, dest / name)
    for rel, text in (files or {}).items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_text(text, encoding="utf-8")
    if warehouse is not None:
        target = dest / "dbt_project" / "warehouse" / "dev.duckdb"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(warehouse, target)
        wal = warehouse.with_name(warehouse.name + ".wal")
        if wal.exists():
            shutil.copy2(wal, target.with_name(target.name + ".wal"))
        repoint_raw_views(dest, run_also)
    return dest


def repoint_raw_views(root: Path, run_also: tuple[str, ...] = ()) -> None:
    """Rebuild the views that read raw files so they read ``root``'s data (views store absolute
    paths): what `make warehouse` does after the repository folder moved; ``run_also`` selects more."""
    args = ["run", "--quiet", "-s", "source:vyaparbazaar_raw+1,config.materialized:view", *run_also]
    if threading.current_thread() is threading.main_thread():  # dbt in this process: no CLI start-up
        done = dbt_here(args, root / "dbt_project", env=scratch_env(root))
        assert done.returncode == 0, done.stdout[-3000:]
        return
    from course_core.dbt_invoke import dbt_command

    done = run_measured([*dbt_command(), *args], cwd=root / "dbt_project", env=scratch_env(root),
                        capture=False, what=f"dbt run (raw views) in {root.name}")
    done.check_returncode()


def dbt_here(args: list[str], project: Path, *, env: dict[str, str] | None = None,
             unset: tuple[str, ...] = _VB_VARS) -> subprocess.CompletedProcess:
    """Real dbt run in this process (main thread): no CLI start-up (~4 CPU-s each) where a test needs
    dbt's work, not its command line. ``env`` is set and ``unset`` removed meanwhile; the project's own
    profiles.yml is used. Output captured; returncode 0 when dbt succeeded."""
    from course_core.dbt_invoke import invoke

    with pytest.MonkeyPatch.context() as mp:
        for key in unset:
            mp.delenv(key, raising=False)
        for key, value in (env or {}).items():
            mp.setenv(key, value)
        result, output = invoke(args, project, capture=True)
    return subprocess.CompletedProcess(["dbt", *args], 0 if result.success else 1, output, "")


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
def grader_cache(tmp_path_factory) -> Path:
    """One grader cache (VB_GRADER_CACHE) for the session's gradings of this course at the default seed and
    scale: prepared once (hidden data, base and reference builds: ~20 CPU-s), kept out of $HOME. A
    preparation is keyed by its content (seed, scale, generator, starting project, reference answers)."""
    return tmp_path_factory.mktemp("grader-cache")


@pytest.fixture(scope="session")
def release_build(tmp_path_factory):
    """The intern edition built from this checkout (folder and zip), never modified by a test."""
    from grader.release import release

    # leaks do not stop this build: tests/test_release.py names them, the other tests still run
    return release(tmp_path_factory.mktemp("release") / "intern-edition", make_zip=True, log=lambda _m: None,
                   refuse_leaks=False)


# The scale the tests' edition copy is built at (`make warehouse SCALE=...`; interns get scale 1).
EDITION_SCALE = "0.05"


def prepare_edition(release_folder: Path, root: Path) -> Path:
    """A clean copy of the edition at ``root`` after its own `make warehouse` (generator at seed 42,
    dbt build). The one step skipped is pip: the copy uses this checkout's .venv (same pins).

    Built at scale ``EDITION_SCALE``, not the interns' default 1: the edition's users here prove that
    its set-up works from a clean copy, that its self-check reports an unsolved exercise gracefully, and
    that every unsolved intern notebook runs top to bottom; none compares an output with scale-1 data
    (nbval on solutions/, at scale 1, does that), and the same Makefile rule runs at scale 1 in every
    `make warehouse` of the repository. Scale 0.05 has a twentieth of the rows (1,000 customers, 3,000
    orders), which roughly halves the edition's `make warehouse` and the intern notebooks' builds,
    replays and queries; no intern notebook relies on the scale (an intern may pick another one)."""
    shutil.copytree(release_folder, root)
    (root / ".venv").symlink_to(REPO / ".venv", target_is_directory=True)
    (root / ".state").mkdir(exist_ok=True)  # make -n in an earlier test may have made it
    (root / ".state" / "venv.ok").touch()
    env = scratch_env(root) | {"MAKEFLAGS": ""}
    done = run_measured(["make", "warehouse", f"SCALE={EDITION_SCALE}"], cwd=root, env=env, timeout=1200,
                        what="the edition's make warehouse")
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
