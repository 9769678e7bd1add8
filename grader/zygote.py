"""A pre-imported fork server for untrusted workers (``bubblewrap+uid`` level): dbt's start-up once per batch.

Starting a worker costs a fresh interpreter that imports dbt, dbt-duckdb and DuckDB (~2 CPU-s) before it
parses anything. The batch starts one **zygote** (``python -P -m grader.zygote SOCKET PARENT``) with the
worker's minimal environment: it imports exactly what a worker imports and nothing else (no job, no
answers, no paths of any submission; it never reads one), makes itself undumpable and waits on a Unix
socket in a root-only folder.

Per submission the trusted grading process starts the same ``bwrap`` sandbox as for a fresh worker,
but bwrap runs a shell that only waits (``launcher``). The trusted process hands the zygote the
sandbox's namespace files (mount, pid, network, ipc, uts, cgroup) and the worker's three pipes; the
zygote forks a child that closes every other descriptor, joins those namespaces (after which its root
is the sandbox's root: the view bwrap built, nothing else) and forks the worker inside the sandbox's pid
namespace. The worker then reads its config as the first line of its stdin and confines itself exactly
as a fresh worker does (``grader.untrusted.serve``: rlimits, own uid, no new privileges). It dies with
the sandbox (its pid namespace ends with the launcher, which ends with the trusted process), with its
forking parent (``PR_SET_PDEATHSIG``), and when the trusted process closes its connection.

A worker cannot reach the zygote: it is in another pid namespace (the zygote has no pid there), runs as
another uid, the socket is in a folder outside its view, and the zygote reads nothing from a worker.
"""

from __future__ import annotations

import io
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from grader import isolation

PR_SET_DUMPABLE = 4
# (name in /proc/<pid>/ns, CLONE_* flag for setns), in the order they are joined (mount last: it
# changes the root the others' paths would be looked up in; pid applies to the next fork)
NAMESPACES = (("ipc", 0x08000000), ("uts", 0x04000000), ("net", 0x40000000), ("cgroup", 0x02000000),
              ("pid", 0x20000000), ("mnt", 0x00020000))
LAUNCHER = ["/bin/sh", "-c", "echo ready; read -r _"]  # waits in the sandbox until its stdin closes
FAILED_SETUP = 71


# ---- the zygote process ------------------------------------------------------------------------------
def preload() -> None:
    """Import what a worker imports for its first dbt invocation (what the zygote forks is warm)."""
    from course_core.dbt_invoke import lighten_dbt, skip_rfc3987_import

    skip_rfc3987_import()
    import duckdb  # noqa: F401

    import grader.untrusted  # noqa: F401
    import grader.workspace  # noqa: F401

    lighten_dbt()
    import dbt.adapters.duckdb.impl  # noqa: F401
    import dbt.cli.main  # noqa: F401
    import dbt.parser.manifest  # noqa: F401
    import dbt.task.build  # noqa: F401
    import dbt.task.compile  # noqa: F401
    import dbt.task.run  # noqa: F401
    import dbt.task.test  # noqa: F401


# Node kinds an answer brings that the starting project may not (analyses, singular tests, exposures,
# seeds, snapshots): dbt validates each parsed node against its class's JSON schema, built on first use
# (and cached per process, lru_cache of 128 classes): ~0.04 CPU-s each in every worker otherwise.
NODE_SCHEMAS = (
    ("dbt.contracts.graph.nodes", ("AnalysisNode", "SingularTestNode", "SeedNode", "SnapshotNode",
                                   "ModelNode", "GenericTestNode")),
    ("dbt.contracts.graph.unparsed", ("UnparsedExposure", "UnparsedAnalysisUpdate", "UnparsedModelUpdate")),
    ("dbt.artifacts.resources", ("NodeConfig", "ModelConfig", "TestConfig", "ExposureConfig", "SeedConfig",
                                 "SnapshotConfig")),
)


