"""Describing interactions and explaining recommendations (notebook 05 helpers)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def interaction_summary(frame: pd.DataFrame) -> dict[str, float]:
    """Size, density and concentration of an interactions frame (``user_id, item_id``)."""
    pairs = frame[["user_id", "item_id"]].drop_duplicates()
    users, items = pairs["user_id"].nunique(), pairs["item_id"].nunique()
    per_item = frame["item_id"].value_counts()
    top = per_item.iloc[: max(1, int(round(0.01 * len(per_item))))]
    return {
        "rows": int(len(frame)),
        "users": int(users),
        "items": int(items),
        "density": float(len(pairs) / (users * items)),
        "median items per user": float(pairs.groupby("user_id").size().median()),
        "share of rows on the top 1% items": float(top.sum() / per_item.sum()),
    }


def repeat_rates(frame: pd.DataFrame) -> dict[str, float]:
    """How much of the purchasing is re-buying: share of (user, item) pairs bought in >= 2
    baskets, and share of basket lines whose product the user had bought before."""
    baskets = frame.groupby(["user_id", "item_id"])["basket_id"].nunique()
    ordered = frame.sort_values(["timestamp", "basket_id"])
    first = ~ordered.duplicated(["user_id", "item_id"])
    return {
        "pairs bought in >= 2 baskets": float((baskets >= 2).mean()),
        "basket lines that are repeats": float(1.0 - first.mean()),
    }


def popularity_curve(frame: pd.DataFrame) -> pd.Series:
    """Share of interactions per item, sorted descending (the long tail), indexed by rank."""
    counts = frame["item_id"].value_counts().to_numpy()
    return pd.Series(counts / counts.sum(), index=np.arange(1, len(counts) + 1))


def explain(
    user_id,
    recs: pd.DataFrame,
    train: pd.DataFrame,
    names: pd.Series,
    vectors: pd.DataFrame | None = None,
    history: int = 5,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What a user bought and why each recommendation was made.

    Parameters
    ----------
    recs : a model's top-k lists (``user_id, item_id, score, rank``).
    train : the training interactions (``user_id, item_id, timestamp``).
    names : item_id -> readable description.
    vectors : optional item_id-indexed frame of L2-normalised item vectors; a new item's
        reason is then the most similar product in the user's history.
    history : how many of the user's most bought products to list.

    Returns
    -------
    bought : the user's top products with counts.
    explained : the recommendations with a ``because`` column.
    """
    own = train[train["user_id"] == user_id]
    ref = pd.to_datetime(train["timestamp"]).max()
    counts = own.groupby("item_id").agg(times=("item_id", "size"), last=("timestamp", "max"))
    counts = counts.sort_values("times", ascending=False)
    bought = counts.head(history).assign(product=lambda d: d.index.map(names))
    bought = bought.reset_index()[["product", "times"]]
    mine = recs[recs["user_id"] == user_id].sort_values("rank")
    reasons = []
    own_items = counts.index.to_numpy()
    own_vecs = None
    if vectors is not None and len(own_items):
        own_items = own_items[np.isin(own_items, vectors.index)]
        own_vecs = vectors.loc[own_items].to_numpy()
    for item in mine["item_id"]:
        if item in counts.index:
            row = counts.loc[item]
            days = (ref - pd.Timestamp(row["last"])).days
            reasons.append(f"bought {int(row['times'])}x, last {days} days ago")
        elif own_vecs is not None and len(own_items) and item in vectors.index:
            sims = own_vecs @ vectors.loc[item].to_numpy()
            best = int(np.argmax(sims))
            reasons.append(
                f"like '{names.get(own_items[best], own_items[best])}' (cosine {sims[best]:.2f})"
            )
        else:
            reasons.append("popular with similar households")
    explained = pd.DataFrame(
        {
            "rank": mine["rank"].to_numpy(),
            "product": mine["item_id"].map(names).to_numpy(),
            "because": reasons,
        }
    )
    return bought, explained
