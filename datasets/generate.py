"""Generate the VyaparBazaar raw data: one Parquet folder per table plus _manifest.json.

    python -m datasets.generate --seed 42 --scale 1 --out datasets/raw [--tables a,b] [--quiet]

Everything is written into a temporary sibling folder that is renamed into place only
after success, so an interrupted run never leaves a folder that looks complete.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from course_core.cli_errors import OneLineParser, UsageError, fail, non_negative_int, positive_float
from datasets.arrowio import write_parquet
from datasets.calendar import AS_OF_DATE
from datasets.manifest import PART, file_entry, write_manifest
from datasets.schema import SCHEMAS, TABLES
from datasets.world import World

GENERATOR_VERSION = 1


def parse_tables(text: str | None) -> list[str]:
    """'a,b' -> ['a', 'b'] in contract order; an unknown name is a UsageError."""
    if not text:
        return list(TABLES)
    wanted = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in wanted if t not in SCHEMAS]
    if unknown or not wanted:
        raise UsageError(
            f"unknown table(s) {', '.join(unknown) or '(none given)'}; choose from: {', '.join(TABLES)}"
        )
    return [t for t in TABLES if t in wanted]


def generate_into(folder: Path, seed: int, scale: float, tables: Iterable[str], log=None) -> dict:
    """Write the tables and then the manifest into `folder` (which must exist); return the manifest."""
    world = World(seed, scale)
    entries: dict[str, dict] = {}
    for name in tables:
        started = time.perf_counter()
        table = world.table(name)
        path = folder / name / PART
        write_parquet(table, path)
        entries[name] = {"rows": table.num_rows, "files": {PART: file_entry(path, table.num_rows)}}
        if log:
            log(f"{name:<20} {table.num_rows:>10,} rows {time.perf_counter() - started:6.2f} s")
    manifest = {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "scale": scale,
        "as_of_date": AS_OF_DATE,
        "edge_cases": False,
        "tables": entries,
        "row_counts": {name: entry["rows"] for name, entry in entries.items()},
    }
    write_manifest(folder, manifest)
    return manifest


def swap_into_place(tmp: Path, out: Path) -> None:
    """Rename `tmp` to `out`; an existing `out` is removed only once the new one is in place."""
    old = out.parent / f"{out.name}.old-{os.getpid()}"
    had_old = out.exists()
    if had_old:
        os.replace(out, old)
    try:
        os.replace(tmp, out)
    except BaseException:
        if had_old and not out.exists():
            os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def generate(
    out: Path,
    seed: int = 42,
    scale: float = 1.0,
    tables: Iterable[str] | None = None,
    edge_cases: bool = False,
    quiet: bool = True,
) -> dict:
    """Generate atomically into `out` (replaced only after success) and return the manifest."""
    if not isinstance(scale, int | float) or not 0 < scale < float("inf"):
        raise UsageError(f"scale must be a number > 0 (e.g. 1 or 0.05), got {scale!r}")
    if not isinstance(seed, int) or seed < 0:
        raise UsageError(f"seed must be a whole number >= 0, got {seed!r}")
    out = Path(out).absolute()
    names = list(tables) if tables is not None else list(TABLES)
    parse_tables(",".join(names))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.parent / f"{out.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
    except OSError as exc:
        raise UsageError(
            f"cannot write to {out.parent} ({exc.strerror}); choose a writable --out folder"
        ) from None
    log = None if quiet else (lambda line: print(f"[datasets] {line}", file=sys.stderr, flush=True))
    try:
        started = time.perf_counter()
        manifest = generate_into(tmp, seed, scale, names, log)
        if edge_cases:
            from datasets.edge_cases import add_edge_cases

            manifest = add_edge_cases(tmp)
        swap_into_place(tmp, out)
        if log:
            total = sum(manifest["row_counts"].values())
            log(f"{'total':<20} {total:>10,} rows {time.perf_counter() - started:6.2f} s -> {out}")
        return manifest
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = OneLineParser(prog="python -m datasets.generate", description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=non_negative_int, default=42, help="random seed (default 42)")
    parser.add_argument("--scale", type=positive_float, default=1.0, help="size factor, 1 = ~60k orders")
    parser.add_argument("--out", type=Path, default=Path("datasets/raw"), help="output folder")
    parser.add_argument("--tables", help=f"comma-separated subset of: {', '.join(TABLES)}")
    parser.add_argument("--edge-cases", action="store_true", help="add the grader's edge-case part files")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    try:
        generate(args.out, args.seed, args.scale, parse_tables(args.tables), args.edge_cases, args.quiet)
    except UsageError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        print("python -m datasets.generate: interrupted; nothing was replaced", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
