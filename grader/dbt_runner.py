"""Run dbt in-process (dbtRunner) on one workspace: parse once, reuse the manifest, release locks.

dbt-duckdb keeps its DuckDB connection after ``invoke()`` returns; ``release_duckdb`` closes it
so the grader can open the warehouse itself between dbt invocations.
"""

from __future__ import annotations

import io
import json
import os
import sys
import traceback
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

QUIET_ENV = {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DO_NOT_TRACK": "1",
    "PLOOMBER_STATS_ENABLED": "false",
    "DBT_PARTIAL_PARSE": "true",
    "DBT_USE_COLORS": "false",
    "DBT_PRINTER_WIDTH": "100",
}


@dataclass(frozen=True)
class NodeResult:
    """The outcome of one model or test in a dbt run."""

    unique_id: str
    name: str
    resource_type: str
    status: str
    message: str

    @property
    def ok(self) -> bool:
        """True for success/pass (and skipped nodes are not ok)."""
        return self.status in ("success", "pass")


@dataclass
class DbtOutcome:
    """What one dbt invocation did: overall success, per-node results, a one-line error."""

    success: bool
    nodes: list[NodeResult] = field(default_factory=list)
    error: str = ""

    def node(self, name: str) -> NodeResult | None:
        """The result of a node by name (models first)."""
        matches = [n for n in self.nodes if n.name == name]
        matches.sort(key=lambda n: n.resource_type != "model")
        return matches[0] if matches else None

    def failures(self) -> list[NodeResult]:
        """Nodes that did not succeed."""
        return [n for n in self.nodes if not n.ok]

    def summary(self) -> str:
        """One line: the first failure (node and short message) or the global error."""
        if self.error:
            return self.error
        bad = self.failures()
        if not bad:
            return "ok"
        first = bad[0]
        extra = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        return f"{first.resource_type} {first.name}: {first.status}: {short_message(first.message)}{extra}"


def short_message(message: str, limit: int = 300) -> str:
    """The informative part of a dbt/DuckDB error, on one line, without file paths of the grader."""
    lines = [ln.strip() for ln in (message or "").splitlines() if ln.strip()]
    keep = [ln for ln in lines if not ln.startswith(("compiled code at", "See ", "Database Error in"))]
    text = " ".join(keep or lines)
    return text[:limit] + ("..." if len(text) > limit else "")


# (class, attribute) -> what it was before forbid_python_jobs() replaced it (tests restore these)
ORIGINAL_PYTHON_JOBS: dict[tuple[type, str], Any] = {}


def forbid_python_jobs() -> None:
    """Make dbt refuse every Python job in this process (issue 9: dbt-duckdb runs
    ``statement(language='python')``; no exercise needs Python). Idempotent."""
    from dbt.context.providers import ProviderContext

    def refused(*_args: Any, **_kwargs: Any) -> Any:
        from dbt_common.exceptions import DbtRuntimeError

        raise DbtRuntimeError("Python models and python statements are not accepted by the grader")

    owners: list[tuple[type, str, Any]] = [(ProviderContext, "submit_python_job", refused)]
    try:
        from dbt.adapters.duckdb.environments import Environment
        from dbt.adapters.duckdb.impl import DuckDBAdapter
    except ImportError:  # pragma: no cover - dbt-duckdb is part of the pinned set
        pass
    else:
        owners += [(DuckDBAdapter, "submit_python_job", refused),
                   (Environment, "run_python_job", staticmethod(refused))]
    for owner, name, replacement in owners:
        ORIGINAL_PYTHON_JOBS.setdefault((owner, name), owner.__dict__[name])
        setattr(owner, name, replacement)


