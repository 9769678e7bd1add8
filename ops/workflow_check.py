"""Check a GitHub Actions workflow for the steps a dbt CI pipeline needs.

Required (the grader fails a workflow without them):
    build     a `dbt build` (not the slim one)
    test      a `dbt test`
    slim_ci   `dbt build|run` with `--select state:modified[+]`, `--defer` and `--state DIR`
              (or `python -m ops.slim_ci`, which runs exactly that)
Recommended (reported only): checkout, python 3.11, pip install -r requirements.txt,
data generation, the ci target, a pull_request trigger.

    python -m ops.workflow_check dbt_project/ci/dbt_ci.yml [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from course_core import settings
from ops.dbt_invoke import OpsError, cli_main


@dataclass(frozen=True)
class Check:
    """One requirement and where it was found ('job/step name'), if anywhere."""

    name: str
    required: bool
    present: bool
    where: str
    hint: str


@dataclass(frozen=True)
class Step:
    """A workflow step flattened for matching."""

    where: str
    uses: str
    with_: dict
    commands: list[list[str]]  # shell commands, each a token list
    env: dict


def _commands(script: str) -> list[list[str]]:
    """Split a `run:` script into token lists (comments dropped, `\\` continuations joined)."""
    script = re.sub(r"\\\r?\n", " ", script)
    commands = []
    for line in script.splitlines():
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError:
            tokens = line.split("#", 1)[0].split()
        current: list[str] = []
        for token in tokens:
            if token in ("&&", "||", ";", "|"):
                commands.append(current)
                current = []
            else:
                current.append(token)
        commands.append(current)
    return [c for c in commands if c]


def load_workflow(path: str | Path) -> dict:
    """Parse a workflow file; OpsError with a one-line message when it is not one."""
    p = Path(path)
    if not p.is_file():
        raise OpsError(f"workflow file {p} not found: pass the path of your .yml workflow")
    try:
        workflow = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise OpsError(f"{p} is not valid YAML{where}: fix the indentation/quoting there") from exc
    if not isinstance(workflow, dict) or not isinstance(workflow.get("jobs"), dict) or not workflow["jobs"]:
        raise OpsError(f"{p} has no 'jobs:' mapping: a GitHub Actions workflow needs jobs with steps")
    return workflow


def load_steps(path: str | Path) -> tuple[dict, list[Step]]:
    """Parse the workflow; return (workflow, steps of every job in order)."""
    workflow = load_workflow(path)
    steps = []
    for job_id, job in workflow["jobs"].items():
        job = job or {}
        job_env = {**(workflow.get("env") or {}), **(job.get("env") or {})}
        for i, step in enumerate(job.get("steps") or [], start=1):
            if not isinstance(step, dict):
                continue
            name = step.get("name") or step.get("uses") or f"step {i}"
            steps.append(
                Step(
                    f"{job_id}/{name}",
                    str(step.get("uses") or ""),
                    step.get("with") or {},
                    _commands(str(step.get("run") or "")),
                    {**job_env, **(step.get("env") or {})},
                )
            )
    return workflow, steps


def _dbt_args(command: list[str]) -> list[str] | None:
    """Arguments after `dbt` (also `python -m dbt...`), else None."""
    for i, token in enumerate(command):
        if token == "dbt" or token.endswith("/dbt") or token == "dbt.cli.main":
            return command[i + 1 :]
    return None


def _option_values(args: list[str], names: tuple[str, ...]) -> list[str]:
    values = []
    for i, arg in enumerate(args):
        for name in names:
            if arg == name:
                values += [a for a in args[i + 1 :] if not a.startswith("-")][:1] if i + 1 < len(args) else []
            elif arg.startswith(name + "="):
                values.append(arg.split("=", 1)[1])
    return values


def is_slim_ci(args: list[str]) -> bool:
    """dbt build/run selecting state:modified with --defer and --state DIR."""
    if not args or args[0] not in ("build", "run"):
        return False
    selected = " ".join(_option_values(args, ("--select", "-s", "--models", "-m", "--selector")))
    has_state = any(v and not v.startswith("-") for v in _option_values(args, ("--state", "--defer-state")))
    return "state:modified" in selected and "--defer" in args and has_state


def _target(args: list[str], env: dict) -> str | None:
    values = _option_values(args, ("--target", "-t"))
    return values[-1] if values else env.get(settings.TARGET) or env.get("DBT_TARGET")


def check_workflow(path: str | Path) -> list[Check]:
    """Every requirement with where it was met (first occurrence)."""
    workflow, steps = load_steps(path)
    found: dict[str, str] = {}

    def mark(name: str, where: str) -> None:
        found.setdefault(name, where)

    for step in steps:
        if step.uses.startswith("actions/checkout"):
            mark("checkout", step.where)
        if (
            step.uses.startswith("actions/setup-python")
            and str(step.with_.get("python-version", "")) == "3.11"
        ):
            mark("python_3_11", step.where)
        for cmd in step.commands:
            text = " ".join(cmd)
            if re.search(r"\bpip3?\b.*\binstall\b.*-r\s+\S*requirements\.txt", text):
                mark("install_requirements", step.where)
            if "datasets.generate" in text:
                mark("generate_data", step.where)
            if "ops.slim_ci" in text:
                mark("slim_ci", step.where)
            if "ops.sql_lint" in text or re.search(r"\bsqlfluff\b.*\blint\b", text):
                mark("sql_lint", step.where)
            args = _dbt_args(cmd)
            if args is None:
                continue
            if is_slim_ci(args):
                mark("slim_ci", step.where)
            elif args[:1] == ["build"]:
                mark("build", step.where)
                if _target(args, step.env) == "ci":
                    mark("ci_target", step.where)
            elif args[:1] == ["test"]:
                mark("test", step.where)
            elif args[:2] == ["docs", "generate"]:
                mark("docs_generate", step.where)
    triggers = workflow.get("on", workflow.get(True))  # PyYAML reads the key `on` as True
    if triggers == "pull_request" or (isinstance(triggers, list | dict) and "pull_request" in triggers):
        mark("pull_request_trigger", "on")
    spec = [
        ("build", True, "add a step running `dbt build` (e.g. `dbt build --target ci`)"),
        ("test", True, "add a step running `dbt test`"),
        ("slim_ci", True, "add `dbt build --select state:modified+ --defer --state <prod artifacts>`"),
        ("checkout", False, "start with `uses: actions/checkout@v4`"),
        ("python_3_11", False, "use actions/setup-python with python-version: '3.11'"),
        ("install_requirements", False, "run `pip install -r requirements.txt`"),
        ("generate_data", False, "run `python -m datasets.generate ...` before dbt"),
        ("ci_target", False, "build on the ci target (`--target ci` or env VB_TARGET: ci)"),
        ("pull_request_trigger", False, "trigger on pull_request so every change is checked"),
        ("sql_lint", False, "lint the SQL before building: `python -m ops.sql_lint dbt_project`"),
        ("docs_generate", False, "run `dbt docs generate`: fails on a model that does not compile"),
    ]
    return [Check(name, req, name in found, found.get(name, ""), hint) for name, req, hint in spec]


def format_checks(checks: list[Check]) -> str:
    """One line per requirement, then a verdict."""
    lines = []
    for c in checks:
        label = "required" if c.required else "recommended"
        state = f"ok       ({c.where})" if c.present else f"MISSING  {c.hint}"
        lines.append(f"{c.name:22} {label:11} {state}")
    missing = [c.name for c in checks if c.required and not c.present]
    lines.append("all required steps present" if not missing else f"missing required: {', '.join(missing)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.workflow_check", description=__doc__.splitlines()[0])
    parser.add_argument("workflow", help="path of a GitHub Actions workflow (.yml)")
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    args = parser.parse_args(argv)
    checks = check_workflow(args.workflow)
    print(json.dumps([asdict(c) for c in checks], indent=2) if args.json else format_checks(checks))
    return 0 if all(c.present for c in checks if c.required) else 1


if __name__ == "__main__":
    raise SystemExit(cli_main(main))
