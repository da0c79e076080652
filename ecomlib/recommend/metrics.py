"""Top-k ranking metrics (protocols R1 and R2, docs/protocols.md) and beyond-accuracy metrics.

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

Uncertainty: :func:`per_user_metrics` keeps one value per user, :func:`bootstrap_ci` resamples
users for an interval of the mean, and :func:`paired_differences` compares models on the same
resampled users.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ecomlib.errors import DataError, ParameterError


def _hit_matrix(recs: pd.DataFrame, test: pd.DataFrame, k: int):
    """Per evaluated user: a (n_users, k) 0/1 hit matrix, the number of relevant items and the
    user IDs (rows' order)."""
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
    return hits, n_rel, users.to_numpy()


def per_user_metrics(
    recs: pd.DataFrame,
    test: pd.DataFrame,
    k: int = 10,
    recall_denominator: str = "relevant",
) -> pd.DataFrame:
    """Precision, recall, NDCG, AP and hit at ``k`` of every user of ``test`` (one row each,
    index ``user_id``); :func:`ranking_metrics` is their mean. Parameters as there."""
    if k < 1:
        raise ParameterError(f"k must be >= 1, got {k}.")
    if recall_denominator not in ("relevant", "min_k"):
        raise ParameterError(
            f"recall_denominator must be 'relevant' or 'min_k', got {recall_denominator!r}."
        )
    hits, n_rel, users = _hit_matrix(recs, test, k)
    if len(n_rel) == 0:
        raise DataError("test holds no relevant items: nothing to evaluate.")
    n_hits = hits.sum(axis=1)
    ranks = np.arange(1, k + 1)
    discount = 1.0 / np.log2(ranks + 1)
    ideal = np.cumsum(discount)[np.minimum(n_rel, k) - 1]
    prec_at = np.cumsum(hits, axis=1) / ranks
    denom = n_rel if recall_denominator == "relevant" else np.minimum(n_rel, k)
    return pd.DataFrame(
        {
            f"precision@{k}": n_hits / k,
            f"recall@{k}": n_hits / denom,
            f"ndcg@{k}": (hits @ discount) / ideal,
            "map": (prec_at * hits).sum(axis=1) / n_rel,
            f"hit_rate@{k}": (n_hits > 0).astype(np.float64),
        },
        index=pd.Index(users, name="user_id"),
    )


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
    return summarise(per_user_metrics(recs, test, k, recall_denominator))


def summarise(per_user: pd.DataFrame) -> dict[str, float]:
    """Each column's mean over the users of :func:`per_user_metrics`, and ``users``."""
    return {**{c: float(v) for c, v in per_user.mean().items()}, "users": len(per_user)}


def bootstrap_ci(
    values,
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-user ``values`` (users resampled with
    replacement): how far the average could move with another draw of the same number of
    users. It does not cover other test periods.

    Parameters
    ----------
    values : one number per user (e.g. a column of :func:`per_user_metrics`), or a 2-D array
        (users x models) for intervals of several models from the *same* resamples (pass
        per-user differences for a paired comparison).
    level : coverage of the interval (0.95 = 2.5th to 97.5th percentile).
    n_boot : resamples; the seed fixes them.

    Returns
    -------
    (low, high), or two arrays with one bound per column for 2-D ``values``.
    """
    if not 0.0 < level < 1.0 or n_boot < 1:
        raise ParameterError(
            f"bootstrap_ci needs 0 < level < 1 and n_boot >= 1, got {level}, {n_boot}."
        )
    x = np.asarray(values, dtype=np.float64)
    if len(x) == 0 or not np.isfinite(x).all():
        raise DataError("bootstrap_ci needs at least one user and finite values.")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(n_boot, len(x)))
    means = np.stack([x[row].mean(axis=0) for row in idx])
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail], axis=0)
    if x.ndim == 1:
        return float(low), float(high)
    return low, high


def paired_differences(
    recs: Mapping[str, pd.DataFrame],
    test: pd.DataFrame,
    reference: str,
    k: int = 10,
    recall_denominator: str = "relevant",
    metric: str = "recall",
    level: float = 0.95,
) -> pd.DataFrame:
    """Each model's ``metric@k`` minus the ``reference`` model's on the same users, averaged,
    with a bootstrap interval of that difference (users resampled together for both models:
    a paired comparison, much tighter than comparing two separate intervals).

    Parameters
    ----------
    recs : model name -> its top-k lists (``user_id, item_id, rank``), e.g. the second value
        :func:`~ecomlib.recommend.evaluate.evaluate_models` returns; must hold ``reference``.
    metric : "precision", "recall", "ndcg", "hit_rate" or "map" (per :func:`per_user_metrics`).

    Returns
    -------
    DataFrame indexed by model (reference left out): ``gap, low, high``, largest gap first.
    """
    if reference not in recs:
        raise ParameterError(f"reference {reference!r} is not among the models {list(recs)}.")
    column = metric if metric == "map" else f"{metric}@{k}"
    per_user = {}
    for name, r in recs.items():
        scores = per_user_metrics(r, test, k, recall_denominator)
        if column not in scores:
            raise ParameterError(
                f"metric must be one of precision, recall, ndcg, hit_rate, map; got {metric!r}."
            )
        per_user[name] = scores[column]
    table = pd.DataFrame(per_user)
    gaps = table.sub(table[reference], axis=0).drop(columns=reference)
    if gaps.shape[1] == 0:
        raise ParameterError("paired_differences needs at least one model besides the reference.")
    low, high = bootstrap_ci(gaps.to_numpy(), level=level)
    out = pd.DataFrame({"gap": gaps.mean(), "low": low, "high": high}, index=gaps.columns)
    return out.sort_values("gap", ascending=False)


def coverage(recs: pd.DataFrame, n_items: int, k: int | None = None) -> float:
    """Share of the catalogue (``n_items``) that appears in at least one top-k list."""
    if n_items < 1:
        raise ParameterError(f"n_items must be >= 1, got {n_items!r}.")
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
