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
FREQS = {"D": "day", "W": "week", "M": "month", "Q": "quarter"}
# pandas frequency of the period starts we produce: days, weeks starting on Monday (DuckDB's
# date_trunc('week', ...) returns Mondays), months and quarters dated on their first day.
PANDAS_FREQ = {"D": "D", "W": "W-MON", "M": "MS", "Q": "QS"}
SEASONS = {"D": 7, "W": 52, "M": 12, "Q": 4}
MONTHS = {"M": 1, "Q": 3}


def season_length(freq: str, n_obs: int | None = None) -> int:
    """Seasonal period of a frequency: 7 (daily), 52 (weekly), 12 (monthly), 4 (quarterly).

    Parameters
    ----------
    freq : "D", "W", "M" or "Q" (or an alias such as "MS", "QE", "W-MON").
    n_obs : length of the shortest series; when it holds fewer than two full seasons (plus
        one value) the season is 1, since a seasonal model or MASE scale cannot be estimated.
    """
    s = SEASONS[_norm_freq(freq)]
    if n_obs is not None and n_obs < 2 * s + 1:
        return 1
    return s


def period_days(freq: str) -> int:
    """Days between consecutive periods: 1 for daily, 7 for weekly data.

    Monthly and quarterly periods have no fixed length in days: use :func:`add_periods`.
    """
    f = _norm_freq(freq)
    if f in MONTHS:
        raise ParameterError(
            f"freq={freq!r} has no fixed step in days; use add_periods(dates, k, freq)."
        )
    return 7 if f == "W" else 1


def _norm_freq(freq: str) -> str:
    f = str(freq).upper()
    if f in ("D", "DAY", "DAILY"):
        return "D"
    if f in ("W", "WEEK", "WEEKLY") or f.startswith("W-"):
        return "W"
    if f in ("M", "MS", "ME", "MONTH", "MONTHLY"):
        return "M"
    if f in ("Q", "QS", "QE", "QUARTER", "QUARTERLY") or f.startswith(("Q-", "QS-", "QE-")):
        return "Q"
    raise ParameterError(
        f"Unknown frequency {freq!r}: use 'D' (daily), 'W' (weekly), 'M' (monthly, month start "
        "or end dates) or 'Q' (quarterly)."
    )


def _month_end(ds: pd.DatetimeIndex) -> bool:
    return bool(len(ds)) and bool((ds.normalize() == ds).all() and ds.is_month_end.all())


def add_periods(dates, k, freq: str) -> pd.DatetimeIndex:
    """``dates`` moved ``k`` periods ahead (``k`` a scalar or one integer per date).

    Monthly and quarterly dates keep their anchor: month (quarter) starts stay on the 1st,
    month ends on the last day of the month.
    """
    d = pd.DatetimeIndex(pd.to_datetime(pd.Series(np.asarray(dates).ravel())).to_numpy())
    steps = np.broadcast_to(np.asarray(k, dtype=np.int64), (len(d),))
    f = _norm_freq(freq)
    if f not in MONTHS:
        return d + pd.to_timedelta(steps * period_days(f), unit="D")
    months = steps * MONTHS[f]
    end = _month_end(d) and not (d.day == 1).all()
    per = pd.PeriodIndex.from_ordinals(d.to_period("M").asi8 + months, freq="M")
    out = per.to_timestamp(how="end").normalize() if end else per.to_timestamp()
    if not end:  # keep any time of day / day offset of month-start-like dates
        out = out + (d - d.to_period("M").to_timestamp())
    return pd.DatetimeIndex(out)


