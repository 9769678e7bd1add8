"""The customer overview dashboard wireframe as real figures, every number queried from the warehouse.

    data = load_dashboard_data(query)      # query: SQL -> DataFrame (notebook_helpers.query)
    fig = draw_dashboard(data)             # KPI tiles, RFM segments, lifecycle stages,
                                           # cohort retention heatmap, lifecycle funnel, states
Segment rules are never repeated here: the queries read the mart's segment columns.
"""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

Fetch = Callable[[str], pd.DataFrame]
MART = "mart_customer_overview"

QUERIES: dict[str, str] = {
    "kpis": f"""
        select count(*) as total_customers,
               count(*) filter (where recency_segment = 'Recent') as active_customers,
               count(*) filter (where lifecycle_stage = 'At Risk') as at_risk_customers
        from {MART}""",
    "rfm": f"""
        select rfm_segment as segment, count(*) as customers
        from {MART} group by all order by customers desc, segment""",
    "lifecycle": f"""
        select lifecycle_stage as stage, count(*) as customers
        from {MART} group by all order by customers desc, stage""",
    "funnel": f"""
        select * from (values
            (1, 'Accounts', (select count(*) from {MART})),
            (2, 'Bought once or more', (select count(*) from {MART} where order_count >= 1)),
            (3, 'Bought again (repeat)', (select count(*) from {MART} where order_count >= 2)),
            (4, 'Repeat and recent', (select count(*) from {MART}
                                       where order_count >= 2 and recency_segment = 'Recent'))
        ) as t(step_order, step, customers)
        order by step_order""",
    "cohorts": f"""
        select strftime(date_trunc('month', m.first_order_date), '%Y-%m') as cohort,
               date_diff('month', date_trunc('month', m.first_order_date),
                         date_trunc('month', o.order_date)) as months_since_first_order,
               count(distinct o.customer_id) as customers
        from {MART} as m
        join fct_orders as o
            on o.customer_id = m.customer_id and o.is_revenue_order and o.order_date >= m.first_order_date
        group by all
        order by cohort, months_since_first_order""",
    "states": f"""
        select customer_state as state, count(*) as customers,
               count(*) filter (where recency_segment = 'Recent') as active_customers
        from {MART} group by all order by customers desc, state""",
}


def load_dashboard_data(fetch: Fetch) -> dict[str, pd.DataFrame]:
    """Every dataset of the dashboard, one query each (``fetch`` runs SQL on the warehouse)."""
    return {name: fetch(sql) for name, sql in QUERIES.items()}


def retention_matrix(cohorts: pd.DataFrame, max_months: int = 12) -> pd.DataFrame:
    """Cohort x months-since-first-order: % of the cohort that ordered in that month (NaN = future)."""
    counts = cohorts.pivot(index="cohort", columns="months_since_first_order", values="customers")
    counts = counts.reindex(columns=range(max_months + 1)).fillna(0)
    size = counts[0]
    pct = counts.div(size, axis=0).mul(100).round(1)
    last = pd.Period(str(pct.index.max()), "M")
    for cohort in pct.index:  # months after the last data month are unknown (NaN), not 0 %
        known = (last - pd.Period(str(cohort), "M")).n
        pct.loc[cohort, [m for m in pct.columns if m > known]] = np.nan
    pct.insert(0, "cohort_size", size.astype(int))
    return pct


def plot_kpis(axes: list[Axes], kpis: pd.DataFrame) -> None:
    """Three KPI tiles: total, active (recency Recent), at risk (lifecycle stage At Risk)."""
    row = kpis.iloc[0]
    tiles = [("Customer accounts", row["total_customers"], "all accounts, as of the build date"),
             ("Active customers", row["active_customers"], "recency segment 'Recent'"),
             ("At-risk customers", row["at_risk_customers"], "lifecycle stage 'At Risk'")]
    for ax, (label, value, note) in zip(axes, tiles, strict=True):
        ax.set_axis_off()
        ax.add_patch(plt.Rectangle((0, 0), 1, 1, transform=ax.transAxes, color="#eef3f8", zorder=0))
        ax.text(0.5, 0.72, label, ha="center", fontsize=12, transform=ax.transAxes)
        ax.text(0.5, 0.38, f"{int(value):,}", ha="center", fontsize=24, weight="bold", transform=ax.transAxes)
        pct = 100 * value / row["total_customers"]
        share = "" if label == "Customer accounts" else f"{pct:.1f}% of accounts"
        ax.text(0.5, 0.14, " | ".join(t for t in (share, note) if t), ha="center", fontsize=8,
                color="#555555", transform=ax.transAxes)


