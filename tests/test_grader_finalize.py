"""The instructor's loop after grading: grade writes manual_scores.csv, finalize validates it row by row
(nothing written while a row is bad), then writes final_grades.csv, lms_grades.csv and feedback pages.

Reports are made by the real writer (grader.outputs.write_outputs) from the real exercise registry,
with auto scores set by hand: no dbt needed.
"""

from __future__ import annotations

import csv
import hashlib
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from grader.answers import Answers
from grader.batch import empty_exercises
from grader.exercises import registry
from grader.finalize import FinalizeError, finalize
from grader.manual_scores import BLANK, COLUMNS, SHEET
from grader.outputs import write_outputs
from grader.report import SubmissionReport

REPO = Path(__file__).resolve().parent.parent


def _report(name: str, passed_per_exercise: int) -> SubmissionReport:
    answers = Answers(prose={"5.1:q1": "Fan-out between orders and clickstream."})
    exercises = empty_exercises(answers, "failed")
    for ex_id, ex in exercises.items():
        checks = tuple(replace(c, passed=True, points=c.max_points, message="passed")
                       if i < passed_per_exercise else c for i, c in enumerate(ex.checks))
        exercises[ex_id] = replace(ex, checks=checks, score=sum(c.points for c in checks))
    return SubmissionReport(name, "ok", "", sum(e.score for e in exercises.values()),
                            sum(e.max_score for e in exercises.values()), (), "", exercises)