def infer_freq(ds) -> str | None:
    """The frequency ("D", "W", "M", "Q") of sorted dates of one series, or None if irregular.

    Parameters
    ----------
    ds : the dates of one series, oldest first.
    """
    d = pd.DatetimeIndex(pd.to_datetime(pd.Series(ds)).to_numpy())
    if len(d) < 2:
        return None
    diffs = np.diff(d.asi8) // 86_400_000_000_000
    if (diffs == 1).all():
        return "D"
    if (diffs == 7).all():
        return "W"
    months = np.diff(d.year * 12 + d.month)
    same_anchor = (d.day == d.day[0]).all() or _month_end(d)
    for f, m in (("M", 1), ("Q", 3)):
        if same_anchor and (months == m).all():
            return f
    return None


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


def product_columns(con) -> list[str]:
    """Columns of the ``products`` view of ``con`` ([] when it has none)."""
    try:
        return [r[0] for r in con.execute("DESCRIBE products").fetchall()]
    except Exception:  # noqa: BLE001 - no products view: DuckDB's CatalogException
        return []


def group_column(level: str, con) -> str | None:
    """The ``products`` column whose values name the series of ``level`` (None: total).

    Parameters
    ----------
    level : "total", "department", "category" or any column of the ``products`` view.
    con : DuckDB connection with the canonical views.
    """
    if level == "total":
        return None
    col = LEVELS.get(level, level)
    cols = product_columns(con)
    if (cols and col not in cols) or (not cols and level not in LEVELS):
        have = f"products has {', '.join(cols)}" if cols else "the source has no products table"
        raise ParameterError(
            f"level={level!r} needs the column products.{col}, but {have}; use level='total' "
            "or name a product-group column of the source."
        )
    return col


