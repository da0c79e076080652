"""Exploratory analysis of retail transactions: quality, time, categories, baskets,
households (RFM, cohorts) and promotions.

The order lines never come into pandas: :func:`clean_lines` makes views of the cleaned lines
on the query engine (:meth:`ecomlib.data.Source.open_engine`: DuckDB, or Spark, which runs
the same DuckDB-dialect SQL transpiled), and every aggregation is one query on them whose
small result (per day, category, basket or household) is a tidy pandas object that a
notebook displays or plots. Big tables (the 20.9M-row ``promotions``) are aggregated the same
way.

>>> from ecomlib import data, eda
>>> con = data.open_source("").open_engine()
>>> lines = eda.clean_lines(con, timezone="America/New_York")   # views, no pandas load
>>> daily = eda.sales_over_time(lines, "D")
>>> scores = eda.rfm(eda.sample_households(lines, 800))
>>> lift = eda.promotion_lift(con)              # display / mailer lift, computed in SQL
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from ecomlib.errors import DataError

log = logging.getLogger(__name__)

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CNY": "¥", "INR": "₹"}
_CURRENCY = {"symbol": "$"}


def set_currency(code: str) -> str:
    """Use the currency ``code`` (ISO 4217, e.g. ``"EUR"``) in figures and :func:`money`;
    returns its symbol (the code and a space when it has none here)."""
    _CURRENCY["symbol"] = CURRENCY_SYMBOLS.get(str(code).upper(), f"{code} ")
    return _CURRENCY["symbol"]


def readable(frame: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """A copy for display: integer columns with thousands separators (``1,469,307``), float
    columns with ``digits`` significant digits; the frame itself keeps its numbers."""
    out = frame.copy()
    for col in out.columns:
        values = out[col]
        if pd.api.types.is_integer_dtype(values):
            out[col] = values.map("{:,}".format)
        elif pd.api.types.is_float_dtype(values):
            out[col] = values.map(lambda v: f"{v:,.{digits}g}" if abs(v) < 1e4 else f"{v:,.0f}")
    return out


def money(value: float, decimals: int = 0) -> str:
    """An amount in the current currency: ``money(1234.5)`` -> ``'$1,234'``."""
    return f"{_CURRENCY['symbol']}{value:,.{decimals}f}"


FUEL_PATTERN = "GASOLINE"


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """Raise :class:`DataError` naming the missing columns."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{what}: expected a pandas DataFrame, got {type(frame).__name__}.")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{what}: missing column(s) {', '.join(missing)}; "
            f"the frame has {', '.join(map(str, frame.columns))}."
        )


def _frame(con, sql: str) -> pd.DataFrame:
    """``sql`` (DuckDB dialect) on ``con`` as a frame with the engine-independent types of
    :func:`ecomlib.data.engines.normalise_frame` (int64 counts, float64 sums, ns timestamps),
    whichever engine runs it: an ecomlib engine (DuckDB or Spark) or a DuckDB connection."""
    from ecomlib.data.engines import _DUCK_INTS, normalise_frame

    if isinstance(con, duckdb.DuckDBPyConnection):
        rel = con.sql(sql)
        ints = tuple(c for c, t in zip(rel.columns, rel.types, strict=True) if str(t) in _DUCK_INTS)
        return normalise_frame(rel.df(), ints)
    return con.query(sql)


def _columns(con, table: str) -> pd.DataFrame:
    """An empty frame with the columns (and pandas types) of ``table``."""
    return _frame(con, f"SELECT * FROM {table} LIMIT 0")


def _lit(value: object) -> str:
    """A SQL literal: a quoted string or a number that reads back as the same double."""
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, bool | np.bool_):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | np.integer):
        return str(int(value))
    return repr(float(value))


# ---------------------------------------------------------------- the order lines, cleaned
PRODUCT_COLUMNS = ("department", "product_category", "product_type")


@dataclass(frozen=True)
class Lines:
    """The cleaned order lines of a source: views on its query engine, never a pandas frame.

    Made by :func:`clean_lines`; every function of this section takes it and runs one query
    (DuckDB-dialect SQL, transpiled on Spark) whose small result comes back to pandas.

    Attributes
    ----------
    con : the engine (or DuckDB connection) holding the views.
    view : the cleaned lines: ``household_id, basket_id, product_id, quantity, sales_value,
        transaction_timestamp`` (local time), ``timestamp_utc, is_fuel, quantity_outlier,
        units`` and the product attributes present (``department``/``product_category``
        with ``'UNKNOWN'`` for products missing from the product table).
    raw : the transactions with product attributes, as loaded (for the quality checks).
    cap, upper_quantile : the quantity cap (the ``upper_quantile`` of non-fuel quantities).
    timezone : the zone of ``transaction_timestamp`` (None: UTC, as stored).
    has_times : False when every timestamp is a date without a time of day.
    households : the sampled household ids (None: all households).
    """

    con: Any
    view: str
    raw: str
    cap: float
    upper_quantile: float
    timezone: str | None
    has_times: bool
    columns: tuple[str, ...]
    fuel: str
    households: tuple | None = None


def _local_sql(column: str, timezone: str | None) -> str:
    """Naive UTC ``column`` -> naive wall-clock time in ``timezone`` (None: unchanged).

    The Complete Journey stores UTC: its quietest hour is 07-09 UTC (2-4 am in US Eastern
    time) and its last basket, 2018-01-01 04:01 UTC, is 23:01 on 31 December in Eastern time.
    """
    if not timezone:
        return column
    return f"timezone({_lit(timezone)}, timezone('UTC', {column}))"


def _quantile(con, sql: str, q: float) -> float:
    """The ``q`` quantile of column ``v`` of ``sql``, as pandas computes it (linear
    interpolation, NULLs skipped), from the distinct values and their counts (small)."""
    counts = _frame(
        con, f"SELECT v, COUNT(*) AS n FROM ({sql}) s WHERE v IS NOT NULL GROUP BY v ORDER BY v"
    )
    if counts.empty:
        return float("nan")
    cum = counts["n"].to_numpy().cumsum()
    values = counts["v"].to_numpy()
    # pandas hands q * 100 to np.percentile, which divides it by 100 again
    qq = np.true_divide(np.float64(q) * 100.0, 100)
    index = (int(cum[-1]) - 1) * qq  # numpy's "linear" virtual index
    lo = np.floor(index)
    gamma = index - lo
    a, b = values[np.searchsorted(cum, [lo + 1, min(lo + 2, cum[-1])])].astype("float64")
    diff = b - a
    return float(b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma)


