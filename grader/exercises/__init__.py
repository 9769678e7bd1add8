"""One module per exercise; importing this package registers all of them (see grader/README.md).

The registry lives here, above the exercise modules: ``grader.api`` (below them) only collects what
``@exercise`` declares, and never imports this package.
"""

from grader.api import _REGISTRY, EXERCISE_IDS, Exercise
from grader.exercises import ex_5_1, ex_5_2, ex_5_3, ex_5_4, ex_5_5, ex_bonus  # noqa: F401


def registry() -> dict[str, Exercise]:
    """Every exercise, in course order."""
    return {ex_id: _REGISTRY[ex_id] for ex_id in EXERCISE_IDS if ex_id in _REGISTRY}


def get_exercise(exercise_id: str) -> Exercise:
    """The exercise of an id, or ValueError with the list of known ids."""
    exercises = registry()
    normalized = exercise_id.strip().lower().removeprefix("ex").strip()
    if normalized not in exercises:
        raise ValueError(f"unknown exercise {exercise_id!r}: choose one of {', '.join(exercises)}")
    return exercises[normalized]
