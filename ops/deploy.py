"""Blue/green deployment of the prod DuckDB file: build a candidate, test it, swap it in.

    python -m ops.deploy deploy    # dbt build --target prod into warehouse/prod.candidate.duckdb;
                                   # only if every node passed: candidate -> prod.duckdb,
                                   # the old prod -> prod.previous.duckdb
    python -m ops.deploy rollback  # the previous release becomes prod, prod becomes previous
    python -m ops.deploy status    # what is live

Crash-safe: a kill at any instant leaves prod.duckdb the old or the new release, byte for
byte; the switch is a write-ahead journal (state/journal.json) that the next deploy,
rollback or status finishes (states and transitions: ops/README.md).
Prod's artifacts (manifest.json, run_results.json, deploy.json) are in <state>/prod for
slim CI (`--state <state>/prod`), the previous ones in <state>/prod.previous: symlinks to
<state>/releases/<sha256 of the release file>.
A failed build leaves prod.duckdb untouched; the candidate is kept as prod.failed.duckdb.
dbt's partial parse of the last deploy is kept in <state>/parse and given to the next deploy of the
same project with the same arguments and VB_*/DBT_* variables: dbt re-parses only the files that
changed (and falls back to a full parse by itself when its own checks fail).
Candidate, previous and failed files keep the catalog name `prod` (DuckDB names the
catalog after the first dot-separated part of the file name), so views still resolve
after a rename. dbt runs in a subprocess: no lock is held after a command returns.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from course_core import settings
from ops import journal as jr
from ops.dbt_invoke import OpsError, cli_main, load_run_results, project_dir_of, run_dbt
from ops.monitor import archive_run_results

OK_STATUSES = {"success", "pass"}
ARTIFACTS = ("manifest.json", "run_results.json")
PARTIAL_PARSE = "partial_parse.msgpack"
SHA = re.compile(r"[0-9a-f]{64}")
_HASHED: dict[tuple, str] = {}


@dataclass(frozen=True)
class Layout:
    """Where the prod files and the deployment state live."""

    warehouse: Path
    state: Path

    @property
    def prod(self) -> Path:
        return self.warehouse / "prod.duckdb"

    @property
    def candidate(self) -> Path:
        return self.warehouse / "prod.candidate.duckdb"

    @property
    def previous(self) -> Path:
        return self.warehouse / "prod.previous.duckdb"

    @property
    def pending(self) -> Path:
        """The outgoing prod (a hard link) until it becomes prod.previous.duckdb."""
        return self.warehouse / "prod.previous.duckdb.pending"

    @property
    def failed(self) -> Path:
        return self.warehouse / "prod.failed.duckdb"

    @property
    def prod_state(self) -> Path:
        return self.state / "prod"

    @property
    def previous_state(self) -> Path:
        return self.state / "prod.previous"

    @property
    def failed_state(self) -> Path:
        return self.state / "failed"

    @property
    def history(self) -> Path:
        return self.state / "history"

    @property
    def releases(self) -> Path:
        return self.state / "releases"

    @property
    def journal(self) -> Path:
        return self.state / "journal.json"

    @property
    def build_target(self) -> Path:
        return self.state / ".build-target"

    @property
    def parse_cache(self) -> Path:
        """dbt's partial parse of the last deploy, and what it was made for (key.json)."""
        return self.state / "parse"


@dataclass
class DeployResult:
    """Outcome of a deploy: whether it went live, and which nodes did not pass."""

    deployed: bool
    message: str
    problems: list[str] = field(default_factory=list)
    nodes: int = 0
    notes: list[str] = field(default_factory=list)


def layout_for(
    project_dir: Path, warehouse_dir: str | Path | None = None, state_dir: str | Path | None = None
) -> Layout:
    """Warehouse: argument, else $VB_WAREHOUSE_DIR (relative to the project), else <project>/warehouse."""
    warehouse = Path(warehouse_dir or settings.warehouse_dir_setting() or "warehouse")
    warehouse = (warehouse if warehouse.is_absolute() else project_dir / warehouse).resolve()
    state = Path(state_dir).resolve() if state_dir else warehouse / "state"
    return Layout(warehouse, state)


