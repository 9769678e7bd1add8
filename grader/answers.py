"""Read a submission's answers from notebooks: ``%%writefile ../dbt_project/...`` cells and prose cells.

The last ``%%writefile`` per path wins (``-a`` appends); prose answers are markdown cells tagged
``answer:<exercise>:<question>``. Every problem (bad JSON, a path leaving ``dbt_project/``, a
Python model, a duplicated answer cell) becomes a one-line message in ``Answers.problems``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

WRITEFILE_PREFIX = "../dbt_project/"
ANSWER_PROMPT = "_Your answer here._"  # what assign puts in an answer cell (DEVELOPING.md)
ALLOWED_TOP_DIRS = ("models", "tests", "macros", "docs", "analyses", "snapshots", "ci")
ALLOWED_SUFFIXES = (".sql", ".yml", ".yaml", ".md")
PROTECTED_FILES = ("dbt_project.yml", "profiles.yml", "packages.yml", "dependencies.yml")
MAX_FILE_CHARS = 1_000_000
MAX_PROSE_CHARS = 200_000
NAME_MAX_BYTES = 255  # longest file or folder name Linux file systems accept
PATH_MAX_BYTES = 1024
_MARKER = re.compile(r"^\s*(--|#)\s*(BEGIN|END) (SOLUTION|SKELETON)\s*$")
_ANSWER_TAG = re.compile(r"^answer:([A-Za-z0-9.]+):([A-Za-z0-9_.-]+)$")


@dataclass
class Answers:
    """Answer files by dbt_project-relative path, prose by ``<exercise>:<question>``, and problems."""

    files: dict[str, str] = field(default_factory=dict)
    prose: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    origins: dict[str, str] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # path -> why the intake policy refused it
    writers: dict[str, str] = field(default_factory=dict)  # path -> cell that last wrote it (not sent)

    def to_dict(self) -> dict:
        """A JSON-serializable form (sent to grading workers)."""
        return {"files": self.files, "prose": self.prose, "problems": self.problems, "origins": self.origins,
                "refused": self.refused}

    @classmethod
    def from_dict(cls, data: dict) -> Answers:
        """Inverse of ``to_dict``."""
        return cls(dict(data["files"]), dict(data["prose"]), list(data["problems"]),
                   dict(data.get("origins", {})), dict(data.get("refused", {})))

    def files_of(self, exercise_id: str) -> dict[str, str]:
        """Answer files written by the notebook of one exercise (file name starts with ``5_1``, ``5_bonus``
        or ``bonus`` etc.)."""
        prefix = exercise_id.replace(".", "_")
        return {p: t for p, t in self.files.items()
                if self.origins.get(p, "").rsplit("/", 1)[-1].startswith((prefix, f"5_{prefix}"))}


def check_project_path(path: str) -> str:
    """Validate a dbt_project-relative path and return it normalized; ValueError says why not."""
    if not path or "\x00" in path or "\\" in path:
        raise ValueError(f"{path[:80]!r} is not a valid file path")
    if len(path.encode("utf-8")) > PATH_MAX_BYTES or any(
            len(part.encode("utf-8")) > NAME_MAX_BYTES for part in path.split("/")):
        raise ValueError(f"{path[:60]!r}... is too long: file and folder names may have at most "
                         f"{NAME_MAX_BYTES} bytes")
    pure = PurePosixPath(path)
    if pure.is_absolute() or path.startswith("~"):
        raise ValueError(f"{path!r} is an absolute path: answers must stay inside dbt_project/")
    if any(part == ".." for part in pure.parts):
        raise ValueError(f"{path!r} leaves dbt_project/ ('..' is not allowed)")
    parts = [p for p in pure.parts if p != "."]
    normalized = "/".join(parts)
    if normalized.endswith(".py"):
        raise ValueError(f"{path!r} is a Python model: only SQL models are accepted in this course")
    if normalized in PROTECTED_FILES:
        raise ValueError(f"{path!r} belongs to the course setup: the grader uses the course's own copy")
    if not parts or parts[0] not in ALLOWED_TOP_DIRS or len(parts) < 2:
        raise ValueError(f"{path!r} is outside the folders answers may use ({', '.join(ALLOWED_TOP_DIRS)})")
    if not normalized.endswith(ALLOWED_SUFFIXES):
        raise ValueError(f"{path!r}: only {', '.join(ALLOWED_SUFFIXES)} files are accepted")
    return normalized


def strip_solution_markers(text: str) -> str:
    """Drop BEGIN/END SOLUTION marker lines and whole SKELETON regions (reference answers only)."""
    out: list[str] = []
    in_skeleton = False
    for line in text.splitlines(keepends=True):
        match = _MARKER.match(line)
        if match and match.group(3) == "SKELETON":
            in_skeleton = match.group(2) == "BEGIN"
            continue
        if match or in_skeleton:
            continue
        out.append(line)
    return "".join(out)


def _cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        return "".join(str(s) for s in source)
    return str(source)


def _writefile(source: str) -> tuple[str, bool, str] | None:
    """``(target, append, body)`` of a ``%%writefile`` cell, or None for other cells."""
    first, _, body = source.partition("\n")
    words = first.split()
    if not words or words[0] != "%%writefile":
        return None
    args = words[1:]
    append = "-a" in args or "--append" in args
    targets = [a for a in args if not a.startswith("-")]
    return (targets[0] if len(targets) == 1 else " ".join(targets)), append, body


def parse_notebook(raw: bytes, label: str, answers: Answers, *, reference: bool = False) -> None:
    """Add the answers of one notebook (bytes of an .ipynb) to ``answers``; problems are recorded."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        answers.problems.append(f"{label}: not UTF-8 text; save the notebook again from JupyterLab")
        return
    try:
        notebook = json.loads(text)
    except json.JSONDecodeError as error:
        answers.problems.append(f"{label}: not valid notebook JSON ({error.msg} at line {error.lineno})")
        return
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        answers.problems.append(f"{label}: not a notebook (no list of cells)")
        return
    seen_tags: set[str] = set()
    for index, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict):
            answers.problems.append(f"{label} cell {index}: malformed cell ignored")
            continue
        source = _cell_source(cell)
        if cell.get("cell_type") == "code":
            _add_writefile(source, f"{label} cell {index}", answers, reference)
        tags = (cell.get("metadata") or {}).get("tags") or []
        for tag in tags if isinstance(tags, list) else []:
            match = _ANSWER_TAG.match(str(tag))
            if not match:
                continue
            key = f"{match.group(1)}:{match.group(2)}"
            if key in seen_tags:
                answers.problems.append(
                    f"{label} cell {index}: answer {key} appears twice; the last one counts")
            seen_tags.add(key)
            if len(source) > MAX_PROSE_CHARS:
                answers.problems.append(f"{label} cell {index}: answer {key} is longer than "
                                        f"{MAX_PROSE_CHARS} characters; cut")
                source = source[:MAX_PROSE_CHARS]
            answers.prose[key] = strip_solution_markers(source) if reference else source


