"""What a dbt invocation did: one :class:`NodeResult` per executed node and one :class:`DbtOutcome`.

The same types come back from every way the course runs dbt: in-process (``dbtRunner``), as a
CLI subprocess, and from the grader's confined worker (through :meth:`DbtOutcome.to_dict` and
:meth:`DbtOutcome.from_dict`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
MAX_NAME = 60
OK_STATUSES = ("success", "pass")
FAILED_STATUSES = ("error", "fail", "runtime error")


def clean(text: str | None) -> str:
    """Text without colour codes or trailing blanks."""
    return "\n".join(line.rstrip() for line in _ANSI.sub("", text or "").strip().splitlines())


def short_name(name: str) -> str:
    """Names longer than MAX_NAME (dbt's generated test names) end in "..."."""
    return name if len(name) <= MAX_NAME else name[: MAX_NAME - 3] + "..."


def short_message(message: str | None, limit: int = 300) -> str:
    """The informative part of a dbt/DuckDB error, on one line, without dbt's file-path pointers."""
    lines = [ln.strip() for ln in (message or "").splitlines() if ln.strip()]
    keep = [ln for ln in lines if not ln.startswith(("compiled code at", "See ", "Database Error in"))]
    text = " ".join(keep or lines)
    return text[:limit] + ("..." if len(text) > limit else "")


def last_error_line(output: str) -> str:
    """The last line of dbt's printed output that mentions an error (else its last line), shortened."""
    lines = [ln.strip() for ln in clean(output).splitlines() if ln.strip()]
    errors = [ln for ln in lines if "rror" in ln]
    return short_message((errors or lines or ["unknown error"])[-1])


@dataclass(frozen=True)
class NodeResult:
    """One executed dbt node: model, seed, snapshot, test or unit test."""

    unique_id: str
    resource_type: str
    name: str
    status: str
    rows: int | None = None  # rows of the built relation, when the caller counted them
    failures: int | None = None  # failing rows of a test
    message: str | None = None
    execution_time: float = 0.0  # seconds dbt spent executing the node
    parent: str | None = None  # the node a test is attached to

    @property
    def ok(self) -> bool:
        """True for success/pass (skipped nodes are not ok)."""
        return self.status in OK_STATUSES

    def line(self, width: int, status_width: int = 0) -> str:
        """``model  stg_orders ....... success  1,000 rows`` (no timings)."""
        detail = ""
        if self.rows is not None:
            detail = f"  {self.rows:,} rows"
        elif self.resource_type in ("test", "unit_test") and self.failures:
            detail = f"  {self.failures:,} failing row" + ("s" if self.failures != 1 else "")
        status = f"{self.status:<{status_width}}" if detail else self.status
        return f"  {self.resource_type:<8} {short_name(self.name):<{width}}  {status}{detail}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able fields."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NodeResult:
        """From :meth:`to_dict` output, every field checked and converted (the data may be untrusted)."""

        def text(key: str) -> str | None:
            value = data.get(key)
            return None if value is None else str(value)

        def number(key: str) -> int | None:
            value = data.get(key)
            return value if isinstance(value, int) and not isinstance(value, bool) else None

        seconds = data.get("execution_time")
        return cls(
            unique_id=str(data.get("unique_id", "")), resource_type=str(data.get("resource_type", "")),
            name=str(data.get("name", "")), status=str(data.get("status", "")),
            rows=number("rows"), failures=number("failures"), message=text("message"),
            execution_time=float(seconds) if isinstance(seconds, (int, float)) else 0.0,
            parent=text("parent"),
        )


@dataclass
class DbtOutcome:
    """What one dbt invocation did: overall success, per-node results, the one-line error.

    ``error`` is one line ("" when none). ``args`` is the command; ``output`` what dbt printed
    (when captured); ``returncode`` and ``target_path`` are set by the subprocess mode.
    """

    success: bool
    nodes: list[NodeResult] = field(default_factory=list)
    error: str = ""
    args: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    listed: list[str] = field(default_factory=list)  # what `dbt ls` printed
    output: str = ""
    returncode: int | None = None
    target_path: Path | None = None

    @property
    def ok(self) -> bool:
        """Same as ``success``."""
        return self.success

    @property
    def stdout(self) -> str:
        """What the dbt CLI printed (stdout and stderr), subprocess mode."""
        return self.output

    def last_lines(self, n: int = 15) -> str:
        """The last ``n`` lines dbt printed."""
        return "\n".join(self.output.strip().splitlines()[-n:])

    @property
    def timings(self) -> dict[str, float]:
        """Seconds dbt spent executing each node, by node name."""
        return {n.name: n.execution_time for n in self.nodes}

    def node(self, name: str) -> NodeResult | None:
        """The result of the node called ``name`` (models first; None if it did not run)."""
        matches = [n for n in self.nodes if n.name == name]
        matches.sort(key=lambda n: n.resource_type != "model")
        return matches[0] if matches else None

    def failures(self) -> list[NodeResult]:
        """Nodes that did not succeed (skipped and warned ones included)."""
        return [n for n in self.nodes if not n.ok]

    @property
    def failed(self) -> list[NodeResult]:
        """Nodes that errored or whose test failed."""
        return [n for n in self.nodes if n.status in FAILED_STATUSES]

    def summary(self) -> str:
        """One line: the global error, or the first failure (node and short message), or ``ok``."""
        if self.error:
            return self.error
        bad = self.failures()
        if not bad:
            return "ok"
        first = bad[0]
        extra = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        return f"{first.resource_type} {first.name}: {first.status}: {short_message(first.message)}{extra}"

    def to_dict(self) -> dict[str, Any]:
        """Success, error and nodes as plain JSON-able data (what a worker process sends back)."""
        return {"success": self.success, "error": self.error, "nodes": [n.to_dict() for n in self.nodes]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DbtOutcome:
        """From :meth:`to_dict` output, checked field by field (it may come from an untrusted process)."""
        nodes = data.get("nodes") if isinstance(data.get("nodes"), list) else []
        return cls(bool(data.get("success")), [NodeResult.from_dict(n) for n in nodes if isinstance(n, dict)],
                   str(data.get("error") or ""))


# ---- from dbt's own results -----------------------------------------------------------------------
def _value(item: Any) -> str:
    return str(getattr(item, "value", item))


def node_results(run_results: Any) -> list[NodeResult]:
    """NodeResults from ``dbtRunnerResult.result`` (a RunExecutionResult; anything else: none)."""
    nodes: list[NodeResult] = []
    for item in getattr(run_results, "results", None) or []:
        node = getattr(item, "node", None)
        if node is None:
            continue
        failures = getattr(item, "failures", None)
        nodes.append(NodeResult(
            unique_id=node.unique_id, resource_type=_value(node.resource_type), name=node.name,
            status=_value(item.status).lower(), failures=failures if isinstance(failures, int) else None,
            message=str(item.message or ""), execution_time=float(item.execution_time or 0.0),
            parent=getattr(node, "attached_node", None),
        ))
    return nodes


def depends_on(run_results: Any) -> dict[str, list[str]]:
    """unique_id -> the unique_ids it depends on, for every node in ``dbtRunnerResult.result``."""
    items = [item for item in getattr(run_results, "results", None) or [] if getattr(item, "node", None)]
    return {item.node.unique_id: list(getattr(item.node.depends_on, "nodes", []) or []) for item in items}


def built_relations(run_results: Any) -> dict[str, str]:
    """unique_id -> ``"schema"."alias"`` of every table/view/incremental/seed/snapshot built successfully."""
    out = {}
    for item in getattr(run_results, "results", None) or []:
        node = getattr(item, "node", None)
        if node is None:
            continue
        materialized = getattr(getattr(node, "config", None), "materialized", None)
        kind = _value(node.resource_type)
        built = _value(item.status) == "success"
        if kind in ("model", "seed", "snapshot") and materialized != "ephemeral" and built:
            out[node.unique_id] = f'"{node.schema}"."{node.alias or node.name}"'
    return out


def node_results_from_json(path: Path, manifest: dict[str, Any] | None = None) -> list[NodeResult]:
    """NodeResults from a ``run_results.json`` (names from ``manifest`` when given, else the unique_id's
    last part); none when the file is missing or not a run_results file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    results = data.get("results") if isinstance(data, dict) else None
    nodes: list[NodeResult] = []
    known = (manifest or {}).get("nodes", {})
    for item in results if isinstance(results, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("unique_id"), str):
            continue
        uid = item["unique_id"]
        parts = uid.split(".")
        meta = known.get(uid, {})
        name = parts[2] if parts[0] == "test" and len(parts) > 2 else parts[-1]
        failures = item.get("failures")
        nodes.append(NodeResult(
            unique_id=uid, resource_type=str(meta.get("resource_type", parts[0])),
            name=str(meta.get("name", name)), status=str(item.get("status", "")).lower(),
            failures=failures if isinstance(failures, int) else None, message=str(item.get("message") or ""),
            execution_time=float(item.get("execution_time") or 0.0),
        ))
    return nodes


def outcome_of(result: Any, args: list[str], output: str = "") -> DbtOutcome:
    """A :class:`DbtOutcome` from a ``dbtRunnerResult`` (``output``: what dbt printed, when captured)."""
    command = args[0] if args else "dbt"
    nodes = node_results(getattr(result, "result", None))
    error = ""
    if result.exception is not None:
        error = f"dbt {command} failed: {short_message(str(result.exception))}"
    elif not result.success and not nodes:
        error = f"dbt {command} failed: {last_error_line(output)}"
    listed = [str(x) for x in result.result] if isinstance(result.result, list) else []
    return DbtOutcome(bool(result.success), nodes, error, args=list(args), listed=sorted(listed),
                      output=output)
