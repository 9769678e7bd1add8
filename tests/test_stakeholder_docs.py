"""stakeholder_docs: the data dictionary from real dbt artifacts (a tiny dbt project built with the real
dbt-duckdb) and the dashboard figures from a real DuckDB database with known rows."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import duckdb
import matplotlib
import pytest

from course_core.dbt_invoke import dbt_command
from stakeholder_docs import (
    DocsError,
    build_dictionary,
    business_sql,
    example_values,
    load_artifacts,
    to_markdown,
    undocumented_columns,
)
from stakeholder_docs.dashboard import draw_dashboard, load_dashboard_data, retention_matrix
from stakeholder_docs.data_dictionary import catalog_columns, relation_name, stale_columns

matplotlib.use("Agg")
DBT = dbt_command()
MART = "mart_customer_overview"

PROJECT_FILES = {
    "dbt_project.yml": "name: vyaparbazaar\nprofile: vyaparbazaar\nconfig-version: 2\nversion: '1.0'\n"
                       "model-paths: [models]\nanalysis-paths: [analyses]\ndocs-paths: [models]\n"
                       "test-paths: [tests]\n",
    "profiles.yml": "vyaparbazaar:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
                    "      path: warehouse.duckdb\n      threads: 1\n",
    "models/_docs/rules.md": "".join(
        f"{{% docs {name} %}}\n**{name}**: shared rule of {name}.\n{{% enddocs %}}\n"
        for name in ("recency_segment", "frequency_segment", "monetary_segment", "rfm_segment",
                     "lifecycle_stage")
    ),
    f"models/marts/{MART}.sql": """
select * from (values
    ('C1', 'U1', 'Mumbai', 'Maharashtra', date '2024-01-05', 3, 1200.50::decimal(14, 2), date '2024-01-06',
     'Recent', 'Medium', 'High', 'Champions', 'Active'),
    ('C2', 'U1', 'Pune', 'Maharashtra', date '2024-02-01', 0, 0.00::decimal(14, 2), null,
     'No Orders', 'No Orders', 'No Orders', 'Prospects', 'Prospect'),
    ('C3', 'U3', 'Delhi', 'Delhi', date '2024-02-11', 1, 99.99::decimal(14, 2), date '2024-02-12',
     'Lapsed', 'One-time', 'High', 'Cannot Lose Them', 'At Risk')
) as t(customer_id, customer_unique_id, customer_city, customer_state, customer_signup_date, order_count,
       total_spend, first_order_date, recency_segment, frequency_segment, monetary_segment, rfm_segment,
       lifecycle_stage)
""",
    f"models/marts/_{MART}.yml": f"""
version: 2
models:
  - name: {MART}
    description: "One row per customer account of the test marketplace, with segments."
    columns:
      - name: customer_id
        description: "The customer's account id, one row each."
        data_tests: [unique]
      - name: customer_unique_id
        description: "The person behind the account."
      - name: customer_city
        description: "customer city"
      - name: customer_signup_date
        description: "Day the account was created."
      - name: order_count
        description: "Purchases that count as revenue."
      - name: total_spend
        description: "Lifetime spend in INR."
      - name: first_order_date
        description: "Day of the first purchase; empty without purchases."
      - name: recency_segment
        description: "{{{{ doc('recency_segment') }}}}"
      - name: frequency_segment
        description: "{{{{ doc('frequency_segment') }}}}"
      - name: monetary_segment
        description: "{{{{ doc('monetary_segment') }}}}"
      - name: rfm_segment
        description: "{{{{ doc('rfm_segment') }}}}"
      - name: lifecycle_stage
        description: "{{{{ doc('lifecycle_stage') }}}}"
      - name: loyalty_points
        description: "A column that was dropped from the model long ago."
""",
    "analyses/high_value.sql": "-- BEGIN SOLUTION\nselect customer_id, total_spend\n"
                               f"from {{{{ ref('{MART}') }}}}\n"
                               "where monetary_segment = 'High'\norder by total_spend desc, customer_id\n"
                               "-- END SOLUTION\n-- BEGIN SKELETON\n-- select 'not done yet' as status\n"
                               "-- END SKELETON\n",
}


def write_project(root: Path, files: dict[str, str]) -> Path:
    """Write a dbt project from ``{relative path: text}`` into ``root``."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.lstrip("\n"), encoding="utf-8")
    return root


