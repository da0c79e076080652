"""Known-in-advance exogenous features: the retailer's promotion plan per series and day.

The Complete Journey ``promotions`` table (product x store x week, 20.9M rows) says which
products are on in-store display and in the weekly mailer; ``campaign_descriptions`` and
``coupons`` say which campaigns run on which days and which products they carry coupons for.
All of it is the retailer's plan, fixed before the week it describes, so a forecaster may use
the values *at the target date* (see :class:`ecomlib.forecast.LightGBMForecaster`'s ``exog``).

:func:`promotion_features` aggregates them through DuckDB (the 20.9M rows never reach pandas)
into a long frame ``unique_id, ds, <feature>...`` with one row per series and day:

* ``display_share`` / ``mailer_share``: share of the series' products on display / in the
  mailer (in any store) during the day's week;
* ``display_depth`` / ``mailer_depth``: (product, store) promotion rows per product of the
  series that week (how widely the promotion runs);
* ``campaigns_active``: campaigns running that day (the same for every series);
* ``coupon_share``: products of the series carried by a coupon of a running campaign, per
  product of the series (summed over campaigns);
* with ``weights_end``: ``display_sales_share`` / ``mailer_sales_share``, the share of the
  series' sales (summed over the days up to ``weights_end``) made by the products on display /
  in the mailer that week. Choose ``weights_end`` at or before the first forecast origin so the
  weights use no sales after any origin.

Dates are mapped to the promotion ``week`` exactly as the transactions are:
:func:`week_offset` reads, from the transactions, the offset between the table's ``week`` and
the count of Monday-starting weeks since 1970-01-05 (the most common value over all dates), so
dates without transactions (Christmas Day, the future) get a week too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ecomlib.data.engines import quiet
from ecomlib.errors import DataError, ParameterError
from ecomlib.forecast.series import _ident, group_column

log = logging.getLogger(__name__)

EXOG_COLUMNS = (
    "display_share",
    "mailer_share",
    "display_depth",
    "mailer_depth",
    "campaigns_active",
    "coupon_share",
)
WEIGHTED_COLUMNS = ("display_sales_share", "mailer_sales_share")
_MONDAY = np.datetime64("1970-01-05", "D")


def monday_weeks(ds) -> np.ndarray:
    """Count of Monday-starting weeks since 1970-01-05 of each date."""
    d = pd.DatetimeIndex(pd.to_datetime(pd.Series(ds)).to_numpy()).to_numpy()
    return (d.astype("datetime64[D]") - _MONDAY).astype(np.int64) // 7


def tables(con) -> set[str]:
    """Names of the tables and views of ``con``."""
    return {
        r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }


def _columns(con, table: str) -> list[str]:
    return [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]


def week_offset(con) -> int:
    """``week - monday_weeks(date)`` of the promotion weeks.

    Read from the transactions' own ``week`` column when they have one (its most common value
    over all dates); otherwise week 1 is the Monday-starting week of the first transaction.
    """
    if "week" not in _columns(con, "transactions"):
        first = con.execute("SELECT min(CAST(transaction_timestamp AS DATE)) FROM transactions")
        d = first.fetchall()[0][0]
        if d is None:
            raise DataError("transactions is empty: cannot map dates to promotion weeks.")
        return int(1 - monday_weeks([pd.Timestamp(d)])[0])
    rows = con.execute(
        "SELECT CAST(transaction_timestamp AS DATE) AS d, week, count(*) AS n "
        "FROM transactions GROUP BY 1, 2"
    ).df()
    if rows.empty:
        raise DataError("transactions is empty: cannot map dates to promotion weeks.")
    off = rows["week"].to_numpy() - monday_weeks(rows["d"])
    votes = pd.Series(rows["n"].to_numpy()).groupby(off).sum()
    return int(votes.idxmax())


def promotion_features(
    con=None,
    level: str = "category",
    ids: Sequence[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    weights_end: str | None = None,
) -> pd.DataFrame:
    """Daily promotion-plan features per series, built in DuckDB.

    Parameters
    ----------
    con : DuckDB connection with the views ``transactions``, ``products`` and ``promotions``;
        ``campaign_descriptions`` and ``coupons`` are optional (without them
        ``campaigns_active`` and ``coupon_share`` are 0). Default :func:`ecomlib.data.connect`.
    level : "total", "department", "category" or a ``products`` column, as in
        :func:`build_series`.
    ids : keep only these series (default: all).
    start, end : first and last day (inclusive; None: the first / last day with a
        transaction, in UTC). Days in weeks outside the promotion table's
        weeks get NaN promotion columns (the plan is unknown there), which LightGBM treats
        as missing.
    weights_end : last day whose sales weight the products for the ``*_sales_share`` columns
        (None: no such columns).

    Returns
    -------
    DataFrame ``unique_id`` (str), ``ds`` (datetime64), then :data:`EXOG_COLUMNS` (and
    :data:`WEIGHTED_COLUMNS` with ``weights_end``) as float32, sorted by ``unique_id, ds``.
    """
    if con is None:
        from ecomlib.data import connect

        con = connect()
    with quiet(con):
        if start is None or end is None:
            day = "CAST(transaction_timestamp AS DATE)"
            lo, hi = con.execute(f"SELECT min({day}), max({day}) FROM transactions").fetchall()[0]
            start, end = start or str(lo), end or str(hi)
        start_ts, end_ts = pd.Timestamp(start), pd.Timestamp(end)
        if end_ts < start_ts:
            raise ParameterError(f"end ({end}) must not be before start ({start}).")
        return _promotion_features(con, level, ids, start_ts, end_ts, weights_end)


def _promotion_features(con, level, ids, start_ts, end_ts, weights_end) -> pd.DataFrame:
    have = tables(con)
    if "promotions" not in have:
        raise DataError(
            "the data source has no promotions table: forecast without the promotion plan "
            "(models without '+promo')."
        )
    col = group_column(level, con)
    key = f"CAST({_ident(col)} AS VARCHAR)" if col else "'TOTAL'"
    where = f"WHERE {_ident(col)} IS NOT NULL" if col else ""
    cat = f"SELECT product_id, {key} AS unique_id FROM products {where}"
    n_prod = con.execute(f"SELECT unique_id, count(*) AS n FROM ({cat}) GROUP BY 1").df()
    weekly = con.execute(
        f"""
        SELECT c.unique_id, pr.week,
               count(DISTINCT CASE WHEN pr.display_location <> '0' THEN pr.product_id END)
                   AS display_products,
               count(DISTINCT CASE WHEN pr.mailer_location <> '0' THEN pr.product_id END)
                   AS mailer_products,
               sum(CAST(pr.display_location <> '0' AS INTEGER)) AS display_rows,
               sum(CAST(pr.mailer_location <> '0' AS INTEGER)) AS mailer_rows
        FROM promotions pr JOIN ({cat}) c USING (product_id)
        GROUP BY 1, 2
        """
    ).df()
    if {"campaign_descriptions", "coupons"} <= have:
        campaigns = con.execute(
            "SELECT campaign_id, CAST(start_date AS DATE) AS s, CAST(end_date AS DATE) AS e "
            "FROM campaign_descriptions"
        ).df()
        coupons = con.execute(
            f"""
            SELECT cp.campaign_id, c.unique_id, count(DISTINCT cp.product_id) AS coupon_products
            FROM coupons cp JOIN ({cat}) c USING (product_id)
            GROUP BY 1, 2
            """
        ).df()
    else:  # no campaign calendar: no running campaigns, no coupons
        campaigns = pd.DataFrame({"campaign_id": [], "s": [], "e": []})
        coupons = pd.DataFrame({"campaign_id": [], "unique_id": [], "coupon_products": []})
    offset = week_offset(con)
    if weights_end is not None:
        wend = pd.Timestamp(weights_end).date()
        sales_w = con.execute(
            f"""
            WITH w AS (
                SELECT product_id, sum(sales_value) AS w FROM transactions
                WHERE CAST(transaction_timestamp AS DATE) <= DATE '{wend}' GROUP BY 1),
            cw AS (SELECT c.unique_id, c.product_id, w.w FROM ({cat}) c JOIN w USING (product_id)),
            pw AS (
                SELECT product_id, week, max(display_location <> '0') AS d,
                       max(mailer_location <> '0') AS m
                FROM promotions WHERE product_id IN (SELECT product_id FROM cw) GROUP BY 1, 2)
            SELECT cw.unique_id, pw.week,
                   sum(CASE WHEN pw.d THEN cw.w ELSE 0 END) AS display_w,
                   sum(CASE WHEN pw.m THEN cw.w ELSE 0 END) AS mailer_w
            FROM pw JOIN cw USING (product_id) GROUP BY 1, 2
            """
        ).df()
        totals = con.execute(
            f"""
            SELECT c.unique_id, sum(t.sales_value) AS total_w
            FROM transactions t JOIN ({cat}) c USING (product_id)
            WHERE CAST(t.transaction_timestamp AS DATE) <= DATE '{wend}' GROUP BY 1
            """
        ).df()
        sales_w = sales_w.merge(totals, on="unique_id")
        sales_w["unique_id"] = sales_w["unique_id"].astype(str)
        sales_w["display_sales_share"] = sales_w["display_w"] / sales_w["total_w"]
        sales_w["mailer_sales_share"] = sales_w["mailer_w"] / sales_w["total_w"]
        weekly = weekly.assign(unique_id=weekly["unique_id"].astype(str)).merge(
            sales_w[["unique_id", "week", *WEIGHTED_COLUMNS]], on=["unique_id", "week"], how="left"
        )

    n_prod["unique_id"] = n_prod["unique_id"].astype(str)
    if ids is not None:
        keep = [str(i) for i in ids]
        missing = sorted(set(keep) - set(n_prod["unique_id"]))
        if missing:
            raise DataError(f"series without products at level {level!r}: {missing[:5]}")
        n_prod = n_prod[n_prod["unique_id"].isin(keep)]
    days = pd.date_range(start_ts, end_ts, freq="D")
    grid = pd.DataFrame(
        {
            "unique_id": np.repeat(n_prod["unique_id"].to_numpy(), len(days)),
            "ds": np.tile(days, len(n_prod)),
            "n": np.repeat(n_prod["n"].to_numpy(float), len(days)),
        }
    )
    grid["week"] = monday_weeks(grid["ds"]) + offset
    weekly["unique_id"] = weekly["unique_id"].astype(str)
    grid = grid.merge(weekly, on=["unique_id", "week"], how="left")
    # weeks inside the plan without a row for a series have no promotion (0); weeks beyond the
    # plan are unknown (NaN)
    lo, hi = con.execute("SELECT min(week), max(week) FROM promotions").fetchall()[0]
    planned = (grid["week"] >= lo) & (grid["week"] <= hi) if lo is not None else False
    for c in ("display_products", "mailer_products", "display_rows", "mailer_rows"):
        grid[c] = grid[c].fillna(0.0).astype(float).where(planned)

    # campaigns running on each day, and coupon products of the running campaigns per series
    d = days.to_numpy().astype("datetime64[D]")
    s = pd.to_datetime(campaigns["s"]).to_numpy().astype("datetime64[D]")
    e = pd.to_datetime(campaigns["e"]).to_numpy().astype("datetime64[D]")
    active = (d[:, None] >= s[None, :]) & (d[:, None] <= e[None, :])  # days x campaigns
    day_campaigns = pd.Series(active.sum(1).astype(float), index=days)
    coupons["unique_id"] = coupons["unique_id"].astype(str)
    if len(coupons):
        cp = coupons.pivot_table(
            index="campaign_id", columns="unique_id", values="coupon_products", aggfunc="sum"
        ).reindex(index=campaigns["campaign_id"].to_numpy(), fill_value=0)
        cp = cp.fillna(0.0)
        per_day = pd.DataFrame(
            active.astype(float) @ cp.to_numpy(float), index=days, columns=cp.columns
        )
        coupon_long = per_day.stack().rename("coupon_products").reset_index()
        coupon_long.columns = ["ds", "unique_id", "coupon_products"]
    else:
        coupon_long = pd.DataFrame(
            {
                "ds": pd.DatetimeIndex([]),
                "unique_id": pd.Series([], dtype=str),
                "coupon_products": pd.Series([], dtype=float),
            }
        )
    grid = grid.merge(coupon_long, on=["unique_id", "ds"], how="left")

    out = pd.DataFrame({"unique_id": grid["unique_id"].astype(str), "ds": grid["ds"]})
    out["display_share"] = grid["display_products"] / grid["n"]
    out["mailer_share"] = grid["mailer_products"] / grid["n"]
    out["display_depth"] = grid["display_rows"] / grid["n"]
    out["mailer_depth"] = grid["mailer_rows"] / grid["n"]
    out["campaigns_active"] = grid["ds"].map(day_campaigns).to_numpy()
    out["coupon_share"] = grid["coupon_products"].fillna(0.0) / grid["n"]
    cols = list(EXOG_COLUMNS)
    if weights_end is not None:
        for c in WEIGHTED_COLUMNS:
            out[c] = grid[c].fillna(0.0).where(planned).to_numpy()
        cols += list(WEIGHTED_COLUMNS)
    out[cols] = out[cols].astype(np.float32)
    return out.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)


def split_exog(exog: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Validate a long exogenous frame and split it into one date-indexed frame per series.

    ``exog`` has ``unique_id``, ``ds`` and numeric feature columns; (unique_id, ds) must be
    unique. Returns ``{unique_id: frame indexed by ds}`` (float32 columns, sorted by date).
    """
    if not isinstance(exog, pd.DataFrame) or not {"unique_id", "ds"} <= set(exog.columns):
        raise ParameterError("exog must be a DataFrame with columns unique_id, ds, <features>.")
    feats = [c for c in exog.columns if c not in ("unique_id", "ds")]
    if not feats:
        raise ParameterError("exog has no feature columns besides unique_id and ds.")
    bad = [c for c in feats if not pd.api.types.is_numeric_dtype(exog[c])]
    if bad:
        raise ParameterError(f"exog feature columns must be numeric: {bad}")
    frame = exog.assign(unique_id=exog["unique_id"].astype(str), ds=pd.to_datetime(exog["ds"]))
    dup = frame.duplicated(["unique_id", "ds"])
    if dup.any():
        raise ParameterError(
            f"exog has {int(dup.sum())} duplicate (unique_id, ds) rows, e.g.\n"
            + frame.loc[dup, ["unique_id", "ds"]].head(3).to_string()
        )
    return {
        str(uid): g.set_index("ds")[feats].sort_index().astype(np.float32)
        for uid, g in frame.groupby("unique_id", sort=True)
    }
