"""Checks of exercise 5.5: stakeholder documentation of ``mart_customer_overview``.

Auto-graded: every column of the built mart has a real description (not empty, not the column
name), the segment columns reuse the shared docs blocks, the intern's own docs blocks are used,
exposures reference the mart, a singular test fails when a column is undocumented, the four
example analyses compile against the mart and run, and the two customer lists are exactly the
customers their definitions name. The guide and the prose answers are MANUAL (never keyword-scored).
"""

from __future__ import annotations

import re

import yaml

from course_core import manifest as dbt_manifest
from course_core.settings import dbt_project_dir
from grader.api import Fail, Skip, exercise
from grader.context import CheckContext

MART = "mart_customer_overview"
MART_UID = f"model.vyaparbazaar.{MART}"
YML_FILE = f"models/marts/_{MART}.yml"
DOCS_FILE = f"models/marts/_{MART}_docs.md"
EXPOSURES_FILE = "models/marts/_exposures.yml"
TEST_FILE = f"tests/assert_{MART}_documented.sql"
GUIDE_FILE = "docs/stakeholder_guide.md"
SEGMENT_COLUMNS = ("recency_segment", "frequency_segment", "monetary_segment", "rfm_segment",
                   "lifecycle_stage")
CUSTOMER_LISTS = {  # analysis -> the customers its question names (definitions given in the notebook)
    "customers_high_value_at_risk": "monetary_segment = 'High' and lifecycle_stage = 'At Risk'",
    "customers_reactivation_candidates": "lifecycle_stage = 'Reactivation Candidate'",
}
ANALYSES = (*CUSTOMER_LISTS, "cohort_retention", "cross_sell_opportunities")
MIN_WORDS = 3

EX = exercise(
    "5.5", "Stakeholder documentation",
    answer_files=[YML_FILE, DOCS_FILE, EXPOSURES_FILE, TEST_FILE, GUIDE_FILE,
                  *(f"analyses/{name}.sql" for name in ANALYSES)],
)
EX.manual("guide", points=5, answer_file=GUIDE_FILE,
          prompt="stakeholder_guide.md: context, definitions (thresholds by reference), freshness and "
                 "schedule, caveats grounded in the data, example queries, visualization advice, dictionary; "
                 "written for business users (no Jinja, no invented numbers)")
EX.manual("q1", points=1, prompt="How would you tailor the documentation for different audiences?")
EX.manual("q2", points=1, prompt="Which technical details did you leave out, which did you keep, and why?")
EX.manual("q3", points=1, prompt="How would you gather feedback on the documentation?")
EX.manual("q4", points=1, prompt="How do you keep the documentation current when the model changes?")


def _words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9]+", " ", (text or "").lower()).split()


def is_trivial(column: str, description: str) -> bool:
    """Empty, only the column name, or fewer than MIN_WORDS words."""
    words = _words(description)
    return len(words) < MIN_WORDS or words == column.lower().replace("_", " ").split()


def _mart_node(ctx: CheckContext) -> dict:
    node = ctx.node(MART)
    if node is None:
        raise Fail(f"{MART} is not in your project's manifest: run `%dbt parse` (is your YAML valid?)")
    return node


def _require_mart(ctx: CheckContext) -> None:
    """Grading: the YAML answer exists and the mart builds. Self-check: the mart is in the warehouse."""
    ctx.require_model(MART, YML_FILE, how="run")


def _built_columns(ctx: CheckContext) -> list[str]:
    return ctx.columns(MART)


@EX.check("columns_documented", points=3, public=True,
          hint="Describe what each column means for the business, how to use it and when it is empty.")
def columns_documented(ctx: CheckContext) -> str:
    """The model and every column of the built mart have a real description (not empty, not the name)."""
    _require_mart(ctx)
    node = _mart_node(ctx)
    if len(_words(node.get("description", ""))) < 8:
        raise Fail(f"the description of {MART} itself is missing or too short")
    described = {k.lower(): v.get("description", "") for k, v in (node.get("columns") or {}).items()}
    columns = _built_columns(ctx)
    missing = [c for c in columns if is_trivial(c, described.get(c, ""))]
    if missing:
        raise Fail(f"{len(missing)} of {len(columns)} columns have no real description: {', '.join(missing)}")
    return f"the model and all {len(columns)} columns are described"


