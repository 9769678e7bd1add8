"""The untrusted worker's confinement, tried from inside real worker processes (no dbt needed).

Each available isolation level starts a real worker exactly as grading does and asks it what it
can read: the grader cache, the reference, solutions/, another submission's folder and the
trusted folder must all be unreadable; it runs with its own uid (when the grader is root), a
minimal environment and rlimits; it dies with its parent; a worker's death is named by its cause.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from course_core import settings
from grader import isolation
from grader.remote import UntrustedWorker
from grader.zygote import Zygote

ROOT = os.geteuid() == 0
LEVELS = [
    pytest.param("bubblewrap+uid", marks=pytest.mark.skipif(
        not (ROOT and isolation.bwrap_path()),
        reason="needs root and bubblewrap (apt-get install -y bubblewrap)")),
    pytest.param("uid", marks=pytest.mark.skipif(not ROOT, reason="the uid level needs a root grader (CI)")),
    pytest.param("bubblewrap", marks=pytest.mark.skipif(
        ROOT or not isolation.bwrap_path(), reason="non-root bubblewrap level: needs bubblewrap, not root")),
    pytest.param("bubblewrap+uid, forked by grader.zygote", marks=pytest.mark.skipif(
        not (ROOT and isolation.bwrap_path()), reason="the zygote serves the bubblewrap+uid level only")),
]
NEEDS_ZYGOTE = pytest.mark.skipif(not (ROOT and isolation.bwrap_path()),
                                  reason="the zygote serves the bubblewrap+uid level only (root, bubblewrap)")


@pytest.fixture(scope="module")
def zygote() -> Zygote:
    """One worker fork server for the module's tests (as a batch starts one; no warm-up: imports only)."""
    folder = Path(tempfile.mkdtemp(prefix="vb-isolation-zygote-"))
    server = Zygote(folder / "zygote")
    server.start(isolation.worker_env(server.folder, server.folder))
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture()
def tmp_path() -> Path:
    """A folder in the system temp dir (pytest's own is 0700: no other uid could reach a worker in it)."""
    path = Path(tempfile.mkdtemp(prefix="vb-isolation-test-"))
    os.chmod(path, 0o711)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture()
def secrets(tmp_path: Path) -> dict[str, Path]:
    """Stand-ins for what a worker must not read, with the permissions grading gives them."""
    cache = tmp_path / "cache"
    (cache / "key" / "reference").mkdir(parents=True)
    (cache / "key" / "reference" / "answer.sql").write_text("select 'reference'")
    os.chmod(cache, 0o700)
    solutions = tmp_path / "course" / "solutions"
    solutions.mkdir(parents=True)
    (solutions / "5_1.ipynb").write_text("{}")  # world-readable, like a checkout
    other = tmp_path / "grading" / "other-submission"
    other.mkdir(parents=True)
    (other / "job.json").write_text('{"answers": "someone else"}')
    os.chmod(other, 0o700)
    return {"cache": cache / "key" / "reference" / "answer.sql", "solutions": solutions / "5_1.ipynb",
            "other": other / "job.json"}


def _worker(tmp_path: Path, level: str, hide: list[str], zygote: Path | None = None,
            name: str = "sub") -> UntrustedWorker:
    folder = tmp_path / "grading" / name
    folder.mkdir(parents=True)
    os.chmod(tmp_path / "grading", 0o711)
    worker = UntrustedWorker(folder, level=level, cpu_seconds=77, hide=hide, zygote=zygote)
    worker.start()
    return worker


