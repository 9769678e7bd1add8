"""What the intern edition knows about the course without holding its answers.

``python -m grader release`` writes ``grader/edition.json`` into the edition (never into the course
repository): the dbt_project paths the exercises write (no contents), the shipped content of the
starting files an exercise rewrites, and how many hidden checks each exercise has. In the course
repository the file is absent and every function here returns "nothing known".
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

EDITION_FILE = Path(__file__).resolve().parent / "edition.json"


@lru_cache(maxsize=1)
def edition_data() -> dict[str, Any] | None:
    """The release's data, or None in the course repository."""
    if not EDITION_FILE.is_file():
        return None
    return json.loads(EDITION_FILE.read_text(encoding="utf-8"))


def is_edition() -> bool:
    """True inside an intern edition built by ``python -m grader release``."""
    return edition_data() is not None


def hidden_check_count(exercise_id: str) -> int:
    """Hidden checks of an exercise that the edition does not contain (0 in the course repository)."""
    data = edition_data() or {}
    return int(data.get("hidden_checks", {}).get(exercise_id, 0))


def answer_paths() -> dict[str, str]:
    """dbt_project path -> solution notebook that writes it (empty in the course repository)."""
    return dict((edition_data() or {}).get("answer_paths", {}))


def shipped_starting_files() -> dict[str, bytes]:
    """Starting files an exercise rewrites, as the course ships them (empty in the course repository)."""
    files = (edition_data() or {}).get("rewritten_starting_files", {})
    return {rel: text.encode("utf-8") for rel, text in files.items()}
