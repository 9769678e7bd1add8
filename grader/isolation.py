"""How the untrusted worker is confined: isolation level, minimal environment, launch, limits, death.

Levels (strongest first), chosen per machine and stated in every report:

- ``bubblewrap+uid`` (grader runs as root, ``bwrap`` present): new mount/pid/network/ipc/uts
  namespaces showing only the worker's own folders, the Python install, the venv and the few
  grader modules the worker runs; inside, the worker drops to a uid/gid of its own.
- ``bubblewrap`` (not root, ``bwrap`` present): the same namespaces (``--unshare-all``), own user.
- ``uid`` (root, no ``bwrap``): a private mount namespace that hides ``/root`` (the Python install
  is bound back read-only), ``solutions/``, the grader cache and the exercise modules behind empty
  read-only tmpfs mounts, then a uid/gid of its own (workspace chowned to it).
- ``rlimits-only`` (neither): only the environment and the resource limits; a warning is printed.

Every level: explicit minimal environment, rlimits (CPU seconds, address space, file size, open
files, processes when the worker has its own uid), and the worker dies with its parent
(``PR_SET_PDEATHSIG`` and ``bwrap --die-with-parent``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from course_core.dbt_invoke import QUIET_ENV

LEVELS = ("bubblewrap+uid", "bubblewrap", "uid", "rlimits-only")
ADDRESS_SPACE = 8 * 1024**3
FILE_SIZE = 4 * 1024**3
OPEN_FILES = 1024
PROCESSES = 256
UID_BASE = 1_000_000  # worker uid = UID_BASE + pid of the trusted process (unique while it lives)
WORKER_MODULES = ("__init__.py", "isolation.py", "untrusted.py", "dbt_runner.py", "sandbox.py",
                  "workspace.py")
# the course_core modules the worker imports (its dbt invocation layer); nothing else of the repo
CORE_WORKER_MODULES = ("__init__.py", "dbt_invoke.py", "dbt_release.py", "dbt_result.py")
TELEMETRY_OFF = QUIET_ENV  # the same quiet dbt environment as the in-process runner
WARNING = ("WARNING: grading untrusted submissions without isolation (not root and no bubblewrap): "
           "submitted code runs as you and can read your files; install bubblewrap or grade as root")

PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def die_with_parent(parent_pid: int | None = None) -> None:
    """SIGKILL this process when its parent dies (even by SIGKILL); exit now if it already has."""
    if not sys.platform.startswith("linux"):
        return
    _check(_libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(70)


def bwrap_path() -> str | None:
    """The bubblewrap binary, if installed and able to create namespaces here (probed once)."""
    return _probe_bwrap(os.geteuid() == 0)


@lru_cache(maxsize=2)
def _probe_bwrap(as_root: bool) -> str | None:
    path = shutil.which("bwrap")
    if not path:
        return None
    probe = [path, *_namespace_flags(as_root), "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev",
             "true"]
    try:
        done = subprocess.run(probe, capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return path if done.returncode == 0 else None


def _namespace_flags(as_root: bool) -> list[str]:
    # As root no user namespace: the worker must drop to a real host uid inside (a user namespace
    # created by root would map the sandbox user to host root).
    if as_root:
        return ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
                "--die-with-parent"]
    return ["--unshare-all", "--die-with-parent"]


def isolation_level() -> str:
    """The strongest level available here (``VB_GRADER_ISOLATION`` may only ask for a weaker one)."""
    root = os.geteuid() == 0
    bwrap = bwrap_path() is not None
    best = ("bubblewrap+uid" if bwrap else "uid") if root else ("bubblewrap" if bwrap else "rlimits-only")
    from course_core.settings import grader_isolation_override  # trusted side only (not in the worker)

    wanted = grader_isolation_override()  # force a weaker level (tests, debugging)
    if wanted in LEVELS and LEVELS.index(wanted) >= LEVELS.index(best) and _possible(wanted, root, bwrap):
        return wanted
    return best


def _possible(level: str, root: bool, bwrap: bool) -> bool:
    return (("uid" not in level or root) and ("bubblewrap" not in level or bwrap)
            and not (level == "bubblewrap" and root))


def worker_env(home: Path, tmp: Path) -> dict[str, str]:
    """The whole environment of a worker: nothing inherited from the grader."""
    return {
        "PATH": "/usr/bin:/bin",  # dbt runs in-process; nothing is looked up on PATH
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "USER": "grader-worker",
        "LOGNAME": "grader-worker",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "PYTHONSAFEPATH": "1",
        **TELEMETRY_OFF,
    }


def python_paths() -> list[Path]:
    """Folders the worker's interpreter needs: the Python install and the venv (resolved)."""
    paths = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(),
             Path(sys.executable).resolve().parent}
    paths = {p for p in paths if p.exists()}
    return sorted(p for p in paths if not any(p != q and p.is_relative_to(q) for q in paths))