@pytest.mark.parametrize("level", LEVELS)
def test_worker_reads_only_its_own_folders(tmp_path: Path, secrets: dict[str, Path], level: str,
                                           monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest):
    monkeypatch.setenv("VB_GRADER_SECRET_CANARY", "canary")
    hide = [str(secrets["solutions"].parent), str(secrets["cache"].parents[2])]
    forked = level.endswith("grader.zygote")
    zygote = request.getfixturevalue("zygote").socket if forked else None
    worker = _worker(tmp_path, level.split(",")[0], hide, zygote)
    assert (worker.zygote is not None) == forked
    try:
        (worker.trusted / "export.parquet").write_text("trusted copy")
        seen = worker.probe([*map(str, secrets.values()), str(worker.trusted / "export.parquet"),
                             str(worker.stage), str(worker.box / "home"), str(Path(sys.base_prefix) / "lib")])
    finally:
        worker.close()
    readable = seen["readable"]
    for name, path in secrets.items():
        assert readable[str(path)] is False, name
    assert readable[str(worker.trusted / "export.parquet")] is False
    assert readable[str(worker.stage)] and readable[str(worker.box / "home")]
    assert readable[str(Path(sys.base_prefix) / "lib")]  # the interpreter's own files
    assert seen["uid"] not in (0, os.getuid()) and seen["gid"] != 0
    assert "VB_GRADER_SECRET_CANARY" not in seen["env"] and seen["env"]["HOME"].startswith(str(worker.box))
    assert set(seen["env"]) <= {*isolation.worker_env(Path("h"), Path("t")), "PWD"}
    assert seen["limits"]["cpu"] == 77 and seen["limits"]["as"] == isolation.ADDRESS_SPACE
    assert seen["limits"]["nofile"] == isolation.OPEN_FILES and seen["limits"]["nproc"] == isolation.PROCESSES


@NEEDS_ZYGOTE
def test_forked_workers_reach_neither_each_other_nor_the_zygote(tmp_path: Path, secrets: dict[str, Path],
                                                                zygote: Zygote):
    """Two workers forked by one zygote (as for two submissions of a batch, each with its own uid): one
    cannot read the other's workspace, home, inbox (the hidden data handed to it) or trusted folder, nor
    data it was never given, nor the zygote's folder; it sees no process outside its own sandbox and may
    neither signal nor ptrace the processes it sees; the zygote and the sibling carry on."""
    own = _worker(tmp_path, "bubblewrap+uid", [], zygote.socket, "own")
    other = UntrustedWorker(tmp_path / "grading" / "other", level="bubblewrap+uid", cpu_seconds=77, hide=[],
                            zygote=zygote.socket)
    other.folder.mkdir()
    other.uid = other.gid = own.uid + 1  # one trusted process per submission: uids differ while grading
    try:
        other.start()
        source = tmp_path / "hidden-arrival-day.parquet"
        source.write_text("hidden rows")
        given, foreign = own.hand_in(source), other.hand_in(source)
        for path in (other.stage / "model.sql", other.box / "home" / "notes", other.trusted / "e1.parquet"):
            path.write_text("the other submission's")
        public = other.folder / "world-readable.txt"  # only the mount view keeps it out of reach
        public.write_text("the other submission's")
        os.chmod(public, 0o644)
        seen = own.probe([str(given), str(foreign), str(other.stage / "model.sql"),
                          str(other.box / "home" / "notes"), str(other.trusted / "e1.parquet"), str(public),
                          str(secrets["cache"]), str(secrets["solutions"]), str(zygote.folder),
                          str(zygote.socket)])
        assert other.request("hello")["uid"] == other.uid  # the sibling is unharmed
    finally:
        own.close()
        other.close()
    readable = seen["readable"]
    assert readable.pop(str(given)) is True  # what it was given
    assert not any(readable.values()), readable
    assert seen["ppid"] == 0  # its parent is outside its pid namespace
    assert seen["processes"], "the sandbox's own init and launcher should be visible"
    for pid, process in seen["processes"].items():
        assert "grader.zygote" not in process["cmdline"], (pid, process)
        assert process["signal"] == "EPERM" and process["ptrace"] == "EPERM", (pid, process)
    assert zygote.proc.poll() is None


@NEEDS_ZYGOTE
def test_a_forked_worker_dies_with_its_trusted_process_and_on_kill(tmp_path: Path, zygote: Zygote):
    """SIGKILL of the trusted process ends its forked worker (and the zygote's forking child); ``kill()``
    gives the death as a signal, as for a worker started afresh."""
    script = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from grader.remote import UntrustedWorker
        w = UntrustedWorker(Path({str(tmp_path)!r}), level="bubblewrap+uid", cpu_seconds=60, hide=[],
                            zygote=Path({str(zygote.socket)!r}))
        w.start()
        print(w.proc.pid, flush=True)
        time.sleep(120)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    forking = int(parent.stdout.readline())
    worker = int(Path(f"/proc/{forking}/task/{forking}/children").read_text().split()[0])
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    for _ in range(100):
        if not (_alive(worker) or _alive(forking)):
            break
        time.sleep(0.05)
    assert not _alive(worker) and not _alive(forking)
    killed = _worker(tmp_path, "bubblewrap+uid", [], zygote.socket, "killed")
    killed.proc.kill()
    assert killed.proc.wait(timeout=30) == -signal.SIGKILL
    assert isolation.describe_death(killed.proc.returncode, "") == "killed by SIGKILL"
    killed.close()
    assert zygote.proc.poll() is None


