"""ecomlib.clv: the RFM summary, the published BG/NBD fit, leakage, models, bad input."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from ecomlib import clv
from ecomlib.config import raw_dir
from ecomlib.errors import DataError, EcomError, ParameterError

START = pd.Timestamp("2020-01-01")


def _days(rows):
    return pd.DataFrame(rows, columns=["customer_id", "day", "value"]).assign(
        day=lambda d: pd.to_datetime(d["day"])
    )


def synthetic(n: int = 300, weeks: int = 30, seed: int = 0) -> pd.DataFrame:
    """Customer-days from a BG/NBD-like process: first purchase in the first 4 weeks."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n):
        day = int(rng.integers(0, 28))
        lam = rng.gamma(0.8, 0.3)  # purchases per week
        p = rng.beta(1.0, 4.0)
        value = rng.gamma(5.0, 6.0)
        while day < weeks * 7:
            rows.append(
                (c, START + pd.Timedelta(days=day), round(value * rng.uniform(0.5, 1.5), 2))
            )
            if rng.random() < p:
                break
            day += 1 + int(rng.exponential(7.0 / max(lam, 1e-3)))
    days = _days(rows)
    return days.groupby(["customer_id", "day"], as_index=False)["value"].sum()


# ---------------------------------------------------------------- the summary
def test_summary_hand_computed():
    days = _days(
        [
            (1, "2020-01-01", 5.0),
            (1, "2020-01-08", 10.0),
            (1, "2020-01-22", 20.0),
            (1, "2020-02-05", 99.0),  # after the cutoff: ignored
            (2, "2020-01-15", 7.0),
            (3, "2020-01-29", 4.0),  # first purchase on the cutoff day
        ]
    )
    s = clv.summarise(days, "2020-01-29").summary
    assert s.loc[1, "frequency"] == 2
    assert s.loc[1, "recency"] == pytest.approx(3.0)  # 21 days
    assert s.loc[1, "T"] == pytest.approx(4.0)  # 28 days
    assert s.loc[1, "monetary"] == pytest.approx(15.0)  # mean of the repeat purchases
    assert s.loc[1, "spend"] == pytest.approx(35.0)
    assert s.loc[2, ["frequency", "recency", "monetary"]].tolist() == [0, 0, 0]
    assert s.loc[2, "T"] == pytest.approx(2.0)
    assert s.loc[3, "T"] == 0
    # the cohort: first purchase by 2020-01-20 only
    assert list(clv.summarise(days, "2020-01-29", cohort_end="2020-01-20").customers) == [1, 2]


def test_same_day_purchases_are_one_transaction():
    frame = pd.DataFrame(
        {
            "household_id": [1, 1, 1],
            "transaction_timestamp": pd.to_datetime(
                ["2020-01-01 09:00", "2020-01-01 18:00", "2020-01-03 10:00"]
            ),
            "sales_value": [2.0, 3.0, 4.0],
        }
    )
    days = clv.customer_days(frame, now="2021-01-01")
    assert days["value"].tolist() == [5.0, 4.0]
    s = clv.summarise(days, "2020-01-10").summary
    assert s.loc[1, "frequency"] == 1 and s.loc[1, "monetary"] == 4.0


def test_duckdb_source_matches_frame():
    import duckdb

    frame = pd.DataFrame(
        {
            "household_id": [1, 1, 2, 2],
            "transaction_timestamp": pd.to_datetime(
                ["2020-01-01 09:00", "2020-01-01 18:00", "2020-01-02 00:00", "2020-01-09 00:00"]
            ),
            "sales_value": [2.0, 3.0, 4.0, 1.0],
        }
    )
    con = duckdb.connect()
    con.register("t", frame)
    con.execute("CREATE VIEW transactions AS SELECT * FROM t")
    pd.testing.assert_frame_equal(
        clv.customer_days(con, now="2021-01-01"),
        clv.customer_days(frame, now="2021-01-01"),
        check_dtype=False,
    )


