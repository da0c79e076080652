"""Scoring CLV models: the leaderboard, validation-based selection, paired bootstrap
intervals, CLV over a horizon, segments and the per-customer export."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ecomlib.clv.data import Period, future_purchases, summarise
from ecomlib.clv.models import CLVModel
from ecomlib.errors import ParameterError

log = logging.getLogger(__name__)


def score(pred: pd.DataFrame, actual: pd.DataFrame) -> dict[str, float]:
    """Per-customer MAE and RMSE of purchases and spend, and the predicted vs actual totals."""
    pred = pred.reindex(actual.index)
    out = {}
    for col, tag in (("purchases", ""), ("spend", "spend_")):
        err = pred[col].to_numpy(float) - actual[col].to_numpy(float)
        out[f"{tag}mae"] = float(np.mean(np.abs(err)))
        out[f"{tag}rmse"] = float(np.sqrt(np.mean(err**2)))
        out[f"{tag}predicted"] = float(pred[col].sum())
        out[f"{tag}actual"] = float(actual[col].sum())
    return out


def fit_predict(
    models: Sequence[CLVModel], period: Period, horizon: float
) -> tuple[dict[str, pd.DataFrame], dict[str, float]]:
    """Fit every model on ``period`` and predict ``horizon`` weeks: predictions and seconds."""
    preds, seconds = {}, {}
    for model in models:
        t0 = time.perf_counter()
        model.fit(period)
        preds[model.name] = model.predict(period, horizon)
        seconds[model.name] = time.perf_counter() - t0
    return preds, seconds


def leaderboard(
    preds: dict[str, pd.DataFrame], actual: pd.DataFrame, seconds: dict[str, float] | None = None
) -> pd.DataFrame:
    """One row per model, sorted by per-customer MAE of the purchases."""
    board = pd.DataFrame({name: score(p, actual) for name, p in preds.items()}).T
    if seconds:
        board["seconds"] = pd.Series(seconds)
    board.index.name = "model"
    return board.sort_values("mae")


def validation_board(
    make_models: Callable[[], Sequence[CLVModel]], period: Period, weeks: float
) -> pd.DataFrame:
    """Score fresh models on the last ``weeks`` of the calibration period, fitted on what comes
    before (the holdout is not touched): the basis for choosing a model."""
    cut = period.cutoff - pd.Timedelta(days=int(round(weeks * 7)))
    if cut <= period.start:
        raise ParameterError(
            f"a validation window of {weeks:g} weeks is longer than the calibration."
        )
    inner = summarise(period.days, cut, start=period.start)
    actual = future_purchases(period.days, inner.customers, cut, period.cutoff)
    preds, seconds = fit_predict(make_models(), inner, weeks)
    return leaderboard(preds, actual, seconds)


def paired_bootstrap(
    errors_a: np.ndarray,
    errors_b: np.ndarray,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, float]:
    """Customer-bootstrap interval of ``mean(errors_a) - mean(errors_b)`` (paired errors).

    Returns ``diff``, ``low``, ``high`` and the same relative to ``mean(errors_b)``
    (``rel``, ``rel_low``, ``rel_high``).
    """
    a, b = np.asarray(errors_a, float), np.asarray(errors_b, float)
    if a.shape != b.shape or a.ndim != 1:
        raise ParameterError("paired errors must be two 1-d arrays of the same length.")
    rng = np.random.default_rng(seed)
    d = a - b
    n = len(d)
    means, base = np.empty(n_boot), np.empty(n_boot)
    for i in range(0, n_boot, 200):
        k = min(200, n_boot - i)
        idx = rng.integers(0, n, size=(k, n))
        means[i : i + k] = d[idx].mean(axis=1)
        base[i : i + k] = b[idx].mean(axis=1)
    q = [(1 - level) / 2, (1 + level) / 2]
    lo, hi = np.quantile(means, q)
    rlo, rhi = np.quantile(means / base, q)
    return {
        "diff": float(d.mean()),
        "low": float(lo),
        "high": float(hi),
        "rel": float(d.mean() / b.mean()),
        "rel_low": float(rlo),
        "rel_high": float(rhi),
    }


def discounted_value(
    curve: np.ndarray, weeks: np.ndarray, value: np.ndarray, annual_rate: float = 0.1
) -> np.ndarray:
    """CLV over a horizon: expected purchases per week (from a cumulative ``curve``, customers
    x weeks) times the expected value per purchase, discounted at ``annual_rate``."""
    if annual_rate < 0:
        raise ParameterError(f"the discount rate must be >= 0, got {annual_rate}.")
    inc = np.diff(np.concatenate([np.zeros((len(curve), 1)), curve], axis=1), axis=1)
    disc = (1 + annual_rate) ** (-np.asarray(weeks, float) / 52.0)
    return (inc * disc[None, :]).sum(axis=1) * np.asarray(value, float)


SEGMENT_ACTIONS = {
    "high value, active": "keep: loyalty perks, early access; no discounts needed",
    "high value, at risk": "win back now: personal offer, service call",
    "low value, active": "grow: cross-sell, bundles, free-shipping threshold",
    "low value, at risk": "low-cost reactivation email only",
}


def segments(
    p_churn: pd.Series, clv: pd.Series, churn_cut: float = 0.5, value_quantile: float = 0.8
) -> pd.Series:
    """Four segments from the probability of no purchase in the next period (at risk: at
    least ``churn_cut``) and the predicted CLV (top ``1 - value_quantile`` share = high
    value)."""
    high = clv >= clv.quantile(value_quantile)
    active = p_churn < churn_cut
    label = np.select(
        [high & active, high & ~active, ~high & active],
        ["high value, active", "high value, at risk", "low value, active"],
        "low value, at risk",
    )
    return pd.Series(label, index=p_churn.index, name="segment")


def segment_table(table: pd.DataFrame) -> pd.DataFrame:
    """Customers, mean P(churn) (and P(alive) when the table has it), mean and total CLV per
    segment, with the suggested action."""
    g = table.groupby("segment")
    out = pd.DataFrame({"customers": g.size(), "p_churn": g["p_churn"].mean()})
    if "p_alive" in table:
        out["p_alive"] = g["p_alive"].mean()
    out["clv_mean"] = g["clv"].mean()
    out["clv_share"] = g["clv"].sum() / table["clv"].sum()
    out["action"] = [SEGMENT_ACTIONS[s] for s in out.index]
    return out.reindex([s for s in SEGMENT_ACTIONS if s in out.index])


def export_predictions(table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write the per-customer predictions to CSV (at :func:`ecomlib.report.output_path` of
    ``path``, atomically) and return the path."""
    from ecomlib.report import write_csv

    return write_csv(table.reset_index(), path, float_format="%.4f")
