"""Planned promotion / coupon signals, their use by the ranker (no leakage) and the new-item
scorer."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from ecomlib import recommend as rec
from ecomlib.errors import ParameterError
from ecomlib.recommend.signals import WEEK_ORIGIN, PlannedSignals, week_of, week_origin

T0 = pd.Timestamp("2017-01-02 06:00")  # Monday of week 2


def _con(transactions, promotions, campaigns=None, descriptions=None, coupons=None):
    con = duckdb.connect()
    con.register("transactions", transactions)
    con.register("promotions", promotions)
    con.register(
        "campaigns",
        campaigns
        if campaigns is not None
        else pd.DataFrame({"campaign_id": [0], "household_id": [-1]}),
    )
    con.register(
        "campaign_descriptions",
        descriptions
        if descriptions is not None
        else pd.DataFrame(
            {"campaign_id": [0], "campaign_type": ["A"], "start_date": [T0], "end_date": [T0]}
        ),
    )
    con.register(
        "coupons",
        coupons
        if coupons is not None
        else pd.DataFrame({"coupon_upc": [0], "product_id": [-1], "campaign_id": [0]}),
    )
    return con


def _transactions(rows):
    return pd.DataFrame(
        rows,
        columns=["household_id", "store_id", "basket_id", "product_id", "transaction_timestamp"],
    )


def _promo(rows):
    return pd.DataFrame(
        rows, columns=["product_id", "store_id", "display_location", "mailer_location", "week"]
    )


def test_week_of_complete_journey_calendar():
    stamps = ["2017-01-01 11:53", "2017-01-02 05:05", "2017-12-04 05:10", "2018-01-01 04:00"]
    assert week_of(stamps).tolist() == [1, 2, 50, 53]


# household 1: 3 baskets at store 10, 1 at store 20 before the window; then (after the
# window start) many baskets at store 20, which must not count.
TRANS = _transactions(
    [
        (1, 10, 1, 100, T0 + pd.Timedelta(days=1)),
        (1, 10, 2, 100, T0 + pd.Timedelta(days=2)),
        (1, 10, 3, 101, T0 + pd.Timedelta(days=3)),
        (1, 20, 4, 101, T0 + pd.Timedelta(days=4)),
        (2, 20, 5, 100, T0 + pd.Timedelta(days=4)),
    ]
)
START = T0 + pd.Timedelta(days=6)  # still week 2
END = START + pd.Timedelta(days=14)  # week 4
PROMO = _promo(
    [
        (100, 10, "5", "0", 3),  # display at store 10 in week 3 (1 of 3 window weeks)
        (100, 10, "0", "A", 4),  # mailer at store 10 in week 4
        (101, 20, "1", "A", 2),  # display + mailer at store 20 in week 2
        (102, 30, "0", "0", 3),  # nothing planned: ignored
    ]
)


def _signals(con):
    """The fixtures number their promotion weeks on the Complete Journey's calendar."""
    return PlannedSignals(con, origin=WEEK_ORIGIN)


def _window(con):
    return _signals(con).window(START, END, np.array([1, 2]), np.array([100, 101, 102]))


def test_week_origin_is_found_in_the_data():
    # no week column: week 1 is the Monday-starting week of the first transaction (a
    # Tuesday here), at midnight UTC for a bare connection
    assert week_origin(_con(TRANS, PROMO)) == pd.Timestamp("2017-01-02")
    # a source's own week numbers and its time zone: the Complete Journey's calendar
    from ecomlib.data import open_source

    assert week_origin(open_source("")) == WEEK_ORIGIN
    # found lazily by the signals when no origin is given
    signals = PlannedSignals(_con(TRANS, PROMO))
    assert signals.window_weeks(START, END) == (1, 3) and signals.origin == pd.Timestamp(
        "2017-01-02"
    )


def test_window_hand_computed():
    sig = _window(_con(TRANS, PROMO))
    # window weeks 2..4 -> 3 weeks; two stores run promotions
    assert _signals(_con(TRANS, PROMO)).window_weeks(START, END) == (2, 4)
    assert sig["p_display"].tolist() == pytest.approx([1 / 3 / 2, 1 / 3 / 2, 0.0])
    assert sig["p_mailer"].tolist() == pytest.approx([1 / 3 / 2, 1 / 3 / 2, 0.0])
    vals = PlannedSignals.pair_values(sig, np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]))
    # household 1: share 0.75 at store 10, 0.25 at store 20
    assert vals["h_display"].tolist() == pytest.approx([0.75 / 3, 0.25 / 3, 0.0, 1 / 3])
    assert vals["h_mailer"].tolist() == pytest.approx([0.75 / 3, 0.25 / 3, 0.0, 1 / 3])
    with pytest.raises(ParameterError):
        _signals(_con(TRANS, PROMO)).window(END, START, [1], [100])