def test_days_are_the_sources_local_days():
    import duckdb

    frame = pd.DataFrame(
        {
            "household_id": [1, 1],
            "transaction_timestamp": pd.to_datetime(["2020-01-02 03:00", "2020-01-02 15:00"]),
            "sales_value": [2.0, 3.0],
        }
    )
    con = duckdb.connect()
    con.register("t", frame)
    con.execute("CREATE VIEW transactions AS SELECT * FROM t")
    utc = clv.customer_days(con, now="2021-01-01")
    local = clv.customer_days(con, now="2021-01-01", timezone="America/New_York")
    assert len(utc) == 1 and utc["day"].iloc[0] == pd.Timestamp("2020-01-02")
    assert local["day"].tolist() == [pd.Timestamp("2020-01-01"), pd.Timestamp("2020-01-02")]


def test_cdnow_sample_source():
    if not (raw_dir("cdnow") / "CDNOW_sample.txt").is_file():
        pytest.skip("CDNOW_sample.txt not fetched (ecom data fetch cdnow)")
    con, info = clv.connect_source("cdnow_sample")
    days = clv.customer_days(con, timezone=info["timezone"])
    assert days["customer_id"].nunique() == 2357 and len(days) == 6696


def test_calibration_holdout_split_and_actuals():
    days = synthetic(100, weeks=30)
    cal_end = START + pd.Timedelta(days=14 * 7 - 1)
    period, actual = clv.calibration_holdout(days, cal_end, 15)
    assert period.days["day"].max() <= cal_end
    end = cal_end + pd.Timedelta(weeks=15)
    after = days[(days["day"] > cal_end) & (days["day"] <= end)]
    after = after[after["customer_id"].isin(period.customers)]
    assert actual["purchases"].sum() == len(after)
    assert actual["spend"].sum() == pytest.approx(after["value"].sum())
    counts, spend, ends = period.weekly()
    assert counts.shape == (len(period.customers), 14) and ends[-1] == cal_end
    assert counts.sum() == len(period.days)
    assert spend.sum() == pytest.approx(period.days["value"].sum(), rel=1e-5)


# ---------------------------------------------------------------- the published fit
def test_bgnbd_conditional_expectation_published_example():
    # Fader, Hardie & Lee (2005): x = 2, t_x = 30.43, T = 38.86 -> 1.226 purchases in 39 weeks
    m = clv.BGNBD()
    m.params_ = np.array([0.243, 4.414, 0.793, 2.426])
    one = np.array([1.0])
    assert m.expected(2 * one, 30.43 * one, 38.86 * one, 39.0)[0] == pytest.approx(1.226, abs=2e-3)


@pytest.fixture(scope="module")
def cdnow_sample_period():
    path = raw_dir("cdnow") / "CDNOW_sample.txt"
    if not path.is_file():
        pytest.skip("CDNOW_sample.txt not fetched (ecom data fetch cdnow)")
    con, info = clv.connect_source("cdnow_sample")
    days = clv.customer_days(con, timezone=info["timezone"])
    return clv.summarise(days, "1997-09-30")


def test_bgnbd_reproduces_published_cdnow_sample_fit(cdnow_sample_period):
    assert len(cdnow_sample_period.customers) == 2357
    m = clv.BGNBD().fit(cdnow_sample_period)
    np.testing.assert_allclose(m.params_, [0.243, 4.414, 0.793, 2.426], rtol=0.01)
    assert m.loglik_ == pytest.approx(-9582.4, rel=1e-3)


def test_pareto_and_gamma_gamma_reproduce_published_fits(cdnow_sample_period):
    m = clv.ParetoNBD().fit(cdnow_sample_period)
    np.testing.assert_allclose(m.params_, [0.553, 10.578, 0.606, 11.669], rtol=0.01)
    assert m.loglik_ == pytest.approx(-9595.0, rel=1e-3)
    np.testing.assert_allclose(m.spend_model_.params_, [6.25, 3.74, 15.44], rtol=0.01)


# ---------------------------------------------------------------- models
def _models():
    return [
        clv.RateBaseline(),
        clv.ZeroBaseline(),
        clv.BGNBD(n_samples=50),
        clv.ParetoNBD(n_samples=50),
        clv.LightGBMCLV(n_estimators=20, n_jobs=1),
        clv.LightGBMCLV("l1", n_estimators=20, n_jobs=1),
        clv.GRUCLV(hidden=8, epochs=2, batch_size=64, max_seconds=None, device="cpu"),
    ]


