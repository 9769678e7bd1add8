"""The layer of a dbt manifest node, in the two senses the course uses.

- :func:`dag_layer`: the flow of the lineage drawing (sources -> staging -> intermediate -> marts -> ml);
  ``marts/core`` is part of ``marts``. Used by notebook_helpers (DAG, project questions).
- :func:`folder_layer`: the ``models/`` folder a model is built from, with ``marts/core`` as its own
  ``core`` layer. Used by ops (build profile, project review) to time and place models.
"""

from __future__ import annotations

from typing import Any

DAG_LAYERS = ["sources", "staging", "intermediate", "marts", "ml"]
FOLDER_LAYERS = ["staging", "intermediate", "core", "marts", "ml", "other"]


def dag_layer(node: dict[str, Any]) -> str:
    """``sources``, ``staging``, ``intermediate``, ``marts`` (incl. marts/core), ``ml`` or ``other``."""
    if node["resource_type"] == "source":
        return "sources"
    fqn = node.get("fqn") or []
    folder = fqn[1] if len(fqn) > 2 else ""
    return folder if folder in DAG_LAYERS else "other"


def dag_layer_rank(layer: str) -> int:
    """Position of a DAG layer in the flow (``other`` last)."""
    return DAG_LAYERS.index(layer) if layer in DAG_LAYERS else len(DAG_LAYERS)


def folder_layer(node: dict[str, Any]) -> str:
    """Layer from the model's folder: ``staging``, ``intermediate``, ``core`` (any ``core`` folder),
    ``marts``, ``ml``, else ``other``."""
    fqn = node.get("fqn", [])
    folders = fqn[1:-1]
    if "core" in folders:
        return "core"
    return folders[0] if folders and folders[0] in FOLDER_LAYERS else "other"