def plot_bars(ax: Axes, frame: pd.DataFrame, label: str, title: str, highlight: tuple[str, ...] = ()) -> None:
    """Horizontal bars, largest on top, with count and share labels (a pie hides small differences)."""
    frame = frame.iloc[::-1]
    total = frame["customers"].sum()
    colors = ["#c0392b" if name in highlight else "#4a7ab5" for name in frame[label]]
    ax.barh(frame[label], frame["customers"], color=colors)
    for y, value in enumerate(frame["customers"]):
        ax.text(value, y, f" {value:,} ({100 * value / total:.0f}%)", va="center", fontsize=8)
    ax.set_title(title, fontsize=11, loc="left")
    ax.set_xlim(0, frame["customers"].max() * 1.3)
    ax.tick_params(labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)


def plot_cohort_heatmap(ax: Axes, matrix: pd.DataFrame) -> None:
    """Retention heatmap: rows = first-order month, columns = months since (month 0 = 100 %, hidden)."""
    values = matrix.drop(columns=["cohort_size", 0])
    image = ax.imshow(values.to_numpy(dtype=float), aspect="auto", cmap="Blues", vmin=0)
    ax.set_xticks(range(values.shape[1]), [str(c) for c in values.columns], fontsize=7)
    labels = [f"{c} (n={n:,})" for c, n in matrix["cohort_size"].items()]
    ax.set_yticks(range(len(values)), labels, fontsize=6)
    ax.set_xlabel("months since first order", fontsize=8)
    ax.set_title("Cohort retention: % of each first-order cohort buying again", fontsize=11, loc="left")
    plt.colorbar(image, ax=ax, fraction=0.04, label="% of cohort")


def plot_funnel(ax: Axes, funnel: pd.DataFrame) -> None:
    """Centered bars (a funnel): each step is a subset of the one above, with % of the previous step."""
    counts = funnel["customers"].to_numpy()
    top = counts[0]
    for i, value in enumerate(counts):
        ax.barh(-i, value, left=(top - value) / 2, height=0.5, color="#4a7ab5")
        kept = "" if i == 0 else f" ({100 * value / counts[i - 1]:.0f}% of previous)"
        ax.text(top / 2, -i + 0.3, f"{funnel['step'].iloc[i]}: {value:,}{kept}", ha="center", va="bottom",
                fontsize=8)
    ax.set_ylim(-len(counts) + 0.5, 0.8)
    ax.set_axis_off()
    ax.set_title("Lifecycle funnel", fontsize=11, loc="left")


def draw_dashboard(data: dict[str, pd.DataFrame], top_states: int = 12) -> Figure:
    """The whole wireframe as one figure, laid out like the dashboard."""
    fig = plt.figure(figsize=(14, 17), dpi=72)
    grid = fig.add_gridspec(4, 6, height_ratios=[1, 2.2, 3.2, 2.2], left=0.1, right=0.97, top=0.95,
                            bottom=0.03, hspace=0.3, wspace=1.2)
    fig.suptitle("Customer overview dashboard (wireframe drawn from mart_customer_overview)", fontsize=15)
    plot_kpis([fig.add_subplot(grid[0, 2 * i:2 * i + 2]) for i in range(3)], data["kpis"])
    plot_bars(fig.add_subplot(grid[1, :3]), data["rfm"], "segment", "RFM segments (customers)",
              highlight=("At Risk", "Cannot Lose Them"))
    plot_bars(fig.add_subplot(grid[1, 3:]), data["lifecycle"], "stage", "Lifecycle stages (customers)",
              highlight=("At Risk", "Reactivation Candidate"))
    plot_cohort_heatmap(fig.add_subplot(grid[2, :4]), retention_matrix(data["cohorts"]))
    plot_funnel(fig.add_subplot(grid[2, 4:]), data["funnel"])
    states = data["states"]
    shown = states.head(top_states)[["state", "customers"]]
    rest = states.iloc[top_states:]
    if len(rest):
        other = pd.DataFrame({"state": [f"{len(rest)} other states"],
                              "customers": [int(rest["customers"].sum())]})
        shown = pd.concat([shown, other], ignore_index=True)
    plot_bars(fig.add_subplot(grid[3, :]), shown, "state", "Customers by state (accounts)")
    return fig
