"""Plan checks from DuckDB's profiler: find joins that fan out (output larger than their inputs).

``EXPLAIN (ANALYZE, FORMAT JSON)`` runs the query once and reports the rows each operator
produced; a join producing more rows than its inputs together multiplies rows (a many-to-many
"fan-out"), which is what inflates ``sum()`` in ``int_customer_behavior``. No timings are used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import duckdb

JOIN_TYPES = (
    "HASH_JOIN",
    "NESTED_LOOP_JOIN",
    "PIECEWISE_MERGE_JOIN",
    "BLOCKWISE_NL_JOIN",
    "CROSS_PRODUCT",
    "IE_JOIN",
    "ASOF_JOIN",
)


@dataclass(frozen=True)
class JoinStats:
    """Rows in and out of one join operator of an executed plan."""

    operator: str
    condition: str
    output_rows: int
    input_rows: tuple[int, ...]

    @property
    def fans_out(self) -> bool:
        """True when the join produced more rows than all its inputs together."""
        return self.output_rows > sum(self.input_rows)


def _rows(node: dict) -> int:
    for key in ("operator_cardinality", "intermediate_rows", "cardinality"):
        if key in node and node[key] is not None:
            return int(node[key])
    return 0


def _walk(node: dict, out: list[JoinStats]) -> None:
    kind = str(node.get("type") or node.get("operator_type") or node.get("name") or "")
    children = node.get("children") or []
    if kind in JOIN_TYPES:
        extra = node.get("extra_info") or {}
        condition = extra.get("Conditions", "") if isinstance(extra, dict) else ""
        if isinstance(condition, list):
            condition = " AND ".join(str(c) for c in condition)
        out.append(JoinStats(kind, str(condition), _rows(node), tuple(_rows(c) for c in children)))
    for child in children:
        _walk(child, out)


def profile_joins(con: duckdb.DuckDBPyConnection, sql: str) -> list[JoinStats]:
    """Run ``sql`` under EXPLAIN ANALYZE and return the row counts of every join operator."""
    row = con.sql(f"explain (analyze, format json) {sql}").fetchall()[0]
    return joins_from_profile(row[1])


def joins_from_profile(text: str) -> list[JoinStats]:
    """The joins of a JSON profile (``EXPLAIN (ANALYZE, FORMAT JSON)`` output, e.g. from the worker)."""
    profile = json.loads(text)
    joins: list[JoinStats] = []
    roots = profile.get("operator", []) if isinstance(profile, dict) else profile
    for root in roots if isinstance(roots, list) else [roots]:
        _walk(root, joins)
    if isinstance(profile, dict) and "children" in profile:
        _walk(profile, joins)
    return joins
