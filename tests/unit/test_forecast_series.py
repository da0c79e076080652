"""Series builder and user-input validation of ecomlib.forecast."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecomlib.errors import DataError, ParameterError
from ecomlib.forecast import fill_gaps, read_series, validate_series
from ecomlib.forecast.series import build_series, future_dates, period_days, season_length


def _long(n_ids: int = 2, n: int = 30, start: str = "2021-01-01") -> pd.DataFrame:
    ds = pd.date_range(start, periods=n, freq="D")
    return pd.DataFrame(
        {
            "unique_id": np.repeat([f"s{i}" for i in range(n_ids)], n),
            "ds": np.tile(ds, n_ids),
            "y": np.arange(n_ids * n, dtype=float),
        }
    )


class _FakeCon:
    """Stands in for DuckDB: returns fixed daily aggregates (with gaps)."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame
        self.sql = None

    def execute(self, sql: str):
        self.sql = sql
        return self

    def df(self) -> pd.DataFrame:
        return self.frame.copy()


def test_build_series_zero_fills_gaps_and_keeps_top_series():
    daily = pd.DataFrame(
        {
            "unique_id": ["a", "a", "b", "c"],
            "ds": pd.to_datetime(["2021-01-01", "2021-01-04", "2021-01-02", "2021-01-03"]),
            "y": [5.0, 7.0, 100.0, 1.0],
        }
    )
    con = _FakeCon(daily)
    out = build_series("category", "D", n_series=2, start="2021-01-01", end="2021-01-05", con=con)
    assert "product_category" in con.sql
    assert sorted(out["unique_id"].unique()) == ["a", "b"]  # c has the smallest total
    a = out[out["unique_id"] == "a"]
    assert a["ds"].tolist() == list(pd.date_range("2021-01-01", "2021-01-05"))
    assert a["y"].tolist() == [5.0, 0.0, 0.0, 7.0, 0.0]
    assert out["y"].sum() == pytest.approx(112.0)
    assert list(out.columns) == ["unique_id", "ds", "y"]


def test_build_series_weekly_keeps_only_full_weeks():
    days = pd.date_range("2021-01-01", "2021-01-31")  # Fri 1st .. Sun 31st
    daily = pd.DataFrame({"unique_id": "a", "ds": days, "y": 1.0})
    out = build_series(
        "total",
        "W",
        n_series=None,
        start="2021-01-01",
        end="2021-01-31",
        con=_FakeCon(daily.assign(unique_id="TOTAL")),
    )
    # Mondays 4, 11, 18, 25 Jan are complete weeks; the partial week of 28 Dec is dropped
    assert out["ds"].dt.dayofweek.eq(0).all()
    assert out["ds"].tolist() == list(
        pd.to_datetime(["2021-01-04", "2021-01-11", "2021-01-18", "2021-01-25"])
    )
    assert (out["y"] == 7.0).all()


def test_build_series_rejects_bad_parameters():
    with pytest.raises(ParameterError, match="level"):
        build_series("store", con=_FakeCon(pd.DataFrame()))
    with pytest.raises(ParameterError, match="frequency"):
        build_series("total", "H", con=_FakeCon(pd.DataFrame()))
    with pytest.raises(ParameterError, match="after start"):
        build_series("total", start="2021-02-01", end="2021-01-01", con=_FakeCon(pd.DataFrame()))


def _tz_con():
    import duckdb

    con = duckdb.connect()
    con.execute(
        "CREATE TABLE transactions AS SELECT * FROM (VALUES "
        "(TIMESTAMP '2021-01-01 03:00', 1.0), (TIMESTAMP '2021-01-01 12:00', 10.0), "
        "(TIMESTAMP '2021-01-02 04:30', 100.0), (TIMESTAMP '2021-01-02 15:00', 1000.0)) "
        "t(transaction_timestamp, sales_value)"
    )
    return con


def test_build_series_sums_utc_days_or_the_local_days_of_a_time_zone():
    con = _tz_con()
    kw = {"n_series": None, "start": "2021-01-01", "end": "2021-01-02", "con": con}
    utc = build_series("total", "D", **kw)
    assert utc["y"].tolist() == [11.0, 1100.0]  # as stored: UTC calendar days
    # 03:00 UTC is 22:00 on 31 Dec in New York (outside the range), 04:30 UTC is 23:30 on 1 Jan
    local = build_series("total", "D", timezone="America/New_York", **kw)
    assert local["ds"].tolist() == list(pd.date_range("2021-01-01", "2021-01-02"))
    assert local["y"].tolist() == [110.0, 1000.0]
    with pytest.raises(ParameterError, match="Unknown time zone 'Mars/Olympus'"):
        build_series("total", "D", timezone="Mars/Olympus", **kw)


def test_validate_accepts_clean_frame_and_coerces_types():
    df = _long()
    df["ds"] = df["ds"].dt.strftime("%Y-%m-%d")
    out = validate_series(df, freq="D", h=7)
    assert out["ds"].dtype.kind == "M" and out["y"].dtype == float
    assert len(out) == len(df)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.drop(columns="y"), "required"),
        (lambda d: d.assign(y=d["y"].where(d.index != 3)), "NaN"),
        (lambda d: d.assign(y=d["y"].astype(object).where(d.index != 4, "abc")), "non-numeric"),
        (lambda d: d.assign(ds=d["ds"].astype(str).where(d.index != 5, "not a date")), "not dates"),
        (lambda d: pd.concat([d, d.iloc[[2]]]).sort_values(["unique_id", "ds"]), "share a"),
        (lambda d: d.iloc[::-1], "not sorted"),
        (lambda d: d.drop(index=[10, 11]), "irregular"),
        (lambda d: d.groupby("unique_id").head(10), "too short"),
    ],
)
def test_validate_refuses_bad_input_with_clear_errors(mutate, message):
    with pytest.raises(DataError, match=message):
        validate_series(mutate(_long()), freq="D", h=7)


