"""Check that the schedule tiers (selectors hourly / daily / weekly) respect the DAG.

Each tier's models come from `dbt ls --selector <tier>`; parents from the manifest.
A model is correctly scheduled when every model parent is in the same tier (dbt orders
it inside the run) or in a tier that runs at least as often and starts at least
`min_gap` minutes before every run of the model's tier. Also reported: models in no
tier (never refreshed) and models in several tiers.

    python -m ops.schedule                                  # the real project
    python -m ops.schedule --move mart_inventory_status=hourly   # what-if (the seed's table)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ops.dbt_invoke import QUIET_ENV, OpsError, cli_main, load_manifest, project_dir_of


@dataclass(frozen=True)
class Tier:
    """A schedule: runs every `period` minutes, `offset` minutes after the period starts.

    Periods are anchored at Monday 00:00, so weekly offset 240 = Monday 04:00.
    """

    name: str
    period: int
    offset: int

    def describe(self) -> str:
        if self.period == 60:
            return f"every hour at :{self.offset:02d}"
        days = self.period // 1440
        hh, mm = divmod(self.offset % 1440, 60)
        if days == 1:
            return f"every day at {hh:02d}:{mm:02d}"
        weekday = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
        return f"every {weekday[self.offset // 1440 % 7]} at {hh:02d}:{mm:02d}"


TIERS = (Tier("hourly", 60, 15), Tier("daily", 1440, 60), Tier("weekly", 10080, 240))


@dataclass(frozen=True)
class Finding:
    """One scheduling problem."""

    kind: str  # unscheduled | several_tiers | parent_less_frequent | parent_not_earlier
    model: str
    detail: str


def min_lead(parent: Tier, child: Tier) -> int:
    """Smallest number of minutes between a parent-tier start and the next child-tier start."""
    runs = math.lcm(parent.period, child.period) // child.period
    return min((child.offset + k * child.period - parent.offset) % parent.period for k in range(runs))


def model_parents(manifest: dict) -> dict[str, list[str]]:
    """Model -> model parents (ephemeral parents replaced by their own model parents)."""
    nodes = manifest["nodes"]

    def resolve(uid: str, seen: frozenset[str]) -> set[str]:
        node = nodes.get(uid, {})
        if node.get("config", {}).get("materialized") != "ephemeral" or uid in seen:
            return {uid}
        found: set[str] = set()
        for p in manifest["parent_map"].get(uid, []):
            if p.startswith("model."):
                found |= resolve(p, seen | {uid})
        return found

    result = {}
    for uid, node in nodes.items():
        if node.get("resource_type") != "model":
            continue
        parents: set[str] = set()
        for p in manifest["parent_map"].get(uid, []):
            if p.startswith("model."):
                parents |= resolve(p, frozenset({uid}))
        result[uid] = sorted(parents)
    return dict(sorted(result.items()))


def validate(
    parents: dict[str, list[str]],
    membership: dict[str, set[str]],
    tiers: tuple[Tier, ...] = TIERS,
    min_gap: int = 30,
    ephemeral: set[str] | frozenset[str] = frozenset(),
) -> list[Finding]:
    """All scheduling problems, sorted by model then kind."""
    by_name = {t.name: t for t in tiers}
    unknown = sorted(set(membership) - set(by_name))
    if unknown:
        raise OpsError(f"tiers {unknown} have no schedule: known tiers are {sorted(by_name)}")
    tier_of: dict[str, list[str]] = {}
    for tier_name, models in membership.items():
        for uid in models:
            tier_of.setdefault(uid, []).append(tier_name)
    findings = []
    for uid in sorted(parents):
        tiers_here = sorted(tier_of.get(uid, []), key=lambda n: by_name[n].period)
        if not tiers_here:
            if uid not in ephemeral:
                findings.append(Finding("unscheduled", uid, "in no tier: it is never refreshed"))
            continue
        if len(tiers_here) > 1:
            findings.append(Finding("several_tiers", uid, f"in tiers {tiers_here}: built more than once"))
        child = by_name[tiers_here[-1]]  # the least frequent run is the one reading the stalest parent
        for parent in parents[uid]:
            parent_tiers = tier_of.get(parent, [])
            if not parent_tiers or child.name in parent_tiers:
                continue  # unscheduled parents are reported on their own line
            best = min((by_name[n] for n in parent_tiers), key=lambda t: t.period)
            if best.period > child.period:
                findings.append(
                    Finding(
                        "parent_less_frequent",
                        uid,
                        f"{child.name} model reads {parent} refreshed only {best.name}",
                    )
                )
            elif (lead := min_lead(best, child)) < min_gap:
                findings.append(
                    Finding(
                        "parent_not_earlier",
                        uid,
                        f"{child.name} run starts {lead} min after {best.name} parent {parent} "
                        f"starts (need >= {min_gap} min)",
                    )
                )
    return sorted(findings, key=lambda f: (f.model, f.kind, f.detail))


# One dbt process for every tier: parse once, then `dbt ls --selector <tier>` in-process on that
# manifest (dbt's own selection), instead of one process (start-up and parse) per tier.
_LIST_TIERS = """
import json, sys
from course_core.dbt_invoke import skip_rfc3987_import
skip_rfc3987_import()  # the light start-up every dbt process of the course gets (course_core.dbt_cli)
from dbt.cli.main import dbtRunner
project, target_path, tiers = sys.argv[1], sys.argv[2], sys.argv[3:]
common = ["--project-dir", project, "--profiles-dir", project, "--target-path", target_path,
          "--log-path", target_path + "/logs", "--quiet"]
