"""Papermill smoke runs of notebook 02: the recorded leaderboard and selection must make sense."""

from __future__ import annotations

import math

import pytest


def _check_selection(metrics: dict) -> None:
    """The recommended model beat both baselines on the validation windows, or is one."""
    mase, sel = metrics["mase"], metrics["selection"]
    rec = metrics["recommended_model"]
    assert rec == sel["recommended"] and rec in mase
    assert math.isfinite(metrics["recommended_mase"])
    val = sel["validation_mase"]
    base = min(val[b] for b in ("SeasonalNaive", "AutoETS") if b in val)
    assert rec in ("SeasonalNaive", "AutoETS") or val[rec] < base
    assert not set(sel["dropped"]) & {rec, *sel["members"]}
    if sel["members"]:
        assert "Ensemble" in mase and math.isfinite(mase["Ensemble"])
    assert metrics["forecast_model"] == rec


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
    ):
        assert name in mase and math.isfinite(mase[name]), name
    _check_selection(metrics)
    assert metrics["data_source"] == "completejourney"
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
    cov = metrics["coverage"][metrics["recommended_model"]]
    assert 0.3 <= cov["coverage_80"] <= 1.0
    assert metrics["forecast_rows"] == metrics["n_series"] * 14
    assert metrics["n_rows"] == metrics["n_series"] * 365


@pytest.mark.notebook
@pytest.mark.xdist_group("nb_02")
def test_02_monthly_series_file(run_notebook, tmp_path):
    """A user's monthly series (84 months of a souvenir shop and 426 of cafe spending)."""
    import pandas as pd

    from ecomlib.forecast.datasets import retail_series

    path = tmp_path / "monthly.csv"
    df = pd.concat([retail_series("auscafe").tail(120), retail_series("dutch_sales").tail(120)])
    df.assign(
        ds=df.groupby("unique_id")
        .cumcount()
        .map(lambda i: pd.Timestamp("2010-01-01") + pd.DateOffset(months=int(i)))
    ).to_csv(path, index=False)
    metrics = run_notebook(
        "02_sales_forecasting",
        SERIES_FILE=str(path),
        FREQ="M",
        HORIZON=12,
        N_WINDOWS=2,
        STEP=12,
        MODELS=["Naive", "SeasonalNaive", "AutoETS", "AutoTheta", "LightGBM", "Linear", "Ensemble"],
    )
    _check_selection(metrics)
    assert metrics["n_series"] == 2 and metrics["forecast_rows"] == 2 * 12
    assert "exog_columns" not in metrics


@pytest.mark.notebook
@pytest.mark.xdist_group("nb_02")
def test_02_other_source_without_promotions(run_notebook):
    """The bundled pizza place: order lines without promotions, local days, its own dates
    (START/END at their defaults: the source declares no period, so all of its 2015)."""
    from ecomlib.data import open_source
    from ecomlib.errors import DataError

    try:
        open_source("pizzaplace").connect()
    except DataError as exc:  # its files come with `make data`
        pytest.skip(f"pizzaplace source not prepared: {exc}")
    metrics = run_notebook(
        "02_sales_forecasting",
        DATA="pizzaplace",
        TIMEZONE="",
        N_SERIES=4,
        MODELS=["Naive", "SeasonalNaive", "AutoETS", "LightGBM+promo", "LightGBM-lags", "Ensemble"],
    )
    _check_selection(metrics)
    assert metrics["data_source"] == "pizzaplace" and metrics["n_series"] == 4
    assert "exog_columns" not in metrics  # no promotions: the models without the plan
    assert "LightGBM" in metrics["mase"] and "LightGBM+promo" not in metrics["mase"]
    assert metrics["n_rows"] == 4 * 365
    assert metrics["season"] == 7  # daily: the weekday


@pytest.mark.notebook
@pytest.mark.xdist_group("nb_02")
def test_02_source_without_products_forecasts_the_total(run_notebook):
    """CDNOW has no products table: notebook 02 says so and forecasts the shop's weekly total
    over all of the data (no period declared), choosing the model on validation windows."""
    metrics = run_notebook(
        "02_sales_forecasting",
        DATA="cdnow",
        FREQ="W",
        SEASON=4,  # overrides the weekly default (52, or 1 for fewer than two years)
        HORIZON=4,
        STEP=4,
        N_WINDOWS=2,
        MODELS=["Naive", "SeasonalNaive", "AutoETS", "LightGBM-lags", "Ensemble"],
    )
    _check_selection(metrics)
    assert metrics["data_source"] == "cdnow" and metrics["n_series"] == 1
    assert metrics["season"] == 4
    # weeks from the first full Monday week of 1997 to the last full week of June 1998
    assert 70 <= metrics["n_rows"] <= 78


def _flat(metrics: dict, prefix: str = "") -> dict:
    """Nested metrics as ``{"a.b.c": value}``."""
    out = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


@pytest.mark.notebook
@pytest.mark.xdist_group("nb_02")
def test_02_same_metrics_on_spark(run_notebook, monkeypatch, tmp_path):
    """`ecom run 02 --engine spark` at the smoke profile, kept small (two baselines and
    LightGBM+promo on the 6 series, two windows: ~55 s on Spark, ~15 s on DuckDB): the series
    builder and the promotion-plan features run on Spark, and every recorded metric (series
    and plan sizes, MASE, coverage, forecasts) equals the DuckDB run's, timings aside."""
    from ecomlib.data.engines import available_engines

    if available_engines()["spark"]:
        pytest.skip(available_engines()["spark"])
    monkeypatch.setenv("ECOM_CACHE", "0")  # both runs fit: no backtest replayed from the other
    log = tmp_path / "spark.log"
    monkeypatch.setenv("ECOM_SPARK_LOG", str(log))  # made when the kernel starts a Spark JVM
    params = {
        "MODELS": ["Naive", "SeasonalNaive", "LightGBM+promo"],
        "SELECT_MODELS": False,
        "N_WINDOWS": 2,
        "N_JOBS": 1,
    }
    monkeypatch.setenv("ECOM_ENGINE", "duckdb")
    on_duckdb = run_notebook("02_sales_forecasting", **params)
    assert not log.exists()
    monkeypatch.setenv("ECOM_ENGINE", "spark")
    on_spark = run_notebook("02_sales_forecasting", **params)
    assert log.exists()  # the series and the plan were queried on Spark

    assert on_duckdb["n_series"] == 6 and on_duckdb["n_rows"] == 6 * 365
    assert {"display_share", "mailer_share"} <= set(on_duckdb["exog_columns"])
    assert "LightGBM+promo" in on_duckdb["mase"]  # the plan reached the model
    assert (on_duckdb["engine"], on_spark["engine"]) == ("duckdb", "spark")
    a, b = _flat(on_duckdb), _flat(on_spark)
    assert set(a) == set(b)
    for key, value in a.items():
        if key.endswith("seconds") or key == "engine":
            continue
        if isinstance(value, float):
            assert b[key] == pytest.approx(value, rel=1e-9), key
        else:
            assert b[key] == value, key
