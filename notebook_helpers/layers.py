"""The layers of the dbt project, from a manifest node's resource type and ``models/`` sub-folder."""

from __future__ import annotations

from typing import Any

LAYERS = ["sources", "staging", "intermediate", "marts", "ml"]


def layer_of(node: dict[str, Any]) -> str:
    """``sources``, ``staging``, ``intermediate``, ``marts`` (incl. marts/core), ``ml`` or ``other``."""
    if node["resource_type"] == "source":
        return "sources"
    fqn = node.get("fqn") or []
    folder = fqn[1] if len(fqn) > 2 else ""
    return folder if folder in LAYERS else "other"


def layer_rank(layer: str) -> int:
    """Position of a layer in the flow (``other`` last)."""
    return LAYERS.index(layer) if layer in LAYERS else len(LAYERS)