def _docs(ctx: CheckContext) -> dict[str, dict]:
    return {d.get("name"): d for d in (ctx.manifest.get("docs") or {}).values()
            if d.get("package_name") == "vyaparbazaar"}


@EX.check("shared_definitions_reused", points=2, public=True,
          hint="Segment columns: {{ doc('<segment docs block>') }}; your own definitions: docs blocks in "
               f"{DOCS_FILE}, each used by the mart.")
def shared_definitions_reused(ctx: CheckContext) -> str:
    """Segment columns reuse the shared docs blocks; the mart's own docs blocks exist and are used."""
    node = _mart_node(ctx)
    docs = _docs(ctx)
    columns = {k.lower(): v.get("description", "") for k, v in (node.get("columns") or {}).items()}
    not_reused = []
    for column in SEGMENT_COLUMNS:
        block = (docs.get(column) or {}).get("block_contents", "").strip()
        if not block:
            raise Skip(f"the shared docs block {column!r} is missing from the project")
        if block not in columns.get(column, ""):
            not_reused.append(column)
    if not_reused:
        raise Fail(f"these columns do not reuse their shared definition with doc(): {', '.join(not_reused)}")
    own = {name: d for name, d in docs.items() if d.get("original_file_path") == DOCS_FILE}
    if not own:
        raise Fail(f"no docs blocks in {DOCS_FILE}: write the mart's own definitions there")
    texts = [node.get("description", ""), *columns.values()]
    unused = sorted(n for n, d in own.items()
                    if not any(d.get("block_contents", "").strip() in t for t in texts))
    if unused:
        raise Fail(f"docs blocks defined but not used by {MART}: {', '.join(unused)}")
    return (f"{len(SEGMENT_COLUMNS)} segment columns reuse the shared blocks; "
            f"{len(own)} own docs block(s), all used")


@EX.check("exposures_reference_mart", points=2, public=True,
          hint="Exposures need type, owner (name and/or email), description and depends_on: ref('...').")
def exposures_reference_mart(ctx: CheckContext) -> str:
    """Exposures (at least one dashboard) depend on the mart, each with an owner and a description."""
    exposures = [e for e in (ctx.manifest.get("exposures") or {}).values()
                 if MART_UID in dbt_manifest.parents(e)]
    if not exposures:
        raise Fail(f"no exposure depends on {MART}: declare them in {EXPOSURES_FILE} and run `%dbt parse`")
    if not any(e.get("type") == "dashboard" for e in exposures):
        raise Fail(f"none of the exposures of {MART} is of type dashboard")
    for e in exposures:
        owner = e.get("owner") or {}
        if not (owner.get("name") or owner.get("email")):
            raise Fail(f"exposure {e.get('name')} has no owner (name or email)")
        if len(_words(e.get("description", ""))) < 5:
            raise Fail(f"exposure {e.get('name')} has no real description (who uses it, for what)")
    return f"{len(exposures)} exposure(s) use {MART}, with owners and descriptions"


def _doc_tests(ctx: CheckContext) -> list[dict]:
    return [t for t in ctx.tests_on(MART) if not dbt_manifest.test_metadata(t).generic]


@EX.check("undocumented_column_test_present", points=1, public=True,
          hint=f"Write a singular test in {TEST_FILE} that reads ref('{MART}').")
def undocumented_column_test_present(ctx: CheckContext) -> str:
    """A singular test of the mart exists (it should fail on an undocumented column)."""
    tests = _doc_tests(ctx)
    if not tests:
        raise Fail(f"no singular test (tests/*.sql) reads {MART}")
    return f"{len(tests)} singular test(s) on {MART}"


def _blank_description(text: str) -> tuple[str, str]:
    """The YAML with the description of one documented, non-segment column emptied, and that column."""
    data = yaml.safe_load(text) or {}
    for model in data.get("models") or []:
        if model.get("name") != MART:
            continue
        for column in model.get("columns") or []:
            if column.get("description") and column.get("name") not in SEGMENT_COLUMNS:
                column["description"] = ""
                return yaml.safe_dump(data, sort_keys=False, allow_unicode=True), column["name"]
    raise Skip(f"no documented column found in {YML_FILE}")


