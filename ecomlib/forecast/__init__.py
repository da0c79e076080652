"""Sales forecasting: series building, models behind one interface, backtest, metrics.

>>> from ecomlib import forecast as fc
>>> df = fc.build_series("category", "D", n_series=50)         # unique_id, ds, y
>>> cv = fc.backtest(df, [fc.SeasonalNaive(), fc.LightGBMForecaster()], h=14, n_windows=4)
>>> fc.leaderboard(fc.evaluate(cv, df))

Any source or frequency (D, W, M, Q), with the models chosen on validation windows:

>>> df = fc.build_series("total", "M", start=None, end=None, con=src.connect())
>>> models = make_models(["SeasonalNaive", "AutoETS", "LightGBM", "Linear"], h=12, freq="M")
>>> test, fitted, sel, val = fc.backtest_and_select(df, models, h=12, n_windows=2, season=12)
>>> sel.table                                                    # role and reason per model
"""

from ecomlib.forecast.backtest import (
    Ensemble,
    add_intervals,
    backtest,
    backtest_with_models,
    conformal_quantiles,
    cutoffs,
    interval_coverage,
)
from ecomlib.forecast.base import (
    Forecaster,
    Naive,
    SeasonalNaive,
    SeriesTooShort,
    StatsForecastModel,
    WindowAverage,
)
from ecomlib.forecast.calendar import apply_closed_days, calendar_features, closed_mask, us_holidays
from ecomlib.forecast.distributed import forecast_many, forecast_source
from ecomlib.forecast.exog import promotion_features
from ecomlib.forecast.gbm import LightGBMForecaster, make_features
from ecomlib.forecast.metrics import bias, evaluate, leaderboard, mase, rmsse, smape
from ecomlib.forecast.neural import ConvForecaster, LinearForecaster, RNNForecaster, SeedConv1D
from ecomlib.forecast.select import (
    Selection,
    backtest_and_select,
    select_models,
    split_windows,
)
from ecomlib.forecast.series import (
    add_periods,
    backtest_min_length,
    build_series,
    fill_gaps,
    future_dates,
    infer_freq,
    period_days,
    read_series,
    season_length,
    validate_series,
)

__all__ = [
    "Selection",
    "SeriesTooShort",
    "add_periods",
    "backtest_and_select",
    "infer_freq",
    "select_models",
    "split_windows",
    "ConvForecaster",
    "Ensemble",
    "Forecaster",
    "LightGBMForecaster",
    "LinearForecaster",
    "Naive",
    "RNNForecaster",
    "SeasonalNaive",
    "SeedConv1D",
    "StatsForecastModel",
    "WindowAverage",
    "add_intervals",
    "apply_closed_days",
    "closed_mask",
    "backtest",
    "backtest_with_models",
    "bias",
    "build_series",
    "calendar_features",
    "conformal_quantiles",
    "cutoffs",
    "evaluate",
    "fill_gaps",
    "forecast_many",
    "forecast_source",
    "future_dates",
    "interval_coverage",
    "leaderboard",
    "make_features",
    "mase",
    "period_days",
    "promotion_features",
    "read_series",
    "rmsse",
    "season_length",
    "smape",
    "us_holidays",
    "backtest_min_length",
    "validate_series",
]
