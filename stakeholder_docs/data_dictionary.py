"""A data dictionary that cannot drift from the model: columns and types from dbt's ``catalog.json``
(what the warehouse really holds), descriptions from ``manifest.json`` (the YAML, docs blocks
rendered), example values queried from the warehouse.

    manifest, catalog = load_artifacts(dbt_project_dir() / "target")
    undocumented_columns(manifest, catalog, "mart_customer_overview")    # [] when complete
    table = build_dictionary(manifest, catalog, "mart_customer_overview", examples)
    print(to_markdown(table))
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from notebook_helpers.errors import HelperError

Fetch = Callable[[str], pd.DataFrame]
_NUMERIC_OR_DATE = re.compile(
    r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|DECIMAL|DOUBLE|FLOAT|REAL"
    r"|DATE|TIMESTAMP)"
)
_COURSE_MARKER = re.compile(r"^\s*--\s*(BEGIN|END) (SOLUTION|SKELETON)\s*$")
_QUALIFIED = re.compile(r'(?:"[^"]+"|\w+)\."(?:main)"\.("?)(\w+)\1')


class DocsError(HelperError):
    """A problem with the dbt artifacts or the model, with a one-line fix (no traceback in notebooks)."""


def _read_json(path: Path, how_to_make: str) -> dict[str, Any]:
    if not path.is_file():
        raise DocsError(f"{path.name} not found in {path.parent}: {how_to_make}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        raise DocsError(f"{path} is not valid JSON (a run was interrupted?): {how_to_make}") from None


def load_artifacts(target_dir: Path | str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(manifest, catalog)`` from a dbt ``target/`` folder, both written by ``dbt docs generate``."""
    target = Path(target_dir)
    fix = "run `%dbt docs generate` (or `dbt docs generate` in dbt_project/) first"
    return _read_json(target / "manifest.json", fix), _read_json(target / "catalog.json", fix)


def _find(nodes: dict[str, Any], model: str, where: str) -> dict[str, Any]:
    for uid, node in sorted(nodes.items()):
        if uid.startswith("model.") and node.get("name", node.get("metadata", {}).get("name")) == model:
            return node
    raise DocsError(f"model {model!r} is not in {where}: build it, then run `dbt docs generate` again")


def model_node(manifest: dict[str, Any], model: str) -> dict[str, Any]:
    """The manifest node of a model (its YAML: description, columns, config)."""
    return _find(manifest.get("nodes", {}), model, "manifest.json")


def catalog_columns(catalog: dict[str, Any], model: str) -> list[tuple[str, str]]:
    """``(column, warehouse type)`` of the built model, in table order (from catalog.json)."""
    entry = _find(catalog.get("nodes", {}), model, "catalog.json")
    columns = sorted(entry.get("columns", {}).values(), key=lambda c: c.get("index", 0))
    return [(c["name"].lower(), str(c.get("type", ""))) for c in columns]


def relation_name(catalog: dict[str, Any], model: str) -> str:
    """``schema.table`` of the built model (no database: queries run on the warehouse they document)."""
    meta = _find(catalog.get("nodes", {}), model, "catalog.json").get("metadata", {})
    return f'"{meta.get("schema", "main")}"."{meta.get("name", model)}"'


def _flat(text: str) -> str:
    """One line: markdown line breaks and list items become spaces, runs of spaces collapse."""
    return re.sub(r"\s+", " ", text or "").strip()


def is_trivial(column: str, description: str) -> bool:
    """True for no description, or one that only repeats the column name ("order count.")."""
    words = re.sub(r"[^a-z0-9]+", " ", description.lower()).split()
    return not words or words == column.lower().replace("_", " ").split()


def descriptions(manifest: dict[str, Any], model: str) -> dict[str, str]:
    """Column -> description (docs blocks already rendered by dbt), from the manifest."""
    columns = model_node(manifest, model).get("columns", {})
    return {name.lower(): _flat(col.get("description", "")) for name, col in columns.items()}


def undocumented_columns(manifest: dict[str, Any], catalog: dict[str, Any], model: str) -> list[str]:
    """Columns of the built model with no real description (missing, empty or just the name)."""
    described = descriptions(manifest, model)
    return [c for c, _ in catalog_columns(catalog, model) if is_trivial(c, described.get(c, ""))]


def stale_columns(manifest: dict[str, Any], catalog: dict[str, Any], model: str) -> list[str]:
    """Columns documented in YAML that the built model does not have (renamed or dropped)."""
    built = {c for c, _ in catalog_columns(catalog, model)}
    return sorted(c for c in descriptions(manifest, model) if c not in built)


def example_values(fetch: Fetch, relation: str, columns: list[tuple[str, str]], n: int = 3,
                   all_below: int = 10) -> dict[str, str]:
    """Column -> examples: ``min / median / max`` for numbers and dates; for text, every value when
    there are at most ``all_below`` of them (segments), else the ``n`` most frequent (ties by value);
    plus the share of NULLs. Values are rendered by DuckDB (exact decimals, ISO dates); no sampling."""
    out: dict[str, str] = {}
    for column, kind in columns:
        col = f'"{column}"'
        stats = fetch(f"select count(*) filter (where {col} is null) as k, count(*) as n, "
                      f"count(distinct {col}) as d from {relation}").iloc[0]
        nulls, total, distinct = int(stats["k"]), int(stats["n"]), int(stats["d"])
        if _NUMERIC_OR_DATE.match(kind.upper()):
            row = fetch(f"select min({col})::varchar as lo, quantile_disc({col}, 0.5)::varchar as mid, "
                        f"max({col})::varchar as hi from {relation}").iloc[0]
            text = "" if nulls == total else f"{row['lo']} / {row['mid']} / {row['hi']}"
        else:
            limit = distinct if distinct <= all_below else int(n)
            top = fetch(f"select {col}::varchar as v from {relation} where {col} is not null "
                        f"group by all order by count(*) desc, v limit {limit}")
            text = ", ".join(str(v) for v in top["v"])
        if nulls:
            text = f"{text} ({100 * nulls / total:.0f}% NULL)".strip()
        out[column] = text
    return out


def build_dictionary(manifest: dict[str, Any], catalog: dict[str, Any], model: str,
                     examples: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per column of the built model: column, type, description, example values."""
    described = descriptions(manifest, model)
    examples = examples or {}
    rows = [{"column": c, "type": kind, "description": described.get(c, ""), "examples": examples.get(c, "")}
            for c, kind in catalog_columns(catalog, model)]
    return pd.DataFrame(rows, columns=["column", "type", "description", "examples"])


def to_markdown(table: pd.DataFrame, title: str = "") -> str:
    """A GitHub-markdown table (pipes in cells escaped), optionally under a ``## title``."""
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|")

    head = [f"## {title}", ""] if title else []
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(head + lines) + "\n"


def business_sql(compiled: str) -> str:
    """Compiled SQL a stakeholder can paste: ``"dev"."main"."mart_x"`` -> ``mart_x`` (no Jinja, no
    database name that differs per environment), course answer markers and skeletons dropped,
    trailing whitespace trimmed."""
    lines: list[str] = []
    in_skeleton = False
    for line in compiled.strip().splitlines():
        marker = _COURSE_MARKER.match(line)
        if marker:
            in_skeleton = marker.group(2) == "SKELETON" and marker.group(1) == "BEGIN"
            continue
        if not in_skeleton:
            lines.append(_QUALIFIED.sub(lambda m: m.group(2), line).rstrip())
    return "\n".join(lines).strip() + "\n"
