"""Time series in the long format ``unique_id, ds, y`` (the statsforecast convention).

* :func:`build_series` aggregates Complete Journey transactions through DuckDB (total,
  department or product category; daily or weekly) and zero-fills missing periods;
* :func:`read_series` / :func:`validate_series` accept a user's own long-format CSV/Parquet and
  refuse bad input (duplicates, NaN, unsorted or irregular dates, too short a history) with a
  message that names the rule and a few offending rows;
* :func:`fill_gaps` inserts the missing periods with zeros.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from ecomlib.errors import DataError, ParameterError

log = logging.getLogger(__name__)

LEVELS = {"total": None, "department": "department", "category": "product_category"}
FREQS = {"D": "day", "W": "week"}
# pandas frequency of the period starts we produce: days, and weeks starting on Monday
# (DuckDB's date_trunc('week', ...) returns Mondays).
PANDAS_FREQ = {"D": "D", "W": "W-MON"}


def season_length(freq: str) -> int:
    """Seasonal period used by the models and by MASE: 7 for daily, 1 for weekly data.

    One year of weekly data cannot show a yearly cycle, so weekly series get no seasonality.
    """
    return 7 if _norm_freq(freq) == "D" else 1


def period_days(freq: str) -> int:
    """Days between consecutive periods: 1 for daily, 7 for weekly data."""
    return 7 if _norm_freq(freq) == "W" else 1


def _norm_freq(freq: str) -> str:
    f = str(freq).upper()
    if f in ("D", "DAY", "DAILY"):
        return "D"
    if f in ("W", "WEEK", "WEEKLY") or f.startswith("W-"):
        return "W"
    raise ParameterError(f"Unknown frequency {freq!r}: use 'D' (daily) or 'W' (weekly).")


def _day_sql(column: str, timezone: str | None) -> str:
    """SQL for the calendar day of a naive UTC timestamp ``column`` in ``timezone``."""
    if not timezone:
        return f"CAST({column} AS DATE)"
    try:
        ZoneInfo(str(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        raise ParameterError(
            f"Unknown time zone {timezone!r}: use an IANA name such as 'America/New_York', "
            "or None for UTC days."
        ) from None
    # timezone('UTC', naive) -> instant; timezone(zone, instant) -> naive local wall clock
    return f"CAST(timezone('{timezone}', timezone('UTC', {column})) AS DATE)"


def build_series(
    level: str = "category",
    freq: str = "D",
    n_series: int | None = 50,
    start: str = "2017-01-01",
    end: str = "2017-12-31",
    measure: str = "sales_value",
    con=None,
    timezone: str | None = None,
) -> pd.DataFrame:
    """Aggregate Complete Journey transactions into long-format series.

    The Complete Journey stores its timestamps in UTC (its quietest hour is 2-4 am US Eastern
    time; see :func:`ecomlib.eda.to_local_time`), so by default a "day" is a UTC calendar day,
    from 7 pm (8 pm in summer) to the next evening in the stores' time. That is the day of
    protocol F1 in BENCHMARKS.md and of its reference numbers. ``timezone="America/New_York"``
    sums the stores' own days instead (the local time notebook 01 shows): Christmas Day then
    has no sale at all. On F1's test windows AutoETS scores MASE 0.914 on local days against
    0.897 on UTC days, most of the gap in the Thanksgiving window.

    Parameters
    ----------
    level : {"total", "department", "category"}
        Hierarchy level; ``category`` is ``products.product_category``.
    freq : {"D", "W"}
        Daily, or weekly (weeks starting Monday; only weeks fully inside ``[start, end]``).
    n_series : int or None
        Keep the series with the highest total ``measure`` over the period (None keeps all).
    start, end : str
        First and last day (inclusive).
    measure : {"sales_value", "quantity"}
        What is summed.
    con : DuckDB connection, optional
        Defaults to :func:`ecomlib.data.connect`.
    timezone : IANA time zone name (e.g. ``"America/New_York"``) whose calendar days are
        summed; None sums UTC days, as stored.

    Returns
    -------
    DataFrame with ``unique_id`` (str), ``ds`` (datetime64), ``y`` (float), sorted, every
    period present (missing periods are 0).
    """
    if level not in LEVELS:
        raise ParameterError(f"Unknown level {level!r}: use one of {', '.join(LEVELS)}.")
    if measure not in ("sales_value", "quantity"):
        raise ParameterError(f"Unknown measure {measure!r}: use 'sales_value' or 'quantity'.")
    f = _norm_freq(freq)
    start_ts, end_ts = pd.Timestamp(start), pd.Timestamp(end)
    if end_ts <= start_ts:
        raise ParameterError(f"end ({end}) must be after start ({start}).")
    if n_series is not None and n_series < 1:
        raise ParameterError(f"n_series must be >= 1 or None, got {n_series}.")
    day = _day_sql("t.transaction_timestamp", timezone)
    if con is None:
        from ecomlib.data import connect

        con = connect()
    col = LEVELS[level]
    key = f"p.{col}" if col else "'TOTAL'"
    where = f"p.{col} IS NOT NULL AND " if col else ""
    join = "JOIN products p USING (product_id)" if col else ""
    sql = f"""
        SELECT {key} AS unique_id, {day} AS ds, SUM(t.{measure}) AS y
        FROM transactions t {join}
        WHERE {where} {day} BETWEEN DATE '{start_ts.date()}' AND DATE '{end_ts.date()}'
        GROUP BY 1, 2
    """
    daily = con.execute(sql).df()
    if daily.empty:
        raise DataError(f"No transactions between {start} and {end}.")
    daily["ds"] = pd.to_datetime(daily["ds"])
    daily["unique_id"] = daily["unique_id"].astype(str)
    totals = daily.groupby("unique_id")["y"].sum().sort_values(ascending=False, kind="stable")
    keep = totals.index[:n_series] if n_series else totals.index
    daily = daily[daily["unique_id"].isin(keep)]
    days = pd.date_range(start_ts, end_ts, freq="D")
    full = (
        daily.pivot_table(index="ds", columns="unique_id", values="y", aggfunc="sum")
        .reindex(index=days, columns=list(keep))
        .fillna(0.0)
    )
    if f == "W":
        week = full.index - pd.to_timedelta(full.index.dayofweek, unit="D")
        counts = pd.Series(1, index=full.index).groupby(week).sum()
        full = full.groupby(week).sum()
        full = full[counts.reindex(full.index).to_numpy() == 7]
        if full.empty:
            raise DataError(f"No complete week between {start} and {end}.")
    full.index.name = "ds"
    out = full.reset_index().melt(id_vars="ds", var_name="unique_id", value_name="y")
    out = out[["unique_id", "ds", "y"]].astype({"unique_id": str, "y": float})
    return out.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)


def fill_gaps(df: pd.DataFrame, freq: str = "D", value: float = 0.0) -> pd.DataFrame:
    """Insert missing periods of every series (between its first and last date) with ``value``."""
    pfreq = PANDAS_FREQ[_norm_freq(freq)] if _norm_freq(freq) == "D" else None
    parts = []
    for uid, g in df.groupby("unique_id", sort=True):
        g = g.set_index("ds").sort_index()
        if pfreq is None:  # weekly: keep the weekday of the series' first date
            pf = pd.tseries.frequencies.to_offset(f"W-{g.index[0].day_name()[:3].upper()}")
        else:
            pf = pfreq
        idx = pd.date_range(g.index[0], g.index[-1], freq=pf)
        g = g.reindex(idx)
        g.index.name = "ds"
        g["unique_id"] = uid
        g["y"] = g["y"].fillna(value)
        parts.append(g.reset_index()[["unique_id", "ds", "y"]])
    return pd.concat(parts, ignore_index=True)


def _rows(frame: pd.DataFrame, mask, n: int = 5) -> str:
    bad = frame[np.asarray(mask)]
    return bad.head(n).to_string(index=True)


def validate_series(
    df: pd.DataFrame,
    freq: str | None = "D",
    h: int | None = None,
    min_length: int | None = None,
    source: str = "series",
    sort: bool = False,
) -> pd.DataFrame:
    """Check a long-format frame and return a clean copy (``unique_id`` str, ``ds`` datetime).

    Parameters
    ----------
    df : DataFrame with ``unique_id``, ``ds``, ``y``.
    freq : "D", "W" or None (None: infer per series and only require regular spacing).
    h : int, optional
        Forecast horizon: every series needs at least ``2 * h`` observations (and
        ``min_length`` when given).
    min_length : int, optional
        Minimum number of observations per series.
    source : str
        Name used in error messages (e.g. the file path).
    sort : bool
        Sort by ``unique_id, ds`` instead of refusing unsorted input.

    Raises
    ------
    DataError
        Missing columns, unparseable dates, non-numeric or NaN ``y``, duplicated
        ``(unique_id, ds)``, unsorted rows, irregular dates (gaps or a different
        frequency), too short a history.
    """
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"{source}: expected a DataFrame, got {type(df).__name__}.")
    missing = [c for c in ("unique_id", "ds", "y") if c not in df.columns]
    if missing:
        raise DataError(
            f"{source}: column(s) {missing} are required (long format unique_id, ds, y); "
            f"found {list(df.columns)}. Pass a column mapping to read_series if they are named "
            "differently."
        )
    if df.empty:
        raise DataError(f"{source}: has no rows.")
    out = df[["unique_id", "ds", "y"]].copy()
    out["unique_id"] = out["unique_id"].astype(str)
    ds = pd.to_datetime(out["ds"], errors="coerce")
    bad = ds.isna() & out["ds"].notna() | out["ds"].isna()
    if bad.any():
        raise DataError(
            f"{source}: column 'ds' has {int(bad.sum())} value(s) that are not dates:\n"
            f"{_rows(df, bad)}"
        )
    out["ds"] = ds
    y = pd.to_numeric(out["y"], errors="coerce")
    nonnum = y.isna() & out["y"].notna()
    if nonnum.any():
        raise DataError(
            f"{source}: column 'y' has {int(nonnum.sum())} non-numeric value(s):\n"
            f"{_rows(df, nonnum)}"
        )
    if y.isna().any():
        raise DataError(
            f"{source}: column 'y' has {int(y.isna().sum())} missing (NaN) value(s); fill them "
            f"(e.g. with 0 for days without sales) or drop those series:\n{_rows(df, y.isna())}"
        )
    if not np.isfinite(y.to_numpy()).all():
        inf = ~np.isfinite(y.to_numpy())
        raise DataError(f"{source}: column 'y' has infinite values:\n{_rows(df, inf)}")
    out["y"] = y.astype(float)
    dup = out.duplicated(["unique_id", "ds"], keep=False)
    if dup.any():
        raise DataError(
            f"{source}: {int(dup.sum())} rows share a (unique_id, ds) pair; each series needs "
            f"one value per date (aggregate duplicates first):\n{_rows(df, dup)}"
        )
    order = out.sort_values(["unique_id", "ds"], kind="stable").index
    if not (order == out.index).all():
        if not sort:
            same_id = out["unique_id"].eq(out["unique_id"].shift())
            back = same_id & out["ds"].lt(out["ds"].shift())
            hint = f":\n{_rows(df, back)}" if back.any() else " (series are interleaved)"
            raise DataError(
                f"{source}: rows are not sorted by unique_id, ds{hint}\n"
                "Sort them first (or pass sort=True)."
            )
        out = out.loc[order]
    out = out.reset_index(drop=True)
    f = _norm_freq(freq) if freq else None
    step = {"D": pd.Timedelta(days=1), "W": pd.Timedelta(days=7)}.get(f) if f else None
    for uid, g in out.groupby("unique_id", sort=False):
        diffs = g["ds"].diff().dropna()
        if diffs.empty:
            continue
        expected = step if step is not None else diffs.mode().iloc[0]
        irregular = diffs != expected
        if irregular.any():
            first = g.loc[irregular[irregular].index[0]]
            prev = g.loc[g.index[g.index.get_loc(first.name) - 1]]
            raise DataError(
                f"{source}: series {uid!r} has irregular dates: {int(irregular.sum())} step(s) "
                f"differ from {expected} (e.g. {prev['ds'].date()} -> {first['ds'].date()}). "
                "Insert the missing periods with ecomlib.forecast.fill_gaps(df, freq) "
                "(zeros for days without sales) or aggregate to a regular frequency."
            )
    need = max(2 * h if h else 0, min_length or 0)
    if need:
        lengths = out.groupby("unique_id").size()
        short = lengths[lengths < need]
        if len(short):
            raise DataError(
                f"{source}: {len(short)} series have fewer than {need} observations, too short "
                f"a history for horizon h={h}: {short.head(5).to_dict()}. Drop them, lower the "
                "horizon, or gather more history."
            )
    return out


def read_series(
    path: str | Path,
    columns: Mapping[str, str] | None = None,
    freq: str | None = "D",
    h: int | None = None,
    min_length: int | None = None,
    sort: bool = False,
) -> pd.DataFrame:
    """Read a user's long-format CSV/Parquet (``unique_id, ds, y``) and validate it.

    Parameters
    ----------
    path : .csv or .parquet file.
    columns : mapping from the file's column names to ``unique_id``, ``ds``, ``y``, e.g.
        ``{"store": "unique_id", "date": "ds", "sales": "y"}``.
    freq, h, min_length, sort : see :func:`validate_series`.
    """
    from ecomlib.data.schemas import apply_column_map, read_file

    frame = apply_column_map(read_file(path), columns, source=str(path))
    return validate_series(
        frame, freq=freq, h=h, min_length=min_length, source=str(path), sort=sort
    )


def split_at(df: pd.DataFrame, cutoff) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows up to and including ``cutoff`` and the rows after it."""
    cutoff = pd.Timestamp(cutoff)
    mask = df["ds"] <= cutoff
    return df[mask].reset_index(drop=True), df[~mask].reset_index(drop=True)


def future_dates(df: pd.DataFrame, h: int, freq: str = "D") -> pd.DataFrame:
    """The ``h`` periods after each series' last date, as ``unique_id, ds``."""
    step = pd.Timedelta(days=period_days(freq))
    last = df.groupby("unique_id", sort=True)["ds"].max()
    ids = np.repeat(last.index.to_numpy(), h)
    ds = np.repeat(last.to_numpy(), h) + np.tile(np.arange(1, h + 1), len(last)) * step
    return pd.DataFrame({"unique_id": ids, "ds": ds})