def _add_writefile(source: str, where: str, answers: Answers, reference: bool) -> None:
    parsed = _writefile(source)
    if parsed is None:
        return
    target, append, body = parsed
    if not target.startswith(WRITEFILE_PREFIX):
        answers.problems.append(
            f"{where}: %%writefile {target[:100]} ignored: answers go to {WRITEFILE_PREFIX}<path>")
        return
    try:
        path = check_project_path(target[len(WRITEFILE_PREFIX):])
    except ValueError as error:
        answers.problems.append(f"{where}: {error}; cell ignored")
        return
    if len(body) > MAX_FILE_CHARS:
        answers.problems.append(f"{where}: {path} is larger than {MAX_FILE_CHARS} characters; cell ignored")
        return
    if reference:
        body = strip_solution_markers(body)
    previous = answers.writers.get(path)
    if previous and not append:
        answers.problems.append(f"{where}: dbt_project/{path} was already written by {previous}; "
                                "the last cell counts (delete the older cell)")
    if len(answers.files.get(path, "") if append else "") + len(body) > MAX_FILE_CHARS:
        answers.problems.append(f"{where}: {path} grows beyond {MAX_FILE_CHARS} characters; cell ignored")
        return
    answers.files[path] = (answers.files.get(path, "") + body) if append else body
    answers.origins[path] = where.split(" cell ")[0]
    answers.writers[path] = where


def answers_from_notebooks(notebooks: list[tuple[str, bytes]], *, reference: bool = False) -> Answers:
    """Parse notebooks in the given order (later notebooks win for the same path or tag)."""
    answers = Answers()
    for label, raw in notebooks:
        parse_notebook(raw, label, answers, reference=reference)
    return answers
