"""Households: RFM scores and segments, cohorts, demographics."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ecomlib.eda._common import _frame, _require
from ecomlib.eda.lines import Lines
from ecomlib.eda.periods import _complete_sql, _period_sql
from ecomlib.errors import DataError

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
