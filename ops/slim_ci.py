"""Slim CI: build only what changed (and everything downstream), deferring the rest to prod.

    python -m ops.slim_ci --state dbt_project/warehouse/state/prod

runs `dbt build --select state:modified+ --defer --state <state> --favor-state --target ci`.
Unselected parents resolve to prod's relations, so the prod DuckDB file is ATTACHed
read-only to the ci session under prod's catalog name: the profile used is a copy of the
project's profiles.yml with that `attach` added to the ci output (written to a temp folder;
the project is not modified). `--favor-state` makes deferral ignore stale tables that an
earlier full CI build left in ci.duckdb.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from course_core import manifest as dbt_manifest
from ops.dbt_invoke import OpsError, cli_main, load_manifest, load_run_results, project_dir_of, run_dbt
from ops.deploy import layout_for

UNRENDERED_FLAG = "state_modified_compare_more_unrendered_values"


@dataclass(frozen=True)
class SlimCiResult:
    """Nodes the slim CI run built (sorted unique_ids) and whether all passed."""

    ok: bool
    nodes: list[str]
    statuses: dict[str, str]
    log_tail: str
    warnings: tuple[str, ...] = ()

    @property
    def models(self) -> list[str]:
        return [n for n in self.nodes if n.startswith(("model.", "seed.", "snapshot."))]

    @property
    def tests(self) -> list[str]:
        return [n for n in self.nodes if n.startswith(("test.", "unit_test."))]


def prod_catalog(manifest: dict) -> str:
    """The database (DuckDB catalog) prod's models live in, read from prod's manifest."""
    names = sorted(
        {
            n.get("database")
            for n in dbt_manifest.models(manifest).values()
            if n.get("database")
        }
    )
    if len(names) != 1:
        raise OpsError(f"prod manifest names {len(names)} model databases {names}: expected exactly one")
    return names[0]


def write_ci_profile(project: Path, prod_file: Path, catalog: str, dest: Path, target: str = "ci") -> Path:
    """Copy profiles.yml into dest with prod attached read-only to the `target` output."""
    source = project / "profiles.yml"
    if not source.is_file():
        raise OpsError(f"no profiles.yml in {project}: slim CI needs the project's profiles.yml")
    profiles = yaml.safe_load(source.read_text(encoding="utf-8"))
    outputs = [
        p["outputs"] for p in profiles.values() if isinstance(p, dict) and target in p.get("outputs", {})
    ]
    if not outputs:
        raise OpsError(f"profiles.yml has no '{target}' output: add a {target} target to run slim CI")
    for out in outputs:
        attach = [a for a in out[target].get("attach", []) if a.get("alias") != catalog]
        out[target]["attach"] = [*attach, {"path": str(prod_file), "alias": catalog, "read_only": True}]
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "profiles.yml").write_text(yaml.safe_dump(profiles, sort_keys=False), encoding="utf-8")
    return dest


def flag_warnings(project: Path) -> tuple[str, ...]:
    """Warn when sources would all look modified (each target is its own DuckDB catalog)."""
    config = yaml.safe_load((project / "dbt_project.yml").read_text(encoding="utf-8")) or {}
    if (config.get("flags") or {}).get(UNRENDERED_FLAG) is True:
        return ()
    return (
        f"flags.{UNRENDERED_FLAG} is not true in dbt_project.yml: sources compare their rendered "
        "database (ci vs prod), so every source looks modified and slim CI rebuilds everything",
    )


def built_nodes(run_results: dict) -> tuple[list[str], dict[str, str]]:
    """Sorted unique_ids of the nodes a run executed (skipped ones excluded) and every status."""
    statuses = {r["unique_id"]: r.get("status", "") for r in run_results["results"]}
    return sorted(u for u, s in statuses.items() if s != "skipped"), dict(sorted(statuses.items()))


def run_slim_ci(
    state_dir: str | Path | None = None,
    project_dir: str | Path | None = None,
    warehouse_dir: str | Path | None = None,
    prod_file: str | Path | None = None,
    target: str = "ci",
    select: str = "state:modified+",
) -> SlimCiResult:
    """Run slim CI against `target` and return what it built."""
    project = project_dir_of(project_dir)
    lay = layout_for(project, warehouse_dir)
    state = Path(state_dir).resolve() if state_dir else lay.prod_state
    manifest = load_manifest(state / "manifest.json")
    prod = Path(prod_file).resolve() if prod_file else lay.prod
    if not prod.is_file():
        raise OpsError(
            f"prod warehouse {prod} not found: deploy first (python -m ops.deploy deploy) or pass --prod-file"
        )
    with tempfile.TemporaryDirectory(prefix="slim-ci-") as tmp:
        profiles = write_ci_profile(project, prod, prod_catalog(manifest), Path(tmp) / "profiles", target)
        args = [
            "build",
            "--target",
            target,
            "--select",
            select,
            "--defer",
            "--favor-state",
            "--state",
            str(state),
        ]
        env = {"VB_TARGET": target, "VB_WAREHOUSE_DIR": str(lay.warehouse)}
        result = run_dbt(args, project, Path(tmp) / "target", env=env, profiles_dir=profiles)
        results_path = Path(tmp) / "target" / "run_results.json"
        if not results_path.exists():
            raise OpsError(f"slim CI dbt build did not run: {result.last_lines(1)}")
        nodes, statuses = built_nodes(load_run_results(results_path))
    ok = result.ok and all(s in ("success", "pass", "warn") for s in statuses.values())
    return SlimCiResult(ok, nodes, statuses, result.last_lines(5), flag_warnings(project))


def format_result(res: SlimCiResult) -> str:
    """Sorted list of built nodes, their status, then counts."""
    lines = [f"warning: {w}" for w in res.warnings]
    lines += [f"{res.statuses[n]:8} {n}" for n in res.nodes]
    lines.append(
        f"slim CI built {len(res.nodes)} node(s): {len(res.models)} model(s), {len(res.tests)} test(s); "
        + ("all passed" if res.ok else "FAILED")
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.slim_ci", description=__doc__.splitlines()[0])
    parser.add_argument("--state", help="folder with prod's manifest.json (default <warehouse>/state/prod)")
    parser.add_argument("--project-dir", help="dbt project folder (default: the repo's dbt_project/)")
    parser.add_argument("--warehouse-dir", help="folder of ci.duckdb and prod.duckdb")
    parser.add_argument("--prod-file", help="prod DuckDB file to defer to (default <warehouse>/prod.duckdb)")
    parser.add_argument("--target", default="ci")
    parser.add_argument("--select", default="state:modified+")
    args = parser.parse_args(argv)
    res = run_slim_ci(
        args.state, args.project_dir, args.warehouse_dir, args.prod_file, args.target, args.select
    )
    print(format_result(res))
    if not res.ok:
        print(res.log_tail)
    return 0 if res.ok else 1


if __name__ == "__main__":
    raise SystemExit(cli_main(main))
