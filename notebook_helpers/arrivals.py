"""Replay clickstream arrivals (exercise 5.2) into the raw folder in use; no DuckDB lock needed.

Thin wrappers over ``datasets.arrivals.write_arrival`` / ``reset_arrivals`` for ``raw_dir()``
(``VB_RAW_DIR`` or ``<repo>/datasets/raw``).
"""

from __future__ import annotations

from course_core.settings import raw_dir
from notebook_helpers.errors import HelperError


def _check_raw() -> None:
    raw = raw_dir()
    if not (raw / "_manifest.json").exists():
        raise HelperError(f"No raw data in {raw}: run `make data` (or `make lab`) first.")


def replay_arrival(day: int) -> None:
    """Add clickstream arrival day ``day`` (1 = 2026-01-01) to the raw folder; print file and rows."""
    import pyarrow.parquet as pq

    from course_core.cli_errors import UsageError
    from datasets import arrivals

    _check_raw()
    try:
        path = arrivals.write_arrival(raw_dir(), arrivals.check_day(day))
    except UsageError as error:
        raise HelperError(str(error).replace("--day", "day")) from None
    rows = pq.read_metadata(path).num_rows
    print(f"arrival day {day}: {path.parent.name}/{path.name} ({rows:,} events)")


def reset_arrivals() -> None:
    """Remove every replayed arrival file: the raw folder is back to its generated state."""
    from course_core.cli_errors import UsageError
    from datasets import arrivals

    _check_raw()
    try:
        removed = arrivals.reset_arrivals(raw_dir())
    except UsageError as error:
        raise HelperError(str(error)) from None
    print(f"removed {removed} arrival file(s)")
