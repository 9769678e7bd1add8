"""Clickstream sessions shaped like funnels, built for all sessions at once (no per-row loop).

A session walks landing (page_view/search) -> product_view -> cart_add (-> cart_remove)
-> checkout -> purchase, stopping at its `depth` (0 landing only .. 4 purchase).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datasets import reference as ref
from datasets.calendar import US_PER_DAY, US_PER_HOUR, US_PER_SECOND

LAND, VIEW, CART_ADD, CART_REMOVE, CHECKOUT, PURCHASE = range(6)
# event_type / page_type codes of kinds VIEW.. PURCHASE (see world.EVENT_TYPES / PAGE_TYPES)
KIND_EVENT = np.array([0, 2, 3, 4, 5, 6])
KIND_PAGE = np.array([0, 3, 3, 4, 5, 6])
BROWSER_NAMES = sorted({b for names, _ in ref.BROWSERS.values() for b in names})


@dataclass
class SessionSpec:
    """Per-session inputs; purchase_products lists the purchased products session by session."""

    start_us: np.ndarray
    customer: np.ndarray  # -1 = anonymous
    depth: np.ndarray
    purchase_counts: np.ndarray
    purchase_products: np.ndarray
    anchor_us: np.ndarray  # time of the purchase event, -1 = use start_us


def pick_weighted(
    rng: np.random.Generator, day: np.ndarray, weights: np.ndarray, launch_day: np.ndarray
) -> np.ndarray:
    """Products drawn by weight; a product not launched yet on `day` is redrawn among older ones."""
    prod = rng.choice(len(weights), size=len(day), p=weights / weights.sum())
    bad = launch_day[prod] > day
    if bad.any():
        legacy = np.where(launch_day < 0, weights, 0.0)
        prod[bad] = rng.choice(len(weights), size=int(bad.sum()), p=legacy / legacy.sum())
    return prod


def loaded_at_delays(rng: np.random.Generator, n: int) -> np.ndarray:
    """Load delay in microseconds: mostly seconds-minutes, ~2% hours, ~0.5% 1-5 days."""
    u = rng.random(n)
    fast = (1 + np.minimum(rng.exponential(45.0, n), 1800.0)) * US_PER_SECOND
    hours = rng.uniform(1, 12, n) * US_PER_HOUR
    days = rng.uniform(1, 5, n) * US_PER_DAY
    return np.select([u < 0.975, u < 0.995], [fast, hours], days).astype(np.int64)


def _ranks(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(session index, rank within session) for `counts[s]` events of each session."""
    sess = np.repeat(np.arange(len(counts)), counts)
    rank = np.arange(len(sess)) - np.repeat(np.cumsum(counts) - counts, counts)
    return sess, rank


