"""Every forecaster fits and predicts on a tiny series; the LightGBM features do not leak."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from ecomlib.errors import NotFittedError, ParameterError
from ecomlib.forecast import (
    ConvForecaster,
    Ensemble,
    LightGBMForecaster,
    Naive,
    RNNForecaster,
    SeasonalNaive,
    SeedConv1D,
    StatsForecastModel,
    WindowAverage,
    calendar_features,
    make_features,
    us_holidays,
)
from ecomlib.forecast.gbm import lookback


def _toy(n: int = 120, n_ids: int = 2, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2021-01-04", periods=n)  # a Monday
    frames = []
    for i in range(n_ids):
        weekly = np.array([1, 1, 1, 1.2, 1.5, 2.0, 1.8])[np.arange(n) % 7]
        frames.append(
            pd.DataFrame(
                {"unique_id": f"s{i}", "ds": ds, "y": 50 * (i + 1) * weekly + rng.normal(0, 2, n)}
            )
        )
    return pd.concat(frames, ignore_index=True)


def _check(pred: pd.DataFrame, name: str, df: pd.DataFrame, h: int) -> None:
    assert list(pred.columns) == ["unique_id", "ds", name]
    assert len(pred) == df["unique_id"].nunique() * h
    assert pred[name].notna().all() and np.isfinite(pred[name]).all()
    first = pred.groupby("unique_id")["ds"].min()
    assert (first == df["ds"].max() + pd.Timedelta(days=1)).all()


def test_baselines_by_hand():
    df = _toy(n=30, n_ids=1)
    y = df["y"].to_numpy()
    assert np.allclose(Naive().fit(df).predict(3)["Naive"], y[-1])
    assert np.allclose(SeasonalNaive().fit(df).predict(9)["SeasonalNaive"], np.resize(y[-7:], 9))
    assert np.allclose(WindowAverage(5).fit(df).predict(2)["WindowAverage"], y[-5:].mean())


def test_predict_before_fit_is_refused():
    with pytest.raises(NotFittedError, match="fit"):
        Naive().predict(3)


@pytest.mark.parametrize("kind", ["AutoETS", "AutoARIMA"])
def test_statsforecast_models(kind):
    df = _toy(n=60, n_ids=2)
    kwargs = {"approximation": True, "max_p": 1, "max_q": 1} if kind == "AutoARIMA" else {}
    pred = StatsForecastModel(kind, **kwargs).fit(df).predict(7)
    _check(pred, kind, df, 7)
    # weekly pattern picked up: Saturdays above Mondays
    s0 = pred[pred["unique_id"] == "s0"].set_index("ds")[kind]
    assert s0[s0.index.dayofweek == 5].mean() > s0[s0.index.dayofweek == 0].mean()


@pytest.mark.parametrize("strategy", ["direct", "lags"])
def test_lightgbm_fits_predicts_and_explains(strategy):
    df = _toy()
    model = LightGBMForecaster(strategy=strategy, h=7, n_estimators=30, n_jobs=1)
    pred = model.fit(df).predict(7)
    _check(pred, model.name, df, 7)
    s1 = pred[pred["unique_id"] == "s1"].set_index("ds")[model.name]
    assert s1[s1.index.dayofweek == 5].mean() > s1[s1.index.dayofweek == 0].mean()
    imp = model.feature_importance()
    assert imp.sum() == pytest.approx(1.0) and imp.index[0] in model.feature_names_
    with pytest.raises(ParameterError):
        model.predict(8)


def test_lightgbm_features_do_not_leak_across_the_origin():
    """Each row's features depend only on values at or before its origin."""
    rng = np.random.default_rng(3)
    n = 150
    x = rng.gamma(2.0, 10.0, n)
    dates = pd.date_range("2021-01-01", periods=n)
    origins = np.arange(lookback() - 1, n - 14)
    horizons = rng.integers(1, 15, len(origins))
    base, base_scale = make_features(x, dates, origins, horizons)
    for cut in (70, 100, 130):
        x2 = x.copy()
        x2[cut + 1 :] = rng.gamma(2.0, 1000.0, n - cut - 1)  # rewrite the future of `cut`
        feats, scale = make_features(x2, dates, origins, horizons)
        safe = origins <= cut
        pd.testing.assert_frame_equal(feats[safe], base[safe])
        assert np.array_equal(scale[safe], base_scale[safe])
        assert not np.allclose(feats[~safe].to_numpy(), base[~safe].to_numpy())
    # and the model's forecast does not change when data after the cutoff is altered
    df = _toy()
    cutoff = df["ds"].max() - pd.Timedelta(days=7)
    train = df[df["ds"] <= cutoff]
    m1 = LightGBMForecaster(h=7, n_estimators=20, n_jobs=1).fit(train).predict(7)
    X, _ = LightGBMForecaster(h=7, n_estimators=20, n_jobs=1).fit(train).prediction_frame(7)
    assert (X["target_dow"].to_numpy()[:7] == (np.arange(1, 8) + cutoff.dayofweek) % 7).all()
    assert m1["ds"].min() == cutoff + pd.Timedelta(days=1)


