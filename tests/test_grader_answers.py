"""Reading answers and submissions: notebooks, paths that escape, zips, symlinks (no dbt needed)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from grader.answers import Answers, answers_from_notebooks, check_project_path, strip_solution_markers
from grader.submissions import discover

FIXTURES = Path(__file__).parent / "fixtures" / "submissions"


def nb(*cells: dict) -> bytes:
    return json.dumps({"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()


def code(src: str) -> dict:
    return {"cell_type": "code", "metadata": {}, "source": src, "outputs": []}


def md(src: str, tag: str) -> dict:
    return {"cell_type": "markdown", "metadata": {"tags": [tag]}, "source": src}


def test_last_writefile_wins_and_append_and_prose():
    raw = nb(code("%%writefile ../dbt_project/models/a.sql\nselect 1\n"),
             code("%%writefile ../dbt_project/models/a.sql\nselect 2\n"),
             code("%%writefile -a ../dbt_project/models/a.sql\n-- more\n"),
             md("Because.", "answer:5.1:q1"))
    answers = answers_from_notebooks([("5_1_x.ipynb", raw)])
    assert answers.files == {"models/a.sql": "select 2\n-- more\n"}
    assert answers.prose == {"5.1:q1": "Because."}
    assert answers.files_of("5.1") == answers.files and answers.files_of("5.2") == {}
    assert answers.problems == ["5_1_x.ipynb cell 2: dbt_project/models/a.sql was already written by "
                                "5_1_x.ipynb cell 1; the last cell counts (delete the older cell)"]


@pytest.mark.parametrize("path,fragment", [
    ("../x.sql", "leaves dbt_project"), ("models/../../x.sql", "leaves dbt_project"),
    ("/etc/passwd", "absolute"), ("models/m.py", "Python model"), ("dbt_project.yml", "course setup"),
    ("target/x.sql", "outside the folders"), ("models/x.sh", "only .sql"),
])
def test_bad_paths_are_refused_with_a_reason(path: str, fragment: str):
    with pytest.raises(ValueError, match=fragment):
        check_project_path(path)


def test_files_of_finds_the_bonus_notebook_by_its_course_name():
    answers = Answers(files={"models/a.sql": "select 1", "models/b.sql": "select 2"},
                      origins={"models/a.sql": "5_bonus_project_optimization.ipynb",
                               "models/b.sql": "5_1_x.ipynb"})
    assert answers.files_of("bonus") == {"models/a.sql": "select 1"}
    assert answers.files_of("5.1") == {"models/b.sql": "select 2"}


def test_refused_cells_become_problems_not_files():
    raw = nb(code("%%writefile ../dbt_project/models/../../../tmp/evil.sql\nselect 1\n"),
             code("%%writefile /tmp/evil.sql\nselect 1\n"),
             code("%%writefile ../dbt_project/models/m.py\nimport os\n"))
    answers = answers_from_notebooks([("n.ipynb", raw)])
    assert answers.files == {}
    assert len(answers.problems) == 3 and all("ignored" in p for p in answers.problems)


def test_malformed_notebooks_are_reported_in_one_line():
    answers = answers_from_notebooks([("a.ipynb", b'{"cells": ['), ("b.ipynb", b"\xff\xfe\x80"),
                                      ("c.ipynb", b'{"no": "cells"}')])
    assert [p.split(":")[0] for p in answers.problems] == ["a.ipynb", "b.ipynb", "c.ipynb"]
    assert all("\n" not in p for p in answers.problems)


def test_duplicated_answer_cells_are_flagged():
    raw = nb(md("one", "answer:5.1:q1"), md("two", "answer:5.1:q1"))
    answers = answers_from_notebooks([("n.ipynb", raw)])
    assert answers.prose["5.1:q1"] == "two"
    assert "appears twice" in answers.problems[0]


def test_solution_markers_are_stripped_for_reference_only():
    text = "a\n-- BEGIN SOLUTION\nb\n-- END SOLUTION\n-- BEGIN SKELETON\n-- c\n-- END SKELETON\nd\n"
    assert strip_solution_markers(text) == "a\nb\nd\n"


def test_zip_slip_and_empty_zip_are_refused(tmp_path: Path):
    subs = discover([FIXTURES / "hostile_zip_slip.zip", FIXTURES / "hostile_empty.zip"])
    slip, empty = subs
    assert any("climbs out" in p for p in slip.problems)
    assert [label for label, _ in slip.notebooks] == ["5_1_optimize_model.ipynb"]
    assert "empty" in empty.problems[0] and not empty.notebooks
    assert not (tmp_path.parent / "evil.ipynb").exists()


def test_symlinks_are_refused_and_submission_untouched(tmp_path: Path):
    folder = tmp_path / "intern"
    folder.mkdir()
    (folder / "5_1.ipynb").write_bytes(nb(code("%%writefile ../dbt_project/models/a.sql\nselect 1\n")))
    (folder / "5_2.ipynb").symlink_to("/etc/passwd")
    only_link = tmp_path / "only_link"
    only_link.mkdir()
    (only_link / "5_1.ipynb").symlink_to("/etc/passwd")
    (linked,) = discover([only_link])
    assert linked.name == "only_link" and not linked.notebooks and "symbolic link" in linked.problems[0]
    (folder / "escape").symlink_to("/etc", target_is_directory=True)
    before = sorted((p.name, p.lstat().st_mtime_ns) for p in folder.iterdir())
    (sub,) = discover([folder])
    assert sub.name == "intern" and [label for label, _ in sub.notebooks] == ["5_1.ipynb"]
    assert sum("symbolic link" in p for p in sub.problems) == 2
    assert sorted((p.name, p.lstat().st_mtime_ns) for p in folder.iterdir()) == before


def test_folder_of_submissions_grades_each_with_unique_names(tmp_path: Path):
    for name in ("ana", "ben"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "5_1.ipynb").write_bytes(nb())
    (tmp_path / "cara.ipynb").write_bytes(nb())
    with zipfile.ZipFile(tmp_path / "ana.zip", "w") as archive:
        archive.writestr("ana/5_1.ipynb", nb())
    names = [s.name for s in discover([tmp_path])]
    assert names == ["ana", "ana-2", "ben", "cara"]
