"""Run a GitHub Actions workflow locally, in a sandbox copy of the repository.

    python -m ops.workflow_run dbt_project/ci/dbt_ci.yml [--event pull_request|push|both]
                               [--time-limit SECONDS] [--keep] [--repo DIR]

For each event, a fresh sandbox: a git clone whose `main` is the repository's last commit
(or the copy, outside git) and whose branch `wf-runner/changes` carries the working tree
(your uncommitted changes); `origin/main` resolves. pull_request = that branch checked out,
into main; push = main fast-forwarded to it. The workflow's `run:` steps execute there with
its `env:` (workflow, job, step), `defaults.run`, `working-directory`, `shell`, `if:`,
`timeout-minutes`, `continue-on-error`, `$GITHUB_ENV`/`$GITHUB_PATH`/`$GITHUB_OUTPUT` and the
`${{ }}` expressions of ops.workflow_expr. `uses:` steps: actions/checkout (the sandbox is
the checkout), actions/setup-python (the course's Python), actions/upload-artifact (lists
the files it would upload); any other action is skipped with the reason.

Nothing outside the sandbox changes: steps get their own venv (the course venv's packages
are visible through a .pth file, so `pip install -r requirements.txt` and `pip install -e .`
are satisfied by the installed packages; pip keeps your pip configuration and cache), their
own HOME, no VB_*/DBT_* variables from your shell, and the sandbox is deleted afterwards
(unless --keep). Exit code 1 when a step fails.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from course_core import settings
from course_core.niceness import keep_niceness
from ops.dbt_invoke import OpsError, cli_main
from ops.workflow_check import load_workflow
from ops.workflow_expr import ExprError, condition, interpolate, to_str

EVENTS = ("pull_request", "push")
BRANCH = "wf-runner/changes"
DEFAULT_TIME_LIMIT = 1800.0
TAIL_LINES = 15
# Not copied into the sandbox (besides what .gitignore ignores): generated or private.
_SKIP = shutil.ignore_patterns(
    ".git", ".venv", ".state", "__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".ruff_cache",
    "target", "logs", "dbt_packages", "*.duckdb", "*.duckdb.wal", "*.duckdb.tmp", "raw", "raw.*", "hidden",
)
_DROPPED_ENV = ("VB_", "DBT_", "GITHUB_", "RUNNER_", "JPY_", "COVERAGE_")
_GIT = ["git", "-c", "user.name=wf-runner", "-c", "user.email=wf-runner@localhost",
        "-c", "init.defaultBranch=main", "-c", "advice.detachedHead=false", "-c", "core.hooksPath=/dev/null"]


@dataclass
class StepResult:
    """One step: status is ok, failed, timed out, cancelled or skipped; note says why or what."""

    job: str
    name: str
    status: str
    seconds: float = 0.0
    note: str = ""
    tail: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "skipped")


@dataclass
class EventRun:
    """The workflow run for one event."""

    event: str
    triggered: bool
    steps: list[StepResult] = field(default_factory=list)
    seconds: float = 0.0
    reason: str = ""
    sandbox: str = ""

    @property
    def ok(self) -> bool:
        return self.triggered and not self.reason and all(s.ok for s in self.steps)

    @property
    def failed(self) -> list[StepResult]:
        return [s for s in self.steps if not s.ok]


@dataclass
class WorkflowRun:
    """Every event's run of one workflow."""

    workflow: str
    runs: list[EventRun]
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.runs) and all(r.ok for r in self.runs)

    def format(self, tail: bool = True) -> str:
        return "\n\n".join(format_event(r, tail) for r in self.runs)


# ---------------------------------------------------------------- sandbox


def _git(args: Sequence[str], cwd: Path, check: bool = True) -> str:
    done = subprocess.run([*_GIT, *args], cwd=cwd, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise OpsError(f"git {' '.join(args[:2])} failed in the sandbox: {done.stderr.strip()[-300:]}")
    return done.stdout.strip()


def _is_git_repo(root: Path) -> bool:
    done = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-toplevel", "HEAD"],
                          capture_output=True, text=True)
    return done.returncode == 0 and Path(done.stdout.splitlines()[0]).resolve() == root.resolve()


