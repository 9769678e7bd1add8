"""Checks of the bonus exercise (project optimization): not written yet (see grader/README.md)."""

from grader.api import exercise

EX = exercise("bonus", "End-to-end project optimization")
