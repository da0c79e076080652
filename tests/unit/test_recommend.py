"""ecomlib.recommend: metrics on hand-made cases, splits, interactions, models, user data."""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import pytest

from ecomlib import recommend as rec
from ecomlib.errors import DataError, ParameterError


# ---------------------------------------------------------------------- metrics
def _recs(rows):
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rank"])


def test_ranking_metrics_hand_computed():
    test = pd.DataFrame({"user_id": ["a", "a", "a", "b"], "item_id": [1, 2, 3, 5]})
    recs = _recs([("a", 1, 1), ("a", 9, 2), ("a", 2, 3), ("b", 7, 1), ("b", 5, 2), ("b", 8, 3)])
    m = rec.ranking_metrics(recs, test, k=3)
    ndcg_a = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3) + 1 / math.log2(4))
    ndcg_b = (1 / math.log2(3)) / 1.0
    assert m["precision@3"] == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert m["recall@3"] == pytest.approx((2 / 3 + 1) / 2)
    assert m["ndcg@3"] == pytest.approx((ndcg_a + ndcg_b) / 2)
    assert m["map"] == pytest.approx(((1 + 2 / 3) / 3 + 0.5) / 2)
    assert m["hit_rate@3"] == 1.0
    assert m["users"] == 2


def test_recall_denominators_and_missing_users():
    test = pd.DataFrame({"user_id": ["c"] * 5 + ["d"], "item_id": [1, 2, 3, 4, 5, 1]})
    recs = _recs([("c", 1, 1), ("c", 2, 2)])  # user d gets nothing -> counts as zero
    r1 = rec.ranking_metrics(recs, test, k=2, recall_denominator="relevant")
    r2 = rec.ranking_metrics(recs, test, k=2, recall_denominator="min_k")
    assert r1["recall@2"] == pytest.approx((2 / 5 + 0) / 2)
    assert r2["recall@2"] == pytest.approx((1.0 + 0) / 2)
    assert r2["ndcg@2"] == pytest.approx(0.5)
    # ranks beyond k are ignored
    deep = _recs([("c", 9, 1), ("c", 8, 2), ("c", 1, 3)])
    assert rec.ranking_metrics(deep, test, k=2)["hit_rate@2"] == 0.0


def test_metric_bad_input():
    test = pd.DataFrame({"user_id": [1], "item_id": [1]})
    with pytest.raises(ParameterError):
        rec.ranking_metrics(_recs([(1, 1, 1)]), test, k=0)
    with pytest.raises(ParameterError):
        rec.ranking_metrics(_recs([(1, 1, 1)]), test, recall_denominator="x")
    with pytest.raises(DataError, match="rank"):
        rec.ranking_metrics(pd.DataFrame({"user_id": [1], "item_id": [1]}), test)


def test_coverage_novelty_new_items():
    recs = _recs([(1, 1, 1), (1, 2, 2), (2, 1, 1), (2, 3, 2)])
    assert rec.coverage(recs, n_items=10) == pytest.approx(0.3)
    assert rec.coverage(recs, n_items=10, k=1) == pytest.approx(0.1)
    train = pd.DataFrame({"user_id": [1, 2, 3, 4, 1, 2], "item_id": [2, 2, 2, 2, 1, 1]})
    # item 1: 2/4 users -> 1 bit; item 2: 4/4 -> 0 bits; item 3 unseen -> 1/4 -> 2 bits
    assert rec.novelty(recs, train) == pytest.approx((1 + 0 + 1 + 2) / 4)
    test = pd.DataFrame({"user_id": [1, 1, 3], "item_id": [1, 7, 2]})
    assert rec.new_items_only(test, train)["item_id"].tolist() == [7]