def test_window_reads_no_future():
    base = _window(_con(TRANS, PROMO))
    # purchases after the window start (household 1 moves to store 20) and plans for the
    # weeks after the window change nothing ...
    later = pd.concat(
        [
            TRANS,
            _transactions(
                [(1, 20, 10 + j, 100, START + pd.Timedelta(days=1 + j)) for j in range(20)]
            ),
        ]
    )
    future = pd.concat([PROMO, _promo([(100, 10, "5", "A", 5), (101, 20, "2", "A", 9)])])
    moved = _window(_con(later, future))
    for key in ("p_display", "p_mailer"):
        np.testing.assert_array_equal(base[key], moved[key])
    for key in ("h_store", "s_display", "s_mailer"):
        assert (base[key] != moved[key]).nnz == 0
    # ... while a plan inside the window does (so this test can fail)
    inside = _window(_con(TRANS, pd.concat([PROMO, _promo([(102, 10, "5", "0", 4)])])))
    assert inside["p_display"][2] > 0


def test_coupons_of_running_campaigns_only():
    desc = pd.DataFrame(
        {
            "campaign_id": [1, 2, 3],
            "campaign_type": ["A", "B", "C"],
            "start_date": [T0, T0, END + pd.Timedelta(days=1)],
            "end_date": [END, START - pd.Timedelta(days=1), END + pd.Timedelta(days=9)],
        }
    )
    camps = pd.DataFrame({"campaign_id": [1, 2, 3], "household_id": [1, 2, 2]})
    coupons = pd.DataFrame(
        {"coupon_upc": [9, 8, 7], "product_id": [101, 100, 102], "campaign_id": [1, 2, 3]}
    )
    con = _con(TRANS, PROMO, camps, desc, coupons)
    sig = PlannedSignals(con, origin=WEEK_ORIGIN, coupons=True).window(
        START, END, [1, 2], [100, 101, 102]
    )
    # campaign 2 ended before the window, campaign 3 starts after it: only (1, 101)
    assert sig["h_coupon"].toarray().tolist() == [[0, 1, 0], [0, 0, 0]]
    assert PlannedSignals(con, coupons=True).feature_names[-2:] == ("h_coupon", "p_coupon")
    assert "h_coupon" not in PlannedSignals(con).feature_names


