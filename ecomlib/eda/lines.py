"""The order lines, cleaned, as views on the query engine (:func:`clean_lines`), and household samples."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from ecomlib.eda._common import FUEL_PATTERN, _columns, _frame, _lit
from ecomlib.eda.promotions import _check_views, _has_view
from ecomlib.errors import DataError

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
