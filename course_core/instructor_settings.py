"""Settings only the instructor's grader reads; the intern edition leaves this module out
(``grader.release.NOT_SHIPPED``): it names where the hidden data is cached. Read at call time."""

from __future__ import annotations

import os
from pathlib import Path

GRADER_CACHE = "VB_GRADER_CACHE"


def grader_cache_setting() -> str | None:
    """``$VB_GRADER_CACHE`` as set (None or empty when unset)."""
    return os.environ.get(GRADER_CACHE)


def grader_cache_dir() -> Path:
    """Where prepared grading runs are cached: ``$VB_GRADER_CACHE``, else
    ``$XDG_CACHE_HOME/vyaparbazaar-grader`` (``~/.cache`` when unset)."""
    env = grader_cache_setting()
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vyaparbazaar-grader"
