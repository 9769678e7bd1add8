"""grader.assign: solution notebooks -> intern notebooks (stripping, byte-stability, no leaks)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from grader import assign

SOLUTIONS = sorted((Path(__file__).resolve().parent.parent / "solutions").glob("*.ipynb"))


def _cell(kind: str, source: str, tags: list[str] | None = None, **extra) -> dict:
    cell = {"cell_type": kind, "metadata": {"tags": tags} if tags else {}, "source": source, **extra}
    if kind == "code":
        cell.setdefault("outputs", [{"output_type": "stream", "name": "stdout", "text": "secret output\n"}])
        cell.setdefault("execution_count", 7)
    return cell


def _write(path: Path, cells: list[dict], **metadata) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    notebook = {"cells": cells, "metadata": metadata or {"kernelspec": {"name": "python3"}},
                "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(notebook))
    return path


def _sources(path: Path) -> list[str]:
    return ["".join(c["source"]) for c in json.loads(path.read_text())["cells"]]


# ---- stripping one cell ------------------------------------------------------------------------
def test_sql_solution_region_becomes_your_code_here():
    source = "%%sql\n-- BEGIN SOLUTION\nselect secret_column\nfrom t\n-- END SOLUTION"
    assert assign.strip_cell(source) == "%%sql\n-- YOUR CODE HERE"


def test_python_region_keeps_indentation_and_surrounding_lines():
    source = "def f():\n    # BEGIN SOLUTION\n    return 42\n    # END SOLUTION\n\nprint(f())"
    assert assign.strip_cell(source) == "def f():\n    # YOUR CODE HERE\n\nprint(f())"


def test_skeleton_is_uncommented_and_markers_dropped():
    source = (
        "# BEGIN SOLUTION\nanswer = 42\n# END SOLUTION\n"
        "# BEGIN SKELETON\n# not_done_yet('x')\n#    indented = 1\n# END SKELETON"
    )
    assert assign.strip_cell(source) == "# YOUR CODE HERE\nnot_done_yet('x')\n   indented = 1"


def test_yaml_and_sql_skeletons_use_their_own_comment_syntax():
    yaml = "%%writefile ../dbt_project/models/x.yml\n# BEGIN SKELETON\n# version: 2\n# END SKELETON"
    sql = "%%writefile ../dbt_project/models/x.sql\n-- BEGIN SKELETON\n-- select 1 as todo\n-- END SKELETON"
    assert assign.strip_cell(yaml).splitlines()[1] == "version: 2"
    assert assign.strip_cell(sql).splitlines()[1] == "select 1 as todo"


def test_marker_lookalikes_are_ordinary_text():
    source = "print('BEGIN SOLUTION')\n# BEGIN SOLUTIONS are described in DEVELOPING.md"
    assert assign.strip_cell(source) == source


@pytest.mark.parametrize(
    "source, problem",
    [
        ("# BEGIN SOLUTION\nx = 1", "BEGIN SOLUTION has no END SOLUTION"),
        ("x = 1\n# END SOLUTION", "END SOLUTION without a matching BEGIN SOLUTION"),
        ("# BEGIN SOLUTION\n# BEGIN SKELETON\n# END SKELETON\n# END SOLUTION", "inside an open SOLUTION"),
        ("-- BEGIN SKELETON\n-- x\n-- END SOLUTION", "END SOLUTION without a matching BEGIN SOLUTION"),
    ],
)
def test_unbalanced_markers_are_one_line_errors(source, problem):
    with pytest.raises(assign.AssignError) as raised:
        assign.strip_cell(source, "nb.ipynb cell 3")
    message = str(raised.value)
    assert problem in message and message.startswith("nb.ipynb cell 3") and "\n" not in message


# ---- whole notebooks ---------------------------------------------------------------------------
@pytest.fixture()
def course(tmp_path: Path) -> tuple[Path, Path]:
    solutions, notebooks = tmp_path / "solutions", tmp_path / "notebooks"
    _write(
        solutions / "5_9_demo.ipynb",
        [
            _cell("markdown", "# Demo\nIntro text.", id="a"),
            _cell("code", "%load_ext notebook_helpers", id="b", metadata={"tags": ["x"], "collapsed": True}),
            _cell("code", "%%sql\n-- BEGIN SOLUTION\nselect hidden_answer from t\n-- END SOLUTION", id="c"),
            _cell("code", "print('only for instructors')", ["solution-only"], id="d"),
            _cell("markdown", "The answer is **forty-two** because of reasons.", ["answer:5.9:q1"], id="e"),
            _cell("raw", "raw text", id="f"),
        ],
        kernelspec={"name": "python3", "display_name": "x"},
        language_info={"version": "3.11.7"},
        widgets={"state": {}},
    )
    return solutions, notebooks


def test_assign_writes_the_intern_notebook(course):
    solutions, notebooks = course
    assert assign.main(["--solutions", str(solutions), "--notebooks", str(notebooks)]) == 0
    written = json.loads((notebooks / "5_9_demo.ipynb").read_text())
    sources = ["".join(c["source"]) for c in written["cells"]]
    assert sources == [
        "# Demo\nIntro text.",
        "%load_ext notebook_helpers",
        "%%sql\n-- YOUR CODE HERE",
        assign.ANSWER_PROMPT,
        "raw text",
    ]
    assert written["cells"][3]["metadata"] == {"tags": ["answer:5.9:q1"]}
    assert written["cells"][1]["metadata"] == {"tags": ["x"]}
    assert written["metadata"] == assign.NOTEBOOK_METADATA
    code = [c for c in written["cells"] if c["cell_type"] == "code"]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    assert [c["id"] for c in written["cells"]] == [f"cell-{i:03d}" for i in range(5)]
    text = (notebooks / "5_9_demo.ipynb").read_text()
    for secret in ("hidden_answer", "only for instructors", "forty-two", "secret output", "3.11.7"):
        assert secret not in text


def test_assign_is_byte_stable_and_check_detects_staleness(course, capsys):
    solutions, notebooks = course
    args = ["--solutions", str(solutions), "--notebooks", str(notebooks)]
    assert assign.main(args + ["--check"]) == 1
    assert "5_9_demo.ipynb differs from its solution" in capsys.readouterr().out
    assign.main(args)
    first = (notebooks / "5_9_demo.ipynb").read_bytes()
    assign.main(args)
    assert (notebooks / "5_9_demo.ipynb").read_bytes() == first
    assert assign.main(args + ["--check"]) == 0
    (notebooks / "5_9_demo.ipynb").write_text(first.decode().replace("Intro text.", "Edited by hand."))
    assert assign.main(args + ["--check"]) == 1


def test_orphan_intern_notebooks_are_reported_then_removed(course, capsys):
    solutions, notebooks = course
    args = ["--solutions", str(solutions), "--notebooks", str(notebooks)]
    assign.main(args)
    _write(notebooks / "old.ipynb", [])
    assert assign.main(args + ["--check"]) == 1
    assert "old.ipynb is an orphan" in capsys.readouterr().out
    assert assign.main(args) == 0
    assert not (notebooks / "old.ipynb").exists()


@pytest.mark.parametrize(
    "content, problem",
    [
        ("{not json", "not valid notebook JSON"),
        ('{"cells": 3, "nbformat": 4}', "no list of cells"),
        ('{"cells": [], "nbformat": 3}', "nbformat 3 is not supported"),
        ('{"cells": [{"source": "x"}], "nbformat": 4}', "cell 1: malformed cell"),
        ('{"cells": [{"cell_type": "code", "source": "# END SKELETON"}], "nbformat": 4}', "cell 1 line 1"),
    ],
)
def test_malformed_solution_is_a_one_line_error(tmp_path, capsys, content, problem):
    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / "bad.ipynb").write_text(content)
    code = assign.main(["--solutions", str(tmp_path / "solutions"), "--notebooks", str(tmp_path / "nb")])
    err = capsys.readouterr().err
    assert code == 2 and problem in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "nb").exists()


def test_bad_option_is_a_one_line_error(capsys):
    assert assign.main(["--bogus"]) == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: --bogus" in err and err.count("\n") == 1


def test_unknown_notebook_name_is_a_one_line_error(course, capsys):
    solutions, notebooks = course
    assert assign.main(["nope", "--solutions", str(solutions), "--notebooks", str(notebooks)]) == 2
    assert "no solution notebook called nope" in capsys.readouterr().err


def test_solution_texts_lists_regions_answers_and_solution_only_cells(course):
    solutions, _ = course
    found = assign.solution_texts(solutions / "5_9_demo.ipynb")
    assert [(t.cell, t.kind, t.tag) for t in found] == [
        (3, "region", None), (4, "solution-only", None), (5, "answer", "answer:5.9:q1"),
    ]
    assert found[0].text == "select hidden_answer from t"


# ---- the course's own notebooks ----------------------------------------------------------------
def test_there_are_solution_notebooks():
    assert SOLUTIONS, "solutions/ has no notebooks"


def test_intern_notebooks_are_what_assign_writes(repo_root: Path, capsys):
    code = assign.main(["--check", "--solutions", str(repo_root / "solutions"),
                        "--notebooks", str(repo_root / "notebooks")])
    assert code == 0, capsys.readouterr().out + "run `python -m grader assign`"


def _normalised_lines(text: str) -> set[str]:
    return {" ".join(line.split()) for line in text.splitlines()}


def _public_lines(solution: Path) -> set[str]:
    """Lines of the solution that interns may see: outside solution regions, answers, solution-only."""
    public: set[str] = set()
    for cell in json.loads(solution.read_text())["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        if "solution-only" in tags or any(t.startswith("answer:") for t in tags):
            continue
        inside = False
        for line in "".join(cell["source"]).splitlines():
            if re.match(r"^\s*(--|#)\s*(BEGIN|END) SOLUTION\s*$", line):
                inside = "BEGIN" in line
            elif not inside:
                # as written, and uncommented once (SKELETON lines are commented in the solution)
                public |= _normalised_lines(line)
                public |= _normalised_lines(re.sub(r"^\s*(#|--)\s?", "", line, count=1))
    return public


@pytest.mark.parametrize("solution", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_no_solution_text_reaches_interns(solution: Path, repo_root: Path):
    intern = repo_root / "notebooks" / solution.name
    assert intern.exists(), f"{intern.name} missing: run `python -m grader assign`"
    intern_lines = set()
    for source in _sources(intern):
        intern_lines |= _normalised_lines(source)
    public = _public_lines(solution)
    leaks = []
    for piece in assign.solution_texts(solution):
        if piece.kind == "solution-only":
            continue
        for line in _normalised_lines(piece.text):
            if len(line) >= 12 and line not in public and line in intern_lines:
                leaks.append(f"cell {piece.cell}: {line}")
    assert not leaks, "solution text in the intern notebook:\n" + "\n".join(leaks)
