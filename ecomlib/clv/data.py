"""Purchase histories for customer-lifetime models: sources, validation, the RFM summary.

Every source ends up as one frame of **customer-days** (``customer_id, day, value``): all the
purchases of one customer on one calendar day count as one transaction (the BG/NBD
convention). Big sources are aggregated to that grain inside DuckDB.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ecomlib.errors import DataError, ParameterError

log = logging.getLogger(__name__)

WEEK = pd.Timedelta(days=7)
SUMMARY_COLUMNS = ["frequency", "recency", "T", "monetary", "n_purchases", "spend", "first"]


# ---------------------------------------------------------------- sources
def connect_source(data: str = "") -> tuple[Any, dict[str, str]]:
    """A DuckDB connection with a canonical ``transactions`` view for ``data``, and the
    source's ``name``, ``timezone`` and ``currency``.

    Parameters
    ----------
    data : str
        ``""`` (the bundled default, Complete Journey), ``"cdnow"``, any bundled source name
        (``"cdnow_sample"``: the CDNOW 1/10 sample) or source file of
        :func:`ecomlib.data.open_source`.

    Raises
    ------
    DataError
        The source has no transactions table with a customer id.
    """
    from ecomlib.data import open_source

    src = open_source(data)
    if not src.has("transactions") or not src.has_column("transactions", "household_id"):
        raise DataError(
            f"source {src.name!r} has no transactions table with a customer id "
            "(household_id): customer-lifetime models need one."
        )
    info = {"name": src.name, "timezone": src.timezone, "currency": src.currency}
    return src.connect(threads=2), info


def _check_columns(columns: list[str], needed: dict[str, str], what: str) -> None:
    missing = [c for c in needed.values() if c not in columns]
    if missing:
        raise DataError(
            f"{what} has no column(s) {missing} (needed for {', '.join(needed)}); "
            f"columns present: {columns}."
        )


def customer_days(
    source: Any,
    customer: str = "household_id",
    timestamp: str = "transaction_timestamp",
    amount: str = "sales_value",
    now: pd.Timestamp | str | None = None,
    timezone: str | None = None,
) -> pd.DataFrame:
    """Purchases per customer and day: ``customer_id, day, value``, sorted.

    Parameters
    ----------
    source : DuckDB connection (view ``transactions``) or DataFrame
        A connection is aggregated in SQL; a frame in pandas.
    customer, timestamp, amount : str
        Column names of the customer id, the purchase time and its value.
    now : timestamp, optional
        Purchases after this are refused (default: the current time).
    timezone : str, optional
        Timestamps are UTC; days are this zone's calendar days (DuckDB sources; default UTC).

    Raises
    ------
    DataError
        A column is missing, an id or amount is NaN, an amount is negative, a timestamp is
        missing or in the future.
    """
    needed = {"customer id": customer, "timestamp": timestamp, "amount": amount}
    if isinstance(source, pd.DataFrame):
        _check_columns(list(source.columns), needed, "the transactions frame")
        ts = source[timestamp]
        if not pd.api.types.is_datetime64_any_dtype(ts):
            ts = pd.to_datetime(ts, errors="coerce", format="mixed")
        frame = pd.DataFrame(
            {
                "customer_id": source[customer],
                "ts": ts,
                "value": pd.to_numeric(source[amount], errors="coerce"),
            }
        )
        _check_rows(frame, source.index, now)
        frame["day"] = frame["ts"].dt.floor("D")
        out = frame.groupby(["customer_id", "day"], as_index=False)["value"].sum()
    else:
        cols = [r[0] for r in source.execute("DESCRIBE transactions").fetchall()]
        _check_columns(cols, needed, "the transactions view")
        bad = source.execute(
            f"""SELECT {customer}, {timestamp}, {amount} FROM transactions
                WHERE {customer} IS NULL OR {timestamp} IS NULL OR {amount} IS NULL
                   OR isnan({amount}::DOUBLE) OR {amount} < 0 LIMIT 5"""
        ).df()
        if len(bad):
            raise DataError(
                "transactions: every purchase needs a customer id, a timestamp and an amount "
                f">= 0 (no NaN); offending rows:\n{bad.to_string(index=False)}"
            )
        ts = timestamp
        if timezone and timezone != "UTC":
            source.execute("SET TimeZone = 'UTC'")
            ts = f"timezone('{timezone}', {timestamp}::TIMESTAMPTZ)"
        out = source.execute(
            f"""SELECT {customer} AS customer_id, date_trunc('day', {ts}) AS day,
                       SUM({amount})::DOUBLE AS value
                FROM transactions GROUP BY 1, 2"""
        ).df()
        out["day"] = pd.to_datetime(out["day"])
        _check_future(out["day"], now)
    if out.empty:
        raise DataError("transactions: no purchases.")
    return out.sort_values(["customer_id", "day"], kind="stable").reset_index(drop=True)


def _check_rows(frame: pd.DataFrame, index: pd.Index, now: Any) -> None:
    rules = {
        "customer id is missing": frame["customer_id"].isna(),
        "timestamp is missing or unreadable": frame["ts"].isna(),
        "amount is NaN or not a number": frame["value"].isna(),
        "amount is negative": frame["value"] < 0,
    }
    for rule, mask in rules.items():
        if mask.any():
            rows = frame[mask.to_numpy()].head(5).set_axis(index[mask.to_numpy()][:5])
            raise DataError(
                f"transactions: {rule} in {int(mask.sum())} row(s), e.g.\n{rows.to_string()}"
            )
    _check_future(frame["ts"], now)


def _check_future(ts: pd.Series, now: Any) -> None:
    limit = pd.Timestamp(now) if now is not None else pd.Timestamp.now()
    late = ts > limit
    if late.any():
        raise DataError(
            f"transactions: {int(late.sum())} timestamp(s) are in the future (after "
            f"{limit:%Y-%m-%d %H:%M}), e.g. {ts[late].head(3).dt.strftime('%Y-%m-%d').tolist()}."
        )


# ---------------------------------------------------------------- the summary
@dataclass
class Period:
    """The purchase history of a cohort up to ``cutoff`` (nothing after it).

    Attributes
    ----------
    summary : DataFrame
        Per customer: ``frequency`` (repeat purchase days), ``recency`` (weeks from the first
        to the last purchase), ``T`` (weeks from the first purchase to the cutoff),
        ``monetary`` (mean value of the repeat purchases, 0 without one), ``n_purchases``,
        ``spend`` (total), ``first`` (date of the first purchase).
    days : DataFrame
        The cohort's customer-days up to the cutoff.
    start, cutoff : Timestamp
        First day of the data and last day of the period (inclusive).
    """

    summary: pd.DataFrame
    days: pd.DataFrame
    start: pd.Timestamp
    cutoff: pd.Timestamp
    _weekly: dict = field(default_factory=dict, repr=False)

    @property
    def customers(self) -> pd.Index:
        return self.summary.index

    @property
    def weeks(self) -> float:
        """Length of the period in weeks."""
        return (self.cutoff - self.start + pd.Timedelta(days=1)) / WEEK

    def weekly(self) -> tuple[np.ndarray, np.ndarray, pd.DatetimeIndex]:
        """Purchase days and spend per customer and week, weeks ending at the cutoff:
        ``(counts, spend, week_end)`` with arrays of shape (customers, weeks)."""
        if not self._weekly:
            n_weeks = int(np.ceil(self.weeks))
            row = self.customers.get_indexer(self.days["customer_id"])
            back = ((self.cutoff - self.days["day"]).dt.days // 7).to_numpy()
            col = n_weeks - 1 - back
            counts = np.zeros((len(self.customers), n_weeks), dtype=np.float32)
            spend = np.zeros_like(counts)
            np.add.at(counts, (row, col), 1.0)
            np.add.at(spend, (row, col), self.days["value"].to_numpy(np.float32))
            ends = pd.DatetimeIndex(
                [self.cutoff - WEEK * (n_weeks - 1 - k) for k in range(n_weeks)]
            )
            self._weekly.update(counts=counts, spend=spend, ends=ends)
        return self._weekly["counts"], self._weekly["spend"], self._weekly["ends"]


def summarise(
    days: pd.DataFrame,
    cutoff: pd.Timestamp | str,
    start: pd.Timestamp | str | None = None,
    cohort_end: pd.Timestamp | str | None = None,
) -> Period:
    """The RFM summary of the customers whose first purchase is on or before ``cohort_end``
    (default the cutoff), from their purchases up to ``cutoff`` (inclusive).

    Examples
    --------
    >>> days = pd.DataFrame({"customer_id": [1, 1, 1], "day": pd.to_datetime(
    ...     ["2020-01-01", "2020-01-08", "2020-01-22"]), "value": [5.0, 10.0, 20.0]})
    >>> summarise(days, "2020-01-29").summary.loc[1, ["frequency", "recency", "T", "monetary"]]
    ... # doctest: +NORMALIZE_WHITESPACE
    frequency     2.0
    recency       3.0
    T             4.0
    monetary     15.0
    Name: 1, dtype: object
    """
    cutoff = pd.Timestamp(cutoff)
    start = pd.Timestamp(start) if start is not None else days["day"].min()
    cohort_end = pd.Timestamp(cohort_end) if cohort_end is not None else cutoff
    if cohort_end > cutoff:
        raise ParameterError(
            f"cohort end {cohort_end:%Y-%m-%d} is after the cutoff {cutoff:%Y-%m-%d}."
        )
    seen = days[(days["day"] <= cutoff) & (days["day"] >= start)]
    first = seen.groupby("customer_id")["day"].min()
    cohort = first.index[first <= cohort_end]
    seen = seen[seen["customer_id"].isin(cohort)].reset_index(drop=True)
    if seen.empty:
        raise ParameterError(
            f"no customer made a first purchase between {start:%Y-%m-%d} and {cohort_end:%Y-%m-%d}."
        )
    g = seen.groupby("customer_id")
    first = g["day"].min()
    last = g["day"].max()
    n = g.size()
    spend = g["value"].sum()
    first_value = seen.loc[g["day"].idxmin(), ["customer_id", "value"]].set_index("customer_id")
    repeat_spend = spend - first_value["value"].reindex(spend.index)
    summary = pd.DataFrame(
        {
            "frequency": (n - 1).astype("float64"),
            "recency": (last - first) / WEEK,
            "T": (cutoff - first) / WEEK,
            "monetary": np.where(n > 1, repeat_spend / (n - 1).clip(lower=1), 0.0),
            "n_purchases": n.astype("int64"),
            "spend": spend,
            "first": first,
        }
    )
    summary.index.name = "customer_id"
    return Period(summary=summary, days=seen, start=start, cutoff=cutoff)


def future_purchases(
    days: pd.DataFrame, customers: pd.Index, after: pd.Timestamp, until: pd.Timestamp
) -> pd.DataFrame:
    """Purchase days and spend of ``customers`` in ``(after, until]``: ``purchases, spend``."""
    window = days[(days["day"] > after) & (days["day"] <= until)]
    window = window[window["customer_id"].isin(customers)]
    g = window.groupby("customer_id")
    out = pd.DataFrame({"purchases": g.size().astype("float64"), "spend": g["value"].sum()})
    out = out.reindex(customers).fillna(0.0)
    out.index.name = "customer_id"
    return out


def _date(name: str, value: Any) -> pd.Timestamp:
    try:
        day = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{name}={value!r} is not a date (use YYYY-MM-DD).") from exc
    if pd.isna(day):
        raise ParameterError(f"{name}={value!r} is not a date (use YYYY-MM-DD).")
    return day


def _weeks(holdout_weeks: Any) -> float:
    try:
        weeks = float(holdout_weeks)
    except (TypeError, ValueError):
        weeks = float("nan")
    if not np.isfinite(weeks) or weeks <= 0:
        raise ParameterError(f"holdout_weeks={holdout_weeks!r}: must be a number of weeks > 0.")
    return weeks


def holdout_weeks(days: pd.DataFrame, weeks: float = 0, longest: float = 39) -> float | int:
    """The holdout length in weeks: ``weeks`` itself, or when it is 0 half the data's span
    (rounded), at most ``longest`` (CDNOW's 39 weeks; the Complete Journey's year gets 26).

    Parameters
    ----------
    days : from :func:`customer_days`.
    weeks : the requested length; 0 asks for the default.
    longest : the cap of the default.
    """
    if weeks != 0:
        out = _weeks(weeks)
    else:
        span = (days["day"].max() - days["day"].min()).days / 7
        out = float(min(longest, max(1, round(span / 2))))
    return int(out) if out.is_integer() else out


def calibration_end(
    days: pd.DataFrame, calibration_end: pd.Timestamp | str | None, holdout_weeks: float
) -> pd.Timestamp:
    """The last calibration day: ``calibration_end`` itself, or when it is empty
    ``holdout_weeks`` before the last purchase day.

    Raises
    ------
    ParameterError
        ``holdout_weeks`` is not > 0, ``calibration_end`` is not a date, or an empty one
        leaves no calibration period (a holdout as long as the data).
    """
    weeks = _weeks(holdout_weeks)
    if calibration_end is not None and str(calibration_end).strip():
        return _date("calibration_end", calibration_end)
    first, last = days["day"].min(), days["day"].max()
    end = last - pd.Timedelta(days=int(round(weeks * 7)))
    if end < first:
        raise ParameterError(
            f"holdout_weeks={holdout_weeks:g} is longer than the data ({first:%Y-%m-%d} .. "
            f"{last:%Y-%m-%d}, {(last - first).days / 7:.1f} weeks): nothing is left to "
            "calibrate on; shorten the holdout."
        )
    return end


def calibration_holdout(
    days: pd.DataFrame,
    calibration_end: pd.Timestamp | str,
    holdout_weeks: float,
    start: pd.Timestamp | str | None = None,
    cohort_end: pd.Timestamp | str | None = None,
) -> tuple[Period, pd.DataFrame]:
    """Split customer-days into a calibration :class:`Period` and the holdout actuals.

    Parameters
    ----------
    days : DataFrame
        From :func:`customer_days`.
    calibration_end : timestamp
        Last day of the calibration period (inclusive).
    holdout_weeks : float
        Length of the holdout after it.
    start, cohort_end : timestamp, optional
        First day of the data considered; last day of a first purchase for the cohort.

    Returns
    -------
    (Period, DataFrame)
        The calibration period (its ``days`` hold nothing after ``calibration_end``) and the
        holdout ``purchases, spend`` per cohort customer.

    Raises
    ------
    ParameterError
        A date is not a date; the calibration period or the holdout lies outside the data;
        the cohort end is outside the calibration period.
    """
    cal_end = _date("calibration_end", calibration_end)
    weeks = _weeks(holdout_weeks)
    first, last = days["day"].min(), days["day"].max()
    holdout_end = cal_end + WEEK * weeks
    if cal_end < first:
        raise ParameterError(
            f"calibration_end={cal_end:%Y-%m-%d} is before the first purchase in the data "
            f"({first:%Y-%m-%d})."
        )
    if cal_end >= last:
        raise ParameterError(
            f"calibration_end={cal_end:%Y-%m-%d} is on or after the last purchase in the data "
            f"({last:%Y-%m-%d}): no holdout is left."
        )
    if holdout_end - last > pd.Timedelta(days=1):
        raise ParameterError(
            f"holdout_weeks={weeks:g} after calibration_end={cal_end:%Y-%m-%d} ends "
            f"{holdout_end:%Y-%m-%d}, after the last purchase in the data ({last:%Y-%m-%d}): "
            "shorten the holdout or move the calibration end earlier."
        )
    if start is not None:
        start = _date("start", start)
        if start > cal_end:
            raise ParameterError(
                f"start={start:%Y-%m-%d} is after calibration_end={cal_end:%Y-%m-%d}."
            )
    if cohort_end is not None:
        cohort_end = _date("cohort_end", cohort_end)
        if cohort_end > cal_end:
            raise ParameterError(
                f"cohort_end={cohort_end:%Y-%m-%d} is after calibration_end={cal_end:%Y-%m-%d}: "
                "the cohort must have made its first purchase in the calibration period."
            )
        if cohort_end < first:
            raise ParameterError(
                f"cohort_end={cohort_end:%Y-%m-%d} is before the first purchase in the data "
                f"({first:%Y-%m-%d}): the cohort would be empty."
            )
    period = summarise(days, cal_end, start=start, cohort_end=cohort_end)
    actual = future_purchases(days, period.customers, cal_end, holdout_end)
    return period, actual
