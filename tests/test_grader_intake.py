"""The intake policy (grader/intake.py): refused constructs, honest answers accepted, robust paths.

Fast (no grading run); one test runs real in-process dbt on a three-file project to show that
the manifest re-check and the Python-job guard hold when the text screening is bypassed.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from grader import intake, submissions
from grader.answers import Answers, answers_from_notebooks
from grader.intake import Refusal, builtin_macro_names, manifest_refusals, screen_answers, screen_file
from grader.submissions import MAX_SUBMISSION_BYTES, discover

REPO = Path(__file__).resolve().parent.parent
M51 = "models/intermediate/int_customer_behavior_optimized.sql"
MAC, YML = "macros/m.sql", "models/m.yml"
CFG = "version: 2\nmodels:\n  - name: m\n    config:\n      "

REFUSED = [
    # materializations and python
    (MAC, "{% materialization table, adapter='duckdb' %}{% endmaterialization %}", "materialization"),
    (MAC, "{%- materialization my_mat, default -%}{%- endmaterialization -%}", "materialization"),
    (MAC, "{% macro materialization_x() %}select 1{% endmacro %}", "reserved"),
    (MAC, "{% macro MyMaterializationHelper() %}1{% endmacro %}", "reserved"),
    (M51, "{{ config(materialized='table', language='python') }}\nselect 1", "language"),
    (M51, "{% do context_macro_stack.push('materialization_x') %}select 1", "language"),
    (M51, "{{ submit_python_job(model, 'import os') }}select 1", "language"),
    (YML, CFG + "language: python\n", "language"),
    ("models/m.py", "def model(dbt, session):\n    return 1\n", "Python"),
    # macros that replace dbt's or dbt-duckdb's
    (MAC, "{% macro create_table_as(temporary, relation, sql) %}{% endmacro %}", "dbt or dbt-duckdb"),
    (MAC, "{% macro duckdb__get_columns_in_relation(r) %}{% endmacro %}", "adapter implementation"),
    (MAC, "{% macro default__anything(r) %}{% endmacro %}", "adapter implementation"),
    (MAC, "{%- macro generate_schema_name(c, n) -%}x{%- endmacro %}", "dbt or dbt-duckdb"),
    (MAC, "{% macro ref(name) %}{{ return(builtins.ref(name)) }}{% endmacro %}", "dbt or dbt-duckdb"),
    ("tests/generic/t.sql", "{% test unique(model, column_name) %}select 1{% endtest %}", "dbt-duckdb"),
    # SQL that creates DuckDB macros/functions, with case, whitespace, comment and Jinja tricks
    (M51, "select 1 as a); create macro round(x) as 42; select (1", "creates a DuckDB macro"),
    (M51, "select 1); CREATE   OR\n REPLACE  TEMP MACRO main.read_parquet(p) as table select 1; select (1",
     "creates a DuckDB macro"),
    (M51, "select 1); create/* hidden */function f(x) as x; select (1", "creates a DuckDB macro"),
    (M51, "select 1); create -- c\n temporary function f(x) as x; select (1", "creates a DuckDB macro"),
    (M51, "select 1); {{ 'cre' ~ 'ate' }} {{ 'mac' ~ 'ro' }} f(x) as x; select (1", "creates a DuckDB macro"),
    (M51, "select 1); cre{# c #}ate macro f(x) as x; select (1", "creates a DuckDB macro"),
    (YML, "version: 2\nmodels:\n  - name: m\n    data_tests:\n      - expression_is_true:\n"
          "          expression: \"1); create or replace macro f(x) as 1; select (1\"\n", "creates a DuckDB"),
    # hooks, in Jinja config and in YAML (also +keys, YAML escapes and unparsable YAML)
    (M51, "{{ config(post_hook='select 1') }}select 1", "hook"),
    (M51, "{{ config(**{'pre-hook': 'select 1'}) }}select 1", "hook"),
    (M51, "{{ config(**{'po' ~ 'st_ho' ~ 'ok': 'select 1'}) }}select 1", "'**'"),
    (M51, "{{ config(materialized='table', sql_header='create macro x() as 1') }}select 1", "sql_header"),
    (YML, CFG + "post-hook: select 1\n", "post-hook"),
    (YML, CFG + "+pre_hook: [select 1]\n", "pre_hook"),
    (YML, CFG + '"post\\x2dhook": x\n', "post-hook"),
    (YML, "on-run-start: ['select 1']\n", "on-run-start"),
    (YML, "version: 2\nmodels:\n  - name: m\n  config: [\n      on_run_end: x\n", "on_run_end"),
    # SQL run from Jinja outside the model's select
    (M51, "{% call statement('x') %}select 1{% endcall %}select 1", "runs SQL"),
    (M51, "{% set r = run_query('select 1') %}select 1", "run_query"),
    (M51, "{% do adapter.execute('select 1') %}select 1", "adapter.execute"),
    (M51, "{% set a = adapter %}{% do a.execute('select 1') %}select 1", "adapter"),
    (M51, "{% do adapter['exe' ~ 'cute']('select 1') %}select 1", "adapter"),
    (M51, "{% do dbt['run_' ~ 'query']('select 1') %}select 1", "dbt namespace"),
    (M51, "{% do as_of_date.context['run_' ~ 'query']('select 1') %}select 1", "context"),
    (M51, "{% call set_sql_header(config) %}create macro x() as 1;{% endcall %}select 1", "runs SQL"),
]


@pytest.mark.parametrize("path,text,fragment", REFUSED, ids=[f"{i}" for i in range(len(REFUSED))])
def test_each_construct_is_refused_with_one_clear_line(path: str, text: str, fragment: str):
    with pytest.raises(Refusal) as refusal:
        screen_file(path, text)
    message = str(refusal.value)
    assert fragment.lower() in message.lower() and "\n" not in message and message.startswith(path)


def test_honest_solution_answers_pass_intake():
    notebooks = [(p.name, p.read_bytes()) for p in sorted((REPO / "solutions").glob("*.ipynb"))]
    for reference in (True, False):
        answers = screen_answers(answers_from_notebooks(notebooks, reference=reference))
        assert answers.refused == {} and answers.problems == []
        assert len(answers.files) >= 20
    fixtures = REPO / "tests" / "fixtures" / "submissions" / "synthetic_solutions"
    notebooks = [(p.name, p.read_bytes()) for p in fixtures.glob("*.ipynb")]
    answers = screen_answers(answers_from_notebooks(notebooks))
    assert answers.refused == {}
    from grader.course import starting_project  # an intern may resubmit a course file, edited or not

    course = {path: data.decode() for path, data in starting_project(REPO).items()
              if path.endswith((".sql", ".yml", ".md")) and path not in ("dbt_project.yml", "profiles.yml")}
    unchanged = screen_answers(Answers(files=dict(course)))
    assert len(course) > 30 and unchanged.refused == {} and unchanged.files == {}  # not answers at all
    edited = screen_answers(Answers(files={p: t + "\n" for p, t in course.items()}))
    # the course's own override of dbt's source() is the one file a submission may not rewrite
    assert edited.refused.keys() == {"macros/source.sql"} and len(edited.files) == len(course) - 1


def test_an_exercise_can_allow_a_construct_for_its_own_files_only(monkeypatch):
    from grader.api import exercise
    from grader.exercises import get_exercise

    hooked = "{{ config(post_hook='select 1') }}select 1"
    monkeypatch.setattr(get_exercise("5.3"), "allow", ("hooks",))
    answers = Answers(files={"models/a.sql": hooked, "models/b.sql": hooked},
                      origins={"models/a.sql": "5_3_mart.ipynb", "models/b.sql": "5_1_x.ipynb"})
    assert list(screen_answers(answers).refused) == ["models/b.sql"]
    with pytest.raises(ValueError, match="unknown"):
        exercise("5.3", "x", allow=("everything",))


def test_hostile_texts_cannot_stall_the_screening():
    """Unclosed Jinja, comment floods, whitespace runs and an alias bomb (300 k characters each) are
    screened in linear time (quadratic takes minutes here): a backtracking regex would let one file
    stall the grader's parent process."""
    bomb = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True))
    texts = {M51: ["{{ " * 100_000, "{% " * 100_000, "{# " * 100_000, "/* " * 100_000, "{{ x }}" * 40_000],
             YML: ["a:\n" + " " * 300_000 + "x", "a: [\n" + " " * 300_000 + "x:", bomb]}
    for path, variants in texts.items():
        for text in variants:
            try:
                screen_file(path, text)
            except Refusal:
                pass


