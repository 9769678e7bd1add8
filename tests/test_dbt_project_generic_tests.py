"""Our offline generic tests (tests/generic/) and the as_of_date guard, on real dbt + DuckDB.

A probe model with known bad rows is added to a scratch copy of the project; each
generic test must fail exactly where dbt_utils' would, and pass where it would pass
(as in dbt_utils, a NULL value or a NULL expression result does not fail).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_dbt_project import copy_project, dbt_env, run_dbt

pytestmark = pytest.mark.slow

PROBE_SQL = """
select * from (values
    (1, 'a', 0, 10, 5),
    (2, 'a', 5, 10, 5),
    (2, 'b', 11, 3, 5),
    (3, 'c', null, 4, 99),
    (1, 'a', 3, 10, 5)
) as t(id, kind, amount, upper_bound, score)
"""

PROBE_YML = """
version: 2
models:
  - name: zz_probe
    description: Probe rows for the generic tests.
    data_tests:
      - unique_combination_of_columns:
          name: combo_fails
          arguments: {combination_of_columns: [id, kind]}
      - unique_combination_of_columns:
          name: combo_passes
          arguments: {combination_of_columns: [id, kind, amount]}
      - expression_is_true:
          name: expr_fails
          arguments: {expression: "amount <= upper_bound"}
      - expression_is_true:
          name: expr_passes_with_where
          arguments: {expression: "amount <= upper_bound"}
          config: {where: "kind = 'a'"}
    columns:
      - name: amount
        description: Amount.
        data_tests:
          - accepted_range:
              name: range_inclusive_passes
              arguments: {min_value: 0, max_value: 11}
          - accepted_range:
              name: range_exclusive_fails
              arguments: {min_value: 0, max_value: 11, inclusive: false}
          - accepted_range:
              name: range_min_only_passes
              arguments: {min_value: 0}
          - accepted_range:
              name: range_where_passes
              arguments: {max_value: 5, where: "kind = 'a'"}
          - expression_is_true:
              name: column_expr_fails
              arguments: {expression: "< 10"}
      - name: score
        description: Score.
        data_tests:
          - accepted_range:
              name: range_score_fails
              arguments: {min_value: 1, max_value: 5}
"""

EXPECTED = {
    "combo_fails": ("fail", 1), "combo_passes": ("pass", 0),
    "expr_fails": ("fail", 1), "expr_passes_with_where": ("pass", 0),
    "range_inclusive_passes": ("pass", 0), "range_exclusive_fails": ("fail", 2),
    "range_min_only_passes": ("pass", 0), "range_where_passes": ("pass", 0),
    "column_expr_fails": ("fail", 1), "range_score_fails": ("fail", 1),
}


@pytest.fixture(scope="module")
def probe_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dbt_generic_probe")
    project = copy_project(root / "project")
    (project / "models" / "zz_probe.sql").write_text(PROBE_SQL)
    (project / "models" / "zz_probe.yml").write_text(PROBE_YML)
    return project


def test_generic_tests_fail_and_pass_like_dbt_utils(probe_project: Path) -> None:
    env = dbt_env(probe_project / "no-raw-needed", probe_project / "probe.duckdb")
    run = run_dbt(probe_project, env, "build", "-s", "zz_probe")
    assert run.returncode == 1, run.stdout[-3000:]  # some tests fail on purpose
    results = json.loads((probe_project / "target" / "run_results.json").read_text())["results"]
    got = {r["unique_id"].split(".")[2]: (r["status"], r["failures"]) for r in results
           if r["unique_id"].startswith("test.")}
    assert got == EXPECTED


def test_bad_as_of_date_gives_a_clear_message(probe_project: Path) -> None:
    env = dbt_env(probe_project / "no-raw-needed", probe_project / "probe.duckdb")
    run = run_dbt(probe_project, env, "compile", "-s", "mart_customer_overview",
                  "--vars", "{as_of_date: 31/12/2025}")
    assert run.returncode != 0
    assert "var as_of_date must be a date written YYYY-MM-DD (got '31/12/2025')" in run.stdout
