"""``python -m grader check [EX | --all] [--summary-md]``: self-checks of several exercises, as text or as
Markdown for a CI job summary (the intern edition's workflow appends it to ``$GITHUB_STEP_SUMMARY``)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from grader.exercises import registry
from grader.selfcheck import selfcheck_lines

_CHECK = re.compile(r"^  \[(PASS|FAIL)\] ([a-z0-9_]+): (.*)$")
_HINT = re.compile(r"^ {9}hint: (.*)$")
_TOTAL = re.compile(r"^(\d+)/(\d+) public checks pass\.(?: The instructor also runs (\d+) more)?")


@dataclass
class ExerciseResult:
    """One exercise's self-check, parsed from its feedback lines."""

    exercise: str
    lines: list[str]
    checks: list[tuple[bool, str, str, str]] = field(default_factory=list)  # passed, name, message, hint
    hidden: int = 0

    @property
    def failed(self) -> bool:
        """A failing public check, or a usage problem (unknown exercise)."""
        return self.lines[0].startswith("grader:") or any(not c[0] for c in self.checks)


def run_one(exercise_id: str) -> ExerciseResult:
    """Self-check one exercise and parse its lines."""
    result = ExerciseResult(exercise_id, selfcheck_lines(exercise_id))
    for line in result.lines[1:]:
        if match := _CHECK.match(line):
            result.checks.append((match[1] == "PASS", match[2], match[3], ""))
        elif (match := _HINT.match(line)) and result.checks:
            passed, name, message, _ = result.checks[-1]
            result.checks[-1] = (passed, name, message, match[1])
        elif match := _TOTAL.match(line):
            result.hidden = int(match[3] or 0)
    return result


def _cell(text: str) -> str:
    return html.escape(text, quote=False).replace("|", "\\|").replace("\n", " ")


def markdown(results: list[ExerciseResult]) -> str:
    """A job-summary page: one table row per exercise, then each check with its message and hint."""
    passed = sum(c[0] for r in results for c in r.checks)
    total = sum(len(r.checks) for r in results)
    out = ["## Self-check (public checks)", "",
           f"**{passed}/{total}** public checks pass. The instructor grades on hidden data with more checks; "
           "this page shows only what you can check yourself.", "",
           "| exercise | public checks | result | hidden checks |", "|---|---|---|---|"]
    for r in results:
        if r.lines[0].startswith("grader:") or not r.checks:
            out.append(f"| {_cell(r.exercise)} | - | {_cell(r.lines[0])} | {r.hidden} |")
            continue
        ok = sum(c[0] for c in r.checks)
        mark = "pass" if not r.failed else "FAIL"
        out.append(f"| {_cell(r.exercise)} | {ok}/{len(r.checks)} | {mark} | {r.hidden} |")
    for r in results:
        if not r.checks:
            continue
        out += ["", f"### {_cell(r.lines[0].split(': self-check')[0])}", ""]
        for ok, name, message, hint in r.checks:
            out.append(f"- {'PASS' if ok else '**FAIL**'} `{name}`: {_cell(message)}")
            if hint and not ok:
                out.append(f"  - hint: {_cell(hint)}")
    return "\n".join(out) + "\n"


def run_checks(exercises: list[str] | None, *, markdown_output: bool = False) -> int:
    """Print the self-checks (every exercise when ``exercises`` is None); exit code 1 when one fails."""
    ids = exercises if exercises is not None else list(registry())
    results = [run_one(ex) for ex in ids]
    if markdown_output:
        print(markdown(results), end="")
    else:
        print("\n\n".join("\n".join(r.lines) for r in results))
    if any(r.lines[0].startswith("grader:") for r in results):
        return 2
    return 1 if any(r.failed for r in results) else 0
