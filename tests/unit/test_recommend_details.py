"""Purchase details (deals, quantity, spend) and store sales read by the ranker up to each cut
only, batched candidates and seed ensembles."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from ecomlib import recommend as rec
from ecomlib.errors import ParameterError
from ecomlib.recommend.signals import (
    DETAIL_FEATURES,
    STORE_FEATURES,
    PlannedSignals,
    PurchaseDetails,
    StoreSales,
)

T0 = pd.Timestamp("2017-01-02 06:00")
COLS = [
    "household_id",
    "store_id",
    "basket_id",
    "product_id",
    "transaction_timestamp",
    "quantity",
    "sales_value",
    "retail_disc",
    "coupon_disc",
]


def _lines(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLS)


def _con(lines: pd.DataFrame, promotions: pd.DataFrame | None = None):
    con = duckdb.connect()
    con.register("transactions", lines)
    if promotions is None:
        promotions = pd.DataFrame(
            {
                "product_id": [-1],
                "store_id": [-1],
                "display_location": ["0"],
                "mailer_location": ["0"],
                "week": [1],
            }
        )
    con.register("promotions", promotions)
    return con


def _shopping(n_users=24, weeks=10, seed=0) -> pd.DataFrame:
    """Weekly baskets: each user's staple (user % 3, bought on a deal by odd users) plus two
    random items."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        for w in range(weeks):
            ts = T0 + pd.Timedelta(days=7 * w + u % 4, hours=10)
            b = u * 1000 + w
            deal = -0.5 if u % 2 else 0.0
            rows.append((u, 10 + u % 2, b, u % 3, ts, 1 + u % 2, 2.0, deal, 0.0))
            for item in rng.choice(np.arange(20, 80), size=2, replace=False):
                rows.append((u, 10 + u % 2, b, int(item), ts, 1, 3.0, 0.0, 0.0))
    return _lines(rows)


def _interactions(lines: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": lines["household_id"],
            "item_id": lines["product_id"],
            "weight": 1.0,
            "timestamp": lines["transaction_timestamp"],
            "basket_id": lines["basket_id"],
        }
    )


def test_purchase_details_values_and_cut():
    lines = _lines(
        [
            (1, 10, 1, 100, T0, 2, 4.0, -1.0, 0.0),  # on a deal, 1/(4+1) = 0.2 off
            (1, 10, 2, 100, T0 + pd.Timedelta(days=1), 1, 2.0, 0.0, 0.0),
            (2, 10, 3, 100, T0 + pd.Timedelta(days=1), 1, 2.0, 0.0, -2.0),  # coupon
            (1, 10, 4, 101, T0 + pd.Timedelta(days=9), 5, 9.0, -9.0, 0.0),  # after the cut
        ]
    )
    details = PurchaseDetails(_con(lines))
    out = details.stats(T0 + pd.Timedelta(days=2), [1, 2, 3], [100, 101])
    pairs = out["pairs"].set_index(["u", "i"])
    assert sorted(pairs.index) == [(0, 0), (1, 0)]  # nothing of product 101 yet
    assert pairs.loc[(0, 0), "deal_share"] == pytest.approx(0.5)
    assert pairs.loc[(0, 0), "qty"] == pytest.approx(1.5)
    assert pairs.loc[(0, 0), "spend"] == pytest.approx(3.0)
    assert pairs.loc[(0, 0), "disc"] == pytest.approx(0.1)
    assert pairs.loc[(1, 0), "disc"] == pytest.approx(0.5)
    assert out["i_deal"][0] == pytest.approx(2 / 3)
    assert np.isnan(out["i_deal"][1])
    assert details.feature_names == DETAIL_FEATURES
    # a later cut sees the later line
    later = PurchaseDetails(_con(lines)).stats(T0 + pd.Timedelta(days=10), [1, 2], [100, 101])
    assert (0, 1) in set(zip(later["pairs"]["u"], later["pairs"]["i"], strict=True))


# smaller leaves and some L2, as ranker_emb uses
SMALL_TREES = {"min_child_samples": 5, "reg_lambda": 1.0}


