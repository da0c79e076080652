"""LinearForecaster (global linear direct model) and the LightGBM calendar options: shapes, values by hand, no leakage, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from ecomlib.errors import ParameterError
from ecomlib.forecast import LightGBMForecaster, LinearForecaster, make_features
from ecomlib.forecast.gbm import CALENDAR_COLUMNS, lookback


def _toy(n: int = 120, n_ids: int = 2, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2021-01-04", periods=n)  # a Monday
    weekly = np.array([1, 1, 1, 1.2, 1.5, 2.0, 1.8])[np.arange(n) % 7]
    return pd.concat(
        [
            pd.DataFrame(
                {"unique_id": f"s{i}", "ds": ds, "y": 50 * (i + 1) * weekly + rng.normal(0, 2, n)}
            )
            for i in range(n_ids)
        ],
        ignore_index=True,
    )


# ------------------------------------------------------------------ LinearForecaster
def test_linear_fits_predicts_and_learns_the_week():
    df = _toy()
    m = LinearForecaster(h=7, window=28, epochs=40, batch_size=32, device="cpu")
    pred = m.fit(df).predict(7)
    assert list(pred.columns) == ["unique_id", "ds", "Linear"] and len(pred) == 14
    assert np.isfinite(pred["Linear"]).all() and (pred["Linear"] >= 0).all()
    assert pred.groupby("unique_id")["ds"].min().eq(df["ds"].max() + pd.Timedelta(days=1)).all()
    s1 = pred[pred["unique_id"] == "s1"].set_index("ds")["Linear"]
    assert s1[s1.index.dayofweek == 5].mean() > 1.3 * s1[s1.index.dayofweek == 0].mean()
    assert len(m.history_) >= 1 and m.fit_result_.device == "cpu"
    with pytest.raises(ParameterError, match="h <= 7"):
        m.predict(8)


def test_linear_inputs_by_hand():
    """window values over their last-28 mean and a one-hot weekday."""
    df = _toy(n=60, n_ids=2)
    m = LinearForecaster(h=3, window=28, device="cpu")
    m.out = 3
    m._prepare(df)
    assert m._build(3).linear.in_features == 28 + 7
    windows = np.arange(1.0, 57.0).reshape(2, 28)
    ends = np.array(["2021-12-23", "2021-03-06"], dtype="datetime64[ns]")  # Thu, Sat
    x, scale = m._inputs(windows, ends, np.array(["s0", "s1"], dtype=object))
    x = x.numpy()
    assert x.shape == (2, 35)
    assert np.allclose(scale, windows.mean(1))
    assert np.allclose(x[:, :28], windows / windows.mean(1)[:, None])
    assert x[0, 28:35].tolist() == [0, 0, 0, 1, 0, 0, 0] and x[1, 28 + 5] == 1  # dow one-hot


def test_linear_runs_on_the_resolved_device():
    m = LinearForecaster(h=7, window=28, epochs=1, device="auto").fit(_toy())
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert m.fit_result_.device.startswith(expected)
    assert len(m.predict(7)) == 14


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"window": 0}, "The 'window' parameter of LinearForecaster .*; got 0"),
        ({"h": 0}, "The 'h' parameter of LinearForecaster .*; got 0"),
        ({"scaling": "max"}, "The 'scaling' parameter of LinearForecaster .*; got 'max'"),
    ],
)
def test_linear_bad_input(kwargs, match):
    model = LinearForecaster(**kwargs, epochs=1, device="cpu")  # stores, fit validates
    with pytest.raises(ParameterError, match=match):
        model.fit(_toy())


def test_linear_short_series_shorter_window_or_left_out():
    m = LinearForecaster(h=14, window=56, epochs=1, device="cpu").fit(_toy(n=60))
    assert m.window_ == 60 - 14 - 8 and "window shortened" in m.notes_[0]
    assert m.predict(14)["Linear"].notna().all()
    mixed = pd.concat([_toy(n=120, n_ids=1), _toy(n=50, n_ids=2).query("unique_id == 's1'")])
    m = LinearForecaster(h=14, window=56, epochs=1, device="cpu").fit(mixed)
    pred = m.predict(14)
    assert pred.loc[pred["unique_id"] == "s1", "Linear"].isna().all()
    assert pred.loc[pred["unique_id"] == "s0", "Linear"].notna().all()
    assert "1 series shorter than 78 values not forecast (s1)" in m.notes_[0]
    with pytest.raises(ParameterError, match="needs at least"):
        LinearForecaster(h=14, window=56, epochs=1, device="cpu").fit(_toy(n=20))


def test_zoo_linear():
    from ecomlib.forecast.zoo import ENSEMBLE_MEMBERS, LINEAR_SETTINGS, make_models

    lin, weekly = make_models(["Linear"], device="cpu")[0], make_models(["Linear"], freq="W")[0]
    assert isinstance(lin, LinearForecaster)
    assert lin.window == LINEAR_SETTINGS["window"] == 56 and lin.epochs == 30
    assert weekly.window is None and weekly.freq == "W"
    assert "Linear" not in ENSEMBLE_MEMBERS  # measured, not chosen (see make_models)
    zoo = make_models(["AutoETS-sqrt", "LightGBM", "Linear", "Ensemble"], device="cpu")
    assert zoo[-1].member_names == ["AutoETS-sqrt", "LightGBM"]


# ------------------------------------------------------------------ LightGBM options
def test_calendar_options():
    rng = np.random.default_rng(1)
    x = rng.gamma(2.0, 10.0, 120)
    dates = pd.date_range("2021-01-01", periods=120)
    o = np.arange(lookback() - 1, 100)
    k = np.full(len(o), 3)
    full, s1 = make_features(x, dates, o, k)
    cal = [c for c in full.columns if c.startswith("target_")]
    assert len(cal) == 9
    month, s2 = make_features(x, dates, o, k, calendar="month")
    assert [c for c in month.columns if c.startswith("target_")] == ["target_month"]
    pd.testing.assert_frame_equal(month, full[list(month.columns)])
    assert np.array_equal(s1, s2)
    assert set(CALENDAR_COLUMNS) == {"full", "none", "month"}
    with pytest.raises(ParameterError, match="calendar"):
        LightGBMForecaster(calendar="monthly").fit(_toy())
    with pytest.raises(ParameterError, match="calendar"):
        make_features(x, dates, o, k, calendar="yearly")
    none, _ = make_features(x, dates, o, k, calendar="none")  # calendar features off
    assert not [c for c in none.columns if c.startswith("target_") or c == "origin_dow"]
    m = LightGBMForecaster(h=7, n_estimators=10, calendar="none").fit(_toy())
    assert not [c for c in m.feature_names_ if "dow" in c or "month" in c]
