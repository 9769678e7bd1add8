"""The course's own material the grader relies on: the starting dbt project and the solutions.

The starting project is ``dbt_project/`` without generated folders and without any file a
solution notebook writes (an instructor's checkout may hold answers from running solutions);
a tracked file that a solution rewrites is taken from the git index, not the working tree.
Reference answers always come from ``solutions/*.ipynb`` (never a second copy).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import shutil
import subprocess
from pathlib import Path

from course_core.settings import repo_root as repo_root  # also grader.course's (release, preparation)
from grader.answers import Answers, answers_from_notebooks
from grader.edition import answer_paths as edition_answer_paths
from grader.edition import is_edition, shipped_starting_files

SKIP_DIRS = ("target", "logs", "warehouse", "dbt_packages", "exports")
SKIP_FILES = ("profiles.yml",)
SKIP_PREFIXES = ("docs/generated/",)  # written by notebooks (git-ignored), never part of the course
# Shipped files that an exercise's answer rewrites (5.5's mart YAML, 5.4's CI workflow). Where there
# is no git to tell the shipped version, it is what the unsolved intern notebook writes.
# tests/test_starting_files.py keeps this list equal to what git and the solutions say.
REWRITTEN_STARTING_FILES = ("ci/dbt_ci.yml", "models/marts/_mart_customer_overview.yml")


def solution_notebooks(root: Path | None = None) -> list[Path]:
    """``solutions/*.ipynb`` in name order."""
    return sorted((root or repo_root()).joinpath("solutions").glob("*.ipynb"))


def reference_answers(root: Path | None = None) -> Answers:
    """Answers of the solution notebooks (solution markers stripped)."""
    notebooks = [(p.name, p.read_bytes()) for p in solution_notebooks(root)]
    if not notebooks and is_edition():  # the intern edition: the paths solutions write, no contents
        paths = edition_answer_paths()
        return Answers(files=dict.fromkeys(paths, ""), origins=paths)
    return answers_from_notebooks(notebooks, reference=True)


def write_course(dest: Path, solutions: list[Path], root: Path | None = None) -> Path:
    """A course folder to grade with (``grade --course-root``: benchmarks, tests): ``root``'s starting
    project, its datasets/ (a link) and ``solutions`` as solutions/*.ipynb. Returns ``dest``."""
    root = root or repo_root()
    for rel, data in starting_project(root).items():  # the real starting project, without answers
        (dest / "dbt_project" / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / "dbt_project" / rel).write_bytes(data)
    (dest / "datasets").symlink_to(root / "datasets", target_is_directory=True)
    (dest / "solutions").mkdir()
    for notebook in solutions:
        shutil.copy(notebook, dest / "solutions" / notebook.name)
    return dest


def _git_index_file(root: Path, rel: str) -> bytes | None:
    """The staged content of a tracked file, or None when untracked / ``root`` is not itself a git
    checkout (a copy of the course inside some other repository must not read that one's index)."""
    try:
        top = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-toplevel"],
                             capture_output=True, text=True, check=False, timeout=30)
        if top.returncode != 0 or Path(top.stdout.strip()).resolve() != Path(root).resolve():
            return None
        done = subprocess.run(
            ["git", "-C", str(root), "show", f":{rel}"], capture_output=True, check=False, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def intern_starting_files(root: Path | None = None) -> dict[str, bytes]:
    """What the unsolved intern notebooks write, by dbt_project path, byte for byte as IPython's
    ``%%writefile`` writes it (the cell body ends with a newline): for a starting file that an exercise
    rewrites (e.g. 5.5's mart YAML), the content the course ships, equal to the git index
    (tests/test_starting_files.py), so the starting project is the same with or without git. Without
    ``notebooks/`` (a course folder of dbt_project/ and solutions/ only), the intern versions that
    ``assign`` makes of the solutions, which notebooks/ equals (``make lint``)."""
    root = root or repo_root()
    notebooks = [(p.name, p.read_bytes()) for p in sorted((root / "notebooks").glob("*.ipynb"))]
    solutions = [] if notebooks else solution_notebooks(root)
    if solutions:  # assign is imported only here: the intern edition ships neither it nor solutions/
        intern_notebook = importlib.import_module("grader.assign").intern_notebook
        notebooks = [(p.name, json.dumps(intern_notebook(p)).encode("utf-8")) for p in solutions]
    files = answers_from_notebooks(notebooks).files.items()
    return {rel: (text if text.endswith("\n") else text + "\n").encode("utf-8") for rel, text in files}


def starting_project(root: Path | None = None, answer_paths: set[str] | None = None) -> dict[str, bytes]:
    """Files of the starting dbt project, by dbt_project-relative path."""
    root = root or repo_root()
    project = root / "dbt_project"
    if answer_paths is None:
        answer_paths = set(reference_answers(root).files)
    files: dict[str, bytes] = {}
    for path in sorted(project.rglob("*")):
        rel = path.relative_to(project).as_posix()
        if not path.is_file() or path.is_symlink():
            continue
        skipped = rel.split("/")[0] in SKIP_DIRS or rel in SKIP_FILES or rel.startswith(SKIP_PREFIXES)
        if skipped or "/." in f"/{rel}":
            continue
        if rel in answer_paths:
            # an exercise writes this path: keep it only if it is a shipped starting file (from git,
            # or, without git, as the intern notebook writes it), never an answer left behind, even
            # where another git repository happens to track it (a notebook's demo repo)
            if rel not in REWRITTEN_STARTING_FILES:
                continue
            staged = (shipped_starting_files().get(rel) if is_edition()
                      else _git_index_file(root, f"dbt_project/{rel}"))
            if staged is None and rel in REWRITTEN_STARTING_FILES:
                staged = intern_starting_files(root).get(rel)
            if staged is not None:
                files[rel] = staged
            continue
        files[rel] = path.read_bytes()
    if "dbt_project.yml" not in files:
        raise FileNotFoundError(f"{project}/dbt_project.yml not found: is {root} the course repository?")
    return files


def fingerprint(*parts: bytes | str) -> str:
    """A short stable hash of the given contents (cache keys)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()[:16]
