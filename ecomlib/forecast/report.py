"""Tables, figures and the CSV export used by the forecasting notebook."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ecomlib.forecast.metrics import leaderboard
from ecomlib.report.metrics import write_csv

log = logging.getLogger(__name__)


def export_forecast(forecast: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a forecast frame to CSV (dates as YYYY-MM-DD) at
    :func:`ecomlib.report.output_path` of ``path``, atomically; return the path."""
    out = forecast.copy()
    out["ds"] = pd.to_datetime(out["ds"]).dt.strftime("%Y-%m-%d")
    return write_csv(out, path, float_format="%.2f")


def leaderboard_table(
    scores: pd.DataFrame,
    seconds: dict[str, float] | None = None,
    coverage: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The leaderboard with fit+predict seconds and interval coverage columns when given."""
    board = leaderboard(scores)
    if seconds:
        board["seconds"] = pd.Series(seconds)
    if coverage is not None:
        board = board.join(coverage[[c for c in coverage.columns if c.startswith("coverage")]])
    return board


def per_series(scores: pd.DataFrame, model: str, baseline: str | None = None) -> pd.DataFrame:
    """Per-series mean MASE of ``model`` (and of ``baseline``), worst first."""
    piv = scores.pivot_table(index="unique_id", columns="model", values="mase", aggfunc="mean")
    out = pd.DataFrame({model: piv[model]})
    if baseline:
        out[baseline] = piv[baseline]
        out["gain"] = out[baseline] - out[model]
    weight = scores[scores["model"] == model].groupby("unique_id")["weight"].mean()
    out["sales_share"] = weight / weight.sum()
    return out.sort_values(model, ascending=False)


# ------------------------------------------------------------------ figures
def plot_overview(df: pd.DataFrame, top: int = 6, window: int = 7) -> plt.Figure:
    """Total sales with a rolling mean, and the biggest series.

    Parameters
    ----------
    df : long-format series.
    top : how many of the biggest series to draw.
    window : periods of the rolling mean (7 for daily data, the season otherwise).
    """
    total = df.groupby("ds")["y"].sum()
    fig, axes = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True)
    axes[0].plot(total.index, total.to_numpy(), lw=0.8, color="C0", label="total")
    axes[0].plot(
        total.index,
        total.rolling(window, center=True).mean().to_numpy(),
        lw=2,
        color="C3",
        label=f"{window}-period mean",
    )
    axes[0].set_title("All series summed")
    axes[0].legend(loc="upper left")
    big = df.groupby("unique_id")["y"].sum().nlargest(top).index
    for uid in big:
        s = df[df["unique_id"] == uid].set_index("ds")["y"].rolling(window).mean()
        axes[1].plot(s.index, s.to_numpy(), lw=1.2, label=uid[:28])
    axes[1].set_title(f"The {top} biggest series ({window}-period mean)")
    axes[1].legend(fontsize=8, ncol=2, loc="upper left")
    return fig


def plot_weekday_profile(df: pd.DataFrame) -> plt.Figure:
    """Each series' mean by weekday relative to its own mean (a heatmap-like line bundle)."""
    d = df.assign(dow=df["ds"].dt.dayofweek)
    rel = d.groupby(["unique_id", "dow"])["y"].mean().unstack()
    rel = rel.div(rel.mean(axis=1), axis=0)
    fig, ax = plt.subplots(figsize=(8, 4))
    for _, row in rel.iterrows():
        ax.plot(row.index, row.to_numpy(), color="grey", alpha=0.25, lw=1)
    ax.plot(
        rel.columns, rel.median().to_numpy(), color="C3", lw=3, marker="o", label="median series"
    )
    ax.set_xticks(range(7), ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
    ax.set_ylabel("mean / series mean")
    ax.set_title("Weekly seasonality: sales by weekday, relative to each series' mean")
    ax.legend()
    return fig


def plot_holidays(df: pd.DataFrame, holidays: pd.DataFrame) -> plt.Figure:
    """Total sales with holidays marked."""
    total = df.groupby("ds")["y"].sum()
    fig, ax = plt.subplots(figsize=(11, 3.8))
    ax.plot(total.index, total.to_numpy(), lw=0.8)
    hol = holidays[(holidays["ds"] >= total.index.min()) & (holidays["ds"] <= total.index.max())]
    for _, r in hol.iterrows():
        ax.axvline(r["ds"], color="C3" if r["major"] else "C1", alpha=0.6, lw=1, ls="--")
        ax.text(
            r["ds"],
            ax.get_ylim()[1],
            r["holiday"].replace("_", " "),
            rotation=90,
            va="top",
            ha="right",
            fontsize=7,
        )
    ax.set_title("Total daily sales and holidays (red: major)")
    return fig


def plot_backtest_windows(
    df: pd.DataFrame, cutoffs: Sequence, h: int, freq: str = "D"
) -> plt.Figure:
    """The total series with the training span and each forecast window."""
    from ecomlib.forecast.series import add_periods

    total = df.groupby("ds")["y"].sum()
    fig, ax = plt.subplots(figsize=(11, 3.5))
    ax.plot(total.index, total.to_numpy(), lw=0.8, color="grey")
    for i, c in enumerate(cutoffs):
        c = pd.Timestamp(c)
        end = add_periods([c], h, freq)[0]
        ax.axvspan(
            c + pd.Timedelta(days=0.5),
            end + pd.Timedelta(days=0.5),
            color=f"C{i}",
            alpha=0.25,
            label=f"window {i + 1}: after {c.date()}",
        )
    ax.set_title(f"Backtest: {len(cutoffs)} forecast origins, horizon {h}")
    ax.legend(fontsize=8, loc="lower left")
    return fig


def plot_leaderboard(
    board: pd.DataFrame, reference: float | None = None, target: float | None = None
) -> plt.Figure:
    """Horizontal bars of MASE per model (best on top)."""
    s = board["mase"].sort_values()
    fig, ax = plt.subplots(figsize=(9, 0.4 * len(s) + 1.5))
    colors = ["C2" if i == 0 else "C0" for i in range(len(s))]
    ax.barh(s.index[::-1], s.to_numpy()[::-1], color=colors[::-1])
    for y, v in enumerate(s.to_numpy()[::-1]):
        ax.text(
            v,
            y,
            f" {v:.3f}",
            va="center",
            fontsize=8,
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5},
        )
    ax.set_xlim(0, s.max() * 1.12)  # room for the longest bar's label
    if reference is not None:
        ax.axvline(reference, color="C1", ls="--", label=f"AutoETS reference {reference:.3f}")
    if target is not None:
        ax.axvline(target, color="C3", ls=":", label=f"target {target:.2f}")
    if reference is not None or target is not None:
        ax.legend(loc="upper right", fontsize=8)  # best (shortest) bars are on top
    ax.set_xlabel("MASE (lower is better)")
    ax.set_title("Backtest leaderboard")
    return fig


def plot_forecasts(
    cv: pd.DataFrame,
    df: pd.DataFrame,
    series: Sequence[str],
    models: Sequence[str],
    intervals: pd.DataFrame | None = None,
    model_iv: str | None = None,
    level: int = 80,
    context: int = 42,
) -> plt.Figure:
    """Actuals and backtest forecasts of a few series (all windows), with an interval band."""
    n = len(series)
    fig, axes = plt.subplots(n, 1, figsize=(11, 2.6 * n), squeeze=False)
    start = cv["ds"].min() - pd.Timedelta(days=context)
    for ax, uid in zip(axes[:, 0], series, strict=False):
        hist = df[(df["unique_id"] == uid) & (df["ds"] >= start)]
        ax.plot(hist["ds"], hist["y"], color="black", lw=1, label="actual")
        g = cv[cv["unique_id"] == uid]
        for j, m in enumerate(models):
            for k, (_, w) in enumerate(g.groupby("cutoff")):
                ax.plot(w["ds"], w[m], color=f"C{j}", lw=1.4, label=m if k == 0 else None)
        if intervals is not None and model_iv:
            iv = intervals[intervals["unique_id"] == uid]
            ax.fill_between(
                iv["ds"],
                iv[f"{model_iv}-lo-{level}"],
                iv[f"{model_iv}-hi-{level}"],
                color="C0",
                alpha=0.2,
                label=f"{level}% interval",
            )
        ax.set_title(uid)
        ax.legend(fontsize=7, ncol=4, loc="upper left")
    return fig


def plot_future(
    df: pd.DataFrame,
    forecast: pd.DataFrame,
    model: str,
    series: Sequence[str],
    levels: Sequence[int] = (80, 95),
    context: int = 56,
) -> plt.Figure:
    """The last ``context`` days and the exported forecast with its intervals."""
    n = len(series)
    fig, axes = plt.subplots(n, 1, figsize=(11, 2.5 * n), squeeze=False)
    for ax, uid in zip(axes[:, 0], series, strict=False):
        hist = df[df["unique_id"] == uid].tail(context)
        f = forecast[forecast["unique_id"] == uid]
        ax.plot(hist["ds"], hist["y"], color="black", lw=1, label="history")
        ax.plot(f["ds"], f[model], color="C2", lw=1.8, label=model)
        for lvl, a in zip(sorted(levels, reverse=True), (0.15, 0.3), strict=False):
            if f"{model}-lo-{lvl}" in f:
                ax.fill_between(
                    f["ds"],
                    f[f"{model}-lo-{lvl}"],
                    f[f"{model}-hi-{lvl}"],
                    color="C2",
                    alpha=a,
                    label=f"{lvl}%",
                )
        ax.set_title(uid)
        ax.legend(fontsize=7, ncol=4, loc="upper left")
    return fig


def plot_error_by_horizon(cv: pd.DataFrame, models: Sequence[str]) -> plt.Figure:
    """Mean absolute error by horizon step, relative to the mean actual."""
    d = cv.copy()
    d["step"] = d.groupby(["unique_id", "cutoff"]).cumcount() + 1
    fig, ax = plt.subplots(figsize=(8, 3.8))
    for m in models:
        rel = (d[m] - d["y"]).abs().groupby(d["step"]).mean() / d["y"].abs().mean()
        ax.plot(rel.index, rel.to_numpy(), marker="o", ms=3, label=m)
    ax.set_xlabel("horizon step (days after the origin)")
    ax.set_ylabel("MAE / mean sales")
    ax.set_title("Error by horizon step")
    ax.legend(fontsize=8)
    return fig


def weekday_table(df: pd.DataFrame) -> pd.DataFrame:
    """Share of each weekday in total sales and the zero-day count."""
    d = df.assign(weekday=df["ds"].dt.day_name())
    order = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    out = d.groupby("weekday")["y"].sum().reindex(order).to_frame("sales")
    out["share"] = out["sales"] / out["sales"].sum()
    return out


def zero_days(df: pd.DataFrame) -> pd.DataFrame:
    """Dates where many series have zero sales (store closures, data gaps)."""
    z = df.assign(zero=df["y"] == 0).groupby("ds")["zero"].mean()
    z = z[z > 0].sort_values(ascending=False)
    return z.to_frame("share_of_series_at_zero")


def nice(board: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Round a leaderboard for display (text columns such as the selection's role kept)."""
    out = board.copy()
    num = [c for c in out.columns if pd.api.types.is_numeric_dtype(out[c])]
    out[num] = out[num].astype(float).round(digits)
    return out.replace({np.nan: None})
