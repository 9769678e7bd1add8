"""What may leave the grader: report texts without host paths, environment values or reference SQL.

Messages are built from known-safe parts where the grader writes them (problems, status messages);
``Redactor`` is the last line for the texts that come from dbt, DuckDB or a check (they may quote
the submission's own error, which can hold an ``env_var`` value or a path). It runs on every
string of a report (messages, hints, example rows, manual answers) just before it is written.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from course_core import instructor_settings
from grader.answers import Answers
from grader.report import SubmissionReport

PATH_TOKEN, ENV_TOKEN, REFERENCE_TOKEN = "<path>", "<env>", "<reference text>"
MIN_ENV_VALUE = 8  # shorter values ("1", "false", "C.UTF-8") are not secrets and would garble text
MIN_REFERENCE_LINE = 40  # a reference line this long is not a coincidence
_PATH_TAIL = r"(?:/[^\s'\"<>()\[\],;|`]*)?(?![\w.-])"
_SYSTEM_PATHS = re.compile(
    r"(?<![\w.:/~-])/(?:tmp|root|home|work|usr|opt|proc|etc|var|dev|sys|run|mnt|srv|private|Users|nix)"
    + _PATH_TAIL)
_DEFAULT_CACHE = Path("~/.cache/vyaparbazaar-grader")


def _host_roots(extra: Iterable[str | Path]) -> list[str]:
    """Folders of this machine that must not appear in outputs, longest first."""
    candidates: list[str | Path] = [
        Path.home(), Path.cwd(), sys.prefix, sys.base_prefix, sys.exec_prefix, tempfile.gettempdir(),
        Path(__file__).resolve().parents[1],
        instructor_settings.grader_cache_setting() or _DEFAULT_CACHE.expanduser(),
        *extra,
    ]
    roots: set[str] = set()
    for candidate in candidates:
        for form in (str(candidate), os.path.realpath(candidate)):
            form = form.rstrip("/")
            if len(form) > 1:
                roots.add(form)
    return sorted(roots, key=len, reverse=True)


def _env_values(environ: dict[str, str]) -> list[str]:
    values: set[str] = set()
    for value in environ.values():
        for part in [value, *value.split(os.pathsep)]:
            part = part.strip()
            if len(part) >= MIN_ENV_VALUE and not part.isdigit() and _token_like(part):
                values.add(part)
    return sorted(values, key=len, reverse=True)


def _token_like(value: str) -> bool:
    """A path, key or password rather than a plain word or name ("instructor", "stg_orders"), which
    would garble ordinary text if redacted."""
    mixed_case = any(c.isupper() for c in value[1:]) and any(c.islower() for c in value)
    return (len(value) >= 20 or mixed_case or any(c.isdigit() or c in "/=:@+.%~" for c in value))


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


def reference_lines(reference: Answers | None, public: Iterable[str] = ()) -> list[str]:
    """Long lines of the reference answers' SQL/YAML that are not public (normalized)."""
    if reference is None:
        return []
    known = {_norm(line) for text in public for line in text.splitlines()}
    lines: set[str] = set()
    for path, text in reference.files.items():
        if not path.endswith((".sql", ".yml", ".yaml")):
            continue
        for line in text.splitlines():
            normal = _norm(line)
            if len(normal) >= MIN_REFERENCE_LINE and normal not in known:
                lines.add(normal)
    return sorted(lines, key=len, reverse=True)


class Redactor:
    """Replaces host paths, environment values and reference lines in output texts."""

    def __init__(self, roots: Iterable[str | Path] = (), environ: dict[str, str] | None = None,
                 reference: Iterable[str] = ()):
        self.roots = _host_roots(roots)
        self._root_patterns = [re.compile(re.escape(r) + _PATH_TAIL) for r in self.roots]
        self.env_values = _env_values(dict(os.environ if environ is None else environ))
        self.reference = list(reference)

    @classmethod
    def for_run(cls, *, roots: Iterable[str | Path] = (), reference: Answers | None = None,
                public: Iterable[str] = ()) -> Redactor:
        """The redactor of one grading run (its cache/scratch folders and reference answers)."""
        return cls(roots, None, reference_lines(reference, public))

    def text(self, text: str) -> str:
        """``text`` without anything of the host, its environment or the reference answers."""
        if not text:
            return text
        for pattern in self._root_patterns:
            text = pattern.sub(PATH_TOKEN, text)
        for value in self.env_values:
            if value in text:
                text = text.replace(value, ENV_TOKEN)
        text = _SYSTEM_PATHS.sub(PATH_TOKEN, text)
        if self.reference:
            normal = _norm(text)
            for line in self.reference:
                if line in normal:
                    words = [re.escape(w) for w in line.split()]
                    text = re.sub(r"\s+".join(words), REFERENCE_TOKEN, text, flags=re.IGNORECASE)
        return text

    def value(self, value: Any) -> Any:
        """Every string inside a JSON-like value, redacted (keys included)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.value(k) if isinstance(k, str) else k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value


def public_message(report: SubmissionReport) -> str:
    """The report's status message from its safe parts: never a worker's log tail or traceback text."""
    message = report.message
    if report.status == "error" and message.startswith("grading process died"):
        return message.split(":", 1)[0]
    return message


def public_report(report: SubmissionReport, redactor: Redactor | None = None) -> SubmissionReport:
    """A copy of a report fit for report.json, feedback.html, review.md and the gradebook: every text
    of its report.json content redacted (the run's measurements kept as they are)."""
    redactor = redactor or Redactor()
    content = report.to_json()
    content["message"] = public_message(report)
    safe = SubmissionReport.from_json(redactor.value(content))
    # safe_name(): letters, digits, . _ - only
    return replace(safe, submission=report.submission, seconds=report.seconds,
                   worker_cpu_seconds=report.worker_cpu_seconds, timings=report.timings)
