"""The course grader: intern self-checks (``check``) and instructor batch grading.

Verbs: ``python -m grader check <exercise>``, ``python -m grader grade <submission>... --out DIR``,
``python -m grader assign``. In a notebook: ``from grader import check; check("5.1")``.
"""

from __future__ import annotations


def check(exercise: str) -> None:
    """Run the public checks of one exercise against your own dev warehouse and print feedback."""
    from grader.selfcheck import run_selfcheck

    run_selfcheck(exercise)


__all__ = ["check"]
