"""A tiny, self-contained dbt project shaped like the course project (staging ->
intermediate -> core -> marts -> ml, dev/ci/prod targets, a freshness-checked source).

It builds in seconds, so the ops tools can be tried (and tested) without the full
warehouse: `python -m ops.demo_project /tmp/demo` then e.g.
`python -m ops.deploy deploy --project-dir /tmp/demo`.
Knobs: var `demo_min_amount` (> 10 makes a singular test fail).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ops.dbt_invoke import OpsError, cli_main

FILES: dict[str, str] = {
    "dbt_project.yml": """\
name: demo
version: "1.0.0"
profile: demo
config-version: 2
model-paths: ["models"]
test-paths: ["tests"]
flags:
  send_anonymous_usage_stats: false
  state_modified_compare_more_unrendered_values: true
vars:
  as_of_date: "2025-12-31"
  demo_min_amount: 0
models:
  demo:
    +materialized: table
    staging:
      +materialized: view
      +tags: ["staging"]
    intermediate:
      +tags: ["intermediate"]
    marts:
      core:
        +tags: ["core"]
    ml:
      +tags: ["ml"]
""",
    "profiles.yml": """\
demo:
  target: "{{ env_var('VB_TARGET', 'dev') }}"
  outputs:
    dev:
      type: duckdb
      path: "{{ env_var('VB_DUCKDB_PATH', env_var('VB_WAREHOUSE_DIR', 'warehouse') ~ '/dev.duckdb') }}"
      threads: 1
    ci:
      type: duckdb
      path: "{{ env_var('VB_WAREHOUSE_DIR', 'warehouse') ~ '/ci.duckdb' }}"
      threads: 1
    prod:
      type: duckdb
      path: "{{ env_var('VB_PROD_DUCKDB_PATH', env_var('VB_WAREHOUSE_DIR', 'warehouse') ~ '/prod.duckdb') }}"
      threads: 1
""",
    "selectors.yml": """\
selectors:
  - name: hourly
    definition:
      union:
        - method: path
          value: models/staging
        - method: path
          value: models/intermediate
  - name: daily
    definition:
      method: path
      value: models/marts
  - name: weekly
    definition:
      method: path
      value: models/ml
""",
    "raw/customers.csv": """\
customer_id,customer_city,signup_date
C1,Pune,2024-01-05
C2,Delhi,2024-03-10
C3,Chennai,2025-06-01
""",
    "raw/orders.csv": """\
order_id,customer_id,order_date,amount
O1,C1,2025-11-01,120.00
O2,C1,2025-12-20,80.50
O3,C2,2025-12-30,15.25
O4,C3,2025-10-02,300.00
""",
    "raw/events.csv": """\
event_id,customer_id,event_timestamp,_loaded_at
E1,C1,2025-12-30 10:00:00,2025-12-30 12:00:00
E2,C2,2025-12-30 18:00:00,2025-12-31 06:00:00
E3,,2025-12-31 08:00:00,2025-12-31 09:00:00
""",
    "models/staging/_sources.yml": """\
version: 2
sources:
  - name: raw
    meta:
      external_location: "read_csv('raw/{identifier}.csv', header = true)"
    tables:
      - name: customers
      - name: orders
      - name: events
        config:
          loaded_at_field: _loaded_at
          freshness:
            warn_after: {count: 24, period: hour}
            error_after: {count: 72, period: hour}
""",
    "models/staging/_staging.yml": """\
version: 2
models:
  - name: stg_customers
    description: One row per customer.
    columns:
      - name: customer_id
        description: Customer id.
        data_tests: [unique, not_null]
  - name: stg_orders
    description: One row per order.
    columns:
      - name: order_id
        description: Order id.
        data_tests: [unique, not_null]
      - name: amount
  - name: stg_events
    columns:
      - name: event_id
        data_tests: [unique]
""",
    "models/staging/stg_customers.sql": "select customer_id, customer_city,\n"
    "    cast(signup_date as date) as signup_date\n"
    "from {{ source('raw', 'customers') }}\n",
    "models/staging/stg_orders.sql": "select order_id, customer_id, cast(order_date as date) as order_date,\n"
    "    cast(amount as decimal(12, 2)) as amount\nfrom {{ source('raw', 'orders') }}\n",
    "models/staging/stg_events.sql": "select event_id, customer_id,\n"
    "    cast(event_timestamp as timestamp) as event_timestamp\n"
    "from {{ source('raw', 'events') }}\n",
    "models/intermediate/int_customer_orders.sql": """\
select customer_id, count(*) as order_count, sum(amount) as total_spend, max(order_date) as last_order_date
from {{ ref('stg_orders') }}
group by customer_id
""",
    "models/marts/core/_core.yml": """\
version: 2
models:
  - name: dim_customers
    description: One row per customer with order totals.
    columns:
      - name: customer_id
        description: Customer id.
        data_tests: [unique, not_null]
  - name: fct_orders
    description: One row per order.
    columns:
      - name: order_id
        data_tests: [unique, not_null]
""",
    "models/marts/core/dim_customers.sql": """\
select c.customer_id, c.customer_city, coalesce(o.order_count, 0) as order_count,
    coalesce(o.total_spend, 0) as total_spend, o.last_order_date
from {{ ref('stg_customers') }} as c
left join {{ ref('int_customer_orders') }} as o using (customer_id)
""",
    "models/marts/core/fct_orders.sql": "select * from {{ ref('stg_orders') }}\n",
    "models/marts/mart_customer_summary.sql": """\
select d.customer_id, d.customer_city, d.order_count, d.total_spend,
    date '{{ var("as_of_date") }}' - d.last_order_date as days_since_last_order,
    (select count(*) from {{ ref('stg_events') }} as e where e.customer_id = d.customer_id) as events
from {{ ref('dim_customers') }} as d
""",
    "models/ml/ml_customer_features.sql": """\
select customer_id, order_count, total_spend, days_since_last_order
from {{ ref('mart_customer_summary') }}
""",
    "tests/assert_order_amount_at_least_min.sql": """\
select * from {{ ref('fct_orders') }} where amount < {{ var('demo_min_amount') }}
""",
}


def write_demo_project(dest: str | Path) -> Path:
    """Write the demo project into dest (created; must be empty or absent). Returns its path."""
    root = Path(dest)
    if root.exists() and any(root.iterdir()):
        raise OpsError(f"{root} is not empty: pass a new or empty folder for the demo project")
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (root / "warehouse").mkdir(exist_ok=True)
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.demo_project", description=__doc__.splitlines()[0])
    parser.add_argument("dest", help="new or empty folder to write the project into")
    args = parser.parse_args(argv)
    print(f"demo dbt project written to {write_demo_project(args.dest)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(cli_main(main))
