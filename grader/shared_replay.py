"""One arrival replay shared by exercise 5.2 and the bonus (one submission, one workspace).

Both exercises replay the hidden arrival days in a private fork and run their incremental models
after each day (``ex_5_2._replay``, ``ex_bonus._replay``). When the submission's project parsed as a
whole (every exercise grades in the same workspace) and the bonus's model is ready to be replayed, 5.2's
replay runs both in one fork: one ``dbt run`` per arrival day selecting both exercises' models, one load
of each day's raw file, each exercise's comparisons taken between the days as its own replay takes them.

Each model sees exactly the runs, on the same data, of its own replay:

- the selections are disjoint (shared only when the bonus's model does not read 5.2's), so a run of
  both is, per model, the run of its own replay;
- the bonus's own replay forks the workspace after its ``builds`` check ran ``+model`` there: the
  shared fork's first run (5.2's first run) builds ``+model`` too, and the bonus's first run of its
  replay follows as its own invocation;
- after the last day 5.2's re-run (idempotence) selects its model only, then the bonus's snapshot and
  ``--full-refresh`` of ``+model``, as in their own replays.

A run that fails for one exercise's nodes (or anything else that goes wrong for it) drops that
exercise from the shared replay: it replays alone, exactly as before (same messages, same verdict),
while the other carries on; a failure that names no node drops both. So no verdict depends on the other
exercise's models. The bonus reads its part from ``ctx.shared`` only after its own preconditions
(``builds`` in the workspace, the reference) pass, in the order its own replay checks them.
"""

from __future__ import annotations

from typing import Any

from course_core import manifest as dbt_manifest
from grader.api import Fail
from grader.context import CheckContext
from grader.exercises import ex_5_2, ex_bonus

FIVE_TWO, BONUS = "5.2", "bonus"


def _upstream(manifest: dict, unique_id: str) -> set[str]:
    """unique_ids of a node and everything it depends on (what ``--select +model`` selects)."""
    nodes = manifest.get("nodes", {})
    seen: set[str] = set()
    todo = [unique_id]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo.extend((nodes.get(current, {}).get("depends_on") or {}).get("nodes") or [])
    return seen


def bonus_can_join(ctx: CheckContext) -> bool:
    """True when the bonus's replay can run in 5.2's fork (same workspace, model ready, disjoint)."""
    if ctx.shared is None or not ctx.arrival_files:
        return False
    try:
        ctx.require_answer_file(ex_bonus.MODEL_FILE)
        ex_bonus._require_reference(ctx)
    except Fail:  # Skip included: the bonus's own replay will say why
        return False
    manifest = ctx.manifest
    ours = dbt_manifest.find_node(manifest, ex_5_2.MODEL, "model")
    theirs = dbt_manifest.find_node(manifest, ex_bonus.MODEL, "model")
    if ours is None or theirs is None:
        return False
    return ours["unique_id"] not in _upstream(manifest, theirs["unique_id"])


def _run(ws: Any, active: set[str], *, only: str | None = None, extra: tuple[str, ...] = ()) -> None:
    """One ``dbt run`` of the active exercises' selections (``only``: one of them); drops from
    ``active`` each exercise whose nodes did not succeed (both when the failure names no node)."""
    wanted = [ex for ex in (FIVE_TWO, BONUS) if ex in active and (only is None or ex == only)]
    if not wanted:
        return
    select = [ex_5_2.MODEL if ex == FIVE_TWO else f"+{ex_bonus.MODEL}" for ex in wanted]
    outcome = ws.dbt("run", "--select", *select, *extra)
    if outcome.success:
        return
    bad = outcome.failures()
    if outcome.error or not bad:
        active.difference_update(wanted)
        return
    if FIVE_TWO in wanted and any(n.name == ex_5_2.MODEL for n in bad):
        active.discard(FIVE_TWO)
    if BONUS in wanted and any(n.name != ex_5_2.MODEL for n in bad):
        active.discard(BONUS)
    if active.issuperset(wanted):  # failed without a failing node of either: trust neither
        active.difference_update(wanted)


def replay_with_bonus(ctx: CheckContext) -> dict[str, Any] | None:
    """5.2's main scenario (states after the first run and each arrival day, idempotence) run in one
    fork with the bonus's replay, whose results go to ``ctx.shared[ex_bonus.SHARED_KEY]``. None when 5.2 must
    replay alone (the bonus cannot join, or 5.2's part did not complete)."""
    if not bonus_can_join(ctx):
        return None
    active = {FIVE_TWO, BONUS}
    ours: dict[str, Any] = {"states": []}
    theirs: dict[str, Any] = {"comparisons": [], "self_differences": None}
    try:
        ws = ctx.fork("replay")
        _run(ws, active)  # 5.2's first run; the bonus's `builds` (+model) before its fork
        if FIVE_TWO in active:
            ours["states"].append(ex_5_2._state(ctx, ws, 0))
        _run(ws, active, only=BONUS)  # the bonus replay's first run
        for day in range(1, len(ctx.arrival_files) + 1):
            if not active:
                break
            ctx.replay_arrivals(ws, day)
            _run(ws, active)
            if FIVE_TWO in active:
                ours["states"].append(ex_5_2._state(ctx, ws, day))
            if BONUS in active:
                theirs["comparisons"].append((day, ex_bonus.compare_day(ctx, ws, day)))
        if FIVE_TWO in active:
            before = ex_5_2._fingerprint(ws)
            _run(ws, active, only=FIVE_TWO)
            if FIVE_TWO in active:
                ours["idempotent"] = ex_5_2._fingerprint(ws) == before
        if BONUS in active:
            ex_bonus.keep_incremental(ws)
            _run(ws, active, only=BONUS, extra=("--full-refresh",))
            if BONUS in active:
                theirs["self_differences"] = ex_bonus.self_differences(ws)
        ctx.discard(ws)
    except Exception:  # noqa: BLE001 - Fail/Skip included: each exercise replays alone and says why
        return None
    if BONUS in active:
        ctx.shared[ex_bonus.SHARED_KEY] = theirs  # (read at run time: the edition strips it)
    return ours if FIVE_TWO in active else None