@pytest.mark.parametrize(
    "model",
    [
        SeedConv1D(window=14, epochs=2, batch_size=64, device="cpu"),
        ConvForecaster(h=7, window=28, width=8, epochs=2, batch_size=16, device="cpu"),
        RNNForecaster(h=7, window=28, hidden=8, epochs=2, batch_size=16, device="cpu"),
        RNNForecaster(h=7, window=28, hidden=8, cell="lstm", epochs=2, batch_size=16, device="cpu"),
    ],
    ids=["seed_conv1d", "conv1d_plus", "gru", "lstm"],
)
def test_neural_forecasters_fit_predict(model):
    df = _toy()
    pred = model.fit(df).predict(7)
    _check(pred, model.name, df, 7)
    assert (pred[model.name] >= 0).all()
    assert len(model.history_) >= 1 and "train_loss" in model.history_


@pytest.mark.parametrize(
    "model, name, got",
    [
        (RNNForecaster(cell="rnn", epochs=1, device="cpu"), "cell", "'rnn'"),
        (SeedConv1D(scaling="max", epochs=1, device="cpu"), "scaling", "'max'"),
        (ConvForecaster(scaling=None, epochs=1, device="cpu"), "scaling", "None"),
    ],
    ids=["rnn_cell", "seed_scaling", "conv_scaling"],
)
def test_neural_forecasters_validate_in_fit(model, name, got):
    """Constructed with a bad value without complaint; fit names the parameter and value."""
    owner = type(model).__name__
    with pytest.raises(ParameterError, match=rf"The '{name}' parameter of {owner} .*got {got}\."):
        model.fit(_toy())


def test_seed_conv1d_architecture_is_the_briefs():
    m = SeedConv1D(window=28, epochs=1, device="cpu").fit(_toy())
    net = m.model_
    assert net.conv.out_channels == 32 and net.conv.kernel_size == (3,)
    assert net.pool.kernel_size == 2
    assert net.dense.out_features == 64 and net.out.out_features == 1


def test_ensemble_fit_predict_and_weights():
    df = _toy()
    ens = Ensemble([Naive(), SeasonalNaive()], weights=[1, 3], name="Blend").fit(df)
    pred = ens.predict(7)
    _check(pred, "Blend", df, 7)
    n = Naive().fit(df).predict(7)["Naive"].to_numpy()
    s = SeasonalNaive().fit(df).predict(7)["SeasonalNaive"].to_numpy()
    assert np.allclose(pred["Blend"], 0.25 * n + 0.75 * s)
    with pytest.raises(ParameterError):
        Ensemble(["Naive"]).fit(df)


def test_calendar_holidays():
    hol = us_holidays([2017]).set_index("holiday")["ds"]
    assert hol["thanksgiving"] == pd.Timestamp("2017-11-23")
    assert hol["easter"] == pd.Timestamp("2017-04-16")
    assert hol["memorial_day"] == pd.Timestamp("2017-05-29")
    assert hol["labor_day"] == pd.Timestamp("2017-09-04")
    cal = calendar_features(pd.to_datetime(["2017-12-23", "2017-12-25", "2017-11-24"]))
    assert cal["is_major"].tolist() == [0, 1, 0]
    assert cal["days_to_major"].tolist() == [2, 0, 15]  # capped at 15
    assert cal["days_since_major"].tolist()[2] == 1
    assert cal["dow"].tolist() == [5, 0, 4]