@EX.check("undocumented_column_test_fails_on_gap", points=2,
          hint="Compare the columns of the built table with the descriptions in dbt's graph.")
def undocumented_column_test_fails_on_gap(ctx: CheckContext) -> str:
    """The singular test passes on your documentation and fails when one column's description is removed."""
    names = [t["name"] for t in _doc_tests(ctx)]
    if not names:
        raise Fail(f"no singular test reads {MART}")
    if not ctx.is_grading:
        raise Skip("runs only when the instructor grades")
    _require_mart(ctx)
    passed = ctx.build(*names, command="test")
    if not passed.success:
        raise Fail(f"your singular test fails on your own documentation: {passed.summary()}")
    fork = ctx.fork("doc-gap")
    try:
        broken, column = _blank_description(ctx.require_answer_file(YML_FILE))
        fork.write_files({YML_FILE: broken})
        outcome = fork.dbt("test", "--select", *names)
    finally:
        ctx.discard(fork)
    if outcome.success:
        raise Fail(f"with the description of {column} removed, your singular test still passes")
    return f"passes on your documentation, fails when {column} loses its description"


def _compiled(ctx: CheckContext, name: str) -> str:
    if ctx.is_grading:
        sql = ctx.compiled_sql(name, "vyaparbazaar/analyses")
        if sql is None:
            raise Fail(f"analysis {name} is not compiled: run `%dbt compile -s {name}`")
        return sql.strip().rstrip(";")
    else:  # self-check: the intern's own project, resolved like the notebooks do (VB_REPO_ROOT)
        base = dbt_project_dir()
    path = base / "target" / "compiled" / "vyaparbazaar" / "analyses" / f"{name}.sql"
    if not path.is_file():
        raise Fail(f"analysis {name} is not compiled: run `%dbt compile -s {name}`")
    return path.read_text(encoding="utf-8").strip().rstrip(";")


@EX.check("analyses_compile_and_run", points=2, public=True,
          hint="Each analysis selects from {{ ref('mart_customer_overview') }}; compile them with "
               "%dbt compile.")
def analyses_compile_and_run(ctx: CheckContext) -> str:
    """The four analyses exist, read the mart through ref(), compile, and their SQL runs on the warehouse."""
    nodes = {n.get("name"): n for n in dbt_manifest.nodes(ctx.manifest, "analysis").values()}
    missing = [a for a in ANALYSES if a not in nodes]
    if missing:
        raise Fail(f"analyses missing: {', '.join(missing)} (write them under analyses/, then `%dbt parse`)")
    no_ref = [a for a in ANALYSES if MART_UID not in dbt_manifest.parents(nodes[a])]
    if no_ref:
        raise Fail(f"these analyses do not read {MART} through ref(): {', '.join(no_ref)}")
    if ctx.is_grading:
        _require_mart(ctx)
        ctx.require_build(*ANALYSES, command="compile")
    counts = []
    for name in ANALYSES:
        rows = ctx.query(f"select count(*) from {ctx.submission_result(_compiled(ctx, name), name)}")[0][0]
        counts.append(f"{name} {rows} rows")
    return "compile and run: " + ", ".join(counts)


@EX.check("customer_lists_match_definitions", points=2,
          hint="Filter on the mart's segment columns (monetary_segment, lifecycle_stage), not on day ranges.")
def customer_lists_match_definitions(ctx: CheckContext) -> str:
    """The two customer lists hold exactly the customers their definitions name (no limit, no extra rule)."""
    if not ctx.is_grading:
        raise Skip("runs only when the instructor grades")
    _require_mart(ctx)
    ctx.require_build(*CUSTOMER_LISTS, command="compile")
    for name, rule in CUSTOMER_LISTS.items():
        sql = _compiled(ctx, name)
        extra, missed = ctx.query(
            f"with got as (select distinct customer_id from {ctx.submission_result(sql, name)}), "
            f"want as (select customer_id from {MART} where {rule}) "
            "select (select count(*) from got where customer_id not in (select customer_id from want)), "
            "(select count(*) from want where customer_id not in (select customer_id from got))"
        )[0]
        if extra or missed:
            raise Fail(f"{name}: {missed} customer(s) missing and {extra} unexpected "
                       "(compare it with its definition)")
    return "both customer lists match their definitions exactly"
