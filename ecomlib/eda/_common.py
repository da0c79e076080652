"""Shared helpers of the EDA: display formatting (currency, readable numbers) and small SQL helpers."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import numpy as np
import pandas as pd

from ecomlib.errors import DataError

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
