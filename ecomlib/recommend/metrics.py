"""Top-k ranking metrics (BENCHMARKS.md protocols R1 and R2) and beyond-accuracy metrics.

Definitions (binary relevance, per user, then averaged over users with >= 1 relevant item):

* precision@k = hits in the top k / k
* recall@k = hits / #relevant (``recall_denominator="relevant"``, protocol R1) or
  hits / min(k, #relevant) (``"min_k"``, protocol R2)
* NDCG@k = DCG / ideal DCG, gain 1 at rank r discounted by log2(r + 1), ideal DCG over
  min(k, #relevant) hits
* MAP (AP@k averaged) = sum of precision@r at every hit rank r <= k / #relevant
* hit rate@k = share of users with at least one hit
* coverage = distinct items recommended / catalogue size
* novelty = mean over recommended items of -log2(share of training users who have the item)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecomlib.errors import DataError, ParameterError


def _hit_matrix(recs: pd.DataFrame, test: pd.DataFrame, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per evaluated user: a (n_users, k) 0/1 hit matrix and the number of relevant items."""
    for name, frame, cols in (
        ("recs", recs, ("user_id", "item_id", "rank")),
        ("test", test, ("user_id", "item_id")),
    ):
        missing = [c for c in cols if c not in frame]
        if missing:
            raise DataError(f"{name} is missing column(s) {missing}.")
    rel = test[["user_id", "item_id"]].drop_duplicates()
    users = pd.Index(rel["user_id"].unique())
    n_rel = rel.groupby("user_id").size().reindex(users).to_numpy()
    top = recs[(recs["rank"] >= 1) & (recs["rank"] <= k)]
    top = top[top["user_id"].isin(users)]
    hit = top.merge(rel.assign(_rel=1), on=["user_id", "item_id"], how="left")
    hits = np.zeros((len(users), k), dtype=np.float64)
    rows = users.get_indexer(hit["user_id"])
    hits[rows, hit["rank"].to_numpy(int) - 1] = hit["_rel"].fillna(0).to_numpy()
    return hits, n_rel


def ranking_metrics(
    recs: pd.DataFrame,
    test: pd.DataFrame,
    k: int = 10,
    recall_denominator: str = "relevant",
) -> dict[str, float]:
    """Precision, recall, NDCG, MAP and hit rate at ``k``, averaged over the users of ``test``.

    Parameters
    ----------
    recs : DataFrame ``user_id, item_id, rank`` (rank 1 = best), as models return.
    test : DataFrame ``user_id, item_id`` of relevant items (duplicates ignored). Users in
        test without recommendations count as zero.
    recall_denominator : ``"relevant"`` (R1) or ``"min_k"`` (R2).
    """
    if k < 1:
        raise ParameterError(f"k must be >= 1, got {k}.")
    if recall_denominator not in ("relevant", "min_k"):
        raise ParameterError("recall_denominator must be 'relevant' or 'min_k'.")
    hits, n_rel = _hit_matrix(recs, test, k)
    if len(n_rel) == 0:
        raise DataError("test holds no relevant items: nothing to evaluate.")
    n_hits = hits.sum(axis=1)
    ranks = np.arange(1, k + 1)
    discount = 1.0 / np.log2(ranks + 1)
    dcg = hits @ discount
    ideal = np.cumsum(discount)[np.minimum(n_rel, k) - 1]
    prec_at = np.cumsum(hits, axis=1) / ranks
    ap = (prec_at * hits).sum(axis=1) / n_rel
    denom = n_rel if recall_denominator == "relevant" else np.minimum(n_rel, k)
    return {
        f"precision@{k}": float(np.mean(n_hits / k)),
        f"recall@{k}": float(np.mean(n_hits / denom)),
        f"ndcg@{k}": float(np.mean(dcg / ideal)),
        "map": float(np.mean(ap)),
        f"hit_rate@{k}": float(np.mean(n_hits > 0)),
        "users": int(len(n_rel)),
    }


def coverage(recs: pd.DataFrame, n_items: int, k: int | None = None) -> float:
    """Share of the catalogue (``n_items``) that appears in at least one top-k list."""
    if n_items < 1:
        raise ParameterError("n_items must be >= 1.")
    top = recs if k is None else recs[recs["rank"] <= k]
    return float(top["item_id"].nunique() / n_items)


def novelty(recs: pd.DataFrame, train: pd.DataFrame, k: int | None = None) -> float:
    """Mean self-information -log2(p_i) of recommended items, p_i = share of training users
    who interacted with item i (items unseen in train count with 1 user)."""
    top = recs if k is None else recs[recs["rank"] <= k]
    n_users = train["user_id"].nunique()
    if n_users == 0 or top.empty:
        raise DataError("novelty needs non-empty recommendations and training data.")
    users_per_item = train.drop_duplicates(["user_id", "item_id"])["item_id"].value_counts()
    counts = top["item_id"].map(users_per_item).fillna(1.0).clip(lower=1.0).to_numpy()
    return float(np.mean(-np.log2(counts / n_users)))


def new_items_only(test: pd.DataFrame, train: pd.DataFrame) -> pd.DataFrame:
    """The test rows whose (user, item) pair never occurs in train: purchases of products that
    household had never bought before."""
    seen = pd.MultiIndex.from_frame(train[["user_id", "item_id"]].drop_duplicates())
    pairs = pd.MultiIndex.from_frame(test[["user_id", "item_id"]])
    return test[~pairs.isin(seen)]
