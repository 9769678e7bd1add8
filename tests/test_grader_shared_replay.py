"""grader.shared_replay: which exercise leaves the shared arrival replay when a run fails (fast).

The shared replay itself runs real dbt in every graded full-module submission (bench/bench_grading.py,
tests/test_grader_end_to_end.py); here only its bookkeeping: a run of both exercises' models that
fails for one exercise's nodes drops that exercise alone (it then replays on its own, as before), a
failure that names no node drops both, and the bonus joins only when its model does not read 5.2's.
"""

from __future__ import annotations

from course_core.dbt_result import DbtOutcome, NodeResult
from grader import shared_replay as sr
from grader.exercises import ex_5_2, ex_bonus


class FakeWorkspace:
    """Answers each ``dbt`` call with the next prepared outcome and records the arguments."""

    def __init__(self, *outcomes: DbtOutcome):
        self.outcomes = list(outcomes)
        self.calls: list[tuple[str, ...]] = []

    def dbt(self, *args: str) -> DbtOutcome:
        self.calls.append(args)
        return self.outcomes.pop(0)


def node(name: str, status: str) -> NodeResult:
    return NodeResult(f"model.vyaparbazaar.{name}", "model", name, status)


OK = DbtOutcome(True, [node(ex_5_2.MODEL, "success"), node(ex_bonus.MODEL, "success")])


def run(outcome: DbtOutcome, active: set[str], **kwargs) -> tuple[set[str], tuple[str, ...]]:
    ws = FakeWorkspace(outcome)
    sr._run(ws, active, **kwargs)
    return active, ws.calls[0]


def test_a_successful_run_keeps_both_and_selects_both_models() -> None:
    active, args = run(OK, {sr.FIVE_TWO, sr.BONUS})
    assert active == {sr.FIVE_TWO, sr.BONUS}
    assert args == ("run", "--select", ex_5_2.MODEL, f"+{ex_bonus.MODEL}")


def test_a_failing_5_2_model_drops_only_5_2() -> None:
    failed = DbtOutcome(False, [node(ex_5_2.MODEL, "error"), node(ex_bonus.MODEL, "success")])
    assert run(failed, {sr.FIVE_TWO, sr.BONUS})[0] == {sr.BONUS}


def test_a_failing_bonus_node_drops_only_the_bonus() -> None:
    failed = DbtOutcome(False, [node(ex_5_2.MODEL, "success"),
                                node("int_clickstream_events_incremental", "error"),
                                node(ex_bonus.MODEL, "skipped")])
    assert run(failed, {sr.FIVE_TWO, sr.BONUS})[0] == {sr.FIVE_TWO}


def test_a_failure_naming_no_node_drops_both() -> None:
    assert run(DbtOutcome(False, [], "dbt run failed: boom"), {sr.FIVE_TWO, sr.BONUS})[0] == set()
    assert run(DbtOutcome(False, [node(ex_5_2.MODEL, "success")]), {sr.FIVE_TWO, sr.BONUS})[0] == set()


def test_a_run_for_one_exercise_selects_and_drops_only_it() -> None:
    failed = DbtOutcome(False, [node(ex_bonus.MODEL, "error")], args=[])
    active, args = run(failed, {sr.FIVE_TWO, sr.BONUS}, only=sr.BONUS, extra=("--full-refresh",))
    assert args == ("run", "--select", f"+{ex_bonus.MODEL}", "--full-refresh")
    assert active == {sr.FIVE_TWO}
    ws = FakeWorkspace()
    sr._run(ws, {sr.FIVE_TWO}, only=sr.BONUS)  # the bonus already left: no run at all
    assert ws.calls == []


def test_upstream_follows_dependencies() -> None:
    def model(name: str, *parents: str) -> dict:
        return {"name": name, "resource_type": "model",
                "depends_on": {"nodes": [f"model.p.{p}" for p in parents]}}

    manifest = {"nodes": {"model.p.a": model("a"), "model.p.b": model("b", "a"), "model.p.c": model("c", "b"),
                          "model.p.d": model("d")}}
    assert sr._upstream(manifest, "model.p.c") == {"model.p.a", "model.p.b", "model.p.c"}
    assert "model.p.d" not in sr._upstream(manifest, "model.p.c")
