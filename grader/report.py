"""The typed report of a graded submission, from a check's result to the class's outputs.

``CheckResult`` (one auto-graded check) and ``ManualAnswer`` (one prose item for the instructor) make an
``ExerciseReport``; the exercises of one submission make a ``SubmissionReport``. ``WorkerResult`` is what
a grading process (``grader.worker``) hands back to the batch. Reports cross the disk in exactly one
way: ``to_json()`` gives the JSON value written (report.json, result.json) and ``from_json()`` reads one
back strictly: anything malformed is a ``ReportFormatError`` naming the field, never a half-read report.

Numbers are kept as they were computed (an exercise without checks scores the int ``0``), so a report
written, read and written again is the same text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# A row of example data shown with a failed check (column -> value): JSON data, not a report field.
ExampleRow = Mapping[str, object]


class ReportFormatError(ValueError):
    """A report read from disk (or from a grading process) is not what this grader writes."""


# ---- strict readers ------------------------------------------------------------------------------
def _object(value: object, where: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise ReportFormatError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _str(data: Mapping[str, object], key: str, where: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise ReportFormatError(f"{where}.{key}: expected text, got {type(value).__name__}")
    return value


def _number(data: Mapping[str, object], key: str, where: str, default: float | None = None) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ReportFormatError(f"{where}.{key}: expected a number, got {type(value).__name__}")
    return value  # an int stays an int: the text written back is unchanged


def _bool(data: Mapping[str, object], key: str, where: str) -> bool:
    value = data.get(key)
    if not isinstance(value, bool):
        raise ReportFormatError(f"{where}.{key}: expected true or false, got {type(value).__name__}")
    return value


def _list(data: Mapping[str, object], key: str, where: str) -> list[object]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise ReportFormatError(f"{where}.{key}: expected a list, got {type(value).__name__}")
    return value


def _texts(data: Mapping[str, object], key: str, where: str) -> tuple[str, ...]:
    values = _list(data, key, where)
    if not all(isinstance(v, str) for v in values):
        raise ReportFormatError(f"{where}.{key}: expected a list of texts")
    return tuple(str(v) for v in values)


# ---- the report ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckResult:
    """The outcome of one auto-graded check: points earned of ``max_points``, and what it says."""

    name: str
    passed: bool
    points: float
    max_points: float
    public: bool
    message: str
    hint: str = ""
    examples: tuple[ExampleRow, ...] = ()

    def to_json(self) -> dict[str, object]:
        """The check's entry in report.json (``hint`` and ``examples`` only when there are some)."""
        data: dict[str, object] = {"name": self.name, "passed": self.passed, "points": self.points,
                                   "max_points": self.max_points, "public": self.public,
                                   "message": self.message}
        if self.hint:
            data["hint"] = self.hint
        if self.examples:
            data["examples"] = [dict(row) for row in self.examples]
        return data

    @classmethod
    def from_json(cls, value: object, where: str = "check") -> CheckResult:
        """Read one check's entry; ``ReportFormatError`` when malformed."""
        data = _object(value, where)
        examples = tuple(_object(row, f"{where}.examples[{i}]")
                         for i, row in enumerate(_list(data, "examples", where)))
        return cls(_str(data, "name", where), _bool(data, "passed", where), _number(data, "points", where),
                   _number(data, "max_points", where), _bool(data, "public", where),
                   _str(data, "message", where, ""), _str(data, "hint", where, ""), examples)


@dataclass(frozen=True)
class ManualAnswer:
    """A manually scored item with the submission's answer; ``points`` stay None until ``finalize``."""

    name: str
    max_points: float
    prompt: str
    source: str
    answer: str
    points: float | None = None
    comment: str = ""  # the instructor's (finalize); never in report.json

    def to_json(self) -> dict[str, object]:
        """The item's entry in report.json."""
        return {"name": self.name, "max_points": self.max_points, "points": self.points, "manual": True,
                "prompt": self.prompt, "source": self.source, "answer": self.answer}

    @classmethod
    def from_json(cls, value: object, where: str = "manual") -> ManualAnswer:
        """Read one manual item's entry; ``ReportFormatError`` when malformed."""
        data = _object(value, where)
        points = None if data.get("points") is None else _number(data, "points", where)
        return cls(_str(data, "name", where), _number(data, "max_points", where), _str(data, "prompt", where),
                   _str(data, "source", where), _str(data, "answer", where), points)


@dataclass(frozen=True)
class ExerciseReport:
    """One exercise of a submission: its checks' results and its manual items."""

    score: float
    max_score: float
    checks: tuple[CheckResult, ...]
    manual: tuple[ManualAnswer, ...]

    def to_json(self) -> dict[str, object]:
        """The exercise's entry in report.json."""
        return {"score": self.score, "max_score": self.max_score,
                "checks": [c.to_json() for c in self.checks], "manual": [m.to_json() for m in self.manual]}

    @classmethod
    def from_json(cls, value: object, where: str = "exercise") -> ExerciseReport:
        """Read one exercise's entry; ``ReportFormatError`` when malformed."""
        data = _object(value, where)
        checks = tuple(CheckResult.from_json(c, f"{where}.checks[{i}]")
                       for i, c in enumerate(_list(data, "checks", where)))
        manual = tuple(ManualAnswer.from_json(m, f"{where}.manual[{i}]")
                       for i, m in enumerate(_list(data, "manual", where)))
        return cls(_number(data, "score", where), _number(data, "max_score", where), checks, manual)