def clean_lines(
    con,
    upper_quantile: float = 0.999,
    timezone: str | None = None,
    product_columns: Sequence[str] = PRODUCT_COLUMNS,
    name: str = "eda_lines",
) -> Lines:
    """Views of the cleaned order lines on ``con`` (nothing is loaded into pandas).

    ``{name}_raw``: the transactions with the product attributes ``product_columns`` that the
    source has (left join: products missing from the product table get NULLs). ``{name}``:
    the same lines with analysis columns, none dropped: ``is_fuel`` flags fuel lines
    (department ``FUEL`` or a ``GASOLINE`` product type: their quantity is a volume, up to
    89,638); ``quantity_outlier`` flags non-fuel lines above the cap (the ``upper_quantile``
    of non-fuel quantities); ``units`` is 1 per fuel line and the quantity capped otherwise
    (whole units stay whole: an integer quantity gets the integer part of a fractional cap).
    Sales values are untouched: they are real spend. With ``timezone`` (e.g.
    ``"America/New_York"``) ``transaction_timestamp`` is the local wall-clock time and the
    stored UTC value is ``timestamp_utc``, unless every local time is midnight (dates
    without a time of day), which stay as stored.
    """
    if not 0 < upper_quantile <= 1:
        raise ValueError(f"upper_quantile must be in (0, 1], got {upper_quantile!r}")
    _check_views(con, ("transactions",))
    tx_cols = list(_columns(con, "transactions").columns)
    for col in ("quantity", "sales_value", "transaction_timestamp"):
        if col not in tx_cols:
            raise DataError(
                f"clean_lines: transactions lack {col}; they have {', '.join(tx_cols)}."
            )
    attrs: list[str] = []
    if _has_view(con, "products"):
        have = set(_columns(con, "products").columns)
        attrs = [c for c in product_columns if c in have and c not in tx_cols]
    select = ", ".join([f"t.{_q(c)}" for c in tx_cols] + [f"p.{_q(c)}" for c in attrs])
    join = " LEFT JOIN products p ON t.product_id = p.product_id" if attrs else ""
    raw = f"{name}_raw"
    con.execute(f"CREATE OR REPLACE VIEW {raw} AS SELECT {select} FROM transactions t{join}")

    fuel = []
    if "department" in attrs:
        fuel.append("COALESCE(department = 'FUEL', FALSE)")
    if "product_type" in attrs:
        fuel.append(f"COALESCE(product_type LIKE '%{FUEL_PATTERN}%', FALSE)")
    fuel_sql = "(" + " OR ".join(fuel) + ")" if fuel else "FALSE"
    cap = _quantile(con, f"SELECT quantity AS v FROM {raw} WHERE NOT {fuel_sql}", upper_quantile)

    local = _local_sql("transaction_timestamp", timezone)
    has_times = bool(
        _frame(
            con,
            f"SELECT MAX(CASE WHEN transaction_timestamp IS NULL OR {local} <> "
            f"date_trunc('day', {local}) THEN 1 ELSE 0 END) AS t FROM {raw}",
        )["t"]
        .fillna(0)
        .iloc[0]
    )
    zone = timezone if has_times else None
    integral = (
        _columns(con, raw)["quantity"].dtype.kind in "iu"
        and not _frame(con, f"SELECT COUNT(*) AS n FROM {raw} WHERE quantity IS NULL")["n"].iloc[0]
    )
    if np.isnan(cap):
        outlier, units = "FALSE", f"CASE WHEN {fuel_sql} THEN 1 ELSE quantity END"
    else:
        # pandas: quantity.clip(upper=cap), cast to int64 for whole units (truncation)
        unit_cap = _lit(int(cap)) if integral else _lit(cap)
        outlier = f"COALESCE(quantity > {_lit(cap)} AND NOT {fuel_sql}, FALSE)"
        units = (
            f"CASE WHEN {fuel_sql} THEN 1 WHEN quantity > {_lit(cap)} THEN {unit_cap} "
            "ELSE quantity END"
        )
    if not integral:
        units = f"CAST({units} AS DOUBLE)"
    keep = [c for c in tx_cols if c != "transaction_timestamp"]
    cols = [f"{_q(c)}" for c in keep]
    cols += [
        f"{_local_sql('transaction_timestamp', zone)} AS transaction_timestamp",
        "transaction_timestamp AS timestamp_utc",
        f"{fuel_sql} AS is_fuel",
        f"{outlier} AS quantity_outlier",
        f"{units} AS units",
    ]
    for col in attrs:
        known = col in ("department", "product_category")
        cols.append(f"COALESCE({_q(col)}, 'UNKNOWN') AS {_q(col)}" if known else _q(col))
    con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT {', '.join(cols)} FROM {raw}")
    return Lines(
        con=con,
        view=name,
        raw=raw,
        cap=cap,
        upper_quantile=upper_quantile,
        timezone=zone,
        has_times=has_times,
        columns=tuple(tx_cols + attrs),
        fuel=fuel_sql,
    )


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sample_households(lines: Lines, n: int | None, seed: int = 42) -> Lines:
    """The lines of ``n`` randomly chosen households (all households when ``n`` is None).

    The draw is made in pandas on the sorted distinct household ids (a small query), so it is
    the same on every engine; the lines themselves are a view filtered to the sample."""
    if n is None:
        return lines
    if n <= 0:
        raise ValueError(f"SAMPLE_HOUSEHOLDS must be a positive integer or None, got {n!r}")
    ids = _frame(lines.con, f"SELECT DISTINCT household_id FROM {lines.view}")["household_id"]
    ids = ids.to_numpy()
    if n >= len(ids):
        return lines
    rng = np.random.default_rng(seed)
    keep = rng.choice(np.sort(ids), size=n, replace=False)
    known = [v for v in keep if not pd.isna(v)]
    cond = f"household_id IN ({', '.join(_lit(v) for v in known)})" if known else "FALSE"
    if len(known) < len(keep):
        cond = f"({cond} OR household_id IS NULL)"
    view = f"{lines.view}_sample"
    lines.con.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM {lines.view} WHERE {cond}")
    return replace(lines, view=view, households=tuple(keep))