@pytest.fixture(scope="module")
def split():
    days = synthetic(300, weeks=30)
    return days, START + pd.Timedelta(days=15 * 7 - 1)


def test_every_model_fits_and_predicts_tiny_data(split):
    days, cal_end = split
    period, actual = clv.calibration_holdout(days, cal_end, 15)
    preds, seconds = clv.fit_predict(_models(), period, 15)
    for name, pred in preds.items():
        assert list(pred.index) == list(period.customers), name
        assert np.isfinite(pred[["purchases", "spend"]].to_numpy()).all(), name
        assert (pred[["purchases", "spend"]] >= 0).all().all(), name
    bg = preds["BG/NBD"]
    assert (
        (bg["purchases_low"] <= bg["purchases"] + 1e-9)
        & (bg["purchases"] <= bg["purchases_high"] + 1)
    ).all()
    assert bg["p_alive"].between(0, 1).all()
    board = clv.leaderboard(preds, actual, seconds)
    assert set(board.index) == set(preds) and board["mae"].is_monotonic_increasing
    assert (preds["zero"]["purchases"] == 0).all()


def test_changing_holdout_rows_leaves_predictions_unchanged(split):
    days, cal_end = split
    changed = days.copy()
    late = changed["day"] > cal_end
    changed.loc[late, "value"] *= 3  # other amounts
    changed = (
        pd.concat(
            [
                changed[~late | (changed["customer_id"] % 2 == 0)],  # drop half of the holdout rows
                _days([(0, cal_end + pd.Timedelta(days=3), 50.0)]),
            ]
        )
        .sort_values(["customer_id", "day"])
        .drop_duplicates(["customer_id", "day"])
    )
    for model_a, model_b in zip(_models(), _models(), strict=True):
        pa, _ = clv.calibration_holdout(days, cal_end, 15)
        pb, _ = clv.calibration_holdout(changed, cal_end, 15)
        a = model_a.fit(pa).predict(pa, 15)
        b = model_b.fit(pb).predict(pb, 15)
        pd.testing.assert_frame_equal(a, b, obj=model_a.name)
    # the churn classifier too (it is trained inside the calibration period only)
    pa, _ = clv.calibration_holdout(days, cal_end, 15)
    pb, _ = clv.calibration_holdout(changed, cal_end, 15)
    pd.testing.assert_series_equal(
        clv.ChurnClassifier().fit(pa).predict_proba(pa, 15),
        clv.ChurnClassifier().fit(pb).predict_proba(pb, 15),
    )


def test_churn_classifier_and_validation_board(split):
    days, cal_end = split
    period, actual = clv.calibration_holdout(days, cal_end, 15)
    p = clv.ChurnClassifier().fit(period).predict_proba(period, 15)
    assert p.between(0, 1).all() and p.index.equals(period.customers)
    vb = clv.validation_board(lambda: [clv.RateBaseline(), clv.BGNBD(n_samples=20)], period, 5)
    assert set(vb.index) == {"rate", "BG/NBD"}


def test_paired_bootstrap_segments_and_clv():
    rng = np.random.default_rng(0)
    b = rng.exponential(1.0, 500)
    res = clv.paired_bootstrap(b * 0.8, b, n_boot=400)
    assert res["low"] <= res["diff"] <= res["high"] < 0
    assert res["rel"] == pytest.approx(-0.2)
    curve = np.array([[1.0, 2.0], [0.0, 0.0]])
    value = clv.discounted_value(curve, np.array([52, 104]), np.array([10.0, 10.0]), 0.1)
    assert value[0] == pytest.approx(10 / 1.1 + 10 / 1.21) and value[1] == 0
    # the risk axis is P(no purchase next period): high = at risk
    seg = clv.segments(
        pd.Series([0.1, 0.9, 0.1, 0.9]), pd.Series([100.0, 90.0, 1.0, 2.0]), 0.5, 0.5
    )
    assert seg.tolist() == [
        "high value, active",
        "high value, at risk",
        "low value, active",
        "low value, at risk",
    ]
    table = pd.DataFrame(
        {"p_churn": [0.1, 0.9, 0.1, 0.9], "clv": [100.0, 90.0, 1.0, 2.0], "segment": seg}
    )
    segs = clv.segment_table(table)
    assert segs["customers"].tolist() == [1, 1, 1, 1]
    assert segs.loc["high value, at risk", "p_churn"] == 0.9
    assert segs["clv_share"].sum() == pytest.approx(1.0)


