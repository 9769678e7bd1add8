"""Small helpers notebook authors use in exercise cells."""

from __future__ import annotations

NOT_DONE = "Not done yet"


def not_done_yet(message: str = "") -> None:
    """Print a friendly "Not done yet" line (for SKELETON starting points) and return None."""
    print(f"{NOT_DONE}: {message}" if message else f"{NOT_DONE}.")
    return None
