"""What the exercise sheet asks of 5.5 and the bonus is taught in the solutions, with evidence.

5.5: the trailing 30- and 90-day metrics (an analysis next to the lifetime figures, checked against the
mart). Bonus: a materialization verdict for every model of the starting project, more than one macro
(each used and proven), the seed's "inefficient SQL patterns" measured, and its folder reorganisation
tried in a copy. Reads the stored solution notebooks and the answers they write (nbval proves in
tests/test_notebooks.py that the outputs are reproduced); no dbt run.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

from grader.course import reference_answers, starting_project

REPO = Path(__file__).resolve().parent.parent
NB_55 = "5_5_stakeholder_documentation.ipynb"
NB_BONUS = "5_bonus_project_optimization.ipynb"


@cache
def _cells(name: str) -> tuple[dict, ...]:
    return tuple(json.loads((REPO / "solutions" / name).read_text(encoding="utf-8"))["cells"])


def _outputs(name: str) -> str:
    """Every stored text output of a solution notebook, joined."""
    parts = []
    for cell in _cells(name):
        for output in cell.get("outputs", []):
            parts.append("".join(output.get("text", "")))
            parts.append("".join(output.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def _answers_of(name: str) -> dict[str, str]:
    answers = reference_answers(REPO)
    return {p: t for p, t in answers.files.items() if answers.origins.get(p, "").endswith(name)}


def _diagnosis_then_reveal(name: str, tag: str) -> None:
    """An answer cell with ``tag`` exists, has a model answer, and a solution-only reveal follows it."""
    cells = _cells(name)
    index = next((i for i, c in enumerate(cells) if tag in c.get("metadata", {}).get("tags", [])), None)
    assert index is not None, f"{name}: no answer cell tagged {tag}"
    assert "".join(cells[index]["source"]).strip(), f"{name}: {tag} has no model answer"
    assert "solution-only" in cells[index + 1].get("metadata", {}).get("tags", []), \
        f"{name}: no solution-only reveal right after {tag}"


def test_5_5_trailing_windows_are_a_checked_query():
    files = _answers_of(NB_55)
    sql = files.get("analyses/customer_trailing_activity.sql", "")
    assert "ref('mart_customer_overview')" in sql and "ref('fct_orders')" in sql, "no trailing analysis"
    assert "as_of_date()" in sql and "[30, 90]" in sql and "current_date" not in sql.lower()
    outputs = _outputs(NB_55)
    for verdict in ("one row per customer of the mart: True",
                    "lifetime columns equal the mart's order_count and total_spend: True",
                    "last 30 days <= last 90 days <= lifetime for every customer: True"):
        assert verdict in outputs, f"5.5 does not show: {verdict}"
    same_as_recent = r"([\d,]+) of [\d,]+ accounts bought in the last 30 days \(the Recent segment holds \1\)"
    assert re.search(same_as_recent, outputs), "the 30-day buyers are not shown to be the Recent segment"
    guide = files["docs/stakeholder_guide.md"]
    assert "customer_trailing_activity" in guide and "lifetime" in guide.lower()
    assert "trailing_window_columns" in outputs, "the draft's lookback promise is not checked"


def test_bonus_plans_a_materialization_for_every_starting_model():
    models = [rel for rel in starting_project(REPO) if rel.startswith("models/") and rel.endswith(".sql")]
    outputs = _outputs(NB_BONUS)
    planned = re.search(r"(\d+) of (\d+) models change: ", outputs)
    assert planned and int(planned.group(2)) == len(models), "the plan does not cover every starting model"
    assert ("materialization table: every model of the starting project, as it is built, "
            "with the verdicts of your plan") in outputs
    assert "figures in the document that no cell of this notebook printed: none" in outputs
    doc = _answers_of(NB_BONUS)["docs/project_optimization.md"]
    names = {Path(rel).stem for rel in models}
    assert names <= set(re.findall(r"^\|\s*`(\w+)`\s*\|", doc, flags=re.MULTILINE))


def test_bonus_writes_and_uses_more_than_one_macro():
    files = _answers_of(NB_BONUS)
    macros = {Path(p).stem: t for p, t in files.items() if p.startswith("macros/") and p.endswith(".sql")}
    assert len(macros) >= 2, f"the bonus writes {len(macros)} macro(s)"
    models = "\n".join(t for p, t in files.items() if p.startswith("models/") and p.endswith(".sql"))
    for name in macros:
        assert re.search(rf"\{{\{{\s*{name}\(", models), f"no bonus model calls {name}"
    outputs = _outputs(NB_BONUS)
    assert "days_since macro against the starting model's hand-written datediff: 0 of" in outputs
    assert "assert_dim_date_v2_matches_dim_date  pass" in outputs


def test_bonus_measures_the_seeds_sql_patterns():
    outputs = _outputs(NB_BONUS)
    assert "the three plans are identical: True" in outputs
    assert re.search(r"its WINDOW operator ranks [\d,]+ rows to keep [\d,]+", outputs)
    _diagnosis_then_reveal(NB_BONUS, "answer:bonus:sql_patterns")


def test_bonus_tries_the_folder_reorganisation_in_a_copy():
    outputs = _outputs(NB_BONUS)
    same = re.search(r"models with the same parents after the move: (\d+) of (\d+)", outputs)
    assert same and same.group(1) == same.group(2)
    assert re.search(r"models in no schedule tier: 0 now, [1-9]\d* after the move", outputs)
    _diagnosis_then_reveal(NB_BONUS, "answer:bonus:folders")