# ---------------------------------------------------------------------- ranker
def _shopping(n_users=24, weeks=10, seed=0):
    """Weekly baskets: each user's staple (user % 3) plus two random items; item 5 is new to
    everyone and starts selling in the last weeks."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        for w in range(weeks):
            ts = T0 + pd.Timedelta(days=7 * w + u % 4, hours=10)
            b = u * 1000 + w
            rows.append((u, 10 + u % 2, b, u % 3, ts))
            for item in rng.choice(np.arange(20, 80), size=2, replace=False):
                rows.append((u, 10 + u % 2, b, int(item), ts))
    return _transactions(rows)


class _Spy(PlannedSignals):
    def __init__(self, con):
        super().__init__(con, origin=WEEK_ORIGIN)
        self.calls = []

    def window(self, start, end, user_ids, item_ids):
        self.calls.append((pd.Timestamp(start), pd.Timestamp(end)))
        return super().window(start, end, user_ids, item_ids)


def _interactions(trans):
    return pd.DataFrame(
        {
            "user_id": trans["household_id"],
            "item_id": trans["product_id"],
            "weight": 1.0,
            "timestamp": trans["transaction_timestamp"],
            "basket_id": trans["basket_id"],
        }
    )


def test_ranker_with_planned_signals_reads_no_future(tiny_ranker):
    trans = _shopping()
    train = _interactions(trans)
    end = train["timestamp"].max()
    last_week = int(week_of([end + pd.Timedelta(days=14)])[0])
    weeks = np.arange(1, last_week + 1)
    promo = _promo(
        [
            (int(i), 10 + i % 2, "5" if (w + i) % 3 == 0 else "0", "A", int(w))
            for i in range(80)
            for w in weeks
        ]
    )
    spy = _Spy(_con(trans, promo))
    model = tiny_ranker(signals=spy).fit(train)
    assert {"h_display", "p_mailer"} <= set(model.feature_names)
    # training windows read the plan of their own label window; the final snapshot the plan
    # of the 14 days after training; nothing later
    assert sorted(spy.calls) == sorted(
        [(cut, stop) for cut, stop in model.windows_] + [(end, end + pd.Timedelta(days=14))]
    )
    assert all(start <= end for start, _ in spy.calls)
    users = train["user_id"].unique()
    recs = model.recommend(users, k=5, exclude_seen=False)
    # plans for the weeks after the predicted window, and purchases after training, change
    # nothing
    future = pd.concat(
        [promo, _promo([(i, 10 + i % 2, "9", "Z", last_week + 1) for i in range(80)])]
    )
    after = pd.concat(
        [trans, _transactions([(u, 99, 10**6 + u, 5, end + pd.Timedelta(days=2)) for u in users])]
    )
    again = tiny_ranker(signals=_signals(_con(after, future))).fit(train)
    pd.testing.assert_frame_equal(recs, again.recommend(users, k=5, exclude_seen=False))
    idx = model.interactions_.user_index(users)
    np.testing.assert_array_equal(model.score(idx), again.score(idx))
    for key in ("p_display", "p_mailer"):
        np.testing.assert_array_equal(model.snapshot_.signals[key], again.snapshot_.signals[key])
    for key in ("h_store", "s_display", "s_mailer"):
        assert (model.snapshot_.signals[key] != again.snapshot_.signals[key]).nnz == 0


# ---------------------------------------------------------------------- new-item scorer
def _groups_frame():
    """Users 0-3 buy group-a items, users 4-7 group-b items; items 'a9' and 'b9' are equally
    popular in the last weeks (bought by users 8-11)."""
    rows, t = [], T0
    for u in range(8):
        g = "a" if u < 4 else "b"
        for j in range(3):
            rows.append((u, f"{g}{j}", t + pd.Timedelta(days=j)))
    for u in range(8, 12):
        rows += [(u, "a9", t + pd.Timedelta(days=20)), (u, "b9", t + pd.Timedelta(days=20))]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    frame["weight"] = 1.0
    return frame


def test_new_item_scorer_uses_group_affinity():
    frame = _groups_frame()
    groups = pd.Series({i: i[0] for i in frame["item_id"].unique()})
    model = rec.NewItemScorer(item_groups=groups, eps=0.01).fit(frame)
    recs = model.recommend([0, 5], k=1)
    assert recs["item_id"].tolist() == ["a9", "b9"]
    plain = rec.NewItemScorer().fit(frame).recommend([0, 5], k=3)
    seen = set(zip(frame["user_id"], frame["item_id"], strict=False))
    assert not seen & set(zip(plain["user_id"], plain["item_id"], strict=False))
    assert (plain.groupby("user_id").size() <= 3).all()
    with pytest.raises(ParameterError, match="signals"):
        rec.NewItemScorer(promo_weight=1.0).fit(frame)
    with pytest.raises(ParameterError, match="The 'recent_days' parameter .*; got 0"):
        rec.NewItemScorer(recent_days=0).fit(frame)


def test_new_item_scorer_promotion_boost():
    trans = _shopping(n_users=8, weeks=6)
    frame = _interactions(trans)
    end = frame["timestamp"].max()
    wk = int(week_of([end + pd.Timedelta(days=3)])[0])
    # item 20 (bought by few) goes on display at every store in the predicted window
    promo = _promo([(20, 10, "5", "A", wk), (20, 11, "5", "A", wk)])
    signals = _signals(_con(trans, promo))
    boosted = rec.NewItemScorer(promo_weight=100.0, signals=signals).fit(frame)
    users = [u for u in range(8) if 20 not in set(frame.loc[frame["user_id"] == u, "item_id"])]
    assert users
    assert (boosted.recommend(users, k=1)["item_id"] == 20).all()


def test_quiet_query_restores_progress_bar():
    from ecomlib.recommend.interactions import quiet_query

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = true")
    assert quiet_query(con, "SELECT ? AS x", [3])["x"].tolist() == [3]
    assert con.execute("SELECT current_setting('enable_progress_bar')").fetchall()[0][0]
    with pytest.raises(duckdb.Error):
        quiet_query(con, "SELECT * FROM missing_table")
    assert con.execute("SELECT current_setting('enable_progress_bar')").fetchall()[0][0]