class _Spy(PurchaseDetails):
    def __init__(self, con):
        super().__init__(con)
        self.calls = []

    def stats(self, end, user_ids, item_ids):
        self.calls.append(pd.Timestamp(end))
        return super().stats(end, user_ids, item_ids)


def test_ranker_with_purchase_details_reads_no_future(tiny_ranker):
    lines = _shopping()
    train = _interactions(lines)
    end = train["timestamp"].max()
    spy = _Spy(_con(lines))
    model = tiny_ranker(**SMALL_TREES, details=spy, signals=PlannedSignals(_con(lines))).fit(train)
    assert set(DETAIL_FEATURES) | {"promo_x_deal"} <= set(model.feature_names)
    # each training window reads the lines up to its cut; the final snapshot up to the end
    assert sorted(spy.calls) == sorted([cut for cut, _ in model.windows_] + [end])
    assert all(t <= end for t in spy.calls)
    users = train["user_id"].unique()
    recs = model.recommend(users, k=3, exclude_seen=False)
    # the staple is bought every week: it tops every list
    top = recs[recs["rank"] == 1]
    assert (top["item_id"].to_numpy() == top["user_id"].to_numpy() % 3).all()
    # lines after the end of training (big deals on everything) change nothing
    after = pd.concat(
        [
            lines,
            _lines(
                [
                    (u, 10, 10**6 + u, i, end + pd.Timedelta(days=1), 9, 1.0, -5.0, -1.0)
                    for u in users
                    for i in (0, 1, 2, 20)
                ]
            ),
        ]
    )
    again = tiny_ranker(
        **SMALL_TREES, details=PurchaseDetails(_con(after)), signals=PlannedSignals(_con(after))
    )
    again.fit(train)
    idx = model.interactions_.user_index(users)
    np.testing.assert_array_equal(model.score(idx), again.score(idx))
    # without details the deal features are absent
    assert "deal_share" not in tiny_ranker(**SMALL_TREES).feature_names


def test_bad_parameters():
    with pytest.raises(ParameterError, match="level"):
        rec.product_groups(level="colour")
    with pytest.raises(ParameterError, match="Unknown model"):
        rec.model_zoo("completejourney", ["ranker_dealz"])


def test_ranker_batched_candidates_match_unbatched(tiny_ranker):
    """Building candidates a few users at a time (the memory bound) changes no candidate,
    feature, row order or score."""
    lines = _shopping(n_users=14, weeks=8, seed=3)
    train = _interactions(lines)
    groups = pd.Series({i: ("staple" if i < 3 else f"g{i % 5}") for i in range(80)})
    settings = {
        **SMALL_TREES,
        "details": PurchaseDetails(_con(lines)),
        "signals": PlannedSignals(_con(lines)),
        "item_groups": groups,
    }
    whole = tiny_ranker(**settings, batch_users=None).fit(train)
    batched = tiny_ranker(**settings, batch_users=3).fit(train)
    users = whole.interactions_.user_index(train["user_id"].unique())
    for order in (np.sort(users), users[::-1]):
        a = whole._candidates(whole.snapshot_, order)
        b = batched._candidates(batched.snapshot_, order)
        key = ["new", "u", "i"]
        pd.testing.assert_frame_equal(
            a.sort_values(key).reset_index(drop=True), b.sort_values(key).reset_index(drop=True)
        )
    # sorted users (as in fit): the very same frame, row for row
    pd.testing.assert_frame_equal(
        whole._candidates(whole.snapshot_, np.sort(users)),
        batched._candidates(batched.snapshot_, np.sort(users)),
    )
    np.testing.assert_array_equal(whole.score(users), batched.score(users))
    bad = rec.NextBasketRanker(batch_users=0)  # stored as given; fit validates
    with pytest.raises(ParameterError, match="The 'batch_users' parameter .*; got 0"):
        bad.fit(train)
    with pytest.raises(ParameterError, match="batch_users"):
        whole.snapshot_.candidates(users, 5, 5, batch_users=-2)


