"""Honest numbers: every number in a solution notebook's prose is shown by one of its outputs.

The rule (also in DEVELOPING.md, "Numbers in prose"): a number written in a markdown cell of
``solutions/<name>.ipynb`` must be shown by a stored text output of the same notebook (a cell that
prints an f-string sentence, or a test cell that prints what it asserted).

Prose = every markdown cell (answer and solution-only cells included), without: fenced code
blocks and inline code spans; link targets, HTML tags and URLs; quotations - text in double
quotes ("..." or the curly pair) and blockquote lines (``>``), i.e. someone else's claim (the
seed's) that the notebook then checks; times of day (``01:00``, ``:15``).

Tokens: a run of digits not glued to a letter, ``_``, ``.`` or ``letter-`` before it (ids such as
``C0000001``, ``p95``, ``arrival-day-001`` are not numbers), with optional thousands separators
(``1,682,181``) and decimals (``36.9``); a trailing ``%`` or unit letters (``30x``, ``36.9s``) are
ignored; a magnitude after it (``thousand``, ``million``, ``billion``, ``trillion``, or a glued
``k``) scales it. ``YYYY-MM-DD`` dates are one token, compared as text.

Shown: some number x in the notebook's text outputs (stream, text/plain, text/html,
text/markdown; separators and ``%`` ignored) rounds, half up, to the prose number at the prose's
own precision, after dividing by the prose's magnitude ("1.7 million" is shown by 1,682,181;
"56%" by 55.9%; "36.9 s" by 36.94), or equals it. A date is shown when the outputs contain it.

Exempt (the short list of constants, each justified):
* enumerators - a number that starts a line (list item, heading's section number such as
  ``### 3.1``, ``# 00``), the first cell of a table row, or a whole ``(1)``: they count items;
* references - the notebook's own heading section numbers and the exercise numbers 5.1-5.5
  anywhere, unless a magnitude, unit or ``%`` follows ("3.4 million rows" is checked);
* versions - ``x.y.z``, or a number right after dbt / DuckDB / Python / pandas / jupysql / nbval;
* the data contract (DEVELOPING.md): the seed 42 and scale values (a number right after
  "seed" or "scale"), the as-of date 2025-12-31, the history start 2024-01-01, the end of the
  as-of day 2026-01-01 and the years 2024 and 2025;
* the introduction's planning estimate "plan about N minutes/hours" (an author's judgement the
  time-budget convention asks for; its measured half, the execution time, is checked).

Words are not numbers: "several seconds", "a minority", "slowest by far" are not tokenised, but
the same rule applies to them by review (print the number they stand for, or use the number).
"""

from __future__ import annotations

import json
import re
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((REPO / "solutions").glob("*.ipynb"))

