"""A grading workspace: a private copy of the course's dbt project, its warehouse and a profile.

Layout of ``root/``: ``dbt_project/`` (starting project + answer files), ``warehouse.duckdb``
(raw tables in schema ``vb_raw`` + built models), ``profiles/profiles.yml`` (sandboxed),
``raw/`` (a private Parquet copy, only when arrivals are replayed), ``tmp/``, ``logs/``.
Sources read the ``vb_raw`` tables, so intern SQL never needs file access.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb

from course_core.dbt_invoke import lighten_dbt
from grader.dbt_runner import DbtOutcome, DbtSession
from grader.sandbox import duckdb_config, sandboxed_connect

RAW_SCHEMA = "vb_raw"
SOURCE_LOCATION = f'"(select * from {RAW_SCHEMA}.{{identifier}})"'
_EXTERNAL_LOCATION = re.compile(r"^(\s*)external_location:.*$", re.MULTILINE)
_PROFILE = """\
vyaparbazaar:
  target: grade
  outputs:
    grade:
      type: duckdb
      path: "../warehouse.duckdb"
      threads: 1
      config_options: {config}
"""


class Workspace:
    """One private copy of the project and its warehouse; dbt and queries run against it."""

    def __init__(self, root: Path):
        self.root = root
        self.file_log = True  # dbt writes logs/dbt.log (the grading worker turns it off)
        self._session: DbtSession | None = None
        self._con: duckdb.DuckDBPyConnection | None = None
        self._con_reference: Path | None = None

    project_dir = property(lambda self: self.root / "dbt_project")
    warehouse = property(lambda self: self.root / "warehouse.duckdb")
    temp_dir = property(lambda self: self.root / "tmp")
    profiles_dir = property(lambda self: self.root / "profiles")
    raw_dir = property(lambda self: self.root / "raw")

    # ---- creation -------------------------------------------------------------------------
    @classmethod
    def create(cls, root: Path, project_files: dict[str, bytes]) -> Workspace:
        """A new workspace from the starting project's files (sources rewired to ``vb_raw``)."""
        ws = cls(root)
        for rel, data in project_files.items():
            dest = ws.project_dir / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
        rewire_sources(ws.project_dir)
        ws._write_profile()
        return ws

    def clone(self, root: Path) -> Workspace:
        """A copy of this workspace (project without target/, warehouse file) under ``root``."""
        self.close()
        root.mkdir(parents=True, exist_ok=True)
        shutil.copytree(
            self.project_dir, root / "dbt_project", ignore=shutil.ignore_patterns("target", "logs")
        )
        state = self.project_dir / "target" / "partial_parse.msgpack"
        if state.exists():
            (root / "dbt_project" / "target").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(state, root / "dbt_project" / "target" / "partial_parse.msgpack")
        shutil.copyfile(self.warehouse, root / "warehouse.duckdb")
        if self.raw_dir.exists():
            shutil.copytree(self.raw_dir, root / "raw")
        clone = Workspace(root)
        clone.file_log = self.file_log
        clone._write_profile()
        if self._session is not None and self._session.manifest is not None:
            clone.session.manifest = self._session.manifest
        return clone

    def _write_profile(self) -> None:
        self.profiles_dir.mkdir(parents=True, exist_ok=True)
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        config = duckdb_config(Path("../tmp"))
        rendered = "{" + ", ".join(f"{k}: {_yaml_scalar(v)}" for k, v in config.items()) + "}"
        (self.profiles_dir / "profiles.yml").write_text(
            _PROFILE.format(config=rendered), encoding="utf-8"
        )

    # ---- answers --------------------------------------------------------------------------
    def write_files(self, files: dict[str, str]) -> None:
        """Write answer files (already validated paths) into the project; invalidates the parse."""
        for rel, text in sorted(files.items()):
            dest = self.project_dir / rel
            if not dest.resolve().is_relative_to(self.project_dir.resolve()):
                raise ValueError(f"{rel}: leaves dbt_project/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(text, encoding="utf-8")
        rewire_sources(self.project_dir)
        self._session = None

    # ---- raw data -------------------------------------------------------------------------
    def load_raw(self, raw_dir: Path, tables: list[str] | None = None) -> None:
        """(Re)load raw Parquet folders into ``vb_raw`` tables (trusted connection, no intern SQL)."""
        self.close()
        names = tables or sorted(p.name for p in raw_dir.iterdir() if p.is_dir())
        con = duckdb.connect(str(self.warehouse))
        try:
            con.execute(f"create schema if not exists {RAW_SCHEMA}")
            for name in names:
                pattern = str(raw_dir / name / "*.parquet").replace("'", "''")
                con.execute(
                    f"create or replace table {RAW_SCHEMA}.{name} as "
                    f"select * from read_parquet('{pattern}', union_by_name = true)"
                )
            con.execute("checkpoint")
        finally:
            con.close()

    def load_raw_files(self, table: str, files: list[Path]) -> None:
        """Replace raw table ``vb_raw.<table>`` with the union of the given Parquet files (trusted)."""
        self.close()
        listing = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
        con = duckdb.connect(str(self.warehouse))
        try:
            con.execute(
                f"create or replace table {RAW_SCHEMA}.{table} as "
                f"select * from read_parquet([{listing}], union_by_name = true)"
            )
            con.execute("checkpoint")
        finally:
            con.close()

    def execute_trusted(self, sql: str) -> None:
        """Run grader-owned SQL read-write on the warehouse (never intern SQL)."""
        self.close()
        con = duckdb.connect(str(self.warehouse))
        try:
            con.execute(sql)
            con.execute("checkpoint")
        finally:
            con.close()

    # ---- dbt ------------------------------------------------------------------------------
    @property
    def session(self) -> DbtSession:
        """The dbt session of this workspace (parsed lazily)."""
        if self._session is None:
            self._session = DbtSession(self.project_dir, self.profiles_dir, self.root / "logs",
                                       file_log=self.file_log)
        return self._session

    def parse(self) -> DbtOutcome:
        """Parse the project (needed once after the answer files changed)."""
        self.close()
        lighten_dbt()
        return self.session.parse()

    def dbt(self, *args: str) -> DbtOutcome:
        """Run a dbt command in-process, e.g. ``ws.dbt("build", "--select", "my_model")``.

        Only the parse writes JSON artifacts (manifest.json, read by the checks); later commands
        skip rewriting manifest.json and run_results.json (about half the CPU of a small run).
        Compiled SQL under target/ is still written.
        """
        self.close()
        lighten_dbt()
        if self.session.manifest is None:
            parsed = self.session.parse()
            if not parsed.success:
                return parsed
        command = list(args)
        if command and "--write-json" not in command and "--no-write-json" not in command:
            command.insert(1, "--no-write-json")
        return self.session.invoke(command)

    def manifest(self) -> dict:
        """manifest.json of the last parse (parses first if needed)."""
        if self.session.manifest is None:
            self.parse()
        return self.session.manifest_dict()

    # ---- queries --------------------------------------------------------------------------
    def connect(self, reference: Path | None = None) -> duckdb.DuckDBPyConnection:
        """A read-only, sandboxed connection to the warehouse (closed before dbt runs).

        With ``reference``, that warehouse is attached read-only as ``grader_ref_db`` (the only
        file the connection may open).
        """
        if self._con is not None and self._con_reference != reference:
            self.close()
        if self._con is None:
            self._con = sandboxed_connect(self.warehouse, self.temp_dir, attach=reference)
            self._con_reference = reference
        return self._con

    def close(self) -> None:
        """Close the grader's own connection (dbt needs the file lock)."""
        if self._con is not None:
            self._con.close()
            self._con = None



def rewire_sources(project_dir: Path) -> None:
    """Point every source ``external_location`` of the project at the ``vb_raw`` tables."""
    for path in sorted(project_dir.rglob("*.yml")) + sorted(project_dir.rglob("*.yaml")):
        if "target" in path.relative_to(project_dir).parts:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if "external_location" not in text:
            continue
        new = _EXTERNAL_LOCATION.sub(lambda m: f"{m.group(1)}external_location: {SOURCE_LOCATION}", text)
        if new != text:
            path.write_text(new, encoding="utf-8")


def _yaml_scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return '"' + str(value).replace('"', '\\"') + '"'