def test_store_sales_values_and_cut():
    lines = _lines(
        [
            (1, 10, 1, 100, T0, 1, 2.0, 0.0, 0.0),
            (2, 10, 2, 101, T0 + pd.Timedelta(days=1), 1, 2.0, 0.0, 0.0),
            (2, 10, 3, 100, T0 + pd.Timedelta(days=2), 1, 2.0, 0.0, 0.0),
            (3, 11, 4, 102, T0 + pd.Timedelta(days=2), 1, 2.0, 0.0, 0.0),
            (1, 11, 5, 102, T0 + pd.Timedelta(days=3), 1, 2.0, 0.0, 0.0),
            (3, 10, 6, 103, T0 + pd.Timedelta(days=5), 1, 2.0, 0.0, 0.0),  # after the cut
        ]
    )
    stores = StoreSales(_con(lines), recent_days=28)
    cut = T0 + pd.Timedelta(days=4)
    stats = stores.stats(cut, [1, 2, 3], [100, 101, 102, 103])
    v = StoreSales.pair_values(stats, np.array([0, 0, 1, 2, 2]), np.array([0, 2, 1, 2, 3]))
    # household 1: half its baskets at store 10 (product 100 bought by both of its 2 shoppers)
    # and half at store 11 (product 102 by both of its 2 shoppers)
    np.testing.assert_allclose(v["h_pen"], [0.5, 0.5, 0.5, 1.0, 0.0])
    np.testing.assert_allclose(v["h_avail"], [0.5, 0.5, 1.0, 1.0, 0.0])  # 103 sold after cut
    dense = StoreSales.user_scores(stats, [0, 2])
    np.testing.assert_allclose(dense[:, 3], [0.0, 0.0])
    # a short recent period: only the last day before the cut counts
    short = StoreSales(_con(lines), recent_days=1.5).stats(cut, [1, 2, 3], [100, 101, 102, 103])
    assert short["s_avail"].sum() == 1  # product 102 at store 11 (day 3)
    with pytest.raises(ParameterError):
        StoreSales(recent_days=0)
    assert StoreSales.feature_names == STORE_FEATURES


def test_ranker_with_store_sales_reads_no_future(tiny_ranker):
    lines = _shopping(n_users=16, weeks=8, seed=5)
    train = _interactions(lines)
    end = train["timestamp"].max()
    settings = {**SMALL_TREES, "cycle": True}
    model = tiny_ranker(**settings, stores=StoreSales(_con(lines))).fit(train)
    assert {"h_pen", "h_avail", "i_gap", "overdue_i"} <= set(model.feature_names)
    users = model.interactions_.user_index(train["user_id"].unique())
    # lines after the end of training (new products everywhere) change no score
    later = pd.concat(
        [
            lines,
            _lines(
                [
                    (u, 10 + u % 2, 10**6 + u, 79, end + pd.Timedelta(days=1), 1, 1.0, 0.0, 0.0)
                    for u in range(16)
                ]
            ),
        ]
    )
    again = tiny_ranker(**settings, stores=StoreSales(_con(later))).fit(train)
    np.testing.assert_array_equal(model.score(users), again.score(users))


def test_zoo_ranker_emb_reads_the_shop_signals(monkeypatch):
    import ecomlib.recommend.interactions as interactions

    groups = pd.Series({1: "a", 2: "b"})
    monkeypatch.setattr(
        interactions, "product_groups", lambda con=None, level="product_type": groups.rename(level)
    )
    content = (np.arange(3), np.eye(3, dtype=np.float32))
    zoo = rec.model_zoo("completejourney", ["ranker_emb"], ranker_trees=30, content=content)
    model = zoo["ranker_emb"]
    assert model.n_estimators == 60 and model.min_child_samples == 200 and model.cycle
    assert model.learning_rate == 0.03 and model.reg_lambda == 10.0
    assert isinstance(model.stores, StoreSales) and isinstance(model.details, PurchaseDetails)
    assert isinstance(model.signals, PlannedSignals)
    assert model.item_groups.name == "product_type"
    assert {"h_pen", "i_gap", "g_affinity", "deal_share"} <= set(model.feature_names)
