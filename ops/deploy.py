"""Blue/green deployment of the prod DuckDB file: build a candidate, test it, swap it in.

    python -m ops.deploy deploy    # dbt build --target prod into warehouse/prod.candidate.duckdb;
                                   # only if every node passed: prod.duckdb -> prod.previous.duckdb,
                                   # candidate -> prod.duckdb (os.replace, atomic)
    python -m ops.deploy rollback  # swap prod.duckdb and prod.previous.duckdb back (atomic)
    python -m ops.deploy status    # what is live

Prod's artifacts (manifest.json, run_results.json, deploy.json) go to <state>/prod for
slim CI (`--state <state>/prod`); the previous ones to <state>/prod.previous.
A failed build leaves prod.duckdb untouched; the candidate is kept as prod.failed.duckdb.
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
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ops.dbt_invoke import OpsError, cli_main, load_json, load_run_results, project_dir_of, run_dbt
from ops.monitor import archive_run_results

OK_STATUSES = {"success", "pass"}
ARTIFACTS = ("manifest.json", "run_results.json")


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


@dataclass
class DeployResult:
    """Outcome of a deploy: whether it went live, and which nodes did not pass."""

    deployed: bool
    message: str
    problems: list[str] = field(default_factory=list)
    nodes: int = 0


def layout_for(
    project_dir: Path, warehouse_dir: str | Path | None = None, state_dir: str | Path | None = None
) -> Layout:
    """Warehouse: argument, else $VB_WAREHOUSE_DIR (relative to the project), else <project>/warehouse."""
    warehouse = Path(warehouse_dir or os.environ.get("VB_WAREHOUSE_DIR") or "warehouse")
    warehouse = (warehouse if warehouse.is_absolute() else project_dir / warehouse).resolve()
    state = Path(state_dir).resolve() if state_dir else warehouse / "state"
    return Layout(warehouse, state)


def _remove_db(path: Path) -> None:
    for p in (path, Path(f"{path}.wal")):
        p.unlink(missing_ok=True)


@contextmanager
def _deploy_lock(layout: Layout) -> Iterator[None]:
    """One deploy/rollback at a time per warehouse (released automatically if the process dies)."""
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


def _checkpoint(path: Path) -> None:
    """Open the candidate once: proves it is a readable DuckDB file and folds its WAL into it."""
    try:
        with duckdb.connect(str(path)) as con:
            con.execute("CHECKPOINT")
    except duckdb.Error as exc:
        raise OpsError(
            f"candidate {path.name} cannot be opened ({exc}): deploy aborted, prod untouched"
        ) from exc


def _link_or_copy(src: Path, dest: Path) -> None:
    """Make dest the same content as src without ever leaving dest half-written."""
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copy2(src, tmp)
    os.replace(tmp, dest)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _problems(run_results: dict, allow_warn: bool) -> list[str]:
    ok = OK_STATUSES | ({"warn"} if allow_warn else set())
    return sorted(
        f"{r['unique_id']}: {r.get('status')}"
        + (f" ({r['failures']} failing rows)" if r.get("failures") else "")
        for r in run_results["results"]
        if r.get("status") not in ok
    )


def _write_state(src_target: Path, dest: Path, meta: dict) -> None:
    staging = dest.with_name(dest.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in ARTIFACTS:
        if (src_target / name).exists():
            shutil.copyfile(src_target / name, staging / name)
    (staging / "deploy.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(staging, dest)


def _swap_dirs(a: Path, b: Path) -> None:
    tmp = a.with_name(a.name + ".swap")
    shutil.rmtree(tmp, ignore_errors=True)
    if a.exists():
        os.replace(a, tmp)
    if b.exists():
        os.replace(b, a)
    if tmp.exists():
        os.replace(tmp, b)


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
        _check_no_wal(lay.prod)
        _remove_db(lay.candidate)
        build_target = lay.state / ".build-target"
        shutil.rmtree(build_target, ignore_errors=True)
        env = {
            "VB_TARGET": "prod",
            "VB_PROD_DUCKDB_PATH": str(lay.candidate),
            "VB_WAREHOUSE_DIR": str(lay.warehouse),
        }
        args = ["build", "--target", "prod"] + (["--vars", vars_yaml] if vars_yaml else [])
        result = run_dbt(args, project, build_target, env=env)
        results_path = build_target / "run_results.json"
        if not results_path.exists():
            _remove_db(lay.candidate)
            shutil.rmtree(build_target, ignore_errors=True)
            raise OpsError(
                f"dbt build did not run (no run_results.json), prod untouched: {result.last_lines(1)}"
            )
        run = load_run_results(results_path)
        problems = _problems(run, allow_warn)
        if not result.ok and not problems:
            problems = [f"dbt exited with code {result.returncode}: {result.last_lines(1)}"]
        archive_run_results(results_path, lay.history)
        if problems:
            _remove_db(lay.failed)
            if lay.candidate.exists():
                os.replace(lay.candidate, lay.failed)
            if Path(f"{lay.candidate}.wal").exists():
                os.replace(f"{lay.candidate}.wal", f"{lay.failed}.wal")
            _write_state(build_target, lay.failed_state, {"problems": problems})
            (lay.failed_state / "dbt.log").write_text(result.stdout, encoding="utf-8")
            shutil.rmtree(build_target, ignore_errors=True)
            return DeployResult(
                False,
                f"deploy failed: {len(problems)} node(s) did not pass; prod untouched, "
                f"candidate kept as {lay.failed.name}, log in {lay.failed_state}",
                problems,
                len(run["results"]),
            )
        _checkpoint(lay.candidate)
        _check_no_wal(lay.candidate)
        meta = {
            "generated_at": run.get("metadata", {}).get("generated_at"),
            "invocation_id": run.get("metadata", {}).get("invocation_id"),
            "dbt_version": run.get("metadata", {}).get("dbt_version"),
            "nodes": len(run["results"]),
            "sha256": sha256_of(lay.candidate),
        }
        had_prod = lay.prod.exists()
        if had_prod:
            _link_or_copy(lay.prod, lay.previous)
            if lay.prod_state.exists():
                shutil.rmtree(lay.previous_state, ignore_errors=True)
                shutil.copytree(lay.prod_state, lay.previous_state)
        os.replace(lay.candidate, lay.prod)  # the commit point: readers see old or new, never neither
        _write_state(build_target, lay.prod_state, meta)
        shutil.rmtree(build_target, ignore_errors=True)
        kept = f"previous kept as {lay.previous.name}" if had_prod else "first deploy, no previous"
        return DeployResult(
            True,
            f"deployed: {meta['nodes']} nodes passed; live {lay.prod} (sha256 {meta['sha256'][:12]}); {kept}",
            [],
            meta["nodes"],
        )


def rollback(
    project_dir: str | Path | None = None,
    warehouse_dir: str | Path | None = None,
    state_dir: str | Path | None = None,
) -> str:
    """Swap prod and previous (file and artifacts); rolling back twice rolls forward again."""
    lay = layout_for(project_dir_of(project_dir), warehouse_dir, state_dir)
    with _deploy_lock(lay):
        if not lay.previous.exists():
            raise OpsError(f"nothing to roll back to: {lay.previous} does not exist (deploy twice first)")
        _check_no_wal(lay.prod)
        holder = lay.warehouse / "prod.rollback.duckdb"
        if lay.prod.exists():
            _link_or_copy(lay.prod, holder)
        os.replace(lay.previous, lay.prod)  # the commit point
        if holder.exists():
            os.replace(holder, lay.previous)
        _swap_dirs(lay.prod_state, lay.previous_state)
    return f"rolled back: {lay.prod} is now the former previous file (sha256 {sha256_of(lay.prod)[:12]})"


def status(
    project_dir: str | Path | None = None,
    warehouse_dir: str | Path | None = None,
    state_dir: str | Path | None = None,
) -> dict:
    """What is live: prod file, its deploy metadata, whether a previous and a failed candidate exist."""
    lay = layout_for(project_dir_of(project_dir), warehouse_dir, state_dir)

    def describe(path: Path, state: Path) -> dict | None:
        if not path.exists():
            return None
        meta = load_json(state / "deploy.json", "deploy.json") if (state / "deploy.json").exists() else {}
        digest = sha256_of(path)
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
