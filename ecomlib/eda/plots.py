"""Figures of notebook 01 (matplotlib; one style, see :mod:`ecomlib.plots`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecomlib.eda._common import _CURRENCY


def _plt():
    import matplotlib.pyplot as plt

    return plt


def plot_sales_over_time(daily: pd.DataFrame, weekly: pd.DataFrame):
    """Daily sales with a 7-day mean (top) and weekly sales (bottom), in dollars."""
    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(11, 6.5))
    ax1.plot(daily.index, daily["sales"], lw=0.7, alpha=0.5, label="daily")
    ax1.plot(daily.index, daily["sales"].rolling(7, center=True).mean(), lw=2, label="7-day mean")
    ax1.set_title("Daily sales")
    ax1.set_ylabel(f"sales ({_CURRENCY['symbol'].strip()})")
    ax1.legend(loc="upper left")
    ax2.bar(weekly.index, weekly["sales"], width=5, color="C2")
    ax2.set_title("Weekly sales (weeks starting Monday, complete weeks only)")
    ax2.set_ylabel(f"sales ({_CURRENCY['symbol'].strip()})")
    ax2.set_xlabel("date")
    for ax in (ax1, ax2):
        ax.yaxis.set_major_formatter(_dollar_formatter())
    return fig


def _dollar_formatter():
    from matplotlib.ticker import FuncFormatter

    def fmt(x, _pos):
        sym = _CURRENCY["symbol"]
        if abs(x) >= 1e6:
            return f"{sym}{x / 1e6:.1f}M"
        if abs(x) >= 1e3:
            return f"{sym}{x / 1e3:.0f}k"
        return f"{sym}{x:.0f}"

    return FuncFormatter(fmt)


def plot_weekday_hour(matrix: pd.DataFrame, what: str = "baskets"):
    """Heatmap of a weekday x hour matrix (share of all ``what``, in %)."""
    import seaborn as sns

    plt = _plt()
    share = 100 * matrix / matrix.to_numpy().sum()
    fig, ax = plt.subplots(figsize=(12, 3.8))
    sns.heatmap(share, cmap="viridis", ax=ax, cbar_kws={"label": f"% of all {what}"})
    ax.set_title(f"When households shop: % of {what} by weekday and hour")
    ax.set_xlabel("hour of day")
    ax.set_ylabel("")
    return fig


def plot_pareto(table: pd.DataFrame, top_n: int, title: str, value: str = "sales_value"):
    """Bars of the top ``top_n`` levels' sales with the cumulative share as a line."""
    plt = _plt()
    top = table.head(top_n)
    fig, ax = plt.subplots(figsize=(11, 4.8))
    labels = [str(i)[:22] for i in top.index]
    ax.bar(range(len(top)), top[value], color="C0")
    ax.set_xticks(range(len(top)), labels, rotation=60, ha="right")
    ax.set_ylabel(f"sales ({_CURRENCY['symbol'].strip()})")
    ax.yaxis.set_major_formatter(_dollar_formatter())
    ax.set_title(title)
    ax2 = ax.twinx()
    ax2.plot(range(len(top)), 100 * top["cum_share"], color="C3", marker="o")
    ax2.set_ylabel("cumulative % of all sales", color="C3")
    ax2.set_ylim(0, 100)
    ax2.grid(False)
    return fig


def plot_baskets(baskets: pd.DataFrame, clip_quantile: float = 0.99):
    """Histograms of products per basket and basket value (clipped at ``clip_quantile``)."""
    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    lines = baskets["lines"].clip(upper=baskets["lines"].quantile(clip_quantile))
    ax1.hist(lines, bins=int(lines.max()), color="C0")
    ax1.set_title("Basket size")
    ax1.set_xlabel(f"distinct products per basket (clipped at q{clip_quantile:g})")
    ax1.set_ylabel("baskets")
    value = baskets["value"].clip(upper=baskets["value"].quantile(clip_quantile))
    ax2.hist(value, bins=60, color="C1")
    ax2.set_title("Basket value")
    ax2.set_xlabel(
        f"sales per basket ({_CURRENCY['symbol'].strip()}, clipped at q{clip_quantile:g})"
    )
    ax2.set_ylabel("baskets")
    for ax, s in ((ax1, baskets["lines"]), (ax2, baskets["value"])):
        ax.axvline(s.median(), color="k", ls="--", lw=1, label=f"median {s.median():.4g}")
        ax.legend()
    return fig


