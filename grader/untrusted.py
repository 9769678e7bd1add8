"""The untrusted worker: ``python -m grader.untrusted <config-json>`` (started by grader.remote).

Everything that runs a submission's files happens here: dbt parse/build/test/compile, the
intern's tests and analyses, grader SQL over the submission's database, EXPLAIN ANALYZE, and the
export of relations as Parquet. It confines itself first (grader.isolation: die with the
parent, private mounts at the ``uid`` level, rlimits, own uid), then answers one JSON request per
line on stdin with one JSON line on the protocol pipe (its original stdout; stdout and stderr go
to the log). It sees only its workspaces (``stage``), its own folder (``box``: home, tmp, forks,
exports) and read-only inputs (``inbox``); it never gets the reference, the cache or solutions.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from grader import isolation

MAX_TEXT = 8 * 1024 * 1024
# ops that run only grader SQL read-only and may share one open connection (``Worker.reader``);
# every other op closes it first (dbt, writes and submission SQL get their own connection)
READER_OPS = ("export", "relations", "stats", "glob", "read_text")


def _confine(config: dict[str, Any]) -> None:
    isolation.die_with_parent(config.get("parent") if not config.get("bwrap") else None)
    if config.get("hide"):
        isolation.hide_paths(config["hide"], config.get("expose", []))
    isolation.apply_limits(config["limits"])
    if config.get("uid") is not None:
        isolation.drop_privileges(config["uid"], config["gid"])


class Worker:
    """The worker's state: workspaces by name, export counter, paths."""

    def __init__(self, config: dict[str, Any]):
        self.stage = Path(config["stage"])
        self.box = Path(config["box"])
        self.inbox = Path(config["inbox"])
        self.out = self.box / "out"
        self.forks = self.box / "forks"
        self.out.mkdir(exist_ok=True)
        self.forks.mkdir(exist_ok=True)
        self.workspaces: dict[str, Any] = {}
        self.exports = 0
        self._reader: tuple[str, Any] | None = None

    def reader(self, name: str) -> Any:
        """The read-only connection of workspace ``name`` for grader SQL (exports, catalog): kept open
        across consecutive reading ops (opening a DuckDB database costs ~25 ms of CPU each time)."""
        if self._reader is not None and self._reader[0] == name:
            return self._reader[1]
        self.drop_reader()
        con = self._connect(self.ws(name), read_only=True, dirs=[self.out])
        self._reader = (name, con)
        return con

    def drop_reader(self) -> None:
        """Close the shared read-only connection (before dbt, a write or submission SQL)."""
        if self._reader is not None:
            self._reader[1].close()
            self._reader = None

    # ---- helpers --------------------------------------------------------------------------------
    def ws(self, name: str) -> Any:
        if name not in self.workspaces:
            raise KeyError(f"no workspace {name!r}")
        return self.workspaces[name]

    def _connect(self, ws: Any, *, read_only: bool, dirs: list[Path]) -> Any:
        """A connection with file access limited to ``dirs`` and the configuration locked."""
        import duckdb

        from grader.sandbox import duckdb_config

        ws.close()
        config = {k: v for k, v in duckdb_config(ws.temp_dir).items()
                  if k not in ("enable_external_access", "lock_configuration")}
        ws.temp_dir.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(ws.warehouse), read_only=read_only, config=config)
        listing = ", ".join("'" + (str(d).rstrip("/") + "/").replace("'", "''") + "'" for d in dirs)
        con.execute(f"set allowed_directories = [{listing}]")
        con.execute("set enable_external_access = false")
        con.execute("set lock_configuration = true")
        return con

    def _export(self, ws: Any, select: str, con: Any = None) -> dict[str, Any]:
        """``select`` as a Parquet file in ``out`` (on ``con``, the shared reader, or a connection of
        its own that is closed after)."""
        self.exports += 1
        path = self.out / f"e{self.exports}.parquet"
        own = con is None
        con = con or self._connect(ws, read_only=True, dirs=[self.out])
        try:
            con.execute(f"copy (\n{select}\n) to '{path}' (format parquet)")
        finally:
            if own:
                con.close()
        return {"file": path.name}

    # ---- operations -----------------------------------------------------------------------------
    def op_hello(self, _req: dict) -> dict:
        return {"uid": os.getuid(), "gid": os.getgid(), "pid": os.getpid()}

    def op_stats(self, _req: dict) -> dict:
        """CPU seconds used so far (a pid namespace hides them from the grader's rusage)."""
        times = os.times()
        return {"cpu_seconds": times.user + times.system + times.children_user + times.children_system}

    def op_open(self, req: dict) -> dict:
        from grader.workspace import Workspace

        root = Path(req["root"])
        if root.parent != self.stage:
            raise ValueError("workspaces are opened from the stage folder only")
        ws = Workspace(root)
        ws.file_log = False  # no dbt.log: nothing reads it (forks inherit this)
        self.workspaces[req["ws"]] = ws
        return {}

    def op_parse(self, req: dict) -> dict:
        return _outcome(self.ws(req["ws"]).parse())

    def op_dbt(self, req: dict) -> dict:
        return _outcome(self.ws(req["ws"]).dbt(*req["args"]))

    def op_manifest(self, req: dict) -> dict:
        ws = self.ws(req["ws"])
        if ws.session.manifest is None:
            ws.parse()
        path = ws.project_dir / "target" / "manifest.json"
        if not path.is_file() or path.stat().st_size > 8 * MAX_TEXT:
            return {"text": "{}"}
        return {"text": path.read_text(encoding="utf-8", errors="replace")}

    def op_fork(self, req: dict) -> dict:
        name = req["new"]
        self.workspaces[name] = self.ws(req["ws"]).clone(self.forks / name)
        return {}

    def op_discard(self, req: dict) -> dict:
        import shutil

        ws = self.workspaces.pop(req["ws"], None)
        if ws is not None:
            ws.close()
            shutil.rmtree(ws.root, ignore_errors=True)
        return {}

    def op_write_files(self, req: dict) -> dict:
        self.ws(req["ws"]).write_files(req["files"])
        return {}

    def op_execute(self, req: dict) -> dict:
        """Grader SQL, read-write; may read the inbox (raw files the grader handed in)."""
        ws = self.ws(req["ws"])
        con = self._connect(ws, read_only=False, dirs=[self.inbox])
        try:
            con.execute(req["sql"])
            con.execute("checkpoint")
        finally:
            con.close()
        return {}

    def op_relations(self, req: dict) -> dict:
        con = self.reader(req["ws"])
        rows = con.execute("select table_schema, table_name, table_type from information_schema.tables "
                           "where table_catalog = current_database() order by all").fetchall()
        cols = con.execute("select table_schema, table_name, column_name from information_schema.columns "
                           "where table_catalog = current_database() "
                           "order by table_schema, table_name, ordinal_position").fetchall()
        columns: dict[str, list[str]] = {}
        for schema, table, column in cols:
            columns.setdefault(f"{schema}.{table}", []).append(column)
        return {"relations": [[s, t, k, columns.get(f"{s}.{t}", [])] for s, t, k in rows]}

    def op_export(self, req: dict) -> dict:
        """A relation as Parquet: a plain scan (``from schema.name``), no other SQL involved."""
        schema, name = (str(req[k]).replace('"', '""') for k in ("schema", "name"))
        return self._export(self.ws(req["ws"]), f'from "{schema}"."{name}"', self.reader(req["ws"]))

    def op_export_query(self, req: dict) -> dict:
        """The result of the submission's own SQL (an analysis) as Parquet."""
        return self._export(self.ws(req["ws"]), str(req["sql"]).strip().rstrip(";"))

    def op_profile(self, req: dict) -> dict:
        ws = self.ws(req["ws"])
        con = self._connect(ws, read_only=True, dirs=[])
        try:
            row = con.sql(f"explain (analyze, format json) {req['sql']}").fetchall()[0]
        finally:
            con.close()
        return {"profile": str(row[1])}

    def op_read_text(self, req: dict) -> dict:
        ws = self.ws(req["ws"])
        path = (ws.project_dir / req["path"]).resolve()
        if not path.is_relative_to(ws.project_dir.resolve()) or not path.is_file():
            return {"text": None}
        if path.stat().st_size > MAX_TEXT:
            return {"text": None}
        return {"text": path.read_text(encoding="utf-8", errors="replace")}

    def op_glob(self, req: dict) -> dict:
        ws = self.ws(req["ws"])
        found = ws.project_dir.glob(req["pattern"])
        return {"paths": sorted(str(p.relative_to(ws.project_dir)) for p in found)}


