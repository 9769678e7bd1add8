"""Outputs carry no host path, environment value or reference SQL (grader/public.py, outputs.py)."""

from __future__ import annotations

import json
from pathlib import Path

from grader.answers import Answers
from grader.outputs import write_outputs
from grader.public import Redactor, public_report
from grader.report import CheckResult, ExerciseReport, ManualAnswer, SubmissionReport

REF_LINE = "count(distinct case when event_type = 'cart_add' then event_id end) as cart_add_count,"


def report(text: str, status: str = "ok", message: str = "") -> SubmissionReport:
    check = CheckResult("builds", False, 0.0, 2.0, True, text, examples=({"value": text},))
    manual = ManualAnswer("q1", 2.0, "Why?", "answer:5.1:q1", text)
    return SubmissionReport("ana", status, message, 0.0, 2.0, (), "",
                            {"5.1": ExerciseReport(0.0, 2.0, (check,), (manual,))})


def test_outputs_hold_no_host_path_env_value_or_reference_line(tmp_path: Path, monkeypatch):
    secret = "s3cr3t-token-value"
    monkeypatch.setenv("VB_PROBE_SECRET", secret)
    cache = tmp_path / "cache" / "abc"
    reference = Answers(files={"models/m.sql": f"select\n    {REF_LINE}\n", "docs/x.md": "a" * 80})
    redactor = Redactor.for_run(roots=[cache], reference=reference)
    leaky = (f"Compilation Error: env_var {secret} in {cache}/reference/dbt_project/models/m.sql, "
             f"HOME={Path.home()} cwd={Path.cwd()} venv /work/x/.venv/lib/python3.11/site.py "
             f"LINE 1: {REF_LINE.upper()}  see https://docs.getdbt.com/reference/x and a/b/c.sql")
    crashed = report(leaky, status="error", message="grading process died (exit 1): Traceback /root/x.py")
    out = tmp_path / "out"
    out.mkdir()
    write_outputs([crashed], out, redactor)
    texts = [p.read_text() for p in (out / "gradebook.csv", out / "ana" / "report.json",
                                     out / "ana" / "feedback.html", out / "ana" / "review.md")]
    for text in texts:
        for leak in (secret, str(cache), str(Path.home()) + "/", str(Path.cwd()), "/work/x", "cart_add_count",
                     "/root/x.py", "Traceback"):
            assert leak not in text, (leak, text[:300])
    saved = json.loads((out / "ana" / "report.json").read_text())
    message = saved["exercises"]["5.1"]["checks"][0]["message"]
    assert "<env>" in message and "<path>" in message and "<reference text>" in message
    assert "https://docs.getdbt.com/reference/x" in message and "a/b/c.sql" in message
    assert saved["message"] == "grading process died (exit 1)" and saved["submission"] == "ana"


def test_redaction_keeps_ordinary_text_and_is_deterministic(monkeypatch):
    monkeypatch.setenv("VB_PROBE_SHORT", "1")
    monkeypatch.setenv("VB_PROBE_WORD", "hint")
    monkeypatch.setenv("VB_PROBE_NAME", "stg_orders")  # a plain word may be an ordinary name
    text = "model stg_orders: 3 rows differ; hint: use left join (rooted at /rooted? no) 1 / 2"
    first = public_report(report(text))
    assert first == public_report(report(text))
    assert first.exercises["5.1"].checks[0].message == text
