"""The raw folder's `_manifest.json`: the file names, and reading and writing it (stable bytes)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from course_core.cli_errors import UsageError
from datasets.arrowio import sha256_of

MANIFEST = "_manifest.json"
PART = "part-0.parquet"

__all__ = ["MANIFEST", "PART", "file_entry", "read_manifest", "write_manifest"]


def file_entry(path: Path, rows: int) -> dict[str, object]:
    """Manifest entry of one Parquet file."""
    return {"rows": rows, "sha256": sha256_of(path)}


def write_manifest(folder: Path, manifest: dict) -> None:
    """Write _manifest.json (sorted keys, stable bytes) via a temporary file."""
    tmp = folder / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, folder / MANIFEST)


def read_manifest(folder: Path) -> dict:
    """The manifest of a complete raw folder, or a UsageError saying how to make one."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise UsageError(
            f"{folder} has no {MANIFEST} (not a complete raw-data folder); "
            "run: python -m datasets.generate --seed 42 --scale 1 --out datasets/raw"
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"cannot read {path}: {exc}; regenerate the folder with python -m datasets.generate"
        ) from None