def test_builtin_names_come_from_the_installed_packages():
    import dbt.include

    names = builtin_macro_names()
    assert {"create_table_as", "statement", "materialization_table", "test_unique", "is_incremental"} <= names
    duckdb_only = (Path(dbt.include.__path__[0]) / "duckdb" / "macros").rglob("*.sql")
    assert any(f"macro {n}" in p.read_text() for p in duckdb_only for n in names if n.startswith("duckdb__"))
    assert "as_of_date" not in names and "get_date_parts" not in names  # the course's own macros


def test_a_refused_file_costs_only_the_checks_that_need_it():
    answers = Answers(files={M51: "{{ config(post_hook='select 1') }}select 1", "models/ok.sql": "select 1"},
                      origins={M51: "5_1_x.ipynb", "models/ok.sql": "5_1_x.ipynb"})
    screen_answers(answers)
    assert list(answers.files) == ["models/ok.sql"] and M51 in answers.refused
    assert answers.problems == [f"refused {M51}: declares a hook or sql_header; no exercise needs one "
                                "(remove it)"]
    from grader.api import Fail
    from grader.context import CheckContext

    ctx = CheckContext("5.1", Answers.from_dict(answers.to_dict()))
    with pytest.raises(Fail, match="was refused: declares a hook"):
        ctx.require_answer_file(M51)


