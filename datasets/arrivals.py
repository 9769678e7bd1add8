"""Clickstream arrivals for exercise 5.2: "the next day" of events, after the base load.

    python -m datasets.arrivals --raw datasets/raw --day 1        # writes arrival-day-001.parquet
    python -m datasets.arrivals --raw datasets/raw --through 3    # days 1..3
    python -m datasets.arrivals --raw datasets/raw --reset        # removes every arrival file

Day N holds events with _loaded_at on 2026-01-01 + (N-1): new events (event ids that never
collide with the base or another day), ~5% late events (event_timestamp 1-5 days before
_loaded_at), re-deliveries of events already delivered (base load and day N-1), and a few
exact duplicate rows inside the file. A day depends only on (manifest seed, scale, N).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from course_core.cli_errors import OneLineParser, UsageError, fail
from datasets.arrowio import EPOCH_DAY_2024, timestamps, write_parquet
from datasets.calendar import (
    N_DAYS,
    US_PER_DAY,
    US_PER_HOUR,
    US_PER_SECOND,
    day_weights,
    time_of_day_us,
    weights_for,
)
from datasets.manifest import PART, read_manifest
from datasets.schema import SCHEMAS
from datasets.sessions import SessionSpec, build_sessions, pick_weighted
from datasets.world import World, clickstream_arrow, stream

MAX_DAY = 999
EVENT_BASE = 5_000_000_000  # arrival event ids E5DDDnnnnnn (base ids stay far below)
EVENT_BLOCK = 1_000_000  # event ids per arrival day
SESSION_BASE = 500_000_000  # arrival session ids S5DDDnnnnn
SESSION_BLOCK = 100_000
LATE_SHARE = 0.05


def arrival_path(raw_dir: Path, day: int) -> Path:
    """raw/clickstream/arrival-day-NNN.parquet."""
    return Path(raw_dir) / "clickstream" / f"arrival-day-{day:03d}.parquet"


def check_day(day: int) -> int:
    """Validate a day number (1..999)."""
    if not isinstance(day, int | np.integer) or not 1 <= int(day) <= MAX_DAY:
        raise UsageError(f"--day must be a whole number from 1 to {MAX_DAY}, got {day!r}")
    return int(day)


def new_events(world: World, day: int) -> dict[str, np.ndarray]:
    """Fresh events of arrival day `day` (no re-deliveries), with _loaded_at on that day."""
    rng = stream(world.seed, f"arrival-{day}")
    c, p = world.customers, world.products
    day_index = N_DAYS + day - 1  # days since 2024-01-01
    # As many sessions as the season model gives an ordinary day of the history: the base has
    # 5 sessions per order (1 buying + 4 browsing), spread over the days by day_weights().
    n = max(20, int(round(5 * world.n_orders * weights_for([day_index])[0] / day_weights().sum())))
    logged_in = rng.random(n) < 0.62
    w = c["activity"] + 0.25
    who = rng.choice(world.n_customers, size=n, p=w / w.sum())
    depth = rng.choice(5, size=n, p=[0.33, 0.38, 0.16, 0.07, 0.06])
    counts = np.where(depth == 4, np.minimum(1 + rng.poisson(1.4, n), 8), 0)
    bought = pick_weighted(rng, np.full(int(counts.sum()), day_index), p["popularity"], p["launch_day"])
    spec = SessionSpec(
        start_us=day_index * US_PER_DAY + time_of_day_us(rng, n),
        customer=np.where(logged_in, who, -1),
        depth=depth,
        purchase_counts=counts,
        purchase_products=bought,
        anchor_us=np.full(n, -1, np.int64),
    )
    ev = build_sessions(
        rng,
        spec,
        world.view_weights(),
        p["launch_day"],
        event_base=EVENT_BASE + day * EVENT_BLOCK + 1,
        session_base=SESSION_BASE + day * SESSION_BLOCK + 1,
    )
    day_end = (day_index + 1) * US_PER_DAY - 1
    delay = ((1 + np.minimum(rng.exponential(45.0, len(ev["ts"])), 1800.0)) * US_PER_SECOND).astype(np.int64)
    ev["loaded"] = np.minimum(ev["ts"] + delay, day_end)
    late_session = np.zeros(n, bool)
    late_session[rng.choice(n, size=max(1, int(round(n * LATE_SHARE))), replace=False)] = True
    shift = rng.integers(US_PER_DAY, 5 * US_PER_DAY, size=n)
    session = ev["session_no"] - (SESSION_BASE + day * SESSION_BLOCK + 1)
    # A late session happened 1-5 days before it was delivered today.
    ev["ts"] = np.where(late_session[session], ev["ts"] - shift[session], ev["ts"])
    keep = ev["ts"] <= ev["loaded"]
    return {k: v[keep] for k, v in ev.items()}


def _redeliver(table: pa.Table, rng: np.random.Generator, share: float, day_index: int) -> pa.Table:
    """A random `share` of `table` rows, delivered again at a random time of day `day_index`."""
    if table.num_rows == 0:
        return table
    k = max(1, int(round(table.num_rows * share)))
    rows = np.sort(rng.choice(table.num_rows, size=min(k, table.num_rows), replace=False))
    picked = table.take(pa.array(rows))
    when = day_index * US_PER_DAY + rng.integers(0, 24 * US_PER_HOUR, size=len(rows))
    loaded = np.maximum(
        when, picked["_loaded_at"].cast(pa.int64()).to_numpy() - EPOCH_DAY_2024 * US_PER_DAY + 1
    )
    return picked.set_column(picked.schema.get_field_index("_loaded_at"), "_loaded_at", timestamps(loaded))


def arrival_table(raw_dir: Path, day: int) -> pa.Table:
    """The full contents of arrival day `day` for the raw folder `raw_dir`."""
    day = check_day(day)
    manifest = read_manifest(raw_dir)
    world = World(int(manifest["seed"]), float(manifest["scale"]))
    base_path = Path(raw_dir) / "clickstream" / PART
    if not base_path.is_file():
        raise UsageError(
            f"{base_path} is missing; regenerate with python -m datasets.generate --out {raw_dir}"
        )
    rng = stream(world.seed, f"arrival-duplicates-{day}")
    fresh = clickstream_arrow(new_events(world, day))
    day_index = N_DAYS + day - 1
    n_fresh = fresh.num_rows
    base = pq.read_table(base_path)
    parts = [fresh, _redeliver(base, rng, 0.01 * n_fresh / max(base.num_rows, 1), day_index)]
    if day > 1:
        previous = clickstream_arrow(new_events(world, day - 1))
        parts.append(_redeliver(previous, rng, 0.01, day_index))
    table = pa.concat_tables(parts)
    exact = np.sort(rng.choice(table.num_rows, size=max(2, table.num_rows // 500), replace=False))
    table = pa.concat_tables([table, table.take(pa.array(exact))])
    order = pc.sort_indices(table, sort_keys=[("_loaded_at", "ascending"), ("event_id", "ascending")])
    return table.take(order).cast(SCHEMAS["clickstream"])


def write_arrival(raw_dir: Path | str, day: int) -> Path:
    """Write (or rewrite, byte-identically) arrival-day-NNN.parquet; return its path."""
    table = arrival_table(Path(raw_dir), day)
    path = arrival_path(Path(raw_dir), day)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write_parquet(table, tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise UsageError(f"cannot write {path} ({exc.strerror}); check the folder is writable") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_arrivals_through(raw_dir: Path | str, last_day: int) -> list[Path]:
    """Write arrival days 1..last_day."""
    return [write_arrival(raw_dir, d) for d in range(1, check_day(last_day) + 1)]


def reset_arrivals(raw_dir: Path | str) -> int:
    """Remove every arrival file of `raw_dir`; return how many were removed."""
    read_manifest(Path(raw_dir))
    files = sorted((Path(raw_dir) / "clickstream").glob("arrival-day-*.parquet"))
    for f in files:
        f.unlink()
    return len(files)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = OneLineParser(prog="python -m datasets.arrivals", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--raw", type=Path, default=Path("datasets/raw"), help="raw folder (with _manifest.json)"
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--day", type=int, help="write arrival day N (1 = 2026-01-01)")
    what.add_argument("--through", type=int, help="write arrival days 1..N")
    what.add_argument("--reset", action="store_true", help="remove all arrival files")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    say = (lambda line: None) if args.quiet else (lambda line: print(f"[arrivals] {line}", file=sys.stderr))
    try:
        if args.reset:
            say(f"removed {reset_arrivals(args.raw)} arrival file(s) from {args.raw / 'clickstream'}")
            return 0
        days = [check_day(args.day)] if args.day is not None else range(1, check_day(args.through) + 1)
        for d in days:
            started = time.perf_counter()
            path = write_arrival(args.raw, d)
            rows = pq.read_metadata(path).num_rows
            say(f"{path.name}: {rows:,} rows {time.perf_counter() - started:.2f} s")
    except UsageError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        print(
            "python -m datasets.arrivals: interrupted; finished days are complete, no partial file",
            file=sys.stderr,
        )
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
