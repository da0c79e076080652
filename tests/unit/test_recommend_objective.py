"""NextBasketRanker: overlapping training windows (window_stride) and ranking objectives
(lambdarank over all of a user's candidates, or over its re-buys only)."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from ecomlib import recommend as rec
from ecomlib.errors import ParameterError
from ecomlib.recommend import ranker as ranker_mod
from ecomlib.recommend.ranker import _reorder

SMALL_TREES = {"min_child_samples": 5, "reg_lambda": 1.0}


def _spy_snapshots(monkeypatch) -> list:
    snaps = []
    original = ranker_mod._Snapshot.__init__

    def spy(self, frame, universe, end, params):
        original(self, frame, universe, end, params)
        snaps.append((frame, end))

    monkeypatch.setattr(ranker_mod._Snapshot, "__init__", spy)
    return snaps


def test_window_stride_overlapping_windows_no_future(tiny_ranker, weekly_baskets, monkeypatch):
    train = weekly_baskets(weeks=10)
    snaps = _spy_snapshots(monkeypatch)
    model = tiny_ranker(**SMALL_TREES, n_windows=3, window_stride=7).fit(train)
    end = pd.to_datetime(train["timestamp"]).max()
    day = pd.Timedelta(days=1)
    assert model.training_windows_ == 3
    assert model.windows_ == [(end - (14 + s) * day, end - s * day) for s in (0, 7, 14)]
    for (frame, cut), (start, _) in zip(snaps, model.windows_, strict=False):
        assert cut == start and pd.to_datetime(frame["timestamp"]).max() <= cut
    # default stride = window_days: back-to-back windows as before
    back = tiny_ranker(**SMALL_TREES, n_windows=2).fit(train)
    assert back.windows_ == [(end - 14 * day, end), (end - 28 * day, end - 14 * day)]
    with pytest.raises(ParameterError, match="window_stride"):
        rec.NextBasketRanker(window_stride=0)


def test_lambdarank_queries_are_users_and_lists_respect_k(tiny_ranker, weekly_baskets, monkeypatch):
    train = weekly_baskets(weeks=10)
    calls = []
    original = lgb.LGBMRanker.fit

    def spy(self, x, y, group=None, **kwargs):
        calls.append((x, np.asarray(y), np.asarray(group)))
        return original(self, x, y, group=group, **kwargs)

    monkeypatch.setattr(lgb.LGBMRanker, "fit", spy)
    snaps = _spy_snapshots(monkeypatch)
    model = tiny_ranker(**SMALL_TREES, objective="lambdarank", truncation_level=10).fit(train)
    assert set(model.models_) == {"joint"} and isinstance(model.models_["joint"], lgb.LGBMRanker)
    assert model.models_["joint"].get_params()["lambdarank_truncation_level"] == 10
    ((x, y, group),) = calls
    assert "new" in x.columns and x["new"].nunique() == 2  # re-buys and first purchases
    assert group.sum() == len(x) and set(np.unique(y)) == {0, 1}
    assert all(pd.to_datetime(f["timestamp"]).max() <= cut for f, cut in snaps)
    users = train["user_id"].unique()
    recs = model.recommend(users, k=3, exclude_seen=False)
    assert recs.groupby("user_id").size().max() <= 3
    assert (
        recs[recs["rank"] == 1]["item_id"].to_numpy()
        == recs[recs["rank"] == 1]["user_id"].to_numpy() % 3
    ).all()  # the staple first
    new = model.recommend(users, k=3, exclude_seen=True)
    seen = set(zip(train["user_id"], train["item_id"], strict=False))
    assert len(new) > 0 and not any(
        p in seen for p in zip(new["user_id"], new["item_id"], strict=False)
    )
    idx = np.sort(model.interactions_.user_index(users))
    scores = model.score(idx)
    assert np.isfinite(scores).all() and scores.max() < 1.0


@pytest.mark.parametrize("part", ["repeat", "new"])
def test_lambdarank_part_keeps_the_classifier_probabilities(tiny_ranker, weekly_baskets, part):
    train = weekly_baskets(weeks=10, seed=5)
    binary = tiny_ranker(**SMALL_TREES).fit(train)
    ranked = tiny_ranker(**SMALL_TREES, objective=f"lambdarank_{part}").fit(train)
    assert isinstance(ranked.models_[f"{part}_rank"], lgb.LGBMRanker)
    users = np.sort(binary.interactions_.user_index(train["user_id"].unique()))
    cand = binary._candidates(binary.snapshot_, users)
    a, b = binary.score(users), ranked.score(users)
    is_part = cand["new"].to_numpy() == (part == "new")
    rep, other = cand[is_part], cand[~is_part]
    r, i = rep["row"].to_numpy(), rep["i"].to_numpy()
    # each user's probabilities of that part are the same values, handed out in the
    # ranker's order; the other part's are untouched
    for row in np.unique(r):
        np.testing.assert_allclose(np.sort(a[row, i[r == row]]), np.sort(b[row, i[r == row]]))
    np.testing.assert_allclose(a[other["row"], other["i"]], b[other["row"], other["i"]])
    order = ranked._predict(f"{part}_rank", rep)
    for row in np.unique(r):
        sel = r == row
        assert (np.diff(b[row, i[sel]][np.argsort(-order[sel], kind="stable")]) <= 1e-12).all()


def test_reorder_and_bad_objective():
    row = np.array([0, 0, 0, 1, 1])
    prob = np.array([0.1, 0.5, 0.3, 0.9, 0.2])
    rank = np.array([3.0, 1.0, 2.0, -1.0, 0.0])
    np.testing.assert_allclose(_reorder(row, prob, rank), [0.5, 0.1, 0.3, 0.2, 0.9])
    with pytest.raises(ParameterError, match="objective"):
        rec.NextBasketRanker(objective="rank")
    with pytest.raises(ParameterError, match="truncation_level"):
        rec.NextBasketRanker(objective="lambdarank", truncation_level=0)