def test_manifest_recheck_finds_what_jinja_built():
    mine = {"models/a.sql", "models/a.yml", "macros/m.sql"}
    node = {"resource_type": "model", "name": "a", "original_file_path": "models/a.sql", "language": "sql",
            "config": {"materialized": "table", "pre-hook": [], "post-hook": []}}
    macro = {"name": "materialization_sneaky_duckdb", "original_file_path": "macros/m.sql",
             "package_name": "vyaparbazaar"}
    course = {**node, "name": "stg_orders", "original_file_path": "models/staging/stg_orders.sql"}
    manifest = {"metadata": {"project_name": "vyaparbazaar"}, "macros": {"m": macro},
                "nodes": {"a": node, "c": course}}
    reason = macro_reason("materialization_sneaky_duckdb")
    assert manifest_refusals(manifest, mine) == {"macros/m.sql": reason}
    hooked = {**course, "patch_path": "vyaparbazaar://models/a.yml",
              "config": {"materialized": "view", "post-hook": [{"sql": "create macro x() as 1"}]}}
    python = {**node, "config": {"materialized": "table", "language": "python"}}
    external = {**node, "config": {"materialized": "external"}}
    for extra, blamed, word in ((hooked, "models/a.yml", "hook"), (python, "models/a.sql", "SQL model"),
                                (external, "models/a.sql", "external")):
        found = manifest_refusals({"macros": {}, "nodes": {"x": extra}}, mine)
        assert list(found) == [blamed] and word in found[blamed]
    assert manifest_refusals({"macros": {}, "nodes": {"c": course}}, mine) == {}


def macro_reason(name: str) -> str:
    return intake.macro_name_problem(name) or ""


def test_duplicated_writefile_cells_are_listed():
    cell = {"cell_type": "code", "metadata": {}, "outputs": []}
    raw = json.dumps({"cells": [{**cell, "source": f"%%writefile ../dbt_project/{M51}\nselect 1\n"},
                                {**cell, "source": f"%%writefile ../dbt_project/{M51}\nselect 2\n"},
                                {**cell, "source": f"%%writefile -a ../dbt_project/{M51}\n-- more\n"}]})
    answers = answers_from_notebooks([("5_1_x.ipynb", raw.encode())])
    assert answers.files[M51] == "select 2\n-- more\n"
    assert answers.problems == [f"5_1_x.ipynb cell 2: dbt_project/{M51} was already written by "
                                "5_1_x.ipynb cell 1; the last cell counts (delete the older cell)"]


def test_a_path_the_file_system_rejects_costs_only_that_answer(tmp_path: Path):
    from grader.workspace import Workspace

    long_name = "models/" + "x" * 300 + ".sql"
    cell = {"cell_type": "code", "metadata": {}, "outputs": []}
    raw = json.dumps({"cells": [{**cell, "source": f"%%writefile ../dbt_project/{long_name}\nselect 1\n"},
                                {**cell, "source": f"%%writefile ../dbt_project/{M51}\nselect 2\n"}]})
    answers = answers_from_notebooks([("5_1_x.ipynb", raw.encode())])
    assert list(answers.files) == [M51] and "too long" in answers.problems[0]
    assert len(answers.problems[0]) < 200
    source = "%%writefile ../dbt_project/models/a\x00.sql\nselect 1\n"
    nul = json.dumps({"cells": [{**cell, "source": source}]})
    assert "not a valid file path" in answers_from_notebooks([("n.ipynb", nul.encode())]).problems[0]
    # the worker's lines of defence: paths that only fail against the course project, or when written
    ws = Workspace.create(tmp_path / "ws", {"dbt_project.yml": b"name: p\n", "models/a.sql": b"select 1\n",
                                            "models/dir.sql/keep.sql": b"select 1\n"})
    files = {long_name: "select 1", "models/a.sql/b.sql": "select 1", "models/dir.sql": "x", M51: "select 2"}
    answers = intake.screen_paths(Answers(files=dict(files)), ws.project_dir)
    assert list(answers.files) == [M51] and set(answers.refused) == set(files) - {M51}
    assert "models/a.sql is a file" in answers.refused["models/a.sql/b.sql"]
    answers = Answers(files=dict(files))
    intake.write_answer_files(ws, dict(answers.files), answers)
    assert (ws.project_dir / M51).read_text() == "select 2"
    assert set(answers.refused) == set(files) - {M51}
    assert not any(str(tmp_path) in p for p in answers.problems)
    assert any("file name too long" in p for p in answers.problems)


