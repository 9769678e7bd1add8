"""The typed report (grader/report.py): what is written is what is read back, and anything else a
grading process or a report.json holds is refused with the field it got wrong (no dbt needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.answers import Answers
from grader.batch import empty_exercises, read_result
from grader.outputs import report_json
from grader.report import (
    CheckResult,
    ExerciseReport,
    ManualAnswer,
    ReportFormatError,
    SubmissionReport,
    WorkerResult,
)


def _report() -> SubmissionReport:
    exercises = empty_exercises(Answers(prose={"5.1:q1": "Fan-out."}), "failed")
    first = exercises["5.1"]
    check = CheckResult("extra", False, 0.0, 1.0, False, "3 rows differ", "look at <dates>",
                        ({"order_id": 7, "status": None},))
    exercises["5.1"] = ExerciseReport(first.score, first.max_score, (*first.checks, check), first.manual)
    exercises["empty"] = ExerciseReport(0, 0, (), ())  # an exercise without checks sums to the int 0
    return SubmissionReport("ana", "ok", "", 0.0, 2.0, ("a problem",), "uid", exercises, seconds=1.5)


def test_a_report_reads_back_to_the_byte():
    report = _report()
    text = report_json(report)
    again = SubmissionReport.from_json(json.loads(text))
    assert report_json(again) == text
    assert again.exercises["empty"].score == 0 and isinstance(again.exercises["empty"].score, int)
    assert again.exercises["5.1"].checks[-1].examples == ({"order_id": 7, "status": None},)
    manual = again.exercises["5.1"].manual[0]
    assert manual == ManualAnswer("q1", 2.0, manual.prompt, "answer:5.1:q1", "Fan-out.")
    assert "hint" not in json.loads(text)["exercises"]["5.1"]["checks"][0]  # absent unless there is one


def test_a_worker_result_crosses_back_whole():
    report = _report()
    sent = WorkerResult("ok", isolation="bwrap", exercises=report.exercises, problems=("refused x",),
                        worker_cpu_seconds=2.5, timings={"trusted_cpu": 1.0})
    got = WorkerResult.from_json(json.loads(json.dumps(sent.to_json())))
    assert got == WorkerResult("ok", "", "bwrap", got.exercises, ("refused x",), 2.5, {"trusted_cpu": 1.0})
    assert dict(got.exercises or {}) == dict(report.exercises)
    failed = WorkerResult.from_json(json.loads(json.dumps(WorkerResult("error", "boom", None).to_json())))
    assert failed == WorkerResult("error", "boom", None)


MALFORMED = [
    ([], "result: expected an object, got list"),
    ({"status": "done"}, "result.status: unknown status 'done'"),
    ({"status": "timeout"}, "result.status: unknown status 'timeout'"),
    ({"status": "ok", "exercises": []}, "result.exercises: expected an object, got list"),
    ({"status": "ok", "exercises": {"5.1": {"score": "3", "max_score": 4}}},
     "result.exercises.5.1.score: expected a number, got str"),
    ({"status": "ok", "exercises": {"5.1": {"score": 1, "max_score": 4,
                                            "checks": [{"name": "x", "passed": 1}]}}},
     "result.exercises.5.1.checks[0].passed: expected true or false, got int"),
    ({"status": "ok", "exercises": {"5.1": {"score": True, "max_score": 4}}},
     "result.exercises.5.1.score: expected a number, got bool"),
    ({"status": "ok", "exercises": {}, "problems": ["a", 3]}, "result.problems: expected a list of texts"),
]


@pytest.mark.parametrize("value, message", MALFORMED, ids=[m for _, m in MALFORMED])
def test_a_malformed_worker_result_names_its_field(value, message):
    with pytest.raises(ReportFormatError) as caught:
        WorkerResult.from_json(value)
    assert str(caught.value) == message


def test_the_batch_turns_a_malformed_result_file_into_an_error_for_that_submission(tmp_path: Path):
    path = tmp_path / "result.json"
    path.write_text('{"status": "ok", "exercises": {"5.1": {"score": "3"}}}')
    assert read_result(path) == WorkerResult(
        "error", "grading process wrote a malformed result (result.exercises.5.1.score: expected a number, "
                 "got str)")
    path.write_text('{"status": "ok", "exerc')  # cut short
    got = read_result(path)
    assert got.status == "error" and got.message.startswith("grading process wrote a malformed result (")
    path.write_bytes(b"\xff\xfe")
    assert read_result(path).status == "error"