def test_worker_dies_with_its_parent(tmp_path: Path):
    """SIGKILL of the trusted process takes the worker with it (PR_SET_PDEATHSIG / --die-with-parent)."""
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from grader.isolation import isolation_level
        from grader.remote import UntrustedWorker
        w = UntrustedWorker(Path({str(tmp_path)!r}), level=isolation_level(), cpu_seconds=60, hide=[])
        w.start()
        print(w.proc.pid, flush=True)
        time.sleep(120)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    for _ in range(100):
        if not _alive(child):
            break
        time.sleep(0.05)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


LIMIT = "import resource; resource.setrlimit(resource.RLIMIT_{}, ({}, {}))\n"


@pytest.mark.parametrize(("code", "expected"), [
    (LIMIT.format("CPU", 1, 5) + "while True: pass", "CPU time limit (SIGXCPU)"),
    (LIMIT.format("AS", 300 * 2**20, 300 * 2**20) + "x = bytearray(2**30)", "memory limit (exit code 1)"),
    ("import os, signal; os.kill(os.getpid(), signal.SIGTERM)", "killed by SIGTERM"),
    ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", "killed by SIGKILL"),
    ("print('Out of Memory Error: failed to allocate block of 262144 bytes')\nraise SystemExit(3)",
     "memory limit (exit code 3)"),
    ("print('Binder Error: no such column')\nraise SystemExit(4)", "exit code 4"),
])
def test_death_is_named_by_its_cause(code: str, expected: str):
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          check=False)
    assert isolation.describe_death(done.returncode, done.stdout + done.stderr) == expected


def test_isolation_level_and_warning(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(settings.GRADER_ISOLATION, "rlimits-only")
    assert isolation.isolation_level() == "rlimits-only"
    monkeypatch.setenv(settings.GRADER_ISOLATION, "no-such-level")
    best = isolation.isolation_level()
    assert best in isolation.LEVELS and ("uid" in best) == ROOT
    assert "WARNING" in isolation.WARNING and "\n" not in isolation.WARNING



def test_trusted_comparison_cannot_be_forged(tmp_path: Path):
    """Attack class 3 on the layer itself: a round() macro planted in the submission's main and a
    view on the catalog name the old comparison attached the reference under change nothing,
    because comparisons run in a fresh DuckDB over exported data."""
    import duckdb

    from grader.answers import Answers
    from grader.api import Fail
    from grader.context import CheckContext
    from grader.remote import ReferenceData, export_reference

    reference = tmp_path / "reference.duckdb"
    con = duckdb.connect(str(reference))
    con.execute("create table m as select range as k, range * 1.5 as v from range(10)")
    con.close()
    export_reference(reference, tmp_path / "reference-data")
    base = tmp_path / "base"
    (base / "dbt_project").mkdir(parents=True)
    con = duckdb.connect(str(base / "warehouse.duckdb"))
    con.execute("create table m as select range as k, range * 2.5 as v from range(10)")  # wrong values
    con.execute("create macro main.round(x, d) as 0")
    con.execute("attach ':memory:' as grader_ref_db")
    con.execute("create table grader_ref_db.main.m as select range as k, range * 1.5 as v from range(10)")
    con.execute("create view main.m_forged as select * from grader_ref_db.main.m")
    con.execute("detach grader_ref_db")
    con.close()
    worker = _worker(tmp_path, isolation.isolation_level(), [])
    try:
        ws = worker.stage_workspace("main", base, {})
        ws.reference_dir = tmp_path / "reference-data"
        ctx = CheckContext("5.1", Answers(), workspace=ws, reference=ReferenceData(ws.reference_dir, worker))
        shadowed = ctx.compare("select * from m", key=["k"])
        assert not shadowed.ok and "9 row(s) differ" in shadowed.message  # k = 0 agrees
        with pytest.raises(Fail, match="cannot be read"):
            ctx.require_same("select * from m_forged", "select * from m", key=["k"])
        assert ctx.require_same("select k, v * 0.6 as v from m", "select * from m", key=["k"])
        assert ctx.query("select round(2.4, 0)") == [(2.0,)]  # the grader's round is DuckDB's
    finally:
        worker.close()
