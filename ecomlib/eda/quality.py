"""Data quality: table overview, line statistics, the quality report, the largest lines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from ecomlib.eda._common import _frame, _lit
from ecomlib.eda.lines import Lines, _q
from ecomlib.errors import DataError


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
