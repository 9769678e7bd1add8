"""Test/documentation coverage per layer and structure findings, from manifest.json.

In the spirit of dbt-project-evaluator (which needs `dbt deps`, so not available offline):
    root_model                      a model with no parents (no ref, no source)
    source_outside_staging          a non-staging model reading a source directly
    staging_depends_on_staging      a staging model built on another staging model
    model_fanout                    a model with more than `fanout` direct model children
    chained_views                   more than `view_chain` views/ephemerals in a row
    missing_primary_key_test        no unique+not_null on one column, no
                                    unique_combination_of_columns, no primary_key constraint
    undocumented_model              a model without a description

    python -m ops.project_review --manifest target/manifest.json [--catalog target/catalog.json]

Column coverage counts columns declared in YAML; with a catalog.json (`dbt docs generate`)
it counts every column the warehouse really has.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import pandas as pd

from course_core import manifest as dbt_manifest
from course_core.dbt_layers import FOLDER_LAYERS as LAYER_ORDER
from course_core.dbt_layers import folder_layer as layer_of
from ops.dbt_invoke import cli_main, load_json, load_manifest

VIEWLIKE = {"view", "ephemeral"}


@dataclass(frozen=True)
class Finding:
    """One structure finding."""

    rule: str
    model: str
    detail: str


def _models(manifest: dict) -> dict[str, dict]:
    return dict(sorted(dbt_manifest.models(manifest).items()))


def tests_by_model(manifest: dict) -> dict[str, list[dict]]:
    """Generic/singular tests attached to each model (by attached_node, else depends_on)."""
    found: dict[str, list[dict]] = {}
    for node in dbt_manifest.nodes(manifest, "test").values():
        targets = (
            [node["attached_node"]]
            if node.get("attached_node")
            else [p for p in dbt_manifest.parents(node) if p.startswith("model.")]
        )
        for uid in targets:
            found.setdefault(uid, []).append(node)
    return found


def has_primary_key_test(model: dict, tests: list[dict]) -> bool:
    """unique + not_null on one column, unique_combination_of_columns, or a primary_key constraint."""
    by_column: dict[str, set[str]] = {}
    for test in tests:
        meta = dbt_manifest.test_metadata(test)
        name, column = meta.name, meta.column
        if name == "unique_combination_of_columns":
            return True
        if column and name in ("unique", "not_null"):
            by_column.setdefault(str(column).strip('"').lower(), set()).add(name)
    if any(names >= {"unique", "not_null"} for names in by_column.values()):
        return True
    constraints = list(model.get("constraints", []))
    for column in model.get("columns", {}).values():
        constraints += column.get("constraints", [])
    return any(c.get("type") == "primary_key" for c in constraints)


def model_table(manifest: dict, catalog: dict | None = None) -> pd.DataFrame:
    """One row per model: layer, materialization, tests, PK test, description, column coverage."""
    tests = tests_by_model(manifest)
    rows = []
    for uid, node in _models(manifest).items():
        declared = node.get("columns", {})
        described = sum(bool((c.get("description") or "").strip()) for c in declared.values())
        total = len(declared)
        if catalog is not None:
            total = len(catalog.get("nodes", {}).get(uid, {}).get("columns", {})) or total
        rows.append(
            {
                "model": node["name"],
                "layer": layer_of(node),
                "materialized": node.get("config", {}).get("materialized"),
                "tests": len(tests.get(uid, [])),
                "pk_test": has_primary_key_test(node, tests.get(uid, [])),
                "described": bool((node.get("description") or "").strip()),
                "columns": total,
                "columns_described": described,
            }
        )
    columns = [
        "model",
        "layer",
        "materialized",
        "tests",
        "pk_test",
        "described",
        "columns",
        "columns_described",
    ]
    return pd.DataFrame(rows, columns=columns)


def coverage_by_layer(models: pd.DataFrame) -> pd.DataFrame:
    """Per layer (and overall): % of models tested, with a PK test, described; % of columns described."""

    def summarise(group: pd.DataFrame) -> dict:
        n = len(group)
        cols = int(group["columns"].sum())
        return {
            "models": n,
            "tested_pct": round(100 * (group["tests"] > 0).mean(), 1),
            "pk_test_pct": round(100 * group["pk_test"].mean(), 1),
            "described_pct": round(100 * group["described"].mean(), 1),
            "columns": cols,
            "columns_described_pct": round(100 * group["columns_described"].sum() / cols, 1) if cols else 0.0,
        }

    rows = [
        {"layer": layer, **summarise(models[models["layer"] == layer])}
        for layer in LAYER_ORDER
        if (models["layer"] == layer).any()
    ]
    if len(models):
        rows.append({"layer": "all", **summarise(models)})
    return pd.DataFrame(rows)


def structure_findings(manifest: dict, fanout: int = 3, view_chain: int = 3) -> list[Finding]:
    """All structure findings, sorted by rule then model."""
    models = _models(manifest)
    tests = tests_by_model(manifest)
    child_map = manifest.get("child_map", {})
    findings = []
    for uid, node in models.items():
        name, layer = node["name"], layer_of(node)
        parents = dbt_manifest.parents(node)
        if not parents:
            findings.append(Finding("root_model", name, "no ref() or source(): is it generated data?"))
        sources = sorted(p.split(".", 2)[-1] for p in parents if p.startswith("source."))
        if sources and layer != "staging":
            findings.append(
                Finding("source_outside_staging", name, f"{layer} model reads {', '.join(sources)}")
            )
        if layer == "staging":
            stg = sorted(
                models[p]["name"] for p in parents if p in models and layer_of(models[p]) == "staging"
            )
            if stg:
                findings.append(Finding("staging_depends_on_staging", name, f"built on {', '.join(stg)}"))
        children = sorted({models[c]["name"] for c in child_map.get(uid, []) if c in models})
        if len(children) > fanout:
            findings.append(
                Finding("model_fanout", name, f"{len(children)} direct children: {', '.join(children)}")
            )
        if not has_primary_key_test(node, tests.get(uid, [])):
            findings.append(
                Finding("missing_primary_key_test", name, f"{layer} model without a primary-key test")
            )
        if not (node.get("description") or "").strip():
            findings.append(Finding("undocumented_model", name, "no description"))
    for chain in view_chains(models):
        if len(chain) > view_chain:
            findings.append(
                Finding("chained_views", chain[-1], f"{len(chain)} views in a row: {' -> '.join(chain)}")
            )
    return sorted(findings, key=lambda f: (f.rule, f.model, f.detail))


def view_chains(models: dict[str, dict]) -> list[list[str]]:
    """Longest chain of consecutive views/ephemerals ending at each view that no view reads."""

    def is_view(uid: str) -> bool:
        return uid in models and models[uid].get("config", {}).get("materialized") in VIEWLIKE

    memo: dict[str, list[str]] = {}

    def chain(uid: str) -> list[str]:
        if uid not in memo:
            longest: list[str] = []
            for p in sorted(dbt_manifest.parents(models[uid])):
                if is_view(p) and len(candidate := chain(p)) > len(longest):
                    longest = candidate
            memo[uid] = [*longest, models[uid]["name"]]
        return memo[uid]

    read_by_view = {p for u in models if is_view(u) for p in dbt_manifest.parents(models[u])}
    return [chain(u) for u in models if is_view(u) and u not in read_by_view]


def review(
    manifest: dict, catalog: dict | None = None, fanout: int = 3, view_chain: int = 3
) -> tuple[pd.DataFrame, pd.DataFrame, list[Finding]]:
    """(models table, coverage per layer, structure findings)."""
    models = model_table(manifest, catalog)
    return models, coverage_by_layer(models), structure_findings(manifest, fanout, view_chain)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.project_review", description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", default="dbt_project/target/manifest.json")
    parser.add_argument("--catalog", help="catalog.json from `dbt docs generate` (true column counts)")
    parser.add_argument("--fanout", type=int, default=3, help="flag models with more direct children")
    parser.add_argument("--view-chain", type=int, default=3, help="flag longer chains of views")
    args = parser.parse_args(argv)
    manifest = load_manifest(args.manifest)
    catalog = load_json(args.catalog, "catalog.json") if args.catalog else None
    _, coverage, findings = review(manifest, catalog, args.fanout, args.view_chain)
    with pd.option_context("display.width", 140):
        print(coverage.to_string(index=False))
    for f in findings:
        print(f"{f.rule:28} {f.model:32} {f.detail}")
    print(f"{len(findings)} finding(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(cli_main(main))