# ---------------------------------------------------------------------- interactions, splits
@pytest.fixture
def tiny() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    t0 = pd.Timestamp("2024-01-01")
    for u in range(12):
        group = u % 2  # two taste groups
        items = rng.choice(np.arange(group * 10, group * 10 + 10), size=6, replace=False)
        for j, i in enumerate(items):
            rows.append(
                (
                    f"u{u}",
                    int(i),
                    float(1 + j % 5),
                    t0 + pd.Timedelta(days=int(j * 7 + u)),
                    u * 100 + j // 2,
                )
            )
    return pd.DataFrame(rows, columns=["user_id", "item_id", "weight", "timestamp", "basket_id"])


def test_interactions_maps_both_ways(tiny):
    inter = rec.Interactions(tiny)
    assert inter.matrix.shape == (12, tiny["item_id"].nunique())
    idx = inter.user_index(["u3", "u0"])
    assert inter.user_ids[idx].tolist() == ["u3", "u0"]
    assert inter.item_ids[inter.item_index([5])][0] == 5
    assert inter.user_index(["nobody"], missing="ignore")[0] == -1
    with pytest.raises(ParameterError, match="unknown user"):
        inter.user_index(["nobody"])
    dup = pd.concat([tiny.iloc[:1], tiny.iloc[:1]])
    assert rec.Interactions(dup).matrix.sum() == pytest.approx(2 * tiny["weight"].iloc[0])


def test_per_user_random_split(tiny):
    train, test = rec.per_user_random_split(tiny, 0.75, seed=42)
    assert len(train) + len(test) == len(tiny)
    pairs_tr = set(zip(train["user_id"], train["item_id"], strict=False))
    assert not pairs_tr & set(zip(test["user_id"], test["item_id"], strict=False))
    # each user: round(0.75 * 6) = 4 (numpy rounds 4.5 to 4) in train
    assert (train.groupby("user_id").size() == 4).all()
    again, _ = rec.per_user_random_split(tiny, 0.75, seed=42)
    assert again.equals(train)
    other, _ = rec.per_user_random_split(tiny, 0.75, seed=7)
    assert not other.equals(train)
    with pytest.raises(ParameterError):
        rec.per_user_random_split(tiny, 1.5)


def test_temporal_split_keeps_order(tiny):
    train, test = rec.temporal_split(tiny, test_days=10, min_item_count=1)
    assert train["timestamp"].max() < test["timestamp"].min()
    assert test["timestamp"].min() > tiny["timestamp"].max() - pd.Timedelta(days=10)
    train5, _ = rec.temporal_split(tiny, test_days=10, min_item_count=3)
    assert (train5["item_id"].value_counts() >= 3).all()
    common = rec.common_users(train, test)
    assert set(common["user_id"]) <= set(train["user_id"])
    with pytest.raises(DataError):
        rec.temporal_split(tiny.drop(columns="timestamp"))


# ---------------------------------------------------------------------- models
MODELS = [
    lambda: rec.Popularity(),
    lambda: rec.Popularity(half_life_days=7),
    lambda: rec.BuyAgain(),
    lambda: rec.BuyAgain(half_life_days=14, repeat_exponent=0.5),
    lambda: rec.ItemKNN(neighbours=5, shrink=1),
    lambda: rec.ItemKNN(neighbours=5, max_items=8, half_life_days=10),
    lambda: rec.RP3beta(neighbours=5),
    lambda: rec.EASE(lam=5),
    lambda: rec.EASE(lam=5, max_items=8, weight_power=0.5, pop_exponent=-0.1),
    lambda: rec.ALS(factors=4, iterations=3),
    lambda: rec.TwoTower(dim=8, epochs=2, batch_size=4, device="cpu"),
    lambda: rec.GRUSequence(
        dim=8, max_baskets=4, max_items=4, epochs=2, batch_size=4, vocab_size=10, device="cpu"
    ),
]


