"""The manual-scores sheet: ``<out>/manual_scores.csv``, written by ``grade``, filled in by the instructor,
read back (and validated) by ``finalize``.

Columns: ``submission,exercise,question,max_points,points,comment``; one row per submission and
manual item (prose answers, documents), ``points`` and ``comment`` empty. The file is opened with
UTF-8 (a spreadsheet's byte-order mark is fine), extra columns are ignored, blank lines skipped.
``grade`` never overwrites a sheet that exists: it writes ``manual_scores.blank.csv`` beside it.
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path

from grader.report import SubmissionReport

COLUMNS = ("submission", "exercise", "question", "max_points", "points", "comment")
SHEET = "manual_scores.csv"
BLANK = "manual_scores.blank.csv"


def _num(value: float) -> str:
    return f"{value:g}"


def sheet_rows(reports: list[SubmissionReport]) -> list[list[str]]:
    """The pre-filled rows: every manual item of every submission, points and comment empty."""
    rows = []
    for report in sorted(reports, key=lambda r: r.submission):
        for ex_id, ex in report.exercises.items():
            for item in ex.manual:
                rows.append([report.submission, ex_id, item.name, _num(item.max_points), "", ""])
    return rows


def sheet_text(reports: list[SubmissionReport]) -> str:
    """The CSV text of the pre-filled sheet."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(sheet_rows(reports))
    return buffer.getvalue()


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def write_sheet(reports: list[SubmissionReport], out: Path) -> Path:
    """Write ``manual_scores.csv``; if the instructor already has one there, keep it untouched and write
    ``manual_scores.blank.csv`` instead. Returns the path written."""
    path = out / SHEET
    if path.exists():
        path = out / BLANK
    atomic_write(path, sheet_text(reports))
    return path


@dataclass(frozen=True)
class Score:
    """One scored manual item: points (None = not scored yet) and the instructor's comment."""

    points: float | None
    comment: str
    line: int


def _points(text: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    value = float(text)  # ValueError for non-numeric
    if math.isnan(value) or math.isinf(value):
        raise ValueError(text)
    return value


Key = tuple[str, str, str]  # (submission, exercise, question)


def read_sheet(path: Path, reports: list[SubmissionReport]) -> tuple[dict[Key, Score], list[str]]:
    """Scores by (submission, exercise, question), and one message per bad row (with its line number)."""
    items = {(r.submission, ex_id, m.name): float(m.max_points)
             for r in reports for ex_id, ex in r.exercises.items() for m in ex.manual}
    submissions = {r.submission for r in reports}
    name = path.name
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        return {}, [f"{name}: not UTF-8 text: save it as 'CSV UTF-8' from your spreadsheet"]
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        return {}, [f"{name}: empty file (expected the header {','.join(COLUMNS)})"]
    header = [h.strip().lower() for h in header]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        semicolons = len(header) == 1 and ";" in header[0]
        hint = " (it looks separated by ';': save it with commas)" if semicolons else ""
        return {}, [f"{name} line 1: missing column(s) {', '.join(missing)}{hint}"]
    col = {c: header.index(c) for c in COLUMNS}
    scores: dict[Key, Score] = {}
    errors: list[str] = []
    start = reader.line_num + 1
    for row in reader:
        line, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        cells = {c: (row[i].strip() if i < len(row) else "") for c, i in col.items()}
        where = f"{name} line {line}"
        key = (cells["submission"], cells["exercise"], cells["question"])
        if cells["submission"] not in submissions:
            errors.append(f"{where}: unknown submission {cells['submission']!r} (not in this grading output)")
            continue
        if key not in items:
            errors.append(f"{where}: unknown question {cells['exercise']} {cells['question']!r} "
                          f"for {cells['submission']}")
            continue
        if key in scores:
            errors.append(f"{where}: duplicate of line {scores[key].line} "
                          f"({cells['submission']} {cells['exercise']} {cells['question']}): keep one row")
            continue
        maximum = items[key]
        try:
            points = _points(cells["points"])
        except ValueError:
            errors.append(f"{where}: points {cells['points']!r} is not a number "
                          f"({cells['submission']} {cells['exercise']} {cells['question']})")
            scores[key] = Score(None, cells["comment"], line)
            continue
        if points is not None and points < 0:
            errors.append(f"{where}: points {cells['points']} is negative "
                          f"({cells['submission']} {cells['exercise']} {cells['question']})")
        elif points is not None and points > maximum:
            errors.append(f"{where}: points {cells['points']} is above the maximum {_num(maximum)} "
                          f"({cells['submission']} {cells['exercise']} {cells['question']})")
        if cells["max_points"] and cells["max_points"] != _num(maximum):
            try:
                changed = float(cells["max_points"]) != maximum
            except ValueError:
                changed = True
            if changed:
                errors.append(f"{where}: max_points {cells['max_points']!r} was changed: the item is worth "
                              f"{_num(maximum)} (leave max_points as grade wrote it)")
        scores[key] = Score(points, cells["comment"], line)
    return scores, errors
