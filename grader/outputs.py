"""Write the grading outputs: gradebook.csv, and per submission report.json, feedback.html, review.md.

Every file is written to a temporary file in its folder, fsynced and renamed; gradebook.csv is
removed first and written last, only when every submission's files were written, so a
gradebook always describes a complete run. A failed write raises ``OutputsIncomplete``.
"""

from __future__ import annotations

import csv
import html
import io
import json
from pathlib import Path

from grader.api import EXERCISE_IDS
from grader.faults import DiskFull, atomic_write, is_disk_full, replace_together
from grader.manual_scores import write_sheet
from grader.public import Redactor, public_report
from grader.report import ExampleRow, ReviewTotals, SubmissionReport

SUBMISSION_FILES = ("report.json", "feedback.html", "review.md")


class OutputsIncomplete(Exception):
    """Some outputs could not be written: names the submissions without complete output."""

    def __init__(self, missing: list[str], reasons: list[str]):
        self.missing = missing
        what = missing[0] if missing in (["gradebook.csv"], ["manual_scores.csv"]) else (
            f"the output of {len(missing)} submission(s): {', '.join(missing)}")
        super().__init__(f"could not write {what} ({'; '.join(reasons)}); no gradebook.csv was written: "
                         "fix that and run the same command again")


def _num(value: float) -> str:
    return f"{value:g}"


def report_json(report: SubmissionReport) -> str:
    """The text of report.json (stable: no timings)."""
    return json.dumps(report.to_json(), indent=2, sort_keys=True, default=str) + "\n"


def gradebook_csv(reports: list[SubmissionReport]) -> str:
    """One row per submission: submission,status,total,max_total,5.1,...,bonus."""
    handle = io.StringIO()
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(["submission", "status", "total", "max_total", *EXERCISE_IDS])
    for r in sorted(reports, key=lambda r: r.submission):
        per = [_num(r.exercises[e].score) if e in r.exercises else "" for e in EXERCISE_IDS]
        writer.writerow([r.submission, r.status, _num(r.score), _num(r.max_score), *per])
    return handle.getvalue()


def write_gradebook(reports: list[SubmissionReport], path: Path) -> None:
    """Write ``gradebook_csv`` atomically."""
    atomic_write(path, gradebook_csv(reports))


def _examples_table(examples: tuple[ExampleRow, ...]) -> str:
    columns: list[str] = []
    for row in examples:
        columns += [c for c in row if c not in columns]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(row.get(c, '')))}</td>" for c in columns) + "</tr>"
        for row in examples
    )
    return f"<table class='ex'><tr>{head}</tr>{body}</table>"