@pytest.mark.parametrize("factory", MODELS)
def test_model_contract(tiny, factory):
    model = factory().fit(tiny)
    users = ["u0", "u1", "u5"]
    recs = model.recommend(users, k=3)
    assert list(recs.columns) == ["user_id", "item_id", "score", "rank"]
    assert (recs.groupby("user_id").size() <= 3).all()
    assert set(recs["user_id"]) <= set(users)
    seen = set(zip(tiny["user_id"], tiny["item_id"], strict=False))
    assert not seen & set(zip(recs["user_id"], recs["item_id"], strict=False))
    for _, g in recs.groupby("user_id"):
        assert g["rank"].tolist() == list(range(1, len(g) + 1))
        assert g["score"].is_monotonic_decreasing
    with_seen = model.recommend(["u0"], k=20, exclude_seen=False)
    assert len(with_seen) == min(20, tiny["item_id"].nunique())
    with pytest.raises(ParameterError, match="unknown user"):
        model.recommend(["stranger"], k=3)
    fallback = model.recommend(["stranger", "u0"], k=2, unknown="popular")
    assert set(fallback["user_id"]) == {"stranger", "u0"}
    assert model.recommend(["stranger"], k=2, unknown="skip").empty
    with pytest.raises(ParameterError):
        model.recommend(["u0"], k=0)


def test_models_learn_taste_groups(tiny):
    """Users of group 0 only touch items 0-9: a working CF model recommends from there."""
    for model in (rec.EASE(lam=1), rec.ItemKNN(neighbours=10), rec.RP3beta(neighbours=10)):
        recs = model.fit(tiny).recommend(["u0", "u2", "u4"], k=2)
        assert (recs["item_id"] < 10).all(), type(model).__name__


def test_not_fitted_and_bad_fit_input():
    with pytest.raises(rec.NotFittedError):
        rec.EASE().recommend([1])
    with pytest.raises(ParameterError):
        rec.EASE().fit([1, 2, 3])


def test_buy_again_ranks_own_items_first(tiny):
    recs = rec.BuyAgain().fit(tiny).recommend(["u0"], k=8, exclude_seen=False)
    own = set(tiny.loc[tiny["user_id"] == "u0", "item_id"])
    assert set(recs["item_id"].iloc[: len(own)]) == own


def test_items_restriction(tiny):
    recs = rec.Popularity().fit(tiny).recommend(["u0", "u1"], k=5, items=[3, 13, 999])
    assert set(recs["item_id"]) <= {3, 13}


def test_content_and_blend_serve_cold_items(tiny):
    items = np.arange(25)  # 20-24 were never interacted with
    rng = np.random.default_rng(1)
    vectors = 0.1 * rng.normal(size=(25, 6)).astype(np.float32)
    vectors[:10, 0] += 1.0  # group 0's items point along axis 0, group 1's along axis 1
    vectors[10:20, 1] += 1.0
    vectors[20:] = np.eye(6, dtype=np.float32)[[0, 1, 2, 3, 4]]  # cold item 20 ~ group 0
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    content = rec.ContentBased(items, vectors).fit(tiny)
    cold = content.recommend(["u0", "u2", "u1"], k=1, items=[20, 21, 22, 23, 24])
    assert cold["item_id"].tolist() == [20, 20, 21]
    blend = rec.Blend([rec.EASE(lam=1), rec.ContentBased(items, vectors)], [1.0, 0.5]).fit(tiny)
    assert len(blend.item_ids_) == 25
    out = blend.recommend(["u0"], k=3, items=[20, 21, 22, 23, 24])
    assert len(out) == 3
    # small user batches (the memory-saving default) give the same lists as one batch
    users = ["u0", "u2", "u1"]
    pd.testing.assert_frame_equal(
        blend.recommend(users, k=4, batch_size=1), blend.recommend(users, k=4, batch_size=1024)
    )
    with pytest.raises(ParameterError, match="The 'weights' parameter of Blend"):
        rec.Blend([rec.EASE()], [1.0, 2.0]).fit(tiny)
    with pytest.raises(ParameterError, match="The 'models' parameter of Blend .*; got \\[\\]"):
        rec.Blend([], []).fit(tiny)
    with pytest.raises(ParameterError, match="The 'vectors' parameter of ContentBased"):
        rec.ContentBased([1, 2], np.zeros((3, 2))).fit(tiny)
    with pytest.raises(ParameterError, match="unique IDs; got 1 repeated"):
        rec.ContentBased([1, 1], np.zeros((2, 2))).fit(tiny)


