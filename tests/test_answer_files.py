"""notebook_helpers.answer_files: names answer files that differ from their %%writefile cell, never
changes or deletes one, and prints the same thing for a missing file and an up-to-date one."""

from __future__ import annotations

from pathlib import Path

import nbformat

from notebook_helpers.answer_files import DIFFERS, NO_CELL, OK, check_answer_files


def _notebook(folder: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("%%writefile ../dbt/not_code.sql\nignored"),
        nbformat.v4.new_code_cell("%%writefile ../dbt/a.sql\nselect 1"),
        nbformat.v4.new_code_cell("%%writefile ../dbt/b.sql\nselect 2\n"),
        nbformat.v4.new_code_cell("%%writefile ../dbt/c.yml\nx: 1"),
        nbformat.v4.new_code_cell("%%writefile -a ../dbt/c.yml\ny: 2"),
    ]
    path = folder / "nb" / "t.ipynb"
    path.parent.mkdir()
    (folder / "dbt").mkdir()
    nbformat.write(nb, path)
    return path


def test_statuses_and_nothing_touched(tmp_path: Path, monkeypatch, capsys):
    notebook = _notebook(tmp_path)
    monkeypatch.chdir(notebook.parent)
    dbt = tmp_path / "dbt"
    files = {"a.sql": "select 1\n", "b.sql": "select 3 -- edited outside\n", "c.yml": "x: 1\ny: 2\n",
             "d.sql": "left from an earlier run"}
    for name, text in files.items():
        (dbt / name).write_text(text)
    statuses = check_answer_files("t.ipynb", expected=["../dbt/d.sql", "../dbt/e.sql"])
    assert {f.path: f.status for f in statuses} == {
        "../dbt/a.sql": OK, "../dbt/b.sql": DIFFERS, "../dbt/c.yml": OK,
        "../dbt/d.sql": NO_CELL, "../dbt/e.sql": OK,
    }
    out = capsys.readouterr().out
    assert "DIFFERS  ../dbt/b.sql" in out and "NO CELL  ../dbt/d.sql" in out
    assert {p.name: p.read_text() for p in dbt.iterdir()} == files  # nothing changed or deleted


def test_missing_and_up_to_date_print_the_same(tmp_path: Path, monkeypatch, capsys):
    notebook = _notebook(tmp_path)
    monkeypatch.chdir(notebook.parent)
    check_answer_files("t.ipynb")
    fresh = capsys.readouterr().out
    for name, text in {"a.sql": "select 1\n", "b.sql": "select 2\n", "c.yml": "x: 1\ny: 2\n"}.items():
        (tmp_path / "dbt" / name).write_text(text)
    check_answer_files("t.ipynb")
    assert capsys.readouterr().out == fresh
    assert "Nothing to do" in fresh