def feedback_html(report: SubmissionReport, review: ReviewTotals | None = None) -> str:
    """A readable page: each check, its points and message, example rows of mismatches (``review``:
    the final grade's split, after ``python -m grader finalize``)."""
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Feedback: {esc(report.submission)}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}td,th{border:1px solid #ccc;"
        "padding:2px 6px;font-size:90%}table{border-collapse:collapse}.pass{color:#176f2c}"
        ".fail{color:#a61b1b}.ex{margin:4px 0 10px 2em}</style></head><body>",
        f"<h1>{esc(report.submission)}: {_num(report.score)} / {_num(report.max_score)}</h1>",
        f"<p>Status: {esc(report.status)} {esc(report.message)}</p>",
    ]
    if review is not None:  # final grades (finalize): automatic checks plus the instructor's review
        parts.append(f"<p>Automatic checks {_num(review.auto_score)}, instructor's review "
                     f"{_num(review.manual_score)}.</p>")
    if report.problems:
        parts.append("<h2>Problems reading the submission</h2><ul>")
        parts += [f"<li>{esc(p)}</li>" for p in report.problems]
        parts.append("</ul>")
    for ex_id, ex in report.exercises.items():
        parts.append(f"<h2>Exercise {esc(ex_id)}: {_num(ex.score)} / {_num(ex.max_score)}</h2>")
        if not ex.checks:
            parts.append("<p>No automatic checks for this exercise yet.</p>")
        parts.append("<table><tr><th>check</th><th>points</th><th>result</th></tr>")
        for c in ex.checks:
            cls, mark = ("pass", "passed") if c.passed else ("fail", "failed")
            hint = f"<br><i>Hint: {esc(c.hint)}</i>" if c.hint else ""
            examples = _examples_table(c.examples) if c.examples else ""
            parts.append(
                f"<tr><td>{esc(c.name)}</td><td>{_num(c.points)} / {_num(c.max_points)}</td>"
                f"<td><span class='{cls}'>{mark}</span>: {esc(c.message)}{hint}{examples}"
                "</td></tr>"
            )
        parts.append("</table>")
        for m in ex.manual:
            if m.points is None:
                parts.append(f"<p>Manual ({_num(m.max_points)} pts, scored by the instructor): "
                             f"{esc(m.prompt)}</p>")
            else:  # after `python -m grader finalize`
                parts.append(f"<p>Manual: {esc(m.prompt)} <b>{_num(m.points)} / "
                             f"{_num(m.max_points)}</b></p>")
            if m.comment:
                parts.append(f"<p class='comment'>Instructor's comment: {esc(m.comment)}</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def review_sheet(report: SubmissionReport) -> str:
    """Markdown sheet of every manual item with the intern's answer and an empty score slot."""
    lines = [f"# Review sheet: {report.submission}", ""]
    for ex_id, ex in report.exercises.items():
        if not ex.manual:
            continue
        lines += [f"## Exercise {ex_id}", ""]
        for m in ex.manual:
            lines += [f"### {m.name} ({_num(m.max_points)} points): {m.prompt}",
                      f"Source: `{m.source}`", "", m.answer or "_(no answer)_", "",
                      f"Score: ____ / {_num(m.max_points)}", ""]
    return "\n".join(lines) + "\n"


def _remove_leftovers(folder: Path, names: tuple[str, ...]) -> None:
    """Temporary files a killed run left beside ``names``."""
    for name in names:
        for temp in folder.glob(f".{name}.*.tmp"):
            temp.unlink(missing_ok=True)


def write_submission(report: SubmissionReport, folder: Path) -> None:
    """report.json, feedback.html and review.md: all three written to temporary files, then renamed."""
    folder.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(folder, SUBMISSION_FILES)
    texts = (report_json(report), feedback_html(report), review_sheet(report))
    replace_together(folder, dict(zip(SUBMISSION_FILES, texts, strict=True)))


def _reason(error: Exception, folder: Path) -> str:
    if isinstance(error, DiskFull) or is_disk_full(error):
        return f"no space left on device in {folder}"
    return f"{type(error).__name__}: {error}"[:200]


def write_outputs(reports: list[SubmissionReport], out: Path, redactor: Redactor | None = None) -> None:
    """One folder per submission, the manual-scores sheet, then gradebook.csv (texts without host paths,
    env values or reference lines); raises ``OutputsIncomplete`` naming what is missing."""
    reports = [public_report(r, redactor) for r in reports]
    gradebook = out / "gradebook.csv"
    missing: list[str] = []
    reasons: list[str] = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        _remove_leftovers(out, ("gradebook.csv",))
        gradebook.unlink(missing_ok=True)  # a gradebook only ever describes a complete run
    except OSError as error:
        raise OutputsIncomplete(sorted(r.submission for r in reports), [_reason(error, out)]) from None
    for report in sorted(reports, key=lambda r: r.submission):
        try:
            write_submission(report, out / report.submission)
        except (OSError, DiskFull) as error:
            missing.append(report.submission)
            if _reason(error, out) not in reasons:
                reasons.append(_reason(error, out))
    if missing:
        raise OutputsIncomplete(missing, reasons)
    try:
        write_sheet(reports, out)
    except (OSError, DiskFull) as error:
        raise OutputsIncomplete(["manual_scores.csv"], [_reason(error, out)]) from None
    try:
        write_gradebook(reports, gradebook)
    except (OSError, DiskFull) as error:
        raise OutputsIncomplete(["gradebook.csv"], [_reason(error, out)]) from None
