"""``python -m grader finalize --out DIR``: merge the instructor's manual scores with the auto scores.

Reads ``DIR/<submission>/report.json`` (written by ``grade``) and ``DIR/manual_scores.csv`` (filled in
by the instructor). Every bad row is reported with its line number and nothing is written until the
sheet is fixed. Then writes, each atomically (temporary file, then rename):

- ``DIR/final_grades.csv``: per submission, auto + manual per exercise, totals and maxima;
- ``DIR/lms_grades.csv``: one grade per submission for an LMS import (layout in grader/README.md);
- ``DIR/<submission>/feedback.html``: refreshed with the manual points and the instructor's comments.

The instructor's sheet and the report.json files are never modified.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, replace
from pathlib import Path

from grader.api import EXERCISE_IDS
from grader.manual_scores import SHEET, Score, atomic_write, read_sheet
from grader.outputs import feedback_html
from grader.report import ExerciseReport, ReviewTotals, SubmissionReport

FINAL = "final_grades.csv"
LMS = "lms_grades.csv"
MAX_REPORTED = 50


class FinalizeError(Exception):
    """Something to fix before final grades can be written (the message lists what and where)."""


def _num(value: float) -> str:
    return f"{round(value, 4):g}"


def load_reports(out: Path) -> list[SubmissionReport]:
    """The report.json of every graded submission under ``out``."""
    if not out.is_dir():
        raise FinalizeError(f"{out} is not a folder: pass the --out folder of `python -m grader grade`")
    reports = []
    for path in sorted(out.glob("*/report.json")):
        try:
            reports.append(SubmissionReport.from_json(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError) as error:  # JSONDecodeError, ReportFormatError, not UTF-8
            raise FinalizeError(f"{path}: unreadable report ({error}); grade again into this folder") \
                from None
    if not reports:
        raise FinalizeError(f"{out} holds no <submission>/report.json: "
                            f"run `python -m grader grade ... --out {out}` first")
    return reports


@dataclass(frozen=True)
class FinalExercise:
    """One exercise's final points: the automatic checks' and the instructor's."""

    auto_score: float
    auto_max: float
    manual_score: float
    manual_max: float
    unscored: int  # manual items without points yet (counted as 0)

    @property
    def score(self) -> float:
        """Automatic plus manual points."""
        return self.auto_score + self.manual_score

    @property
    def max_score(self) -> float:
        """Automatic plus manual maximum."""
        return self.auto_max + self.manual_max


@dataclass(frozen=True)
class FinalGrade:
    """A submission's final grade: its report with the review merged in (manual items carry points and
    comments; exercise and total scores include them) and the split per exercise."""

    report: SubmissionReport
    exercises: dict[str, FinalExercise]
    review: ReviewTotals

    @property
    def auto_score(self) -> float:
        """Points of the automatic checks."""
        return self.review.auto_score

    @property
    def manual_score(self) -> float:
        """Points of the instructor's review."""
        return self.review.manual_score


def merged_report(report: SubmissionReport, scores: dict[tuple[str, str, str], Score]) -> FinalGrade:
    """The final grade of a report: manual items with points and comments, exercise and total scores
    including them (auto scores unchanged)."""
    auto_total = manual_total = max_total = 0.0
    exercises: dict[str, ExerciseReport] = {}
    finals: dict[str, FinalExercise] = {}
    for ex_id, ex in report.exercises.items():
        manual = 0.0
        items = []
        for item in ex.manual:
            score = scores.get((report.submission, ex_id, item.name))
            item = replace(item, points=score.points if score else None,
                           comment=score.comment if score else "")
            items.append(item)
            manual += item.points or 0.0
        final = FinalExercise(ex.score, ex.max_score, manual, sum(float(m.max_points) for m in ex.manual),
                              sum(m.points is None for m in items))
        finals[ex_id] = final
        exercises[ex_id] = replace(ex, score=final.score, max_score=final.max_score, manual=tuple(items))
        auto_total += final.auto_score
        manual_total += manual
        max_total += final.max_score
    merged = replace(report, exercises=exercises, score=auto_total + manual_total, max_score=max_total)
    return FinalGrade(merged, finals, ReviewTotals(auto_total, manual_total))


def final_grades_csv(merged: list[FinalGrade]) -> str:
    """submission,status,auto,auto_max,manual,manual_max,total,max_total,unscored, then per exercise
    <ex>_auto,<ex>_manual,<ex>_total,<ex>_max."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    per_ex = [f"{ex}_{part}" for ex in EXERCISE_IDS for part in ("auto", "manual", "total", "max")]
    writer.writerow(["submission", "status", "auto", "auto_max", "manual", "manual_max", "total", "max_total",
                     "unscored", *per_ex])
    for g in merged:
        r, exs = g.report, g.exercises
        cells = []
        for ex in EXERCISE_IDS:
            e = exs.get(ex)
            cells += ([_num(e.auto_score), _num(e.manual_score), _num(e.score), _num(e.max_score)]
                      if e else ["", "", "", ""])
        writer.writerow([r.submission, r.status, _num(g.auto_score),
                         _num(sum(e.auto_max for e in exs.values())), _num(g.manual_score),
                         _num(sum(e.manual_max for e in exs.values())), _num(r.score),
                         _num(r.max_score), sum(e.unscored for e in exs.values()), *cells])
    return buffer.getvalue()


def lms_csv(merged: list[FinalGrade]) -> str:
    """identifier,grade,max_grade,percent,feedback: one row per submission (see grader/README.md)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["identifier", "grade", "max_grade", "percent", "feedback"])
    for g in merged:
        r = g.report
        percent = 100.0 * r.score / r.max_score if r.max_score else 0.0
        writer.writerow([r.submission, f"{r.score:.2f}", f"{r.max_score:.2f}", f"{percent:.1f}",
                         f"Module 5: automatic checks {_num(g.auto_score)}, instructor review "
                         f"{_num(g.manual_score)}; details in your feedback page"])
    return buffer.getvalue()


def finalize(out: Path, sheet: Path | None = None) -> list[Path]:
    """Validate the sheet, then write final grades, the LMS file and refreshed feedback pages."""
    reports = load_reports(out)
    sheet = sheet or out / SHEET
    if not sheet.is_file():
        raise FinalizeError(f"{sheet} not found: `grade` writes it; fill in points and comments, "
                            "then finalize")
    scores, errors = read_sheet(sheet, reports)
    if errors:
        shown = errors[:MAX_REPORTED] + ([f"... and {len(errors) - MAX_REPORTED} more"]
                                         if len(errors) > MAX_REPORTED else [])
        raise FinalizeError(f"{len(errors)} bad row(s) in {sheet.name}; nothing was written. Fix them and "
                            "run finalize again:\n  " + "\n  ".join(shown))
    merged = [merged_report(r, scores) for r in sorted(reports, key=lambda r: r.submission)]
    pages = {out / g.report.submission / "feedback.html": feedback_html(g.report, g.review) for g in merged}
    written = []
    for path, text in ((out / FINAL, final_grades_csv(merged)), (out / LMS, lms_csv(merged)),
                       *sorted(pages.items())):
        atomic_write(path, text)
        written.append(path)
    unscored = sum(e.unscored for g in merged for e in g.exercises.values())
    if unscored:
        print(f"note: {unscored} manual item(s) have no points yet (counted as 0); see the unscored column")
    return written