Exercises = Mapping[str, ExerciseReport]  # by exercise id, in the registry's order


def exercises_to_json(exercises: Exercises) -> dict[str, object]:
    """``{exercise id: entry}`` as written."""
    return {ex_id: ex.to_json() for ex_id, ex in exercises.items()}


def exercises_from_json(value: object, where: str = "exercises") -> dict[str, ExerciseReport]:
    """Read ``{exercise id: entry}``; ``ReportFormatError`` when malformed."""
    return {str(ex_id): ExerciseReport.from_json(ex, f"{where}.{ex_id}")
            for ex_id, ex in _object(value, where).items()}


@dataclass(frozen=True)
class SubmissionReport:
    """The report of one graded submission (report.json holds all but the run's measurements)."""

    submission: str
    status: str  # ok, error, timeout
    message: str
    score: float
    max_score: float
    problems: tuple[str, ...]
    isolation: str
    exercises: Exercises
    seconds: float = 0.0  # wall time of this submission (log line only)
    worker_cpu_seconds: float = 0.0  # CPU of its untrusted worker (bench/bench_grading.py)
    timings: Mapping[str, object] | None = None  # grader.timing's measurements (VB_GRADER_TIMINGS=1)

    def to_json(self) -> dict[str, object]:
        """The content of report.json (stable: no timings)."""
        return {"submission": self.submission, "status": self.status, "message": self.message,
                "score": self.score, "max_score": self.max_score, "problems": list(self.problems),
                "exercises": exercises_to_json(self.exercises), "isolation": self.isolation}

    @classmethod
    def from_json(cls, value: object, where: str = "report") -> SubmissionReport:
        """Read a report.json value; ``ReportFormatError`` when malformed."""
        data = _object(value, where)
        isolation = data.get("isolation")
        return cls(_str(data, "submission", where), _str(data, "status", where),
                   _str(data, "message", where, ""), _number(data, "score", where),
                   _number(data, "max_score", where),
                   _texts(data, "problems", where), isolation if isinstance(isolation, str) else "",
                   exercises_from_json(data.get("exercises", {}), f"{where}.exercises"))


@dataclass(frozen=True)
class WorkerResult:
    """What one grading process (``python -m grader.worker``) hands back: the graded exercises
    (status ``ok``), or why there are none (``error``, ``timeout``)."""

    status: str
    message: str = ""
    isolation: str | None = None
    exercises: Exercises | None = None
    problems: tuple[str, ...] = ()
    worker_cpu_seconds: float = 0.0
    timings: Mapping[str, object] | None = None

    def to_json(self) -> dict[str, object]:
        """The content of result.json."""
        data: dict[str, object] = {"status": self.status, "isolation": self.isolation}
        if self.status == "ok":
            data.update(exercises=exercises_to_json(self.exercises or {}), problems=list(self.problems),
                        worker_cpu_seconds=self.worker_cpu_seconds)
            if self.timings:
                data["timings"] = dict(self.timings)
        else:
            data["message"] = self.message
        return data

    @classmethod
    def from_json(cls, value: object, where: str = "result") -> WorkerResult:
        """Read result.json strictly; ``ReportFormatError`` names the first malformed field."""
        data = _object(value, where)
        status = _str(data, "status", where)
        if status not in ("ok", "error"):  # "timeout" is the batch's own verdict
            raise ReportFormatError(f"{where}.status: unknown status {status!r}")
        isolation = data.get("isolation")
        if isolation is not None and not isinstance(isolation, str):
            raise ReportFormatError(f"{where}.isolation: expected text, got {type(isolation).__name__}")
        timings = data.get("timings")
        if timings is not None:
            timings = _object(timings, f"{where}.timings")
        exercises = (exercises_from_json(data.get("exercises"), f"{where}.exercises") if status == "ok"
                     else None)
        return cls(status, _str(data, "message", where, ""), isolation, exercises,
                   _texts(data, "problems", where),
                   _number(data, "worker_cpu_seconds", where, 0.0), timings)


@dataclass(frozen=True)
class ReviewTotals:
    """A submission's points split after ``finalize``: automatic checks and the instructor's review."""

    auto_score: float
    manual_score: float


__all__ = ["CheckResult", "ExampleRow", "ExerciseReport", "Exercises", "ManualAnswer", "ReportFormatError",
           "ReviewTotals", "SubmissionReport", "WorkerResult", "exercises_from_json", "exercises_to_json"]