def test_model_zoo_names():
    zoo = rec.model_zoo("movielens", ["ease", "popularity"])
    assert list(zoo) == ["ease", "popularity"]
    with pytest.raises(ParameterError, match="Unknown model"):
        rec.model_zoo("movielens", ["nope"])
    with pytest.raises(ParameterError):
        rec.model_zoo("completejourney", ["hybrid"])  # needs content vectors
    with pytest.raises(ParameterError):
        rec.model_zoo("netflix")


def test_evaluate_models(tiny):
    train, test = rec.per_user_random_split(tiny, 0.75, seed=1)
    inter = rec.Interactions(train)
    board, recs = rec.evaluate_models(
        {"pop": rec.Popularity(), "ease": rec.EASE(lam=1)},
        inter,
        test,
        k=3,
        extra_tests={"again": (test, False)},
        trace_memory=True,
    )
    assert list(board.index) == ["pop", "ease"]
    for col in (
        "ndcg@3",
        "map",
        "coverage",
        "novelty",
        "fit_s",
        "again recall@3",
        "peak_mb",
    ):
        assert col in board
    assert set(recs) == {"pop", "ease"}
    assert not any(c.endswith((" low", " high")) for c in board)  # no intervals unless asked
    with_ci, _ = rec.evaluate_models(
        {"ease": rec.EASE(lam=1)}, inter, test, k=3, extra_tests={"again": (test, False)}, ci=0.9
    )
    for metric in ("recall@3", "ndcg@3", "again recall@3"):
        low, mid, high = with_ci.loc["ease", [f"{metric} low", metric, f"{metric} high"]]
        assert low <= mid <= high
    assert with_ci.loc["ease", "recall@3 low"] < with_ci.loc["ease", "recall@3 high"]
    assert with_ci.loc["ease", "ndcg@3"] == pytest.approx(board.loc["ease", "ndcg@3"])


# ---------------------------------------------------------------------- user data
def test_read_interactions_valid(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("customer,sku,when\n1,a,2024-01-01\n1,b,2024-01-02\n2,a,2024-01-03\n")
    frame = rec.read_interactions(
        path, {"customer": "user_id", "sku": "item_id", "when": "timestamp"}
    )
    assert list(frame.columns) == ["user_id", "item_id", "timestamp", "weight"]
    assert (frame["weight"] == 1.0).all()
    assert pd.api.types.is_datetime64_any_dtype(frame["timestamp"])
    model = rec.Popularity().fit(frame)
    assert model.recommend([2], k=1)["item_id"].tolist() == ["b"]


@pytest.mark.parametrize(
    "text, match",
    [
        ("user_id,item_id\n1,\n2,b\n", "item_id"),
        ("user_id,product\n1,a\n", "item_id"),
        ("user_id,item_id,weight\n1,a,-2\n2,b,1\n", "weight"),
        ("user_id,item_id,weight\n1,a,lots\n", "weight"),
        ("user_id,item_id,timestamp\n1,a,not-a-date\n", "timestamp"),
    ],
)
def test_read_interactions_rejects_bad_files(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=match) as info:
        rec.read_interactions(path)
    assert "bad.csv" in str(info.value)


def test_canonical_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        rec.read_interactions(tmp_path / "nope.csv")


# ---------------------------------------------------------------------- next-basket models
NEXT_BASKET = [
    lambda: rec.TIFUKNN(group_size=2, neighbours=3, alpha=0.7),
    lambda: rec.NextBasketRanker(
        window_days=7,
        n_windows=2,
        n_repeat=5,
        n_new=5,
        max_items=8,
        neighbours=3,
        n_estimators=5,
    ),
]


@pytest.mark.parametrize("factory", NEXT_BASKET)
def test_next_basket_model_contract(tiny, factory):
    test_model_contract(tiny, factory)


def _staples(n_users: int = 30, weeks: int = 12, seed: int = 0) -> pd.DataFrame:
    """Every user buys their own staple (item = user % 3) every week plus two random one-off
    items (10-209) per basket."""
    rng = np.random.default_rng(seed)
    rows, t0 = [], pd.Timestamp("2024-01-01")
    for u in range(n_users):
        for w in range(weeks):
            ts = t0 + pd.Timedelta(days=7 * w + u % 5)
            basket = u * 1000 + w
            rows.append((u, u % 3, 1.0, ts, basket))
            for item in rng.choice(np.arange(10, 210), size=2, replace=False):
                rows.append((u, int(item), 1.0, ts, basket))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "weight", "timestamp", "basket_id"])


