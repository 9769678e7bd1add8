"""The one way the course runs dbt: in-process (``dbtRunner``) or, where isolation needs its own
process, as a CLI subprocess. Both return a :class:`course_core.dbt_result.DbtOutcome`.

In-process (about 0.3-0.6 s per call after the first, against 2.3 s+ for a CLI start) is used by the
notebooks and by the grader's confined worker (itself a separate, sandboxed process started by
grader.remote, which gets the outcome back through ``DbtOutcome.to_dict``/``from_dict``). After every
in-process call dbt-duckdb's database is closed (:func:`course_core.dbt_release.release_dbt_duckdb`),
so no DuckDB lock outlives the call. The subprocess mode (ops workflows) needs no release at all; its
dbt is dbt's own command line started by :mod:`course_core.dbt_cli` (:func:`dbt_command`), as is every
dbt process the course starts.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

from course_core.dbt_release import release_dbt_duckdb
from course_core.dbt_result import DbtOutcome, last_error_line, outcome_of, short_message
from course_core.dbt_result import node_results_from_json as nodes_from_json

# dbt and jupysql send no usage statistics (every mode)
TELEMETRY_OFF = {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DO_NOT_TRACK": "1",
    "PLOOMBER_STATS_ENABLED": "false",
}
# the environment of an in-process dbt that prints quietly and parses partially
QUIET_ENV = {
    **TELEMETRY_OFF,
    "DBT_PARTIAL_PARSE": "true",
    "DBT_USE_COLORS": "false",
    "DBT_PRINTER_WIDTH": "100",
}
NOT_FOUND_HINT = "activate the course venv (.venv/bin/dbt)"


class DbtNotFound(RuntimeError):
    """The dbt executable could not be started (subprocess mode)."""


# ---- in-process -----------------------------------------------------------------------------------
def invoke(
    args: Sequence[str],
    project_dir: Path,
    *,
    profiles_dir: Path | None = None,
    flags: Sequence[str] = (),
    manifest: Any = None,
    callbacks: Sequence[Callable[[Any], None]] = (),
    capture: bool = False,
    collect: bool = True,
    env: Mapping[str, str] | None = None,
) -> tuple[Any, str]:
    """Run ``dbt <args>`` in this process with ``project_dir`` as working directory, then release
    dbt-duckdb's database whatever happened. Returns (dbtRunnerResult, what dbt printed if ``capture``).

    ``flags`` go right after the command (``["--quiet"]``); ``manifest``: a parsed manifest to reuse
    (no re-parse); ``callbacks``: dbt event callbacks; ``collect``: see ``release_dbt_duckdb``;
    ``env``: variables set in ``os.environ`` while dbt runs (what a subprocess would get; restored after).
    An exception dbt raises instead of reporting propagates (after the release).
    """
    skip_rfc3987_import()  # a notebook kernel's first dbt call: ~1.5 CPU-s less
    from dbt.cli.main import dbtRunner

    args = [str(a) for a in args]
    command = [*args[:1], *flags, *args[1:], "--project-dir", str(project_dir),
               "--profiles-dir", str(profiles_dir or project_dir)]
    runner = dbtRunner(manifest=manifest, callbacks=list(callbacks))
    buffer = io.StringIO()
    here = os.getcwd()
    saved = {key: os.environ.get(key) for key in env or {}}
    try:
        os.environ.update(env or {})
        os.chdir(project_dir)
        if capture:
            with redirect_stdout(buffer), redirect_stderr(buffer):
                result = runner.invoke(command)
        else:
            result = runner.invoke(command)
    finally:
        os.chdir(here)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        release_dbt_duckdb(collect=collect)
    return result, buffer.getvalue()


def run(args: Sequence[str], project_dir: Path, **options: Any) -> DbtOutcome:
    """:func:`invoke` (same options; output captured) as a :class:`DbtOutcome`; never raises for dbt."""
    args = [str(a) for a in args]
    options.setdefault("capture", True)
    try:
        result, output = invoke(args, project_dir, **options)
    except Exception as error:  # noqa: BLE001 - dbt raised instead of reporting
        return DbtOutcome(False, [], f"dbt {args[0] if args else ''} failed: {short_message(str(error))}",
                          args=args)
    return outcome_of(result, args, output)


def skip_rfc3987_import() -> None:
    """Keep jsonschema (imported by dbt) from importing ``rfc3987_syntax``, which builds a Lark grammar
    at import: about 1.5 CPU-s per process. jsonschema imports it only for its optional "iri" format
    checks, inside ``suppress(ImportError)``; neither dbt nor the grader uses them. No-op once
    jsonschema is imported."""
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def lighten_dbt() -> None:
    """Before a dbt invocation: ``skip_rfc3987_import``, look for dbt plugin modules once per process
    instead of once per invocation (a scan of all of sys.path; the installed modules do not change
    while a worker runs), and name a behavior flag's source without reading the stack's source code."""
    skip_rfc3987_import()
    from dbt.plugins.manager import PluginManager

    if "_course_found" not in PluginManager.__dict__:
        found = PluginManager.get_prefixed_modules()
        PluginManager._course_found = found
        PluginManager.get_prefixed_modules = classmethod(lambda _cls: dict(found))
    from dbt_common.behavior_flags import BehaviorFlagRendered

    if BehaviorFlagRendered._default_source is not _module_of_caller:
        BehaviorFlagRendered._default_source = staticmethod(_module_of_caller)


def _module_of_caller() -> str:
    """dbt_common's ``BehaviorFlagRendered._default_source`` without ``inspect.stack()``: the name of
    the first module on the stack outside dbt_common.behavior_flags (what it reports for a flag with no
    source: the adapter's module). inspect.stack() reads every frame's source lines, ~15 ms per
    adapter, once for every dbt invocation."""
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_globals.get("__name__")
        if name and name != "dbt_common.behavior_flags" and name in sys.modules:
            return name
        frame = frame.f_back
    return "Unknown"


# ---- subprocess -----------------------------------------------------------------------------------
# Runs before dbt in the child: ask Linux for SIGKILL when the parent dies (PR_SET_PDEATHSIG = 1,
# kept across exec), give up if the parent is already gone, then become dbt.
_DIE_WITH_PARENT = (
    "import ctypes, os, sys; ctypes.CDLL(None).prctl(1, 9); "
    "os.getppid() == int(sys.argv[1]) or sys.exit(137); os.execvp(sys.argv[2], sys.argv[2:])"
)


def dbt_executable() -> str:
    """One executable that runs dbt, for callers that build their own command line: the venv's
    ``dbt-light`` script (course_core.dbt_cli, installed with the course), else the dbt next to the
    running Python (the venv), else dbt on PATH. :func:`dbt_command` needs no install."""
    here = Path(sys.executable).parent
    for name in ("dbt-light", "dbt"):
        if (here / name).exists():
            return str(here / name)
    return "dbt"


def dbt_command() -> list[str]:
    """The command line that starts dbt (arguments follow): the light dbt CLI of course_core.dbt_cli
    run by this Python when dbt is importable here, else :func:`dbt_executable`."""
    from importlib.util import find_spec

    try:
        found = find_spec("dbt.cli") is not None
    except ImportError:  # no dbt package at all
        found = False
    return [sys.executable, str(Path(__file__).with_name("dbt_cli.py"))] if found else [dbt_executable()]


def run_subprocess(
    args: Sequence[str],
    project_dir: Path,
    target_path: Path,
    env: Mapping[str, str] | None = None,
    profiles_dir: Path | None = None,
    die_with_parent: bool = False,
) -> DbtOutcome:
    """Run ``dbt <args>`` as a CLI subprocess (cwd ``project_dir``, its own target/log folders).

    The outcome carries ``returncode``, ``output`` (stdout + stderr), ``target_path`` and the nodes of
    the run_results.json this call wrote. ``die_with_parent``: on Linux, dbt is SIGKILLed when this
    process dies (no orphan keeps writing). Raises :class:`DbtNotFound` when dbt cannot be started.
    """
    args = [str(a) for a in args]
    target_path = Path(target_path).resolve()
    target_path.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **TELEMETRY_OFF, **(env or {})}
    cmd = [*dbt_command(), *args, "--target-path", str(target_path),
           "--log-path", str(target_path / "logs"), "--profiles-dir", str(profiles_dir or project_dir)]
    if die_with_parent and sys.platform == "linux":
        if shutil.which(cmd[0]) is None:
            raise DbtNotFound(f"cannot run dbt ({cmd[0]} not found): {NOT_FOUND_HINT}")
        cmd = [sys.executable, "-c", _DIE_WITH_PARENT, str(os.getpid()), *cmd]
    started = time.time()
    try:
        proc = subprocess.run(cmd, cwd=project_dir, env=full_env, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise DbtNotFound(f"cannot run dbt ({exc}): {NOT_FOUND_HINT}") from exc
    output = proc.stdout + proc.stderr
    results = target_path / "run_results.json"
    fresh = results.is_file() and results.stat().st_mtime >= started - 1
    nodes = nodes_from_json(results) if fresh else []
    error = "" if proc.returncode == 0 else f"dbt {args[0] if args else ''} failed: {last_error_line(output)}"
    return DbtOutcome(proc.returncode == 0, nodes, error, args=args, output=output,
                      returncode=proc.returncode, target_path=target_path)
