"""The simulated marketplace: every raw table as numpy arrays, built lazily and vectorized.

Each table draws from its own random stream (PCG64 seeded by (seed, table name)), so a
subset of tables is byte-identical to the same tables of a full run.
"""

from __future__ import annotations

import zlib
from functools import cached_property

import numpy as np
import pyarrow as pa

from datasets import reference as ref
from datasets.arrowio import dates, ids, labels, money, nullable_ids, timestamps
from datasets.calendar import (
    CUTOFF_US,
    MONTH,
    N_DAYS,
    US_PER_DAY,
    US_PER_HOUR,
    US_PER_SECOND,
    YEAR,
    day_weights,
    time_of_day_us,
    truncated_day_sample,
)
from datasets.sessions import BROWSER_NAMES, SessionSpec, build_sessions, loaded_at_delays, pick_weighted

CITY_NAMES = [c[0] for c in ref.CITIES]
CITY_STATES = [c[1] for c in ref.CITIES]
CITY_W = np.array([c[2] for c in ref.CITIES]) / sum(c[2] for c in ref.CITIES)
STATUSES = ["delivered", "shipped", "processing", "cancelled", "returned"]
DELIVERED, SHIPPED, PROCESSING, CANCELLED, RETURNED = range(5)


def stream(seed: int, name: str) -> np.random.Generator:
    """An independent, reproducible random stream for one component."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, zlib.crc32(name.encode())])))


def scaled(base: float, scale: float, minimum: int) -> int:
    """Linear size with a sane floor."""
    return max(minimum, int(round(base * scale)))



def signed_up_by(signup: np.ndarray, weight: np.ndarray, day: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Per day, a customer signed up by that day, drawn with probability proportional to ``weight``.

    ``u`` holds one uniform draw per day. Where nobody eligible has weight yet (tiny scales), the
    first customer with weight is taken; the callers' ``max(day, signup)`` safety nets apply.
    """
    by_signup = np.argsort(signup, kind="stable")
    cum = np.cumsum(weight[by_signup])
    eligible = np.searchsorted(signup[by_signup], day, side="right")
    eligible = np.maximum(eligible, np.searchsorted(cum, 0.0, side="right") + 1)
    pick = np.searchsorted(cum, u * cum[eligible - 1], side="right")
    return by_signup[np.minimum(pick, len(signup) - 1)]