def plot_segments(summary: pd.DataFrame):
    """Share of households vs share of spend per RFM segment (grouped bars, %)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(10, 4))
    x = np.arange(len(summary))
    ax.bar(x - 0.2, 100 * summary["household_share"], width=0.4, label="% of households")
    ax.bar(x + 0.2, 100 * summary["spend_share"], width=0.4, label="% of spend")
    ax.set_xticks(x, summary.index.astype(str))
    ax.set_ylabel("%")
    ax.set_title("RFM segments: who the households are vs where the money is")
    ax.legend()
    return fig


def plot_cohorts(retention: pd.DataFrame):
    """Cohort retention heatmap (% of each first-purchase cohort active k periods later)."""
    import seaborn as sns

    plt = _plt()
    table = 100 * retention.drop(columns="cohort_size")
    labels = [
        f"{c} (n={int(n)})" for c, n in zip(retention.index, retention["cohort_size"], strict=True)
    ]
    fig, ax = plt.subplots(figsize=(12, 5.5))
    sns.heatmap(
        table,
        annot=True,
        fmt=".0f",
        cmap="YlGnBu",
        vmin=0,
        vmax=100,
        ax=ax,
        yticklabels=labels,
        cbar_kws={"label": "% of cohort active"},
    )
    ax.set_title("Cohort retention: % of households active k months after their first purchase")
    ax.set_xlabel("months since first purchase")
    ax.set_ylabel("first-purchase month (cohort size)")
    return fig


def plot_demographics(tables: dict[str, pd.DataFrame]):
    """Median yearly spend by each demographic attribute, one panel each."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(tables), figsize=(4.2 * len(tables), 4), squeeze=False)
    for i, (ax, (col, t)) in enumerate(zip(axes[0], tables.items(), strict=True)):
        ax.bar(range(len(t)), t["median_spend"], color="C4")
        ax.set_xticks(range(len(t)), t.index.astype(str), rotation=60, ha="right")
        ax.set_title(f"by {col.replace('_', ' ')}")
        sym = _CURRENCY["symbol"].strip()
        ax.set_ylabel(f"median {sym} per household per year" if i == 0 else "")
        ax.yaxis.set_major_formatter(_dollar_formatter())
    fig.suptitle(
        "Demographics vs spend (median yearly spend, households with demographics only)",
        fontweight="bold",
    )
    return fig


def plot_lift(lift: pd.DataFrame):
    """Sales lift (%) per promotion state, within product-store pairs, with its interval."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 3.6))
    rev = lift.iloc[::-1]
    vals = 100 * rev["sales_lift"]
    err = None
    if {"ci_low", "ci_high"} <= set(rev.columns):
        err = np.vstack([vals - 100 * rev["ci_low"], 100 * rev["ci_high"] - vals])
    colors = [f"C{i}" for i in range(len(rev))][::-1]
    ax.barh(rev.index, vals, color=colors, xerr=err, capsize=4)
    for y, v in enumerate(vals):
        ax.text(v, y + 0.3, f" {v:+.0f}%", va="center")
    ax.set_xlabel("sales lift (%): promoted weeks vs the same product-store's other weeks")
    title = "Promotion lift (within product-store pairs)"
    ax.set_title(title + (", with 95% interval" if err is not None else ""))
    ax.set_xlim(min(0, vals.min() * 1.2), vals.max() * 1.25)
    return fig


def plot_coupons(coupons: pd.DataFrame):
    """Redemption rate per campaign, coloured by campaign type."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(11, 4))
    types = sorted(coupons["campaign_type"].unique())
    for i, t in enumerate(types):
        sub = coupons[coupons["campaign_type"] == t]
        ax.bar(sub.index, 100 * sub["redemption_rate"], color=f"C{i}", label=t)
    ax.set_xticks(coupons.index)
    ax.set_xlabel("campaign id")
    ax.set_ylabel("% of targeted households redeeming")
    ax.set_title("Coupon redemption by campaign")
    ax.legend(title="campaign type")
    return fig
