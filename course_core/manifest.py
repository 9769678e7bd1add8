"""Reading dbt's ``target/manifest.json``: nodes by name or type, their parents, tests and test metadata.

Plain functions on the parsed manifest (a dict), tolerant of missing keys (a submission's manifest
may be partial). The raw data folder's ``_manifest.json`` is another file: see ``datasets.manifest``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Node = dict[str, Any]


def load(path: str | Path) -> dict[str, Any]:
    """A manifest.json, parsed."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def nodes(manifest: dict[str, Any], resource_type: str | None = None) -> dict[str, Node]:
    """``unique_id -> node`` of the manifest's nodes (only ``resource_type``'s when given)."""
    found = manifest.get("nodes") or {}
    if resource_type is None:
        return dict(found)
    return {uid: n for uid, n in found.items() if n.get("resource_type") == resource_type}


def models(manifest: dict[str, Any]) -> dict[str, Node]:
    """``unique_id -> node`` of every model."""
    return nodes(manifest, "model")


def find_node(manifest: dict[str, Any], name: str, resource_type: str = "model") -> Node | None:
    """The node of a model (or other resource) by name, or None."""
    for node in (manifest.get("nodes") or {}).values():
        if node.get("name") == name and node.get("resource_type") == resource_type:
            return node
    return None


def parents(node: Node) -> list[str]:
    """Unique ids of the nodes (and sources) a node depends on."""
    return list((node.get("depends_on") or {}).get("nodes") or [])


def macros_used(node: Node) -> list[str]:
    """Unique ids of the macros a node depends on."""
    return list((node.get("depends_on") or {}).get("macros") or [])


def tests_on(manifest: dict[str, Any], unique_id: str) -> list[Node]:
    """Test nodes (generic and singular) that depend on the node ``unique_id``."""
    return [n for n in nodes(manifest, "test").values() if unique_id in parents(n)]


@dataclass(frozen=True)
class TestMetadata:
    """What a test node says about itself: its generic test's name, column and arguments.

    A singular test has no ``test_metadata``: ``name`` is ``""`` and ``generic`` False.
    """

    __test__ = False  # not a pytest test class (the name starts with Test)

    name: str = ""
    column: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    generic: bool = False


def test_metadata(test: Node) -> TestMetadata:
    """The ``test_metadata`` of a test node (name, kwargs) and the column it tests."""
    meta = test.get("test_metadata") or {}
    kwargs = meta.get("kwargs") or {}
    column = test.get("column_name") or kwargs.get("column_name")
    return TestMetadata(name=meta.get("name") or "", column=column, kwargs=kwargs, generic=bool(meta))


test_metadata.__test__ = False  # type: ignore[attr-defined]  # not a pytest test, where a test imports it
