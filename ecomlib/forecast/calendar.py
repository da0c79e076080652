"""Calendar features known in advance: day of week, month, US retail holidays.

Holidays are computed, not downloaded: New Year's Day, Easter Sunday, Memorial Day, July 4,
Labor Day, Thanksgiving, Christmas Eve/Day and New Year's Eve. "Major" holidays (Thanksgiving,
Christmas Day, New Year's Day) change grocery sales the most; the distance to the next and
from the last one lets a tree model learn "shopping before, closed on the day" from
Thanksgiving and apply it to Christmas.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

MAJOR = ("new_year", "thanksgiving", "christmas")


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    first = dt.date(year, month, 1)
    offset = (weekday - first.weekday()) % 7
    return first + dt.timedelta(days=offset + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> dt.date:
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    last = nxt - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def _easter(year: int) -> dt.date:
    """Anonymous Gregorian algorithm (Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def us_holidays(years) -> pd.DataFrame:
    """Holiday dates for ``years``: columns ``ds``, ``holiday``, ``major`` (bool)."""
    rows = []
    for y in sorted(set(int(v) for v in years)):
        days = {
            "new_year": dt.date(y, 1, 1),
            "easter": _easter(y),
            "memorial_day": _last_weekday(y, 5, 0),
            "independence_day": dt.date(y, 7, 4),
            "labor_day": _nth_weekday(y, 9, 0, 1),
            "thanksgiving": _nth_weekday(y, 11, 3, 4),
            "christmas_eve": dt.date(y, 12, 24),
            "christmas": dt.date(y, 12, 25),
            "new_years_eve": dt.date(y, 12, 31),
        }
        rows += [
            {"ds": pd.Timestamp(d), "holiday": k, "major": k in MAJOR} for k, d in days.items()
        ]
    return pd.DataFrame(rows).sort_values("ds").reset_index(drop=True)


def _distance(dates: pd.DatetimeIndex, events: np.ndarray, forward: bool, cap: int) -> np.ndarray:
    d = dates.to_numpy().astype("datetime64[D]").astype(np.int64)
    e = np.sort(events.astype("datetime64[D]").astype(np.int64))
    if forward:
        pos = np.searchsorted(e, d, side="left")
        nxt = np.where(pos < len(e), e[np.minimum(pos, len(e) - 1)], d + cap)
        dist = nxt - d
    else:
        pos = np.searchsorted(e, d, side="right") - 1
        prv = np.where(pos >= 0, e[np.maximum(pos, 0)], d - cap)
        dist = d - prv
    return np.minimum(dist, cap).astype(np.float32)


def calendar_features(ds, cap: int = 15) -> pd.DataFrame:
    """Known-in-advance features of each date in ``ds`` (same order, fresh RangeIndex).

    Columns: ``dow`` (0 = Monday), ``dom``, ``month``, ``is_holiday``, ``is_major``,
    ``days_to_major``, ``days_since_major``, ``days_to_holiday``, ``days_since_holiday``
    (distances capped at ``cap``).
    """
    dates = pd.DatetimeIndex(pd.to_datetime(pd.Series(ds)).to_numpy())
    years = range(dates.year.min() - 1, dates.year.max() + 2)
    hol = us_holidays(years)
    all_days = hol["ds"].to_numpy()
    major_days = hol.loc[hol["major"], "ds"].to_numpy()
    norm = dates.normalize()
    return pd.DataFrame(
        {
            "dow": dates.dayofweek.astype(np.int8),
            "dom": dates.day.astype(np.int8),
            "month": dates.month.astype(np.int8),
            "is_holiday": norm.isin(all_days).astype(np.int8),
            "is_major": norm.isin(major_days).astype(np.int8),
            "days_to_major": _distance(norm, major_days, True, cap),
            "days_since_major": _distance(norm, major_days, False, cap),
            "days_to_holiday": _distance(norm, all_days, True, cap),
            "days_since_holiday": _distance(norm, all_days, False, cap),
        }
    )


def closed_mask(ds, closed_days=("12-25",)) -> np.ndarray:
    """True where a date's month-day (``"MM-DD"``) is a known store closure."""
    md = pd.to_datetime(pd.Series(ds)).dt.strftime("%m-%d")
    return md.isin(list(closed_days)).to_numpy()


def apply_closed_days(frame: pd.DataFrame, columns, closed_days=("12-25",)) -> pd.DataFrame:
    """Set forecasts to 0 on known store-closure days (a calendar known in advance).

    Returns a copy; ``columns`` are the forecast columns to adjust (interval bounds included
    when listed).
    """
    out = frame.copy()
    mask = closed_mask(out["ds"], closed_days)
    if mask.any():
        out.loc[mask, list(columns)] = 0.0
    return out