def test_lightgbm_extra_series_train_but_are_not_forecast_and_do_not_leak():
    """Extra training series are cut at the cutoff: their later values never change a forecast."""
    df = _toy(n=120, n_ids=2)
    extra = _toy(n=140, n_ids=3, seed=5).assign(unique_id=lambda f: "x" + f["unique_id"])
    cutoff = df["ds"].max()
    kw = {"h": 7, "n_estimators": 20, "n_jobs": 1}
    m = LightGBMForecaster(extra_series=extra, **kw).fit(df)
    pred = m.predict(7)
    _check(pred, m.name, df, 7)  # only the series of df are forecast
    assert m.n_extra_series_ == 3
    X, _, _ = m.training_frame(df)
    X0, _, _ = LightGBMForecaster(**kw).training_frame(df)
    assert len(X) == len(X0) * 5 // 2  # 3 extra series of the same length once cut
    # rewriting the extra series after the cutoff changes nothing
    late = extra["ds"] > cutoff
    wild = extra.assign(y=np.where(late, 1e6, extra["y"]))
    pred2 = LightGBMForecaster(extra_series=wild, **kw).fit(df).predict(7)
    pd.testing.assert_frame_equal(pred, pred2)
    # ... while their history before the cutoff does reach the model
    early = extra.assign(y=np.where(late, extra["y"], extra["y"][::-1].to_numpy() * 3))
    pred3 = LightGBMForecaster(extra_series=early, **kw).fit(df).predict(7)
    assert not np.allclose(pred[m.name], pred3[m.name])
    # a scored series listed among the extras is not counted twice; a sparser stride
    m2 = LightGBMForecaster(extra_series=pd.concat([extra, df]), extra_stride=3, **kw)
    X2, _, w2 = m2.training_frame(df)
    assert m2.n_extra_series_ == 3 and len(X0) < len(X2) < len(X)
    assert "3 series" in repr(LightGBMForecaster(extra_series=extra))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"extra_series": pd.DataFrame({"unique_id": ["a"], "ds": [pd.Timestamp("2021-01-01")]})},
        {"extra_stride": 0},
        {"extra_weight": 0.0},
    ],
)
def test_lightgbm_extra_series_bad_input(kwargs):
    model = LightGBMForecaster(**kwargs)  # the constructor stores, fit validates
    (name,) = kwargs
    with pytest.raises(ParameterError, match=f"'{name}' parameter of LightGBMForecaster"):
        model.fit(_toy())


@pytest.mark.parametrize(
    "kwargs, got",
    [
        ({"strategy": "recursive"}, "'recursive'"),
        ({"target": "log"}, "'log'"),
        ({"calendar": "monthly"}, "'monthly'"),
        ({"extra_stride": 0}, "0"),
        ({"extra_weight": -1.0}, "-1.0"),
        ({"params": [1, 2]}, r"\[1, 2\]"),
    ],
)
def test_lightgbm_constructor_stores_and_fit_validates(kwargs, got):
    """A bad value does not stop the constructor; fit names the parameter and the value."""
    model = LightGBMForecaster(h=7, n_estimators=5, **kwargs)
    (name, value) = next(iter(kwargs.items()))
    assert getattr(model, name) is value  # stored as given
    with pytest.raises(
        ParameterError, match=rf"The '{name}' parameter of LightGBMForecaster .*got {got}\."
    ):
        model.fit(_toy())


def test_lightgbm_params_override_the_knobs():
    """Further LightGBM parameters reach the booster and override the named knobs."""
    df = _toy()
    kw = {"h": 7, "n_estimators": 20, "n_jobs": 1}
    base = LightGBMForecaster(**kw).fit(df)
    assert base.model_.get_params()["random_state"] == 42
    assert base.feature_importance().sum() == pytest.approx(1.0)
    X, y, w = LightGBMForecaster(**kw).training_frame(df)
    assert np.allclose(w, 1.0)
    xt = LightGBMForecaster(params={"extra_trees": True, "num_leaves": 7}, **kw).fit(df)
    got = xt.model_.get_params()
    assert got["extra_trees"] is True and got["num_leaves"] == 7
    assert not np.allclose(xt.predict(7)["LightGBM"], base.predict(7)["LightGBM"])


def test_boxcox_by_hand_and_round_trip():
    from ecomlib.forecast.base import boxcox, inv_boxcox

    y = np.array([0.0, 3.0, 8.0, 99.0])
    assert np.allclose(boxcox(y, 0.5), [0.0, 2.0, 4.0, 18.0])  # 2 * (sqrt(y + 1) - 1)
    assert np.allclose(boxcox(y, 0.0), np.log1p(y))
    assert np.allclose(boxcox(y, 1.0), y)
    for lam in (0.0, 0.25, 0.5, 1.0):
        assert np.allclose(inv_boxcox(boxcox(y, lam), lam), y)
    assert boxcox(np.array([-5.0]), 0.5)[0] == 0.0  # negative values read as 0
    assert inv_boxcox(np.array([-3.0, -0.5]), 0.5).tolist() == [0.0, 0.0]  # clipped at 0


def test_statsforecast_boxcox_model_fits_the_transformed_series():
    """AutoETS on sqrt(y + 1): forecasts back on the original scale, weekly pattern kept."""
    df = _toy(n=60, n_ids=2)
    m = StatsForecastModel("AutoETS", boxcox=0.5, name="AutoETS-sqrt").fit(df)
    assert np.allclose(m.df_["y"], 2 * (np.sqrt(df["y"].to_numpy() + 1) - 1))
    pred = m.predict(7)
    _check(pred, "AutoETS-sqrt", df, 7)
    plain = StatsForecastModel("AutoETS").fit(df).predict(7)
    # same level as the untransformed model (within 10%), yet not the same forecast
    ratio = pred["AutoETS-sqrt"].to_numpy() / plain["AutoETS"].to_numpy()
    assert np.all(np.abs(ratio - 1) < 0.1) and not np.allclose(ratio, 1.0)
    s0 = pred[pred["unique_id"] == "s0"].set_index("ds")["AutoETS-sqrt"]
    assert s0[s0.index.dayofweek == 5].mean() > s0[s0.index.dayofweek == 0].mean()


