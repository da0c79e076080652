"""Forecast accuracy: MASE, sMAPE, RMSSE, bias, and their aggregation over a backtest.

Conventions (protocol F1, docs/protocols.md): errors are computed per series and forecast origin
(``cutoff``) over the ``h`` forecast periods; MASE and RMSSE divide by the in-sample seasonal
naive error of the history up to that origin; the headline number is the plain mean over all
series x origins, and a sales-weighted mean (weights = sales in the ``weight_window`` periods
before the origin, as in M5's WRMSSE) is shown next to it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecomlib.errors import ParameterError

ID_COLS = ("unique_id", "ds", "cutoff", "y")


def mase(y: np.ndarray, yhat: np.ndarray, insample: np.ndarray, season: int = 7) -> float:
    """Mean absolute scaled error: mean|y - yhat| / mean|x_t - x_{t-season}| of ``insample``."""
    scale = _seasonal_diff(insample, season, np.abs)
    return float(np.mean(np.abs(np.asarray(y) - np.asarray(yhat))) / scale)


def rmsse(y: np.ndarray, yhat: np.ndarray, insample: np.ndarray, season: int = 7) -> float:
    """Root mean squared scaled error (M5): sqrt(mean (y - yhat)^2 / mean (x_t - x_{t-s})^2)."""
    scale = _seasonal_diff(insample, season, np.square)
    return float(np.sqrt(np.mean(np.square(np.asarray(y) - np.asarray(yhat))) / scale))


def smape(y: np.ndarray, yhat: np.ndarray) -> float:
    """Symmetric MAPE in percent, 200 |y - yhat| / (|y| + |yhat|); 0/0 counts as 0."""
    y, yhat = np.asarray(y, float), np.asarray(yhat, float)
    den = np.abs(y) + np.abs(yhat)
    ratio = np.divide(2 * np.abs(y - yhat), den, out=np.zeros_like(den), where=den > 0)
    return float(100 * ratio.mean())


def bias(y: np.ndarray, yhat: np.ndarray) -> float:
    """Relative bias in percent: sum(yhat - y) / sum(|y|) (positive = over-forecast)."""
    y, yhat = np.asarray(y, float), np.asarray(yhat, float)
    den = np.abs(y).sum()
    return float(100 * (yhat - y).sum() / den) if den > 0 else float("nan")


def _seasonal_diff(x: np.ndarray, season: int, fn) -> float:
    x = np.asarray(x, float)
    if len(x) <= season:
        raise ParameterError(f"need more than season={season} in-sample values, got {len(x)}")
    scale = float(np.mean(fn(x[season:] - x[:-season])))
    return scale if scale > 0 else float("nan")


def model_columns(cv: pd.DataFrame) -> list[str]:
    """The forecast columns of a backtest frame (everything but ids, y and interval bounds)."""
    return [c for c in cv.columns if c not in ID_COLS and "-lo-" not in c and "-hi-" not in c]


def evaluate(
    cv: pd.DataFrame,
    history: pd.DataFrame,
    season: int = 7,
    models: list[str] | None = None,
    weight_window: int = 28,
) -> pd.DataFrame:
    """Per (model, unique_id, cutoff) errors of a backtest frame.

    Parameters
    ----------
    cv : backtest output (``unique_id, ds, cutoff, y`` and one column per model).
    history : the full long-format series the backtest was run on (for the scales).
    season : seasonal period of the MASE/RMSSE scale (7 for daily data).
    models : model columns to score (default: all).
    weight_window : periods before the cutoff whose sales weight the series.

    Returns
    -------
    DataFrame with ``model, unique_id, cutoff, mase, smape, rmsse, bias, weight``.
    """
    models = models or model_columns(cv)
    hist = {uid: g.sort_values("ds") for uid, g in history.groupby("unique_id", sort=False)}
    rows = []
    for (uid, cutoff), g in cv.groupby(["unique_id", "cutoff"], sort=True):
        h = hist[uid]
        ins = h.loc[h["ds"] <= cutoff, "y"].to_numpy()
        abs_scale = _seasonal_diff(ins, season, np.abs)
        sq_scale = _seasonal_diff(ins, season, np.square)
        weight = float(ins[-weight_window:].sum())
        y = g["y"].to_numpy()
        for m in models:
            f = g[m].to_numpy(dtype=float)
            err = y - f
            rows.append(
                {
                    "model": m,
                    "unique_id": uid,
                    "cutoff": cutoff,
                    "mase": float(np.mean(np.abs(err)) / abs_scale),
                    "smape": smape(y, f),
                    "rmsse": float(np.sqrt(np.mean(err**2) / sq_scale)),
                    "bias": bias(y, f),
                    "weight": weight,
                }
            )
    return pd.DataFrame(rows)


def leaderboard(scores: pd.DataFrame) -> pd.DataFrame:
    """Aggregate :func:`evaluate` output per model, best MASE first.

    Columns: ``mase`` (mean over series x cutoffs), ``mase_weighted`` (sales-weighted),
    ``smape``, ``rmsse``, ``rmsse_weighted``, ``bias``.
    """

    def _agg(g: pd.DataFrame) -> pd.Series:
        w = g["weight"].to_numpy()
        w = w / w.sum() if w.sum() > 0 else np.full(len(g), 1 / len(g))
        return pd.Series(
            {
                "mase": g["mase"].mean(),
                "mase_weighted": float(np.nansum(w * g["mase"].to_numpy())),
                "smape": g["smape"].mean(),
                "rmsse": g["rmsse"].mean(),
                "rmsse_weighted": float(np.nansum(w * g["rmsse"].to_numpy())),
                "bias": g["bias"].mean(),
            }
        )

    out = scores.groupby("model", sort=False)[["mase", "smape", "rmsse", "bias", "weight"]].apply(
        _agg
    )
    return out.sort_values("mase")