# ---------------------------------------------------------------- data quality
def table_overview(con: duckdb.DuckDBPyConnection, tables: Sequence[str]) -> pd.DataFrame:
    """Rows, columns and missing cells of each table, computed in DuckDB (no pandas load).

    Returns
    -------
    DataFrame indexed by table with ``rows, columns, missing_cells, missing_share``.
    """
    rows = []
    for table in tables:
        cols = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
        nulls = " + ".join(f'(COUNT(*) - COUNT("{c}"))' for c in cols)
        n, missing = con.execute(f"SELECT COUNT(*), {nulls} FROM {table}").fetchall()[0]
        rows.append(
            {
                "table": table,
                "rows": int(n),
                "columns": len(cols),
                "missing_cells": int(missing),
                "missing_share": missing / (n * len(cols)) if n else 0.0,
            }
        )
    return pd.DataFrame(rows).set_index("table")


def line_stats(lines: Lines) -> dict[str, Any]:
    """Scalars of the cleaned lines in one query: ``lines, baskets, households, products,
    sales, max_quantity, fuel_lines, fuel_sales, quantity_outliers, max_units`` (non-fuel),
    ``zero_sales_share`` (lines with sales_value <= 0), ``last_utc``, ``last_local``."""
    row = _frame(
        lines.con,
        f"""
        SELECT COUNT(*) AS lines, COUNT(DISTINCT basket_id) AS baskets,
               COUNT(DISTINCT household_id) AS households,
               COUNT(DISTINCT product_id) AS products,
               COALESCE(SUM(sales_value), 0) AS sales, MAX(quantity) AS max_quantity,
               SUM(CASE WHEN is_fuel THEN 1 ELSE 0 END) AS fuel_lines,
               COALESCE(SUM(CASE WHEN is_fuel THEN sales_value END), 0) AS fuel_sales,
               SUM(CASE WHEN quantity_outlier THEN 1 ELSE 0 END) AS quantity_outliers,
               MAX(CASE WHEN NOT is_fuel THEN units END) AS max_units,
               AVG(CASE WHEN sales_value <= 0 THEN 1.0 ELSE 0.0 END) AS zero_sales_share,
               MAX(timestamp_utc) AS last_utc, MAX(transaction_timestamp) AS last_local
        FROM {lines.view}
        """,
    ).iloc[0]
    out = row.to_dict()
    for key in ("lines", "baskets", "households", "products", "fuel_lines", "quantity_outliers"):
        out[key] = int(out[key])
    return out


def data_quality_report(
    lines: Lines, key: Sequence[str] = ("basket_id", "product_id")
) -> pd.DataFrame:
    """One row per check on the order lines as loaded: how many rows fail it and their share.

    Checks: missing values per column, exact duplicate rows, duplicated ``key``, zero
    quantity, non-positive ``sales_value``, negative discounts (stored as amounts >= 0),
    fuel lines (their quantity is a volume, not a unit count) and quantity outliers above the
    cap of :func:`clean_lines` (its ``upper_quantile`` of non-fuel lines). One query.

    Returns
    -------
    DataFrame with columns ``check, rows, share``.
    """
    missing_key = [c for c in key if c not in lines.columns]
    if missing_key:
        raise DataError(f"data_quality_report: the lines have no {', '.join(missing_key)}.")
    disc = [c for c in ("retail_disc", "coupon_disc", "coupon_match_disc") if c in lines.columns]
    parts = [f"COUNT(*) - COUNT({_q(c)}) AS {_q('missing ' + c)}" for c in lines.columns]
    parts += [
        f"(SELECT COUNT(*) FROM (SELECT DISTINCT * FROM {lines.raw}) d) AS distinct_rows",
        f"(SELECT COUNT(*) FROM (SELECT DISTINCT {', '.join(map(_q, key))} FROM {lines.raw}) k)"
        " AS distinct_keys",
        "SUM(CASE WHEN quantity = 0 THEN 1 ELSE 0 END) AS zero_quantity",
        "SUM(CASE WHEN sales_value <= 0 THEN 1 ELSE 0 END) AS zero_sales",
        f"SUM(CASE WHEN {lines.fuel} THEN 1 ELSE 0 END) AS fuel",
        "COUNT(*) AS n",
    ]
    if disc:
        parts.append(
            f"SUM(CASE WHEN {' OR '.join(f'{_q(c)} < 0' for c in disc)} THEN 1 ELSE 0 END)"
            " AS negative_discount"
        )
    cap_sql = _lit(lines.cap) if not np.isnan(lines.cap) else "NULL"
    parts.append(
        f"SUM(CASE WHEN quantity > {cap_sql} AND NOT {lines.fuel} THEN 1 ELSE 0 END) AS outliers"
    )
    row = _frame(lines.con, f"SELECT {', '.join(parts)} FROM {lines.raw}").iloc[0]
    n = int(row["n"])
    if n == 0:
        raise DataError("data_quality_report: the transactions are empty.")
    checks: list[tuple[str, int]] = []
    for col in lines.columns:
        k = int(row[f"missing {col}"])
        if k:
            checks.append((f"missing {col}", k))
    checks.append(("exact duplicate rows", n - int(row["distinct_rows"])))
    checks.append((f"duplicated key ({', '.join(key)})", n - int(row["distinct_keys"])))
    checks.append(("quantity == 0", int(row["zero_quantity"])))
    checks.append(("sales_value <= 0", int(row["zero_sales"])))
    if disc:
        checks.append(("negative discount", int(row["negative_discount"])))
    checks.append(("fuel lines (quantity = volume)", int(row["fuel"])))
    checks.append(
        (
            f"non-fuel quantity > {lines.cap:g} (q{lines.upper_quantile:g})",
            int(0 if pd.isna(row["outliers"]) else row["outliers"]),
        )
    )
    out = pd.DataFrame(checks, columns=["check", "rows"])
    out["share"] = out["rows"] / n
    return out


def top_lines(lines: Lines, n: int = 5, by: str = "quantity") -> pd.DataFrame:
    """The ``n`` order lines (as loaded) with the largest ``by``: basket, department, product
    type (those present), quantity and sales value; ties in basket and product order."""
    cols = [
        c
        for c in ("basket_id", "department", "product_type", "quantity", "sales_value")
        if c in lines.columns
    ]
    order = ", ".join(f"{_q(c)}" for c in ("basket_id", "product_id") if c in lines.columns)
    return _frame(
        lines.con,
        f"SELECT {', '.join(map(_q, cols))} FROM {lines.raw} "
        f"ORDER BY {_q(by)} DESC NULLS LAST{', ' + order if order else ''} LIMIT {int(n)}",
    )