def test_one_off_buyers_are_not_all_active(split):
    """BG/NBD's P(alive) is 1 for every customer without a repeat purchase; the churn
    classifier's P(churn) is not, so one-off buyers can be at risk."""
    days, cal_end = split
    period, _ = clv.calibration_holdout(days, cal_end, 15)
    one_off = period.summary["frequency"] == 0
    assert one_off.sum() > 10
    p_alive = clv.BGNBD(intervals=False).fit(period).predict(period, 15)["p_alive"]
    assert (p_alive[one_off] == 1).all()
    p_churn = clv.ChurnClassifier().fit(period).predict_proba(period, 15)
    assert p_churn[one_off].nunique() > 1
    seg = clv.segments(p_churn, pd.Series(1.0, index=period.customers))
    assert seg[one_off].str.endswith("at risk").any()


def test_gru_bins_weeks(split):
    """``bin_weeks`` sums purchase days and spend per bin ending at the cutoff."""
    days, cal_end = split
    period, _ = clv.calibration_holdout(days, cal_end, 15)
    counts, spend, ends = period.weekly()  # 15 weeks
    c2, s2, started, ends2 = clv.GRUCLV(bin_weeks=2)._binned(period)
    assert c2.shape == (len(period.customers), 8)  # 15 weeks -> 8 bins, the first padded
    np.testing.assert_allclose(c2[:, 1:], counts[:, 1:].reshape(-1, 7, 2).sum(axis=2))
    np.testing.assert_allclose(c2[:, 0], counts[:, 0])
    assert c2.sum() == counts.sum() and s2.sum() == pytest.approx(spend.sum(), rel=1e-5)
    assert list(ends2) == list(ends[[0, 2, 4, 6, 8, 10, 12, 14]])
    assert started.max() == 1 and (started[:, -1] == 1).all()
    bad = clv.GRUCLV(bin_weeks=0)  # constructors store; fit validates
    with pytest.raises(ParameterError, match="'bin_weeks' parameter of GRUCLV .* got 0"):
        bad.fit(period)


def test_gru_trains_on_one_thread_and_restores_the_setting(split):
    import torch

    days, cal_end = split
    period, _ = clv.calibration_holdout(days, cal_end, 15)
    before = torch.get_num_threads()
    m = clv.GRUCLV(hidden=8, epochs=3, batch_size=64, max_seconds=None, device="cpu")
    m.fit(period).predict(period, 15)
    assert torch.get_num_threads() == before
    assert m.fit_result_.steps_run == m.fit_result_.planned_steps or len(m.history_) < 3


# ---------------------------------------------------------------- bad input
def _frame(**override):
    frame = pd.DataFrame(
        {
            "household_id": [1, 2, 3],
            "transaction_timestamp": pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-03"]),
            "sales_value": [1.0, 2.0, 3.0],
        }
    )
    for k, v in override.items():
        frame[k] = v
    return frame


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (_frame().drop(columns="household_id"), r"no column\(s\) \['household_id'\]"),
        (_frame(sales_value=[1.0, -2.0, 3.0]), "amount is negative"),
        (_frame(sales_value=[1.0, np.nan, 3.0]), "amount is NaN"),
        (_frame(transaction_timestamp=["2020-01-01", "not a date", "2020-01-03"]), "timestamp"),
        (
            _frame(
                transaction_timestamp=pd.to_datetime(["2020-01-01", "2030-01-01", "2020-01-03"])
            ),
            "in the future",
        ),
    ],
)
def test_bad_transactions_are_refused(frame, message):
    with pytest.raises(DataError, match=message) as err:
        clv.customer_days(frame, now="2021-01-01")
    assert isinstance(err.value, EcomError)  # the CLI prints it and exits with status 1


