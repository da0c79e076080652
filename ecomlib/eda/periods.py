"""Sales over time: per day, week or month, and weekday x hour."""

from __future__ import annotations

import pandas as pd

from ecomlib.eda._common import WEEKDAYS, _frame
from ecomlib.eda.lines import Lines

WEEKDAY_SQL = "(((date_diff('day', DATE '1970-01-05', CAST({ts} AS DATE)) % 7) + 7) % 7)"
"""0 = Monday .. 6 = Sunday, the same on Spark (DuckDB's isodow is transpiled wrongly)."""

_PERIODS = {"D": "day", "W": "week", "M": "month"}


def _period_sql(ts: str, freq: str) -> str:
    """The first day (DATE) of each timestamp's period: D, W (weeks start Monday) or M."""
    if freq not in _PERIODS:
        raise ValueError(f"freq must be one of {', '.join(_PERIODS)}, got {freq!r}")
    return f"CAST(date_trunc('{_PERIODS[freq]}', {ts}) AS DATE)"


def _complete_sql(lines: Lines, freq: str) -> str:
    """A WHERE condition: the line's period (``freq``) has all its days inside the observed
    days (first to last calendar day with data, over all the lines).

    A year of data that starts on a Sunday has a partial first week: left in, it would show
    up as a fake collapse in weekly sales or in retention."""
    start = _period_sql("transaction_timestamp", freq)
    end = {"D": start, "W": f"{start} + 6", "M": f"last_day({start})"}[freq]
    bounds = (
        f"(SELECT CAST(MIN(transaction_timestamp) AS DATE) AS first_day, "
        f"CAST(MAX(transaction_timestamp) AS DATE) AS last_day FROM {lines.view}) b"
    )
    return (
        f"{start} >= (SELECT first_day FROM {bounds}) AND {end} <= (SELECT last_day FROM {bounds})"
    )


def sales_over_time(lines: Lines, freq: str = "D", complete_only: bool = True) -> pd.DataFrame:
    """Sales, baskets and households per period (``freq``: D, W starting Monday, M).

    Days without transactions appear with zeros. With ``complete_only`` the partial periods
    at either end of the data are dropped.
    """
    period = _period_sql("transaction_timestamp", freq)
    where = "WHERE transaction_timestamp IS NOT NULL"
    if complete_only:
        where += f" AND {_complete_sql(lines, freq)}"
    out = _frame(
        lines.con,
        f"""
        SELECT {period} AS period, SUM(sales_value) AS sales,
               COUNT(DISTINCT basket_id) AS baskets, COUNT(DISTINCT household_id) AS households
        FROM {lines.view} {where}
        GROUP BY 1 ORDER BY 1
        """,
    ).set_index("period")
    out["sales"] = out["sales"].astype("float64")
    if freq == "D" and len(out):
        out = out.reindex(pd.date_range(out.index.min(), out.index.max(), freq="D"), fill_value=0)
        out.index.name = "period"
    return out


def weekday_hour(lines: Lines, value: str = "baskets") -> pd.DataFrame:
    """A 7 x 24 matrix (rows Mon..Sun, columns hour 0..23) of ``baskets`` or ``sales``."""
    if value == "baskets":
        agg = "COUNT(DISTINCT basket_id)"
    elif value == "sales":
        agg = "SUM(sales_value)"
    else:
        raise ValueError(f"value must be 'baskets' or 'sales', got {value!r}")
    ts = "transaction_timestamp"
    cells = _frame(
        lines.con,
        f"SELECT {WEEKDAY_SQL.format(ts=ts)} AS weekday, hour({ts}) AS hour, {agg} AS v "
        f"FROM {lines.view} WHERE {ts} IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2",
    )
    s = cells.set_index(["weekday", "hour"])["v"]
    mat = s.unstack("hour").reindex(index=range(7), columns=range(24)).fillna(0)
    mat.index = list(WEEKDAYS)
    mat.index.name, mat.columns.name = "weekday", "hour"
    return mat