def package_dir() -> Path:
    """The grader package folder (the worker sees only WORKER_MODULES of it)."""
    return Path(__file__).resolve().parent


def core_dir() -> Path:
    """The course_core package folder (the worker sees only CORE_WORKER_MODULES of it)."""
    import course_core

    return Path(course_core.__file__).resolve().parent


def worker_module_paths() -> list[Path]:
    """Every source file the confined worker may import from this repository."""
    return [package_dir() / n for n in WORKER_MODULES] + [core_dir() / n for n in CORE_WORKER_MODULES]


def launch_command(level: str, config: dict[str, Any], *, stage: Path, box: Path, inbox: Path,
                   command: list[str] | None = None) -> list[str]:
    """argv that starts the untrusted worker at ``level`` (``config`` goes to grader.untrusted);
    ``command``: run that in the same sandbox instead (grader.zygote's launcher)."""
    worker = command or [sys.executable, "-P", "-m", "grader.untrusted", json.dumps(config, sort_keys=True)]
    if "bubblewrap" not in level:
        return worker
    bwrap = bwrap_path()
    assert bwrap, "bubblewrap level without bwrap"
    args = [bwrap, *_namespace_flags(os.geteuid() == 0)]
    for name in ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    for name in ("ld.so.cache", "localtime", "nsswitch.conf"):
        path = Path("/etc") / name
        if path.exists():
            args += ["--ro-bind", str(path), str(path)]
    binds = [("--ro-bind", p) for p in python_paths()] + [("--ro-bind", p) for p in worker_module_paths()]
    binds += [("--bind", stage), ("--bind", box), ("--ro-bind", inbox)]
    args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/dev/shm",
             "--perms", "1777", "--tmpfs", "/tmp"]
    # folders leading to the binds: traversable by the worker's uid (bwrap would copy host modes)
    dests = [Path(p) for _, p in binds]
    parents = sorted({a for d in dests for a in d.parents if a != Path("/")
                      and not any(a == x or a.is_relative_to(x) for x in dests)}, key=lambda a: len(a.parts))
    for parent in parents:
        args += ["--perms", "0755", "--dir", str(parent)]
    for kind, path in binds:
        args += [kind, str(path), str(path)]
    return [*args, "--chdir", str(box), *worker]


def worker_limits(cpu_seconds: float, own_uid: bool) -> dict[str, int]:
    """The rlimits of a worker (processes only when it has a uid of its own: NPROC counts per user)."""
    limits = {"cpu": max(30, int(cpu_seconds)), "as": ADDRESS_SPACE, "fsize": FILE_SIZE, "nofile": OPEN_FILES}
    if own_uid:
        limits["nproc"] = PROCESSES
    return limits