def baskets_by_hour(lines: Lines, utc: bool = False) -> pd.Series:
    """Distinct baskets per hour of the day (0..23 with data), local time or ``utc``."""
    col = "timestamp_utc" if utc else "transaction_timestamp"
    out = _frame(
        lines.con,
        f"SELECT hour({col}) AS hour, COUNT(DISTINCT basket_id) AS baskets FROM {lines.view} "
        f"WHERE {col} IS NOT NULL GROUP BY 1 ORDER BY 1",
    )
    return out.set_index("hour")["baskets"]


# ---------------------------------------------------------------- time
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


# ---------------------------------------------------------------- categories
def pareto(lines: Lines, by: str, value: str = "sales_value") -> pd.DataFrame:
    """Totals of ``value`` per ``by`` level, largest first (ties in level order), with share
    and cumulative share.

    Returns
    -------
    DataFrame indexed by ``by`` with ``value, share, cum_share, rank``.
    """
    totals = _frame(
        lines.con,
        f"SELECT {_q(by)} AS level, SUM({_q(value)}) AS total FROM {lines.view} GROUP BY 1",
    )
    totals = totals.sort_values("level", na_position="last", kind="stable")
    totals = totals.set_index("level")["total"].astype("float64").rename_axis(by)
    totals = totals.sort_values(ascending=False, kind="stable")
    grand = totals.sum()
    if not grand > 0:
        raise DataError(f"pareto: total {value} is not positive; nothing to rank.")
    out = pd.DataFrame({value: totals, "share": totals / grand})
    out["cum_share"] = out["share"].cumsum()
    out["rank"] = np.arange(1, len(out) + 1)
    return out


def fuel_share(lines: Lines, by: str, level: object) -> float:
    """Share of the sales of ``by`` = ``level`` that are fuel lines (0 when none)."""
    row = _frame(
        lines.con,
        f"SELECT COALESCE(SUM(CASE WHEN is_fuel THEN sales_value END), 0) AS fuel, "
        f"SUM(sales_value) AS sales FROM {lines.view} WHERE {_q(by)} = {_lit(level)}",
    ).iloc[0]
    return float(row["fuel"] / row["sales"])


def change_words(relative: float) -> str:
    """``0.23`` -> ``"23% more"``, ``-0.1`` -> ``"10% less"`` (for generated sentences)."""
    return f"{abs(relative):.0%} {'more' if relative >= 0 else 'less'}"


def n_for_share(pareto_table: pd.DataFrame, share: float = 0.8) -> int:
    """Smallest number of top levels whose cumulative share reaches ``share``."""
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share!r}")
    cum = pareto_table["cum_share"].to_numpy()
    return int(min(np.searchsorted(cum, share - 1e-12) + 1, len(cum)))


# ---------------------------------------------------------------- baskets
def basket_summary(lines: Lines) -> pd.DataFrame:
    """One row per basket (an aggregate: no order lines in pandas), indexed by basket_id:
    ``household_id, lines`` (distinct products), ``units`` and ``value`` (sales),
    ``timestamp`` (first line)."""
    out = _frame(
        lines.con,
        f"""
        SELECT basket_id, MIN(household_id) AS household_id,
               COUNT(DISTINCT product_id) AS lines, SUM(units) AS units,
               SUM(sales_value) AS value, MIN(transaction_timestamp) AS timestamp
        FROM {lines.view} WHERE basket_id IS NOT NULL GROUP BY basket_id ORDER BY basket_id
        """,
    )
    return out.set_index("basket_id")


# ---------------------------------------------------------------- households
RFM_SEGMENTS = (  # (name, rule on R and FM scores scaled to 1..5)
    ("Champions", lambda r, fm: (r >= 4) & (fm >= 4)),
    ("Loyal", lambda r, fm: (r >= 3) & (fm >= 3)),
    ("New / promising", lambda r, fm: (r >= 4) & (fm < 3)),
    ("At risk", lambda r, fm: (r < 3) & (fm >= 3)),
    ("Needs attention", lambda r, fm: (r == 3) & (fm < 3)),
    ("Hibernating", lambda r, fm: (r < 3) & (fm < 3)),
)


def _score(values: pd.Series, bins: int, higher_is_better: bool = True) -> pd.Series:
    """Quantile score 1..bins on ranks (ties broken by order, so every bin is used)."""
    ranks = values.rank(method="first", ascending=higher_is_better)
    return pd.qcut(ranks, q=bins, labels=False).astype("int64") + 1


def household_totals(lines: Lines) -> pd.DataFrame:
    """One row per household (sorted by id): ``last_purchase`` (latest timestamp),
    ``baskets`` (distinct) and ``spend`` (sum of sales)."""
    out = _frame(
        lines.con,
        f"""
        SELECT household_id, MAX(transaction_timestamp) AS last_purchase,
               COUNT(DISTINCT basket_id) AS baskets, SUM(sales_value) AS spend
        FROM {lines.view} WHERE household_id IS NOT NULL
        GROUP BY household_id ORDER BY household_id
        """,
    )
    out["spend"] = out["spend"].astype("float64")
    return out.set_index("household_id")


