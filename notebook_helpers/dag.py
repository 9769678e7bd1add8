"""A picture of the dbt DAG, laid out by layer: sources -> staging -> intermediate -> marts -> ml."""

from __future__ import annotations

import json
from typing import Any

from course_core import manifest as dbt_manifest
from notebook_helpers.dbt_project import manifest
from notebook_helpers.errors import HelperError
from notebook_helpers.layers import LAYERS, layer_of

COLOURS = {
    "sources": "#d9d9d9",
    "staging": "#c6dbef",
    "intermediate": "#fdd0a2",
    "marts": "#c7e9c0",
    "ml": "#dadaeb",
    "other": "#f2f2f2",
}


def dag_nodes(select: str | None = None) -> tuple[dict[str, dict[str, Any]], list[tuple[str, str]]]:
    """(unique_id -> node, edges) for the selected models and the sources they read."""
    data = manifest()
    models = dbt_manifest.models(data)
    everything = {**data["sources"], **models}
    if select:
        wanted = _selected_ids(select)
        if not wanted:
            raise HelperError(f"Nothing matches select={select!r}: check the model names.")
    else:
        wanted = set(everything)
    chosen = {uid: everything[uid] for uid in sorted(wanted) if uid in everything}
    edges = sorted(
        (parent, uid)
        for uid, node in chosen.items()
        for parent in dbt_manifest.parents(node)
        if parent in chosen
    )
    return chosen, edges


def _selected_ids(select: str) -> set[str]:
    from notebook_helpers.dbt_run import run_dbt

    args = ["ls", "-s", select, "--resource-type", "model", "--resource-type", "source",
            "--output", "json", "--output-keys", "unique_id"]
    result = run_dbt(args, quiet=True)
    if not result.success:
        raise HelperError(f"dbt could not list select={select!r}: {(result.error or '').splitlines()[:1]}")
    return {json.loads(line)["unique_id"] for line in result.listed}


def _columns(nodes: dict[str, dict[str, Any]], parents: dict[str, list[str]]) -> dict[str, int]:
    """Column of each node: its layer's first column plus its depth among same-layer parents."""
    depth: dict[str, int] = {}

    def depth_of(uid: str) -> int:
        if uid not in depth:
            same = [p for p in parents[uid] if layer_of(nodes[p]) == layer_of(nodes[uid])]
            depth[uid] = 1 + max((depth_of(p) for p in same), default=-1)
        return depth[uid]

    column: dict[str, int] = {}
    offset = 0
    for layer in LAYERS + ["other"]:
        members = [uid for uid in nodes if layer_of(nodes[uid]) == layer]
        if not members:
            continue
        for uid in members:
            column[uid] = offset + depth_of(uid)
        offset = max(column[uid] for uid in members) + 1
    return column


def _place(order: list[list[str]]) -> dict[str, tuple[float, float]]:
    pos = {}
    for x, members in enumerate(order):
        for i, uid in enumerate(members):
            pos[uid] = (float(x), (len(members) - 1) / 2 - i)
    return pos


def _height_key(
    uid: str, neighbours: list[str], pos: dict[str, tuple[float, float]], nodes: dict[str, dict[str, Any]]
) -> tuple[float, str]:
    ys = [pos[n][1] for n in neighbours]
    return (-sum(ys) / len(ys) if ys else 0.0, nodes[uid]["name"])


def layout(nodes: dict[str, dict[str, Any]], edges: list[tuple[str, str]]) -> dict[str, tuple[float, float]]:
    """x = column (layer, then depth inside the layer), y = order by neighbours' mean height then name.

    Deterministic: the same manifest always gives the same picture.
    """
    parents: dict[str, list[str]] = {uid: [] for uid in nodes}
    children: dict[str, list[str]] = {uid: [] for uid in nodes}
    for parent, child in edges:
        parents[child].append(parent)
        children[parent].append(child)
    column = _columns(nodes, parents)
    order: list[list[str]] = [
        sorted((u for u in nodes if column[u] == c), key=lambda u: nodes[u]["name"])
        for c in range(max(column.values(), default=-1) + 1)
    ]
    for _ in range(2):  # down the flow by parents' height, then the first column by children's
        for c in range(1, len(order)):
            pos = _place(order)
            order[c].sort(key=lambda u, pos=pos: _height_key(u, parents[u], pos, nodes))
        pos = _place(order)
        if order:
            order[0].sort(key=lambda u, pos=pos: _height_key(u, children[u], pos, nodes))
    return _place(order)


def show_dag(select: str | None = None, show: bool = True) -> Any:
    """Draw the DAG of the selected models (dbt selection syntax, e.g. ``"+mart_customer_overview"``).

    Columns follow the layers (a layer gets extra columns when its models depend on each
    other). Displays the picture and returns None, or returns the Figure when ``show=False``.
    """
    import matplotlib.pyplot as plt

    nodes, edges = dag_nodes(select)
    pos = layout(nodes, edges)
    n_columns = int(max(x for x, _ in pos.values())) + 1
    tallest = max(sum(1 for x, _ in pos.values() if x == c) for c in range(n_columns))
    fig, ax = plt.subplots(figsize=(2.7 * n_columns + 0.4, 0.42 * tallest + 1.0))
    boxes = {}
    for uid, (x, y) in sorted(pos.items()):
        node = nodes[uid]
        boxes[uid] = ax.text(
            x, y, node["name"], ha="center", va="center", fontsize=8, zorder=3,
            bbox={"boxstyle": "round,pad=0.3", "fc": COLOURS[layer_of(node)], "ec": "#555555", "lw": 0.6},
        )
    for parent, child in edges:
        ax.annotate(
            "", xy=(0, 0.5), xycoords=boxes[child], xytext=(1, 0.5), textcoords=boxes[parent],
            arrowprops={"arrowstyle": "->", "color": "#888888", "lw": 0.7, "shrinkA": 2, "shrinkB": 2},
            zorder=1,
        )
    top = (tallest - 1) / 2 + 0.8
    for layer in LAYERS + ["other"]:
        xs = [x for uid, (x, _) in pos.items() if layer_of(nodes[uid]) == layer]
        if xs:
            middle = (min(xs) + max(xs)) / 2
            ax.text(middle, top, layer, ha="center", va="bottom", fontsize=10, fontweight="bold")
    ax.set_xlim(-0.6, n_columns - 0.4)
    ax.set_ylim(-(tallest - 1) / 2 - 0.6, top + 0.5)
    ax.axis("off")
    fig.tight_layout()
    if not show:
        return fig
    try:
        from IPython.display import display

        display(fig)
    finally:
        plt.close(fig)
    return None
