"""SQL lint for the dbt project: the defects this course found, as rules a CI step can enforce.

A small, documented check instead of sqlfluff: sqlfluff's dbt templater needs a dbt install and
project parse of its own, and its generic style rules would not catch what went wrong in this
project. Every rule below is a defect the course reproduced (seed review, DEVELOPING.md):

    VB01  the clock in a model (current_timestamp, now(), current_date, today()): results change
          with the day of the build; use the as_of_date var (seed defect 1)
    VB02  a hard-coded relation (from/join main.x, dev.x, prod.x, ci.x, or a read_parquet/read_csv
          path): bypasses ref()/source(), so dbt's DAG, targets and slim CI do not see it
    VB03  a warehouse-specific config DuckDB ignores (cluster_by, partition_by with granularity):
          it promises a speed-up that never happens (seed defect 7)
    VB04  a tab or trailing whitespace (diffs and reviews)

Comments (``--``, ``/* */``, ``{# #}``) are not linted.

    python -m ops.sql_lint dbt_project          # exit 1 when there are findings
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

from ops.dbt_invoke import OpsError, cli_main

FOLDERS = ("models", "macros", "tests", "snapshots", "analyses")
RULES = {
    "VB01": (re.compile(r"\b(current_timestamp|current_date|(?:now|today|get_current_time)\s*\()", re.I),
             "the clock in a model: results change with the day of the build; use the as_of_date var"),
    "VB02": (re.compile(r"\b(?:from|join)\s+(?:\"?(?:main|dev|prod|ci)\"?\.\"?\w+"
                        r"|read_(?:parquet|csv)\w*\s*\()", re.I),
             "a hard-coded relation: use ref() or source() so dbt sees the dependency"),
    "VB03": (re.compile(r"\bcluster_by\b|\bgranularity\b", re.I),
             "a config DuckDB ignores (cluster_by / partition_by granularity are BigQuery options)"),
}
_MACRO_FILES_MAY_READ = ("macros/source.sql",)  # the course's source override builds read_parquet on purpose


@dataclass(frozen=True)
class Finding:
    """One lint finding: where, which rule, why."""

    path: str
    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.rule} {self.message}"


def _blank_comments(sql: str) -> str:
    """``sql`` with its comments replaced by spaces (line numbers kept)."""
    def blank(match: re.Match) -> str:
        return re.sub(r"[^\n]", " ", match.group(0))
    return re.sub(r"\{#.*?#\}|/\*.*?\*/|--[^\n]*", blank, sql, flags=re.S)


def lint_sql(sql: str, path: str = "<sql>") -> list[Finding]:
    """Findings of one SQL file."""
    findings = []
    code = _blank_comments(sql)
    for number, (raw, line) in enumerate(zip(sql.splitlines(), code.splitlines(), strict=False), start=1):
        for rule, (pattern, message) in RULES.items():
            if rule == "VB02" and path.endswith(_MACRO_FILES_MAY_READ):
                continue
            if pattern.search(line):
                findings.append(Finding(path, number, rule, message))
        if "\t" in raw or raw != raw.rstrip():
            findings.append(Finding(path, number, "VB04", "a tab or trailing whitespace"))
    return findings


def lint_project(project_dir: str | Path) -> list[Finding]:
    """Findings of every .sql file under the project's models/, macros/, tests/, snapshots/, analyses/."""
    root = Path(project_dir)
    if not (root / "dbt_project.yml").is_file():
        raise OpsError(f"{root} has no dbt_project.yml: pass the dbt project folder, e.g. dbt_project")
    findings = []
    for folder in FOLDERS:
        for path in sorted((root / folder).rglob("*.sql")):
            findings += lint_sql(path.read_text(encoding="utf-8"), path.relative_to(root).as_posix())
    return findings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.sql_lint", description=__doc__.splitlines()[0])
    parser.add_argument("project_dir", nargs="?", default="dbt_project", help="the dbt project folder")
    args = parser.parse_args(argv)
    findings = lint_project(args.project_dir)
    for finding in findings:
        print(finding)
    files = sum(1 for f in FOLDERS for _ in (Path(args.project_dir) / f).rglob("*.sql"))
    print(f"{len(findings)} finding(s) in {files} SQL file(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(cli_main(main))