def build_sessions(
    rng: np.random.Generator,
    spec: SessionSpec,
    weights: np.ndarray,
    launch_day: np.ndarray,
    event_base: int = 1,
    session_base: int = 1,
) -> dict[str, np.ndarray]:
    """All events of all sessions, numbered by time from event_base / session_base."""
    n = len(spec.depth)
    depth, pc = spec.depth, spec.purchase_counts
    n_land = 1 + np.minimum(rng.poisson(0.8, n), 4)
    n_view = np.where(depth >= 1, np.maximum(pc, 1 + np.minimum(rng.poisson(2.0, n), 10)), 0)
    n_add = np.where(depth >= 2, np.where(pc > 0, pc, np.minimum(1 + (rng.random(n) < 0.3), n_view)), 0)
    n_remove = ((depth >= 2) & (rng.random(n) < 0.2)).astype(np.int64)
    n_checkout = (depth >= 3).astype(np.int64)
    counts = [n_land, n_view, n_add, n_remove, n_checkout, np.where(depth >= 4, pc, 0)]
    parts = [(*_ranks(c), np.full(int(c.sum()), k)) for k, c in enumerate(counts)]
    sess, rank, kind = (np.concatenate([p[i] for p in parts]) for i in range(3))
    order = np.lexsort((rank, kind, sess))
    sess, rank, kind = sess[order], rank[order], kind[order]
    total = sum(counts)
    first = np.cumsum(total) - total
    m = len(sess)

    # event and page types
    event_type, page_type = KIND_EVENT[kind].copy(), KIND_PAGE[kind].copy()
    land = kind == LAND
    u = rng.random(m)
    entry = np.select([u < 0.5, u < 0.7], [0, 2], 1)  # home / category / search page
    browse = np.where(u < 0.5, 2, 1)
    page = np.where(rank == 0, entry, browse)
    page_type = np.where(land, page, page_type)
    event_type = np.where(land, np.where(page == 1, 1, 0), event_type)

    # time: gaps within a session; purchase sessions end at their order's timestamp
    gap = ((3 + np.minimum(rng.exponential(35.0, m), 600.0)) * US_PER_SECOND).astype(np.int64)
    gap = np.where((kind == PURCHASE) & (rank > 0), rng.integers(0, US_PER_SECOND, m), gap)
    gap[first] = 0
    csum = np.cumsum(gap)
    rel = csum - csum[first][sess]
    pre_purchase = n_land + n_view + n_add + n_remove + n_checkout
    anchored = spec.anchor_us >= 0
    purchase_idx = np.minimum(first + pre_purchase, m - 1)
    start = np.where(anchored, np.maximum(spec.anchor_us - rel[purchase_idx], 0), spec.start_us)
    ts = start[sess] + rel

    # products: view slots (purchased products first), cart adds/removes reuse viewed ones
    pp_offset = np.cumsum(pc) - pc
    product = np.full(m, -1, np.int64)
    views = np.flatnonzero(kind == VIEW)
    random_pick = pick_weighted(rng, ts[views] // US_PER_DAY, weights, launch_day)
    from_order = rank[views] < pc[sess[views]]
    bought = (
        spec.purchase_products[
            np.minimum(pp_offset[sess[views]] + rank[views], max(len(spec.purchase_products) - 1, 0))
        ]
        if len(spec.purchase_products)
        else random_pick
    )
    product[views] = np.where(from_order, bought, random_pick)
    adds = np.flatnonzero(kind == CART_ADD)
    product[adds] = product[first[sess[adds]] + n_land[sess[adds]] + rank[adds]]
    removes = np.flatnonzero(kind == CART_REMOVE)
    product[removes] = product[first[sess[removes]] + n_land[sess[removes]] + n_view[sess[removes]]]
    buys = np.flatnonzero(kind == PURCHASE)
    product[buys] = spec.purchase_products[pp_offset[sess[buys]] + rank[buys]]

    # device and browser per session
    device = rng.choice(len(ref.DEVICES), size=n, p=ref.DEVICE_WEIGHTS)
    browser = np.zeros(n, np.int64)
    for d, name in enumerate(ref.DEVICES):  # three devices, vectorized inside
        names, w = ref.BROWSERS[name]
        lookup = np.array([BROWSER_NAMES.index(b) for b in names])
        mask = device == d
        browser[mask] = lookup[rng.choice(len(names), size=int(mask.sum()), p=np.array(w) / sum(w))]

    session_rank = np.empty(n, np.int64)
    session_rank[np.lexsort((np.arange(n), start))] = np.arange(n)
    session_no = session_rank[sess] + session_base
    event_order = np.lexsort((np.arange(m), session_no, ts))
    event_no = np.empty(m, np.int64)
    event_no[event_order] = np.arange(m) + event_base
    # narrow dtypes: later gathers over millions of events move far fewer bytes
    return {
        "event_no": event_no,
        "session_no": session_no.astype(np.int32),
        "customer": spec.customer.astype(np.int32)[sess],
        "ts": ts,
        "event_type": event_type.astype(np.int8),
        "page_type": page_type.astype(np.int8),
        "product": product.astype(np.int32),
        "device": device.astype(np.int8)[sess],
        "browser": browser.astype(np.int8)[sess],
    }