def apply_limits(limits: dict[str, int]) -> None:
    """Lower this process's rlimits (never raises one above its current hard limit)."""
    table = {"cpu": resource.RLIMIT_CPU, "as": resource.RLIMIT_AS, "fsize": resource.RLIMIT_FSIZE,
             "nofile": resource.RLIMIT_NOFILE, "nproc": resource.RLIMIT_NPROC}
    for key, value in limits.items():
        which = table[key]
        _soft, hard = resource.getrlimit(which)
        # CPU: soft limit -> SIGXCPU (named in the death message), hard a little later -> SIGKILL
        new_hard = value + 10 if key == "cpu" else value
        if hard != resource.RLIM_INFINITY:
            new_hard = min(hard, new_hard)
        resource.setrlimit(which, (min(value, new_hard), new_hard))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def drop_privileges(uid: int, gid: int) -> None:
    """Become ``uid``/``gid`` for good (no supplementary groups, no new privileges)."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.getuid() != uid or os.geteuid() != uid or os.getgid() != gid:
        raise OSError("could not drop privileges")
    _check(_libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")


def hide_paths(hide: list[str], expose: list[str]) -> None:
    """(root, ``uid`` level) A private mount namespace: empty read-only tmpfs over each ``hide``
    path; ``expose`` paths under a hidden one are bound back read-only (e.g. the Python install)."""
    libc = _libc()
    _check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    hidden = [Path(h) for h in hide if Path(h).is_dir()]
    keep: dict[Path, int] = {}
    for path in (Path(e) for e in expose):
        if any(path.is_relative_to(h) for h in hidden) and path.exists():
            keep[path] = os.open(path, os.O_PATH)
    for target in sorted(hidden, key=lambda p: len(p.parts)):
        if any(target.is_relative_to(h) and target != h for h in hidden):
            continue
        _check(libc.mount(b"tmpfs", str(target).encode(), b"tmpfs", MS_NOSUID | MS_NODEV,
                          b"mode=0755,size=1m"), f"mount tmpfs on {target}")
        for path, fd in keep.items():
            if path.is_relative_to(target):
                path.mkdir(parents=True, exist_ok=True)
                source = f"/proc/self/fd/{fd}".encode()
                _check(libc.mount(source, str(path).encode(), None, MS_BIND | MS_REC, None), f"bind {path}")
                _check(libc.mount(b"none", str(path).encode(), None, MS_REMOUNT | MS_BIND | MS_RDONLY, None),
                       f"read-only {path}")
        _check(libc.mount(b"none", str(target).encode(), None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV,
                          None), f"read-only {target}")
    for fd in keep.values():
        os.close(fd)


def chown_tree(path: Path, uid: int, gid: int) -> None:
    """Give a freshly prepared folder (no untrusted code ran in it yet) to the worker's uid."""
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


# ---- why a process died ---------------------------------------------------------------------------
_MEMORY = re.compile(
    r"MemoryError|Out of Memory Error|std::bad_alloc|failed to allocate|Cannot allocate memory",
    re.IGNORECASE)
_SIGNAL_CAUSE = {
    signal.SIGXCPU: "CPU time limit",
    signal.SIGXFSZ: "file size limit",
}


def close_pipes(process: Any) -> None:
    """Close a finished process's stdin and stdout pipes (one already broken is no error)."""
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass


def describe_death(returncode: int | None, log_text: str) -> str:
    """The real cause of a worker's death, for a report: signal by name, or a limit that was hit."""
    memory = bool(_MEMORY.search(log_text or ""))
    if returncode is None:
        return "no exit status"
    if returncode < 0:
        try:
            sig = signal.Signals(-returncode)
        except ValueError:
            return f"killed by signal {-returncode}"
        if sig in _SIGNAL_CAUSE:
            return f"{_SIGNAL_CAUSE[sig]} ({sig.name})"
        if memory:
            return f"memory limit ({sig.name})"
        return f"killed by {sig.name}"
    if memory:
        return f"memory limit (exit code {returncode})"
    return f"exit code {returncode}"