def test_tifu_weights_decay_with_basket_age():
    frame = _staples(n_users=3, weeks=6)
    model = rec.TIFUKNN(group_size=2, within_decay=0.5, group_decay=0.5, neighbours=1, alpha=1.0)
    model.fit(frame)
    inter = model.interactions_
    # user 0's staple (bought in all 6 baskets) outweighs any one-off item
    row = model.own_[inter.user_index([0])[0]].toarray().ravel()
    staple = inter.item_index([0])[0]
    assert row[staple] == pytest.approx(row.max())
    # 6 baskets, groups of 2 -> 3 groups: (1 + .5) * (1 + .5 + .25) / (2 * 3)
    assert row[staple] == pytest.approx(1.5 * 1.75 / 6)
    recs = model.recommend([0, 1, 2], k=1, exclude_seen=False)
    assert recs["item_id"].tolist() == [0, 1, 2]
    with pytest.raises(ParameterError, match="The 'alpha' parameter of TIFUKNN .*; got 1.5"):
        rec.TIFUKNN(alpha=1.5).fit(frame)
    with pytest.raises(ParameterError, match="The 'neighbours' parameter of TIFUKNN .*; got 0"):
        rec.TIFUKNN(neighbours=0).fit(frame)
    with pytest.raises(DataError, match="timestamp"):
        rec.TIFUKNN().fit(frame.drop(columns="timestamp"))


def test_ranker_learns_staples_and_uses_only_training_data():
    frame = _staples()
    train, test = rec.temporal_split(frame, test_days=7, min_item_count=1)
    model = rec.NextBasketRanker(
        window_days=7,
        n_windows=3,
        n_repeat=10,
        n_new=10,
        max_items=50,
        neighbours=5,
        n_estimators=20,
    ).fit(train)
    # every training example (features and labels) comes from before the end of train
    end = train["timestamp"].max()
    assert model.snapshot_end_ == end
    assert len(model.windows_) == 3
    assert all(stop <= end for _, stop in model.windows_)
    assert model.windows_[0][1] == end
    # the staple is bought every week: it must top every list; with exclude_seen only
    # never-bought items are offered
    users = test["user_id"].unique()
    recs = model.recommend(users, k=1, exclude_seen=False)
    assert (recs["item_id"].to_numpy() == recs["user_id"].to_numpy() % 3).all()
    new = model.recommend(users, k=3, exclude_seen=True)
    seen = set(zip(train["user_id"], train["item_id"], strict=False))
    assert not seen & set(zip(new["user_id"], new["item_id"], strict=False))
    with pytest.raises(DataError, match="history"):
        rec.NextBasketRanker(window_days=400).fit(train)
    with pytest.raises(ParameterError, match="The 'n_windows' parameter .*; got 0"):
        rec.NextBasketRanker(n_windows=0).fit(train)


@pytest.mark.parametrize(
    "kwargs, got",
    [
        ({"window_days": 0}, "0"),
        ({"n_windows": 0}, "0"),
        ({"n_repeat": -1}, "-1"),
        ({"n_new": 0}, "0"),
        ({"batch_users": 0}, "0"),
        ({"user_features": ("users",)}, "\\('users',\\)"),
        ({"embeddings": [1, 2]}, "\\[1, 2\\]"),
        ({"embedding_days": -7}, "-7"),
    ],
)
def test_ranker_constructor_stores_and_fit_validates(kwargs, got):
    """A bad value does not stop the constructor; fit names the parameter and the value."""
    model = rec.NextBasketRanker(**kwargs)
    (name, value) = next(iter(kwargs.items()))
    assert getattr(model, name) is value  # stored as given
    with pytest.raises(
        ParameterError, match=rf"The '{name}' parameter of NextBasketRanker .*got {got}\."
    ):
        model.fit(_staples(n_users=3, weeks=4))


