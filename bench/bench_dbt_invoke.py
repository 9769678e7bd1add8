"""CPU seconds of one in-process dbt invocation, through the notebook helper and the grader's session.

A tiny three-model project (a copy of the course's profiles.yml) in a temp folder; one warm-up
invocation, then ``--repeat`` timed ``dbt build`` invocations each way. Prints the median CPU
seconds (user + system of this process) and wall seconds per invocation.

    .venv/bin/python bench/bench_dbt_invoke.py --repeat 5
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODELS = {
    "staging/stg_orders.sql": "select range as order_id, range % 5 as customer_id from range(1000)",
    "staging/stg_customers.sql": "select range as customer_id, 'city ' || range as city from range(5)",
    "marts/mart_customers.sql": "select c.customer_id, c.city, count(*) as orders\n"
    "from {{ ref('stg_customers') }} c join {{ ref('stg_orders') }} o using (customer_id)\ngroup by all",
    "staging/_staging.yml": "version: 2\nmodels:\n  - name: stg_orders\n    columns:\n"
    "      - name: order_id\n        data_tests: [unique, not_null]\n",
}
PROJECT_YML = """name: vyaparbazaar
version: "1.0.0"
profile: vyaparbazaar
config-version: 2
model-paths: ["models"]
models:
  vyaparbazaar:
    +materialized: table
    staging:
      +materialized: view
"""


def make_project(root: Path) -> Path:
    """A tiny repo (VB_REPO_ROOT layout) with its dbt project; returns the project folder."""
    project = root / "dbt_project"
    for name, text in MODELS.items():
        (project / "models" / name).parent.mkdir(parents=True, exist_ok=True)
        (project / "models" / name).write_text(text)
    (project / "dbt_project.yml").write_text(PROJECT_YML)
    shutil.copy2(REPO / "dbt_project" / "profiles.yml", project / "profiles.yml")
    (project / "warehouse").mkdir()
    return project


def measure(call: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median (cpu seconds, wall seconds) of ``repeat`` calls after one warm-up call."""
    call()
    cpu, wall = [], []
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        call()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(cpu), statistics.median(wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vb-bench-invoke-") as tmp:
        root = Path(tmp)
        project = make_project(root)
        for var in [name for name in os.environ if name.startswith("VB_")]:
            os.environ.pop(var)  # the bench's own project and warehouse, whatever the caller set
        os.environ["VB_REPO_ROOT"] = str(root)
        import notebook_helpers as nh
        from grader.dbt_runner import DbtSession

        def notebook() -> None:
            assert nh.dbt("build", quiet=True).success

        session = DbtSession(project, project, root / "logs")
        assert session.parse().success

        def grader() -> None:
            assert session.invoke(["build"]).success

        calls = (("notebook_helpers dbt('build')", notebook), ("grader DbtSession.invoke(build)", grader))
        for name, call in calls:
            cpu, wall = measure(call, args.repeat)
            print(f"{name:34} cpu {cpu:.3f} s  wall {wall:.3f} s  (median of {args.repeat})")


if __name__ == "__main__":
    main()
