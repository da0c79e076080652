"""Promotion-plan features on a tiny hand-made Complete Journey, and LightGBM's ``exog``."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from ecomlib.errors import DataError, ParameterError
from ecomlib.forecast import LightGBMForecaster, make_features
from ecomlib.forecast.exog import (
    EXOG_COLUMNS,
    WEIGHTED_COLUMNS,
    monday_weeks,
    promotion_features,
    split_exog,
    week_offset,
)
from ecomlib.forecast.gbm import lookback


@pytest.fixture()
def con():
    """Two categories (A: p1, p2; B: p3), weeks numbered from 1 = Monday 2021-01-04."""
    c = duckdb.connect()
    products = pd.DataFrame({"product_id": [1, 2, 3, 4], "product_category": ["A", "A", "B", None]})
    transactions = pd.DataFrame(
        {
            "product_id": [1, 2, 1, 3, 3],
            "sales_value": [30.0, 10.0, 5.0, 7.0, 99.0],
            "week": [1, 1, 2, 2, 4],
            "transaction_timestamp": pd.to_datetime(
                [
                    "2021-01-04 10:00",
                    "2021-01-05 06:00",
                    "2021-01-12 12:00",
                    "2021-01-13 12:00",
                    "2021-01-26 12:00",
                ]
            ),
        }
    )
    promotions = pd.DataFrame(
        {
            "product_id": [1, 1, 2, 3, 1],
            "store_id": [1, 2, 1, 1, 1],
            "display_location": ["5", "0", "0", "1", "0"],
            "mailer_location": ["0", "A", "0", "A", "D"],
            "week": [1, 1, 1, 2, 3],
        }
    )
    campaign_descriptions = pd.DataFrame(
        {
            "campaign_id": [1, 2],
            "campaign_type": ["Type A", "Type B"],
            "start_date": pd.to_datetime(["2021-01-05", "2021-01-06"]),
            "end_date": pd.to_datetime(["2021-01-06", "2021-01-20"]),
        }
    )
    coupons = pd.DataFrame(
        {"coupon_upc": [11, 12, 13], "product_id": [1, 2, 1], "campaign_id": [1, 1, 2]}
    )
    for name, frame in {
        "products": products,
        "transactions": transactions,
        "promotions": promotions,
        "campaign_descriptions": campaign_descriptions,
        "coupons": coupons,
    }.items():
        c.register(f"{name}_df", frame)
        c.execute(f"CREATE VIEW {name} AS SELECT * FROM {name}_df")
    yield c
    c.close()


def _at(frame: pd.DataFrame, uid: str, day: str) -> pd.Series:
    return frame[(frame["unique_id"] == uid) & (frame["ds"] == pd.Timestamp(day))].iloc[0]


def test_week_mapping_follows_the_transactions(con):
    assert week_offset(con) == 1 - int(monday_weeks(["2021-01-04"])[0])
    # a Sunday belongs to the week of the Monday before it
    assert monday_weeks(["2021-01-10"])[0] == monday_weeks(["2021-01-04"])[0]
    assert monday_weeks(["2021-01-11"])[0] == monday_weeks(["2021-01-04"])[0] + 1


def test_promotion_features_by_hand(con):
    f = promotion_features(con, "category", start="2021-01-04", end="2021-01-31")
    assert list(f.columns) == ["unique_id", "ds", *EXOG_COLUMNS]
    assert sorted(f["unique_id"].unique()) == ["A", "B"]  # the NULL category is left out
    assert len(f) == 2 * 28
    # the plan covers weeks 1-3; week 4 (from 2021-01-25) is unknown, not "no promotion"
    late = f["ds"] >= pd.Timestamp("2021-01-25")
    assert f.loc[late, "display_share"].isna().all() and not f.loc[~late].isna().any().any()
    assert f.loc[late, "campaigns_active"].notna().all()  # campaign dates are known
    a = _at(f, "A", "2021-01-10")  # week 1: p1 on display (store 1) and in the mailer (store 2)
    assert a["display_share"] == 0.5 and a["mailer_share"] == 0.5
    assert a["display_depth"] == 0.5 and a["mailer_depth"] == 0.5
    a2 = _at(f, "A", "2021-01-11")  # week 2: nothing for A
    assert a2[["display_share", "mailer_share", "display_depth", "mailer_depth"]].sum() == 0
    b = _at(f, "B", "2021-01-17")
    assert b["display_share"] == 1 and b["mailer_share"] == 1
    # week 3 has no transactions at all, yet its dates map to week 3 of the plan
    a3 = _at(f, "A", "2021-01-20")
    assert a3["mailer_share"] == 0.5 and a3["display_share"] == 0
    # campaigns: 1 runs 01-05..01-06, 2 runs 01-06..01-20 (the same for every series)
    assert [
        _at(f, "B", d)["campaigns_active"] for d in ("2021-01-04", "2021-01-06", "2021-01-21")
    ] == [0, 2, 0]
    # coupon products of the running campaigns per product of A (2 products)
    assert _at(f, "A", "2021-01-05")["coupon_share"] == 1.0  # campaign 1: p1, p2
    assert _at(f, "A", "2021-01-06")["coupon_share"] == 1.5  # + campaign 2: p1
    assert _at(f, "A", "2021-01-10")["coupon_share"] == 0.5
    assert _at(f, "B", "2021-01-06")["coupon_share"] == 0.0


def test_sales_weighted_shares_use_sales_up_to_weights_end(con):
    f = promotion_features(
        con, "category", ids=["A"], start="2021-01-04", end="2021-01-24", weights_end="2021-01-10"
    )
    assert list(f.columns) == ["unique_id", "ds", *EXOG_COLUMNS, *WEIGHTED_COLUMNS]
    assert set(f["unique_id"]) == {"A"}
    a = _at(f, "A", "2021-01-04")  # p1 (30 of A's 40 in sales up to 01-10) on display
    assert a["display_sales_share"] == pytest.approx(0.75)
    assert a["mailer_sales_share"] == pytest.approx(0.75)
    assert _at(f, "A", "2021-01-11")["display_sales_share"] == 0
    assert _at(f, "A", "2021-01-24")["mailer_sales_share"] == pytest.approx(0.75)  # week 3


def test_promotion_features_refuse_bad_arguments(con):
    with pytest.raises(ParameterError, match="level"):
        promotion_features(con, "aisle")
    with pytest.raises(ParameterError, match="before"):
        promotion_features(con, start="2021-02-01", end="2021-01-01")
    with pytest.raises(DataError, match="without products"):
        promotion_features(con, ids=["A", "Z"], start="2021-01-04", end="2021-01-10")


def test_split_exog_validates():
    ok = pd.DataFrame(
        {
            "unique_id": ["a", "a", "b"],
            "ds": pd.to_datetime(["2021-01-02", "2021-01-01", "2021-01-01"]),
            "v": [2, 1, 3],
        }
    )
    parts = split_exog(ok)
    assert list(parts) == ["a", "b"] and parts["a"]["v"].tolist() == [1.0, 2.0]
    with pytest.raises(ParameterError, match="duplicate"):
        split_exog(pd.concat([ok, ok.head(1)]))
    with pytest.raises(ParameterError, match="numeric"):
        split_exog(ok.assign(v="x"))
    with pytest.raises(ParameterError, match="unique_id, ds"):
        split_exog(ok.drop(columns="ds"))
    with pytest.raises(ParameterError, match="no feature"):
        split_exog(ok[["unique_id", "ds"]])
    model = LightGBMForecaster(exog=pd.concat([ok, ok.head(1)]))
    series = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2021-01-01", periods=90)})
    with pytest.raises(ParameterError, match="duplicate"):
        model.fit(series.assign(y=1.0))


def test_exog_features_read_the_target_and_origin_dates_only():
    rng = np.random.default_rng(0)
    n = 150
    x = rng.gamma(2.0, 10.0, n)
    dates = pd.date_range("2021-01-01", periods=n)
    exog = pd.DataFrame(
        {"promo": rng.random(n + 20)}, index=pd.date_range(dates[0], periods=n + 20)
    )
    origins = np.arange(lookback() - 1, n)
    horizons = rng.integers(1, 15, len(origins))
    base, _ = make_features(x, dates, origins, horizons, exog=exog)
    tgt = dates[origins] + pd.to_timedelta(horizons, unit="D")
    assert np.allclose(base["exog_promo"], exog["promo"].reindex(tgt).to_numpy())
    assert np.allclose(
        base["exog_promo_delta"],
        exog["promo"].reindex(tgt).to_numpy() - exog["promo"].reindex(dates[origins]).to_numpy(),
    )
    # rewriting the series after an origin changes none of that row's features
    for cut in (80, 120):
        x2 = x.copy()
        x2[cut + 1 :] = 1e6
        feats, _ = make_features(x2, dates, origins, horizons, exog=exog)
        safe = origins <= cut
        pd.testing.assert_frame_equal(feats[safe], base[safe])
    # dates missing from exog give NaN, not an error
    short, _ = make_features(x, dates, origins, horizons, exog=exog.iloc[:100])
    assert short["exog_promo"].isna().any() and short["exog_promo"].notna().any()


def test_lightgbm_learns_a_known_in_advance_promotion():
    """Sales triple on promotion days; only the model told the plan can forecast them."""
    rng = np.random.default_rng(1)
    n, h = 200, 7
    ds = pd.date_range("2021-01-04", periods=n + h)
    frames, plans = [], []
    for i in range(3):
        promo = (rng.random(n + h) < 0.2).astype(float)
        y = 40.0 * (i + 1) * (1 + 2 * promo) + rng.normal(0, 1, n + h)
        frames.append(pd.DataFrame({"unique_id": f"s{i}", "ds": ds, "y": y}))
        plans.append(pd.DataFrame({"unique_id": f"s{i}", "ds": ds, "promo": promo}))
    full, plan = pd.concat(frames, ignore_index=True), pd.concat(plans, ignore_index=True)
    train = full[full["ds"] < ds[n]]
    truth = full[full["ds"] >= ds[n]].reset_index(drop=True)
    errs = {}
    for name, ex in (("with", plan), ("without", None)):
        model = LightGBMForecaster(h=h, n_estimators=80, n_jobs=1, exog=ex, name=name)
        pred = model.fit(train).predict(h)
        assert len(pred) == 3 * h and pred[name].notna().all()
        errs[name] = float(np.mean(np.abs(pred[name].to_numpy() - truth["y"].to_numpy())))
    assert errs["with"] < 0.5 * errs["without"]
    fitted = LightGBMForecaster(h=h, n_estimators=20, n_jobs=1, exog=plan).fit(train)
    assert {"exog_promo", "exog_promo_delta"} <= set(fitted.feature_names_)
    assert "rows x 1 features" in repr(fitted) and isinstance(fitted.exog, pd.DataFrame)
    # a series the plan does not cover gets NaN plan features, not an error
    other = train.assign(unique_id=train["unique_id"].replace({"s2": "new"}))
    assert (
        LightGBMForecaster(h=h, n_estimators=20, n_jobs=1, exog=plan)
        .fit(other)
        .predict(h)["LightGBM"]
        .notna()
        .all()
    )


def test_zoo_promo_model_needs_the_plan_and_joins_the_ensemble():
    from ecomlib.forecast.zoo import PROMO_COLUMNS, make_models

    with pytest.raises(ParameterError, match="exog"):
        make_models(["LightGBM+promo"])
    ds = pd.date_range("2021-01-04", periods=10)
    plan = pd.DataFrame({"unique_id": "s0", "ds": ds, **{c: 0.5 for c in PROMO_COLUMNS}})
    with pytest.raises(ParameterError, match="lacks"):
        make_models(["LightGBM+promo"], exog=plan.drop(columns="mailer_share"))
    zoo = make_models(
        ["AutoETS", "LightGBM", "LightGBM-lags", "LightGBM+promo", "Ensemble"],
        exog=plan.assign(extra=1.0),
    )
    promo = zoo[3]
    assert promo.name == "LightGBM+promo" and list(promo.exog.columns[2:]) == list(PROMO_COLUMNS)
    assert zoo[-1].member_names == ["AutoETS", "LightGBM-lags", "LightGBM+promo"]
    plain = make_models(["AutoETS", "LightGBM", "LightGBM-lags", "Ensemble"])
    assert plain[-1].member_names == ["AutoETS", "LightGBM", "LightGBM-lags"]


def test_zoo_extra_series_model_and_statsforecast_peers():
    from ecomlib.forecast.zoo import EXTRA_SETTINGS, PROMO_COLUMNS, make_models

    ds = pd.date_range("2021-01-04", periods=120)
    plan = pd.DataFrame({"unique_id": "s0", "ds": ds, **{c: 0.5 for c in PROMO_COLUMNS}})
    with pytest.raises(ParameterError, match="extra_series"):
        make_models(["LightGBM+promo+extra"], exog=plan)
    extra = pd.DataFrame({"unique_id": "x0", "ds": ds, "y": 1.0})
    zoo = make_models(
        ["AutoETS", "LightGBM-lags", "LightGBM+promo", "LightGBM+promo+extra", "Ensemble"],
        exog=plan,
        extra_series=extra,
    )
    more = zoo[3]
    assert more.name == "LightGBM+promo+extra" and more.extra_series is extra
    assert more.extra_stride == EXTRA_SETTINGS["extra_stride"] and more.origin_stride == 1
    assert zoo[-1].member_names == [
        "AutoETS",
        "LightGBM-lags",
        "LightGBM+promo",
        "LightGBM+promo+extra",
    ]
    noise = np.random.default_rng(0).normal(0, 1, len(ds))
    weekend = 5.0 * (ds.dayofweek.to_numpy() >= 5)
    df = pd.DataFrame({"unique_id": "s0", "ds": ds, "y": 20 + weekend + noise})
    for m in make_models(["AutoTheta", "DynamicOptimizedTheta", "MSTL", "AutoCES"]):
        pred = m.fit(df).predict(7)
        assert len(pred) == 7 and pred[m.name].notna().all(), m.name


def test_zoo_diverse_promo_members_join_the_ensemble():
    from ecomlib.forecast.zoo import PROMO_COLUMNS, make_models

    ds = pd.date_range("2021-01-04", periods=120)
    plan = pd.DataFrame({"unique_id": "s0", "ds": ds, **{c: 0.5 for c in PROMO_COLUMNS}})
    names = ["AutoETS", "LightGBM-lags", "LightGBM+promo", "LightGBM+promo-ratio"]
    zoo = make_models([*names, "LightGBM+promo-huber", "Ensemble"], exog=plan, lgbm_trees=20)
    ratio, huber = zoo[3], zoo[4]
    assert (ratio.target, ratio.objective) == ("ratio", "l1")
    assert (huber.target, huber.objective) == ("level", "huber")
    assert list(ratio.exog.columns[2:]) == list(PROMO_COLUMNS)
    assert zoo[-1].member_names == [*names, "LightGBM+promo-huber"]
    # next to the extra-series model and both diverse members LightGBM+promo is left out
    extra = pd.DataFrame({"unique_id": "x0", "ds": ds, "y": 1.0})
    full = make_models(
        [*names, "LightGBM+promo-huber", "LightGBM+promo+extra", "Ensemble"],
        exog=plan,
        extra_series=extra,
    )
    assert full[-1].member_names == [
        "AutoETS",
        "LightGBM-lags",
        "LightGBM+promo-ratio",
        "LightGBM+promo-huber",
        "LightGBM+promo+extra",
    ]
    for name in ("LightGBM+promo-ratio", "LightGBM+promo-huber"):
        with pytest.raises(ParameterError, match="exog"):
            make_models([name])
    noise = np.random.default_rng(1).normal(0, 1, len(ds))
    df = pd.DataFrame({"unique_id": "s0", "ds": ds, "y": 20 + 5.0 * (ds.dayofweek >= 5) + noise})
    for m in (ratio, huber):
        pred = m.fit(df).predict(7)
        weekend = pred["ds"].dt.dayofweek >= 5
        assert len(pred) == 7 and np.isfinite(pred[m.name]).all()
        assert pred.loc[weekend, m.name].mean() > pred.loc[~weekend, m.name].mean() + 2, m.name