def test_validate_sort_option_sorts_instead_of_refusing():
    out = validate_series(_long().iloc[::-1], freq="D", sort=True)
    assert out["ds"].is_monotonic_increasing is False  # two series, but each one sorted
    assert out.groupby("unique_id")["ds"].apply(lambda s: s.is_monotonic_increasing).all()


def test_fill_gaps_then_validate():
    gappy = _long().drop(index=[10, 11])
    filled = fill_gaps(gappy, "D")
    out = validate_series(filled, freq="D")
    assert len(out) == 60
    assert out.loc[(out["unique_id"] == "s0") & (out["ds"] == "2021-01-11"), "y"].item() == 0.0


def test_read_series_csv_with_column_mapping(tmp_path):
    path = tmp_path / "sales.csv"
    _long().rename(columns={"unique_id": "store", "ds": "date", "y": "sales"}).to_csv(
        path, index=False
    )
    out = read_series(path, columns={"store": "unique_id", "date": "ds", "sales": "y"}, h=7)
    assert list(out.columns) == ["unique_id", "ds", "y"] and len(out) == 60
    with pytest.raises(DataError, match="not in the file"):
        read_series(path, columns={"shop": "unique_id"})
    with pytest.raises(DataError, match=str(path.name)):
        read_series(path)  # columns not mapped: the message names the file


def test_future_dates_and_season():
    fd = future_dates(_long(), 3)
    assert len(fd) == 6
    assert fd["ds"].iloc[0] == pd.Timestamp("2021-01-31")
    assert [season_length(f) for f in ("D", "W", "MS", "QE")] == [7, 52, 12, 4]
    assert season_length("W", n_obs=52) == 1 and season_length("M", n_obs=25) == 12
    assert period_days("D") == 1 and period_days("weekly") == 7 and period_days("W-MON") == 7
    weekly = future_dates(_long(), 2, freq="W")
    assert (weekly.groupby("unique_id")["ds"].diff().dropna() == pd.Timedelta(days=7)).all()
    with pytest.raises(ParameterError, match="Unknown frequency 'H'"):
        period_days("H")
    with pytest.raises(ParameterError, match="add_periods"):
        period_days("M")


def _periodic(freq: str, n: int = 30, n_ids: int = 2) -> pd.DataFrame:
    ds = pd.date_range("2015-01-01", periods=n, freq=freq)
    return pd.DataFrame(
        {
            "unique_id": np.repeat([f"s{i}" for i in range(n_ids)], n),
            "ds": np.tile(ds, n_ids),
            "y": np.arange(n_ids * n, dtype=float),
        }
    )


@pytest.mark.parametrize(
    "pandas_freq, freq", [("MS", "M"), ("ME", "M"), ("QS", "Q"), ("QE", "Q"), ("W-SUN", "W")]
)
def test_validate_series_infers_monthly_and_quarterly_dates(pandas_freq, freq):
    df = _periodic(pandas_freq)
    out = validate_series(df, freq=None)
    assert out.attrs["freq"] == freq
    assert validate_series(df, freq=freq).attrs["freq"] == freq
    nxt = future_dates(out, 2, freq)
    expected = pd.date_range(df["ds"].max(), periods=3, freq=pandas_freq)[1:]
    assert list(nxt["ds"].iloc[:2]) == list(expected)


@pytest.mark.parametrize("declared", ["D", "W", "Q"])
def test_validate_series_refuses_dates_of_another_frequency(declared):
    with pytest.raises(DataError, match=f"monthly dates .* but freq='{declared}'"):
        validate_series(_periodic("MS"), freq=declared)


def test_fill_gaps_monthly_and_quarterly_keep_the_anchor():
    for pandas_freq, freq in (("ME", "M"), ("QS", "Q")):
        df = _periodic(pandas_freq, n=8, n_ids=1).drop(index=[3, 4])
        with pytest.raises(DataError, match="irregular"):
            validate_series(df, freq=freq)
        full = fill_gaps(df, freq)
        assert list(full["ds"]) == list(pd.date_range("2015-01-01", periods=8, freq=pandas_freq))
        assert full["y"].iloc[3] == 0.0
        assert validate_series(full, freq=None).attrs["freq"] == freq


def test_build_series_monthly_and_quarterly_keep_complete_periods():
    import duckdb

    con = duckdb.connect()
    con.execute(
        "CREATE TABLE transactions AS SELECT TIMESTAMP '2021-01-15 12:00' + i * INTERVAL 1 DAY "
        "AS transaction_timestamp, 1.0 AS sales_value, 1 AS quantity FROM range(200) t(i)"
    )
    monthly = build_series("total", "M", start=None, end=None, con=con)
    assert monthly["ds"].dt.day.eq(1).all() and monthly["ds"].min() == pd.Timestamp("2021-02-01")
    assert monthly["y"].tolist() == [28.0, 31.0, 30.0, 31.0, 30.0, 31.0]  # Feb..Jul
    quarterly = build_series("total", "Q", start=None, end=None, con=con)
    assert quarterly["ds"].tolist() == [pd.Timestamp("2021-04-01")]
    assert quarterly["y"].tolist() == [91.0]
    with pytest.raises(ParameterError, match="products"):
        build_series("product_category", "M", con=con)