@pytest.mark.parametrize("lam", [-0.5, 3.0, float("nan")])
def test_statsforecast_boxcox_bad_input(lam):
    model = StatsForecastModel("AutoETS", boxcox=lam)
    with pytest.raises(ParameterError, match="'boxcox' parameter of StatsForecastModel"):
        model.fit(_toy())


def test_zoo_sqrt_ets_replaces_autoets_in_the_ensemble():
    from ecomlib.forecast.zoo import ETS_BOXCOX, make_models

    zoo = make_models(["AutoETS", "AutoETS-sqrt", "LightGBM", "LightGBM-lags", "Ensemble"])
    assert zoo[1].name == "AutoETS-sqrt" and zoo[1].boxcox == ETS_BOXCOX == 0.5
    assert zoo[1].kwargs == {"model": "AZA"}
    weekly = make_models(["AutoETS-sqrt"], freq="W")[0]  # season 52 ...
    assert weekly.kwargs == {"model": "AZA"} and weekly.season == 52
    year = pd.DataFrame(  # ... but one year of weeks holds no two seasons: non-seasonal
        {
            "unique_id": "a",
            "ds": pd.date_range("2021-01-04", periods=52, freq="W-MON"),
            "y": np.arange(52.0),
        }
    )
    weekly.fit(year)
    assert weekly.season_ == 1 and weekly._model().season_length == 1
    assert "season 1" in weekly.notes_[0] and len(weekly.predict(3)) == 3
    assert make_models(["AutoETS-sqrt"], freq="W", season=1)[0].kwargs == {"model": "AZN"}
    assert zoo[-1].member_names == ["AutoETS-sqrt", "LightGBM", "LightGBM-lags"]
    plain = make_models(["AutoETS", "LightGBM", "LightGBM-lags", "Ensemble"])
    assert plain[-1].member_names == ["AutoETS", "LightGBM", "LightGBM-lags"]


def test_backtest_reports_training_its_time_budget_cut():
    from ecomlib.forecast import backtest

    df = _toy(n=150)
    slow = ConvForecaster(
        h=7, window=28, width=8, epochs=400, batch_size=8, max_seconds=0.5, device="cpu"
    )
    cv = backtest(df, [SeasonalNaive(), slow], h=7, n_windows=2, show_progress=False)
    assert cv.attrs["budget_cut"] == {slow.name: 2}
    note = cv.attrs["notes"][0]
    assert note.startswith(f"{slow.name}: its time budget") and "in 2 of 2 windows" in note
    free = backtest(df, [SeasonalNaive()], h=7, n_windows=2, show_progress=False)
    assert free.attrs["budget_cut"] == {} and free.attrs["notes"] == []


def test_backtest_in_worker_processes_gives_the_same_frame():
    """n_jobs=2 fits the (window, model) pairs in two processes: the same forecasts, notes,
    budget cuts and fitted models as fitting them one after another in this process."""
    from ecomlib.forecast import backtest_with_models

    df = _toy(n=150, n_ids=3)
    models = [
        SeasonalNaive(),
        StatsForecastModel("AutoETS", season=7),
        LightGBMForecaster("lags", h=7, n_estimators=30, seed=1),
        SeedConv1D(window=28, epochs=2, batch_size=16, device="cpu", seed=3),
    ]
    models.append(Ensemble(models[1:3]))
    kw = {"h": 7, "n_windows": 3, "show_progress": False}
    t0 = time.perf_counter()
    one, fit_one = backtest_with_models(df, models, n_jobs=1, **kw)
    wall = time.perf_counter() - t0
    members = [m.name for m in models[:-1]]  # an ensemble's seconds are its members'
    assert sum(one.attrs["seconds"][m] for m in members) <= wall  # each second counted once
    two, fit_two = backtest_with_models(df, models, n_jobs=2, **kw)
    pd.testing.assert_frame_equal(one, two)
    assert one.attrs["notes"] == two.attrs["notes"]
    assert one.attrs["budget_cut"] == two.attrs["budget_cut"]
    assert set(one.attrs["seconds"]) == set(two.attrs["seconds"])
    assert fit_one.keys() == fit_two.keys()
    pd.testing.assert_frame_equal(
        fit_one["SeedConv1D"].predict(7), fit_two["SeedConv1D"].predict(7)
    )
