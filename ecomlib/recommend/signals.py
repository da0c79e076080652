"""Known-in-advance signals for a prediction window (Complete Journey).

The retailer plans which products go on in-store display or into the weekly mailer at each
store (``promotions``: product_id, store_id, display_location, mailer_location, week) and
which households receive which coupon campaign (``campaigns`` + ``campaign_descriptions`` +
``coupons``). Both are known before the weeks they cover, so a model predicting purchases
in a window may use the plan *for that window*.

:class:`PlannedSignals` answers, for a window ``(start, end]``:

* per product: the share of promoting stores that put it on display / in the mailer during
  the window's weeks;
* per household x product: the same, weighted by the household's store shares (its baskets
  per store *up to* ``start`` only), and whether the household holds a coupon for the
  product from a campaign running during the window.

No purchase after ``start`` and no plan for a week after the window is read (tested).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ecomlib.errors import ParameterError
from ecomlib.recommend.interactions import quiet_query

log = logging.getLogger(__name__)

__all__ = [
    "DETAIL_FEATURES",
    "PlannedSignals",
    "PurchaseDetails",
    "SIGNAL_FEATURES",
    "STORE_FEATURES",
    "StoreSales",
    "store_weighted",
    "week_of",
]

#: The Complete Journey's week 1 (what :func:`week_origin` finds in its data): weeks start
#: on Mondays at local midnight, 05:00 in the UTC timestamps; week 1 is the partial week
#: before the first Monday (2017-01-02). The default of :func:`week_of`.
WEEK_ORIGIN = pd.Timestamp("2016-12-26 05:00:00")

PROMO_FEATURES = ("p_display", "p_mailer", "h_display", "h_mailer")
COUPON_FEATURES = ("h_coupon", "p_coupon")
SIGNAL_FEATURES = PROMO_FEATURES + COUPON_FEATURES
#: per household x product: share of its lines bought on a deal, mean quantity, mean spend,
#: mean discount rate; per product: share of all its lines bought on a deal
DETAIL_FEATURES = ("deal_share", "qty", "spend", "disc", "i_deal")


def week_of(timestamps, origin: pd.Timestamp = WEEK_ORIGIN) -> np.ndarray:
    """Complete Journey week number (1-based) of each timestamp."""
    ts = pd.to_datetime(pd.Series(np.atleast_1d(timestamps)))
    days = (ts - origin).dt.total_seconds().to_numpy() / 86400.0
    return (np.floor(days / 7.0) + 1).astype(np.int64)


def week_origin(source) -> pd.Timestamp:
    """Start of week 1 of a source's ``promotions.week`` numbers, as a naive UTC timestamp:
    local midnight (the source's ``timezone``; UTC for a bare connection) of the Monday that
    :func:`ecomlib.forecast.exog.week_offset` finds from the data (the transactions' own
    ``week`` column when they have one, else the week of the first transaction)."""
    from ecomlib.forecast.exog import week_offset
    from ecomlib.recommend.interactions import connection

    with connection(source) as con:
        offset = week_offset(con)
    # week_offset = week - (Monday-starting weeks since Monday 1970-01-05)
    monday = pd.Timestamp("1970-01-05") + pd.Timedelta(weeks=1 - offset)
    tz = getattr(source, "timezone", None) or "UTC"
    return monday.tz_localize(tz).tz_convert("UTC").tz_localize(None)


class _SqlReader:
    """Queries on the DuckDB connection given, or on a fresh connection of a data source
    (:class:`ecomlib.data.Source`; None: the bundled default) closed right after each query,
    so a fitted model then holds no DuckDB buffers."""

    def __init__(self, con=None):
        self._con = con
        self._cache: dict = {}

    def _query(self, sql: str, params: list) -> pd.DataFrame:
        from ecomlib.recommend.interactions import connection

        with connection(self._con) as con:
            return quiet_query(con, sql, params)


class PlannedSignals(_SqlReader):
    """Promotion and coupon plan features for a window, read from DuckDB.

    Parameters
    ----------
    con : a DuckDB connection with the views ``transactions``, ``promotions``, ``campaigns``,
        ``campaign_descriptions`` and ``coupons`` (default :func:`ecomlib.data.connect`).
    origin : start of week 1 (see :func:`week_of`); None: found in the data
        (:func:`week_origin`, the first time it is needed).
    coupons : also read the coupon plan (off by default: on Complete Journey the campaigns
        are so broad that holding a coupon barely separates bought from not-bought products,
        and the household x product coupon matrix has ~12M entries).

    Notes
    -----
    Results are cached per window, so a ranker that fits several windows queries each once.
    The promotions table (20.9M rows) is aggregated in DuckDB; only one row per promoted
    (store, product) of the window comes back to pandas.
    """

    def __init__(self, con=None, origin: pd.Timestamp | None = None, coupons: bool = False):
        super().__init__(con)
        self.use_coupons = coupons
        self.origin = None if origin is None else pd.Timestamp(origin)

    # ------------------------------------------------------------------ queries

    def window_weeks(self, start, end) -> tuple[int, int]:
        """First and last week overlapping the window ``(start, end]``."""
        if pd.Timestamp(end) <= pd.Timestamp(start):
            raise ParameterError(f"window end {end} must be after its start {start}.")
        if self.origin is None:
            self.origin = week_origin(self._con)
        first, last = week_of([pd.Timestamp(start), pd.Timestamp(end)], self.origin)
        return int(first), int(last)

    def store_shares(self, start) -> pd.DataFrame:
        """``household_id, store_id, share``: each household's share of baskets per store,
        from transactions up to ``start`` only."""
        return self._query(
            """
            SELECT household_id, store_id,
                   COUNT(DISTINCT basket_id)::DOUBLE
                   / SUM(COUNT(DISTINCT basket_id)) OVER (PARTITION BY household_id) AS share
            FROM transactions
            WHERE transaction_timestamp <= ?
            GROUP BY household_id, store_id
            """,
            [pd.Timestamp(start).to_pydatetime()],
        )

    def promoted(self, first_week: int, last_week: int) -> pd.DataFrame:
        """``store_id, product_id, display, mailer``: share of the weeks ``first_week ..
        last_week`` in which the product is on display / in the mailer at the store."""
        n_weeks = float(last_week - first_week + 1)
        return self._query(
            """
            SELECT store_id, product_id,
                   SUM(CASE WHEN display_location <> '0' THEN 1 ELSE 0 END) / ? AS display,
                   SUM(CASE WHEN mailer_location <> '0' THEN 1 ELSE 0 END) / ? AS mailer
            FROM promotions
            WHERE week BETWEEN ? AND ?
              AND (display_location <> '0' OR mailer_location <> '0')
            GROUP BY store_id, product_id
            """,
            [n_weeks, n_weeks, int(first_week), int(last_week)],
        )

    def coupons(self, start, end) -> pd.DataFrame:
        """``household_id, product_id``: coupons of campaigns running during the window
        (campaign start <= window end and campaign end > window start)."""
        return self._query(
            """
            SELECT DISTINCT c.household_id, k.product_id
            FROM campaigns c
            JOIN campaign_descriptions d USING (campaign_id)
            JOIN coupons k USING (campaign_id)
            WHERE d.start_date <= ? AND d.end_date > ?
            """,
            [pd.Timestamp(end).to_pydatetime(), pd.Timestamp(start).to_pydatetime()],
        )

    # ------------------------------------------------------------------ features
    @property
    def feature_names(self) -> tuple[str, ...]:
        """The features :meth:`pair_values` returns."""
        return SIGNAL_FEATURES if self.use_coupons else PROMO_FEATURES

    def window(self, start, end, user_ids, item_ids) -> dict:
        """Signal arrays for the window ``(start, end]``, indexed like ``user_ids`` /
        ``item_ids``.

        Returns
        -------
        dict with ``p_display``, ``p_mailer``, ``p_coupon`` (per item, float32 arrays),
        ``h_store`` (users x stores CSR of basket shares up to ``start``), ``s_display``,
        ``s_mailer`` (stores x items CSR of promoted-week shares) and ``h_coupon`` (users x
        items CSR, 1 = coupon held). Use :meth:`pair_values` to read pairs.
        """
        key = (pd.Timestamp(start), pd.Timestamp(end), len(user_ids), len(item_ids))
        if key in self._cache:
            return self._cache[key]
        users, items = pd.Index(np.asarray(user_ids)), pd.Index(np.asarray(item_ids))
        first, last = self.window_weeks(start, end)
        promo = self.promoted(first, last)
        shares = self.store_shares(start)
        stores = pd.Index(np.union1d(promo["store_id"].unique(), shares["store_id"].unique()))
        n_promo_stores = max(1, promo["store_id"].nunique())
        out = {}
        pi = items.get_indexer(promo["product_id"])
        ps = stores.get_indexer(promo["store_id"])
        ok = pi >= 0
        for col in ("display", "mailer"):
            vals = promo[col].to_numpy(np.float32)[ok]
            out[f"p_{col}"] = (
                np.bincount(pi[ok], weights=vals, minlength=len(items)) / n_promo_stores
            ).astype(np.float32)
            out[f"s_{col}"] = sp.csr_matrix(
                (vals, (ps[ok], pi[ok])), shape=(len(stores), len(items))
            )
        out["h_store"] = _store_shares(shares, users, stores)
        cp = (
            self.coupons(start, end)
            if self.use_coupons
            else pd.DataFrame({"household_id": [], "product_id": []})
        )
        cu, ci = users.get_indexer(cp["household_id"]), items.get_indexer(cp["product_id"])
        ok = (cu >= 0) & (ci >= 0)
        out["h_coupon"] = sp.csr_matrix(
            (np.ones(ok.sum(), np.float32), (cu[ok], ci[ok])), shape=(len(users), len(items))
        )
        out["h_coupon"].sum_duplicates()
        out["p_coupon"] = np.bincount(ci[ci >= 0], minlength=len(items)).astype(np.float32)
        log.info(
            "planned signals weeks %d-%d: %d promoted store x product, %d coupon pairs",
            first,
            last,
            len(promo),
            int(ok.sum()),
        )
        self._cache = {key: out}  # keep one window: they are large
        return out

    @staticmethod
    def pair_values(signals: dict, users: np.ndarray, items: np.ndarray) -> dict:
        """Feature columns (:data:`SIGNAL_FEATURES`) for (user index, item index) pairs:
        ``h_display`` = sum over the user's stores of share x display-week share."""
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        out = {name: signals[name][items] for name in ("p_display", "p_mailer", "p_coupon")}
        for col in ("display", "mailer"):
            out[f"h_{col}"] = store_weighted(signals["h_store"], signals[f"s_{col}"], users, items)
        out["h_coupon"] = np.asarray(signals["h_coupon"][users, items]).ravel().astype(np.float32)
        return out


class PurchaseDetails(_SqlReader):
    """How each household buys each product, from the basket lines (``transactions``) up to
    a cut time: the share of its lines bought with a retailer or coupon discount, the mean
    quantity and spend per line and the mean discount rate; per product, the share of all its
    lines bought on a deal. A household that buys a product only on a deal re-buys it when
    it is promoted, which the ranker can read next to the promotion plan.

    Parameters
    ----------
    con : DuckDB connection with a ``transactions`` view (``household_id, product_id,
        transaction_timestamp, quantity, sales_value, retail_disc, coupon_disc``); default
        :func:`ecomlib.data.connect`.

    Only lines with ``transaction_timestamp <= end`` are read (tested); the last result is
    cached.
    """

    feature_names = DETAIL_FEATURES

    def lines(self, end) -> pd.DataFrame:
        """``household_id, product_id`` and the :data:`DETAIL_FEATURES` (except ``i_deal``)
        aggregated over the lines up to ``end``; ``i_deal`` per product in a second frame."""
        pairs = self._query(
            """
            SELECT household_id, product_id,
                   AVG(CASE WHEN retail_disc <> 0 OR coupon_disc <> 0 THEN 1.0 ELSE 0.0 END)
                       AS deal_share,
                   AVG(quantity::DOUBLE) AS qty,
                   AVG(sales_value) AS spend,
                   AVG((ABS(retail_disc) + ABS(coupon_disc))
                       / GREATEST(sales_value + ABS(retail_disc) + ABS(coupon_disc), 0.01))
                       AS disc,
                   COUNT(*) AS n_lines
            FROM transactions
            WHERE transaction_timestamp <= ?
            GROUP BY household_id, product_id
            """,
            [pd.Timestamp(end).to_pydatetime()],
        )
        return pairs

    def stats(self, end, user_ids, item_ids) -> dict:
        """Features for the lines up to ``end``, indexed like ``user_ids`` / ``item_ids``.

        Returns
        -------
        dict with ``pairs`` (DataFrame ``u, i, deal_share, qty, spend, disc`` with user and
        item *indices*) and ``i_deal`` (float32 array per item; NaN = no line yet).
        """
        key = (pd.Timestamp(end), len(user_ids), len(item_ids))
        if key in self._cache:
            return self._cache[key]
        lines = self.lines(end)
        users, items = pd.Index(np.asarray(user_ids)), pd.Index(np.asarray(item_ids))
        u = users.get_indexer(lines["household_id"])
        i = items.get_indexer(lines["product_id"])
        ok = (u >= 0) & (i >= 0)
        pairs = pd.DataFrame({"u": u[ok].astype(np.int32), "i": i[ok].astype(np.int32)})
        for col in ("deal_share", "qty", "spend", "disc"):
            pairs[col] = lines[col].to_numpy(np.float32)[ok]
        n = lines["n_lines"].to_numpy(np.float64)
        deals = np.bincount(
            i[i >= 0], weights=(lines["deal_share"].to_numpy() * n)[i >= 0], minlength=len(items)
        )
        counts = np.bincount(i[i >= 0], weights=n[i >= 0], minlength=len(items))
        with np.errstate(invalid="ignore", divide="ignore"):
            i_deal = np.where(counts > 0, deals / counts, np.nan).astype(np.float32)
        out = {"pairs": pairs, "i_deal": i_deal}
        self._cache = {key: out}
        return out


#: per household x product: store-weighted share of the households shopping at its stores
#: in the last ``recent_days`` who bought the product there, and store-weighted availability
#: (1 when the product sold at the store in those days)
STORE_FEATURES = ("h_pen", "h_avail")


def store_weighted(h_store: sp.csr_matrix, per_store: sp.csr_matrix, users, items) -> np.ndarray:
    """``sum_s h_store[u, s] * per_store[s, i]`` for each (user index, item index) pair,
    without forming the users x items product."""
    users = np.asarray(users, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    counts = np.diff(h_store.indptr)[users]
    pair = np.repeat(np.arange(len(users)), counts)
    starts = np.repeat(h_store.indptr[users], counts)
    offset = np.arange(len(pair)) - np.repeat(np.cumsum(counts) - counts, counts)
    pos = starts + offset
    store, share = h_store.indices[pos], h_store.data[pos]
    vals = np.asarray(per_store[store, items[pair]]).ravel() * share
    return np.bincount(pair, weights=vals, minlength=len(users)).astype(np.float32)


class StoreSales(_SqlReader):
    """What sold recently at each household's stores, from the basket lines up to a cut.

    A product that has not sold at the stores a household uses is unlikely to be its next
    first purchase; one many of the store's shoppers picked up lately is likely. For a cut
    ``end``: each household's share of baskets per store (lines up to ``end``) and, per
    store x product, the share of the store's shoppers of the last ``recent_days`` days who
    bought the product there. Nothing after ``end`` is read (tested).

    Parameters
    ----------
    con : DuckDB connection with a ``transactions`` view (``household_id, store_id,
        basket_id, product_id, transaction_timestamp``); default :func:`ecomlib.data.connect`.
    recent_days : length of the "recently sold" period before each cut.
    """

    feature_names = STORE_FEATURES

    def __init__(self, con=None, recent_days: float = 28):
        super().__init__(con)
        if recent_days <= 0:
            raise ParameterError(f"recent_days must be > 0, got {recent_days!r}.")
        self.recent_days = recent_days

    def store_products(self, end) -> pd.DataFrame:
        """``store_id, product_id, pen``: share of the store's shoppers in ``(end -
        recent_days, end]`` who bought the product there."""
        end = pd.Timestamp(end)
        start = end - pd.Timedelta(days=self.recent_days)
        return self._query(
            """
            WITH recent AS (
                SELECT household_id, store_id, product_id FROM transactions
                WHERE transaction_timestamp > ? AND transaction_timestamp <= ?
            ), shoppers AS (
                SELECT store_id, COUNT(DISTINCT household_id)::DOUBLE AS n FROM recent
                GROUP BY store_id
            )
            SELECT r.store_id, r.product_id, COUNT(DISTINCT r.household_id) / s.n AS pen
            FROM recent r JOIN shoppers s USING (store_id)
            GROUP BY r.store_id, r.product_id, s.n
            """,
            [start.to_pydatetime(), end.to_pydatetime()],
        )

    def stats(self, end, user_ids, item_ids) -> dict:
        """``h_store`` (users x stores CSR of basket shares up to ``end``) and ``s_pen``,
        ``s_avail`` (stores x items CSR) indexed like ``user_ids`` / ``item_ids``; read
        pairs with :meth:`pair_values`. The last result is cached."""
        key = (pd.Timestamp(end), len(user_ids), len(item_ids))
        if key in self._cache:
            return self._cache[key]
        sold = self.store_products(end)
        shares = PlannedSignals(self._con).store_shares(end)
        users, items = pd.Index(np.asarray(user_ids)), pd.Index(np.asarray(item_ids))
        stores = pd.Index(np.union1d(sold["store_id"].unique(), shares["store_id"].unique()))
        si, ss = items.get_indexer(sold["product_id"]), stores.get_indexer(sold["store_id"])
        ok = si >= 0
        shape = (len(stores), len(items))
        pen = sold["pen"].to_numpy(np.float32)[ok]
        out = {
            "s_pen": sp.csr_matrix((pen, (ss[ok], si[ok])), shape=shape),
            "s_avail": sp.csr_matrix((np.ones_like(pen), (ss[ok], si[ok])), shape=shape),
        }
        out["h_store"] = _store_shares(shares, users, stores)
        self._cache = {key: out}
        return out

    @staticmethod
    def pair_values(stats: dict, users, items) -> dict:
        """:data:`STORE_FEATURES` for (user index, item index) pairs."""
        return {
            "h_pen": store_weighted(stats["h_store"], stats["s_pen"], users, items),
            "h_avail": store_weighted(stats["h_store"], stats["s_avail"], users, items),
        }

    @staticmethod
    def user_scores(stats: dict, users) -> np.ndarray:
        """Dense users x items store-weighted penetration (``h_pen`` of every item) for the
        user indices given: a candidate list of what the household's stores sell."""
        return (stats["h_store"][np.asarray(users)] @ stats["s_pen"]).toarray()


def _store_shares(shares: pd.DataFrame, users: pd.Index, stores: pd.Index) -> sp.csr_matrix:
    """Users x stores matrix of each household's share of baskets per store
    (``shares``: household_id, store_id, share; unknown households are left out)."""
    su = users.get_indexer(shares["household_id"])
    keep = su >= 0
    return sp.csr_matrix(
        (
            shares["share"].to_numpy(np.float32)[keep],
            (su[keep], stores.get_indexer(shares["store_id"])[keep]),
        ),
        shape=(len(users), len(stores)),
    )