def _ident(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def build_series(
    level: str = "category",
    freq: str = "D",
    n_series: int | None = 50,
    start: str | None = None,
    end: str | None = None,
    measure: str = "sales_value",
    con=None,
    timezone: str | None = None,
    by: str | None = None,
) -> pd.DataFrame:
    """Aggregate transactions into long-format series (one per product group, or the total).

    A "day" is the calendar day of ``timezone``; None sums UTC days, as the canonical views
    store them. The Complete Journey's timestamps are UTC (its quietest hour is 2-4 am US
    Eastern time; see :func:`ecomlib.eda.clean_lines`), so there a UTC day runs from 7 pm
    (8 pm in summer) to the next evening in the stores' time; protocol F1 in docs/protocols.md
    uses those UTC days.

    Parameters
    ----------
    level : "total", "department", "category" (``products.product_category``) or the name of
        any other column of the ``products`` view.
    freq : "D" (daily), "W" (weeks starting Monday), "M" (months, dated on the 1st) or "Q"
        (quarters, dated on their first day); only periods fully inside ``[start, end]``.
    n_series : keep the series with the highest total ``measure`` (None keeps all).
    start : first day (inclusive); None: the first day with a transaction.
    end : last day (inclusive); None: the last day with a transaction.
    measure : "sales_value" or "quantity", what is summed.
    by : a ``transactions`` column (e.g. ``"store_id"``) that splits every series: one per
        group and value, ``unique_id`` ``"<group> | <value>"`` (None: no split).
    con : DuckDB connection with the canonical views (default :func:`ecomlib.data.connect`).
    timezone : IANA time zone name whose calendar days are summed; None: UTC days.

    Returns
    -------
    DataFrame with ``unique_id`` (str), ``ds`` (datetime64), ``y`` (float), sorted, every
    period present (missing periods are 0).
    """
    if measure not in ("sales_value", "quantity"):
        raise ParameterError(f"Unknown measure {measure!r}: use 'sales_value' or 'quantity'.")
    f = _norm_freq(freq)
    if n_series is not None and n_series < 1:
        raise ParameterError(f"n_series must be >= 1 or None, got {n_series}.")
    day = _day_sql("t.transaction_timestamp", timezone)
    if con is None:
        from ecomlib.data import connect

        con = connect()
    col = group_column(level, con)  # checks the level before the data is read
    if start is None or end is None or str(start) == "" or str(end) == "":
        lo, hi = con.execute(f"SELECT min({day}), max({day}) FROM transactions t").fetchall()[0]
        if lo is None:
            raise DataError("transactions is empty: no series to build.")
        start = start or str(lo)
        end = end or str(hi)
    start_ts, end_ts = pd.Timestamp(start), pd.Timestamp(end)
    if end_ts <= start_ts:
        raise ParameterError(f"end ({end}) must be after start ({start}).")
    key = f"CAST(p.{_ident(col)} AS VARCHAR)" if col else "'TOTAL'"
    where = f"p.{_ident(col)} IS NOT NULL AND " if col else ""
    if by:
        have = [r[0] for r in con.execute("DESCRIBE transactions").fetchall()]
        if by not in have:
            raise ParameterError(
                f"by={by!r} is not a column of transactions (it has {', '.join(have)})."
            )
        key = f"{key} || ' | ' || CAST(t.{_ident(by)} AS VARCHAR)"
        where += f"t.{_ident(by)} IS NOT NULL AND "
    join = "JOIN products p USING (product_id)" if col else ""
    sql = f"""
        SELECT {key} AS unique_id, {day} AS ds, SUM(t.{measure}) AS y
        FROM transactions t {join}
        WHERE {where} {day} BETWEEN DATE '{start_ts.date()}' AND DATE '{end_ts.date()}'
        GROUP BY 1, 2
    """
    daily = con.execute(sql).df()
    if daily.empty and by:
        filled = con.execute(f"SELECT count({_ident(by)}) FROM transactions").fetchall()[0][0]
        if not filled:
            raise ParameterError(f"by={by!r}: the transactions have no {by} values; leave it out.")
    if daily.empty:
        lo, hi = con.execute(f"SELECT min({day}), max({day}) FROM transactions t").fetchall()[0]
        raise DataError(
            f"No transactions between {start} and {end}: the data runs from {lo} to {hi}. "
            "Choose START/END inside that range, or leave them empty for all of it."
        )
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
    if f != "D":
        if f == "W":
            period = full.index - pd.to_timedelta(full.index.dayofweek, unit="D")
            size = np.full(len(full.index), 7)
        else:
            per = full.index.to_period("M" if f == "M" else "Q")
            period = per.to_timestamp()
            size = per.to_timestamp(how="end").normalize().day if f == "M" else None
            if f == "Q":
                size = (per.to_timestamp(how="end").normalize() - period).days + 1
            size = np.asarray(size)
        counts = pd.Series(1, index=full.index).groupby(period).sum()
        expected = pd.Series(size, index=full.index).groupby(period).first()
        full = full.groupby(period).sum()
        full = full[counts.reindex(full.index).to_numpy() == expected.reindex(full.index)]
        if full.empty:
            raise DataError(f"No complete {FREQS[f]} between {start} and {end}.")
    full.index.name = "ds"
    out = full.reset_index().melt(id_vars="ds", var_name="unique_id", value_name="y")
    out = out[["unique_id", "ds", "y"]].astype({"unique_id": str, "y": float})
    return out.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)


def fill_gaps(df: pd.DataFrame, freq: str = "D", value: float = 0.0) -> pd.DataFrame:
    """Insert missing periods of every series (between its first and last date) with ``value``.

    Parameters
    ----------
    df : long frame ``unique_id, ds, y``.
    freq : "D", "W" (weeks keep the weekday of the series' first date), "M" or "Q" (month or
        quarter starts or ends, as the series' first date).
    value : what the inserted periods get.
    """
    f = _norm_freq(freq)
    parts = []
    for uid, g in df.groupby("unique_id", sort=True):
        g = g.set_index("ds").sort_index()
        first, last = g.index[0], g.index[-1]
        if f == "D":
            idx = pd.date_range(first, last, freq="D")
        elif f == "W":
            idx = pd.date_range(first, last, freq=f"W-{first.day_name()[:3].upper()}")
        else:
            n = ((last.year - first.year) * 12 + last.month - first.month) // MONTHS[f]
            idx = add_periods(np.repeat(np.datetime64(first), n + 1), np.arange(n + 1), f)
            if _month_end(pd.DatetimeIndex([first])) and first.day != 1:
                idx = add_periods(idx, 0, f)
        g = g.reindex(idx)
        g.index.name = "ds"
        g["unique_id"] = uid
        g["y"] = g["y"].fillna(value)
        parts.append(g.reset_index()[["unique_id", "ds", "y"]])
    return pd.concat(parts, ignore_index=True)