@pytest.fixture
def graded(tmp_path: Path) -> Path:
    out = tmp_path / "grading-out"
    out.mkdir()
    write_outputs([_report("intern_b", 0), _report("intern_a", 1)], out)
    return out


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _fill(out: Path, edit) -> None:
    """Rewrite the sheet with ``edit(rows)`` applied (as an instructor's spreadsheet would save it)."""
    rows = _rows(out / SHEET)
    rows = edit(rows)
    with open(out / SHEET, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _snapshot(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file()}


def test_grade_writes_a_prefilled_sheet_and_never_overwrites_it(graded: Path):
    rows = _rows(graded / SHEET)
    manual = [(ex_id, m.name, m.points) for ex_id, ex in registry().items() for m in ex.manual_items]
    assert len(rows) == 2 * len(manual) and list(rows[0]) == list(COLUMNS)
    assert [(r["exercise"], r["question"], float(r["max_points"])) for r in rows[:len(manual)]] == manual
    assert {r["submission"] for r in rows[:len(manual)]} == {"intern_a"}
    assert all(r["points"] == "" and r["comment"] == "" for r in rows)
    _fill(graded, lambda rs: [{**r, "points": "1"} if i == 0 else r for i, r in enumerate(rs)])
    mine = (graded / SHEET).read_bytes()
    write_outputs([_report("intern_a", 1)], graded)  # grading again into the same folder
    assert (graded / SHEET).read_bytes() == mine
    assert (graded / BLANK).exists()


def test_finalize_merges_scores_and_comments(graded: Path):
    def score(rows):
        for r in rows:
            if r["submission"] == "intern_a":
                r["points"] = r["max_points"] if r["question"] != "q2" else "0.5"
                r["comment"] = "Clear & <precise>" if (r["exercise"], r["question"]) == ("5.1", "q1") else ""
        return rows

    _fill(graded, score)
    sheet = (graded / SHEET).read_bytes()
    written = finalize(graded)
    assert (graded / SHEET).read_bytes() == sheet  # the instructor's file is never touched
    assert {p.name for p in written} >= {"final_grades.csv", "lms_grades.csv", "feedback.html"}
    final = {r["submission"]: r for r in _rows(graded / "final_grades.csv")}
    exercises = registry()
    manual_max = sum(ex.max_manual_points for ex in exercises.values())
    auto_max = sum(ex.max_auto_points for ex in exercises.values())
    q2_loss = sum(m.points - 0.5 for ex in exercises.values() for m in ex.manual_items if m.name == "q2")
    a, b = final["intern_a"], final["intern_b"]
    assert float(a["manual"]) == pytest.approx(manual_max - q2_loss)
    assert float(a["manual_max"]) == manual_max and float(a["auto_max"]) == auto_max
    assert float(a["total"]) == pytest.approx(float(a["auto"]) + float(a["manual"]))
    assert float(a["max_total"]) == auto_max + manual_max
    assert float(a["5.1_manual"]) == exercises["5.1"].max_manual_points - 1.5
    assert float(a["5.1_auto"]) == exercises["5.1"].checks[0].points
    assert float(a["5.1_total"]) == float(a["5.1_auto"]) + float(a["5.1_manual"])
    items = [m for e in exercises.values() for m in e.manual_items]
    assert a["unscored"] == "0" and int(b["unscored"]) == len(items)
    assert float(b["total"]) == 0
    lms = _rows(graded / "lms_grades.csv")
    assert list(lms[0]) == ["identifier", "grade", "max_grade", "percent", "feedback"]
    assert [r["identifier"] for r in lms] == ["intern_a", "intern_b"]
    assert lms[0]["grade"] == f"{float(a['total']):.2f}"
    assert lms[0]["max_grade"] == f"{auto_max + manual_max:.2f}"
    page = (graded / "intern_a" / "feedback.html").read_text()
    assert "Clear &amp; &lt;precise&gt;" in page and f"{a['total']} / {a['max_total']}" in page
    assert "0.5 / 2" in page
    assert "Clear" not in (graded / "intern_b" / "feedback.html").read_text()
    again = _snapshot(graded)
    finalize(graded)
    assert _snapshot(graded) == again  # reproducible


BAD_ROWS = [
    ("unknown submission", lambda r: {**r, "submission": "nobody"}, "unknown submission 'nobody'"),
    ("unknown question", lambda r: {**r, "question": "q99"}, "unknown question 5.1 'q99'"),
    ("points above max", lambda r: {**r, "points": "7"}, "points 7 is above the maximum 2"),
    ("negative points", lambda r: {**r, "points": "-1"}, "points -1 is negative"),
    ("non-numeric", lambda r: {**r, "points": "two"}, "points 'two' is not a number"),
    ("not finite", lambda r: {**r, "points": "nan"}, "points 'nan' is not a number"),
    ("max changed", lambda r: {**r, "max_points": "20", "points": "15"}, "max_points '20' was changed"),
]


@pytest.mark.parametrize("kind, edit, message", BAD_ROWS, ids=[b[0] for b in BAD_ROWS])
def test_a_bad_row_is_reported_by_line_and_nothing_is_written(graded: Path, kind, edit, message):
    _fill(graded, lambda rows: [edit(r) if i == 0 else r for i, r in enumerate(rows)])  # 5.1 q1, max 2
    before = _snapshot(graded)
    with pytest.raises(FinalizeError) as caught:
        finalize(graded)
    assert f"{SHEET} line 2: {message}" in str(caught.value), str(caught.value)
    assert "nothing was written" in str(caught.value)
    assert _snapshot(graded) == before


def test_duplicates_and_several_bad_rows_are_all_reported(graded: Path):
    def edit(rows):
        rows[5]["points"] = "x"
        return [*rows[:3], rows[1], *rows[3:]]  # line 3's row again as line 5

    _fill(graded, edit)
    before = _snapshot(graded)
    with pytest.raises(FinalizeError) as caught:
        finalize(graded)
    text = str(caught.value)
    assert "2 bad row(s)" in text
    assert f"{SHEET} line 5: duplicate of line 3" in text
    assert f"{SHEET} line 8: points 'x' is not a number" in text
    assert _snapshot(graded) == before


def test_spreadsheet_quirks_and_missing_columns(graded: Path):
    text = (graded / SHEET).read_text()
    lines = text.splitlines()
    lines[1] = lines[1].rstrip(",") + ',1.5,"two\nlines, quoted"'
    (graded / SHEET).write_text("\ufeff" + "\n".join([lines[0], lines[1], "", *lines[2:]]) + "\n")
    finalize(graded)  # BOM, a blank line and a multi-line quoted comment are fine
    assert "two\nlines, quoted" in (graded / "intern_a" / "feedback.html").read_text()
    (graded / SHEET).write_text(text.replace(",", ";"))
    with pytest.raises(FinalizeError, match=r"line 1: missing column.*separated by ';'"):
        finalize(graded)


def test_finalize_cli_one_line_errors(graded: Path, tmp_path: Path):
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "grader", "finalize", *args], cwd=REPO,
                              capture_output=True, text=True)

    done = run("--out", str(tmp_path / "nothing"))
    assert done.returncode == 1 and "is not a folder" in done.stderr and "Traceback" not in done.stderr
    _fill(graded, lambda rows: [{**r, "points": "-3"} if i == 0 else r for i, r in enumerate(rows)])
    done = run("--out", str(graded))
    assert done.returncode == 1 and f"{SHEET} line 2: points -3 is negative" in done.stderr
    _fill(graded, lambda rows: [{**r, "points": "1"} if i == 0 else r for i, r in enumerate(rows)])
    done = run("--out", str(graded))
    assert done.returncode == 0, done.stderr
    assert "final_grades.csv" in done.stdout and "no points yet" in done.stdout