def _copy_working_tree(root: Path, dest: Path, git: bool) -> None:
    """Tracked and untracked-but-not-ignored files of root (all but generated ones outside git)."""
    if not git:
        shutil.copytree(root, dest, ignore=_SKIP, symlinks=True, dirs_exist_ok=True)
        return
    listed = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "-co", "--exclude-standard"],
                            capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = root / rel
        if src.is_symlink() or src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel, follow_symlinks=False)


def make_origin(root: Path, dest: Path, overlay: dict[str, str] | None = None,
                working_tree: bool = True) -> Path:
    """A git repo at dest: main = root's last commit (or the copy), BRANCH = the working tree
    (or, with working_tree=False, the last commit again) + overlay."""
    dest.mkdir(parents=True)
    git = _is_git_repo(root)
    _git(["init", "-q"], dest)
    if git:
        archive = subprocess.run(["git", "-C", str(root), "archive", "--format=tar", "HEAD"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    else:
        _copy_working_tree(root, dest, git=False)
    _git(["add", "-A", "-f"] if not git else ["add", "-A"], dest)
    _git(["commit", "-q", "--allow-empty", "-m", "main: the course's committed state"], dest)
    _git(["checkout", "-q", "-b", BRANCH], dest)
    if git and working_tree:
        for item in dest.iterdir():
            if item.name != ".git":
                shutil.rmtree(item) if item.is_dir() and not item.is_symlink() else item.unlink()
        _copy_working_tree(root, dest, git=True)
    for rel, text in (overlay or {}).items():
        target = (dest / rel).resolve()
        if not target.is_relative_to(dest.resolve()) or ".git" in Path(rel).parts:
            raise OpsError(f"refusing to write {rel}: outside the repository")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    _git(["add", "-A", "-f"] if not git else ["add", "-A"], dest)
    _git(["commit", "-q", "--allow-empty", "-m", "the changes under test"], dest)
    _git(["checkout", "-q", "main"], dest)
    return dest


# The body of the venv's `dbt`: dbt started as course_core.dbt_cli starts it, once the workflow has
# installed the repository (`pip install -e .`); before that, dbt's own command line.
_DBT_SCRIPT = b"""import sys
try:
    from course_core.dbt_cli import main
except ImportError:
    from dbt.cli.main import cli as main
sys.exit(main())
"""


def make_venv(dest: Path) -> Path:
    """A venv at dest that sees the running (course) venv's packages through a .pth file.

    Console scripts of the course venv (dbt, pip, ...) are re-created with this venv's
    python, so `dbt` is on PATH and `pip install` installs here, never in the course venv.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(dest)], check=True)
    course_site = Path(sysconfig.get_paths()["purelib"])
    site = dest / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    (site / "zz_course_packages.pth").write_text(f"{course_site}\n", encoding="utf-8")
    python = dest / "bin" / "python"
    course_bin = Path(sys.prefix) / "bin"
    for script in course_bin.iterdir():
        if (dest / "bin" / script.name).exists() or not script.is_file():
            continue
        try:
            with script.open("rb") as handle:
                first = handle.readline()
                if not first.startswith(b"#!") or b"python" not in first:
                    continue
                body = handle.read()
        except OSError:
            continue
        target = dest / "bin" / script.name
        target.write_bytes(f"#!{python}\n".encode() + (_DBT_SCRIPT if script.name == "dbt" else body))
        target.chmod(0o755)
    return dest


def _clone(origin: Path, dest: Path, event: str) -> tuple[str, str]:
    """Clone origin for an event; returns (checked-out sha, main's sha)."""
    subprocess.run([*_GIT, "clone", "-q", "--no-hardlinks", str(origin), str(dest)],
                   check=True, capture_output=True)
    head = _git(["rev-parse", f"origin/{BRANCH}"], dest)
    if event == "push":
        _git(["checkout", "-q", "-B", "main", head], dest)
        _git(["update-ref", "refs/remotes/origin/main", head], dest)
    else:
        _git(["checkout", "-q", "--detach", head], dest)
    return head, _git(["rev-parse", "origin/main"], dest)


# ---------------------------------------------------------------- workflow


def _as_list(value: object) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def triggered(workflow: dict, event: str, branch: str = "main") -> str:
    """'' when the workflow runs on `event` for branch (push to / pull request into); else why not."""
    on = workflow.get("on", workflow.get(True))
    events = {on: None} if isinstance(on, str) else dict.fromkeys(on) if isinstance(on, list) else on
    if not isinstance(events, dict) or event not in events:
        return f"the workflow does not run on {event} (its `on:` lists {', '.join(map(str, events or {}))})"
    config = events[event] or {}
    if not isinstance(config, dict):
        return ""
    include, exclude = _as_list(config.get("branches")), _as_list(config.get("branches-ignore"))
    if event == "push" and not include and not exclude and (config.get("tags") or config.get("tags-ignore")):
        return "the workflow runs on pushes of tags only"
    if include and not any(fnmatch.fnmatchcase(branch, p) for p in include if not p.startswith("!")):
        return f"the workflow's {event} branches filter {include} excludes {branch}"
    if any(fnmatch.fnmatchcase(branch, p) for p in exclude):
        return f"the workflow's {event} branches-ignore {exclude} excludes {branch}"
    return ""


def _job_order(jobs: dict) -> list[str]:
    order: list[str] = []
    pending = list(jobs)
    while pending:
        ready = [j for j in pending if all(n in order for n in _as_list((jobs[j] or {}).get("needs")))]
        if not ready:
            raise OpsError(f"jobs {pending} need each other or a job that does not exist: fix their `needs:`")
        order.append(ready[0])
        pending.remove(ready[0])
    return order


def _shell_command(shell: str | None, script: Path) -> list[str]:
    shell = (shell or "bash").strip()
    named = {
        "bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail", "{0}"],
        "sh": ["sh", "-e", "{0}"],
        "python": ["python", "{0}"],
    }
    parts = named.get(shell) or shlex.split(shell)
    if parts[0] in ("pwsh", "powershell", "cmd"):
        raise OpsError(f"shell '{parts[0]}' is not available in the local runner (use bash)")
    if "{0}" not in parts:
        parts.append("{0}")
    return [str(script) if p == "{0}" else p for p in parts]


def _read_env_file(path: Path) -> dict[str, str]:
    """KEY=value and KEY<<EOF ... EOF lines of $GITHUB_ENV / $GITHUB_OUTPUT."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, marker = line.split("<<", 1)
            body = []
            i += 1
            while i < len(lines) and lines[i] != marker:
                body.append(lines[i])
                i += 1
            values[key.strip()] = "\n".join(body)
        elif "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value
        i += 1
    return values


def _tail(path: Path, n: int) -> str:
    if not path.is_file():
        return ""
    lines = path.read_text(encoding="utf-8", errors="replace").rstrip().splitlines()
    return "\n".join(lines[-n:])


def isolated(
    cmd: list[str], cwd: Path, writable: Path, hide: Sequence[Path] = (), network: bool = False
) -> list[str]:
    """cmd inside bubblewrap: the filesystem read-only but for `writable`, hide = empty folders,
    a private /tmp, no network unless asked, killed with the runner."""
    bwrap = shutil.which("bwrap")
    if not bwrap:
        raise OpsError("isolation needs bubblewrap: apt-get install -y bubblewrap")
    args = [bwrap, "--die-with-parent", "--unshare-all", *(["--share-net"] if network else []),
            "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    for path in hide:
        if Path(path).is_dir():
            args += ["--tmpfs", str(Path(path).resolve())]
        elif Path(path).exists():
            args += ["--ro-bind", "/dev/null", str(Path(path).resolve())]
    return [*args, "--bind", str(writable), str(writable), "--chdir", str(cwd), "--", *cmd]


def _run_process(cmd: list[str], cwd: Path, env: dict, log: Path, timeout: float) -> tuple[int | None, float]:
    """Run cmd in its own process group; kill the group at the timeout or when done. (rc|None, s)."""
    start = time.monotonic()
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        keep_niceness(proc.pid)  # its session is an autogroup of its own
        try:
            rc: int | None = proc.wait(timeout=max(timeout, 0.1))
        except subprocess.TimeoutExpired:
            rc = None
            _kill_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        _kill_group(proc.pid, signal.SIGKILL)
        proc.wait()
    return rc, time.monotonic() - start


def _kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _artifact_files(workspace: Path, spec: str) -> list[Path]:
    files: set[Path] = set()
    excluded: set[Path] = set()
    for pattern in filter(None, (p.strip() for p in spec.splitlines())):
        target = excluded if pattern.startswith("!") else files
        pattern = pattern.lstrip("!")
        base = Path(pattern)
        if base.is_absolute():
            try:
                pattern = str(base.relative_to(workspace))
            except ValueError:
                continue
        for hit in (workspace.glob(pattern) if pattern not in ("", ".") else [workspace]):
            target.update(hit.rglob("*") if hit.is_dir() else [hit])
    return sorted(f for f in files - excluded if f.is_file())


def _uses_step(uses: str, with_: dict, contexts: dict, workspace: Path) -> tuple[str, str]:
    """(status, note) of a `uses:` step run locally."""
    action = uses.split("@", 1)[0].lower()
    if action == "actions/checkout":
        return "ok", "the sandbox is the checkout"
    if action == "actions/setup-python":
        wanted = interpolate(with_.get("python-version", ""), contexts)
        have = f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
        if wanted and not have.startswith(wanted.rstrip(".x")):
            return "ok", f"the course's Python {have} (the workflow asks for {wanted})"
        return "ok", f"the course's Python {have}"
    if action == "actions/upload-artifact":
        spec = interpolate(with_.get("path", ""), contexts)
        files = _artifact_files(workspace, spec)
        if not files:
            if str(with_.get("if-no-files-found", "warn")).lower() == "error":
                return "failed", f"no files match {spec.split()}"
            return "ok", f"no files match {spec.split()}: nothing would be uploaded"
        names = [str(f.relative_to(workspace)) for f in files]
        shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
        label = interpolate(with_.get("name", "artifact"), contexts)
        return "ok", f"would upload {len(names)} file(s) as '{label}': {shown}"
    return "skipped", f"the action {uses} is not run locally"


def _pip_cache_dir() -> str:
    """The user's pip cache (HOME changes in the sandbox; wheels pip cached stay usable)."""
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(xdg) / "pip")


def _base_env(venv: Path, home: Path) -> dict[str, str]:
    """The user's environment without VB_*/DBT_*/GITHUB_* and the course venv, HOME in the sandbox."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(_DROPPED_ENV) and k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME",
                                                          "PYTHONSTARTUP", "CONDA_PREFIX")}
    course_bin = str(Path(sys.prefix) / "bin")
    path = [p for p in env.get("PATH", os.defpath).split(os.pathsep) if p and p != course_bin]
    configs = (Path.home() / ".config/pip/pip.conf", Path.home() / ".pip/pip.conf")
    user_config = [p for p in configs if p.is_file()]
    if user_config and "PIP_CONFIG_FILE" not in env:
        env["PIP_CONFIG_FILE"] = str(user_config[0])
    env.update({
        "PATH": os.pathsep.join([str(venv / "bin"), *path]),
        "VIRTUAL_ENV": str(venv),
        "HOME": str(home),
        "PIP_CACHE_DIR": env.get("PIP_CACHE_DIR") or _pip_cache_dir(),
        "PYTHONDONTWRITEBYTECODE": "1",
        "CI": "true",
        "GITHUB_ACTIONS": "true",
    })
    return env


class _EventRunner:
    """Runs every job of a workflow for one event in one sandbox."""

    def __init__(self, workflow: dict, event: str, root: Path, workspace: Path, venv: Path,
                 deadline: float, tail_lines: int, head: str, base: str,
                 isolation: dict | None = None):
        self.isolation = isolation
        self.workflow, self.event, self.root = workflow, event, root
        self.workspace, self.venv, self.deadline, self.tail_lines = workspace, venv, deadline, tail_lines
        self.files = root / "runner"
        self.files.mkdir(parents=True, exist_ok=True)
        (root / "home").mkdir(exist_ok=True)
        (root / "temp").mkdir(exist_ok=True)
        self.base_env = _base_env(venv, root / "home")
        pr = event == "pull_request"
        ref = "refs/pull/1/merge" if pr else "refs/heads/main"
        self.github = {
            "workspace": str(workspace), "event_name": event, "ref": ref,
            "ref_name": "1/merge" if pr else "main", "ref_type": "branch",
            "base_ref": "main" if pr else "", "head_ref": BRANCH if pr else "",
            "sha": head, "repository": "intern/vyaparbazaar-module5", "repository_owner": "intern",
            "actor": "intern", "run_id": "1", "run_number": "1", "run_attempt": "1",
            "server_url": "https://github.com", "workflow": str(workflow.get("name", "")),
            "event": ({"number": 1, "pull_request": {"number": 1, "base": {"ref": "main", "sha": base},
                                                     "head": {"ref": BRANCH, "sha": head}}}
                      if pr else {"ref": ref, "before": base, "after": head}),
        }

    def github_env(self, job_id: str) -> dict[str, str]:
        g = self.github
        return {
            "GITHUB_WORKSPACE": g["workspace"], "GITHUB_EVENT_NAME": self.event, "GITHUB_REF": g["ref"],
            "GITHUB_REF_NAME": g["ref_name"], "GITHUB_BASE_REF": g["base_ref"],
            "GITHUB_HEAD_REF": g["head_ref"],
            "GITHUB_SHA": g["sha"], "GITHUB_REPOSITORY": g["repository"], "GITHUB_ACTOR": g["actor"],
            "GITHUB_RUN_ID": "1", "GITHUB_RUN_NUMBER": "1", "GITHUB_JOB": job_id,
            "GITHUB_EVENT_PATH": str(self.files / "event.json"), "RUNNER_OS": "Linux",
            "RUNNER_TEMP": str(self.root / "temp"), "RUNNER_ARCH": "X64",
        }

    def run(self) -> list[StepResult]:
        (self.files / "event.json").write_text(json.dumps(self.github["event"]), encoding="utf-8")
        jobs = self.workflow["jobs"]
        results: list[StepResult] = []
        outcome: dict[str, str] = {}
        for job_id in _job_order(jobs):
            job = jobs[job_id] or {}
            needs = _as_list(job.get("needs"))
            contexts = self.contexts(job_id, {}, {}, {"needs": {n: {"result": outcome[n]} for n in needs}})
            failed_need = any(outcome[n] != "success" for n in needs)
            try:
                run_job = condition(job.get("if"), contexts, lambda s, f=failed_need: _status(s, f, False))
            except ExprError as error:
                results.append(StepResult(job_id, "(job)", "failed", note=f"job if: {error}"))
                outcome[job_id] = "failure"
                continue
            if not run_job:
                why = "a job it needs failed" if failed_need else f"if: {job.get('if')} is false"
                results.append(StepResult(job_id, "(job)", "skipped", note=why))
                outcome[job_id] = "skipped"
                continue
            steps = self.run_job(job_id, job)
            results += steps
            outcome[job_id] = "success" if all(s.ok for s in steps) else "failure"
        return results

    def contexts(self, job_id: str, env: dict, steps: dict, extra: dict | None = None) -> dict:
        matrix = {}
        strategy = (self.workflow["jobs"][job_id] or {}).get("strategy") or {}
        for key, values in (strategy.get("matrix") or {}).items():
            if key not in ("include", "exclude") and isinstance(values, list) and values:
                matrix[key] = values[0]
        return {
            "github": {**self.github, "job": job_id}, "env": env, "steps": steps,
            "runner": {"os": "Linux", "arch": "X64", "temp": str(self.root / "temp"), "name": "wf-runner"},
            "job": {"status": "success"}, "secrets": {}, "vars": {}, "inputs": {}, "matrix": matrix,
            "strategy": {}, "needs": {}, **(extra or {}),
        }

    def run_job(self, job_id: str, job: dict) -> list[StepResult]:
        results: list[StepResult] = []
        job_deadline = self.deadline
        if job.get("timeout-minutes") is not None:
            job_deadline = min(job_deadline, time.monotonic() + 60 * float(job["timeout-minutes"]))
        defaults = {**((self.workflow.get("defaults") or {}).get("run") or {}),
                    **((job.get("defaults") or {}).get("run") or {})}
        set_env: dict[str, str] = {}
        extra_path: list[str] = []
        steps_ctx: dict[str, dict] = {}
        env = dict(self.github_env(job_id))
        failed = cancelled = False
        for i, step in enumerate(job.get("steps") or [], start=1):
            if not isinstance(step, dict):
                results.append(StepResult(job_id, f"step {i}", "failed", note="a step must be a mapping"))
                failed = True
                continue
            name = str(step.get("name") or (f"Run {step['uses']}" if step.get("uses") else
                                            f"Run {str(step.get('run', '')).strip().splitlines()[0][:50]}"
                                            if step.get("run") else f"step {i}"))
            result = StepResult(job_id, name, "skipped")
            results.append(result)
            try:
                # env: workflow, job (each may use earlier levels), $GITHUB_ENV, then the step's
                level_env = dict(env)
                for level in (self.workflow.get("env"), job.get("env")):
                    for key, value in (level or {}).items():
                        level_env[str(key)] = interpolate(value, self.contexts(job_id, level_env, steps_ctx))
                level_env.update(set_env)
                ctx = self.contexts(job_id, level_env, steps_ctx)
                result.name = interpolate(name, ctx)
                if time.monotonic() >= self.deadline:
                    cancelled = True
                status = partial(_status, failed=failed, cancelled=cancelled)
                if not condition(step.get("if"), ctx, status):
                    result.status = "cancelled" if cancelled else "skipped"
                    result.note = ("the time limit was reached before this step" if cancelled else
                                   "an earlier step failed" if failed else
                                   f"if: {str(step.get('if')).strip()} is false")
                    continue
                for key, value in (step.get("env") or {}).items():
                    level_env[str(key)] = interpolate(value, self.contexts(job_id, level_env, steps_ctx))
                ctx = self.contexts(job_id, level_env, steps_ctx)
                if step.get("uses"):
                    with_ = {k: v for k, v in (step.get("with") or {}).items()}
                    result.status, result.note = _uses_step(str(step["uses"]), with_, ctx, self.workspace)
                elif step.get("run") is not None:
                    self.run_step(result, step, ctx, level_env, defaults, extra_path, job_deadline, i)
                else:
                    result.status, result.note = "failed", "a step needs `run:` or `uses:`"
            except (ExprError, OpsError) as error:
                result.status, result.note = "failed", str(error)
            except json.JSONDecodeError as error:
                result.status, result.note = "failed", f"fromJSON: {error}"
            outcome = "success" if result.status in ("ok", "skipped") else "failure"
            if result.status != "skipped" and step.get("continue-on-error") in (True, "true"):
                if outcome == "failure":
                    result.note = f"continue-on-error: {result.note}".rstrip(": ")
                    result.status = "ok"
                outcome_c = "success"
            else:
                outcome_c = outcome
            if step.get("id"):
                outputs = _read_env_file(self.files / f"output-{i}")
                steps_ctx[str(step["id"])] = {"outputs": outputs, "outcome": outcome, "conclusion": outcome_c}
            set_env.update(_read_env_file(self.files / f"env-{i}"))
            path_file = self.files / f"path-{i}"
            if path_file.is_file():
                extra_path[:0] = [p for p in path_file.read_text().splitlines()[::-1] if p.strip()]
            if outcome_c == "failure":
                failed = True
        return results

    def run_step(self, result: StepResult, step: dict, ctx: dict, level_env: dict, defaults: dict,
                 extra_path: list[str], job_deadline: float, index: int) -> None:
        script = interpolate(step["run"], ctx)
        folder = interpolate(step.get("working-directory") or defaults.get("working-directory") or ".", ctx)
        cwd = (self.workspace / folder).resolve()
        if not cwd.is_dir():
            result.status, result.note = "failed", f"working-directory {folder} does not exist"
            return
        script_file = self.files / f"step-{index}.sh"
        script_file.write_text(script, encoding="utf-8")
        cmd = _shell_command(interpolate(step.get("shell") or defaults.get("shell") or "", ctx) or None,
                             script_file)
        env = {**self.base_env, **{k: to_str(v) for k, v in level_env.items()},
               "GITHUB_ENV": str(self.files / f"env-{index}"),
               "GITHUB_PATH": str(self.files / f"path-{index}"),
               "GITHUB_OUTPUT": str(self.files / f"output-{index}"),
               "GITHUB_STEP_SUMMARY": str(self.files / f"summary-{index}")}
        if extra_path:
            env["PATH"] = os.pathsep.join([*extra_path, env["PATH"]])
        now = time.monotonic()
        limit, why = min(job_deadline, self.deadline) - now, "the job's timeout-minutes or the time limit"
        if step.get("timeout-minutes") is not None:
            step_limit = 60 * float(interpolate(step["timeout-minutes"], ctx))
            if step_limit < limit:
                limit, why = step_limit, f"timeout-minutes: {step['timeout-minutes']}"
        log = self.files / f"step-{index}.log"
        if self.isolation is not None:
            cmd = isolated(cmd, cwd, self.root, **self.isolation)
        rc, result.seconds = _run_process(cmd, cwd, env, log, limit)
        result.tail = _tail(log, self.tail_lines)
        if rc is None:
            result.status, result.note = "timed out", f"stopped after {result.seconds:.0f} s ({why})"
        elif rc != 0:
            result.status, result.note = "failed", f"exit code {rc}"
        else:
            result.status = "ok"


def _status(name: str, failed: bool, cancelled: bool) -> bool:
    return {"always": True, "success": not failed and not cancelled, "failure": failed and not cancelled,
            "cancelled": cancelled}[name]


def run_workflow(
    path: str | Path,
    root: str | Path | None = None,
    events: Iterable[str] = EVENTS,
    time_limit: float = DEFAULT_TIME_LIMIT,
    keep: bool = False,
    overlay: dict[str, str] | None = None,
    raw_dir: str | Path | None = None,
    tail_lines: int = TAIL_LINES,
    sandbox_parent: str | Path | None = None,
    isolate: bool = False,
    hide: Sequence[str | Path] = (),
    network: bool = False,
    working_tree: bool = True,
) -> WorkflowRun:
    """Run the workflow at path for each event in a fresh sandbox copy of root (default: this repo).

    overlay: extra files (repo-relative path -> text) on the branch under test (a submission's
    answers); raw_dir: a dataset copied to datasets/raw of each sandbox before the steps run.
    time_limit: seconds for all events together. The sandbox is deleted unless keep.
    isolate: every step runs in bubblewrap (read-only filesystem but its sandbox, `hide` folders
    empty, private /tmp, no network unless `network`): for workflows nobody has reviewed.
    working_tree=False: the branch under test is root's last commit + overlay (grading).
    """
    workflow = load_workflow(path)
    repo = Path(root).resolve() if root else settings.repo_root()
    events = list(events)
    if unknown := [e for e in events if e not in EVENTS]:
        raise OpsError(f"unknown event {unknown}: use {' or '.join(EVENTS)}")
    start = time.monotonic()
    deadline = start + time_limit
    sandbox = Path(tempfile.mkdtemp(prefix="wf-run-", dir=sandbox_parent))
    runs: list[EventRun] = []
    try:
        origin = make_origin(repo, sandbox / "origin", overlay, working_tree)
        for event in events:
            t0 = time.monotonic()
            why = triggered(workflow, event)
            run = EventRun(event, not why, reason=why, sandbox=str(sandbox / event))
            runs.append(run)
            if why:
                continue
            if time.monotonic() >= deadline:
                run.reason = f"not started: the time limit of {time_limit:.0f} s was used up"
                continue
            event_root = sandbox / event
            workspace = event_root / "repo"
            event_root.mkdir()
            head, base = _clone(origin, workspace, event)
            if raw_dir:
                shutil.copytree(raw_dir, workspace / "datasets" / "raw", dirs_exist_ok=True)
            venv = make_venv(event_root / "venv")
            isolation = {"hide": [Path(h) for h in hide], "network": network} if isolate else None
            runner = _EventRunner(workflow, event, event_root, workspace, venv, deadline, tail_lines,
                                  head, base, isolation)
            run.steps = runner.run()
            run.seconds = time.monotonic() - t0
    finally:
        if not keep:
            shutil.rmtree(sandbox, ignore_errors=True)
    return WorkflowRun(str(path), runs, time.monotonic() - start)


def grading_runner(
    course_root: str | Path,
    raw_dir: str | Path | None = None,
    time_limit: float = 900.0,
    hide: Sequence[str | Path] = (),
    network: bool = False,
    workflow: str = "ci/dbt_ci.yml",
) -> Callable[[dict[str, str]], WorkflowRun]:
    """For the grading worker: run(files) runs files[workflow] (paths relative to dbt_project/)
    on course_root's last commit + every answer file, for both events, each step in bubblewrap."""

    def run(files: dict[str, str]) -> WorkflowRun:
        with tempfile.TemporaryDirectory(prefix="wf-grade-") as tmp:
            path = Path(tmp) / "workflow.yml"
            path.write_text(files[workflow], encoding="utf-8")
            overlay = {f"dbt_project/{rel}": text for rel, text in files.items()}
            return run_workflow(path, course_root, EVENTS, time_limit, overlay=overlay, raw_dir=raw_dir,
                                isolate=True, hide=hide, network=network, working_tree=False)

    return run


def format_event(run: EventRun, tail: bool = True) -> str:
    """A table of the steps of one event's run, then the last lines of every failed step."""
    title = "pull request into main" if run.event == "pull_request" else "push to main"
    if not run.triggered or run.reason and not run.steps:
        return f"{run.event} ({title}): {run.reason}"
    rows = [(str(i), s.job, s.name, s.status.upper() if not s.ok else s.status,
             f"{s.seconds:.1f}" if s.status not in ("skipped",) else "", s.note)
            for i, s in enumerate(run.steps, start=1)]
    head = ("#", "job", "step", "status", "seconds", "note")
    widths = [max(len(r[c]) for r in [head, *rows]) for c in range(5)]
    widths[2] = min(widths[2], 60)

    def line(r: tuple) -> str:
        cells = [r[0].rjust(widths[0]), r[1].ljust(widths[1]), r[2][:60].ljust(widths[2]),
                 r[3].ljust(widths[3]), r[4].rjust(widths[4]), r[5]]
        return "  ".join(cells).rstrip()

    statuses = ("ok", "skipped", "failed", "timed out", "cancelled")
    counts = {s: sum(1 for x in run.steps if x.status == s) for s in statuses}
    verdict = "passed" if run.ok else "FAILED"
    out = [f"{run.event} ({title}): {verdict} in {run.seconds:.1f} s, " +
           ", ".join(f"{n} {s}" for s, n in counts.items() if n), line(head), *map(line, rows)]
    for i, s in enumerate(run.steps, start=1):
        if not s.ok and tail and s.tail:
            out.append(f"--- step {i} '{s.name}' {s.status}; its last lines:")
            out += ["    " + x for x in s.tail.splitlines()]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.workflow_run", description=__doc__.splitlines()[0])
    parser.add_argument("workflow", help="path of a GitHub Actions workflow (.yml)")
    parser.add_argument("--event", choices=[*EVENTS, "both"], default="both")
    parser.add_argument("--repo", help="repository to copy (default: this course repository)")
    parser.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT, help="seconds for all events")
    parser.add_argument("--keep", action="store_true", help="keep the sandbox (its path is printed)")
    args = parser.parse_args(argv)
    events = EVENTS if args.event == "both" else (args.event,)
    result = run_workflow(args.workflow, args.repo, events, args.time_limit, keep=args.keep)
    print(result.format())
    if args.keep and result.runs:
        print(f"\nsandbox kept: {Path(result.runs[0].sandbox).parent}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(cli_main(main))
