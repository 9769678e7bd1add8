"""The trusted side of grading: drive the untrusted worker, and query its results as plain data.

Check code (grader/exercises) runs here, in the trusted grading process. It reaches the
submission only through ``UntrustedWorker.request`` (JSON lines over pipes: parse, dbt, fork,
execute, export, profile, read_text...). Relations a check queries are exported by the worker as
Parquet (``copy (from schema.name) to ...``), copied out of the worker's folder without following
links, and read as views in a fresh in-memory DuckDB connection that no submission ever touched,
next to the reference's relations (exported once per cached grading run, ``export_reference``).
Nothing is ever ATTACHed into, or opened from, a database a submission built.
"""

from __future__ import annotations

import importlib
import itertools
import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import duckdb

from course_core.dbt_result import DbtOutcome, short_message
from grader import isolation, timing
from grader.api import GradingAborted
from grader.workspace import RAW_SCHEMA, Workspace

REFERENCE_DATA = "reference-data"
SUBMISSION_CATALOG = "warehouse"
REFERENCE_CATALOG = "grader_ref_db"
TRUSTED_MEMORY = "2GB"
_USE = re.compile(r"^\s*use\s+([A-Za-z_][A-Za-z0-9_]*)\s*;?\s*$", re.IGNORECASE)
_SKIP_SCHEMAS = {"information_schema", "pg_catalog"}
_MISSING = re.compile(r'Table with name "?([A-Za-z0-9_."]+?)"? does not exist')
# statements that list catalogs rather than name relations: every reference view is mapped in first
_LISTING = re.compile(r"information_schema|duckdb_(?:tables|views|columns|schemas|databases|constraints)|"
                      r"\bshow\s+(?:all\s+)?tables|show_tables|table_info|sqlite_master|pg_catalog|pg_class|"
                      r"pg_tables|pg_views", re.IGNORECASE)


class WorkerDied(GradingAborted):
    """The untrusted worker is gone (limit hit, crash, killed): the submission cannot be graded on."""


class WorkerError(Exception):
    """The worker refused or failed one request (its message, for a check's Fail)."""