def test_ranker_windows_back_to_back_and_snapshots_read_no_future(
    tiny_ranker, weekly_baskets, monkeypatch
):
    from ecomlib.recommend import ranker as ranker_mod

    train = weekly_baskets(weeks=10)
    snaps = []
    original = ranker_mod._Snapshot.__init__

    def spy(self, frame, universe, end, params):
        original(self, frame, universe, end, params)
        snaps.append((frame, end))

    monkeypatch.setattr(ranker_mod._Snapshot, "__init__", spy)
    model = tiny_ranker(min_child_samples=5, reg_lambda=1.0, n_windows=3).fit(train)
    end = pd.to_datetime(train["timestamp"]).max()
    day = pd.Timedelta(days=1)
    # label windows of window_days, back to back, the latest ending at the end of training
    assert model.training_windows_ == 3
    assert model.windows_ == [(end - 14 * (w + 1) * day, end - 14 * w * day) for w in range(3)]
    # each window's snapshot reads the purchases up to its cut only; the final one up to the end
    assert [cut for _, cut in snaps] == [start for start, _ in model.windows_] + [end]
    assert all(pd.to_datetime(frame["timestamp"]).max() <= cut for frame, cut in snaps)


def test_grid_search_on_validation(tiny):
    train, test = rec.per_user_random_split(tiny, 0.75, seed=1)
    inner, val = rec.per_user_random_split(train, 0.75, seed=1)
    best, table = rec.grid_search(
        lambda lam, pop_exponent: rec.EASE(lam=lam, pop_exponent=pop_exponent),
        {"lam": [1.0, 100.0], "pop_exponent": [0.0, -0.5]},
        inner,
        val,
        k=3,
        metric="ndcg@3",
    )
    assert len(table) == 4
    assert table["ndcg@3"].is_monotonic_decreasing
    assert best == {k: table.iloc[0][k] for k in ("lam", "pop_exponent")}
    assert set(val["user_id"]) <= set(inner["user_id"])
    with pytest.raises(ParameterError):
        rec.grid_search(rec.EASE, {}, inner, val)
    with pytest.raises(ParameterError, match="metric"):
        rec.grid_search(rec.EASE, {"lam": [1.0]}, inner, val, metric="auc")


def test_ranker_item_groups():
    frame = _staples(n_users=20, weeks=8)
    groups = pd.Series({i: ("staple" if i < 10 else f"g{i % 4}") for i in range(210)})
    model = rec.NextBasketRanker(
        window_days=7,
        n_windows=2,
        n_repeat=10,
        n_new=10,
        max_items=50,
        neighbours=5,
        n_estimators=20,
        item_groups=groups,
    ).fit(frame)
    assert {"g_s60", "g_share"} <= set(model.feature_names)
    recs = model.recommend([0, 1, 2], k=1, exclude_seen=False)
    assert recs["item_id"].tolist() == [0, 1, 2]


def test_ease_inplace_weights_match_reference():
    """The low-memory EASE solve (used above 3,000 items) gives the textbook weights."""
    import scipy.sparse as sp

    from ecomlib.recommend.models import _ease_weights_inplace

    x = sp.random(120, 40, density=0.1, random_state=1, format="csr", dtype=np.float32)
    x.data[:] = 1.0
    gram = (x.T @ x).toarray().astype(np.float64) + 3.0 * np.eye(40)
    p = np.linalg.inv(gram)
    ref = p / (-np.diag(p))
    np.fill_diagonal(ref, 0.0)
    out = _ease_weights_inplace(x, 3.0, block=16)  # several user blocks
    assert out.dtype == np.float32 and out.shape == (40, 40)
    np.testing.assert_allclose(out, ref, atol=1e-5)
    assert np.all(np.diag(out) == 0.0)


