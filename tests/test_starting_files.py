"""A starting file that an exercise rewrites (5.5's mart YAML, 5.4's CI workflow) is exactly what
the unsolved intern notebook writes: interns start from what the course ships, and the grader can
recover the starting project from the notebooks where there is no git (grader.course)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from grader.course import REWRITTEN_STARTING_FILES, intern_starting_files, reference_answers, starting_project
from grader.preparation import cache_key

ROOT = Path(__file__).resolve().parents[1]


def _tracked(rel: str) -> bool:
    done = subprocess.run(["git", "-C", str(ROOT), "ls-files", "--error-unmatch", f"dbt_project/{rel}"],
                          capture_output=True)
    return done.returncode == 0


REWRITTEN = sorted(rel for rel in reference_answers(ROOT).files if (ROOT / "dbt_project" / rel).is_file())


def test_the_list_of_rewritten_starting_files_is_complete():
    tracked = [rel for rel in REWRITTEN if _tracked(rel)]
    assert sorted(tracked) == sorted(REWRITTEN_STARTING_FILES)


@pytest.mark.parametrize("rel", REWRITTEN)
def test_intern_notebook_writes_the_shipped_starting_file(rel: str):
    if not _tracked(rel):
        pytest.skip(f"{rel} is an answer left in this checkout, not a starting file")
    # byte for byte (placeholder lines and the final newline included): the grader's hidden-data cache
    # key hashes the starting project, which is read from git here and from the notebooks without git
    shipped = (ROOT / "dbt_project" / rel).read_bytes()
    staged = subprocess.run(["git", "-C", str(ROOT), "show", f":dbt_project/{rel}"], capture_output=True,
                            check=True).stdout
    intern = intern_starting_files(ROOT)[rel]
    assert intern == shipped == staged, f"notebooks/ start {rel} from other bytes than the shipped file"


def test_starting_project_without_git_keeps_rewritten_starting_files(tmp_path: Path):
    copy = tmp_path / "repo"
    skip = shutil.ignore_patterns("target", "logs", "*.duckdb", "*.wal")
    for part in ("dbt_project", "solutions", "notebooks"):
        shutil.copytree(ROOT / part, copy / part, ignore=skip)
    # answers left behind by earlier notebooks in the same copy (as in the notebook tests)
    leftovers = {rel: text for rel, text in intern_starting_files(ROOT).items()
                 if rel not in REWRITTEN_STARTING_FILES}
    for rel, text in leftovers.items():
        (copy / "dbt_project" / rel).parent.mkdir(parents=True, exist_ok=True)
        (copy / "dbt_project" / rel).write_bytes(text)
    files = starting_project(copy)
    for rel in REWRITTEN_STARTING_FILES:
        assert rel in files
    assert not set(leftovers) & set(files), "answers left in the folder leaked into the starting project"
    # the same bytes as with git: one hidden-data preparation (cache key) serves a checkout and a copy
    with_git = starting_project(ROOT)
    assert {rel: files[rel] for rel in REWRITTEN_STARTING_FILES} == {
        rel: with_git[rel] for rel in REWRITTEN_STARTING_FILES}
    assert files == with_git


def test_one_hidden_data_preparation_serves_a_checkout_a_copy_and_a_course_folder(tmp_path: Path):
    """The grader's cache key (hidden data, base and reference warehouses) is the same for this git
    checkout, a copy without git (the README's grade command) and a course folder of the starting
    project and solutions/ only, without notebooks/ (bench/bench_grading.py, the end-to-end tests)."""
    copy = tmp_path / "copy"
    skip = shutil.ignore_patterns("target", "logs", "*.duckdb", "*.wal", "raw", "__pycache__")
    for part in ("dbt_project", "solutions", "notebooks", "datasets"):
        shutil.copytree(ROOT / part, copy / part, ignore=skip)
    course = tmp_path / "course"
    for rel, data in starting_project(ROOT).items():
        (course / "dbt_project" / rel).parent.mkdir(parents=True, exist_ok=True)
        (course / "dbt_project" / rel).write_bytes(data)
    (course / "datasets").symlink_to(ROOT / "datasets", target_is_directory=True)
    shutil.copytree(ROOT / "solutions", course / "solutions")
    keys = {name: cache_key(2027, 0.05, root, reference_answers(root))[0]
            for name, root in (("checkout", ROOT), ("copy", copy), ("course", course))}
    assert len(set(keys.values())) == 1, keys
    assert intern_starting_files(course) == intern_starting_files(ROOT)