def _outcome(outcome: Any) -> dict:
    return outcome.to_dict()  # course_core.dbt_result.DbtOutcome; read back by grader.remote


def probe(paths: list[str]) -> dict[str, Any]:
    """What this (confined) process can read, who it is, its environment and limits."""
    import resource

    readable = {}
    for path in paths:
        try:
            if os.path.isdir(path):
                os.listdir(path)
            else:
                with open(path, "rb") as handle:
                    handle.read(1)
            readable[path] = True
        except OSError:
            readable[path] = False
    limits = {name: resource.getrlimit(getattr(resource, f"RLIMIT_{name.upper()}"))[0]
              for name in ("cpu", "as", "fsize", "nofile", "nproc")}
    return {"readable": readable, "uid": os.getuid(), "gid": os.getgid(), "env": dict(os.environ),
            "limits": limits, "ppid": os.getppid(), "processes": _reach_processes()}


def _reach_processes() -> dict[str, dict[str, Any]]:
    """Every other process this one can see: its command line, and whether it may signal or ptrace it."""
    import ctypes
    import errno

    libc = isolation._libc()
    seen: dict[str, dict[str, Any]] = {}
    for name in sorted(n for n in os.listdir("/proc") if n.isdigit() and int(n) != os.getpid()):
        pid = int(name)
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            cmdline = ""
        try:
            os.kill(pid, 0)
            signal_result = "allowed"
        except OSError as error:
            signal_result = errno.errorcode.get(error.errno or 0, str(error.errno))
        ctypes.set_errno(0)
        if libc.ptrace(16, pid, None, None) == 0:  # PTRACE_ATTACH
            libc.ptrace(17, pid, None, None)  # PTRACE_DETACH
            ptrace_result = "allowed"
        else:
            ptrace_result = errno.errorcode.get(ctypes.get_errno(), "?")
        seen[name] = {"cmdline": cmdline, "signal": signal_result, "ptrace": ptrace_result}
    return seen