def run_dbt(project: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """The real dbt CLI in ``project`` (its own profiles.yml); with ``check``, a failure fails the test."""
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"}
    env = {k: v for k, v in env.items() if not k.startswith("VB_")}
    done = subprocess.run([*DBT, *args, "--profiles-dir", ".", "--no-use-colors"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 or not check, done.stdout[-3000:]
    return done


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The tiny project, built and documented (``dbt build`` + ``dbt docs generate``)."""
    project = write_project(tmp_path_factory.mktemp("mini") / "dbt_project", PROJECT_FILES)
    run_dbt(project, "build")
    run_dbt(project, "docs", "generate")
    return project


@pytest.fixture()
def fetch(built: Path):
    con = duckdb.connect(str(built / "warehouse.duckdb"), read_only=True)
    yield lambda sql: con.sql(sql).df()
    con.close()


def test_dictionary_comes_from_the_built_table_and_the_yaml(built: Path, fetch):
    manifest, catalog = load_artifacts(built / "target")
    columns = catalog_columns(catalog, MART)
    assert [c for c, _ in columns][:3] == ["customer_id", "customer_unique_id", "customer_city"]
    assert dict(columns)["total_spend"] == "DECIMAL(14,2)"
    examples = example_values(fetch, relation_name(catalog, MART), columns)
    table = build_dictionary(manifest, catalog, MART, examples)
    assert list(table.columns) == ["column", "type", "description", "examples"]
    assert len(table) == 13
    row = table.set_index("column")
    assert row.loc["recency_segment", "description"] == "**recency_segment**: shared rule of recency_segment."
    assert row.loc["total_spend", "examples"] == "0.00 / 99.99 / 1200.50"
    assert row.loc["first_order_date", "examples"] == "2024-01-06 / 2024-01-06 / 2024-02-12 (33% NULL)"
    assert row.loc["customer_state", "examples"] == "Maharashtra, Delhi"  # most frequent first
    assert row.loc["customer_city", "examples"] == "Delhi, Mumbai, Pune"  # ties by value
    markdown = to_markdown(table, "Data dictionary")
    assert markdown.startswith("## Data dictionary\n\n| column | type | description | examples |")
    assert markdown.count("\n") == 2 + 2 + 13


def test_gaps_are_reported(built: Path):
    manifest, catalog = load_artifacts(built / "target")
    # customer_state has no YAML entry, customer_city only repeats its name, lifecycle has a real description
    assert undocumented_columns(manifest, catalog, MART) == ["customer_city", "customer_state"]
    assert stale_columns(manifest, catalog, MART) == ["loyalty_points"]


def test_business_sql_is_plain_sql_that_runs(built: Path, fetch):
    compiled = (built / "target" / "compiled" / "vyaparbazaar" / "analyses" / "high_value.sql").read_text()
    assert '"warehouse"."main"' in compiled
    plain = business_sql(compiled)
    assert plain == ("select customer_id, total_spend\nfrom mart_customer_overview\n"
                     "where monetary_segment = 'High'\norder by total_spend desc, customer_id\n")
    assert fetch(plain)["customer_id"].tolist() == ["C1", "C3"]


def test_missing_artifacts_give_one_line_advice(tmp_path: Path):
    with pytest.raises(DocsError, match=r"^manifest.json not found in .*: run `%dbt docs generate`"):
        load_artifacts(tmp_path)
    (tmp_path / "manifest.json").write_text("{}")
    (tmp_path / "catalog.json").write_text("{not json")
    with pytest.raises(DocsError, match="catalog.json is not valid JSON"):
        load_artifacts(tmp_path)


def test_unknown_model_is_a_clear_error(built: Path):
    manifest, catalog = load_artifacts(built / "target")
    with pytest.raises(DocsError, match="model 'mart_nope' is not in manifest.json"):
        undocumented_columns(manifest, catalog, "mart_nope")


@pytest.fixture()
def dashboard_db():
    """A mart and fct_orders with known rows: cohort 2025-10 (2 customers, 1 returns in month 1),
    cohort 2025-12 (1 customer), one account without orders."""
    con = duckdb.connect()
    con.execute("""
        create table mart_customer_overview as select * from (values
            ('C1', 'Delhi', date '2025-10-03', 2, 'Recent', 'Loyal Customers', 'Active'),
            ('C2', 'Delhi', date '2025-10-20', 1, 'Moderate', 'Needs Attention', 'At Risk'),
            ('C3', 'Goa', date '2025-12-01', 1, 'Recent', 'Promising', 'New'),
            ('C4', 'Goa', null, 0, 'No Orders', 'Prospects', 'Prospect')
        ) t(customer_id, customer_state, first_order_date, order_count, recency_segment, rfm_segment,
            lifecycle_stage);
        create table fct_orders as select * from (values
            ('C1', date '2025-10-03', true), ('C1', date '2025-11-15', true),
            ('C1', date '2025-11-16', false),
            ('C2', date '2025-10-20', true), ('C2', date '2025-12-02', false), ('C3', date '2025-12-01', true)
        ) t(customer_id, order_date, is_revenue_order);
    """)
    yield con
    con.close()


def test_dashboard_numbers_come_from_the_tables(dashboard_db):
    data = load_dashboard_data(lambda sql: dashboard_db.sql(sql).df())
    assert data["kpis"].iloc[0].tolist() == [4, 2, 1]
    assert data["funnel"]["customers"].tolist() == [4, 3, 1, 1]
    matrix = retention_matrix(data["cohorts"], max_months=3)
    assert matrix["cohort_size"].tolist() == [2, 1]
    assert matrix.loc["2025-10", 1] == 50.0  # C1 came back in November; C2's December order was cancelled
    assert matrix.loc["2025-10", 2] == 0.0  # observable month, nobody bought
    assert matrix.loc["2025-10", 3] != matrix.loc["2025-10", 3]  # after the last data month: NaN, not 0
    assert matrix.loc["2025-12", 0] == 100.0
    figure = draw_dashboard(data)
    assert len(figure.axes) == 9  # 3 tiles, 2 bar charts, heatmap + colorbar, funnel, states
    assert figure.axes[0].texts[1].get_text() == "4"
    matplotlib.pyplot.close(figure)