class World:
    """All raw tables of one (seed, scale); attributes are computed on first use."""

    def __init__(self, seed: int, scale: float) -> None:
        self.seed, self.scale = seed, scale
        self.n_customers = scaled(20_000, scale, 200)
        self.n_products = scaled(2_000, scale, 60)
        self.n_orders = scaled(60_000, scale, 400)
        self.n_campaigns = scaled(40, scale, 6)

    # ------------------------------------------------------------------ customers
    @cached_property
    def customers(self) -> dict[str, np.ndarray]:
        rng = stream(self.seed, "customers")
        n = self.n_customers
        sizes = rng.choice([1, 2, 3], size=n, p=[0.95, 0.035, 0.015])
        person_of_row = np.repeat(np.arange(n), sizes)[:n]
        n_people = person_of_row[-1] + 1
        person_label = rng.permutation(n_people)  # U-numbers not in customer order
        person = person_label[person_of_row][rng.permutation(n)]
        city_of_person = rng.choice(len(CITY_NAMES), size=n_people, p=CITY_W)
        signup = truncated_day_sample(rng, np.zeros(n, dtype=np.int64))
        early = rng.random(n) < 0.35  # joined before the history window
        signup = np.where(early, -rng.integers(1, 500, size=n), signup)
        active = rng.random(n) < 0.80
        activity = np.where(active, rng.lognormal(0.0, 0.9, size=n), 0.0)
        return {
            "person": person,
            "city": city_of_person[person],
            "signup_day": signup,
            "active": active,
            "activity": activity,
        }

    def customers_table(self) -> pa.Table:
        c = self.customers
        n = self.n_customers
        return pa.table(
            {
                "customer_id": ids("C", np.arange(1, n + 1), 7),
                "customer_unique_id": ids("U", c["person"] + 1, 7),
                "customer_city": labels(CITY_NAMES, c["city"]),
                "customer_state": labels(CITY_STATES, c["city"]),
                "signup_date": dates(c["signup_day"]),
            }
        )

    # ------------------------------------------------------------------ products
    @cached_property
    def products(self) -> dict[str, np.ndarray]:
        rng = stream(self.seed, "products")
        n = self.n_products
        cats = list(ref.CATEGORIES)
        cat_w = np.array([0.22, 0.24, 0.15, 0.12, 0.08, 0.07, 0.07, 0.05])
        cat = rng.choice(len(cats), size=n, p=cat_w)
        sub = np.empty(n, dtype=np.int64)
        brand = np.empty(n, dtype=np.int64)
        base_price = np.empty(n)
        for k, name in enumerate(cats):  # one loop per category, vectorized inside
            subs, brands, typical = ref.CATEGORIES[name]
            m = cat == k
            sub[m] = rng.integers(0, len(subs), size=m.sum())
            brand[m] = rng.integers(0, len(brands), size=m.sum())
            base_price[m] = typical
        rupees = np.maximum(49, np.round(base_price * rng.lognormal(0, 0.55, size=n) / 10) * 10 - 1)
        list_cents = rupees.astype(np.int64) * 100
        cost_ratio = rng.uniform(0.55, 0.82, size=n)
        cost_cents = np.round(list_cents * cost_ratio).astype(np.int64)
        launch = np.where(
            rng.random(n) < 0.78, -rng.integers(30, 1200, size=n), rng.integers(0, N_DAYS - 30, size=n)
        )
        # Zipf-like popularity on a random ranking; ~7% of products never sell.
        rank = rng.permutation(n) + 1
        popularity = 1.0 / rank**0.9
        never_sold = rng.random(n) < 0.07
        popularity = np.where(never_sold, 0.0, popularity)
        never_reviewed = rng.random(n) < 0.06
        poor_quality = rng.random(n) < 0.15
        model = rng.integers(100, 999, size=n)
        return {
            "cat": cat,
            "sub": sub,
            "brand": brand,
            "list_cents": list_cents,
            "cost_cents": cost_cents,
            "launch_day": launch,
            "popularity": popularity,
            "never_reviewed": never_reviewed,
            "poor_quality": poor_quality,
            "model": model,
        }

    def products_table(self) -> pa.Table:
        p = self.products
        n = self.n_products
        cats = list(ref.CATEGORIES)
        sub_names, brand_names, sub_idx, brand_idx = [], [], np.empty(n, np.int64), np.empty(n, np.int64)
        for k, name in enumerate(cats):
            subs, brands, _ = ref.CATEGORIES[name]
            m = p["cat"] == k
            sub_idx[m] = p["sub"][m] + len(sub_names)
            brand_idx[m] = p["brand"][m] + len(brand_names)
            sub_names += subs
            brand_names += brands
        brand = labels(brand_names, brand_idx)
        sub = labels(sub_names, sub_idx)
        model = pa.array(p["model"]).cast(pa.string())
        name = pa.compute.binary_join_element_wise(brand, sub, model, " ")
        return pa.table(
            {
                "product_id": ids("P", np.arange(1, n + 1), 6),
                "product_name": name,
                "product_category": labels(cats, p["cat"]),
                "product_subcategory": sub,
                "brand": brand,
                "list_price": money(p["list_cents"]),
                "launch_date": dates(p["launch_day"]),
            }
        )

    # ------------------------------------------------------------------ orders and items
    @cached_property
    def orders(self) -> dict[str, np.ndarray]:
        rng = stream(self.seed, "orders")
        c = self.customers
        signup = c["signup_day"]
        # every active customer orders soon after signing up ...
        first_cust = np.flatnonzero(c["active"])
        soon = np.maximum(signup[first_cust], 0) + rng.geometric(0.04, len(first_cust)) - 1
        first_day = np.where(
            signup[first_cust] < 0, truncated_day_sample(rng, np.zeros(len(first_cust), int)), soon
        )
        # ... unless "soon" falls after the as-of date: a recent sign-up who has not ordered yet.
        # (Clipping those first orders to the last day would pile them onto 2025-12-31.)
        in_window = first_day <= N_DAYS - 1
        first_cust, first_day = first_cust[in_window], first_day[in_window]
        # ... and the other orders follow the calendar, from customers already signed up that day.
        n_more = max(self.n_orders - len(first_cust), 0)
        w = day_weights()
        more_day = np.sort(rng.choice(N_DAYS, size=n_more, p=w / w.sum()))
        more_cust = signed_up_by(signup, c["activity"], more_day, rng.random(n_more))
        cust = np.concatenate([first_cust, more_cust])
        day = np.maximum(np.concatenate([first_day, more_day]), signup[cust])  # safety net for tiny scales
        tod = time_of_day_us(rng, len(cust))
        tod = np.where(day == 0, np.maximum(tod, 3 * US_PER_HOUR), tod)
        ts = day * US_PER_DAY + tod
        order = np.lexsort((cust, ts))  # order ids follow time
        cust, day, ts = cust[order], day[order], ts[order]
        age = (N_DAYS - 1) - day
        u = rng.random(len(day))
        status = np.select(
            [age <= 2, age <= 9],
            [
                np.select([u < 0.55, u < 0.90], [PROCESSING, SHIPPED], CANCELLED),
                np.select([u < 0.55, u < 0.90, u < 0.97], [SHIPPED, DELIVERED, CANCELLED], PROCESSING),
            ],
            np.select([u < 0.87, u < 0.94], [DELIVERED, CANCELLED], RETURNED),
        )
        n_items = np.minimum(1 + rng.poisson(1.4, size=len(day)), 8)
        return {"customer": cust, "day": day, "ts": ts, "status": status, "n_items": n_items}

    @cached_property
    def items(self) -> dict[str, np.ndarray]:
        rng = stream(self.seed, "order_items")
        o, p = self.orders, self.products
        order = np.repeat(np.arange(self.n_orders), o["n_items"])
        day = o["day"][order]
        prod = pick_weighted(rng, day, p["popularity"], p["launch_day"])
        festival = np.isin(MONTH[day], (9, 10, 11))
        discount = rng.beta(2.0, 9.0, size=len(order)) + np.where(festival, 0.07, 0.0)
        list_c, cost_c = p["list_cents"][prod], p["cost_cents"][prod]
        price = np.round(list_c * (1.0 - discount) / 100).astype(np.int64) * 100
        price = np.maximum(price, cost_c + 100)  # normal lines keep a margin
        loss = rng.random(len(order)) < 0.03  # clearance / pricing errors sell below cost
        price = np.where(
            loss, np.floor(cost_c * rng.uniform(0.8, 0.97, size=len(order))).astype(np.int64), price
        )
        return {"order": order, "product": prod, "price": price, "cost": cost_c, "day": day}

    def order_totals(self) -> np.ndarray:
        it = self.items
        starts = np.concatenate([[0], np.cumsum(self.orders["n_items"])[:-1]])
        return np.add.reduceat(it["price"], starts)  # every order has at least one item

    def orders_table(self) -> pa.Table:
        o = self.orders
        return pa.table(
            {
                "order_id": ids("O", np.arange(1, self.n_orders + 1), 8),
                "customer_id": ids("C", o["customer"] + 1, 7),
                "order_date": dates(o["day"]),
                "order_timestamp": timestamps(o["ts"]),
                "order_status": labels(STATUSES, o["status"]),
                "order_total": money(self.order_totals()),
            }
        )

    def order_items_table(self) -> pa.Table:
        it = self.items
        return pa.table(
            {
                "order_item_id": ids("OI", np.arange(1, len(it["order"]) + 1), 9),
                "order_id": ids("O", it["order"] + 1, 8),
                "product_id": ids("P", it["product"] + 1, 6),
                "price": money(it["price"]),
                "cost_price": money(it["cost"]),
            }
        )

    # ------------------------------------------------------------------ payments
    def payments_table(self) -> pa.Table:
        rng = stream(self.seed, "payments")
        total = self.order_totals()
        n = self.n_orders
        method = rng.choice(len(ref.PAYMENT_METHODS), size=n, p=ref.PAYMENT_WEIGHTS)
        split = (rng.random(n) < 0.08) & (total >= 200)
        wallet_part = np.floor(total * rng.uniform(0.1, 0.5, size=n) / 100).astype(np.int64) * 100
        wallet_part = np.clip(wallet_part, 100, np.maximum(total - 100, 100))
        second = rng.choice([0, 1, 2, 5], size=n, p=[0.6, 0.2, 0.12, 0.08])  # upi/cards/net banking
        first_amount = np.where(split, wallet_part, total)
        order = np.concatenate([np.arange(n), np.flatnonzero(split)])
        seq = np.concatenate([np.ones(n, np.int32), np.full(split.sum(), 2, np.int32)])
        meth = np.concatenate([np.where(split, 4, method), second[split]])
        amount = np.concatenate([first_amount, (total - wallet_part)[split]])
        sort = np.lexsort((seq, order))
        order, seq, meth, amount = order[sort], seq[sort], meth[sort], amount[sort]
        return pa.table(
            {
                "payment_id": ids("PY", np.arange(1, len(order) + 1), 9),
                "order_id": ids("O", order + 1, 8),
                "payment_sequential": pa.array(seq, pa.int32()),
                "payment_method": labels(ref.PAYMENT_METHODS, meth),
                "payment_amount": money(amount),
            }
        )

    # ------------------------------------------------------------------ clickstream
    def view_weights(self) -> np.ndarray:
        """Browsing is less concentrated than buying; never-sold products still get views."""
        pop = self.products["popularity"]
        return (pop + pop.max() * 0.002) ** 0.8

    @cached_property
    def clickstream(self) -> dict[str, np.ndarray]:
        rng = stream(self.seed, "clickstream")
        o, it, c = self.orders, self.items, self.customers
        n_buy = self.n_orders
        n_browse = 4 * self.n_orders
        logged_in = rng.random(n_browse) < 0.62
        # The day follows the season; a logged-in session belongs to someone signed up by then
        # (picking the person first and the day after their sign-up would crowd recent sign-ups'
        # sessions onto the last days of the history).
        w = day_weights()
        day = rng.choice(N_DAYS, size=n_browse, p=w / w.sum())
        who = signed_up_by(c["signup_day"], c["activity"] + 0.25, day, rng.random(n_browse))
        start = day * US_PER_DAY + time_of_day_us(rng, n_browse)
        depth = rng.choice(4, size=n_browse, p=[0.35, 0.40, 0.17, 0.08])
        spec = SessionSpec(
            start_us=np.concatenate([np.zeros(n_buy, np.int64), start]),
            customer=np.concatenate([o["customer"], np.where(logged_in, who, -1)]),
            depth=np.concatenate([np.full(n_buy, 4), depth]),
            purchase_counts=np.concatenate([o["n_items"], np.zeros(n_browse, np.int64)]),
            purchase_products=it["product"],
            anchor_us=np.concatenate([o["ts"], np.full(n_browse, -1, np.int64)]),
        )
        ev = build_sessions(rng, spec, self.view_weights(), self.products["launch_day"])
        delay = loaded_at_delays(rng, len(ev["ts"]))
        ev["loaded"] = ev["ts"] + delay
        keep = ev["loaded"] <= CUTOFF_US
        ev = {k: v[keep] for k, v in ev.items()}
        # ~0.1% re-delivered duplicates: same event, later _loaded_at, still within the base load.
        dup = np.flatnonzero(rng.random(len(ev["ts"])) < 0.001)
        redelivered = ev["loaded"][dup] + rng.integers(10 * 60, 6 * 3600, size=len(dup)) * US_PER_SECOND
        dup, redelivered = dup[redelivered <= CUTOFF_US], redelivered[redelivered <= CUTOFF_US]
        rows = np.concatenate([np.arange(len(ev["ts"])), dup])
        loaded = np.concatenate([ev["loaded"], redelivered])
        order = np.lexsort((ev["event_no"][rows], loaded))
        out = {k: v[rows[order]] for k, v in ev.items()}
        out["loaded"] = loaded[order]
        return out

    def clickstream_table(self) -> pa.Table:
        return clickstream_arrow(self.clickstream)

    # ------------------------------------------------------------------ inventory
    def daily_units(self) -> np.ndarray:
        """Units sold per (product, day) by orders that were not cancelled."""
        it = self.items
        sold = self.orders["status"][it["order"]] != CANCELLED
        key = it["product"][sold] * N_DAYS + it["day"][sold]
        return np.bincount(key, minlength=self.n_products * N_DAYS).reshape(self.n_products, N_DAYS)

    def inventory_table(self) -> pa.Table:
        rng = stream(self.seed, "inventory")
        units = self.daily_units()
        n = self.n_products
        csum = np.concatenate([np.zeros((n, 1), np.int64), np.cumsum(units, axis=1)], axis=1)
        window = np.minimum(np.arange(1, N_DAYS + 1), 28)
        rate = (csum[:, 1:] - csum[:, np.maximum(np.arange(1, N_DAYS + 1) - 28, 0)]) / window
        launch = np.maximum(self.products["launch_day"], 0)
        live_days = np.maximum(N_DAYS - launch, 1)
        avg = units.sum(axis=1) / live_days
        level = np.ceil(avg * rng.uniform(20, 45, size=n)).astype(np.int64) + rng.integers(5, 40, size=n)
        reorder = np.ceil(avg * rng.uniform(3, 9, size=n)).astype(np.int64) + rng.integers(1, 5, size=n)
        lead = rng.integers(2, 10, size=(N_DAYS, n))
        bonus = rng.integers(0, 10, size=(N_DAYS, n))
        stock = np.zeros(n, np.int64)
        due = np.full(n, -1)
        out = np.zeros((N_DAYS, n), np.int32)  # day-major: rows come out in (snapshot_date, product_id) order
        sold = np.ascontiguousarray(units.T)
        for t in range(N_DAYS):  # one step per day, vectorized over products
            stock = np.where(launch == t, level, stock)
            arrive = due == t
            stock = np.where(arrive, level + bonus[t], stock)
            due = np.where(arrive, -1, due)
            stock = np.maximum(stock - sold[t], 0)
            need = (stock <= reorder) & (due < 0) & (launch <= t)
            due = np.where(need, t + lead[t], due)
            out[t] = np.where(launch <= t, stock, 0)
        return pa.table(
            {
                "snapshot_date": dates(np.repeat(np.arange(N_DAYS), n)),
                "product_id": ids("P", np.tile(np.arange(1, n + 1), N_DAYS), 6),
                "stock_level": pa.array(out.reshape(-1), pa.int32()),
                "daily_sales_rate": money(np.round(rate.T.reshape(-1) * 100).astype(np.int64), 10),
            }
        )

    # ------------------------------------------------------------------ reviews
    def product_reviews_table(self) -> pa.Table:
        rng = stream(self.seed, "product_reviews")
        it, o, p = self.items, self.orders, self.products
        status = o["status"][it["order"]]
        line_key = it["order"] * self.n_products + it["product"]
        _, first = np.unique(line_key, return_index=True)  # one review per (order, product)
        first = np.sort(first)
        st = status[first]
        chance = np.select([st == DELIVERED, st == RETURNED], [0.35, 0.45], 0.0)
        chance = np.where(p["never_reviewed"][it["product"][first]], 0.0, chance)
        pick = first[rng.random(len(first)) < chance]
        day = it["day"][pick] + 3 + rng.geometric(0.12, size=len(pick))
        keep = day <= N_DAYS - 1
        pick, day = pick[keep], day[keep]
        returned = status[pick] == RETURNED
        poor = p["poor_quality"][it["product"][pick]]
        u = rng.random(len(pick))
        good_cdf, poor_cdf, ret_cdf = [0.04, 0.08, 0.17, 0.42], [0.15, 0.3, 0.5, 0.78], [0.35, 0.6, 0.8, 0.92]
        score = 1 + np.select(
            [returned, poor],
            [np.searchsorted(ret_cdf, u), np.searchsorted(poor_cdf, u)],
            np.searchsorted(good_cdf, u),
        )
        order = np.lexsort((pick, day))
        pick, day, score = pick[order], day[order], score[order]
        return pa.table(
            {
                "review_id": ids("R", np.arange(1, len(pick) + 1), 8),
                "product_id": ids("P", it["product"][pick] + 1, 6),
                "customer_id": ids("C", o["customer"][it["order"][pick]] + 1, 7),
                "order_id": ids("O", it["order"][pick] + 1, 8),
                "review_score": pa.array(score.astype(np.int32), pa.int32()),
                "review_date": dates(day),
            }
        )

    # ------------------------------------------------------------------ marketing
    @cached_property
    def campaigns(self) -> dict[str, np.ndarray]:
        rng = stream(self.seed, "marketing_campaigns")
        n = self.n_campaigns
        w = day_weights() ** 2
        start = np.sort(rng.choice(N_DAYS - 3, size=n, p=w[: N_DAYS - 3] / w[: N_DAYS - 3].sum()))
        end = np.minimum(start + rng.integers(3, 31, size=n), N_DAYS - 1)
        channel = rng.choice(len(ref.CHANNELS), size=n, p=ref.CHANNEL_WEIGHTS)
        channel[: min(n, 3)] = 0  # always a few email campaigns
        channel = channel[rng.permutation(n)]
        festival = np.isin(MONTH[start], (9, 10, 11))
        budget = np.round(rng.lognormal(12.2, 0.6, size=n) * np.where(festival, 2.0, 1.0) / 1000) * 1000
        segment = rng.integers(0, len(ref.SEGMENTS), size=n)
        return {
            "start": start,
            "end": end,
            "channel": channel,
            "budget_cents": budget.astype(np.int64) * 100,
            "segment": segment,
        }

    def marketing_campaigns_table(self) -> pa.Table:
        cp = self.campaigns
        themes = [
            "Republic Day Sale",
            "Valentine's Specials",
            "Holi Dhamaka",
            "Summer Savings",
            "Summer Savings",
            "Monsoon Mania",
            "Monsoon Mania",
            "Independence Day Sale",
            "Navratri Fest",
            "Big Diwali Sale",
            "Wedding Season Specials",
            "Year End Clearance",
        ]
        month, year = MONTH[cp["start"]], YEAR[cp["start"]]
        channel = labels(ref.CHANNELS, cp["channel"])
        name = pa.compute.binary_join_element_wise(
            labels(themes, month - 1),
            pa.array(year.astype(np.int64)).cast(pa.string()),
            pa.compute.binary_join_element_wise("-", channel, " "),
            " ",
        )
        n = self.n_campaigns
        return pa.table(
            {
                "campaign_id": ids("CMP", np.arange(1, n + 1), 4),
                "campaign_name": name,
                "channel": channel,
                "start_date": dates(cp["start"]),
                "end_date": dates(cp["end"]),
                "budget": money(cp["budget_cents"]),
                "target_segment": labels(ref.SEGMENTS, cp["segment"]),
            }
        )

    def email_events_table(self) -> pa.Table:
        rng = stream(self.seed, "email_events")
        cp, c = self.campaigns, self.customers
        parts = []
        reach = min(1.0 / self.scale, 2.0)  # more campaigns at a larger scale, each reaching fewer
        for k in np.flatnonzero(cp["channel"] == 0):  # one step per email campaign
            eligible = np.flatnonzero(c["signup_day"] <= cp["start"][k])
            who = eligible[rng.random(len(eligible)) < reach * rng.uniform(0.15, 0.45)]
            sent = (
                cp["start"][k] * US_PER_DAY
                + 9 * US_PER_HOUR
                + rng.integers(0, 4 * 3600, len(who)) * US_PER_SECOND
            )
            opened = rng.random(len(who)) < np.where(c["active"][who], 0.26, 0.12)
            open_ts = sent + (60 + rng.exponential(6 * 3600, len(who)).astype(np.int64)) * US_PER_SECOND
            clicked = opened & (rng.random(len(who)) < 0.2)
            click_ts = open_ts + (5 + rng.exponential(120, len(who)).astype(np.int64)) * US_PER_SECOND
            parts.append((np.full(len(who), k), who, np.zeros(len(who), np.int64), sent))
            parts.append(
                (np.full(opened.sum(), k), who[opened], np.ones(opened.sum(), np.int64), open_ts[opened])
            )
            parts.append(
                (np.full(clicked.sum(), k), who[clicked], np.full(clicked.sum(), 2), click_ts[clicked])
            )
        camp, cust, etype, ts = (np.concatenate([p[i] for p in parts]) for i in range(4))
        keep = ts <= CUTOFF_US
        camp, cust, etype, ts = camp[keep], cust[keep], etype[keep], ts[keep]
        order = np.lexsort((etype, cust, camp, ts))
        camp, cust, etype, ts = camp[order], cust[order], etype[order], ts[order]
        return pa.table(
            {
                "email_event_id": ids("EM", np.arange(1, len(ts) + 1), 9),
                "campaign_id": ids("CMP", camp + 1, 4),
                "customer_id": ids("C", cust + 1, 7),
                "event_type": labels(["sent", "open", "click"], etype),
                "event_timestamp": timestamps(ts),
            }
        )

    def table(self, name: str) -> pa.Table:
        """The Arrow table for one raw table name."""
        return getattr(self, f"{name}_table")()


EVENT_TYPES = ["page_view", "search", "product_view", "cart_add", "cart_remove", "checkout", "purchase"]
PAGE_TYPES = ["home", "search", "category", "product", "cart", "checkout", "confirmation"]


def clickstream_arrow(ev: dict[str, np.ndarray]) -> pa.Table:
    """Event arrays (see sessions.build_sessions plus 'loaded') -> the clickstream Arrow table."""
    return pa.table(
        {
            "event_id": ids("E", ev["event_no"], 10),
            "session_id": ids("S", ev["session_no"], 9),
            "customer_id": nullable_ids("C", np.where(ev["customer"] < 0, -1, ev["customer"] + 1), 7),
            "event_timestamp": timestamps(ev["ts"]),
            "event_type": labels(EVENT_TYPES, ev["event_type"]),
            "page_type": labels(PAGE_TYPES, ev["page_type"]),
            "product_id": nullable_ids("P", np.where(ev["product"] < 0, -1, ev["product"] + 1), 6),
            "device": labels(ref.DEVICES, ev["device"]),
            "browser": labels(BROWSER_NAMES, ev["browser"]),
            "_loaded_at": timestamps(ev["loaded"]),
        }
    )