def _q(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _lit(path: Path | str) -> str:
    return "'" + str(path).replace("'", "''") + "'"


# ---- the reference, exported once per grading run ------------------------------------------------
def export_reference(warehouse: Path, folder: Path,
                     schemas: tuple[str, ...] = ("main", "grader_ref")) -> None:
    """(Preparation, trusted) Every relation of the reference warehouse in ``schemas`` as Parquet."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    con = duckdb.connect(str(warehouse), read_only=True)
    index = []
    try:
        rows = con.execute("select table_schema, table_name from information_schema.tables "
                           "where table_catalog = current_database() order by all").fetchall()
        for n, (schema, name) in enumerate(r for r in rows if r[0] in schemas):
            file = folder / f"r{n}.parquet"
            con.execute(f"copy (from {_q(schema)}.{_q(name)}) to {_lit(file)} (format parquet)")
            index.append({"schema": schema, "name": name, "file": file.name})
    finally:
        con.close()
    (folder / "index.json").write_text(json.dumps(index, indent=1, sort_keys=True), encoding="utf-8")


def trusted_connection(temp: Path, readable: list[Path], reference: Path | None) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory DuckDB: catalogs ``warehouse`` (the submission's exports, added lazily) and
    ``grader_ref_db`` (the reference's schemas; its relations are mapped in by ``TrustedConnection``
    when a statement names them); it may read only ``readable`` folders."""
    temp.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(":memory:", config={
        "threads": 1, "memory_limit": TRUSTED_MEMORY, "temp_directory": str(temp),
        "autoinstall_known_extensions": False, "autoload_known_extensions": False,
    })
    con.execute(f"attach ':memory:' as {SUBMISSION_CATALOG}")
    con.execute(f"attach ':memory:' as {REFERENCE_CATALOG}")
    dirs = ", ".join(_lit(str(d).rstrip("/") + "/") for d in readable)
    con.execute(f"set allowed_directories = [{dirs}]")
    con.execute("set enable_external_access = false")
    con.execute("set lock_configuration = true")
    for schema in sorted({schema for schema, _name in reference_index(reference)}):
        con.execute(f"create schema if not exists {REFERENCE_CATALOG}.{_q(schema)}")
    return con


def reference_index(reference: Path | None) -> dict[tuple[str, str], Path]:
    """(schema, name) -> Parquet file of every exported reference relation (lower-case names)."""
    if reference is None or not (reference / "index.json").is_file():
        return {}
    rows = json.loads((reference / "index.json").read_text(encoding="utf-8"))
    return {(r["schema"].lower(), r["name"].lower()): reference / r["file"] for r in rows}


def _name_parts(raw: str) -> list[str]:
    """The lower-case, unquoted parts of a relation name as ``duckdb.get_table_names`` gives it
    (``catalog.schema.name``, ``schema.name`` or ``name``; a trailing ``AS alias`` dropped)."""
    name = re.split(r"\s+as\s+", raw, maxsplit=1, flags=re.IGNORECASE)[0].strip()
    return [p.strip('"').lower() for p in re.findall(r'"(?:[^"]|"")*"|[^.]+', name)]


class TrustedConnection:
    """What checks get as a connection while grading: ``sql``/``execute`` like DuckDB's, but each
    relation of the submission a statement names is first exported by the worker and mapped in. The
    reference's relations (``grader_ref_db``) are mapped in the same way, as views over their Parquet
    files, when a statement names them (all of them before a statement that lists the catalog)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, workspace: RemoteWorkspace | None,
                 reference: Path | None = None):
        self.con = con
        self.workspace = workspace
        self.catalog = SUBMISSION_CATALOG if workspace is not None else REFERENCE_CATALOG
        self.loaded: set[tuple[str, str]] = set()
        self.version = workspace.version if workspace is not None else 0
        self.reference_pending = reference_index(reference)  # reference views not created yet
        con.execute(f"use {self.catalog}")

    def sql(self, query: str, params: Any = None) -> duckdb.DuckDBPyRelation:
        """``DuckDBPyConnection.sql`` after mapping in the relations the query names."""
        self._prepare(query)
        return self._retry(lambda: self.con.sql(query, params=params) if params is not None
                           else self.con.sql(query))

    def execute(self, query: str, params: Any = None) -> duckdb.DuckDBPyConnection:
        """``DuckDBPyConnection.execute`` after mapping in the relations the query names."""
        use = _USE.match(query)
        if use:
            self.catalog = use.group(1).lower()
        else:
            self._prepare(query)
        return self._retry(lambda: self.con.execute(query, params) if params is not None
                           else self.con.execute(query))

    def retry(self, run: Any) -> Any:
        """``run()``, mapping in what a catalog error names (see ``_retry``)."""
        return self._retry(run)

    def _retry(self, run: Any) -> Any:
        """Run; while DuckDB names a missing relation that the submission has, map it in and rerun
        (the static table list cannot always be read from a query that does not bind yet)."""
        tried: set[str] = set()
        while True:
            try:
                return run()
            except duckdb.CatalogException as error:
                if self.reference_pending:  # a reference relation the static table list missed
                    self.map_all_reference()
                    continue
                match = _MISSING.search(str(error))
                target = self._target(match.group(1)) if match and self.workspace is not None else None
                if target is None or match.group(1) in tried or self.workspace.relation_type(
                        target[1], target[0]) is None:
                    raise
                tried.add(match.group(1))
                self.map_relation(*target)

    def close(self) -> None:
        """Nothing to release per use (the connection lives as long as its workspace state)."""

    # ---- lazy export ----------------------------------------------------------------------------
    def _sync(self) -> None:
        if self.workspace is not None and self.workspace.version != self.version:
            # the submission's database changed since these exports: drop them (re-exported on use)
            for schema, name in sorted(self.loaded):
                self.con.execute(f"drop view if exists {SUBMISSION_CATALOG}.{_q(schema)}.{_q(name)}")
            self.loaded.clear()
            self.version = self.workspace.version

    def prepare(self, query: str) -> None:
        """Map in every relation ``query`` names (submission exports, reference views)."""
        self._prepare(query)

    def _prepare(self, query: str) -> None:
        if self.reference_pending and _LISTING.search(query):
            self.map_all_reference()
        if self.workspace is None and not self.reference_pending:
            return
        self._sync()
        try:
            names = duckdb.get_table_names(query, qualified=True)
        except duckdb.Error:
            self.map_all_reference()
            return
        for raw in sorted(names):
            self._map_reference_named(raw)
            target = self._target(raw) if self.workspace is not None else None
            if target is not None:
                self.map_relation(*target)

    # ---- lazy reference views ---------------------------------------------------------------------
    def _map_reference_named(self, raw: str) -> None:
        """Map in the reference relation(s) a name in a statement may resolve to (a superset: an
        unneeded view costs only its creation)."""
        if not self.reference_pending:
            return
        parts = _name_parts(raw)
        if len(parts) == 3:
            candidates = [(parts[1], parts[2])] if parts[0] == REFERENCE_CATALOG else []
        elif len(parts) == 2:
            candidates = [("main", parts[1])] if parts[0] == REFERENCE_CATALOG else [(parts[0], parts[1])]
        elif len(parts) == 1:
            candidates = [("main", parts[0])]
        else:
            candidates = []
        for key in candidates:
            self._map_reference(key)

    def _map_reference(self, key: tuple[str, str]) -> None:
        path = self.reference_pending.pop(key, None)
        if path is not None:
            self.con.execute(f"create or replace view {REFERENCE_CATALOG}.{_q(key[0])}.{_q(key[1])} as "
                             f"from read_parquet({_lit(path)})")

    def map_all_reference(self) -> None:
        """Create every reference view not created yet."""
        for key in sorted(self.reference_pending):
            self._map_reference(key)

    def _target(self, raw: str) -> tuple[str, str] | None:
        parts = _name_parts(raw)
        if len(parts) == 3:
            return (parts[1], parts[2]) if parts[0] == SUBMISSION_CATALOG else None
        if len(parts) == 2:
            if parts[0] == SUBMISSION_CATALOG:
                return "main", parts[1]
            if parts[0] in (REFERENCE_CATALOG, "memory", "system", "temp") or parts[0] in _SKIP_SCHEMAS:
                return None
            return (parts[0], parts[1]) if self.catalog == SUBMISSION_CATALOG else None
        if len(parts) == 1 and self.catalog == SUBMISSION_CATALOG and not parts[0].startswith("__"):
            return "main", parts[0]
        return None

    def map_relation(self, schema: str, name: str) -> None:
        """Export one relation of the submission (if it exists) and map it in as a view."""
        if (schema, name) in self.loaded or self.workspace is None:
            return
        if self.workspace.relation_type(name, schema) is None:
            return  # DuckDB reports the missing relation itself
        path = self.workspace.export(schema, name)
        self.add_view(schema, name, path)

    def add_view(self, schema: str, name: str, path: Path) -> None:
        """Map a Parquet file (already in the trusted folder) in as ``warehouse.schema.name``."""
        self._sync()
        self.con.execute(f"create schema if not exists {SUBMISSION_CATALOG}.{_q(schema)}")
        self.con.execute(f"create or replace view {SUBMISSION_CATALOG}.{_q(schema)}.{_q(name)} as "
                         f"from read_parquet({_lit(path)})")
        self.loaded.add((schema, name))


class ReferenceData:
    """The reference answers' relations (exported Parquet in the grading cache), read-only."""

    def __init__(self, folder: Path, worker: UntrustedWorker):
        self.folder = folder
        self.worker = worker
        self.warehouse = folder  # kept for checks that pass ``reference=ctx.reference.warehouse``
        self._con: TrustedConnection | None = None

    def connect(self) -> TrustedConnection:
        """A trusted connection whose default catalog is the reference (``main``, ``grader_ref``)."""
        if self._con is None:
            readable = [self.folder, self.worker.trusted, self.worker.inbox]
            con = trusted_connection(self.worker.trusted / "tmp-ref", readable, self.folder)
            self._con = TrustedConnection(con, None, self.folder)
        return self._con

    def available(self) -> bool:
        """True when the grading run exported the reference's relations."""
        return (self.folder / "index.json").is_file()

    def hand_in(self, sql: str) -> Path:
        """The result of grader SQL on the reference as a Parquet file in the worker's inbox."""
        path = self.worker.new_in_file(".parquet")
        con = self.connect()
        con.prepare(sql)
        con.retry(lambda: con.con.execute(f"copy ({sql}) to {_lit(path)} (format parquet)"))
        self.worker.seal_in_file(path)
        return path

    def close(self) -> None:
        """Kept for checks written against a reference warehouse (nothing to unlock)."""


LIVE_WORKERS: set[subprocess.Popen] = set()


def register(proc: subprocess.Popen) -> None:
    """Remember a live worker (``kill_live_workers`` ends them, e.g. from a signal handler)."""
    LIVE_WORKERS.add(proc)


def kill_live_workers() -> None:
    """SIGKILL every worker this process started that is still running."""
    for proc in list(LIVE_WORKERS):
        if proc.poll() is None:
            proc.kill()
        LIVE_WORKERS.discard(proc)


class UntrustedWorker:
    """One confined worker process per submission and the folders it may see.

    ``folder`` (root-owned, 0711): ``stage/`` (workspaces the grader prepared, each given to the
    worker's uid), ``box/`` (the worker's own: home, tmp, forks, exports), ``in/`` (read-only
    inputs the grader hands in, e.g. raw files), ``trusted/`` (0700: Parquet copied out, the
    trusted DuckDB's spill), ``worker.log``.
    """

    def __init__(self, folder: Path, *, level: str, cpu_seconds: float, hide: list[str],
                 zygote: Path | None = None):
        self.folder = folder
        self.level = level
        # the batch's fork server (grader.zygote): a pre-imported worker forked into the same sandbox
        self.zygote = zygote if level == "bubblewrap+uid" else None
        self.own_uid = "uid" in level
        self.uid = isolation.UID_BASE + os.getpid() if self.own_uid else os.getuid()
        self.gid = self.uid if self.own_uid else os.getgid()
        self.stage, self.box, self.inbox, self.trusted = (
            folder / n for n in ("stage", "box", "in", "trusted"))
        self.cpu_seconds = cpu_seconds
        self.hide = hide
        self.proc: subprocess.Popen | None = None
        self.dead: str | None = None
        self.cpu_used = 0.0
        self._names = itertools.count(1)
        self._handed: dict[str, Path] = {}

    # ---- life cycle -----------------------------------------------------------------------------
    def start(self) -> None:
        """Lay out the folders and start the confined worker (it answers ``hello`` with its uid)."""
        os.chmod(self.folder, 0o711)
        modes = ((self.stage, 0o750), (self.inbox, 0o750), (self.trusted, 0o700), (self.box, 0o700))
        for path, mode in modes:
            path.mkdir(exist_ok=True)
            os.chmod(path, mode)
        for sub in ("home", "tmp"):
            (self.box / sub).mkdir(exist_ok=True)
        if self.own_uid:
            closed = [p for p in self.folder.parents if not os.stat(p).st_mode & 0o001]
            if closed and "bubblewrap" not in self.level:
                raise WorkerDied(f"the worker's uid cannot reach its folder ({closed[0]} is closed): "
                                 "set TMPDIR to a folder like /tmp")
            for path in (self.stage, self.inbox):
                os.chown(path, 0, self.gid)
            isolation.chown_tree(self.box, self.uid, self.gid)
        log = open(self.folder / "worker.log", "wb")  # noqa: SIM115 - closed in close()
        self._log = log
        if self.zygote is not None:
            try:
                self.proc = self._fork(self._config(), log)  # type: ignore[assignment]
            except WorkerDied as failed:  # no fork server (it died): a fresh worker, confined the same way
                log.write(f"{failed}: starting the worker afresh\n".encode())
                log.flush()
                self.zygote = None
        if self.zygote is None:
            self.proc = subprocess.Popen(
                self._argv(self._config()), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                cwd=self.box, env=isolation.worker_env(self.box / "home", self.box / "tmp"), close_fds=True,
            )
        register(self.proc)
        hello = self.request("hello")
        if self.own_uid and hello.get("uid") != self.uid:
            raise WorkerDied(f"the worker did not drop to its own uid (runs as {hello.get('uid')})")

    def _config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "stage": str(self.stage), "box": str(self.box), "inbox": str(self.inbox), "parent": os.getpid(),
            "limits": isolation.worker_limits(self.cpu_seconds, self.own_uid),
            "bwrap": "bubblewrap" in self.level,
        }
        if self.own_uid:
            config.update(uid=self.uid, gid=self.gid)
        if self.level == "uid":
            # a closed folder on the way to the interpreter (e.g. /root, 0700) is hidden too: the
            # needed paths are then bound back read-only inside it
            needed = [*isolation.python_paths(), isolation.package_dir(), isolation.core_dir()]
            closed = {str(next(a for a in reversed(p.parents) if not os.stat(a).st_mode & 0o001))
                      for p in needed if any(not os.stat(a).st_mode & 0o001 for a in p.parents)}
            config["hide"] = sorted({*self.hide, *closed})
            config["expose"] = [str(p) for p in isolation.python_paths()] + [
                str(isolation.package_dir()), str(isolation.core_dir()), str(self.folder)]
        return config

    def _argv(self, config: dict[str, Any]) -> list[str]:
        return isolation.launch_command(self.level, config, stage=self.stage, box=self.box, inbox=self.inbox)

    def _fork(self, config: dict[str, Any], log: Any) -> Any:
        """The worker forked by the zygote into this worker's own sandbox (grader.zygote: instructor-only,
        not in the intern edition, so imported by name; only a batch sets ``self.zygote``)."""
        zygote = importlib.import_module("grader.zygote")

        sandbox = isolation.launch_command(self.level, config, stage=self.stage, box=self.box,
                                           inbox=self.inbox, command=zygote.LAUNCHER)
        env = isolation.worker_env(self.box / "home", self.box / "tmp")
        try:
            return zygote.ForkedWorker(self.zygote, sandbox, config, env, log, self.box)
        except zygote.ForkFailed as failed:
            raise WorkerDied(str(failed)) from None

    def probe(self, paths: list[str]) -> dict[str, Any]:
        """Start a worker exactly as for grading (after ``start``), but have it report what it can
        read (``paths``), its uid, environment and limits, then exit: the isolation, tested."""
        config = {**self._config(), "probe": paths}
        if self.zygote is not None:
            with open(self.folder / "probe.log", "wb") as log:
                proc = self._fork(config, log)
                out = proc.stdout.read()
                code = proc.wait(timeout=120)
                proc.stdin.close()
                proc.stdout.close()
            if code != 0:
                text = (self.folder / "probe.log").read_text(errors="replace")
                raise WorkerDied(f"probe failed: {text[-2000:]}")
            return json.loads(out)
        done = subprocess.run(self._argv(config), capture_output=True, cwd=self.box, check=False, timeout=120,
                              env=isolation.worker_env(self.box / "home", self.box / "tmp"))
        if done.returncode != 0:
            raise WorkerDied(f"probe failed: {done.stderr.decode(errors='replace')[-2000:]}")
        return json.loads(done.stdout)

    def close(self) -> None:
        """Ask the worker to quit; kill it if it does not; wait for it."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            if "bubblewrap" in self.level:  # else the grader's rusage of its children has it already
                try:
                    self.cpu_used = float(self.request("stats")["cpu_seconds"])
                except (WorkerDied, WorkerError, ValueError, KeyError):
                    pass
            try:
                self.proc.stdin.write(b'{"op": "quit"}\n')
                self.proc.stdin.flush()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        isolation.close_pipes(self.proc)
        self._log.close()
        LIVE_WORKERS.discard(self.proc)
        self.proc = None

    def log_text(self) -> str:
        """The worker's log (dbt/DuckDB chatter, tracebacks)."""
        path = self.folder / "worker.log"
        return path.read_text(encoding="utf-8", errors="replace")[-200_000:] if path.exists() else ""

    # ---- protocol -------------------------------------------------------------------------------
    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        """Send one request, wait for its reply (timed for the benchmark only: grader.timing)."""
        return timing.measured(self._worker_cpu, self._request, op, fields)

    def _worker_cpu(self) -> float:
        return float(self._request("stats")["cpu_seconds"])

    def _request(self, op: str, **fields: Any) -> dict[str, Any]:
        """Send one request, wait for its reply; WorkerDied when the worker is gone."""
        if self.dead is not None or self.proc is None:
            raise WorkerDied(self.dead or "the worker is not running")
        try:
            self.proc.stdin.write((json.dumps({"op": op, **fields}) + "\n").encode("utf-8"))
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except (BrokenPipeError, OSError):
            line = b""
        if not line:
            try:
                code = self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                code = self.proc.wait()
            self.dead = f"the grading worker died ({isolation.describe_death(code, self.log_text())})"
            raise WorkerDied(self.dead)
        reply = json.loads(line)
        if not reply.get("ok"):
            raise WorkerError(str(reply.get("error", "unknown error")))
        return reply

    # ---- files in and out -----------------------------------------------------------------------
    def stage_workspace(self, name: str, base: Path, files: dict[str, str]) -> RemoteWorkspace:
        """A new workspace (copy of ``base`` + answer files), prepared here before any submitted
        code runs in it, then given to the worker."""
        root = self.stage / name
        ws = Workspace(base).clone(root)
        ws.write_files(files)
        if self.own_uid:
            isolation.chown_tree(root, self.uid, self.gid)
        self.request("open", ws=name, root=str(root))
        return RemoteWorkspace(self, name)

    def hand_in(self, source: Path) -> Path:
        """Copy a trusted file into the worker's read-only inbox (once per source); its path there."""
        key = str(source)
        if key not in self._handed:
            dest = self.inbox / f"i{next(self._names)}{source.suffix}"
            shutil.copyfile(source, dest)
            os.chmod(dest, 0o640)
            if self.own_uid:
                os.chown(dest, 0, self.gid)
            self._handed[key] = dest
        return self._handed[key]

    def new_in_file(self, suffix: str) -> Path:
        """A fresh inbox path for a file the trusted side writes (e.g. COPY ... TO it)."""
        return self.inbox / f"i{next(self._names)}{suffix}"

    def seal_in_file(self, path: Path) -> None:
        """Make a trusted-written inbox file readable by the worker (group) only."""
        os.chmod(path, 0o640)
        if self.own_uid:
            os.chown(path, 0, self.gid)

    def take(self, name: str) -> Path:
        """Copy an export out of the worker's folder into the trusted folder, refusing links."""
        if not re.fullmatch(r"e\d+\.parquet", name or ""):
            raise WorkerError("the worker named an unexpected export file")
        source = self.box / "out" / name
        dest = self.trusted / name
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            info = os.fstat(fd)
            foreign = self.own_uid and info.st_uid != self.uid
            if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1 or foreign:
                raise WorkerError("the export is not a plain file written by the worker")
            with os.fdopen(os.dup(fd), "rb") as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
        finally:
            os.close(fd)
        try:
            os.unlink(source)
        except OSError:
            pass
        return dest


