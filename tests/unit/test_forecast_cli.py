"""Forecasting a whole data source: build_series split by a transactions column, and
``ecom forecast`` (every series of a source into one CSV, on either engine)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ecomlib.data import open_source
from ecomlib.errors import ParameterError
from ecomlib.forecast import build_series, forecast_many, forecast_source


def _shop(tmp_path: Path) -> Path:
    """Two stores x two product groups, 8 weeks of daily lines (Mon 2024-01-01 ..)."""
    rows = []
    for day in pd.date_range("2024-01-01", "2024-02-25"):
        for store, sku, value in ((1, "A", 10.0), (1, "B", 2.0), (2, "A", 5.0)):
            rows.append((f"{day:%Y%m%d}-{store}", sku, store, f"{day:%Y-%m-%d} 12:00", value))
    lines = pd.DataFrame(rows, columns=["order", "sku", "store", "created_at", "total"])
    lines.to_csv(tmp_path / "lines.csv", index=False)
    pd.DataFrame({"sku": ["A", "B"], "cat": ["bread", "milk"]}).to_csv(
        tmp_path / "products.csv", index=False
    )
    path = tmp_path / "shop.yaml"
    path.write_text(
        "name: two-stores\ntimezone: Europe/Berlin\ntables:\n"
        "  transactions: {path: lines.csv, columns: {order: basket_id, sku: product_id, "
        "store: store_id, created_at: transaction_timestamp, total: sales_value}}\n"
        "  products: {path: products.csv, columns: {sku: product_id, cat: product_category}}\n"
    )
    return path


def test_build_series_split_by_store(tmp_path):
    src = open_source(_shop(tmp_path))
    with src.connect() as con:
        df = build_series("category", "D", n_series=None, con=con, by="store_id")
        assert sorted(df["unique_id"].unique()) == ["bread | 1", "bread | 2", "milk | 1"]
        assert df.groupby("unique_id")["y"].sum().to_dict() == {
            "bread | 1": 560.0,
            "bread | 2": 280.0,
            "milk | 1": 112.0,
        }
        with pytest.raises(ParameterError, match="by='till' is not a column of transactions"):
            build_series("category", con=con, by="till")


def test_forecast_many_dates_follow_the_series():
    weeks = pd.date_range("2024-01-01", periods=20, freq="W-MON")
    df = pd.DataFrame({"unique_id": "a", "ds": weeks, "y": range(20)})
    out = forecast_many(df, h=3, freq="W", models=["Naive", "AutoETS"])
    assert out["ds"].tolist() == list(pd.date_range("2024-05-20", periods=3, freq="W-MON"))
    assert out["Naive"].tolist() == [19.0, 19.0, 19.0]  # a model without a season works too


def test_forecast_source_every_group_and_store(tmp_path):
    out = forecast_source(
        _shop(tmp_path), level="category", by="store_id", freq="W", h=2, models=["Naive"]
    )
    assert out.attrs == {"n_series": 3, "engine": "duckdb"}
    # the last full Monday week is 2024-02-19; weekly sales are 7 days x the daily value
    assert out.set_index(["unique_id", "ds"])["Naive"].to_dict() == {
        ("bread | 1", pd.Timestamp("2024-02-26")): 70.0,
        ("bread | 1", pd.Timestamp("2024-03-04")): 70.0,
        ("bread | 2", pd.Timestamp("2024-02-26")): 35.0,
        ("bread | 2", pd.Timestamp("2024-03-04")): 35.0,
        ("milk | 1", pd.Timestamp("2024-02-26")): 14.0,
        ("milk | 1", pd.Timestamp("2024-03-04")): 14.0,
    }
    with pytest.raises(ParameterError, match="products.department, which data source"):
        forecast_source(_shop(tmp_path), level="department")


def _ecom(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ecomlib.cli", *args], capture_output=True, text=True, cwd=cwd
    )


def test_cli_forecast_writes_one_csv_and_refuses_bad_input(tmp_path):
    shop = str(_shop(tmp_path))
    ok = _ecom("forecast", "--data", shop, "--by", "store_id", "--models", "Naive", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "3 series x 14 periods (Naive) on duckdb" in ok.stdout
    csv = pd.read_csv(tmp_path / "forecast.csv")
    assert list(csv.columns) == ["unique_id", "ds", "Naive"] and len(csv) == 3 * 14
    for args, message in (
        (["--by", "till"], "by='till' is not a column of transactions"),
        (["--models", "Bogus"], "statsforecast has no model 'Bogus'"),
        (["--engine", "hadoop"], "--engine 'hadoop'"),
        (["--out", "nowhere/f.csv"], "does not exist; create it first"),
        (["--horizon", "0"], "--horizon must be >= 1"),
    ):
        bad = _ecom("forecast", "--data", shop, *args, cwd=tmp_path)
        assert bad.returncode == 1 and "Traceback" not in bad.stderr, bad.stderr
        assert message in bad.stderr
