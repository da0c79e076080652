"""Basket co-occurrence neighbours of the next-basket ranker, read only from the purchases
before every cut, and its classifiers with or without the per-user features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecomlib import recommend as rec
from ecomlib.errors import DataError, ParameterError
from ecomlib.recommend import ranker as ranker_mod
from ecomlib.recommend.ranker import basket_neighbours

T0 = pd.Timestamp("2017-01-02 06:00")
SMALL_TREES = {"min_child_samples": 5, "reg_lambda": 1.0}


def _baskets(rows) -> pd.DataFrame:
    """``(basket, item)`` rows -> frame with ``basket_id`` and ``item_idx``."""
    return pd.DataFrame(rows, columns=["basket_id", "item_idx"])


def test_basket_neighbours_confidence_values():
    # item 0 in baskets a, b, c; item 1 with it in a and b; item 2 with it in c; item 3 alone
    frame = _baskets([("a", 0), ("a", 1), ("b", 0), ("b", 1), ("c", 0), ("c", 2), ("d", 3)])
    w = basket_neighbours(frame, n_items=4, k=2, shrink=0.0).toarray()
    np.testing.assert_allclose(w[0], [0.0, 2 / 3, 1 / 3, 0.0], rtol=1e-6)
    np.testing.assert_allclose(w[1], [1.0, 0.0, 0.0, 0.0])  # item 1 always comes with item 0
    np.testing.assert_allclose(w[2], [1.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(w[3], 0.0)  # never shares a basket
    assert np.all(np.diag(w) == 0)
    # shrink damps items seen in few baskets; k bounds the neighbours per item
    shrunk = basket_neighbours(frame, n_items=4, k=1, shrink=1.0).toarray()
    np.testing.assert_allclose(shrunk[0], [0.0, 2 / 4, 0.0, 0.0])
    np.testing.assert_allclose(shrunk[1], [2 / 3, 0.0, 0.0, 0.0])
    # duplicate lines of a basket count once; the block size does not change the result
    dup = pd.concat([frame, frame.iloc[:2]], ignore_index=True)
    np.testing.assert_allclose(basket_neighbours(dup, 4, k=2, shrink=0.0, block=1).toarray(), w)


def test_basket_neighbours_timestamp_baskets_and_bad_input():
    frame = pd.DataFrame({"timestamp": [T0, T0, T0 + pd.Timedelta(days=1)], "item_idx": [0, 1, 1]})
    w = basket_neighbours(frame, n_items=2, k=1, shrink=0.0).toarray()
    np.testing.assert_allclose(w, [[0.0, 1.0], [0.5, 0.0]])
    with pytest.raises(ParameterError):
        basket_neighbours(frame, n_items=2, k=0)
    with pytest.raises(ParameterError):
        basket_neighbours(frame, n_items=2, shrink=-1.0)
    with pytest.raises(DataError, match="basket_id"):
        basket_neighbours(frame[["item_idx"]], n_items=2)


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


def test_ranker_cooc_reads_no_future(tiny_ranker, monkeypatch):
    train = _weekly()
    seen_until = []

    def spy(frame, n_items, k=50, **kwargs):
        seen_until.append(pd.to_datetime(frame["timestamp"]).max())
        return basket_neighbours(frame, n_items, k, **kwargs)

    monkeypatch.setattr(ranker_mod, "basket_neighbours", spy)
    model = tiny_ranker(**SMALL_TREES, basket_neighbours=5).fit(train)
    assert {"cooc", "cooc_rank"} <= set(model.feature_names)
    # each training window's co-occurrence is built from the baskets up to its cut only
    cuts = sorted([cut for cut, _ in model.windows_] + [model.snapshot_end_])
    assert len(seen_until) == len(cuts)
    assert all(t <= cut for t, cut in zip(sorted(seen_until), cuts, strict=True))
    users = np.sort(model.interactions_.user_index(train["user_id"].unique()))
    cand = model._candidates(model.snapshot_, users)
    listed = cand[cand["cooc_rank"] <= model.n_new]
    assert len(listed) > 0 and listed["new"].all() and (listed["cooc"] > 0).all()
    # the companion of each staple is what the staple's baskets hold most
    inter = model.interactions_
    staples, companions = inter.item_index([0, 1, 2]), inter.item_index([3, 4, 5])
    best = np.asarray(model.snapshot_.cooc[staples].argmax(axis=1)).ravel()
    np.testing.assert_array_equal(best, companions)
    off = tiny_ranker(**SMALL_TREES).fit(train)
    assert "cooc" not in off.feature_names and "cooc_rank" not in off.feature_names
    with pytest.raises(ParameterError, match="basket_neighbours"):
        rec.NextBasketRanker(basket_neighbours=-1)


def test_zoo_ranker_cooc_settings(monkeypatch):
    import ecomlib.recommend.interactions as interactions

    groups = pd.Series({1: "a", 2: "b"})
    monkeypatch.setattr(
        interactions, "product_groups", lambda con=None, level="product_type": groups.rename(level)
    )
    model = rec.model_zoo("completejourney", ["ranker_cooc"], ranker_trees=30)["ranker_cooc"]
    assert model.basket_neighbours == 50 and model.cycle
    assert {"cooc", "cooc_rank", "h_pen", "i_gap"} <= set(model.feature_names)


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
        rec.NextBasketRanker(user_features=("users",))


def test_zoo_ranker_within_settings(monkeypatch):
    import ecomlib.recommend.interactions as interactions
    from ecomlib.recommend.ranker import USER_FEATURES

    groups = pd.Series({1: "a", 2: "b"})
    monkeypatch.setattr(
        interactions, "product_groups", lambda con=None, level="product_type": groups.rename(level)
    )
    zoo = rec.model_zoo("completejourney", ["ranker_stores", "ranker_within"], ranker_trees=30)
    model, base = zoo["ranker_within"], zoo["ranker_stores"]
    assert model.user_features == () and base.user_features == ("repeat", "new")
    assert model.feature_names == base.feature_names
    for kind in ("repeat", "new"):
        assert not set(USER_FEATURES) & set(model._features(kind))
        assert base._features(kind) == base.feature_names