def rfm(lines: Lines, bins: int = 5, as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """Recency / frequency / monetary table per household, with scores and a segment.

    Parameters
    ----------
    lines : the (sampled) lines of :func:`clean_lines`.
    bins : number of quantile bins for each score (2..10); ``bins`` = best.
    as_of : reference date for recency (default: the day after the last transaction).

    Returns
    -------
    DataFrame indexed by household: ``recency_days, frequency, monetary, r, f, m, segment``.
    Segments use R and the mean of F and M, both rescaled to 1..5.
    """
    if not 2 <= int(bins) <= 10:
        raise ValueError(f"RFM bins must be between 2 and 10, got {bins!r}")
    hh = household_totals(lines)
    last = pd.to_datetime(hh["last_purchase"])
    as_of = (
        pd.Timestamp(as_of) if as_of is not None else last.max().normalize() + pd.Timedelta("1D")
    )
    out = pd.DataFrame(
        {
            "recency_days": (as_of - last).dt.days,
            "frequency": hh["baskets"],
            "monetary": hh["spend"],
        }
    )
    if len(out) < bins:
        raise DataError(f"rfm: {len(out)} households cannot fill {bins} bins.")
    out["r"] = _score(out["recency_days"], bins, higher_is_better=False)
    out["f"] = _score(out["frequency"], bins)
    out["m"] = _score(out["monetary"].round(6), bins)  # equal spend ties, on any engine
    scale = 4 / (bins - 1)
    r5 = 1 + (out["r"] - 1) * scale
    fm5 = 1 + ((out["f"] + out["m"]) / 2 - 1) * scale
    segment = pd.Series("Hibernating", index=out.index, dtype=object)
    assigned = pd.Series(False, index=out.index)
    for name, rule in RFM_SEGMENTS:
        hit = rule(r5.round(), fm5.round()) & ~assigned
        segment[hit] = name
        assigned |= hit
    out["segment"] = pd.Categorical(segment, categories=[s for s, _ in RFM_SEGMENTS])
    return out


def segment_summary(scores: pd.DataFrame) -> pd.DataFrame:
    """Households, share of households, share of spend and medians per RFM segment."""
    _require(scores, ["segment", "recency_days", "frequency", "monetary"], "segment_summary")
    g = scores.groupby("segment", observed=False)
    out = pd.DataFrame(
        {
            "households": g.size(),
            "median_recency_days": g["recency_days"].median(),
            "median_baskets": g["frequency"].median(),
            "median_spend": g["monetary"].median(),
            "spend": g["monetary"].sum(),
        }
    )
    out["household_share"] = out["households"] / out["households"].sum()
    out["spend_share"] = out["spend"] / out["spend"].sum()
    return out.drop(columns="spend")


def cohort_retention(lines: Lines, freq: str = "M", complete_only: bool = True) -> pd.DataFrame:
    """Share of each first-purchase cohort active in each later period.

    Rows: cohort (period of the household's first transaction); columns: periods since
    the first one (0, 1, ...); values: active households / cohort size (column 0 is 1).
    A ``cohort_size`` column is appended. With ``complete_only`` partial periods at the ends
    of the data (of these lines) are dropped first. Note that a panel that starts on a fixed date puts every household already shopping then into the first
    cohort (left censoring). ``freq``: D, W or M.
    """
    start = _period_sql("transaction_timestamp", freq)
    where = "household_id IS NOT NULL AND transaction_timestamp IS NOT NULL"
    if complete_only:
        where += f" AND {_complete_sql(lines, freq)}"
    ordinal = {
        "D": "date_diff('day', DATE '1970-01-01', start)",
        "W": "CAST(date_diff('day', DATE '1969-12-22', start) / 7 AS BIGINT)",
        "M": "(year(start) - 1970) * 12 + month(start) - 1",
    }[freq]
    counts = _frame(
        lines.con,
        f"""
        WITH active AS (
            SELECT DISTINCT household_id, {start} AS start FROM {lines.view} WHERE {where}
        ),
        aged AS (
            SELECT household_id, start, {ordinal} AS ordinal FROM active
        ),
        cohorts AS (
            SELECT household_id, ordinal,
                   MIN(ordinal) OVER (PARTITION BY household_id) AS cohort FROM aged
        )
        SELECT cohort, ordinal - cohort AS age, COUNT(DISTINCT household_id) AS households
        FROM cohorts GROUP BY 1, 2 ORDER BY 1, 2
        """,
    )
    if counts.empty:
        raise DataError("cohort_retention: no transactions in complete periods.")
    counts = counts.set_index(["cohort", "age"])["households"].unstack("age")
    size = counts[0]
    table = counts.div(size, axis=0)
    table.index = pd.PeriodIndex.from_ordinals(table.index, freq=freq).astype(str)
    table.index.name = "cohort"
    table.columns.name = f"periods since first purchase ({freq})"
    table["cohort_size"] = size.to_numpy()
    return table


def demographics_spend(
    lines: Lines,
    demographics: pd.DataFrame,
    columns: Sequence[str] = ("income", "age", "household_size"),
) -> dict[str, pd.DataFrame]:
    """Yearly spend per household by demographic level, for households with demographics.

    Returns a dict ``column -> DataFrame(households, median_spend, mean_spend, mean_baskets)``
    ordered by the level's natural order (numbers and ranges sort by their first number).
    """
    _require(demographics, ["household_id", *columns], "demographics_spend")
    per_hh = household_totals(lines)[["spend", "baskets"]]
    joined = demographics.set_index("household_id").join(per_hh, how="inner")
    out = {}
    for col in columns:
        g = joined.groupby(col, dropna=True)
        t = pd.DataFrame(
            {
                "households": g.size(),
                "median_spend": g["spend"].median(),
                "mean_spend": g["spend"].mean(),
                "mean_baskets": g["baskets"].mean(),
            }
        )
        out[col] = t.loc[sorted(t.index, key=_level_key)]
    return out


def spend_difference_test(
    lines: Lines, demographics: pd.DataFrame, column: str
) -> dict[str, float]:
    """Kruskal-Wallis test: does yearly spend per household differ between the levels of
    ``column``? Returns ``statistic``, ``p_value``, ``groups`` and ``households``."""
    from scipy.stats import kruskal

    _require(demographics, ["household_id", column], "spend_difference_test")
    # spend equal to a millionth is a tie, whatever order the engine summed the lines in
    spend = household_totals(lines)["spend"].round(6)
    joined = demographics.set_index("household_id")[[column]].join(spend, how="inner").dropna()
    groups = [g["spend"].to_numpy() for _, g in joined.groupby(column, observed=True)]
    if len(groups) < 2:
        raise DataError(f"spend_difference_test: {column!r} has fewer than two levels with data.")
    stat, p_value = kruskal(*groups)
    return {
        "statistic": float(stat),
        "p_value": float(p_value),
        "groups": len(groups),
        "households": len(joined),
    }


def _level_key(level: object) -> tuple[float, str]:
    """Sort key: the first number in a label (``'35-49K'`` -> 35, ``'Under 15K'`` -> 0)."""
    import re

    text = str(level)
    m = re.search(r"\d+", text.replace(",", ""))
    num = float(m.group()) if m else float("inf")
    if text.lower().startswith(("under", "<")):
        num -= 0.5
    return num, text


# ---------------------------------------------------------------- promotions & coupons
# Per-state aggregates over product-store pairs (c: promoted weeks, b: the pair's other weeks).
_PAIR_AGGREGATES = """           COUNT(*) AS pairs,
           SUM(c.n_wk) AS promo_weeks,
           SUM(b.n_wk) AS base_weeks,
           SUM(c.sales / c.n_wk) / COUNT(*) AS promo_sales_per_week,
           SUM(b.sales / b.n_wk) / COUNT(*) AS base_sales_per_week,
           SUM(c.units / c.n_wk) / COUNT(*) AS promo_units_per_week,
           SUM(b.units / b.n_wk) / COUNT(*) AS base_units_per_week,
           VAR_SAMP(c.sales / c.n_wk) AS promo_var,
           VAR_SAMP(b.sales / b.n_wk) AS base_var,
           COVAR_SAMP(c.sales / c.n_wk, b.sales / b.n_wk) AS promo_base_cov
"""

PROMOTION_LIFT_SQL = f"""
WITH tx AS (
    SELECT product_id, store_id, week,
           SUM(quantity) AS units, SUM(sales_value) AS sales
    FROM transactions
    GROUP BY ALL
),
store_weeks AS (SELECT DISTINCT store_id, week FROM transactions),
store_n AS (SELECT store_id, COUNT(*) AS n_wk FROM store_weeks GROUP BY ALL),
pairs AS (SELECT DISTINCT product_id, store_id FROM tx),
promo AS (
    SELECT p.product_id, p.store_id, p.week,
           BOOL_OR(p.display_location <> '0') AS on_display,
           BOOL_OR(p.mailer_location <> '0') AS in_mailer
    FROM promotions p
    SEMI JOIN pairs USING (product_id, store_id)
    SEMI JOIN store_weeks USING (store_id, week)
    GROUP BY ALL
),
cells AS (
    SELECT product_id, store_id,
           CASE WHEN on_display AND in_mailer THEN 'display + mailer'
                WHEN on_display THEN 'display only'
                WHEN in_mailer THEN 'mailer only' ELSE 'none' END AS state,
           COUNT(*) AS n_wk,
           SUM(COALESCE(tx.sales, 0)) AS sales,
           SUM(COALESCE(tx.units, 0)) AS units
    FROM promo LEFT JOIN tx USING (product_id, store_id, week)
    GROUP BY ALL
),
cell_tot AS (
    SELECT product_id, store_id, SUM(n_wk) AS n_wk, SUM(sales) AS sales, SUM(units) AS units
    FROM cells GROUP BY ALL
),
base AS (
    SELECT t.product_id, t.store_id,
           s.n_wk - c.n_wk AS n_wk,
           t.sales - c.sales AS sales,
           t.units - c.units AS units
    FROM (SELECT product_id, store_id, SUM(sales) AS sales, SUM(units) AS units
          FROM tx GROUP BY ALL) t
    JOIN cell_tot c USING (product_id, store_id)
    JOIN store_n s USING (store_id)
),
within AS (
    SELECT c.state,
{_PAIR_AGGREGATES}    FROM cells c JOIN base b USING (product_id, store_id)
    WHERE b.n_wk > 0
    GROUP BY c.state
),
any_promo AS (
    SELECT 'any promotion' AS state,
{_PAIR_AGGREGATES}    FROM cell_tot c JOIN base b USING (product_id, store_id)
    WHERE b.n_wk > 0
)
SELECT * FROM within
UNION ALL
SELECT * FROM any_promo
"""

NAIVE_PROMOTION_SQL = """
WITH tx AS (
    SELECT product_id, store_id, week, SUM(sales_value) AS sales, SUM(quantity) AS units
    FROM transactions GROUP BY ALL
),
promo AS (
    SELECT product_id, store_id, week,
           BOOL_OR(display_location <> '0') AS on_display,
           BOOL_OR(mailer_location <> '0') AS in_mailer
    FROM promotions SEMI JOIN tx USING (product_id, store_id, week)
    GROUP BY ALL
)
SELECT COALESCE(on_display, FALSE) AS on_display, COALESCE(in_mailer, FALSE) AS in_mailer,
       COUNT(*) AS product_store_weeks, AVG(sales) AS mean_sales,
       MEDIAN(sales / NULLIF(units, 0)) AS median_unit_price
FROM tx LEFT JOIN promo USING (product_id, store_id, week)
GROUP BY ALL
"""


def promotion_lift(
    con: duckdb.DuckDBPyConnection,
    threads: int | None = None,
    memory_limit: str | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Display and mailer lift on product-store-weeks, aggregated entirely in DuckDB.

    ``promotions`` (product_id, store_id, week, display_location, mailer_location; a
    location of ``'0'`` means "not on display" / "not in the mailer") is joined to weekly
    transaction totals per product and store. The comparison is *within* a product-store
    pair, so product mix cannot fake a lift: for every pair sold at least once and promoted
    in at least one week, mean weekly sales in its promoted weeks (by state: display only,
    mailer only, both, any) are compared with its mean weekly sales in the other weeks the
    store was open (weeks with no sale count as zero). Pairs are weighted equally.

    Parameters
    ----------
    con : connection with ``transactions`` and ``promotions`` views
        (:func:`ecomlib.data.connect`).
    threads, memory_limit : optional DuckDB settings applied before the query
        (e.g. ``2`` and ``"1GB"`` keep the 20.9M-row join small).
    confidence : level of the normal-approximation interval ``ci_low``..``ci_high`` on the
        sales lift (delta method for a ratio of means, pairs treated as independent).

    Returns
    -------
    DataFrame indexed by ``state`` with ``pairs, promo_weeks, base_weeks,
    promo_sales_per_week, base_sales_per_week, sales_lift, promo_units_per_week,
    base_units_per_week, unit_lift`` plus ``sales_lift_se, ci_low, ci_high``; lifts are
    relative (0.25 = +25 %).
    """
    from scipy.stats import norm

    _check_views(con, ("transactions", "promotions"))
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    z = float(norm.ppf(0.5 + confidence / 2))
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    out = con.execute(PROMOTION_LIFT_SQL).df().set_index("state")
    order = [
        s
        for s in ("display only", "mailer only", "display + mailer", "any promotion")
        if s in out.index
    ]
    out = out.loc[order]
    out["sales_lift"] = out["promo_sales_per_week"] / out["base_sales_per_week"] - 1
    out["unit_lift"] = out["promo_units_per_week"] / out["base_units_per_week"] - 1
    ratio = out["promo_sales_per_week"] / out["base_sales_per_week"]
    # delta method for a ratio of means over pairs (pairs treated as independent)
    var = (out["promo_var"] - 2 * ratio * out["promo_base_cov"] + ratio**2 * out["base_var"]) / (
        out["pairs"] * out["base_sales_per_week"] ** 2
    )
    out["sales_lift_se"] = np.sqrt(var.clip(lower=0))
    out["ci_low"] = out["sales_lift"] - z * out["sales_lift_se"]
    out["ci_high"] = out["sales_lift"] + z * out["sales_lift_se"]
    int_cols = ["pairs", "promo_weeks", "base_weeks"]
    out[int_cols] = out[int_cols].astype("int64")
    return out[
        [
            "pairs",
            "promo_weeks",
            "base_weeks",
            "promo_sales_per_week",
            "base_sales_per_week",
            "sales_lift",
            "sales_lift_se",
            "ci_low",
            "ci_high",
            "promo_units_per_week",
            "base_units_per_week",
            "unit_lift",
        ]
    ]


def naive_promotion_comparison(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Mean sales and median unit price of *sold* product-store-weeks by display/mailer
    status, across products.

    The naive comparison mixes different products (promoted items are cheaper on average)
    and ignores zero-sale weeks; the notebook shows it next to :func:`promotion_lift` to
    explain why the within-pair comparison is the one to trust.
    """
    _check_views(con, ("transactions", "promotions"))
    return (
        con.execute(NAIVE_PROMOTION_SQL)
        .df()
        .sort_values(["on_display", "in_mailer"])
        .reset_index(drop=True)
    )


def coupon_redemption(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per campaign: type, dates, targeted households, coupons, redemptions, redeeming
    households and the redemption rate (redeeming / targeted households)."""
    _check_views(con, ("campaigns", "campaign_descriptions", "coupons", "coupon_redemptions"))
    sql = """
    SELECT d.campaign_id, d.campaign_type, d.start_date::DATE AS start_date,
           d.end_date::DATE AS end_date,
           COALESCE(t.households, 0) AS targeted_households,
           COALESCE(c.coupons, 0) AS coupons,
           COALESCE(r.redemptions, 0) AS redemptions,
           COALESCE(r.households, 0) AS redeeming_households
    FROM campaign_descriptions d
    LEFT JOIN (SELECT campaign_id, COUNT(DISTINCT household_id) AS households
               FROM campaigns GROUP BY ALL) t USING (campaign_id)
    LEFT JOIN (SELECT campaign_id, COUNT(DISTINCT coupon_upc) AS coupons
               FROM coupons GROUP BY ALL) c USING (campaign_id)
    LEFT JOIN (SELECT campaign_id, COUNT(*) AS redemptions,
                      COUNT(DISTINCT household_id) AS households
               FROM coupon_redemptions GROUP BY ALL) r USING (campaign_id)
    ORDER BY d.campaign_id
    """
    out = con.execute(sql).df().set_index("campaign_id")
    out["redemption_rate"] = np.where(
        out["targeted_households"] > 0,
        out["redeeming_households"] / out["targeted_households"].clip(lower=1),
        np.nan,
    )
    return out


def _views(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The tables and views of ``con`` (a DuckDB connection or an ecomlib engine)."""
    return {
        r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }


def _has_view(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return name in _views(con)


def _check_views(con: duckdb.DuckDBPyConnection, names: Sequence[str]) -> None:
    have = _views(con)
    missing = [n for n in names if n not in have]
    if missing:
        raise DataError(
            f"DuckDB connection lacks table/view(s) {', '.join(missing)}; "
            "use ecomlib.data.connect()."
        )


# ---------------------------------------------------------------- summary export
def summary_path(filename: str = "01_eda_summary.md") -> Path:
    """Where to write the one-page summary: next to the run's metrics when the notebook runs
    under ``ecom run`` (``$ECOM_METRICS_FILE``), else ``reports/``."""
    from ecomlib import config

    target = os.environ.get("ECOM_METRICS_FILE")
    folder = Path(target).parent if target else config.reports_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return folder / filename


def summary_markdown(
    title: str,
    headline: dict[str, str],
    tables: dict[str, pd.DataFrame] | None = None,
    findings: Sequence[str] = (),
) -> str:
    """A one-page Markdown summary: headline figures, key findings, small tables."""
    lines = [f"# {title}", "", "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in headline.items()]
    if findings:
        lines += ["", "## Key findings", ""] + [f"- {f}" for f in findings]
    for name, table in (tables or {}).items():
        lines += ["", f"## {name}", "", _plain_markdown(table)]
    return "\n".join(lines) + "\n"


def _plain_markdown(table: pd.DataFrame) -> str:
    """A Markdown table without the optional ``tabulate`` dependency."""
    frame = table.reset_index()
    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    sep = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(map(str, row)) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, sep, *body])


# ---------------------------------------------------------------- figures
def _plt():
    import matplotlib.pyplot as plt

    return plt


def plot_sales_over_time(daily: pd.DataFrame, weekly: pd.DataFrame):
    """Daily sales with a 7-day mean (top) and weekly sales (bottom), in dollars."""
    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(11, 6.5))
    ax1.plot(daily.index, daily["sales"], lw=0.7, alpha=0.5, label="daily")
    ax1.plot(daily.index, daily["sales"].rolling(7, center=True).mean(), lw=2, label="7-day mean")
    ax1.set_title("Daily sales")
    ax1.set_ylabel(f"sales ({_CURRENCY['symbol'].strip()})")
    ax1.legend(loc="upper left")
    ax2.bar(weekly.index, weekly["sales"], width=5, color="C2")
    ax2.set_title("Weekly sales (weeks starting Monday, complete weeks only)")
    ax2.set_ylabel(f"sales ({_CURRENCY['symbol'].strip()})")
    ax2.set_xlabel("date")
    for ax in (ax1, ax2):
        ax.yaxis.set_major_formatter(_dollar_formatter())
    return fig


def _dollar_formatter():
    from matplotlib.ticker import FuncFormatter

    def fmt(x, _pos):
        sym = _CURRENCY["symbol"]
        if abs(x) >= 1e6:
            return f"{sym}{x / 1e6:.1f}M"
        if abs(x) >= 1e3:
            return f"{sym}{x / 1e3:.0f}k"
        return f"{sym}{x:.0f}"

    return FuncFormatter(fmt)


def plot_weekday_hour(matrix: pd.DataFrame, what: str = "baskets"):
    """Heatmap of a weekday x hour matrix (share of all ``what``, in %)."""
    import seaborn as sns

    plt = _plt()
    share = 100 * matrix / matrix.to_numpy().sum()
    fig, ax = plt.subplots(figsize=(12, 3.8))
    sns.heatmap(share, cmap="viridis", ax=ax, cbar_kws={"label": f"% of all {what}"})
    ax.set_title(f"When households shop: % of {what} by weekday and hour")
    ax.set_xlabel("hour of day")
    ax.set_ylabel("")
    return fig


def plot_pareto(table: pd.DataFrame, top_n: int, title: str, value: str = "sales_value"):
    """Bars of the top ``top_n`` levels' sales with the cumulative share as a line."""
    plt = _plt()
    top = table.head(top_n)
    fig, ax = plt.subplots(figsize=(11, 4.8))
    labels = [str(i)[:22] for i in top.index]
    ax.bar(range(len(top)), top[value], color="C0")
    ax.set_xticks(range(len(top)), labels, rotation=60, ha="right")
    ax.set_ylabel(f"sales ({_CURRENCY['symbol'].strip()})")
    ax.yaxis.set_major_formatter(_dollar_formatter())
    ax.set_title(title)
    ax2 = ax.twinx()
    ax2.plot(range(len(top)), 100 * top["cum_share"], color="C3", marker="o")
    ax2.set_ylabel("cumulative % of all sales", color="C3")
    ax2.set_ylim(0, 100)
    ax2.grid(False)
    return fig


def plot_baskets(baskets: pd.DataFrame, clip_quantile: float = 0.99):
    """Histograms of products per basket and basket value (clipped at ``clip_quantile``)."""
    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    lines = baskets["lines"].clip(upper=baskets["lines"].quantile(clip_quantile))
    ax1.hist(lines, bins=int(lines.max()), color="C0")
    ax1.set_title("Basket size")
    ax1.set_xlabel(f"distinct products per basket (clipped at q{clip_quantile:g})")
    ax1.set_ylabel("baskets")
    value = baskets["value"].clip(upper=baskets["value"].quantile(clip_quantile))
    ax2.hist(value, bins=60, color="C1")
    ax2.set_title("Basket value")
    ax2.set_xlabel(
        f"sales per basket ({_CURRENCY['symbol'].strip()}, clipped at q{clip_quantile:g})"
    )
    ax2.set_ylabel("baskets")
    for ax, s in ((ax1, baskets["lines"]), (ax2, baskets["value"])):
        ax.axvline(s.median(), color="k", ls="--", lw=1, label=f"median {s.median():.4g}")
        ax.legend()
    return fig


def plot_segments(summary: pd.DataFrame):
    """Share of households vs share of spend per RFM segment (grouped bars, %)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(10, 4))
    x = np.arange(len(summary))
    ax.bar(x - 0.2, 100 * summary["household_share"], width=0.4, label="% of households")
    ax.bar(x + 0.2, 100 * summary["spend_share"], width=0.4, label="% of spend")
    ax.set_xticks(x, summary.index.astype(str))
    ax.set_ylabel("%")
    ax.set_title("RFM segments: who the households are vs where the money is")
    ax.legend()
    return fig


def plot_cohorts(retention: pd.DataFrame):
    """Cohort retention heatmap (% of each first-purchase cohort active k periods later)."""
    import seaborn as sns

    plt = _plt()
    table = 100 * retention.drop(columns="cohort_size")
    labels = [
        f"{c} (n={int(n)})" for c, n in zip(retention.index, retention["cohort_size"], strict=True)
    ]
    fig, ax = plt.subplots(figsize=(12, 5.5))
    sns.heatmap(
        table,
        annot=True,
        fmt=".0f",
        cmap="YlGnBu",
        vmin=0,
        vmax=100,
        ax=ax,
        yticklabels=labels,
        cbar_kws={"label": "% of cohort active"},
    )
    ax.set_title("Cohort retention: % of households active k months after their first purchase")
    ax.set_xlabel("months since first purchase")
    ax.set_ylabel("first-purchase month (cohort size)")
    return fig


def plot_demographics(tables: dict[str, pd.DataFrame]):
    """Median yearly spend by each demographic attribute, one panel each."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(tables), figsize=(4.2 * len(tables), 4), squeeze=False)
    for i, (ax, (col, t)) in enumerate(zip(axes[0], tables.items(), strict=True)):
        ax.bar(range(len(t)), t["median_spend"], color="C4")
        ax.set_xticks(range(len(t)), t.index.astype(str), rotation=60, ha="right")
        ax.set_title(f"by {col.replace('_', ' ')}")
        sym = _CURRENCY["symbol"].strip()
        ax.set_ylabel(f"median {sym} per household per year" if i == 0 else "")
        ax.yaxis.set_major_formatter(_dollar_formatter())
    fig.suptitle(
        "Demographics vs spend (median yearly spend, households with demographics only)",
        fontweight="bold",
    )
    return fig


def plot_lift(lift: pd.DataFrame):
    """Sales lift (%) per promotion state, within product-store pairs, with its interval."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 3.6))
    rev = lift.iloc[::-1]
    vals = 100 * rev["sales_lift"]
    err = None
    if {"ci_low", "ci_high"} <= set(rev.columns):
        err = np.vstack([vals - 100 * rev["ci_low"], 100 * rev["ci_high"] - vals])
    colors = [f"C{i}" for i in range(len(rev))][::-1]
    ax.barh(rev.index, vals, color=colors, xerr=err, capsize=4)
    for y, v in enumerate(vals):
        ax.text(v, y + 0.3, f" {v:+.0f}%", va="center")
    ax.set_xlabel("sales lift (%): promoted weeks vs the same product-store's other weeks")
    title = "Promotion lift (within product-store pairs)"
    ax.set_title(title + (", with 95% interval" if err is not None else ""))
    ax.set_xlim(min(0, vals.min() * 1.2), vals.max() * 1.25)
    return fig


def plot_coupons(coupons: pd.DataFrame):
    """Redemption rate per campaign, coloured by campaign type."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(11, 4))
    types = sorted(coupons["campaign_type"].unique())
    for i, t in enumerate(types):
        sub = coupons[coupons["campaign_type"] == t]
        ax.bar(sub.index, 100 * sub["redemption_rate"], color=f"C{i}", label=t)
    ax.set_xticks(coupons.index)
    ax.set_xlabel("campaign id")
    ax.set_ylabel("% of targeted households redeeming")
    ax.set_title("Coupon redemption by campaign")
    ax.legend(title="campaign type")
    return fig
