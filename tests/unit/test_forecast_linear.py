"""LinearForecaster (global linear / MLP direct model) and the LightGBM calendar and smoothing
options: shapes, values by hand, no leakage, bad input."""

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


def _plan(df: pd.DataFrame, extra_days: int = 14) -> pd.DataFrame:
    """A made-up plan: column ``a`` = day of month, ``b`` = 100 on Fridays (per series)."""
    ds = pd.date_range(df["ds"].min(), df["ds"].max() + pd.Timedelta(days=extra_days))
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "unique_id": u,
                    "ds": ds,
                    "a": ds.day.astype(float) + i,
                    "b": 100.0 * (ds.dayofweek == 4),
                }
            )
            for i, u in enumerate(sorted(df["unique_id"].unique()))
        ],
        ignore_index=True,
    )


# ------------------------------------------------------------------ LinearForecaster
@pytest.mark.parametrize("hidden", [0, 8])
def test_linear_fits_predicts_and_learns_the_week(hidden):
    df = _toy()
    m = LinearForecaster(h=7, window=28, hidden=hidden, epochs=40, batch_size=32, device="cpu")
    pred = m.fit(df).predict(7)
    assert list(pred.columns) == ["unique_id", "ds", "Linear"] and len(pred) == 14
    assert np.isfinite(pred["Linear"]).all() and (pred["Linear"] >= 0).all()
    assert pred.groupby("unique_id")["ds"].min().eq(df["ds"].max() + pd.Timedelta(days=1)).all()
    s1 = pred[pred["unique_id"] == "s1"].set_index("ds")["Linear"]
    assert s1[s1.index.dayofweek == 5].mean() > 1.3 * s1[s1.index.dayofweek == 0].mean()
    assert len(m.history_) >= 1 and m.fit_result_.device == "cpu"
    assert (m.model_.mlp is None) == (hidden == 0)
    with pytest.raises(ParameterError, match="h <= 7"):
        m.predict(8)


def test_linear_inputs_by_hand():
    """window values over their last-28 mean, a one-hot weekday, the plan at origin + targets."""
    df = _toy(n=60, n_ids=2)
    plan = _plan(df)
    m = LinearForecaster(h=3, window=28, exog=plan, holidays=True, device="cpu")
    m.out = 3
    m._prepare(df)
    assert m._build(3).linear.in_features == 28 + 7 + 2 * (3 + 1) + 3
    windows = np.arange(1.0, 57.0).reshape(2, 28)
    ends = np.array(["2021-12-23", "2021-03-06"], dtype="datetime64[ns]")  # Thu, Sat
    x, scale = m._inputs(windows, ends, np.array(["s0", "s1"], dtype=object))
    x = x.numpy()
    assert np.allclose(scale, windows.mean(1))
    assert np.allclose(x[:, :28], windows / windows.mean(1)[:, None])
    assert x[0, 28:35].tolist() == [0, 0, 0, 1, 0, 0, 0] and x[1, 28 + 5] == 1  # dow one-hot
    sd = plan[["a", "b"]].std().to_numpy()
    a = x[:, 35:39] * sd[0]  # column a at the origin, +1, +2, +3 days
    # the plan above ends 14 days after the toy data: dates beyond it (and before it) read 0
    assert np.allclose(a[1], [7, 8, 9, 10]) and np.allclose(a[0], 0)  # s1: day of month + 1
    b = x[1, 39:43] * sd[1]  # Fridays: none from Sat 2021-03-06 to Tue 2021-03-09
    assert np.allclose(b, 0)
    # holidays of the target dates: 2021-12-24 and 25 are, 2021-12-26 is not
    assert x[0, -3:].tolist() == [1, 1, 0] and x[1, -3:].tolist() == [0, 0, 0]


def test_linear_reads_the_plan_at_the_target_dates():
    """A series driven by its plan: the model with the plan beats the one without it."""
    rng = np.random.default_rng(5)
    ds = pd.date_range("2021-01-04", periods=200)
    frames, plans = [], []
    for i in range(3):
        promo = (rng.random(len(ds) + 14) < 0.2).astype(float)
        y = 40.0 * (i + 1) * (1 + 2.0 * promo[: len(ds)]) + rng.normal(0, 1, len(ds))
        frames.append(pd.DataFrame({"unique_id": f"s{i}", "ds": ds, "y": y}))
        plans.append(
            pd.DataFrame(
                {"unique_id": f"s{i}", "ds": pd.date_range(ds[0], periods=len(ds) + 14), "p": promo}
            )
        )
    df, plan = pd.concat(frames), pd.concat(plans)
    train, test = df[df["ds"] <= ds[-15]], df[df["ds"] > ds[-15]]
    kw = {"h": 14, "window": 28, "epochs": 60, "batch_size": 64, "lr": 1e-2, "device": "cpu"}
    errs = {}
    for label, exog in (("plain", None), ("plan", plan)):
        pred = LinearForecaster(exog=exog, **kw).fit(train).predict(14)
        merged = test.merge(pred, on=["unique_id", "ds"])
        errs[label] = float(np.mean(np.abs(merged["y"] - merged["Linear"])))
    assert errs["plan"] < 0.5 * errs["plain"]


def test_linear_runs_on_the_resolved_device():
    m = LinearForecaster(h=7, window=28, epochs=1, device="auto").fit(_toy())
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert m.fit_result_.device.startswith(expected)
    assert len(m.predict(7)) == 14


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"hidden": -1}, "hidden"),
        ({"window": 0}, "window"),
        ({"h": 0}, "h and window"),
        ({"exog": pd.DataFrame({"unique_id": ["a"], "ds": ["2021-01-01"]})}, "feature"),
        ({"exog": pd.DataFrame({"x": [1.0]})}, "unique_id"),
    ],
)
def test_linear_bad_input(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        LinearForecaster(**kwargs)


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
    assert isinstance(lin, LinearForecaster) and lin.exog is None and not lin.holidays
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
        LightGBMForecaster(calendar="monthly")
    with pytest.raises(ParameterError, match="calendar"):
        make_features(x, dates, o, k, calendar="yearly")
    none, _ = make_features(x, dates, o, k, calendar="none")  # calendar features off
    assert not [c for c in none.columns if c.startswith("target_") or c == "origin_dow"]
    m = LightGBMForecaster(h=7, n_estimators=10, calendar="none").fit(_toy())
    assert not [c for c in m.feature_names_ if "dow" in c or "month" in c]
