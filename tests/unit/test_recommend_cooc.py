"""The next-basket ranker's classifiers with or without the per-user features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecomlib import recommend as rec
from ecomlib.errors import ParameterError

T0 = pd.Timestamp("2017-01-02 06:00")
SMALL_TREES = {"min_child_samples": 5, "reg_lambda": 1.0}


def _weekly(n_users=16, weeks=8, seed=3) -> pd.DataFrame:
    """Weekly baskets: a staple per user (user % 3) with its companion (staple + 3) in the
    same basket every other week, plus two random items."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        for w in range(weeks):
            ts = T0 + pd.Timedelta(days=7 * w + u % 4, hours=10)
            basket = u * 1000 + w
            items = [u % 3, *rng.choice(np.arange(10, 40), size=2, replace=False)]
            if w % 2:
                items.append(u % 3 + 3)
            rows += [(u, int(i), ts, basket) for i in items]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp", "basket_id"])


def test_ranker_classifiers_without_user_features(tiny_ranker):
    from ecomlib.recommend.ranker import USER_FEATURES

    train = _weekly(seed=5)
    model = tiny_ranker(**SMALL_TREES, user_features=("repeat",)).fit(train)
    new_names = model.models_["new"].booster_.feature_name()
    assert not set(USER_FEATURES) & set(new_names)
    assert set(USER_FEATURES) <= set(model.models_["repeat"].booster_.feature_name())
    assert len(new_names) == len(model.feature_names) - len(USER_FEATURES)
    users = np.sort(model.interactions_.user_index(train["user_id"].unique()))
    scores = model.score(users)  # predicts with the same reduced columns
    assert np.isfinite(scores).all() and scores.shape == (len(users), model.interactions_.n_items)
    with_users = tiny_ranker(**SMALL_TREES).fit(train)
    assert set(USER_FEATURES) <= set(with_users.models_["new"].booster_.feature_name())
    none = tiny_ranker(**SMALL_TREES, user_features=()).fit(train)
    for kind in ("repeat", "new"):
        assert not set(USER_FEATURES) & set(none.models_[kind].booster_.feature_name())
    recs = none.recommend(train["user_id"].unique(), k=1, exclude_seen=False)
    assert (recs["item_id"].to_numpy() == recs["user_id"].to_numpy() % 3).all()
    with pytest.raises(ParameterError, match="user_features"):
        rec.NextBasketRanker(user_features=("users",)).fit(train)


def test_zoo_ranker_emb_sees_no_user_features(monkeypatch):
    import ecomlib.recommend.interactions as interactions
    from ecomlib.recommend.ranker import USER_FEATURES

    groups = pd.Series({1: "a", 2: "b"})
    monkeypatch.setattr(
        interactions, "product_groups", lambda con=None, level="product_type": groups.rename(level)
    )
    content = (np.arange(3), np.eye(3, dtype=np.float32))
    model = rec.model_zoo("completejourney", ["ranker_emb"], ranker_trees=30, content=content)[
        "ranker_emb"
    ]
    assert model.user_features == ()
    assert set(USER_FEATURES) <= set(model.feature_names)
    for kind in ("repeat", "new"):
        assert not set(USER_FEATURES) & set(model._features(kind))