def main(argv: list[str]) -> int:
    """Confine, then serve requests until stdin closes or a ``quit`` request."""
    return serve(json.loads(argv[0]), sys.stdin)


def serve(config: dict[str, Any], requests: Any) -> int:
    """Confine, then answer each request line of ``requests`` (also how grader.zygote's forks start)."""
    _confine(config)
    if "probe" in config:
        print(json.dumps(probe(config["probe"])), flush=True)
        return 0
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # anything dbt or DuckDB prints goes to the log, never into the protocol
    sys.stdout = sys.stderr
    os.environ.update(isolation.TELEMETRY_OFF)
    worker = Worker(config)
    for line in requests:
        request = json.loads(line)
        op = request.get("op")
        if op == "quit":
            break
        handler = getattr(worker, f"op_{op}", None)
        try:
            if op not in READER_OPS:
                worker.drop_reader()
            if handler is None:
                raise ValueError(f"unknown operation {op!r}")
            reply = {"ok": True, **handler(request)}
        except Exception as error:  # noqa: BLE001 - reported to the trusted side, which decides
            reply = {"ok": False, "error": f"{type(error).__name__}: {error}"[:2000]}
        protocol.write(json.dumps(reply, default=str) + "\n")
        protocol.flush()
    worker.drop_reader()
    for ws in worker.workspaces.values():
        ws.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