def test_problems_are_capped(tmp_path: Path):
    cell = {"cell_type": "code", "metadata": {}, "outputs": [],
            "source": f"%%writefile ../dbt_project/{M51}\n1\n"}
    (tmp_path / "5_1_x.ipynb").write_text(json.dumps({"cells": [cell] * 5000}))
    (sub,) = discover([tmp_path / "5_1_x.ipynb"])
    problems = sub.answers().problems
    assert len(problems) == submissions.MAX_PROBLEMS + 1 and problems[-1].startswith("... and 4899 more")


def test_a_huge_notebook_given_directly_is_refused_without_being_read(tmp_path: Path, monkeypatch):
    big = tmp_path / "5_1_huge.ipynb"
    with open(big, "wb") as handle:  # sparse: 200 MB on paper, nothing on disk
        handle.truncate(200 * 10**6)
    monkeypatch.setattr(submissions, "open", lambda *a, **k: pytest.fail("read"), raising=False)
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail("read"))
    started = time.perf_counter()
    (sub,) = discover([big])
    assert time.perf_counter() - started < 1.0
    assert not sub.notebooks and sub.problems == [f"5_1_huge.ipynb: larger than "
                                                  f"{MAX_SUBMISSION_BYTES // 10**6} MB; not read"]
    assert sub.answers().problems[0].startswith("5_1_huge.ipynb: larger than")


ATTACK_MACRO = """{%% materialization table, adapter='duckdb' %%}
  {%% call statement('pwn', language='python') %%}
import pathlib
pathlib.Path(%r).write_text('pwned')
def model(dbt, session):
    return session.sql('select 1 as a')
  {%% endcall %%}
  {{ return({'relations': []}) }}
{%% endmaterialization %%}
"""
STACK_MODEL = """{{ config(materialized='view') }}
{%% if execute %%}
{%% do context_macro_stack.push('materialization_fake') %%}
{%% call statement('pwn', language='python') %%}
import pathlib
pathlib.Path(%r).write_text('pwned')
def model(dbt, session):
    return session.sql('select 1 as a')
{%% endcall %%}
{%% endif %%}
select 1 as a
"""


@pytest.mark.slow
def test_with_text_intake_bypassed_no_python_runs(tmp_path: Path, monkeypatch):
    """Class 1 (issue 9): the manifest re-check drops the materialization; the guard stops the rest."""
    from dbt.adapters.duckdb.environments import Environment
    from dbt.adapters.duckdb.impl import DuckDBAdapter
    from dbt.context.providers import ProviderContext

    from grader import dbt_runner
    from grader.workspace import Workspace

    for owner, attr in ((ProviderContext, "submit_python_job"), (DuckDBAdapter, "submit_python_job"),
                        (Environment, "run_python_job")):  # dbt's own, even if an earlier test guarded them
        original = dbt_runner.ORIGINAL_PYTHON_JOBS.get((owner, attr), owner.__dict__[attr])
        monkeypatch.setattr(owner, attr, original)
    monkeypatch.chdir(tmp_path)
    markers = [tmp_path / "marker_materialization", tmp_path / "marker_stack"]
    files = {"macros/evil.sql": ATTACK_MACRO % str(markers[0]),
             "models/stack.sql": STACK_MODEL % str(markers[1]),
             "models/wrong.sql": "{{ config(materialized='table') }}\nselect 2 as a\n"}
    for path in ("macros/evil.sql", "models/stack.sql"):  # the text screening refuses both
        with pytest.raises(Refusal):
            screen_file(path, files[path])
    project = {"dbt_project.yml": b"name: vyaparbazaar\nprofile: vyaparbazaar\nversion: '1.0'\n"}
    ws = Workspace.create(tmp_path / "ws", project)
    ws.write_files(files)
    with monkeypatch.context() as unguarded:  # control: without the second line, both attacks run Python
        unguarded.setattr(dbt_runner, "forbid_python_jobs", lambda: None)
        ws.dbt("run", "--select", "wrong")
        ws.dbt("run", "--select", "stack")
    assert [m.exists() for m in markers] == [True, True]
    for marker in markers:
        marker.unlink()
    ws.write_files({})
    answers = Answers(files=dict(files))
    parsed = intake.screened_parse(ws, answers)
    assert parsed.success, parsed.summary()
    assert set(answers.refused) == {"macros/evil.sql"} and "reserved" in answers.refused["macros/evil.sql"]
    assert (ws.project_dir / "macros/evil.sql").read_text() == ""
    assert ws.dbt("run", "--select", "wrong").success
    stack = ws.dbt("run", "--select", "stack")
    assert not stack.success and "not accepted by the grader" in stack.summary()
    assert [m.exists() for m in markers] == [False, False]
    assert os.getcwd() == str(tmp_path)
