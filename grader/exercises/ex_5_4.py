"""Checks of exercise 5.4 (Develop a deployment strategy): not written yet (owner: see grader/README.md)."""

from grader.api import exercise

EX = exercise("5.4", "Develop a deployment strategy")