CONTRACT_DATES = {"2024-01-01", "2025-12-31", "2026-01-01"}
CONTRACT_YEARS = {"2024", "2025"}
EXERCISES = {"5.1", "5.2", "5.3", "5.4", "5.5"}
MAGNITUDES = {"thousand": 10**3, "k": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
UNIT_AFTER = re.compile(
    r"\s*(%|x\b|times\b|s\b|ms\b|seconds?\b|minutes?\b|hours?\b|days?\b|rows?\b|[kMG]i?B\b|thousand|million|billion|trillion)"
)
VERSIONED = re.compile(r"(?:\bdbt|\bDuckDB|\bPython|\bpandas|\bjupysql|\bnbval)(?:-\w+)?\s+v?$", re.I)
CONTRACT_PREFIX = re.compile(r"\b(?:seed|scale)\s*=?\s*$", re.I)
PLANNING = re.compile(r"\bplan (?:about|for|on)\s+\**$", re.I)

DATE = r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?"
NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
TOKEN = re.compile(
    rf"(?<![\w.])(?<![A-Za-z_]-)(?:(?P<date>{DATE})|(?P<num>{NUMBER})(?![\d])"
    r"(?P<mag>k\b|\s+(?:thousand|million|billion|trillion)\b)?)"
)
OUTPUT_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
OUTPUT_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
SECTION = re.compile(r"^\s{0,3}#{1,6}\s+(\d+(?:\.\d+)*)\.?\s", re.M)


def strip_prose(markdown: str) -> str:
    """The prose of one markdown cell: no code, links, HTML, quotations or times of day."""
    text = re.sub(r"```.*?```|~~~.*?~~~", " ", markdown, flags=re.S)
    text = re.sub(r"`[^`\n]*`", " ", text)
    text = re.sub(r"\]\([^)]*\)", "] ", text)
    text = re.sub(r"<[^>\n]*>|https?://\S+", " ", text)
    text = re.sub(r"^\s*>.*$", " ", text, flags=re.M)
    text = re.sub(r"\"[^\"\n]*\"|\u201c[^\u201d]*\u201d", " ", text)
    return re.sub(r"\b\d{1,2}:\d{2}\b|(?<!\w):\d{2}\b", " ", text)


def prose_tokens(markdown: str, sections: set[str] = frozenset()) -> list[tuple[str, int, Decimal | str]]:
    """(text, magnitude, value) of every number the rule checks in one markdown cell."""
    found = []
    for line in strip_prose(markdown).splitlines():
        for match in TOKEN.finditer(line):
            before, after = line[: match.start()], line[match.end():]
            if match.group("date"):
                if match.group("date")[:10] not in CONTRACT_DATES:
                    found.append((match.group("date"), 1, match.group("date")[:10]))
                continue
            text = match.group("num")
            heading = re.fullmatch(r"\s*#{1,6}\s*", before)
            list_item = re.fullmatch(r"\s*(?:[-*+]\s+)?", before) and re.match(r"[.)]\s", after)
            table_row = re.fullmatch(r"\s*\|\s*", before) and re.match(r"\s*\|", after)
            if heading or list_item or table_row:
                continue                                            # section heading / list item / table row
            if before.endswith("(") and after.startswith(")"):
                continue                                            # (1)
            if text in CONTRACT_YEARS and not match.group("mag"):
                continue
            if re.match(r"\.\d+\.\d", line[match.start() + len(text) - 2:]) or re.match(r"\.\d", after):
                continue                                            # x.y.z version
            if VERSIONED.search(before) or CONTRACT_PREFIX.search(before) or PLANNING.search(before):
                continue
            reference = text in EXERCISES or text in sections
            if reference and not match.group("mag") and not UNIT_AFTER.match(after):
                continue                                            # exercise / section reference
            mag = match.group("mag")
            magnitude = MAGNITUDES[mag.strip()] if mag else 1
            found.append((text + (mag or ""), magnitude, Decimal(text.replace(",", ""))))
    return found


def output_text(notebook: dict) -> str:
    """Every stored text output of a notebook, joined."""
    parts = []
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            if "text" in output:
                parts.append("".join(output["text"]))
            for mime, data in output.get("data", {}).items():
                if mime in ("text/plain", "text/html", "text/markdown"):
                    parts.append("".join(data) if isinstance(data, list) else str(data))
    return "\n".join(parts)


def _shown(value: Decimal, magnitude: int, outputs: list[Decimal]) -> bool:
    exponent = value.as_tuple().exponent
    quantum = Decimal(1).scaleb(exponent if isinstance(exponent, int) else 0)
    return any(x == value or (x / magnitude).quantize(quantum, ROUND_HALF_UP) == value for x in outputs)


def unshown_numbers(notebook: dict) -> list[str]:
    """Prose numbers of a notebook that none of its outputs shows: 'cell N: "number" in ...context'."""
    shown_text = output_text(notebook)
    outputs = sorted({Decimal(m.replace(",", "")) for m in OUTPUT_NUMBER.findall(shown_text)})
    dates = set(OUTPUT_DATE.findall(shown_text))
    markdown = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown"]
    sections = {m.rstrip(".") for cell in markdown for m in SECTION.findall(cell)}
    problems = []
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"])
        for text, magnitude, value in prose_tokens(source, sections):
            ok = value in dates if isinstance(value, str) else _shown(value, magnitude, outputs)
            if not ok:
                where = source.find(text.split()[0])
                context = " ".join(source[max(0, where - 60): where + 40].split())
                problems.append(f"cell {index}: {text!r} in ...{context}...")
    return problems


@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_every_prose_number_is_shown_by_an_output(path: Path):
    problems = unshown_numbers(json.loads(path.read_text()))
    assert not problems, (
        f"{path.name}: numbers in prose that no output of the notebook shows (print them with an "
        "f-string sentence; exemptions: tests/test_prose_numbers.py):\n  " + "\n  ".join(problems)
    )


def _notebook(markdown: str, output: str) -> dict:
    return {"cells": [
        {"cell_type": "markdown", "source": [markdown], "metadata": {}},
        {"cell_type": "code", "source": [], "metadata": {},
         "outputs": [{"output_type": "stream", "name": "stdout", "text": [output]}]},
    ]}


@pytest.mark.parametrize("markdown, output, unshown", [
    ("The join writes 9,968,413 rows.", "rows: 9968413", []),
    ("The join writes 9,968,413 rows.", "rows: 9968414", ["'9,968,413'"]),
    ("Median 36.9 s, then 6.4 s.", "36.94 s | 6.38 s", []),
    ("from several seconds to 1 second", "36.9 s", ["'1'"]),
    ("56% of the cells have sales", "share 55.8%", []),
    ("only 13% of it", "0.13", ["'13'"]),
    ("1.7 million events", "events: 1,682,181", []),
    ("2.6k events per day", "2,614 events", []),
    ("about 2.3 trillion rows", "2,300,000", ["'2.3 trillion'"]),
    ("### 3.1 Section\n\nsee section 3.1 and exercise 5.2", "", []),
    ("### 3.4 Section\n\n3.4 million rows", "", ["'3.4 million'"]),
    ("1. first\n2. second\n| 8 | row |\n(9) nine", "", []),
    ("run `dbt build --threads 4` on 7 models", "", ["'7'"]),
    ('the seed says "73% faster"\n> 8m 45s', "", []),
    ("seed 42, scale 0.05, as of 2025-12-31; dbt 1.8+; 1.11.16; plan about 30 minutes", "", []),
    ("Plan about **3 hours**; executing it takes about **4 minutes**", "", ["'4'"]),
    ("ids C0000001, p95, arrival-day-001, v2", "", []),
    ("2025-12-30 was quiet", "2025-12-29", ["'2025-12-30'"]),
    ("daily at 01:00, hourly at :15", "", []),
])
def test_the_rule_tokenises_and_matches_as_documented(markdown, output, unshown):
    problems = unshown_numbers(_notebook(markdown, output))
    assert [p.split(" in ")[0].split(": ", 1)[1] for p in problems] == unshown


if __name__ == "__main__":                  # python tests/test_prose_numbers.py solutions/x.ipynb ...
    for name in sys.argv[1:]:
        for problem in unshown_numbers(json.loads(Path(name).read_text())):
            print(f"{name}: {problem}")