def test_bad_transactions_in_duckdb_are_refused():
    import duckdb

    con = duckdb.connect()
    con.register("t", _frame(sales_value=[1.0, -2.0, 3.0]))
    con.execute("CREATE VIEW transactions AS SELECT * FROM t")
    with pytest.raises(DataError, match="amount >= 0"):
        clv.customer_days(con, now="2021-01-01")


def test_bad_periods_are_refused(split):
    days, cal_end = split
    with pytest.raises(ParameterError, match="after the last purchase"):
        clv.calibration_holdout(days, cal_end, 40)
    with pytest.raises(ParameterError, match="before the first purchase"):
        clv.calibration_holdout(days, "2019-01-01", 5)
    with pytest.raises(ParameterError, match="holdout_weeks=0: must be"):
        clv.calibration_holdout(days, cal_end, 0)
    period, _ = clv.calibration_holdout(days, cal_end, 10)
    with pytest.raises(ParameterError, match="horizon must be > 0"):
        clv.BGNBD().fit(period).predict(period, -1)
    huber = clv.LightGBMCLV("huber")
    with pytest.raises(ParameterError, match="'objective' parameter of LightGBMCLV .* got 'huber'"):
        huber.fit(period)


@pytest.mark.parametrize(
    ("calibration_end", "weeks", "cohort_end", "message"),
    [
        ("soon", 5, None, "calibration_end='soon' is not a date"),
        ("2019-06-30", 5, None, "calibration_end=2019-06-30 is before the first purchase"),
        ("2025-01-01", 5, None, "calibration_end=2025-01-01 is on or after the last purchase"),
        ("2020-04-30", 30, None, "holdout_weeks=30 after calibration_end=2020-04-30"),
        ("2020-04-30", float("nan"), None, "holdout_weeks=nan: must be"),
        ("2020-04-30", "many", None, "holdout_weeks='many': must be"),
        ("2020-04-30", 5, "2020-05-30", "cohort_end=2020-05-30 is after calibration_end"),
        ("2020-04-30", 5, "2019-01-01", "cohort_end=2019-01-01 is before the first purchase"),
        ("2020-04-30", 5, "later", "cohort_end='later' is not a date"),
    ],
)
def test_bad_periods_name_the_parameter_and_value(
    split, calibration_end, weeks, cohort_end, message
):
    days, _ = split
    with pytest.raises(ParameterError, match=re.escape(message)):
        clv.calibration_holdout(days, calibration_end, weeks, cohort_end=cohort_end)


def test_default_calibration_end(split):
    days, _ = split
    last = days["day"].max()
    assert clv.calibration_end(days, "", 4) == last - pd.Timedelta(days=28)
    assert clv.calibration_end(days, None, 4) == last - pd.Timedelta(days=28)
    assert clv.calibration_end(days, "2020-03-01", 4) == pd.Timestamp("2020-03-01")
    with pytest.raises(ParameterError, match=r"holdout_weeks=100 is longer than the data"):
        clv.calibration_end(days, "", 100)
    with pytest.raises(ParameterError, match=r"holdout_weeks=-1: must be"):
        clv.calibration_end(days, "", -1)
    with pytest.raises(ParameterError, match=r"holdout_weeks=100 is longer than the data"):
        clv.run_study(days, "", 100, names=["rate"])


def test_holdout_weeks_default_is_half_the_data_at_most_39():
    year = pd.DataFrame({"day": pd.to_datetime(["2017-01-01", "2017-12-31"])})
    assert clv.holdout_weeks(year, 0) == 26 and clv.holdout_weeks(year, 13) == 13
    long = pd.DataFrame({"day": pd.to_datetime(["1997-01-01", "1999-12-31"])})
    assert clv.holdout_weeks(long, 0) == 39
    with pytest.raises(ParameterError, match="holdout_weeks=-2"):
        clv.holdout_weeks(year, -2)