def test_per_user_metrics_and_bootstrap_ci():
    test = pd.DataFrame({"user_id": ["a", "a", "a", "b"], "item_id": [1, 2, 3, 5]})
    recs = _recs([("a", 1, 1), ("a", 9, 2), ("a", 2, 3), ("b", 7, 1), ("b", 5, 2), ("b", 8, 3)])
    per_user = rec.per_user_metrics(recs, test, k=3)
    assert per_user.loc["a", "recall@3"] == pytest.approx(2 / 3)
    assert per_user.loc["b", "recall@3"] == pytest.approx(1.0)
    assert per_user.loc["b", "map"] == pytest.approx(0.5)
    mean = rec.ranking_metrics(recs, test, k=3)
    assert per_user.mean().to_dict() == pytest.approx({c: mean[c] for c in per_user.columns})
    # bootstrap of the mean: inside the values' range, around the mean, narrower with more users
    rng = np.random.default_rng(1)
    values = rng.binomial(1, 0.4, size=2000).astype(float)
    low, high = rec.bootstrap_ci(values)
    assert 0.0 <= low < values.mean() < high <= 1.0
    se = values.std() / np.sqrt(len(values))
    assert high - low == pytest.approx(2 * 1.96 * se, rel=0.15)
    small_low, small_high = rec.bootstrap_ci(values[:200])
    assert small_high - small_low > 2 * (high - low)
    assert rec.bootstrap_ci(values, seed=3) == rec.bootstrap_ci(values, seed=3)
    # 2-D: one interval per column from the same resamples (paired: a constant shift keeps
    # its interval width at zero in the difference)
    two = np.c_[values, values + 0.1]
    lows, highs = rec.bootstrap_ci(two)
    assert lows[1] - lows[0] == pytest.approx(0.1) and highs[1] - highs[0] == pytest.approx(0.1)
    assert rec.bootstrap_ci(two[:, 1] - two[:, 0]) == pytest.approx((0.1, 0.1))
    with pytest.raises(ParameterError, match="level"):
        rec.bootstrap_ci(values, level=1.5)
    # paired differences: b beats a by one hit (of 2 relevant) for user "a" only
    better = _recs([("a", 1, 1), ("a", 3, 2), ("a", 2, 3), ("b", 7, 1), ("b", 5, 2), ("b", 8, 3)])
    gaps = rec.paired_differences({"a": recs, "b": better}, test, "a", k=3)
    assert list(gaps.index) == ["b"]
    assert gaps.loc["b", "gap"] == pytest.approx((1 / 3 + 0) / 2)
    low, gap, high = gaps.loc["b", ["low", "gap", "high"]]
    assert 0.0 <= low <= gap <= high <= 1 / 3 + 1e-12
    with pytest.raises(ParameterError, match="reference"):
        rec.paired_differences({"a": recs}, test, "zz")
    with pytest.raises(ParameterError, match="metric"):
        rec.paired_differences({"a": recs, "b": better}, test, "a", metric="auc")
    with pytest.raises(DataError, match="finite"):
        rec.bootstrap_ci([0.1, float("nan")])


def test_peak_memory_sees_a_native_allocation():
    from ecomlib.recommend.evaluate import PeakMemory

    memory = PeakMemory(interval=0.005).start()
    block = np.ones(40_000_000)  # 305 MB, written so that its pages are resident
    time.sleep(0.05)
    del block
    assert 250 < memory.stop() < 1000


def test_top_k_columns_on_threads_equal_one_argpartition():
    from ecomlib.recommend.models import top_k_columns

    scores = np.random.default_rng(3).random((700, 300)).astype(np.float32)
    scores[:, :40] = 0.5  # ties
    expected = np.argpartition(-scores, 4, axis=1)[:, :5]
    assert np.array_equal(top_k_columns(scores, 5, rows_per_block=64), expected)
    assert np.array_equal(top_k_columns(scores[:10], 5), expected[:10])