def _rows(frame: pd.DataFrame, mask, n: int = 5) -> str:
    bad = frame[np.asarray(mask)]
    return bad.head(n).to_string(index=True)


def _freq_message(source: str, uid, ds: pd.Series, got: str | None, freq) -> str:
    """Why the dates of one series do not fit ``freq`` (or any frequency)."""
    d = pd.DatetimeIndex(pd.to_datetime(ds).to_numpy())
    sample = ", ".join(str(x.date()) for x in d[:3])
    if got is not None:
        return (
            f"{source}: series {uid!r} has {FREQS[got]}ly dates ({sample}, ...) but "
            f"freq={freq!r}; pass freq={got!r} (or freq=None to infer it)."
        )
    diffs = pd.Series(d).diff()
    mode = diffs.mode().iloc[0]
    bad = diffs.index[(diffs != mode) & diffs.notna()]
    i = int(bad[0]) if len(bad) else 1
    want = f" for freq={freq!r}" if freq else ""
    return (
        f"{source}: series {uid!r} has irregular dates{want}: {len(bad)} step(s) differ from "
        f"{mode} (e.g. {d[i - 1].date()} -> {d[i].date()}). Insert the missing periods "
        "with `ecom data fix FILE --out FIXED.csv` (zeros for periods without sales; "
        "ecomlib.forecast.fill_gaps in Python) or aggregate to a regular frequency (D, W, M or Q)."
    )


def backtest_min_length(h: int, n_windows: int) -> int:
    """Observations each series needs for a rolling-origin backtest of ``n_windows`` windows of
    ``h`` periods plus one training window (notebook 02's SERIES_FILE check and
    ``ecom data check --schema series``)."""
    return h * (n_windows + 1) + 2


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
    freq : "D", "W", "M", "Q" or None (None: infer it; every series must share one). Month
        and quarter dates may be period starts or ends.
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
        ``(unique_id, ds)``, unsorted rows, irregular dates (gaps), dates of another
        frequency than ``freq``, too short a history. The returned frame's
        ``attrs["freq"]`` is the (declared or inferred) frequency.
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
                "Sort them with `ecom data fix FILE --out FIXED.csv` (sort=True in Python)."
            )
        out = out.loc[order]
    out = out.reset_index(drop=True)
    f = _norm_freq(freq) if freq else None
    found = {}
    for uid, g in out.groupby("unique_id", sort=False):
        if len(g) < 2:
            continue
        got = infer_freq(g["ds"])
        if got is None or (f is not None and got != f):
            raise DataError(_freq_message(source, uid, g["ds"], got, freq))
        found[got] = uid
    if f is None and len(found) > 1:
        raise DataError(
            f"{source}: the series have different frequencies ("
            + ", ".join(f"{FREQS[k]}ly like {v!r}" for k, v in found.items())
            + "); forecast them separately or aggregate them to one frequency."
        )
    out.attrs["freq"] = f or next(iter(found), None)
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
    last = df.groupby("unique_id", sort=True)["ds"].max()
    ids = np.repeat(last.index.to_numpy(), h)
    ds = add_periods(np.repeat(last.to_numpy(), h), np.tile(np.arange(1, h + 1), len(last)), freq)
    return pd.DataFrame({"unique_id": ids, "ds": ds.to_numpy()})
