"""Write the grading outputs: gradebook.csv, and per submission report.json, feedback.html, review.md."""

from __future__ import annotations

import csv
import html
import json
from pathlib import Path
from typing import Any

from grader.api import EXERCISE_IDS
from grader.manual_scores import write_sheet
from grader.public import Redactor, public_report


def _num(value: float) -> str:
    return f"{value:g}"


def report_json(report: dict[str, Any]) -> dict[str, Any]:
    """The report.json content (stable: no timings)."""
    keep = ("submission", "status", "message", "score", "max_score", "problems", "exercises", "isolation")
    return {k: report[k] for k in keep if k in report}


def write_gradebook(reports: list[dict[str, Any]], path: Path) -> None:
    """One row per submission: submission,status,total,max_total,5.1,...,bonus."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["submission", "status", "total", "max_total", *EXERCISE_IDS])
        for r in sorted(reports, key=lambda r: r["submission"]):
            per = [_num(r["exercises"][e]["score"]) if e in r["exercises"] else "" for e in EXERCISE_IDS]
            writer.writerow([r["submission"], r["status"], _num(r["score"]), _num(r["max_score"]), *per])


def _examples_table(examples: list[dict[str, Any]]) -> str:
    columns: list[str] = []
    for row in examples:
        columns += [c for c in row if c not in columns]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(row.get(c, '')))}</td>" for c in columns) + "</tr>"
        for row in examples
    )
    return f"<table class='ex'><tr>{head}</tr>{body}</table>"


def feedback_html(report: dict[str, Any]) -> str:
    """A readable page: each check, its points and message, example rows of mismatches."""
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Feedback: {esc(report['submission'])}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}td,th{border:1px solid #ccc;"
        "padding:2px 6px;font-size:90%}table{border-collapse:collapse}.pass{color:#176f2c}"
        ".fail{color:#a61b1b}.ex{margin:4px 0 10px 2em}</style></head><body>",
        f"<h1>{esc(report['submission'])}: {_num(report['score'])} / {_num(report['max_score'])}</h1>",
        f"<p>Status: {esc(report['status'])} {esc(report.get('message', ''))}</p>",
    ]
    if "manual_score" in report:  # final grades (finalize): automatic checks plus the instructor's review
        parts.append(f"<p>Automatic checks {_num(report['auto_score'])}, instructor's review "
                     f"{_num(report['manual_score'])}.</p>")
    if report.get("problems"):
        parts.append("<h2>Problems reading the submission</h2><ul>")
        parts += [f"<li>{esc(p)}</li>" for p in report["problems"]]
        parts.append("</ul>")
    for ex_id, ex in report["exercises"].items():
        parts.append(f"<h2>Exercise {esc(ex_id)}: {_num(ex['score'])} / {_num(ex['max_score'])}</h2>")
        if not ex["checks"]:
            parts.append("<p>No automatic checks for this exercise yet.</p>")
        parts.append("<table><tr><th>check</th><th>points</th><th>result</th></tr>")
        for c in ex["checks"]:
            cls, mark = ("pass", "passed") if c["passed"] else ("fail", "failed")
            hint = f"<br><i>Hint: {esc(c['hint'])}</i>" if c.get("hint") else ""
            examples = _examples_table(c["examples"]) if c.get("examples") else ""
            parts.append(
                f"<tr><td>{esc(c['name'])}</td><td>{_num(c['points'])} / {_num(c['max_points'])}</td>"
                f"<td><span class='{cls}'>{mark}</span>: {esc(c.get('message', ''))}{hint}{examples}"
                "</td></tr>"
            )
        parts.append("</table>")
        for m in ex.get("manual", []):
            if m.get("points") is None:
                parts.append(f"<p>Manual ({_num(m['max_points'])} pts, scored by the instructor): "
                             f"{esc(m['prompt'])}</p>")
            else:  # after `python -m grader finalize`
                parts.append(f"<p>Manual: {esc(m['prompt'])} <b>{_num(m['points'])} / "
                             f"{_num(m['max_points'])}</b></p>")
            if m.get("comment"):
                parts.append(f"<p class='comment'>Instructor's comment: {esc(m['comment'])}</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def review_sheet(report: dict[str, Any]) -> str:
    """Markdown sheet of every manual item with the intern's answer and an empty score slot."""
    lines = [f"# Review sheet: {report['submission']}", ""]
    for ex_id, ex in report["exercises"].items():
        if not ex.get("manual"):
            continue
        lines += [f"## Exercise {ex_id}", ""]
        for m in ex["manual"]:
            lines += [f"### {m['name']} ({_num(m['max_points'])} points): {m['prompt']}",
                      f"Source: `{m['source']}`", "", m["answer"] or "_(no answer)_", "",
                      f"Score: ____ / {_num(m['max_points'])}", ""]
    return "\n".join(lines) + "\n"


def write_outputs(reports: list[dict[str, Any]], out: Path, redactor: Redactor | None = None) -> None:
    """gradebook.csv plus one folder per submission (texts without host paths, env values, reference)."""
    reports = [public_report(r, redactor) for r in reports]
    write_gradebook(reports, out / "gradebook.csv")
    for report in reports:
        folder = out / report["submission"]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "report.json").write_text(
            json.dumps(report_json(report), indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
        )
        (folder / "feedback.html").write_text(feedback_html(report), encoding="utf-8")
        (folder / "review.md").write_text(review_sheet(report), encoding="utf-8")
    write_sheet(reports, out)
