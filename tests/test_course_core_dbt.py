"""course_core's dbt invocation layer: the dbt-duckdb privates it relies on, the result type across a
process boundary, the two layer functions, and what the grader's confined worker must be able to import.

Real dbt runs through the layer are tested where they are used: test_notebooks_helpers.py (in-process,
the lock released after every call), the grader tests (the confined worker's in-process sessions),
test_ops_*.py (the subprocess mode). Here only the light dbt command line every dbt process starts
with (course_core.dbt_cli): one build of the tiny demo project and one usage error."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from conftest import REPO

from course_core.dbt_invoke import dbt_command, run_subprocess
from course_core.dbt_layers import dag_layer, folder_layer
from course_core.dbt_release import dbt_duckdb_version, missing_privates
from course_core.dbt_result import DbtOutcome, NodeResult


def test_dbt_duckdb_privates_are_where_the_lock_release_expects_them():
    missing = missing_privates()
    assert not missing, (
        f"dbt-duckdb {dbt_duckdb_version()} has no DuckDBConnectionManager.{', '.join(missing)}: "
        "course_core.dbt_release.release_dbt_duckdb (the only code touching them) must follow the new "
        "dbt-duckdb, else every in-process dbt run keeps the warehouse locked")


def test_dbt_duckdb_internals_the_course_patches_are_still_there():
    """notebook_helpers.dbt_run._firm_cancel (interrupts that stick) and grader.dbt_runner.forbid_python_jobs
    replace these; a dbt-duckdb upgrade that moves them must fail here, not in a notebook or a grading."""
    from dbt.adapters.duckdb.environments import Environment, local
    from dbt.adapters.duckdb.impl import DuckDBAdapter

    needed = {"DuckDBCursorWrapper.execute": vars(local.DuckDBCursorWrapper),
              "LocalEnvironment.cancel": vars(local.LocalEnvironment),
              "DuckDBAdapter.submit_python_job": vars(DuckDBAdapter),
              "Environment.run_python_job": vars(Environment)}
    missing = [name for name, owner in needed.items() if name.split(".")[1] not in owner]
    assert not missing, f"dbt-duckdb {dbt_duckdb_version()} moved {', '.join(missing)}: follow it there"


def test_an_outcome_crosses_a_process_boundary_as_checked_plain_data():
    node = NodeResult("model.p.m", "model", "m", "error", message="boom\nline 2", execution_time=0.5, rows=3)
    outcome = DbtOutcome(False, [node], "dbt build failed: boom")
    assert DbtOutcome.from_dict(json.loads(json.dumps(outcome.to_dict()))) == outcome
    hostile = {"success": 1, "error": ["x"], "nodes": [
        "not a dict", {"unique_id": 5, "name": {"a": 1}, "status": None, "rows": "9",
                       "execution_time": "slow", "failures": True, "extra": "ignored"}]}
    forged = DbtOutcome.from_dict(hostile)
    assert forged.success is True and forged.error == "['x']" and len(forged.nodes) == 1
    assert forged.nodes[0] == NodeResult("5", "", "{'a': 1}", "None")
    assert DbtOutcome.from_dict({"nodes": "nope"}) == DbtOutcome(False)


def test_the_two_layer_functions_differ_only_where_their_names_say():
    core = {"resource_type": "model", "fqn": ["vb", "marts", "core", "dim_customers"]}
    staging = {"resource_type": "model", "fqn": ["vb", "staging", "stg_orders"]}
    source = {"resource_type": "source", "fqn": ["vb", "raw", "orders"]}
    assert (dag_layer(core), folder_layer(core)) == ("marts", "core")
    assert dag_layer(staging) == folder_layer(staging) == "staging"
    assert dag_layer(source) == "sources"


def test_the_confined_worker_imports_only_modules_it_is_shown():
    """Under bubblewrap the worker sees only isolation.worker_module_paths() of this repository."""
    from grader import isolation

    code = ("import json, sys; import grader.untrusted, grader.workspace, grader.dbt_runner, grader.sandbox; "
            "print(json.dumps(sorted({m.__file__ for m in list(sys.modules.values()) "
            "if getattr(m, '__file__', None)})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          check=True)
    ours = {Path(f).resolve() for f in json.loads(done.stdout) if Path(f).resolve().is_relative_to(REPO)
            and ".venv" not in Path(f).parts}
    shown = {p.resolve() for p in isolation.worker_module_paths()}
    assert ours <= shown, f"the worker imports files it cannot see inside bubblewrap: {sorted(ours - shown)}"


def test_course_core_dbt_modules_import_nothing_of_the_course_above_them():
    upward = {"datasets", "notebook_helpers", "grader", "ops", "stakeholder_docs"}
    for path in sorted((REPO / "course_core").glob("dbt_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not {n.split(".")[0] for n in names} & upward, f"{path.name} imports {names}"


def test_the_light_dbt_cli_behaves_as_dbt_without_importing_rfc3987_syntax(tmp_path):
    """The subprocess mode (with its die-with-parent wrapper) runs course_core/dbt_cli.py: dbt's exit
    code, artifacts and node results, and jsonschema imported without its rfc3987_syntax (import log)."""
    from ops.demo_project import write_demo_project

    project = write_demo_project(tmp_path / "demo")
    assert dbt_command()[1:] == [str(REPO / "course_core" / "dbt_cli.py")]
    env = {"VB_DUCKDB_PATH": str(tmp_path / "dev.duckdb"), "PYTHONPROFILEIMPORTTIME": "1"}
    outcome = run_subprocess(["build", "--vars", "{demo_min_amount: 20}"], project, tmp_path / "target",
                             env=env, die_with_parent=True)
    assert outcome.returncode == 1, outcome.output[-2000:]  # dbt's exit code when a test fails
    statuses = {node.name: node.status for node in outcome.nodes}
    assert statuses.pop("assert_order_amount_at_least_min") == "fail"
    assert statuses and set(statuses.values()) <= {"success", "pass", "skipped"}, statuses
    assert (outcome.target_path / "manifest.json").is_file()
    imported = {line.rsplit("|", 1)[-1].strip() for line in outcome.output.splitlines()
                if line.startswith("import time:")}
    assert {"jsonschema", "dbt.cli.main"} <= imported, "no import log: the test proves nothing"
    # the skipped import is still logged (an attempt, refused); what it would load (its grammar, lark) is not
    assert not {n for n in imported if n == "lark" or n.startswith("rfc3987_syntax.")}

    usage = subprocess.run([*dbt_command(), "build", "--no-such-option"], cwd=project, capture_output=True,
                           text=True, timeout=300)
    assert usage.returncode == 2 and "Usage: dbt build [OPTIONS]" in usage.stderr, usage.stderr


def test_behavior_flags_name_the_same_source_without_reading_the_stack(tmp_path):
    """lighten_dbt's replacement of dbt_common's `_default_source` (inspect.stack() reads every frame's
    source) names the same module: the one whose code built the flags (an adapter's, in dbt)."""
    (tmp_path / "adapter_like.py").write_text(
        "from dbt_common.behavior_flags import Behavior\n\n"
        "def flags():\n"
        "    return Behavior([{'name': 'a_flag', 'default': False, 'description': 'd'}], {})\n")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import adapter_like; "
            "from course_core.dbt_invoke import lighten_dbt; "
            "before = adapter_like.flags().a_flag._behavior_change_event.flag_source; lighten_dbt(); "
            "print(before, adapter_like.flags().a_flag._behavior_change_event.flag_source)")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=REPO, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["adapter_like", "adapter_like"], done.stdout


def test_the_pinned_packages_are_byte_compiled():
    """`make venv` installs with --compile-bytecode: where PYTHONDONTWRITEBYTECODE is set Python never
    writes .pyc itself, and every dbt process, kernel and grading worker compiled dbt from source."""
    import importlib.util

    import dbt.cli.main
    import dbt_common.events.base_types

    missing = [m.__file__ for m in (dbt.cli.main, dbt_common.events.base_types)
               if not Path(importlib.util.cache_from_source(m.__file__)).is_file()]
    assert not missing, (f"no bytecode for {missing}: this venv was not made by `make venv` as it is now "
                         "(rm -rf .venv .state/venv.ok, then make venv)")
