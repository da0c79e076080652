"""Categories (Pareto tables) and baskets."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecomlib.eda._common import _frame, _lit
from ecomlib.eda.lines import Lines, _q
from ecomlib.errors import DataError


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
