"""The two-year calendar: as-of date, day weights (growth, weekly rhythm, festival season)."""

from __future__ import annotations

import numpy as np

AS_OF_DATE = "2025-12-31"
N_DAYS = 731  # 2024-01-01 .. 2025-12-31 (2024 is a leap year)
US_PER_SECOND = 1_000_000
US_PER_HOUR = 3_600 * US_PER_SECOND
US_PER_DAY = 24 * US_PER_HOUR
CUTOFF_US = N_DAYS * US_PER_DAY - 1  # 2025-12-31 23:59:59.999999, in microseconds from 2024-01-01

_DAY = np.arange(N_DAYS, dtype=np.int64)
_DATES = np.datetime64("2024-01-01") + _DAY
MONTH = (_DATES.astype("datetime64[M]").astype(np.int64) % 12) + 1  # 1..12
YEAR = _DATES.astype("datetime64[Y]").astype(np.int64) + 1970
WEEKDAY = (_DAY + 0) % 7  # 2024-01-01 was a Monday: 0 = Monday .. 6 = Sunday

# Relative busyness by hour of day (IST): quiet nights, lunch and evening peaks.
HOUR_WEIGHTS = np.array([2, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 7, 8, 8, 7, 6, 6, 7, 8, 9, 10, 11, 9, 5], float)


def weights_for(days: np.ndarray) -> np.ndarray:
    """Relative volume of the given days (days since 2024-01-01, also past the as-of date).

    ~45%/year growth, weekend lift, Sep-Nov festival peak (October, Diwali, the highest).
    """
    days = np.asarray(days, dtype=np.int64)
    dates = np.datetime64("2024-01-01") + days
    month = (dates.astype("datetime64[M]").astype(np.int64) % 12) + 1
    growth = 1.0 + 0.9 * days / (N_DAYS - 1)
    weekly = np.array([0.92, 0.9, 0.93, 0.97, 1.05, 1.2, 1.18])[days % 7]
    festival = np.where(np.isin(month, (9, 10, 11)), 1.6, 1.0)
    festival = festival * np.where(month == 10, 1.25, 1.0)
    return growth * weekly * festival


def day_weights() -> np.ndarray:
    """Relative order volume of each day of the history (``weights_for`` every day)."""
    return weights_for(_DAY)


def truncated_day_sample(rng: np.random.Generator, lower_day: np.ndarray) -> np.ndarray:
    """One day per element from day_weights(), restricted to days >= lower_day (inverse CDF)."""
    w = day_weights()
    cdf = np.cumsum(w) / w.sum()
    lo = np.clip(np.asarray(lower_day), 0, N_DAYS - 1)
    start = np.where(lo > 0, cdf[lo - 1], 0.0)
    u = start + rng.random(len(lo)) * (1.0 - start)
    return np.minimum(np.searchsorted(cdf, u, side="right"), N_DAYS - 1).astype(np.int64)


def time_of_day_us(rng: np.random.Generator, n: int) -> np.ndarray:
    """Microseconds after midnight following HOUR_WEIGHTS, whole seconds."""
    hours = rng.choice(24, size=n, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    return hours * US_PER_HOUR + rng.integers(0, 3600, size=n) * US_PER_SECOND