def release_duckdb() -> None:
    """Close the DuckDB connection dbt-duckdb keeps between invocations (drops the file lock)."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:
        return
    with DuckDBConnectionManager._LOCK:
        env = DuckDBConnectionManager._ENV
        if env is not None:
            try:
                env.close()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
            conn = getattr(env, "conn", None)
            if conn is not None:
                try:
                    conn.close()
                except Exception:  # noqa: BLE001
                    pass
                env.conn = None
            DuckDBConnectionManager._ENV = None


class DbtSession:
    """dbt invocations on one project folder with a fixed profiles folder (in-process)."""

    def __init__(self, project_dir: Path, profiles_dir: Path, log_dir: Path):
        self.project_dir = project_dir
        self.profiles_dir = profiles_dir
        self.log_dir = log_dir
        self.manifest: Any = None
        self.last_output = ""

    def _common(self) -> list[str]:
        return [
            "--project-dir", str(self.project_dir),
            "--profiles-dir", str(self.profiles_dir),
            "--log-path", str(self.log_dir),
            "--target-path", str(self.project_dir / "target"),
        ]

    def invoke(self, args: list[str], *, reuse_manifest: bool = True) -> DbtOutcome:
        """Run one dbt command (e.g. ``["build", "--select", "x"]``) and collect node results."""
        from dbt.cli.main import dbtRunner

        forbid_python_jobs()
        os.environ.update(QUIET_ENV)
        command = [args[0], "--quiet", "--no-use-colors", *self._common(), *args[1:]]
        runner = dbtRunner(manifest=self.manifest if reuse_manifest else None)
        buffer = io.StringIO()
        cwd = os.getcwd()
        try:
            os.chdir(self.project_dir)
            with redirect_stdout(buffer), redirect_stderr(buffer):
                result = runner.invoke(command)
        except Exception as error:  # noqa: BLE001 - dbt raised instead of reporting
            return DbtOutcome(False, [], f"dbt {args[0]} failed: {short_message(str(error))}")
        finally:
            os.chdir(cwd)
            release_duckdb()
        self.last_output = buffer.getvalue()
        return _outcome(result, args[0], self.last_output)

    def parse(self) -> DbtOutcome:
        """Parse the project (once); later invocations reuse this manifest."""
        from dbt.cli.main import dbtRunner

        forbid_python_jobs()
        os.environ.update(QUIET_ENV)
        buffer = io.StringIO()
        cwd = os.getcwd()
        try:
            os.chdir(self.project_dir)
            with redirect_stdout(buffer), redirect_stderr(buffer):
                result = dbtRunner().invoke(["parse", "--quiet", "--no-use-colors", *self._common()])
        except Exception as error:  # noqa: BLE001
            return DbtOutcome(False, [], f"dbt could not parse the project: {short_message(str(error))}")
        finally:
            os.chdir(cwd)
            release_duckdb()
        if not result.success:
            if result.exception is not None:  # to the process's log (a worker's log, never a report)
                traceback.print_exception(result.exception, file=sys.__stderr__)
            detail = short_message(str(result.exception or "")) or _last_error_line(buffer.getvalue())
            return DbtOutcome(False, [], f"dbt could not parse the project: {detail}")
        self.manifest = result.result
        return DbtOutcome(True)

    def manifest_dict(self) -> dict:
        """manifest.json as written by the last parse (empty dict when there is none)."""
        path = self.project_dir / "target" / "manifest.json"
        if not path.exists():
            return {}
        return json.loads(path.read_text(encoding="utf-8"))


def _last_error_line(output: str) -> str:
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "rror" in ln]
    return short_message((errors or lines or ["unknown error"])[-1])


def _outcome(result: Any, command: str, output: str) -> DbtOutcome:
    nodes: list[NodeResult] = []
    run_results = getattr(result, "result", None)
    for item in getattr(run_results, "results", None) or []:
        node = getattr(item, "node", None)
        if node is None:
            continue
        status = str(getattr(item.status, "value", item.status))
        nodes.append(
            NodeResult(node.unique_id, node.name, str(node.resource_type), status, str(item.message or ""))
        )
    error = ""
    if result.exception is not None:
        error = f"dbt {command} failed: {short_message(str(result.exception))}"
    elif not result.success and not nodes:
        error = f"dbt {command} failed: {_last_error_line(output)}"
    return DbtOutcome(bool(result.success), nodes, error)
