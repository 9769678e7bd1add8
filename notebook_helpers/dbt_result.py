"""What a dbt invocation produced, and its deterministic one-line-per-node summary."""

from __future__ import annotations

from dataclasses import dataclass, field

from course_core.dbt_result import MAX_NAME, DbtOutcome, NodeResult, clean, short_name

__all__ = ["MAX_NAME", "DbtResult", "NodeResult", "clean", "short_name", "stable_order"]

_TYPE_ORDER = {"seed": 0, "snapshot": 1, "model": 2, "test": 3, "unit_test": 3}


@dataclass
class DbtResult(DbtOutcome):
    """The outcome of ``dbt(...)`` (course_core's DbtOutcome): per-node results in a stable order,
    row counts of built models, and a printable multi-line :meth:`summary`.

    ``error`` here is dbt's full error text (None when there is none), printed under "dbt error:";
    node messages are kept for nodes that errored, failed or warned only. ``timings`` (per-node
    seconds) and ``node(name)`` come from DbtOutcome.
    """

    error: str | None = None  # type: ignore[assignment]
    interrupted: bool = False  # the cell was interrupted while dbt ran
    notes: list[str] = field(default_factory=list)  # what an interrupt left as it was

    def summary(self) -> str:
        """A deterministic text summary: headline, one line per node, error messages."""
        command = "dbt " + " ".join(self.args)
        lines: list[str] = []
        counts: dict[str, int] = {}
        for n in self.nodes:
            counts[n.status] = counts.get(n.status, 0) + 1
        tally = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
        verdict = "INTERRUPTED" if self.interrupted else "OK" if self.success else "FAILED"
        lines.append(f"{command}: {verdict}" + (f" ({tally})" if tally else ""))
        if (not self.nodes and not self.listed and self.error is None and self.args[:1] != ["parse"]
                and not self.interrupted):
            lines.append("  nothing was selected: check the model name after -s")
        width = max((len(short_name(n.name)) for n in self.nodes), default=0)
        status_width = max((len(n.status) for n in self.nodes), default=0)
        for n in self.nodes:
            lines.append(n.line(width, status_width))
        lines.extend(f"  {item}" for item in self.listed)
        lines.extend(self.notes)
        for warning in self.warnings:
            lines.append(f"warning: {warning}")
        for n in self.failed:
            if n.message and (n.status == "error" or n.resource_type not in ("test", "unit_test")):
                lines.append(f"{n.resource_type} {n.name} {n.status}:")
                lines.extend(f"    {line}".rstrip() for line in clean(n.message).splitlines())
        if self.error:
            lines.append("dbt error:")
            lines.extend(f"    {line}".rstrip() for line in clean(self.error).splitlines())
        text = "\n".join(lines)
        if "Could not set lock on file" in text:
            from notebook_helpers.connections import lock_message

            text += "\n" + lock_message(RuntimeError(text))
        return text

    def __repr__(self) -> str:
        verdict = "interrupted" if self.interrupted else "success" if self.success else "failed"
        return f"<DbtResult {' '.join(self.args)!r}: {verdict}, {len(self.nodes)} nodes>"


def stable_order(nodes: list[NodeResult], depends_on: dict[str, list[str]]) -> list[NodeResult]:
    """Nodes in DAG order (ties by name), each model followed by its tests (by name)."""
    import networkx as nx

    by_id = {n.unique_id: n for n in nodes}
    tests = [n for n in nodes if n.resource_type in ("test", "unit_test")]
    others = [n for n in nodes if n.resource_type not in ("test", "unit_test")]
    graph = nx.DiGraph()
    for n in others:
        graph.add_node(n.unique_id)
        for parent in depends_on.get(n.unique_id, []):
            if parent in by_id and by_id[parent] not in tests:
                graph.add_edge(parent, n.unique_id)
    key = {n.unique_id: (_TYPE_ORDER.get(n.resource_type, 9), n.name) for n in others}
    ordered = [by_id[u] for u in nx.lexicographical_topological_sort(graph, key=lambda u: key[u])]
    result: list[NodeResult] = []
    placed: set[str] = set()
    for n in ordered:
        result.append(n)
        mine = sorted((t for t in tests if t.parent == n.unique_id), key=lambda t: t.name)
        result.extend(mine)
        placed.update(t.unique_id for t in mine)
    result.extend(sorted((t for t in tests if t.unique_id not in placed), key=lambda t: t.name))
    return result
