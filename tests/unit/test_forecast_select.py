"""Automatic model selection, and the forecasting API on real non-Complete-Journey series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecomlib import forecast as fc
from ecomlib.errors import DataError, ParameterError
from ecomlib.forecast.datasets import RETAIL_SERIES, retail_series
from ecomlib.forecast.zoo import make_models


def _cv(n_series: int = 3, n_cut: int = 2, h: int = 4, seed: int = 0):
    """A backtest frame with a good model, a bad one and the two baselines."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2021-01-01", periods=40)
    hist = pd.DataFrame(
        {
            "unique_id": np.repeat([f"s{i}" for i in range(n_series)], len(ds)),
            "ds": np.tile(ds, n_series),
            "y": rng.normal(100, 10, n_series * len(ds)),
        }
    )
    rows = []
    for c in range(n_cut):
        cut = ds[30 - h * (n_cut - c)]
        for u, g in hist.groupby("unique_id"):
            fut = g[g["ds"] > cut].head(h)
            y = fut["y"].to_numpy()
            rows.append(
                pd.DataFrame(
                    {
                        "unique_id": u,
                        "ds": fut["ds"].to_numpy(),
                        "cutoff": cut,
                        "y": y,
                        "SeasonalNaive": y + rng.normal(0, 12, h),
                        "AutoETS": y + rng.normal(0, 10, h),
                        "Good": y + rng.normal(0, 4, h),
                        "Good2": y + rng.normal(0, 4, h),
                        "Bad": y + 30,
                    }
                )
            )
    return pd.concat(rows, ignore_index=True), hist


def test_select_models_drops_what_loses_to_the_baselines():
    cv, hist = _cv()
    sel = fc.select_models(cv, hist, season=7)
    t = sel.table
    assert sel.reference[0] == "AutoETS"
    assert t.loc["Bad", "role"] == "dropped" and "does not beat AutoETS" in t.loc["Bad", "reason"]
    assert sel.recommended in ("Good", "Good2", "Ensemble")
    assert t.loc[sel.recommended, "mase"] < t.loc["AutoETS", "mase"]
    assert "Bad" not in sel.members and "SeasonalNaive" not in sel.members
    assert "Chosen on the validation windows" in sel.summary()
    # nothing beats the baselines: the best baseline is recommended, no ensemble of losers
    worse = cv.drop(columns=["Good", "Good2"])
    sel = fc.select_models(worse, hist, season=7)
    assert sel.recommended == "AutoETS" and sel.members == []
    with pytest.raises(ParameterError, match="no ensemble"):
        sel.ensemble()


def test_select_models_leaves_partial_models_out():
    cv, hist = _cv()
    cv.loc[cv["unique_id"] == "s0", "Good"] = np.nan  # "Good" cannot forecast one series
    sel = fc.select_models(cv, hist, season=7)
    assert sel.table.loc["Good", "role"] == "dropped"
    assert "forecasts only" in sel.table.loc["Good", "reason"]
    assert any("Good forecasts 67%" in n for n in sel.notes)


def test_split_windows():
    cv, _ = _cv(n_cut=4)
    val, test = fc.split_windows(cv, 2)
    assert val["cutoff"].max() < test["cutoff"].min() and test["cutoff"].nunique() == 2
    with pytest.raises(ParameterError, match="n_windows = 2"):
        fc.split_windows(cv, 4)


def test_ensemble_leaves_a_member_out_where_it_has_no_forecast():
    frame = pd.DataFrame({"unique_id": ["a", "b"], "A": [1.0, 2.0], "B": [3.0, np.nan]})
    ens = fc.Ensemble(["A", "B"])
    assert ens.combine(frame).tolist() == [2.0, 2.0]
    assert "B left out for 1 series" in ens.member_notes(frame)[0]


def test_backtest_refuses_models_of_another_frequency():
    monthly = retail_series("souvenirs")
    with pytest.raises(DataError, match="freq='W' but the series have monthly dates"):
        fc.backtest(monthly, [fc.SeasonalNaive(freq="W")], h=6, n_windows=1)


def test_retail_series_frequencies():
    for name, (_, _, freq, _) in RETAIL_SERIES.items():
        df = retail_series(name)
        assert fc.validate_series(df, freq=None).attrs["freq"] == freq, name


def _run(name: str, names: list[str], h: int, n: int, step: int, **kw):
    df = retail_series(name)
    freq = df.attrs["freq"]
    season = fc.season_length(freq)
    models = make_models(names, h=h, freq=freq, device="cpu", seed=0, **kw)
    test, _, sel, val = fc.backtest_and_select(
        df, models, h=h, n_windows=n, step=step, season=season, show_progress=False
    )
    board = fc.leaderboard(fc.evaluate(test, df, season=season))
    return df, test, sel, board


def test_short_monthly_series_fallbacks_and_selection():
    """84 months of a souvenir shop: LightGBM falls back or sits out, the nets get short windows."""
    _, test, sel, board = _run(
        "souvenirs",
        ["SeasonalNaive", "AutoETS", "AutoTheta", "LightGBM", "Linear"],
        h=12,
        n=2,
        step=12,
        lgbm_trees=50,
        epochs=5,
    )
    notes = " ".join(test.attrs["notes"])
    assert "LightGBM" in notes and "Linear: window shortened" in notes
    t = sel.table
    rec = sel.recommended
    assert t.loc[rec, "role"] == "recommended"
    base = min(t.loc["SeasonalNaive", "mase"], t.loc["AutoETS", "mase"])
    assert rec in ("SeasonalNaive", "AutoETS") or t.loc[rec, "mase"] < base
    assert np.isfinite(board.loc[rec, "mase"])
    assert set(t.index[t["role"] == "dropped"]).isdisjoint({rec, *sel.members})


def test_quarterly_panel_networks_scaled_per_window():
    """8 states' quarterly takings: the standardised networks stay near the baselines."""
    _, _, sel, board = _run(
        "aus_accommodation",
        ["SeasonalNaive", "AutoETS", "Linear", "LightGBM"],
        h=4,
        n=3,
        step=4,
        lgbm_trees=50,
        epochs=20,
    )
    assert board.loc["Linear", "mase"] < 3 * board.loc["SeasonalNaive", "mase"]
    assert sel.table.loc[sel.recommended, "mase"] <= sel.table.loc["AutoETS", "mase"]


def test_daily_order_lines_pizzaplace():
    """A year of a pizza place's order lines, per pizza type and day."""
    df, test, sel, board = _run(
        "pizzaplace",
        ["SeasonalNaive", "AutoETS", "LightGBM", "LightGBM-lags", "Ensemble"],
        h=14,
        n=2,
        step=14,
        lgbm_trees=60,
    )
    assert test["cutoff"].nunique() == 2 and df["unique_id"].nunique() == 4
    t = sel.table
    base = min(t.loc["SeasonalNaive", "mase"], t.loc["AutoETS", "mase"])
    rec = sel.recommended
    assert rec in ("SeasonalNaive", "AutoETS") or t.loc[rec, "mase"] < base
    assert "Ensemble" not in board.index or sel.members