parsed = dbtRunner().invoke(["parse", *common])
if not parsed.success:
    sys.exit("dbt parse failed: " + " ".join(str(parsed.exception or "see the output above").split()))
runner = dbtRunner(manifest=parsed.result)
for tier in tiers:
    res = runner.invoke(["ls", "--selector", tier, "--resource-type", "model", "--output", "json",
                         "--output-keys", "unique_id", *common])
    if not res.success:
        said = " ".join(str(res.exception or "see its output").split())
        sys.exit(f"dbt ls --selector {tier} failed: {said}")
    models = [json.loads(line)["unique_id"] for line in res.result]
    print("TIER " + json.dumps({"tier": tier, "models": models}), flush=True)
"""


def tier_membership(
    project_dir: str | Path | None = None,
    tiers: tuple[Tier, ...] = TIERS,
) -> tuple[dict[str, set[str]], dict]:
    """Models of each tier (`dbt ls --selector`, one dbt process for all tiers) and the manifest
    dbt wrote while parsing."""
    project = project_dir_of(project_dir)
    if not (project / "selectors.yml").is_file():
        raise OpsError(
            f"no selectors.yml in {project}: define one selector per tier ({[t.name for t in tiers]})"
        )
    membership = {}
    with tempfile.TemporaryDirectory(prefix="ops-schedule-") as tmp:
        done = subprocess.run(
            [sys.executable, "-c", _LIST_TIERS, str(project), tmp, *(t.name for t in tiers)],
            cwd=project, env={**os.environ, **QUIET_ENV}, capture_output=True, text=True, check=False,
        )
        for line in done.stdout.splitlines():
            if line.startswith("TIER {"):
                listed = json.loads(line[5:])
                membership[listed["tier"]] = set(listed["models"])
        if done.returncode or len(membership) != len(tiers):
            said = [line for line in (done.stdout + "\n" + done.stderr).splitlines()
                    if line.strip() and not line.startswith(("TIER {", "{"))]
            raise OpsError(said[-1] if said else f"dbt exited with code {done.returncode}")
        manifest = load_manifest(Path(tmp) / "manifest.json")
    return membership, manifest


def apply_moves(membership: dict[str, set[str]], moves: dict[str, str]) -> dict[str, set[str]]:
    """What-if: move models (by name) into another tier."""
    moved = {tier: set(models) for tier, models in membership.items()}
    for name, tier in moves.items():
        if tier not in moved:
            raise OpsError(f"--move {name}={tier}: unknown tier, use one of {sorted(moved)}")
        hits = {uid for models in moved.values() for uid in models if uid.split(".")[-1] == name}
        if not hits:
            raise OpsError(f"--move {name}={tier}: no model named {name} in any tier")
        for models in moved.values():
            models -= hits
        moved[tier] |= hits
    return moved


def format_report(
    membership: dict[str, set[str]], findings: list[Finding], tiers: tuple[Tier, ...] = TIERS
) -> str:
    """Tiers with their models, then findings."""
    lines = []
    for tier in tiers:
        models = sorted(u.split(".")[-1] for u in membership.get(tier.name, set()))
        lines.append(f"{tier.name} ({tier.describe()}): {len(models)} model(s)")
        lines += [f"  {m}" for m in models]
    lines += [f"{f.kind}: {f.model.split('.')[-1]}: {f.detail}" for f in findings]
    lines.append(
        f"{len(findings)} scheduling problem(s)" if findings else "schedule OK: every parent is fresh in time"
    )
    return "\n".join(lines)


def check_project(
    project_dir: str | Path | None = None, moves: dict[str, str] | None = None, min_gap: int = 30
) -> tuple[dict[str, set[str]], list[Finding]]:
    """Tier membership of the project (after what-if moves) and its scheduling problems."""
    membership, manifest = tier_membership(project_dir)
    membership = apply_moves(membership, moves or {})
    ephemeral = {
        u for u, n in manifest["nodes"].items() if n.get("config", {}).get("materialized") == "ephemeral"
    }
    return membership, validate(model_parents(manifest), membership, TIERS, min_gap, ephemeral)


def _parse_moves(items: list[str]) -> dict[str, str]:
    moves = {}
    for item in items:
        name, sep, tier = item.partition("=")
        if not sep or not name or not tier:
            raise OpsError(f"--move '{item}' must look like MODEL=TIER, e.g. mart_inventory_status=hourly")
        moves[name] = tier
    return moves


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.schedule", description=__doc__.splitlines()[0])
    parser.add_argument("--project-dir", help="dbt project folder (default: the repo's dbt_project/)")
    parser.add_argument("--move", action="append", default=[], metavar="MODEL=TIER", help="what-if move")
    parser.add_argument("--min-gap", type=int, default=30, help="minutes a parent tier must start before")
    args = parser.parse_args(argv)
    membership, findings = check_project(args.project_dir, _parse_moves(args.move), args.min_gap)
    print(format_report(membership, findings))
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(cli_main(main))