def _build_node_schemas() -> None:
    """Build the JSON schemas of NODE_SCHEMAS (a class a dbt upgrade renamed is left out)."""
    import importlib

    for module_name, names in NODE_SCHEMAS:
        module = importlib.import_module(module_name)
        for name in names:
            schema = getattr(getattr(module, name, None), "json_schema", None)
            if schema is not None:
                schema()


def warm_up(base_project: Path, scratch: Path) -> None:
    """One parse of a copy of the starting project (``base_project``: course files only, no data) with a
    few files changed: dbt builds its schemas and (de)serializers once per process, lazily; done here,
    every forked worker has them (~1.5 CPU-s of its first parse)."""
    import shutil

    from grader.workspace import Workspace

    ws = Workspace(scratch)
    shutil.copytree(base_project, ws.project_dir, ignore=shutil.ignore_patterns("target", "logs"))
    state = base_project / "target" / "partial_parse.msgpack"
    if state.is_file():
        (ws.project_dir / "target").mkdir()
        shutil.copyfile(state, ws.project_dir / "target" / "partial_parse.msgpack")
    ws._write_profile()
    ws.file_log = False
    # changed (dbt strips a file before it hashes it: a comment, not a blank line): parsed again, like
    # answer files, so that the schemas dbt validates parsed nodes with are built here, once
    for pattern, comment in (("models/**/*.yml", "#"), ("models/**/*.sql", "--"), ("tests/*.sql", "--"),
                             ("macros/**/*.sql", "--"), ("analyses/*.sql", "--")):
        for path in sorted(ws.project_dir.glob(pattern))[:2]:
            path.write_text(path.read_text(encoding="utf-8") + f"\n{comment} warm-up\n", encoding="utf-8")
    ws.parse()
    _build_node_schemas()
    for command in ("run", "test"):  # on an empty warehouse: they fail, but their code paths are warm
        ws.dbt(command, "--select", "stg_customers")
    shutil.rmtree(scratch, ignore_errors=True)
    import gc
    from multiprocessing import resource_tracker

    from dbt.adapters.factory import reset_adapters

    reset_adapters()  # the warm-up's adapter and its lock (a semaphore) go now, not in a worker
    gc.collect()
    resource_tracker._resource_tracker._stop()  # that lock started it; a worker starts its own


