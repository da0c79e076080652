"""Forecast metrics against hand-computed values, and the backtest/interval helpers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecomlib.errors import ParameterError
from ecomlib.forecast import (
    Ensemble,
    Naive,
    SeasonalNaive,
    add_intervals,
    backtest,
    bias,
    conformal_quantiles,
    cutoffs,
    evaluate,
    interval_coverage,
    leaderboard,
    mase,
    rmsse,
    smape,
)


def test_mase_by_hand():
    insample = np.array([1, 2, 3, 4, 5, 6])
    # season 2: |3-1|, |4-2|, |5-3|, |6-4| -> mean 2
    assert mase([10, 12], [11, 10], insample, season=2) == pytest.approx((1 + 2) / 2 / 2)
    # season 1: mean |diff| = 1
    assert mase([0, 0], [1, 3], insample, season=1) == pytest.approx(2.0)


def test_rmsse_smape_bias_by_hand():
    insample = np.array([0.0, 2.0, 0.0, 2.0])  # season 1: squared diffs all 4
    assert rmsse([1, 1], [2, 4], insample, season=1) == pytest.approx(np.sqrt((1 + 9) / 2 / 4))
    assert smape([100, 0], [50, 0]) == pytest.approx(100 * (2 * 50 / 150) / 2)
    assert bias([10, 10], [12, 13]) == pytest.approx(100 * 5 / 20)


def test_mase_needs_enough_history():
    with pytest.raises(ValueError):
        mase([1], [1], [1, 2], season=7)


def _toy(n: int = 70, n_ids: int = 3, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2021-01-01", periods=n)
    frames = []
    for i in range(n_ids):
        weekly = 10 * (i + 1) * (1 + 0.5 * np.sin(2 * np.pi * np.arange(n) / 7))
        frames.append(
            pd.DataFrame({"unique_id": f"s{i}", "ds": ds, "y": weekly + rng.normal(0, 1, n)})
        )
    return pd.concat(frames, ignore_index=True)


def test_cutoffs_follow_statsforecast_semantics():
    df = _toy(n=60)
    cuts = cutoffs(df, h=7, n_windows=3, step=7)
    last = df["ds"].max()
    assert cuts[-1] == last - pd.Timedelta(days=7)
    assert [c2 - c1 for c1, c2 in zip(cuts, cuts[1:], strict=False)] == [pd.Timedelta(days=7)] * 2
    with pytest.raises(ParameterError):
        cutoffs(df, h=30, n_windows=3, step=30)


def test_backtest_frame_evaluate_and_leaderboard():
    df = _toy()
    models = [Naive(), SeasonalNaive(), Ensemble(["Naive", "SeasonalNaive"], name="Mean2")]
    cv = backtest(df, models, h=7, n_windows=2, step=7, show_progress=False)
    assert list(cv.columns) == ["unique_id", "ds", "cutoff", "y", "Naive", "SeasonalNaive", "Mean2"]
    assert len(cv) == 3 * 7 * 2
    assert cv.groupby("cutoff")["ds"].min().tolist() == [
        c + pd.Timedelta(days=1) for c in sorted(cv["cutoff"].unique())
    ]
    # actuals in the frame are the real values
    merged = cv.merge(df, on=["unique_id", "ds"])
    assert np.allclose(merged["y_x"], merged["y_y"])
    assert np.allclose(cv["Mean2"], (cv["Naive"] + cv["SeasonalNaive"]) / 2)
    assert set(cv.attrs["seconds"]) == {"Naive", "SeasonalNaive", "Mean2"}

    scores = evaluate(cv, df, season=7)
    assert len(scores) == 3 * 2 * 3
    # recompute one MASE by hand
    row = scores[(scores["model"] == "Naive") & (scores["unique_id"] == "s1")].iloc[0]
    g = cv[(cv["unique_id"] == "s1") & (cv["cutoff"] == row["cutoff"])]
    hist = df[(df["unique_id"] == "s1") & (df["ds"] <= row["cutoff"])]["y"].to_numpy()
    expected = np.mean(np.abs(g["y"] - g["Naive"])) / np.mean(np.abs(hist[7:] - hist[:-7]))
    assert row["mase"] == pytest.approx(expected)
    board = leaderboard(scores)
    assert board.index[0] == "SeasonalNaive"  # a clean weekly pattern
    assert board.loc["SeasonalNaive", "mase"] < board.loc["Naive", "mase"]


def test_conformal_intervals_cover_at_about_the_nominal_level():
    df = _toy(n=200, n_ids=8, seed=1)
    cv = backtest(df, [SeasonalNaive()], h=7, n_windows=12, step=7, show_progress=False)
    q = conformal_quantiles(cv, df, "SeasonalNaive", levels=(80, 95))
    assert list(q.columns) == [80, 95] and len(q) == 7
    assert (q[95] >= q[80]).all()
    cov = interval_coverage(cv, df, ["SeasonalNaive"], levels=(80, 95))
    assert 0.6 <= cov.loc["SeasonalNaive", "coverage_80"] <= 1.0
    assert cov.loc["SeasonalNaive", "coverage_95"] >= cov.loc["SeasonalNaive", "coverage_80"]
    fc = SeasonalNaive().fit(df).predict(7)
    iv = add_intervals(fc, q, df, "SeasonalNaive")
    assert (iv["SeasonalNaive-lo-95"] <= iv["SeasonalNaive-lo-80"]).all()
    assert (iv["SeasonalNaive-hi-80"] <= iv["SeasonalNaive-hi-95"]).all()
    assert (iv["SeasonalNaive-lo-95"] >= 0).all()


def test_closed_days_zero_only_listed_dates():
    from ecomlib.forecast import apply_closed_days

    frame = pd.DataFrame(
        {
            "unique_id": "a",
            "ds": pd.to_datetime(["2017-12-24", "2017-12-25", "2018-12-25"]),
            "y": [1.0, 0.0, 0.0],
            "m": [5.0, 6.0, 7.0],
        }
    )
    out = apply_closed_days(frame, ["m"], ["12-25"])
    assert out["m"].tolist() == [5.0, 0.0, 0.0]
    assert frame["m"].tolist() == [5.0, 6.0, 7.0]  # a copy
    assert apply_closed_days(frame, ["m"], [])["m"].tolist() == [5.0, 6.0, 7.0]


def test_export_goes_to_run_folder_or_data_processed(tmp_path, monkeypatch):
    from ecomlib.forecast.report import export_forecast
    from ecomlib.report import output_path

    fc = pd.DataFrame({"unique_id": ["a"], "ds": pd.to_datetime(["2018-01-01"]), "m": [1.234]})
    monkeypatch.setenv("ECOM_METRICS_FILE", str(tmp_path / "run" / "02.metrics.json"))
    path = export_forecast(fc, "forecast.csv")
    assert path == tmp_path / "run" / "forecast.csv"
    assert path.read_text().splitlines() == ["unique_id,ds,m", "a,2018-01-01,1.23"]
    monkeypatch.delenv("ECOM_METRICS_FILE")
    monkeypatch.setenv("ECOM_DATA_DIR", str(tmp_path / "data"))
    assert output_path("f.csv") == tmp_path / "data" / "processed" / "f.csv"
    assert output_path(tmp_path / "x.csv") == tmp_path / "x.csv"
