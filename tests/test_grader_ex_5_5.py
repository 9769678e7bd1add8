"""Checks of exercise 5.5 against a tiny real dbt project (built with dbt-duckdb): the solution's
answers pass, each kind of gap fails with a message naming it, and the solution's singular test
really fails when a column loses its description."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import duckdb
import pytest
from test_stakeholder_docs import MART, PROJECT_FILES, run_dbt, write_project

from grader.answers import Answers
from grader.context import CheckContext
from grader.course import reference_answers
from grader.exercises import ex_5_5, get_exercise
from grader.report import CheckResult
from grader.runner import run_check

_FIXES = [  # the tiny project's YAML has deliberate gaps (see test_stakeholder_docs); close them
    ('"customer city"', '"City of the address, for regional campaigns."'),
    ("      - name: customer_signup_date",
     '      - name: customer_state\n        description: "Indian state of the address."\n'
     "      - name: customer_signup_date"),
    ('      - name: loyalty_points\n        description: "A column that was dropped from the model long '
     'ago."\n', ""),
    ('description: "One row per customer',
     "description: \"{{ doc('customer_overview__account') }} One row per customer"),
]
COMPLETE_YAML = PROJECT_FILES[f"models/marts/_{MART}.yml"]
for old, new in _FIXES:
    assert old in COMPLETE_YAML, old
    COMPLETE_YAML = COMPLETE_YAML.replace(old, new)

FILES = {
    **PROJECT_FILES,
    f"models/marts/_{MART}.yml": COMPLETE_YAML,
    f"models/marts/_{MART}_docs.md": "{% docs customer_overview__account %}\nA customer here is an account.\n"
                                     "{% enddocs %}\n",
    "models/marts/_exposures.yml": f"""
version: 2
exposures:
  - name: customer_dashboard
    type: dashboard
    description: Marketing's daily customer dashboard with segment charts.
    depends_on: [ref('{MART}')]
    owner: {{name: Customer Analytics, email: ca@example.com}}
""",
    **{f"analyses/{name}.sql": f"select * from {{{{ ref('{MART}') }}}}\n" for name in ex_5_5.ANALYSES},
}


@pytest.fixture(scope="module")
def mini(tmp_path_factory) -> Path:
    """Repo root of a built tiny project with the solution notebook's undocumented-column test."""
    root = tmp_path_factory.mktemp("ex55")
    test_sql = reference_answers().files[ex_5_5.TEST_FILE]
    project = write_project(root / "dbt_project", {**FILES, ex_5_5.TEST_FILE: test_sql})
    run_dbt(project, "build")
    run_dbt(project, "compile")
    return root


def _context(root: Path, manifest: dict) -> CheckContext:
    warehouse = root / "dbt_project" / "warehouse.duckdb"
    return CheckContext("5.5", Answers(), mode="self", manifest=manifest,
                        connect=lambda: duckdb.connect(str(warehouse), read_only=True))


def _run(root: Path, manifest: dict, name: str) -> CheckResult:
    spec = next(c for c in get_exercise("5.5").checks if c.name == name)
    return run_check(_context(root, manifest), spec, [str(root)])


@pytest.fixture()
def manifest(mini: Path, monkeypatch) -> dict:
    monkeypatch.setenv("VB_REPO_ROOT", str(mini))
    return json.loads((mini / "dbt_project" / "target" / "manifest.json").read_text())


def test_public_checks_pass_on_complete_documentation(mini: Path, manifest: dict):
    for spec in get_exercise("5.5").checks:
        entry = _run(mini, manifest, spec.name)
        if spec.public:
            assert entry.passed, (spec.name, entry.message)
        else:
            assert entry.message.startswith("not checked: runs only when the instructor grades"), entry


def _mart(manifest: dict) -> dict:
    return manifest["nodes"][f"model.vyaparbazaar.{MART}"]


def test_undocumented_or_trivial_columns_are_named(mini: Path, manifest: dict):
    broken = copy.deepcopy(manifest)
    _mart(broken)["columns"].pop("customer_state")
    _mart(broken)["columns"]["order_count"]["description"] = "Order count."
    entry = _run(mini, broken, "columns_documented")
    assert not entry.passed
    assert entry.message == "2 of 13 columns have no real description: customer_state, order_count"


def test_copied_segment_rules_and_unused_blocks_fail(mini: Path, manifest: dict):
    copied = copy.deepcopy(manifest)
    _mart(copied)["columns"]["rfm_segment"]["description"] = "Champions if recent and spent over 25000."
    entry = _run(mini, copied, "shared_definitions_reused")
    assert entry.message == "these columns do not reuse their shared definition with doc(): rfm_segment"
    unused = copy.deepcopy(manifest)
    _mart(unused)["description"] = "One row per customer account of the test marketplace."
    entry = _run(mini, unused, "shared_definitions_reused")
    assert entry.message == f"docs blocks defined but not used by {MART}: customer_overview__account"


def test_exposures_must_reference_the_mart_with_an_owner(mini: Path, manifest: dict):
    none = {**manifest, "exposures": {}}
    assert _run(mini, none, "exposures_reference_mart").message.startswith("no exposure depends on")
    ownerless = copy.deepcopy(manifest)
    next(iter(ownerless["exposures"].values()))["owner"] = {"name": None, "email": None}
    assert _run(mini, ownerless, "exposures_reference_mart").message == \
        "exposure customer_dashboard has no owner (name or email)"


def test_missing_analysis_is_named(mini: Path, manifest: dict):
    fewer = copy.deepcopy(manifest)
    fewer["nodes"] = {k: v for k, v in fewer["nodes"].items() if v.get("name") != "cohort_retention"}
    entry = _run(mini, fewer, "analyses_compile_and_run")
    assert entry.message.startswith("analyses missing: cohort_retention")


def test_solution_singular_test_fails_on_an_undocumented_column(mini: Path):
    project = mini / "dbt_project"
    yml = project / "models" / "marts" / f"_{MART}.yml"
    original = yml.read_text()  # the fixture's `dbt build` ran the test on complete docs: it passed
    yml.write_text(original.replace('"Lifetime spend in INR."', '"total spend"'))
    try:
        done = run_dbt(project, "test", "-s", "assert_mart_customer_overview_documented", check=False)
    finally:
        yml.write_text(original)
    assert done.returncode != 0 and "Got 1 result" in done.stdout
