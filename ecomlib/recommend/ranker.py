"""Next-basket models for repeat-heavy purchase data (protocol R2).

* :class:`TIFUKNN` - Hu et al., SIGIR 2020, "Modeling Personalized Item Frequency
  Information for Next-basket Recommendation": a time-decayed personal item-frequency vector
  (decay inside groups of ``group_size`` consecutive baskets and across groups) blended with
  the mean vector of the user's nearest neighbours.
* :class:`NextBasketRanker` - a two-part learned ranker. Candidates are the user's own items
  (re-buys) and items the user never bought (EASE, TIFU-KNN neighbours and recent
  popularity); two LightGBM classifiers estimate the probability that each candidate is
  bought in the next ``window_days`` days. Its training examples come from windows carved
  from the *end of the training interactions* (features from before a cut, labels from the
  ``window_days`` after it), so ``fit`` never sees anything after the training data.

Both keep user x item data sparse; only one batch of users is scored densely at a time.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from ecomlib._validate import check_param
from ecomlib.errors import DataError, ParameterError
from ecomlib.recommend.interactions import Interactions
from ecomlib.recommend.models import EASE, Recommender, _matrix
from ecomlib.recommend.signals import PlannedSignals, PurchaseDetails, StoreSales

log = logging.getLogger(__name__)

__all__ = [
    "NextBasketRanker",
    "TIFUKNN",
    "basket_order",
    "embedding_similarity",
]

DAY = 86400.0


def _require_time(inter: Interactions, who: str) -> pd.Series:
    if "timestamp" not in inter.frame:
        raise DataError(f"{who} needs a 'timestamp' column in the interactions.")
    return pd.to_datetime(inter.frame["timestamp"])


def basket_order(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (user, basket): ``user_idx, basket, timestamp, pos`` where ``pos`` counts
    baskets back from the user's latest (0 = latest). Baskets are ``basket_id`` when present,
    otherwise distinct timestamps."""
    key = frame["basket_id"] if "basket_id" in frame else frame["timestamp"]
    b = pd.DataFrame(
        {
            "user_idx": frame["user_idx"].to_numpy(),
            "basket": key.to_numpy(),
            "timestamp": pd.to_datetime(frame["timestamp"]).to_numpy(),
        }
    )
    first = b.groupby(["user_idx", "basket"], sort=False)["timestamp"].min().reset_index()
    first = first.sort_values(["user_idx", "timestamp", "basket"], kind="stable")
    first["pos"] = first.groupby("user_idx").cumcount(ascending=False).to_numpy()
    first["n_baskets"] = first.groupby("user_idx")["basket"].transform("size").to_numpy()
    return first.reset_index(drop=True)


