"""What an exercise module uses to declare its checks: ``exercise``, ``Fail``, ``Skip``.

An exercise module (``grader/exercises/ex_5_1.py``) declares::

    EX = exercise("5.1", "Optimize a complex model",
                  answer_files=["models/intermediate/int_customer_behavior_optimized.sql"])
    EX.manual("q1", points=2, prompt="Which bottlenecks did you find?")

    @EX.check("builds", points=2, public=True, hint="Run `%dbt build -s ...` and read the error.")
    def builds(ctx):
        ctx.require_build("int_customer_behavior_optimized")
        return "builds and its tests pass"

A check passes when it returns (a ``str`` is its message) and fails when it raises ``Fail``.
Any other exception fails the check with a short "grader error" message (never a traceback).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from grader.report import ExampleRow

EXERCISE_IDS: tuple[str, ...] = ("5.1", "5.2", "5.3", "5.4", "5.5", "bonus")
# Constructs the intake policy (grader/intake.py) refuses unless an exercise allows them.
ALLOWABLE: tuple[str, ...] = ("hooks", "materialization", "python", "sql_execution", "create_macro")
_ID_PATTERN = re.compile(r"^[a-z0-9_]+$")
SNAPSHOT_SCHEMA = "grader_ref"  # where the reference keeps a model as it was after each arrival day


def arrival_snapshot(model: str, day: int, schema: str = SNAPSHOT_SCHEMA) -> str:
    """``<schema>.<model>__day_<n>``: the reference ``model`` after arrival day ``day`` (written by the
    reference set-up's ``snapshot_after_each_arrival``)."""
    return f"{schema}.{model}__day_{day}"


class GradingAborted(Exception):
    """Grading of the whole submission cannot go on (e.g. its worker died): never a check's result."""


class Fail(Exception):
    """Raised by a check that did not pass: ``message`` says what is wrong (never the solution)."""

    def __init__(self, message: str, *, hint: str = "", examples: list[ExampleRow] | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.examples = examples or []


class Skip(Fail):
    """A check that could not run because an earlier step failed (scores zero, says why)."""


CheckFunction = Callable[[Any], "str | None"]


@dataclass(frozen=True)
class CheckSpec:
    """One auto-graded check: a name unique in its exercise, points, public (self-check) or hidden."""

    exercise: str
    name: str
    points: float
    public: bool
    function: CheckFunction
    hint: str = ""
    description: str = ""


@dataclass(frozen=True)
class ManualItem:
    """A prose answer or document the instructor scores by hand (never auto-scored)."""

    exercise: str
    name: str
    points: float
    prompt: str
    answer_tag: str | None = None
    answer_file: str | None = None


@dataclass
class Exercise:
    """The checks and manual items of one exercise, in declaration order."""

    id: str
    title: str
    answer_files: tuple[str, ...] = ()
    checks: list[CheckSpec] = field(default_factory=list)
    manual_items: list[ManualItem] = field(default_factory=list)
    reference_setups: list[Callable[[Any], None]] = field(default_factory=list)
    allow: tuple[str, ...] = ()  # intake constructs this exercise's answers may use (grader/intake.py)

    def check(
        self, name: str, *, points: float, public: bool = False, hint: str = ""
    ) -> Callable[[CheckFunction], CheckFunction]:
        """Decorator registering an auto-graded check (``public=True``: also run by self-check)."""
        if not _ID_PATTERN.match(name):
            raise ValueError(f"check name {name!r}: use lowercase letters, digits and _")
        if any(c.name == name for c in self.checks):
            raise ValueError(f"exercise {self.id}: check {name!r} declared twice")

        def register(function: CheckFunction) -> CheckFunction:
            doc = (function.__doc__ or "").strip().splitlines()
            self.checks.append(
                CheckSpec(self.id, name, float(points), public, function, hint, doc[0] if doc else "")
            )
            return function

        return register

    def manual(
        self,
        name: str,
        *,
        points: float,
        prompt: str,
        answer_tag: str | None = None,
        answer_file: str | None = None,
    ) -> None:
        """Declare a manually scored item: a prose answer (tag ``answer:<ex>:<name>``) or a document."""
        if answer_tag is None and answer_file is None:
            answer_tag = f"answer:{self.id}:{name}"
        self.manual_items.append(ManualItem(self.id, name, float(points), prompt, answer_tag, answer_file))

    def reference_setup(self, function: Callable[[Any], None]) -> Callable[[Any], None]:
        """Decorator: run once per grading run on the reference workspace (e.g. precompute tables)."""
        self.reference_setups.append(function)
        return function

    @property
    def max_auto_points(self) -> float:
        """Sum of the points of the auto-graded checks."""
        return sum(c.points for c in self.checks)

    @property
    def max_manual_points(self) -> float:
        """Sum of the points of the manual items."""
        return sum(m.points for m in self.manual_items)


_REGISTRY: dict[str, Exercise] = {}


def exercise(exercise_id: str, title: str, *, answer_files: list[str] | tuple[str, ...] = (),
             allow: tuple[str, ...] = ()) -> Exercise:
    """Create and register the ``Exercise`` of one id (one module per exercise).

    ``allow``: constructs the intake policy refuses by default that this exercise needs
    (``ALLOWABLE``: hooks, materialization, python, sql_execution, create_macro).
    """
    unknown = sorted(set(allow) - set(ALLOWABLE))
    if unknown:
        raise ValueError(f"exercise {exercise_id}: allow={unknown} unknown; use {', '.join(ALLOWABLE)}")
    if exercise_id not in EXERCISE_IDS:
        raise ValueError(f"unknown exercise id {exercise_id!r}; expected one of {', '.join(EXERCISE_IDS)}")
    if exercise_id in _REGISTRY:
        return _REGISTRY[exercise_id]
    ex = Exercise(exercise_id, title, tuple(answer_files), allow=tuple(allow))
    _REGISTRY[exercise_id] = ex
    return ex
