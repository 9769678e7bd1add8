"""Vectorized Arrow builders (ids, money, dates) and a byte-deterministic Parquet writer."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

EPOCH_DAY_2024 = 19723  # days from 1970-01-01 to 2024-01-01
US_PER_DAY = 86_400_000_000
ROW_GROUP_SIZE = 262_144


def ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Format integers as 'prefix' + zero-padded number, e.g. ids('C', [1], 7) -> 'C0000001'."""
    digits = pc.utf8_lpad(pc.cast(pa.array(np.asarray(numbers, dtype=np.int64)), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def nullable_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Like ids(), but negative numbers become NULL."""
    numbers = np.asarray(numbers, dtype=np.int64)
    arr = ids(prefix, np.where(numbers < 0, 0, numbers), width)
    return pc.if_else(pa.array(numbers < 0), pa.scalar(None, pa.string()), arr)


def money(cents: np.ndarray, precision: int = 12) -> pa.Array:
    """Integer cents (paise) -> DECIMAL(precision, 2) without any float rounding."""
    cents = np.ascontiguousarray(cents, dtype=np.int64)
    words = np.empty((len(cents), 2), dtype=np.int64)
    words[:, 0] = cents
    words[:, 1] = cents >> 63  # sign extension of the 128-bit two's complement
    return pa.Array.from_buffers(
        pa.decimal128(precision, 2), len(cents), [None, pa.py_buffer(words.tobytes())]
    )


def labels(choices: list[str], index: np.ndarray) -> pa.Array:
    """Pick strings by index (vectorized); a negative index gives NULL."""
    index = np.asarray(index, dtype=np.int32)
    taken = pc.take(pa.array(choices, pa.string()), pa.array(np.where(index < 0, 0, index)))
    if (index < 0).any():
        taken = pc.if_else(pa.array(index < 0), pa.scalar(None, pa.string()), taken)
    return taken


def dates(day_index: np.ndarray) -> pa.Array:
    """Day numbers counted from 2024-01-01 (may be negative) -> DATE."""
    return pa.array((np.asarray(day_index, dtype=np.int64) + EPOCH_DAY_2024).astype(np.int32), pa.date32())


def timestamps(us_since_2024: np.ndarray) -> pa.Array:
    """Microseconds counted from 2024-01-01 00:00:00 -> TIMESTAMP."""
    base = EPOCH_DAY_2024 * US_PER_DAY
    return pa.array(np.asarray(us_since_2024, dtype=np.int64) + base, pa.timestamp("us"))


def write_parquet(table: pa.Table, path: Path) -> None:
    """Write one Parquet file with every setting that affects its bytes pinned."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        table,
        path,
        compression="zstd",
        compression_level=3,
        row_group_size=ROW_GROUP_SIZE,
        use_dictionary=True,
        write_statistics=True,
        version="2.6",
        data_page_version="1.0",
        store_schema=False,
    )


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
