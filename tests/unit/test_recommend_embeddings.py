"""Text-embedding similarity features of the next-basket ranker: values, no look-ahead past
each cut, and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from ecomlib import recommend as rec
from ecomlib.errors import DataError, ParameterError
from ecomlib.recommend import ranker as ranker_mod
from ecomlib.recommend.ranker import EMBEDDING_FEATURES, embedding_similarity, item_vectors

SMALL_TREES = {"min_child_samples": 5, "reg_lambda": 1.0}


def _vectors(item_ids, dim=8, seed=0):
    """Random unit vectors; items 3, 4, 5 point almost like 0, 1, 2 (look-alikes)."""
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(len(item_ids), dim)).astype(np.float32)
    pos = {item: j for j, item in enumerate(item_ids)}
    for a in (0, 1, 2):
        if a in pos and a + 3 in pos:
            v[pos[a + 3]] = v[pos[a]] + 0.05 * v[pos[a + 3]]
    return np.asarray(item_ids), v


def test_item_vectors_align_normalise_and_bad_input():
    ids = np.array([10, 20, 30])
    vecs = np.array([[3.0, 4.0], [0.0, 2.0], [0.0, 0.0]])
    out = item_vectors(ids, vecs, [30, 20, 99, 10])
    np.testing.assert_allclose(out, [[0, 0], [0, 1], [0, 0], [0.6, 0.8]], atol=1e-7)
    assert out.dtype == np.float32
    with pytest.raises(ParameterError, match="one row"):
        item_vectors(ids[:2], vecs, ids)
    with pytest.raises(ParameterError, match="one row"):
        item_vectors(ids, vecs[:, 0], ids)
    with pytest.raises(DataError, match="NaN"):
        item_vectors(ids, np.array([[1.0, np.nan], [0, 1], [1, 0]]), ids)
    with pytest.raises(ParameterError, match="unique"):
        item_vectors(np.array([1, 1, 2]), vecs, ids)


def test_embedding_similarity_values():
    vectors = np.array([[1, 0], [0, 1], [0.6, 0.8], [0, 0]], np.float32)  # item 3: no vector
    profile = np.array([[1, 0], [0, 0], [0, 1]], np.float32)  # user 1: no profile
    # user 0 bought items 0 and 1 lately, user 2 only item 2, user 1 nothing
    recent = sp.csr_matrix(np.array([[1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 1, 0]], np.float32))
    users = np.array([0, 2, 1])
    rows = np.array([0, 0, 0, 1, 1, 2])
    items = np.array([0, 2, 3, 2, 0, 1])
    prof, near = embedding_similarity(vectors, profile, recent, users, rows, items)
    np.testing.assert_allclose(prof, [1.0, 0.6, np.nan, 0.8, 0.0, np.nan], atol=1e-6)
    # item 0 for user 0: its own purchase does not count, item 1 is orthogonal -> 0;
    # item 2: max(0.6, 0.8); item 3 has no vector; user 2's only recent item is item 2 itself
    np.testing.assert_allclose(near, [0.0, 0.8, np.nan, np.nan, 0.6, np.nan], atol=1e-6)


def test_ranker_embeddings_read_no_future(tiny_ranker, weekly_baskets, monkeypatch):
    train = weekly_baskets()
    emb = _vectors(np.arange(0, 40))
    snaps = []
    original = ranker_mod._Snapshot.__init__

    def spy(self, frame, universe, end, params):
        original(self, frame, universe, end, params)
        snaps.append((self, frame, end))

    monkeypatch.setattr(ranker_mod._Snapshot, "__init__", spy)
    model = tiny_ranker(**SMALL_TREES, embeddings=emb, embedding_days=21).fit(train)
    assert set(EMBEDDING_FEATURES) <= set(model.feature_names)
    assert len(snaps) == model.training_windows_ + 1
    vectors = model.vectors_
    for snap, frame, end in snaps:
        ts = pd.to_datetime(frame["timestamp"])
        assert ts.max() <= end  # each snapshot sees the purchases up to its cut only
        # "bought lately" = within embedding_days before the cut, from those rows only
        age = (end - ts).dt.total_seconds() / 86400
        lately = frame[(age < 21).to_numpy()]
        expected = sp.csr_matrix(
            (np.ones(len(lately)), (lately["user_idx"], lately["item_idx"])),
            shape=snap.emb_recent.shape,
        )
        expected.data[:] = 1.0
        assert (snap.emb_recent != (expected > 0)).nnz == 0
        # the profile is the unit 60-day-decayed mean of the vectors of those rows' items
        w = np.power(0.5, age.to_numpy() / 60.0)
        prof = np.zeros((snap.emb_profile.shape[0], vectors.shape[1]))
        np.add.at(prof, frame["user_idx"].to_numpy(), w[:, None] * vectors[frame["item_idx"]])
        prof /= np.maximum(np.linalg.norm(prof, axis=1, keepdims=True), 1e-12)
        np.testing.assert_allclose(snap.emb_profile, prof, atol=1e-5)
    # the look-alike of a user's staple is close to what it bought lately
    users = np.sort(model.interactions_.user_index(train["user_id"].unique()))
    cand = model._candidates(model.snapshot_, users)
    inter = model.interactions_
    own = inter.item_index(inter.user_ids[cand["u"].to_numpy()] % 3 + 3)
    look = cand[cand["i"].to_numpy() == own]
    assert len(look) > 0 and (look["emb_recent"] > 0.95).all()
    other = cand[cand["i"].isin(inter.item_index([3, 4, 5])) & (cand["i"].to_numpy() != own)]
    assert len(other) > 0 and (other["emb_recent"] < look["emb_recent"].min()).all()
    scores = model.score(users)
    assert np.isfinite(scores).all()
    recs = model.recommend(train["user_id"].unique(), k=1, exclude_seen=False)
    assert (recs["item_id"].to_numpy() == recs["user_id"].to_numpy() % 3).all()
    off = tiny_ranker(**SMALL_TREES).fit(train)
    assert not set(EMBEDDING_FEATURES) & set(off.feature_names)


def test_ranker_embeddings_bad_input(tiny_ranker, weekly_baskets):
    train = weekly_baskets(n_users=8, weeks=6)
    with pytest.raises(ParameterError, match="tuple"):
        rec.NextBasketRanker(embeddings=np.zeros((3, 2))).fit(train)
    with pytest.raises(ParameterError, match="embedding_days"):
        rec.NextBasketRanker(embedding_days=0).fit(train)
    ids, vecs = _vectors(np.arange(0, 40))
    with pytest.raises(ParameterError, match="one row"):
        tiny_ranker(**SMALL_TREES, embeddings=(ids[:5], vecs)).fit(train)
    bad = vecs.copy()
    bad[3, 0] = np.inf
    with pytest.raises(DataError, match="NaN or infinite"):
        tiny_ranker(**SMALL_TREES, embeddings=(ids, bad)).fit(train)
    # items without a vector are allowed: their features are NaN
    model = tiny_ranker(**SMALL_TREES, embeddings=(ids[:20], vecs[:20])).fit(train)
    users = np.sort(model.interactions_.user_index(train["user_id"].unique()))
    cand = model._candidates(model.snapshot_, users)
    no_vec = cand["i"].isin(model.interactions_.item_index(np.arange(20, 40), missing="ignore"))
    assert cand.loc[no_vec, "emb_profile"].isna().all()
    assert cand.loc[~no_vec, "emb_profile"].notna().all()


def test_zoo_ranker_emb_settings(monkeypatch):
    import ecomlib.recommend.interactions as interactions

    groups = pd.Series({1: "a", 2: "b"})
    monkeypatch.setattr(
        interactions, "product_groups", lambda con=None, level="product_type": groups.rename(level)
    )
    content = _vectors(np.arange(0, 10))
    model = rec.model_zoo("completejourney", ["ranker_emb"], ranker_trees=30, content=content)[
        "ranker_emb"
    ]
    assert model.user_features == () and model.embeddings is not None
    assert model.n_windows == 2  # 3 windows: a tie for 40% more fit time
    assert model.feature_names[-2:] == list(EMBEDDING_FEATURES)
    with pytest.raises(ParameterError, match="ranker_emb"):
        rec.model_zoo("completejourney", ["ranker_emb"])  # needs the text vectors