def main(argv: list[str]) -> int:
    """Serve fork requests on the socket ``argv[0]`` until the batch (pid ``argv[1]``) ends; ``argv[2]``
    (optional): the starting project to warm dbt up on."""
    import gc

    path, parent = Path(argv[0]), int(argv[1])
    isolation.die_with_parent(parent)
    isolation._check(isolation._libc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl(PR_SET_DUMPABLE)")
    preload()
    if len(argv) > 2:
        warm_up(Path(argv[2]), path.parent / "warm-up")
    gc.collect()
    gc.freeze()  # what the zygote holds stays shared with the forks (their collections skip it)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    os.chmod(path, 0o600)
    listener.listen(64)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    _serve(listener, wake_r)
    return 0


def _serve(listener: socket.socket, wake_r: int) -> None:
    select = selectors.DefaultSelector()
    select.register(listener, selectors.EVENT_READ, "accept")
    select.register(wake_r, selectors.EVENT_READ, "child")
    children: dict[int, socket.socket] = {}
    while True:
        for key, _ in select.select():
            if key.data == "accept":
                conn, _ = listener.accept()
                pid = _spawn(conn)
                if pid is None:
                    conn.close()
                    continue
                children[pid] = conn
                select.register(conn, selectors.EVENT_READ, pid)
            elif key.data == "child":
                os.read(wake_r, 4096)
            else:  # the trusted process asks to kill, or is gone: the child goes
                select.unregister(key.fileobj)
                try:
                    os.kill(key.data, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            conn = children.pop(pid, None)
            if conn is None:
                continue
            try:
                select.unregister(conn)
            except (KeyError, ValueError):
                pass
            try:
                conn.sendall(f"status {status}\n".encode())
            except OSError:
                pass
            conn.close()


def _spawn(conn: socket.socket) -> int | None:
    """Fork one worker for the request on ``conn`` (three pipes + the sandbox's namespace files)."""
    try:
        conn.settimeout(10)
        _msg, fds, _flags, _addr = socket.recv_fds(conn, 1024, 16)
    except OSError:
        return None
    if len(fds) != 3 + len(NAMESPACES):
        for fd in fds:
            os.close(fd)
        return None
    sys.stdout.flush()
    sys.stderr.flush()
    zygote = os.getpid()
    pid = os.fork()
    if pid == 0:
        try:
            _child(fds, zygote)
        except BaseException:  # noqa: BLE001 - never return into the zygote's loop
            os._exit(FAILED_SETUP)
        os._exit(FAILED_SETUP)
    for fd in fds:
        os.close(fd)
    try:
        conn.sendall(f"pid {pid}\n".encode())
    except OSError:
        pass
    return pid


def _child(fds: list[int], zygote: int) -> None:
    """(forked) Join the sandbox, then fork the worker inside its pid namespace and mirror its end."""
    isolation.die_with_parent(zygote)
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    stdin, protocol, log, *namespaces = fds
    for target, fd in enumerate((stdin, protocol, log)):
        os.dup2(fd, target)  # 0: requests, 1: replies, 2: the worker's log
    keep = {0, 1, 2, *namespaces}
    for fd in [int(n) for n in os.listdir("/proc/self/fd")]:  # the listener, other connections, pipes
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
    libc = isolation._libc()
    for (name, flag), fd in zip(NAMESPACES, namespaces, strict=True):
        isolation._check(libc.setns(fd, flag), f"setns({name})")
        os.close(fd)
    os.chdir("/")  # setns(mnt) made the sandbox's root this process's root
    worker = os.fork()
    if worker == 0:
        _worker()
        os._exit(0)
    for fd in (0, 1):
        os.close(fd)
    _pid, status = os.waitpid(worker, 0)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
        time.sleep(1)
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else FAILED_SETUP)


def _worker() -> None:
    """(forked, inside the sandbox) Become a fresh worker: its config and environment only."""
    import tempfile

    from grader import untrusted

    isolation.die_with_parent()
    requests = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8")
    config = json.loads(requests.readline())
    env = config.pop("env")
    os.environ.clear()
    os.environ.update(env)
    tempfile.tempdir = None  # looked up again in the worker's own TMPDIR
    sys.argv = [sys.argv[0]]
    os.chdir(config["box"])
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", line_buffering=True)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8", line_buffering=True)
    code = untrusted.serve(config, requests)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


# ---- the batch's side --------------------------------------------------------------------------------
class Zygote:
    """The batch's zygote process (``start``/``stop``); ``socket`` is what grading processes connect to."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.socket = folder / "zygote.sock"
        self.proc: subprocess.Popen | None = None

    def start(self, env: dict[str, str], base_project: Path | None = None) -> None:
        """Start the zygote and wait until it listens (its imports and warm-up done)."""
        self.folder.mkdir(mode=0o700, exist_ok=True)
        os.chmod(self.folder, 0o700)
        warm = [str(base_project)] if base_project is not None else []
        self.proc = subprocess.Popen(
            [sys.executable, "-P", "-m", "grader.zygote", str(self.socket), str(os.getpid()), *warm],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=open(self.folder / "zygote.log", "wb"),  # noqa: SIM115
            cwd=self.folder, env=env, close_fds=True)
        if self.proc.stdout.readline() != b"ready\n":
            self.stop()
            raise OSError("the worker fork server did not start")

    def cpu_seconds(self) -> float:
        """CPU seconds the zygote itself used (its imports; its workers are not counted)."""
        if self.proc is None:
            return 0.0
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(") ", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        """Kill the zygote (its workers die with their sandboxes)."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self.proc.stdout.close()
            self.proc = None


class ForkFailed(OSError):
    """No worker was forked (sandbox or fork server gone): the caller starts a fresh worker instead."""