def _tifu_weights(frame: pd.DataFrame, group_size: int, within: float, across: float):
    """Per-row TIFU weight of each interaction row of ``frame`` (see :class:`TIFUKNN`)."""
    order = basket_order(frame)
    pos = order["pos"].to_numpy()
    n_groups = np.ceil(order["n_baskets"].to_numpy() / group_size)
    order["w"] = (
        np.power(within, pos % group_size)
        * np.power(across, pos // group_size)
        / (group_size * n_groups)
    )
    key = frame["basket_id"] if "basket_id" in frame else frame["timestamp"]
    rows = pd.DataFrame({"user_idx": frame["user_idx"].to_numpy(), "basket": key.to_numpy()})
    return rows.merge(order[["user_idx", "basket", "w"]], on=["user_idx", "basket"], how="left")[
        "w"
    ].to_numpy()


def _neighbour_matrix(profiles: sp.csr_matrix, k: int, block: int = 2048) -> sp.csr_matrix:
    """Row-stochastic users x users matrix: 1/k for each of a user's k most cosine-similar
    other users (computed one block of users at a time)."""
    n = profiles.shape[0]
    k = max(1, min(int(k), n - 1))
    norms = np.sqrt(np.asarray(profiles.multiply(profiles).sum(axis=1)).ravel())
    unit = (sp.diags(1.0 / np.maximum(norms, 1e-12)) @ profiles).tocsr().astype(np.float32)
    rows, cols = [], []
    for start in range(0, n, block):
        idx = np.arange(start, min(n, start + block))
        sim = (unit[idx] @ unit.T).toarray()
        sim[np.arange(len(idx)), idx] = -np.inf
        top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        rows.append(np.repeat(idx, k))
        cols.append(top.ravel())
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    return sp.csr_matrix((np.full(len(rows), 1.0 / k, np.float32), (rows, cols)), shape=(n, n))


class TIFUKNN(Recommender):
    """TIFU-KNN (Hu et al. 2020).

    The user's vector is a decayed item frequency: baskets (newest first) fall into groups of
    ``group_size``; a basket at position q inside its group and group number g (0 = newest)
    counts ``within ** q * across ** g``, divided by ``group_size * n_groups``. The score is
    ``alpha * own + (1 - alpha) * mean(neighbour vectors)`` over the ``neighbours`` most
    cosine-similar users.
    """

    name = "tifu_knn"

    def __init__(
        self,
        group_size: int = 7,
        within_decay: float = 1.0,
        group_decay: float = 0.8,
        neighbours: int = 300,
        alpha: float = 0.9,
    ):
        self.group_size = group_size
        self.within_decay = within_decay
        self.group_decay = group_decay
        self.neighbours = neighbours
        self.alpha = alpha

    def _validate_params(self) -> None:
        check_param("group_size", self.group_size, lambda v: v >= 1, "an integer >= 1", self)
        check_param("neighbours", self.neighbours, lambda v: v >= 1, "an integer >= 1", self)
        check_param("alpha", self.alpha, lambda v: 0.0 <= v <= 1.0, "a number in [0, 1]", self)

    def _fit(self, inter: Interactions) -> None:
        _require_time(inter, "TIFUKNN")
        w = _tifu_weights(inter.frame, self.group_size, self.within_decay, self.group_decay)
        self.own_ = _matrix(inter, w).tocsr()
        self.neighbours_ = _neighbour_matrix(self.own_, self.neighbours)

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        own = self.own_[user_idx].toarray()
        if self.alpha >= 1.0:
            return own
        nbr = (self.neighbours_[user_idx] @ self.own_).toarray()
        return self.alpha * own + (1.0 - self.alpha) * nbr


# ---------------------------------------------------------------------- learned ranker
UI_FEATURES = (
    "n",
    "n28",
    "age_last",
    "age_first",
    "s14",
    "s60",
    "s180",
    "share",
    "interval",
    "overdue",
    "own_rank",
    "expected",
    "s60_norm",
)
USER_FEATURES = ("u_baskets", "u_baskets28", "u_age_last", "u_tenure", "u_items", "u_gap")
ITEM_FEATURES = (
    "i_users",
    "i_rows",
    "i_users28",
    "i_users7",
    "i_age_first",
    "i_repeat",
    "i_per_buyer",
    "i_trend",
)
PAIR_FEATURES = ("ease", "ease_rank", "nbr", "nbr_rank", "pop_rank")
DEAL_PROMO = ("promo_x_deal",)  # planned promotion at the user's stores x its deal share
GROUP_FEATURES = (
    "g_n",
    "g_s60",
    "g_age_last",
    "g_items",
    "g_share",
    "g_item_share",
    "g_affinity",
    "g_rank",
    "g_item_rank",
)
#: repurchase cycle: the item's median gap between a household's purchases of it (over its
#: re-buyers) and the days since the household last bought it over that gap
CYCLE_FEATURES = ("i_gap", "overdue_i")
#: text-embedding similarity: the candidate's cosine to the user's decayed embedding profile
#: and its highest cosine to the other items the user bought in the last ``embedding_days``
EMBEDDING_FEATURES = ("emb_profile", "emb_recent")


def item_vectors(item_ids, vectors, catalogue_ids) -> np.ndarray:
    """Unit-length float32 vectors aligned with ``catalogue_ids`` (e.g. a model's item index);
    rows of catalogue items without a vector are zero.

    Parameters
    ----------
    item_ids : IDs of the items that have a vector (unique), aligned with ``vectors``.
    vectors : (n, dim) array, e.g. MiniLM vectors of the product texts.
    catalogue_ids : the item IDs to align to.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    item_ids = np.asarray(item_ids)
    if vectors.ndim != 2 or len(item_ids) != len(vectors) or vectors.shape[1] < 1:
        raise ParameterError(
            "embeddings must be (item_ids, vectors) with one row of vectors per item ID, got "
            f"{len(item_ids)} IDs and vectors of shape {vectors.shape}."
        )
    if not np.isfinite(vectors).all():
        raise DataError("embeddings: the vectors hold NaN or infinite values.")
    index = pd.Index(item_ids)
    if not index.is_unique:
        raise ParameterError("embeddings: the item IDs must be unique.")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = np.where(norms > 0, vectors / np.maximum(norms, 1e-12), 0.0).astype(np.float32)
    pos = index.get_indexer(np.asarray(catalogue_ids))
    out = np.zeros((len(pos), vectors.shape[1]), np.float32)
    out[pos >= 0] = unit[pos[pos >= 0]]
    return out


def embedding_similarity(
    vectors: np.ndarray,
    profile: np.ndarray,
    recent: sp.csr_matrix,
    users: np.ndarray,
    rows: np.ndarray,
    items: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Cosine features of (user, item) candidates in embedding space.

    Parameters
    ----------
    vectors : (n_items x dim) unit vectors (zero rows = no vector, see :func:`item_vectors`).
    profile : (n_users x dim) unit profile of each user (zero rows = none).
    recent : (n_users x n_items) sparse, non-zero where the user bought the item lately.
    users : the user index of each of the block's rows; ``rows``, ``items`` : per candidate,
        its row in ``users`` and its item index.

    Returns
    -------
    profile_cos : cosine of the item's vector to its user's profile (NaN without either).
    recent_max : highest cosine of the item's vector to the vectors of the *other* items its
        user bought lately (NaN when there are none or the item has no vector). Computed one
        user at a time: memory is bounded by one user's candidates x recent items.
    """
    rows = np.asarray(rows, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    has_vec = vectors.any(axis=1)
    cand_u = np.asarray(users)[rows]
    prof = profile[cand_u]
    cos = np.einsum("ij,ij->i", prof, vectors[items])
    profile_cos = np.where(has_vec[items] & prof.any(axis=1), cos, np.nan).astype(np.float32)
    recent_max = np.full(len(rows), np.nan, np.float32)
    order = np.argsort(rows, kind="stable")
    bounds = np.searchsorted(rows[order], np.arange(len(users) + 1))
    # One BLAS thread: each product is tiny (a user's candidates x its recent items), and
    # waking OpenBLAS's threads for it costs more than it saves, far more on a loaded machine
    # (notebook 05's smoke ranker: 24 s -> 4 s in this loop with another job running).
    with threadpool_limits(limits=1, user_api="blas"):
        for r in range(len(users)):
            sel = order[bounds[r] : bounds[r + 1]]
            lo, hi = recent.indptr[users[r]], recent.indptr[users[r] + 1]
            mine = recent.indices[lo:hi]
            mine = mine[has_vec[mine]]
            if len(sel) == 0 or len(mine) == 0:
                continue
            sim = vectors[items[sel]] @ vectors[mine].T
            sim[items[sel][:, None] == mine[None, :]] = -np.inf  # not the item itself
            best = sim.max(axis=1)
            recent_max[sel] = np.where(np.isfinite(best) & has_vec[items[sel]], best, np.nan)
    return profile_cos, recent_max


def _scatter(n: int, index: np.ndarray, values) -> np.ndarray:
    """A float32 array of ``n`` NaNs with ``values`` at ``index``."""
    out = np.full(n, np.nan, np.float32)
    out[index] = np.asarray(values)
    return out


class _Snapshot:
    """Everything the ranker knows at one cut time: sparse per-(user, item) statistics,
    per-user and per-item features, an EASE model and a user-neighbour matrix, all built
    from the interactions up to ``end`` only."""

    def __init__(self, frame: pd.DataFrame, universe: Interactions, end, params: dict):
        n_users, n_items = universe.n_users, universe.n_items
        self.n_items = n_items
        age = (end - pd.to_datetime(frame["timestamp"])).dt.total_seconds().to_numpy() / DAY
        u = frame["user_idx"].to_numpy()
        i = frame["item_idx"].to_numpy()
        rows = pd.DataFrame(
            {
                "u": u,
                "i": i,
                "age": age,
                "recent": age < 28,
                "d14": np.power(0.5, age / 14.0),
                "d60": np.power(0.5, age / 60.0),
                "d180": np.power(0.5, age / 180.0),
            }
        )
        ui = rows.groupby(["u", "i"], sort=True).agg(
            n=("age", "size"),
            n28=("recent", "sum"),
            age_last=("age", "min"),
            age_first=("age", "max"),
            s14=("d14", "sum"),
            s60=("d60", "sum"),
            s180=("d180", "sum"),
        )
        ui = ui.reset_index()
        # users
        order = basket_order(frame)
        b_age = (end - pd.to_datetime(order["timestamp"])).dt.total_seconds().to_numpy() / DAY
        ub = pd.DataFrame({"u": order["user_idx"].to_numpy(), "age": b_age}).groupby("u")["age"]
        idx = ub.size().index.to_numpy()
        items_per_user = ui.groupby("u").size()
        user = {  # USER_FEATURES by name, one float32 array over all users (NaN: no baskets)
            "u_baskets": _scatter(n_users, idx, ub.size()),
            "u_baskets28": _scatter(n_users, idx, ub.agg(lambda a: (a < 28).sum())),
            "u_age_last": _scatter(n_users, idx, ub.min()),
            "u_tenure": _scatter(n_users, idx, ub.max()),
            "u_items": _scatter(n_users, items_per_user.index.to_numpy(), items_per_user),
        }
        user["u_gap"] = user["u_tenure"] / np.maximum(user["u_baskets"], 1.0)
        self.user = user
        # user x item derived features
        n_baskets = user["u_baskets"][ui["u"].to_numpy()]
        ui["share"] = ui["n"] / np.maximum(n_baskets, 1.0)
        span = ui["age_first"] - ui["age_last"]
        ui["interval"] = np.where(ui["n"] > 1, span / np.maximum(ui["n"] - 1, 1), np.nan)
        ui["overdue"] = ui["age_last"] / ui["interval"]
        ui["own_rank"] = ui.groupby("u")["s60"].rank(ascending=False, method="first")
        # re-buys at the recent pace
        ui["expected"] = ui["share"] * user["u_baskets28"][ui["u"].to_numpy()]
        ui["s60_norm"] = ui["s60"] / ui.groupby("u")["s60"].transform("max")
        self.ui = ui
        # items: ITEM_FEATURES by name, one float32 array over all items
        buyers = np.bincount(ui["i"], minlength=n_items).astype(np.float32)
        recent = rows[rows["age"] < 28].drop_duplicates(["u", "i"])
        first_sale = rows.groupby("i")["age"].max()
        repeaters = np.bincount(ui.loc[ui["n"] >= 2, "i"], minlength=n_items)
        item = {
            "i_users": buyers,
            "i_rows": np.bincount(i, minlength=n_items).astype(np.float32),
            "i_users28": np.bincount(recent["i"], minlength=n_items).astype(np.float32),
            "i_users7": np.bincount(recent.loc[recent["age"] < 7, "i"], minlength=n_items).astype(
                np.float32
            ),
            "i_age_first": _scatter(n_items, first_sale.index.to_numpy(), first_sale),
            "i_repeat": ((repeaters + 1.0) / (buyers + 2.0)).astype(np.float32),
        }
        item["i_per_buyer"] = item["i_rows"] / np.maximum(buyers, 1.0)
        span_days = np.maximum(np.nan_to_num(item["i_age_first"], nan=28.0), 28.0)
        item["i_trend"] = (item["i_users28"] / np.maximum(buyers * 28.0 / span_days, 1e-3)).astype(
            np.float32
        )
        self.item = item
        self.recent_pop = item["i_users28"] + 1e-3 * buyers
        # sparse matrices and collaborative models on this snapshot
        self.seen = sp.csr_matrix(
            (np.ones(len(ui), np.float32), (ui["u"], ui["i"])), shape=(n_users, n_items)
        )
        self.decayed = sp.csr_matrix(
            (ui["s60"].to_numpy(np.float32), (ui["u"], ui["i"])), shape=(n_users, n_items)
        )
        self.neighbours = _neighbour_matrix(self.decayed, params["neighbours"])
        snap = Interactions(
            frame[["user_id", "item_id", "weight", "timestamp"]],
            users=universe.user_ids,
            items=universe.item_ids,
        )
        self.ease = EASE(lam=params["ease_lam"], max_items=params["max_items"]).fit(snap)
        # product groups (e.g. product type): how much the user buys of the item's kind
        # known-in-advance plan (promotions) of the window after ``end``
        self.signals, self.signal_names = None, ()
        if params.get("signals") is not None:
            self.signal_names = params["signals"].feature_names
            self.signals = params["signals"].window(
                end,
                end + pd.Timedelta(days=params["window_days"]),
                universe.user_ids,
                universe.item_ids,
            )
        # how the user buys each product (deals, quantity, spend), lines up to ``end`` only
        self.details = None
        if params.get("details") is not None:
            self.details = params["details"].stats(end, universe.user_ids, universe.item_ids)
        # what sold lately at the user's stores (lines up to ``end`` only)
        self.stores = None
        if params.get("stores") is not None:
            self.stores = params["stores"].stats(end, universe.user_ids, universe.item_ids)
        # text-embedding profile (60-day decayed mean of the user's item vectors) and the items
        # bought in the last ``embedding_days`` days (purchases up to ``end`` only)
        self.vectors = params.get("vectors")
        if self.vectors is not None:
            prof = (self.decayed @ self.vectors).astype(np.float32)
            norms = np.linalg.norm(prof, axis=1, keepdims=True)
            self.emb_profile = np.where(norms > 0, prof / np.maximum(norms, 1e-12), 0.0)
            lately = ui[ui["age_last"] < params["embedding_days"]]
            self.emb_recent = sp.csr_matrix(
                (np.ones(len(lately), np.float32), (lately["u"], lately["i"])),
                shape=(n_users, n_items),
            )
        self.cycle = bool(params.get("cycle"))
        if self.cycle:
            gaps = ui.loc[ui["n"] > 1].groupby("i")["interval"].median()
            self.item_gap = np.full(n_items, np.nan, np.float32)
            self.item_gap[gaps.index.to_numpy()] = gaps.to_numpy()
        self.groups = params.get("groups")
        if self.groups is not None:
            ui["g"] = self.groups[ui["i"].to_numpy()]
            ug = ui.groupby(["u", "g"]).agg(
                g_n=("n", "sum"),
                g_s60=("s60", "sum"),
                g_age_last=("age_last", "min"),
                g_items=("i", "size"),
            )
            self.ug = ug.reset_index()
            n_groups = int(self.groups.max()) + 1
            g_buyers = np.bincount(self.groups, weights=buyers, minlength=n_groups)
            self.item_group_share = (buyers / np.maximum(g_buyers[self.groups], 1)).astype(
                np.float32
            )
            ui.drop(columns="g", inplace=True)
            # the user's share of (60-day decayed) purchases in each group and its rank
            total = self.ug.groupby("u")["g_s60"].transform("sum")
            self.ug["g_affinity"] = self.ug["g_s60"] / np.maximum(total, 1e-12)
            self.ug["g_rank"] = self.ug.groupby("u")["g_s60"].rank(ascending=False, method="first")
            # each item's rank by recent popularity inside its group (1 = most popular)
            order = np.lexsort((-self.recent_pop, self.groups))
            first = np.searchsorted(self.groups[order], np.arange(n_groups))
            rank = np.empty(n_items, np.float32)
            rank[order] = np.arange(n_items) - first[self.groups[order]] + 1
            self.item_group_rank = rank

    def candidates(
        self,
        users: np.ndarray,
        n_repeat: int,
        n_new: int,
        batch_users: int | None = 256,
    ) -> pd.DataFrame:
        """Candidate (user, item) pairs with features for the users (indices) given.

        The dense users x items score blocks (EASE, neighbours) are built for at most
        ``batch_users`` users at a time (None = all at once); the result is the same whatever
        the batch size: rows ordered re-buys first, then by user and item.
        """
        users = np.asarray(users, dtype=np.int64)
        if batch_users is not None and batch_users < 1:
            raise ParameterError(f"batch_users must be >= 1 or None, got {batch_users!r}.")
        step = len(users) if batch_users is None else int(batch_users)
        if len(users) <= step:
            return self._candidate_block(users, n_repeat, n_new)
        blocks = []
        for start in range(0, len(users), step):
            block = self._candidate_block(users[start : start + step], n_repeat, n_new)
            block["row"] += start
            blocks.append(block)
        out = pd.concat(blocks, ignore_index=True)
        del blocks
        # the order of one unbatched call: re-buys first, then by user and item (bagging in
        # LightGBM samples rows by position, so the order matters for an identical fit)
        if not _sorted_by_user(users):
            return out
        order = np.lexsort((out["i"].to_numpy(), out["u"].to_numpy(), out["new"].to_numpy()))
        return out.take(order).reset_index(drop=True)

    def _candidate_block(self, users: np.ndarray, n_repeat: int, n_new: int) -> pd.DataFrame:
        """:meth:`candidates` for one batch of users."""
        n_items = self.n_items
        # repeat candidates: the user's own items, best n_repeat by decayed count
        rep = self.ui[self.ui["u"].isin(users) & (self.ui["own_rank"] <= n_repeat)]
        row_rep = pd.Index(users).get_indexer(rep["u"])
        item_rep = rep["i"].to_numpy()
        seen = self.seen[users]
        # EASE over its kept items, user-neighbour scores over all items
        kept = self.ease.items_kept_
        ease = np.asarray(
            self.ease.user_matrix_[users][:, kept] @ self.ease.weights_, dtype=np.float32
        )
        nbr = (self.neighbours[users] @ self.seen).toarray().astype(np.float32)
        lists = {}  # rank feature -> (rows, items, ranks) of a never-bought candidate list
        for name, scores, cols, seen_part in (
            ("ease_rank", ease, kept, seen[:, kept]),
            ("nbr_rank", nbr, np.arange(n_items), seen),
        ):
            m = scores.copy()
            m[seen_part.nonzero()] = -np.inf
            lists[name] = _top_list(m, cols, n_new)
        # recent popularity: the n_new most popular items the user has not bought
        popular = np.argsort(-self.recent_pop, kind="stable")[: n_new + int(seen.sum(1).max())]
        m = np.tile(-np.arange(len(popular), dtype=np.float32), (len(users), 1))
        m[seen[:, popular].nonzero()] = -np.inf
        lists["pop_rank"] = _top_list(m, popular, n_new)
        missing = dict.fromkeys(lists, n_new + 1)
        del m
        key = np.unique(np.concatenate([r * n_items + c for r, c, _ in lists.values()]))
        row_new, item_new = key // n_items, key % n_items
        row = np.concatenate([row_rep, row_new]).astype(np.int64)
        itm = np.concatenate([item_rep, item_new]).astype(np.int64)
        out = pd.DataFrame({"row": row, "u": users[row], "i": itm})
        out["new"] = np.r_[np.zeros(len(row_rep), bool), np.ones(len(row_new), bool)]
        out = out.merge(self.ui, on=["u", "i"], how="left")
        u_rows, i_rows = out["u"].to_numpy(), out["i"].to_numpy()
        for name in USER_FEATURES:
            out[name] = self.user[name][u_rows]
        for name in ITEM_FEATURES:
            out[name] = self.item[name][i_rows]
        if self.groups is not None:
            out["g"] = self.groups[out["i"].to_numpy()]
            out = out.merge(self.ug, on=["u", "g"], how="left")
            out["g_share"] = out["s60"] / out["g_s60"]
            out["g_item_share"] = self.item_group_share[out["i"].to_numpy()]
            out["g_item_rank"] = self.item_group_rank[out["i"].to_numpy()]
        if self.signals is not None:
            values = PlannedSignals.pair_values(
                self.signals, out["u"].to_numpy(), out["i"].to_numpy()
            )
            for name in self.signal_names:
                out[name] = values[name]
        if self.details is not None:
            out = out.merge(self.details["pairs"], on=["u", "i"], how="left")
            out["i_deal"] = self.details["i_deal"][out["i"].to_numpy()]
            if self.signals is not None:
                promo = out.get("h_display", 0.0) + out.get("h_mailer", 0.0)
                out["promo_x_deal"] = promo * out["deal_share"]
        if self.stores is not None:
            values = StoreSales.pair_values(self.stores, out["u"].to_numpy(), out["i"].to_numpy())
            for name, col in values.items():
                out[name] = col
        if self.cycle:
            out["i_gap"] = self.item_gap[out["i"].to_numpy()]
            out["overdue_i"] = out["age_last"] / out["i_gap"]
        kept_pos = np.full(n_items, -1)
        kept_pos[kept] = np.arange(len(kept))
        col = kept_pos[itm]
        val = np.where(col >= 0, ease[row, np.maximum(col, 0)], 0.0)
        out["ease"] = _over_user_best(val, np.abs(ease).max(axis=1), row)
        out["nbr"] = _over_user_best(nbr[row, itm], nbr.max(axis=1), row)
        if self.vectors is not None:
            out["emb_profile"], out["emb_recent"] = embedding_similarity(
                self.vectors, self.emb_profile, self.emb_recent, users, row, itm
            )
        cand_key = row * n_items + itm
        for name, (r, c, rank) in lists.items():
            found = pd.Index(r * n_items + c).get_indexer(cand_key)
            out[name] = np.where(found >= 0, rank[found], missing[name]).astype(np.float32)
        return out


def _over_user_best(values: np.ndarray, best: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Candidate scores ``values`` over their user's best score (``best[row]``; 1 where the
    best is not positive)."""
    return values / np.where(best > 0, best, 1.0)[row]


def _sorted_by_user(users: np.ndarray) -> bool:
    return bool(len(users) < 2 or np.all(np.diff(users) > 0))


def _top_list(scores: np.ndarray, cols: np.ndarray, k: int):
    """Rows, item indices (``cols[...]``) and ranks (1 = best) of each row's k largest
    finite scores."""
    k = min(k, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(scores, top, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    top = np.take_along_axis(top, order, axis=1)
    ok = np.isfinite(np.take_along_axis(vals, order, axis=1)).ravel()
    rows = np.repeat(np.arange(scores.shape[0]), k)[ok]
    ranks = np.tile(np.arange(1, k + 1, dtype=np.float32), scores.shape[0])[ok]
    return rows, np.asarray(cols)[top.ravel()[ok]], ranks


class NextBasketRanker(Recommender):
    """Learned next-basket ranker (see the module docstring).

    Parameters
    ----------
    window_days : length of the horizon predicted (28 = protocol R2's test window).
    n_windows : how many consecutive windows at the end of the training data make the
        ranker's training examples (features before each cut, labels after it).
    n_repeat : re-buy candidates per user (the user's items with the highest 60-day-decayed
        basket count).
    n_new : new-item candidates per source (EASE, neighbours, recent popularity).
    ease_lam, max_items : EASE used for new-item candidates and as a feature.
    neighbours : user neighbours (cosine on decayed profiles) for the neighbour score.
    n_estimators, learning_rate, num_leaves, min_child_samples, reg_lambda : LightGBM
        settings of both classifiers.
    item_groups : optional Series item ID -> group (e.g. product type): adds features on how
        much and how recently the user bought the item's group, which also informs the
        never-bought candidates.
    batch_users : users whose candidates (dense users x items score blocks) are built at
        once; bounds peak memory without changing any score (None = all users at once).
    signals : optional :class:`~ecomlib.recommend.signals.PlannedSignals`: the promotion
        plan of each predicted window (share of its weeks each product is on display / in the
        mailer, overall and at the user's stores) as features of both classifiers. Only the
        plan for the weeks of the window being predicted (and the user's store shares up to
        its start) is read.
    details : optional :class:`~ecomlib.recommend.signals.PurchaseDetails`: how the user
        buys each product (share of its lines bought on a deal, quantity, spend, discount
        rate) from the basket lines up to each cut; with ``signals`` also the planned
        promotion x deal share.
    stores : optional :class:`~ecomlib.recommend.signals.StoreSales`: what sold lately at
        the user's stores (store-weighted share of their shoppers who bought the item in the
        28 days before each cut, and whether it sold there at all) as features.
    cycle : add repurchase-cycle features: the item's median gap between re-buys and the
        days since the user last bought it over that gap.
    user_features : the classifiers ("repeat", "new") that also see the per-user features
        (activity, tenure: :data:`USER_FEATURES`). A list only needs its candidates' order
        *within* each user; without these features a classifier's splits go to what
        separates one user's candidates instead of telling active users from quiet ones.
    embeddings : optional ``(item_ids, vectors)``, e.g. MiniLM vectors of the product texts
        (:func:`~ecomlib.recommend.content.text_embeddings`): adds each candidate's cosine to
        the user's 60-day-decayed embedding profile and its highest cosine to the other items
        the user bought in the ``embedding_days`` before the cut (:func:`embedding_similarity`,
        purchases up to each cut only). Items without a vector get NaN.
    embedding_days : the "bought lately" window of ``embeddings``.

    The options tried and not kept, with their validation figures: docs/benchmarks.md.
    """

    name = "ranker"
    recommend_batch_size = 256  # each batch holds a candidate frame and a dense score block

    def __init__(
        self,
        window_days: float = 28,
        n_windows: int = 2,
        n_repeat: int = 60,
        n_new: int = 50,
        ease_lam: float = 500.0,
        max_items: int | None = 3000,
        neighbours: int = 100,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 50,
        reg_lambda: float = 0.0,
        seed: int = 42,
        n_jobs: int | None = None,
        item_groups: pd.Series | None = None,
        signals: PlannedSignals | None = None,
        details: PurchaseDetails | None = None,
        batch_users: int | None = 256,
        stores: StoreSales | None = None,
        cycle: bool = False,
        user_features: tuple[str, ...] = ("repeat", "new"),
        embeddings: tuple | None = None,
        embedding_days: float = 60.0,
    ):
        self.window_days = window_days
        self.n_windows = n_windows
        self.n_repeat = n_repeat
        self.n_new = n_new
        self.ease_lam = ease_lam
        self.max_items = max_items
        self.neighbours = neighbours
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.seed = seed
        self.n_jobs = n_jobs
        self.item_groups = item_groups
        self.signals = signals
        self.details = details
        self.batch_users = batch_users
        self.stores = stores
        self.cycle = cycle
        self.user_features = user_features
        self.embeddings = embeddings
        self.embedding_days = embedding_days

    def _validate_params(self) -> None:
        check_param("window_days", self.window_days, lambda v: v > 0, "a number > 0", self)
        for name in ("n_windows", "n_repeat", "n_new"):
            check_param(name, getattr(self, name), lambda v: v >= 1, "an integer >= 1", self)
        check_param(
            "batch_users",
            self.batch_users,
            lambda v: v is None or v >= 1,
            "an integer >= 1 or None",
            self,
        )
        check_param(
            "user_features",
            self.user_features,
            lambda v: not isinstance(v, str) and set(v) <= {"repeat", "new"},
            "a tuple naming 'repeat' and/or 'new'",
            self,
        )
        check_param(
            "embeddings",
            self.embeddings,
            lambda v: v is None or (isinstance(v, tuple) and len(v) == 2),
            "a tuple (item_ids, vectors) or None",
            self,
        )
        check_param("embedding_days", self.embedding_days, lambda v: v > 0, "a number > 0", self)

    def _candidates(self, snap: _Snapshot, users: np.ndarray) -> pd.DataFrame:
        return snap.candidates(users, self.n_repeat, self.n_new, batch_users=self.batch_users)

    @property
    def feature_names(self) -> list[str]:
        groups = GROUP_FEATURES if self.item_groups is not None else ()
        planned = self.signals.feature_names if self.signals is not None else ()
        details = ()
        if self.details is not None:
            details = (*self.details.feature_names, *DEAL_PROMO[: int(self.signals is not None)])
        stores = self.stores.feature_names if self.stores is not None else ()
        return [
            *UI_FEATURES,
            *USER_FEATURES,
            *ITEM_FEATURES,
            *PAIR_FEATURES,
            *groups,
            *planned,
            *details,
            *stores,
            *CYCLE_FEATURES[: 2 * self.cycle],
            *EMBEDDING_FEATURES[: 2 * (self.embeddings is not None)],
        ]

    def _features(self, kind: str) -> list[str]:
        """Features of the ``kind`` ("repeat" or "new") classifier: the per-user features only
        when ``user_features`` names it."""
        if kind not in self.user_features:
            return [f for f in self.feature_names if f not in USER_FEATURES]
        return self.feature_names

    def _params(self) -> dict:
        return {
            "neighbours": self.neighbours,
            "ease_lam": self.ease_lam,
            "max_items": self.max_items,
            "groups": self.groups_,
            "signals": self.signals,
            "details": self.details,
            "window_days": self.window_days,
            "stores": self.stores,
            "cycle": self.cycle,
            "vectors": self.vectors_,
            "embedding_days": self.embedding_days,
        }

    def _fit(self, inter: Interactions) -> None:
        import lightgbm as lgb

        ts = _require_time(inter, "NextBasketRanker")
        self.groups_ = None
        if self.item_groups is not None:
            # group code per item index; items without a group form their own group
            codes = pd.Series(self.item_groups).reindex(inter.item_ids)
            known, uniques = pd.factorize(codes)
            missing = known < 0
            known[missing] = len(uniques) + np.arange(missing.sum())
            self.groups_ = known.astype(np.int64)
        self.vectors_ = None
        if self.embeddings is not None:
            self.vectors_ = item_vectors(*self.embeddings, inter.item_ids)
        frame = inter.frame
        end = ts.max()
        window = pd.Timedelta(days=self.window_days)
        parts, self.windows_ = [], []
        for w in range(1, self.n_windows + 1):
            cut = end - window * w  # back-to-back label windows, the latest ending at ``end``
            hist = frame[(ts <= cut).to_numpy()]
            label = frame[((ts > cut) & (ts <= cut + window)).to_numpy()]
            users = np.intersect1d(hist["user_idx"].unique(), label["user_idx"].unique())
            if len(users) == 0:
                break
            snap = _Snapshot(hist, inter, cut, self._params())
            cand = self._candidates(snap, users)
            bought = pd.MultiIndex.from_frame(label[["user_idx", "item_idx"]].drop_duplicates())
            cand["y"] = pd.MultiIndex.from_arrays([cand["u"], cand["i"]]).isin(bought)
            parts.append(cand)
            self.windows_.append((cut, cut + window))
            log.info("ranker window %d: %d users, %d candidates", w, len(users), len(cand))
            del snap, cand, hist, label  # one snapshot alive at a time: bounds peak memory
        if not parts:
            raise DataError(
                f"NextBasketRanker needs history before the last {self.window_days} days."
            )
        self.training_windows_ = len(parts)
        data = pd.concat(parts, ignore_index=True)
        parts.clear()
        self.models_ = {}
        for kind, is_new in (("repeat", False), ("new", True)):
            part = data[data["new"] == is_new]
            if part["y"].nunique() < 2:
                self.models_[kind] = None
                continue
            x, y = part[self._features(kind)], part["y"].astype(int)
            model = lgb.LGBMClassifier(
                n_estimators=self.n_estimators,
                learning_rate=self.learning_rate,
                num_leaves=self.num_leaves,
                min_child_samples=self.min_child_samples,
                reg_lambda=self.reg_lambda,
                subsample=0.8,
                subsample_freq=1,
                colsample_bytree=0.8,
                random_state=self.seed,
                n_jobs=self.n_jobs,
                verbose=-1,
            )
            self.models_[kind] = model.fit(x, y)
            del x, y
        data = part = None  # free the training examples before the final snapshot
        self.snapshot_ = _Snapshot(frame, inter, end, self._params())
        self.snapshot_end_ = end
        pop = self.popularity_
        self.base_ = (-1.0 + 1e-3 * pop / (pop.max() + 1.0)).astype(np.float32)

    def _predict(self, kind: str, part: pd.DataFrame) -> np.ndarray:
        """Probability of the ``kind`` classifier on ``part``."""
        return self.models_[kind].predict_proba(part[self._features(kind)])[:, 1]

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        user_idx = np.asarray(user_idx)
        out = np.tile(self.base_, (len(user_idx), 1))
        cand = self._candidates(self.snapshot_, user_idx)
        for kind, is_new in (("repeat", False), ("new", True)):
            part = cand[cand["new"] == is_new]
            model = self.models_[kind]
            if part.empty or model is None:
                continue
            out[part["row"].to_numpy(), part["i"].to_numpy()] = self._predict(kind, part)
        return out
