"""Papermill smoke run of notebook 02: the recorded leaderboard must make sense."""

from __future__ import annotations

import math

import pytest


@pytest.mark.notebook
@pytest.mark.xdist_group("nb_02")
def test_02_sales_forecasting_smoke(run_notebook):
    metrics = run_notebook("02_sales_forecasting")
    mase = metrics["mase"]
    # every requested model has a finite row, weak ones included
    for name in (
        "Naive",
        "SeasonalNaive",
        "WindowAverage",
        "AutoETS",
        "AutoETS-sqrt",
        "LightGBM-lags",
        "LightGBM+promo",
        "LightGBM+promo+extra",
        "SeedConv1D",
        "Conv1D+",
        "GRU",
        "Ensemble",
    ):
        assert name in mase and math.isfinite(mase[name]), name
    # the best model beats the seasonal naive forecast on the smoke data
    assert metrics["best_mase"] == min(mase.values())
    assert metrics["best_mase"] < mase["SeasonalNaive"]
    # a broken global model would not beat the naive forecast by this much
    assert min(mase["LightGBM+promo"], mase["LightGBM-lags"]) < 0.9 * mase["Naive"]
    # the promotion plan reached the model
    assert {"display_share", "mailer_share"} <= set(metrics["exog_columns"])
    # the smoke profile trains LightGBM+promo+extra on the series ranked 7-12 as well
    assert metrics["n_extra_series"] == 6
    assert mase["LightGBM+promo+extra"] < 0.9 * mase["Naive"]
    assert mase["Naive"] > mase["SeasonalNaive"]  # the data has a weekly cycle
    cov = metrics["coverage"][metrics["best_model"]]
    assert 0.3 <= cov["coverage_80"] <= 1.0
    assert metrics["forecast_rows"] == metrics["n_series"] * 14
    assert metrics["n_rows"] == metrics["n_series"] * 365
