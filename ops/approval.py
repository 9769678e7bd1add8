"""A manual approval gate before production: prod is deployed only from code a person approved.

The approval is for one exact version of the dbt project: its fingerprint is the sha256 of every
file of the project (paths and bytes; not target/, logs/, warehouse/), so any change after the
approval - one character of one model - needs a new approval. Approvals live beside the deploy
state: ``<warehouse>/state/approvals/<fingerprint>.json`` (who, why).

On GitHub the same gate is a deploy job with ``environment: production`` whose protection rule
requires a reviewer; this module is the gate for a scheduler or a person deploying by hand:

    python -m ops.approval status  --project-dir dbt_project --warehouse-dir dbt_project/warehouse
    python -m ops.approval approve --by "Asha (analytics lead)" --note "COD flag, reviewed in PR 12"
    python -m ops.approval deploy     # ops.deploy.deploy, only when this exact code is approved
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from course_core import settings
from ops.dbt_invoke import OpsError, cli_main

SKIPPED = {"target", "logs", "warehouse", "dbt_packages", "__pycache__", ".ipynb_checkpoints"}


class ApprovalRequired(OpsError):
    """The code to deploy has no approval."""


@dataclass(frozen=True)
class Approval:
    """Who approved which version of the project, and why."""

    fingerprint: str
    approved_by: str
    note: str


def fingerprint(project_dir: str | Path) -> str:
    """sha256 over the project's files (relative path and content), in path order."""
    root = Path(project_dir)
    if not (root / "dbt_project.yml").is_file():
        raise OpsError(f"{root} has no dbt_project.yml: pass the dbt project folder")
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root)
        if set(relative.parts) & SKIPPED or path.suffix in (".duckdb", ".wal", ".tmp"):
            continue
        digest.update(relative.as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _folder(warehouse_dir: str | Path) -> Path:
    return Path(warehouse_dir) / "state" / "approvals"


def approve(project_dir: str | Path, warehouse_dir: str | Path, by: str, note: str = "") -> Approval:
    """Record that ``by`` approved the project as it is now."""
    if not by.strip():
        raise OpsError("an approval needs a name: --by 'who approves'")
    approval = Approval(fingerprint(project_dir), by.strip(), note.strip())
    folder = _folder(warehouse_dir)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"{approval.fingerprint}.json.tmp"
    tmp.write_text(json.dumps(approval.__dict__, indent=2) + "\n")
    os.replace(tmp, folder / f"{approval.fingerprint}.json")
    return approval


def approval_of(project_dir: str | Path, warehouse_dir: str | Path) -> Approval | None:
    """The approval of the project as it is now, or None."""
    path = _folder(warehouse_dir) / f"{fingerprint(project_dir)}.json"
    return Approval(**json.loads(path.read_text())) if path.is_file() else None


def require_approval(project_dir: str | Path, warehouse_dir: str | Path) -> Approval:
    """The approval of the project as it is now; ApprovalRequired (nothing deployed) without one."""
    found = approval_of(project_dir, warehouse_dir)
    if found is None:
        raise ApprovalRequired(
            f"no approval for this version of the project (fingerprint {fingerprint(project_dir)[:12]}): "
            "nothing was deployed. A reviewer approves it with: python -m ops.approval approve --by NAME"
        )
    return found


def gated_deploy(project_dir: str | Path, warehouse_dir: str | Path, **deploy_options):
    """ops.deploy.deploy, only for approved code (raises ApprovalRequired before building anything)."""
    from ops import deploy as ops_deploy

    require_approval(project_dir, warehouse_dir)
    return ops_deploy.deploy(project_dir, warehouse_dir, **deploy_options)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.approval", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("status", "approve", "deploy"))
    parser.add_argument("--project-dir", default="dbt_project")
    default_warehouse = settings.warehouse_dir_setting()
    if default_warehouse is None:
        default_warehouse = "dbt_project/warehouse"
    parser.add_argument("--warehouse-dir", default=default_warehouse)
    parser.add_argument("--by", default="", help="who approves (approve)")
    parser.add_argument("--note", default="", help="why, e.g. the pull request (approve)")
    args = parser.parse_args(argv)
    if args.action == "approve":
        found = approve(args.project_dir, args.warehouse_dir, args.by, args.note)
        print(f"approved {found.fingerprint[:12]} by {found.approved_by}")
        return 0
    if args.action == "status":
        found = approval_of(args.project_dir, args.warehouse_dir)
        print(f"approved by {found.approved_by}" if found else "not approved")
        return 0 if found else 1
    result = gated_deploy(args.project_dir, args.warehouse_dir)
    print(f"deployed: {result.deployed}")
    return 0 if result.deployed else 1


if __name__ == "__main__":
    raise SystemExit(cli_main(main))