# ---- the trusted grading process's side ----------------------------------------------------------------
class ForkedWorker:
    """A worker forked by the zygote into a bwrap sandbox, with the ``subprocess.Popen`` members the
    trusted side uses (``stdin``, ``stdout``, ``pid``, ``poll``, ``wait``, ``kill``, ``returncode``)."""

    def __init__(self, zygote: Path, sandbox: list[str], config: dict[str, Any], env: dict[str, str],
                 log: Any, cwd: Path):
        info_r, info_w = os.pipe()
        self.sandbox = subprocess.Popen([*sandbox[:1], "--info-fd", str(info_w), *sandbox[1:]],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, cwd=cwd,
                                        env=env, close_fds=True, pass_fds=(info_w,))
        os.close(info_w)
        self.returncode: int | None = None
        self.conn: socket.socket | None = None
        self.stdin: Any = None
        self.stdout: Any = None
        with os.fdopen(info_r, "rb") as info:
            text = info.read()
        ready = self.sandbox.stdout.readline()
        if ready != b"ready\n" or not text:
            self._fail("the worker sandbox did not start")
        inside = int(json.loads(text)["child-pid"])
        spaces = [os.open(f"/proc/{inside}/ns/{name}", os.O_RDONLY) for name, _flag in NAMESPACES]
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        try:
            if self.sandbox.poll() is not None:
                self._fail("the worker sandbox ended early")
            self.conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.conn.connect(str(zygote))
            socket.send_fds(self.conn, [b"fork"], [in_r, out_w, log.fileno(), *spaces])
        except OSError as error:
            for fd in (in_r, in_w, out_r, out_w):
                os.close(fd)
            self._fail(f"the worker fork server is not reachable ({error.strerror})")
        finally:
            for fd in spaces:
                os.close(fd)
        os.close(in_r)
        os.close(out_w)
        self.stdin = os.fdopen(in_w, "wb")
        self.stdout = os.fdopen(out_r, "rb")
        self._replies = self.conn.makefile("rb")
        line = self._replies.readline()
        if not line.startswith(b"pid "):
            self._fail("the worker fork server did not fork")
        self.pid = int(line.split()[1])
        self.stdin.write((json.dumps({**config, "env": env}) + "\n").encode("utf-8"))
        self.stdin.flush()

    def _fail(self, message: str) -> None:
        self.kill()
        raise ForkFailed(message)

    def poll(self) -> int | None:
        """The exit code once the worker ended (negative: the signal that killed it), else None."""
        if self.returncode is None and self.conn is not None:
            self.conn.setblocking(False)
            try:
                self._read_status()
            except (BlockingIOError, OSError):
                pass
            finally:
                if self.conn is not None:
                    self.conn.setblocking(True)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the worker's end (``subprocess.TimeoutExpired`` after ``timeout``)."""
        if self.returncode is None and self.conn is not None:
            self.conn.settimeout(timeout)
            try:
                self._read_status()
            except TimeoutError:
                raise subprocess.TimeoutExpired("grader worker", timeout or 0) from None
            finally:
                if self.conn is not None:
                    self.conn.settimeout(None)
        if self.returncode is None:
            self.returncode = -signal.SIGKILL
        self._end_sandbox()
        return self.returncode

    def _read_status(self) -> None:
        line = self._replies.readline()
        if line.startswith(b"status "):
            self.returncode = os.waitstatus_to_exitcode(int(line.split()[1]))
        elif not line:
            self.returncode = -signal.SIGKILL  # the zygote is gone, and with it the worker
        if self.returncode is not None:
            self._replies.close()
            self.conn.close()
            self.conn = None

    def kill(self) -> None:
        """SIGKILL the worker: the zygote kills its forking parent, the sandbox ends (pid namespace)."""
        if self.conn is not None:
            try:
                self.conn.sendall(b"kill\n")
            except OSError:
                pass
        self._end_sandbox()

    def _end_sandbox(self) -> None:
        if self.sandbox.poll() is None:
            self.sandbox.kill()
        self.sandbox.wait()
        isolation.close_pipes(self.sandbox)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
