"""Named model configurations, so a notebook parameter can be a plain list of names."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd

from ecomlib.errors import ParameterError
from ecomlib.forecast.backtest import Ensemble
from ecomlib.forecast.base import (
    Forecaster,
    Naive,
    SeasonalNaive,
    StatsForecastModel,
    WindowAverage,
)
from ecomlib.forecast.gbm import LightGBMForecaster
from ecomlib.forecast.neural import ConvForecaster, LinearForecaster, RNNForecaster, SeedConv1D
from ecomlib.forecast.series import _norm_freq, season_length

MODEL_NAMES = (
    "Naive",
    "SeasonalNaive",
    "WindowAverage",
    "AutoETS",
    "AutoETS-sqrt",
    "AutoARIMA",
    "AutoTheta",
    "DynamicOptimizedTheta",
    "MSTL",
    "AutoCES",
    "LightGBM",
    "LightGBM-lags",
    "LightGBM+promo",
    "LightGBM+promo+extra",
    "LightGBM+promo-ratio",
    "LightGBM+promo-huber",
    "SeedConv1D",
    "Conv1D+",
    "GRU",
    "LSTM",
    "Linear",
    "Ensemble",
)
ENSEMBLE_MEMBERS = (
    "AutoETS",
    "AutoETS-sqrt",
    "LightGBM+promo",
    "LightGBM+promo+extra",
    "LightGBM",
    "LightGBM-lags",
    "LightGBM+promo-ratio",
    "LightGBM+promo-huber",
)
# LightGBM+promo with another target / loss: weaker alone, but diverse Ensemble members
DIVERSE_MEMBERS = ("LightGBM+promo-ratio", "LightGBM+promo-huber")
# Box-Cox exponent of AutoETS-sqrt (chosen on the validation windows, see make_models)
ETS_BOXCOX = 0.5
# LightGBM+promo+extra: every other origin of the extra series (chosen on validation, see
# make_models); the scored series keep every origin
EXTRA_SETTINGS = {"extra_stride": 2}
# Linear: 56 scaled values + the origin's weekday in, 14 values out (see make_models); a linear
# layer trains in about a second, so it keeps its own epoch count
LINEAR_SETTINGS = {"window": 56, "epochs": 30}
# the promotion-plan columns LightGBM+promo reads (chosen on the validation windows)
PROMO_COLUMNS = ("display_share", "mailer_share", "display_depth", "mailer_depth")


def make_models(
    names: Sequence[str],
    h: int = 14,
    freq: str = "D",
    epochs: int = 20,
    lgbm_trees: int = 600,
    lgbm_learning_rate: float = 0.03,
    seed: int = 42,
    device: str = "auto",
    nn_max_seconds: float | None = None,
    arima_fast: bool = True,
    exog: pd.DataFrame | None = None,
    extra_series: pd.DataFrame | None = None,
    season: int | None = None,
    calendar: str = "auto",
) -> list[Forecaster]:
    """Forecasters for ``names`` (see :data:`MODEL_NAMES`), in the order given.

    ``freq`` is "D", "W", "M" or "Q"; ``season`` overrides its seasonal period
    (:func:`ecomlib.forecast.season_length`) and ``calendar`` the LightGBMs' calendar features
    ("auto", "none", ... see :class:`ecomlib.forecast.LightGBMForecaster`).

    ``Ensemble`` is the mean of AutoETS (AutoETS-sqrt instead when listed), the direct LightGBMs
    (``LightGBM+promo`` and ``LightGBM+promo+extra`` when listed, else ``LightGBM``),
    ``LightGBM-lags`` and the :data:`DIVERSE_MEMBERS`, as far as they are listed; it is combined
    from their backtest columns. When LightGBM+promo+extra and both diverse members are listed,
    LightGBM+promo is left out (redundant next to them).
    ``LightGBM+promo`` is the direct LightGBM that also reads the retailer's promotion plan at
    the target date: ``exog`` (from :func:`ecomlib.forecast.promotion_features`) must be given,
    and its :data:`PROMO_COLUMNS` are used.
    ``LightGBM+promo+extra`` is LightGBM+promo trained on more series: ``extra_series`` (long
    frame of further series, e.g. categories ranked 51-150 by sales; ``exog`` must cover them
    too) adds training rows, cut at each origin, from every other origin
    (:data:`EXTRA_SETTINGS`); only the scored series are forecast.
    ``LightGBM+promo-ratio`` (target over the last 4 same-weekday values, ``target="ratio"``)
    and ``LightGBM+promo-huber`` (Huber loss) are LightGBM+promo with another target or loss.
    ``AutoETS-sqrt`` is AutoETS fitted to the square root of the sales (Box-Cox exponent
    :data:`ETS_BOXCOX` on ``y + 1``, forecasts squared back) with additive errors and season (trend
    chosen automatically, model ``"AZA"``); it replaces AutoETS in the Ensemble when listed.
    ``Linear`` (:class:`ecomlib.forecast.LinearForecaster`, :data:`LINEAR_SETTINGS`) is a global
    linear map from the last 56 scaled values and the origin's weekday to the 14 values; it is
    not an Ensemble member.
    The LightGBM settings (600 trees at learning rate 0.03, every origin used for the direct
    model) and the ensemble members were chosen on the four backtest windows *before* protocol
    F1's test windows (``python -m benchmarks.forecast --validation``), never on the test windows;
    the validation figures of the options tried are in docs/benchmarks.md.
    The statsforecast models AutoTheta, DynamicOptimizedTheta, MSTL (AutoETS trend) and AutoCES
    are cheap, diverse peers with a weekly season.
    ``arima_fast`` restricts AutoARIMA's search (approximation, p, q <= 2, P, Q <= 1): the full
    stepwise search takes several minutes on 50 series x 4 windows.
    """
    unknown = [n for n in names if n not in MODEL_NAMES]
    if unknown:
        raise ParameterError(f"Unknown model(s) {unknown}. Models: {', '.join(MODEL_NAMES)}.")
    s = season or season_length(freq)
    daily = _norm_freq(freq) == "D"
    factories = {
        **_baselines(freq, s, daily),
        **_statsforecast_models(freq, s, arima_fast),
        **_lightgbms(
            h, freq, s, lgbm_trees, lgbm_learning_rate, seed, calendar, exog, extra_series
        ),
        **_networks(h, freq, daily, epochs, seed, device, nn_max_seconds),
    }
    models: list[Forecaster] = []
    for name in names:
        if name == "Ensemble":
            models.append(_ensemble(models, freq))
        else:
            models.append(factories[name]())
    return models


_Factories = dict[str, Callable[[], Forecaster]]


def _baselines(freq: str, s: int, daily: bool) -> _Factories:
    """name -> builder of the simple baselines (``s``: the seasonal period)."""
    return {
        "Naive": lambda: Naive(freq=freq),
        "SeasonalNaive": lambda: SeasonalNaive(s, freq=freq),
        "WindowAverage": lambda: WindowAverage(28 if daily else 4, freq=freq),
    }


def _statsforecast_models(freq: str, s: int, arima_fast: bool) -> _Factories:
    """name -> builder of the statsforecast models (see :func:`make_models`)."""
    arima = (
        {"approximation": True, "max_p": 2, "max_q": 2, "max_P": 1, "max_Q": 1}
        if arima_fast
        else {}
    )
    return {
        "AutoETS": lambda: StatsForecastModel("AutoETS", season=s, freq=freq),
        "AutoETS-sqrt": lambda: StatsForecastModel(
            "AutoETS",
            season=s,
            freq=freq,
            boxcox=ETS_BOXCOX,
            name="AutoETS-sqrt",
            model="AZA" if s > 1 else "AZN",  # additive on the sqrt scale
        ),
        "AutoARIMA": lambda: StatsForecastModel("AutoARIMA", season=s, freq=freq, **arima),
        "AutoTheta": lambda: StatsForecastModel("AutoTheta", season=s, freq=freq),
        "DynamicOptimizedTheta": lambda: StatsForecastModel(
            "DynamicOptimizedTheta", season=s, freq=freq
        ),
        "MSTL": lambda: StatsForecastModel("MSTL", season=s, freq=freq),
        "AutoCES": lambda: StatsForecastModel("AutoCES", season=s, freq=freq),
    }


def _lightgbms(
    h: int,
    freq: str,
    s: int,
    trees: int,
    learning_rate: float,
    seed: int,
    calendar: str,
    exog: pd.DataFrame | None,
    extra_series: pd.DataFrame | None,
) -> _Factories:
    """name -> builder of the LightGBM variants (see :func:`make_models`); the promotion
    variants check ``exog`` / ``extra_series`` when built."""
    gbm = {  # shared by the LightGBM variants (chosen on validation windows)
        "h": h,
        "n_estimators": trees,
        "learning_rate": learning_rate,
        "objective": "l1",
        "seed": seed,
        "season": s,
        "freq": freq,
        "calendar": calendar,
    }
    return {
        "LightGBM": lambda: LightGBMForecaster("direct", origin_stride=1, **gbm),
        "LightGBM-lags": lambda: LightGBMForecaster("lags", **gbm),
        "LightGBM+promo": lambda: LightGBMForecaster(
            "direct", origin_stride=1, exog=_promo(exog), name="LightGBM+promo", **gbm
        ),
        "LightGBM+promo+extra": lambda: LightGBMForecaster(
            "direct",
            exog=_promo(exog),
            extra_series=_extra(extra_series),
            name="LightGBM+promo+extra",
            **EXTRA_SETTINGS,
            **gbm,
        ),
        # diverse members for the Ensemble: same features, other targets or losses
        "LightGBM+promo-ratio": lambda: LightGBMForecaster(
            "direct", exog=_promo(exog), target="ratio", name="LightGBM+promo-ratio", **gbm
        ),
        "LightGBM+promo-huber": lambda: LightGBMForecaster(
            "direct",
            exog=_promo(exog),
            name="LightGBM+promo-huber",
            **{**gbm, "objective": "huber"},
        ),
    }


def _networks(
    h: int,
    freq: str,
    daily: bool,
    epochs: int,
    seed: int,
    device: str,
    max_seconds: float | None,
) -> _Factories:
    """name -> builder of the neural forecasters (trained by :func:`ecomlib.train.fit`)."""
    nn = {
        "epochs": epochs,
        "seed": seed,
        "device": device,
        "max_seconds": max_seconds,
        "freq": freq,
    }
    return {
        "SeedConv1D": lambda: SeedConv1D(
            window=28 if daily else None, batch_size=32, patience=3, **nn
        ),
        "Conv1D+": lambda: ConvForecaster(h=h, **nn),
        "GRU": lambda: RNNForecaster(h=h, cell="gru", **nn),
        "LSTM": lambda: RNNForecaster(h=h, cell="lstm", **nn),
        "Linear": lambda: LinearForecaster(
            h=h,
            **{**nn, **LINEAR_SETTINGS, "window": LINEAR_SETTINGS["window"] if daily else None},
        ),
    }


def _ensemble(models: Sequence[Forecaster], freq: str) -> Ensemble:
    """The mean of the :data:`ENSEMBLE_MEMBERS` among ``models`` (the ones listed before it)."""
    members = [m for m in models if m.name in ENSEMBLE_MEMBERS]
    listed = {m.name for m in members}
    if "LightGBM+promo" in listed:
        members = [m for m in members if m.name != "LightGBM"]
    if "AutoETS-sqrt" in listed:  # replaces AutoETS (chosen on validation)
        members = [m for m in members if m.name != "AutoETS"]
    if {"LightGBM+promo+extra", *DIVERSE_MEMBERS} <= listed:
        # with the extra-series model and the diverse members, LightGBM+promo is redundant
        # (chosen on validation, docs/benchmarks.md)
        members = [m for m in members if m.name != "LightGBM+promo"]
    if len(members) < 2:
        raise ParameterError(
            f"Ensemble needs at least two of {', '.join(ENSEMBLE_MEMBERS)} listed before it."
        )
    return Ensemble(members, name="Ensemble", freq=freq)


def _extra(extra_series: pd.DataFrame | None) -> pd.DataFrame:
    if extra_series is None:
        raise ParameterError(
            "LightGBM+promo+extra needs extra_series= (a long frame unique_id, ds, y of more "
            "series to train on, e.g. the categories ranked 51-150 by sales) and an exog that "
            "covers them."
        )
    return extra_series


def _promo(exog: pd.DataFrame | None) -> pd.DataFrame:
    if exog is None:
        raise ParameterError(
            "LightGBM+promo needs exog=promotion_features(...) (the promotion plan per series "
            "and day); leave it out for series without one."
        )
    missing = [c for c in PROMO_COLUMNS if c not in exog.columns]
    if missing:
        raise ParameterError(f"exog lacks the promotion columns {missing}.")
    return exog[["unique_id", "ds", *PROMO_COLUMNS]]
