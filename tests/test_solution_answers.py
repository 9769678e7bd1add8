"""Issue 11, item 8: deleting any solution answer fails `make test`.

``tests/fixtures/solution_answers.json`` lists, per solution notebook, every answer it holds: the
dbt_project paths of its ``%%writefile`` cells and the tags of its ``answer:<ex>:<name>`` cells. The
list is the independent record the notebooks are compared with: an answer missing (or emptied, or
left as a placeholder) in solutions/ fails here, and so does an answer the list does not know (add
it: ``.venv/bin/python tests/test_solution_answers.py --update``). Every answer the grader declares
(answer files, manual items) must be on the list, so the list cannot lose one either. That the
solutions score full marks on every auto-graded check is tests/test_grader_course_notebooks.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from grader.assign import ANSWER_PROMPT
from grader.course import reference_answers
from grader.exercises import registry

REPO = Path(__file__).resolve().parent.parent
LISTING = REPO / "tests" / "fixtures" / "solution_answers.json"
PLACEHOLDERS = ("YOUR CODE HERE", ANSWER_PROMPT)


def current() -> dict[str, dict[str, list[str]]]:
    """Answers of solutions/ now: notebook -> {"files": paths, "prose": tags}."""
    answers = reference_answers(REPO)
    listing: dict[str, dict[str, list[str]]] = {}
    for path, notebook in answers.origins.items():
        listing.setdefault(Path(notebook).name, {"files": [], "prose": []})["files"].append(path)
    notebooks = sorted(p.name for p in (REPO / "solutions").glob("*.ipynb"))
    for key in answers.prose:
        exercise = key.split(":", 1)[0]
        stem = {"0": "00_", "bonus": "5_bonus_"}.get(exercise, exercise.replace(".", "_") + "_")
        notebook = next((n for n in notebooks if n.startswith(stem)), f"<no notebook for {exercise}>")
        listing.setdefault(notebook, {"files": [], "prose": []})["prose"].append(f"answer:{key}")
    return {nb: {k: sorted(v) for k, v in entry.items()} for nb, entry in sorted(listing.items())}


@pytest.fixture(scope="module")
def expected() -> dict[str, dict[str, list[str]]]:
    return json.loads(LISTING.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def answers():
    return reference_answers(REPO)


def _expected_items(expected: dict) -> list[tuple[str, str, str]]:
    return [(nb, kind, item) for nb, entry in expected.items()
            for kind in ("files", "prose") for item in entry[kind]]


def test_every_listed_answer_is_in_its_solution_notebook_and_not_empty(expected: dict, answers):
    lost = []
    for notebook, kind, item in _expected_items(expected):
        if kind == "files":
            text, origin = answers.files.get(item), Path(answers.origins.get(item, "")).name
            if text is None or origin != notebook:
                lost.append(f"{notebook}: no %%writefile ../dbt_project/{item}")
                continue
        else:
            text = answers.prose.get(item.removeprefix("answer:"))
            if text is None:
                lost.append(f"{notebook}: no markdown cell tagged {item}")
                continue
        if not text.strip() or any(p in text for p in PLACEHOLDERS):
            lost.append(f"{notebook}: {item} is empty or still a placeholder")
    assert not lost, "solution answers missing:\n" + "\n".join(lost)


def test_the_listing_knows_every_answer_of_the_solutions(expected: dict):
    unknown = sorted(set(_expected_items(current())) - set(_expected_items(expected)))
    assert not unknown, ("answers not in tests/fixtures/solution_answers.json (run `.venv/bin/python "
                         f"tests/test_solution_answers.py --update` after adding an answer): {unknown}")


def test_every_answer_the_grader_declares_is_listed(expected: dict):
    listed_files = {item for _nb, kind, item in _expected_items(expected) if kind == "files"}
    listed_prose = {item for _nb, kind, item in _expected_items(expected) if kind == "prose"}
    missing = []
    for exercise in registry().values():
        missing += [f"{exercise.id}: {path}" for path in exercise.answer_files if path not in listed_files]
        for item in exercise.manual_items:
            if item.answer_tag and item.answer_tag not in listed_prose:
                missing.append(f"{exercise.id}: {item.answer_tag}")
            if item.answer_file and item.answer_file not in listed_files:
                missing.append(f"{exercise.id}: {item.answer_file}")
    assert not missing, missing
    assert len(listed_files) >= len(registry()) and len(listed_prose) >= 4 * len(registry())


def test_a_deleted_answer_is_caught(expected: dict, answers, monkeypatch):
    """The check above is not vacuous: removing one answer file and one prose answer is reported."""
    path = next(iter(sorted(answers.files)))
    tag = next(iter(sorted(answers.prose)))
    monkeypatch.delitem(answers.files, path)
    monkeypatch.setitem(answers.prose, tag, ANSWER_PROMPT)
    with pytest.raises(AssertionError) as caught:
        test_every_listed_answer_is_in_its_solution_notebook_and_not_empty(expected, answers)
    assert f"no %%writefile ../dbt_project/{path}" in str(caught.value)
    assert f"answer:{tag} is empty or still a placeholder" in str(caught.value)


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: python tests/test_solution_answers.py --update")
    LISTING.write_text(json.dumps(current(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {LISTING.relative_to(REPO)}")