class RemoteWorkspace:
    """A workspace inside the worker, as the trusted side sees it (the check API's ``Workspace``)."""

    def __init__(self, worker: UntrustedWorker, name: str):
        self.worker = worker
        self.name = name
        self.version = 0
        self._manifest: dict | None = None
        self._relations: dict[tuple[str, str], tuple[str, list[str]]] | None = None
        self._con: TrustedConnection | None = None
        self.reference_dir: Path | None = None
        self._raw_files: dict[str, list[Path]] = {}  # raw table -> the files its last load_raw_files read

    def _call(self, op: str, **fields: Any) -> dict[str, Any]:
        return self.worker.request(op, ws=self.name, **fields)

    def _changed(self) -> None:
        self.version += 1
        self._relations = None

    # ---- dbt ------------------------------------------------------------------------------------
    def parse(self) -> DbtOutcome:
        """dbt parse in the worker."""
        self._manifest = None
        return _outcome(self._call("parse"))

    def dbt(self, *args: str) -> DbtOutcome:
        """A dbt command in the worker, e.g. ``ws.dbt("build", "--select", "x")``."""
        try:
            return _outcome(self._call("dbt", args=list(args)))
        finally:
            self._changed()

    def manifest(self) -> dict:
        """manifest.json of the workspace's last parse (parsed in the worker, read here as data)."""
        if self._manifest is None:
            text = self._call("manifest")["text"]
            try:
                self._manifest = json.loads(text)
            except json.JSONDecodeError:
                self._manifest = {}
        return self._manifest

    # ---- files ----------------------------------------------------------------------------------
    def write_files(self, files: dict[str, str]) -> None:
        """Write (grader-made) files into the project (done by the worker); invalidates the parse."""
        self._call("write_files", files=files)
        self._manifest = None

    def read_text(self, path: str) -> str | None:
        """A project file's text as the worker sees it (None when absent)."""
        return self._call("read_text", path=path)["text"]

    def compiled_sql(self, name: str, folder: str = "**") -> str | None:
        """The compiled SQL dbt left for a node (``target/compiled/.../<name>.sql``), or None."""
        paths = self._call("glob", pattern=f"target/compiled/{folder}/{name}.sql")["paths"]
        return self.read_text(paths[0]) if paths else None

    # ---- the warehouse --------------------------------------------------------------------------
    def execute_trusted(self, sql: str) -> None:
        """Grader SQL, read-write, on this workspace's database (run by the worker)."""
        self._raw_files.clear()  # it may have changed a raw table
        self._execute(sql)

    def _execute(self, sql: str) -> None:
        try:
            self._call("execute", sql=sql)
        finally:
            self._changed()

    def load_raw_files(self, table: str, files: list[Path]) -> None:
        """Replace raw table ``vb_raw.<table>`` with the union of trusted Parquet files (handed in).

        When the table holds exactly the files of this workspace's previous load and ``files`` only adds
        files after them (an arrival replay's next day), the new files are appended instead: the same
        rows in the same order, without reading the earlier files again."""
        handed = [self.worker.hand_in(f) for f in files]
        before = self._raw_files.pop(table, None)
        if before is not None and len(files) > len(before) and list(files[:len(before)]) == before:
            listing = ", ".join(_lit(p) for p in handed[len(before):])
            sql = (f"insert into {RAW_SCHEMA}.{_q(table)} by name "
                   f"select * from read_parquet([{listing}], union_by_name = true)")
        else:
            listing = ", ".join(_lit(p) for p in handed)
            sql = (f"create or replace table {RAW_SCHEMA}.{_q(table)} as "
                   f"select * from read_parquet([{listing}], union_by_name = true)")
        self._execute(sql)
        self._raw_files[table] = list(files)

    def relations(self) -> dict[tuple[str, str], tuple[str, list[str]]]:
        """(schema, name) -> (table type, column names), from the worker's catalog."""
        if self._relations is None:
            rows = self._call("relations")["relations"]
            self._relations = {(s.lower(), t.lower()): (k, [c.lower() for c in cols])
                               for s, t, k, cols in rows}
        return self._relations

    def relation_type(self, name: str, schema: str = "main") -> str | None:
        """'BASE TABLE' / 'VIEW' / None."""
        found = self.relations().get((schema.lower(), name.lower()))
        return found[0] if found else None

    def columns(self, name: str, schema: str = "main") -> list[str]:
        """Lower-cased column names of a relation, in order ([] when it does not exist)."""
        found = self.relations().get((schema.lower(), name.lower()))
        return list(found[1]) if found else []

    def export(self, schema: str, name: str) -> Path:
        """A relation as Parquet in the trusted folder (plain scan in the worker)."""
        return self.worker.take(self._call("export", schema=schema, name=name)["file"])

    def export_query(self, sql: str) -> Path:
        """The result of the submission's own SQL (e.g. an analysis), as Parquet in the trusted folder."""
        return self.worker.take(self._call("export_query", sql=sql)["file"])

    def profile(self, sql: str) -> str:
        """EXPLAIN (ANALYZE, FORMAT JSON) of (submission) SQL, run by the worker: the JSON text."""
        return self._call("profile", sql=sql)["profile"]

    def connect(self, reference: Any = None) -> TrustedConnection:
        """The trusted connection for this workspace's current state (``reference`` is ignored: the
        reference is always there as ``grader_ref_db``)."""
        if self._con is None:
            readable = [self.worker.trusted, *([self.reference_dir] if self.reference_dir else [])]
            con = trusted_connection(self.worker.trusted / f"tmp-{self.name}", readable, self.reference_dir)
            self._con = TrustedConnection(con, self, self.reference_dir)
        return self._con

    # ---- forks ----------------------------------------------------------------------------------
    def fork(self, label: str) -> RemoteWorkspace:
        """A private copy (project + warehouse) made by the worker."""
        name = f"{label}-{next(self.worker._names)}"
        self._call("fork", new=name)
        clone = RemoteWorkspace(self.worker, name)
        clone.reference_dir = self.reference_dir
        return clone

    def discard(self) -> None:
        """Delete this fork in the worker."""
        self._call("discard")
        self.close()

    def close(self) -> None:
        """Release the trusted connection of this workspace."""
        if self._con is not None:
            self._con.con.close()
            self._con = None


def _outcome(reply: dict[str, Any]) -> DbtOutcome:
    return DbtOutcome.from_dict(reply)  # checked field by field: the reply comes from the worker


def export_error(error: Exception) -> str:
    """A one-line message for a failed export/query (no paths)."""
    return short_message(str(error), 200)