def sha256_of(path: Path) -> str:
    """Content hash; remembered per (file, size, mtime) so one command hashes a file once."""
    st = os.stat(path)
    key = (str(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    if key not in _HASHED:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _HASHED[key] = digest.hexdigest()
    return _HASHED[key]


@contextmanager
def _deploy_lock(layout: Layout) -> Iterator[None]:
    """One deploy/rollback at a time per warehouse (released automatically if the process dies)."""
    _HASHED.clear()  # hashes are remembered within one command only
    layout.state.mkdir(parents=True, exist_ok=True)
    with open(layout.state / ".deploy.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise OpsError(
                f"another deploy or rollback is running on {layout.warehouse}: wait for it"
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _check_no_wal(path: Path) -> None:
    if Path(f"{path}.wal").exists():
        raise OpsError(
            f"{path.name}.wal exists (a process has {path.name} open or crashed): close it, then retry"
        )


def _same_file(a: Path, b: Path) -> bool:
    return a.exists() and b.exists() and os.path.samefile(a, b)


# --- releases: immutable artifact folders named by the sha256 of their DuckDB file ---


def _stage_release(lay: Layout, sha: str, meta: dict, artifacts: Path | None = None) -> None:
    """Write <state>/releases/<sha> (artifacts + deploy.json) unless it exists; durable before use."""
    dest = lay.releases / sha
    if dest.is_dir():
        return
    lay.releases.mkdir(parents=True, exist_ok=True)
    tmp = lay.releases / f"{sha}.new"
    jr.remove_tree(tmp)
    tmp.mkdir()
    for name in ARTIFACTS if artifacts else ():
        if (artifacts / name).exists():
            shutil.copyfile(artifacts / name, tmp / name)
            jr.fsync_file(tmp / name)
    jr.write_json(tmp / "deploy.json", {**meta, "sha256": sha})
    jr.rename(tmp, dest)


def _release_meta(pointer: Path) -> dict:
    return jr.read_json(pointer / "deploy.json") or {}


# --- the switch: journal first, then links and renames, each step idempotent ---


def _finish(lay: Layout, entry: dict) -> None:
    """Carry out (or complete, after a crash) the switch the journal records; verify it.

    States by what exists: candidate + no pending -> nothing done yet; candidate + pending ->
    outgoing prod linked; no candidate + pending -> new prod live; neither -> files done.
    """
    new, old = entry["new"], entry.get("old")
    if lay.candidate.exists():
        if old and lay.prod.exists() and not lay.pending.exists():
            jr.link(lay.prod, lay.pending)
        jr.rename(lay.candidate, lay.prod)  # readers see the old release or the new one, never neither
    if lay.pending.exists():
        if _same_file(lay.pending, lay.prod):  # the candidate vanished before the swap: nothing to move
            jr.unlink(lay.pending)
        else:
            jr.rename(lay.pending, lay.previous)
            jr.unlink(lay.pending)  # still there only if it already was prod.previous.duckdb
    live = sha256_of(lay.prod) if lay.prod.exists() else None
    if live != new:
        jr.unlink(lay.journal)
        raise OpsError(
            f"the interrupted {entry['op']} could not be finished: prod.duckdb is {str(live)[:12]}, "
            f"expected {new[:12]}; prod was left as it is"
        )
    if old and (lay.releases / old).is_dir() and lay.previous.exists():
        jr.point(lay.previous_state, f"releases/{old}")
    jr.point(lay.prod_state, f"releases/{new}")
    jr.unlink(lay.journal)
    _collect_releases(lay)


def _collect_releases(lay: Layout) -> None:
    """Remove release folders that neither state pointer uses (and no journal names)."""
    keep = {os.readlink(p).split("/")[-1] for p in (lay.prod_state, lay.previous_state) if p.is_symlink()}
    for release in (
        sorted(lay.releases.glob("*")) if lay.releases.is_dir() and not lay.journal.exists() else ()
    ):
        if release.name not in keep:
            jr.remove_tree(release)


def _finish_committed(lay: Layout, entry: dict) -> None:
    """_finish right after the journal was written; an error now is finished by the next command."""
    try:
        _finish(lay, entry)
    except OSError as exc:
        raise OpsError(
            f"{entry['op']} committed but not finished ({jr.disk_full_cause(exc) or exc}): "
            "the next deploy, rollback or status finishes it"
        ) from exc


def _point_at_file(lay: Layout, file: Path, pointer: Path) -> None:
    """Make a state pointer describe its file (by sha256): repair missing, dangling or wrong ones."""
    if not file.exists():
        jr.remove_tree(pointer)
        return
    sha = sha256_of(file)
    if (lay.releases / sha).is_dir():
        jr.point(pointer, f"releases/{sha}")
    elif not (pointer.is_symlink() and pointer.exists()):  # kept when the file changed since deploy
        jr.remove_tree(pointer)


def _migrate(lay: Layout) -> None:
    """State folders of the older layout (plain folders) become releases named by their sha256."""
    for folder in (lay.prod_state, lay.previous_state, lay.state / "prod.swap"):
        if folder.is_dir() and not folder.is_symlink():
            sha = str(_release_meta(folder).get("sha256", ""))
            if SHA.fullmatch(sha) and not (lay.releases / sha).exists():
                lay.releases.mkdir(parents=True, exist_ok=True)
                jr.rename(folder, lay.releases / sha)
            else:
                jr.remove_tree(folder)


def recover(lay: Layout) -> list[str]:
    """Finish an interrupted deploy/rollback and remove what a crash left behind (call under the lock)."""
    notes: list[str] = []
    _migrate(lay)
    if lay.journal.exists():
        entry = jr.read_json(lay.journal)
        if entry and SHA.fullmatch(str(entry.get("new"))):
            _finish(lay, entry)
            notes.append(f"finished an interrupted {entry.get('op')}: live release is {entry['new'][:12]}")
        else:
            jr.unlink(lay.journal)
            notes.append(f"ignored an unreadable {lay.journal.name}")
    for stray in (lay.pending, lay.warehouse / "prod.rollback.duckdb"):
        if stray.exists() and not lay.previous.exists() and not _same_file(stray, lay.prod):
            jr.rename(stray, lay.previous)
            notes.append(f"{stray.name} (left by a crash) restored as {lay.previous.name}")
        jr.unlink(stray)
    if _same_file(lay.previous, lay.prod):
        jr.unlink(lay.previous)
        notes.append(
            f"{lay.previous.name} was the same file as {lay.prod.name} (left by an older ops.deploy): "
            "removed, there is no rollback target until the next deploy"
        )
    leftovers = [lay.candidate, Path(f"{lay.candidate}.wal"), lay.build_target]
    leftovers += list(lay.warehouse.glob("prod*.tmp")) + list(lay.state.glob("*.tmp"))
    leftovers += list(lay.state.glob("*.new")) + list(lay.releases.glob("*.new"))
    for path in leftovers:
        jr.remove_tree(path) if path.is_dir() and not path.is_symlink() else jr.unlink(path)
    _point_at_file(lay, lay.prod, lay.prod_state)
    _point_at_file(lay, lay.previous, lay.previous_state)
    _collect_releases(lay)
    return notes


# --- disk full ---


def _disk_full(cause: str, where: Path | None, lay: Layout, action: str) -> OpsError:
    """One line: the cause, the folder, what was left as it was, what to do."""
    if where is not None:
        folder = f"{where.parent} (writing {where.name})"
    elif lay.state.is_relative_to(lay.warehouse):
        folder = str(lay.warehouse)
    else:
        folder = f"{lay.warehouse} or {lay.state}"
    remedy = "raise the file-size limit (ulimit -f)" if cause == "file too large" else "free some space there"
    kept = [p.name for p in (lay.prod, lay.previous) if p.exists()]
    left = (
        f"{' and '.join(kept)} left as {'they were' if len(kept) > 1 else 'it was'}"
        if kept
        else "no prod yet"
    )
    return OpsError(
        f"{cause} in {folder}: {action} aborted, {left}, partial files removed; "
        f"{remedy}, then run {action} again"
    )


def _discard(lay: Layout) -> None:
    """Remove a build's partial files (frees the space a full disk needs back)."""
    for path in (lay.candidate, Path(f"{lay.candidate}.wal"), lay.journal.with_name("journal.json.tmp")):
        path.unlink(missing_ok=True)
    shutil.rmtree(lay.build_target, ignore_errors=True)
    for tmp in lay.releases.glob("*.new"):
        shutil.rmtree(tmp, ignore_errors=True)


# --- deploy ---


def _problems(run_results: dict, allow_warn: bool) -> list[str]:
    ok = OK_STATUSES | ({"warn"} if allow_warn else set())
    return sorted(
        f"{r['unique_id']}: {r.get('status')}"
        + (f" ({r['failures']} failing rows)" if r.get("failures") else "")
        for r in run_results["results"]
        if r.get("status") not in ok
    )


def _keep_failed(lay: Layout, problems: list[str], log: str) -> None:
    """The failed candidate -> prod.failed.duckdb, its run results and log -> <state>/failed."""
    for path in (lay.failed, Path(f"{lay.failed}.wal")):
        jr.unlink(path)
    for src, dest in ((lay.candidate, lay.failed), (Path(f"{lay.candidate}.wal"), Path(f"{lay.failed}.wal"))):
        if src.exists():
            jr.rename(src, dest)
    staging = lay.failed_state.with_name("failed.new")
    jr.remove_tree(staging)
    staging.mkdir(parents=True)
    for name in ARTIFACTS:
        if (lay.build_target / name).exists():
            shutil.copyfile(lay.build_target / name, staging / name)
    (staging / "dbt.log").write_text(log, encoding="utf-8")
    jr.write_json(staging / "deploy.json", {"problems": problems})
    jr.remove_tree(lay.failed_state)
    jr.rename(staging, lay.failed_state)


def deploy(
    project_dir: str | Path | None = None,
    warehouse_dir: str | Path | None = None,
    state_dir: str | Path | None = None,
    vars_yaml: str | None = None,
    allow_warn: bool = True,
) -> DeployResult:
    """Build + test prod into a candidate file; swap it in only if every node passed."""
    project = project_dir_of(project_dir)
    lay = layout_for(project, warehouse_dir, state_dir)
    lay.warehouse.mkdir(parents=True, exist_ok=True)
    with _deploy_lock(lay):
        notes = recover(lay)
        _check_no_wal(lay.prod)
        env = {
            "VB_TARGET": "prod",
            "VB_PROD_DUCKDB_PATH": str(lay.candidate),
            "VB_WAREHOUSE_DIR": str(lay.warehouse),
        }
        args = ["build", "--target", "prod"] + (["--vars", vars_yaml] if vars_yaml else [])
        parse_key = _parse_key(project, args, env)
        _reuse_parse(lay, parse_key)
        try:
            result = run_dbt(args, project, lay.build_target, env=env, die_with_parent=True)
        except OSError as exc:
            _discard(lay)
            cause = jr.disk_full_cause(exc)
            if cause:
                raise _disk_full(cause, None, lay, "deploy") from exc
            raise
        results_path = lay.build_target / "run_results.json"
        try:
            run = load_run_results(results_path)
        except OpsError as exc:  # missing, or cut short by a full disk
            run, unreadable = {"results": []}, exc
        else:
            unreadable = None
        said = result.stdout + "\n".join(str(r.get("message") or "") for r in run["results"])
        cause = jr.disk_full_in_text(said)
        if cause:
            _discard(lay)
            raise _disk_full(cause, jr.path_in_text(said), lay, "deploy")
        if unreadable:
            _discard(lay)
            raise OpsError(
                f"dbt build did not run (no readable run_results.json), prod untouched: "
                f"{result.last_lines(1)}"
            ) from unreadable
        _keep_parse(lay, parse_key)
        problems = _problems(run, allow_warn)
        if not result.ok and not problems:
            problems = [f"dbt exited with code {result.returncode}: {result.last_lines(1)}"]
        with _abort_on_full_disk(lay, "deploy"):
            archive_run_results(results_path, lay.history)
            if problems:
                _keep_failed(lay, problems, result.stdout)
                jr.remove_tree(lay.build_target)
                return DeployResult(
                    False,
                    f"deploy failed: {len(problems)} node(s) did not pass; prod untouched, "
                    f"candidate kept as {lay.failed.name}, log in {lay.failed_state}",
                    problems,
                    len(run["results"]),
                    notes,
                )
        new, old = _promote(lay, run)
        kept = f"previous kept as {lay.previous.name}" if old else "first deploy, no previous"
        return DeployResult(
            True,
            f"deployed: {len(run['results'])} nodes passed; live {lay.prod} (sha256 {new[:12]}); {kept}",
            [],
            len(run["results"]),
            notes,
        )


def _parse_key(project: Path, args: list[str], env: dict[str, str]) -> str:
    """What a partial parse is made for: the project folder, dbt's arguments, every VB_*/DBT_* variable
    (but ops' own crash-test hooks)."""
    hooks = (settings.OPS_CRASH_AFTER, settings.OPS_CRASH_TRACE)
    seen = {k: v for k, v in {**os.environ, **env}.items()
            if k.startswith(("VB_", "DBT_")) and k not in hooks}
    return json.dumps({"project": str(project), "args": args, "env": dict(sorted(seen.items()))})


def _reuse_parse(lay: Layout, key: str) -> None:
    """The last deploy's partial parse -> the build's target folder, if it was made for the same key."""
    try:
        if (lay.parse_cache / "key.json").read_text(encoding="utf-8") == key:
            lay.build_target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(lay.parse_cache / PARTIAL_PARSE, lay.build_target / PARTIAL_PARSE)
    except OSError:  # none kept, or no room for it: dbt parses everything
        (lay.build_target / PARTIAL_PARSE).unlink(missing_ok=True)


def _keep_parse(lay: Layout, key: str) -> None:
    """Keep the build's partial parse for the next deploy (best effort: it only saves time)."""
    made, staging = lay.build_target / PARTIAL_PARSE, lay.state / "parse.tmp"  # recover() removes *.tmp
    shutil.rmtree(lay.parse_cache, ignore_errors=True)
    if not made.is_file():
        return
    try:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        os.replace(made, staging / PARTIAL_PARSE)
        (staging / "key.json").write_text(key, encoding="utf-8")
        os.replace(staging, lay.parse_cache)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)


@contextmanager
def _abort_on_full_disk(lay: Layout, action: str, writing: Path | None = None) -> Iterator[None]:
    """Before the commit: a full disk removes the partial files and becomes a one-line OpsError."""
    try:
        yield
    except (OSError, duckdb.Error) as exc:
        cause = jr.disk_full_cause(exc)
        if not cause:
            raise
        _discard(lay)
        where = Path(exc.filename) if isinstance(exc, OSError) and exc.filename else None
        raise _disk_full(cause, writing or where or jr.path_in_text(str(exc)), lay, action) from exc


def _promote(lay: Layout, run: dict) -> tuple[str, str | None]:
    """Make the built candidate live (call under the lock): (new, old) sha256."""
    with _abort_on_full_disk(lay, "deploy"):
        new, old = _prepare_candidate(lay, run)
        jr.write_json(lay.journal, {"op": "deploy", "new": new, "old": old})  # the commit
    _finish_committed(lay, {"op": "deploy", "new": new, "old": old})
    jr.remove_tree(lay.build_target)
    return new, old


def publish(lay: Layout, source: Path, run: dict) -> DeployResult:
    """The second half of deploy for a DuckDB file built and tested elsewhere: copy it in, switch.

    run: its run_results (metadata and the number of nodes go into the release's deploy.json).
    """
    with _deploy_lock(lay):
        notes = recover(lay)
        with _abort_on_full_disk(lay, "deploy", lay.candidate):
            shutil.copyfile(source, lay.candidate)
            jr.step(f"copy {Path(source).name} -> {lay.candidate.name}")
        new, old = _promote(lay, run)
    return DeployResult(
        True, f"published: live {lay.prod} (sha256 {new[:12]})", [], len(run["results"]), notes
    )


def _prepare_candidate(lay: Layout, run: dict) -> tuple[str, str | None]:
    """Checkpoint and fsync the candidate, record it and the outgoing prod as releases: (new, old) sha."""
    try:
        with duckdb.connect(str(lay.candidate)) as con:  # proves it opens; folds its WAL into the file
            con.execute("CHECKPOINT")
    except duckdb.Error as exc:
        if jr.disk_full_in_text(str(exc)):
            raise
        _discard(lay)
        raise OpsError(
            f"candidate {lay.candidate.name} cannot be opened ({exc}): deploy aborted, prod untouched"
        ) from exc
    _check_no_wal(lay.candidate)
    jr.fsync_file(lay.candidate)
    new = sha256_of(lay.candidate)
    metadata = run.get("metadata", {})
    meta = {key: metadata.get(key) for key in ("generated_at", "invocation_id", "dbt_version")}
    _stage_release(lay, new, {**meta, "nodes": len(run["results"])}, lay.build_target)
    old = sha256_of(lay.prod) if lay.prod.exists() else None
    if old:
        _stage_release(lay, old, {"note": "recorded at the next deploy (no deploy record)"})
    return new, old


# --- rollback and status ---


def rollback(
    project_dir: str | Path | None = None,
    warehouse_dir: str | Path | None = None,
    state_dir: str | Path | None = None,
) -> str:
    """The previous release becomes prod and prod becomes previous (rolling back twice rolls forward).

    Verified: the new live file's sha256 equals the recorded previous release, else an error.
    """
    lay = layout_for(project_dir_of(project_dir), warehouse_dir, state_dir)
    with _deploy_lock(lay):
        notes = recover(lay)
        if not lay.previous.exists():
            found = "".join(f"; {note}" for note in notes)
            raise OpsError(
                f"nothing to roll back to: {lay.previous} does not exist (deploy twice first){found}"
            )
        _check_no_wal(lay.prod)
        _check_no_wal(lay.previous)
        want = sha256_of(lay.previous)
        if _release_meta(lay.releases / want).get("sha256") != want:
            raise OpsError(
                f"{lay.previous.name} (sha256 {want[:12]}) is not a recorded release (it changed since it "
                "was deployed): rollback refused, nothing changed"
            )
        old = sha256_of(lay.prod) if lay.prod.exists() else None
        if old == want:
            raise OpsError(
                f"{lay.previous.name} has the same content as {lay.prod.name}: nothing to roll back"
            )
        with _abort_on_full_disk(lay, "rollback", lay.candidate):
            shutil.copyfile(lay.previous, lay.candidate)  # its own file: previous is never prod's inode
            jr.fsync_file(lay.candidate)
            jr.step(f"copy {lay.previous.name} -> {lay.candidate.name}")
            if sha256_of(lay.candidate) != want:
                _discard(lay)
                raise OpsError(
                    f"the copy of {lay.previous.name} differs from it: rollback aborted, nothing changed"
                )
            if old:
                _stage_release(lay, old, {"note": "recorded at rollback (no deploy record)"})
            jr.write_json(lay.journal, {"op": "rollback", "new": want, "old": old})  # the commit
        _finish_committed(lay, {"op": "rollback", "new": want, "old": old})
    lines = [f"rolled back: {lay.prod} is now the former previous file (sha256 {want[:12]})"]
    return "\n".join(lines + [f"note: {note}" for note in notes])


def status(
    project_dir: str | Path | None = None,
    warehouse_dir: str | Path | None = None,
    state_dir: str | Path | None = None,
) -> dict:
    """What is live: prod file, its deploy metadata, whether a previous and a failed candidate exist.

    Finishes an interrupted deploy/rollback first (when none is running), so the state is the truth.
    """
    lay = layout_for(project_dir_of(project_dir), warehouse_dir, state_dir)
    notes: list[str] = []
    if lay.state.is_dir():
        try:
            with _deploy_lock(lay):
                notes = recover(lay)
        except OpsError as exc:  # busy: another command holds the lock
            notes = [str(exc)]
        except OSError as exc:  # e.g. a read-only warehouse: describe the files as they are
            notes = [f"could not check for an interrupted deploy ({exc}); showing the files as they are"]

    def describe(path: Path, pointer: Path) -> dict | None:
        if not path.exists():
            return None
        digest = sha256_of(path)
        meta = _release_meta(pointer)
        if meta.get("sha256") != digest:  # a switch in progress: describe the file by its content
            meta = _release_meta(lay.releases / digest) or meta
        return {
            "file": str(path),
            "bytes": path.stat().st_size,
            "sha256": digest[:12],
            "deployed_at": meta.get("generated_at"),
            "nodes": meta.get("nodes"),
            "matches_deploy": meta.get("sha256") == digest if meta else None,
        }

    return {
        "prod": describe(lay.prod, lay.prod_state),
        "previous": describe(lay.previous, lay.previous_state),
        "failed": str(lay.failed) if lay.failed.exists() else None,
        "state": str(lay.prod_state),
        "notes": notes,
    }


def format_status(info: dict) -> str:
    """Readable status lines."""
    lines = []
    for key in ("prod", "previous"):
        item = info[key]
        if item is None:
            lines.append(f"{key:8}: none")
        else:
            changed = "" if item["matches_deploy"] in (True, None) else " (changed since deploy)"
            lines.append(
                f"{key:8}: {item['file']} sha256 {item['sha256']} {item['bytes']} bytes, "
                f"deployed_at {item['deployed_at']}, {item['nodes']} nodes{changed}"
            )
    lines.append(f"failed  : {info['failed'] or 'none'}")
    lines.append(f"state   : {info['state']} (use --state {info['state']} for slim CI)")
    lines += [f"note    : {note}" for note in info.get("notes", [])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.deploy", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["deploy", "rollback", "status"])
    parser.add_argument("--project-dir", help="dbt project folder (default: the repo's dbt_project/)")
    parser.add_argument(
        "--warehouse-dir", help="folder of prod.duckdb (default $VB_WAREHOUSE_DIR or warehouse)"
    )
    parser.add_argument("--state-dir", help="deployment state folder (default <warehouse>/state)")
    parser.add_argument("--vars", help="YAML passed to dbt build --vars (deploy only)")
    parser.add_argument("--strict", action="store_true", help="deploy: tests with severity warn also block")
    args = parser.parse_args(argv)
    if args.command == "deploy":
        outcome = deploy(args.project_dir, args.warehouse_dir, args.state_dir, args.vars, not args.strict)
        for note in outcome.notes:
            print(f"note: {note}")
        print(outcome.message)
        for problem in outcome.problems:
            print(f"  {problem}")
        return 0 if outcome.deployed else 1
    if args.command == "rollback":
        print(rollback(args.project_dir, args.warehouse_dir, args.state_dir))
        return 0
    print(format_status(status(args.project_dir, args.warehouse_dir, args.state_dir)))
    return 0


if __name__ == "__main__":
    raise SystemExit(cli_main(main))
