"""Unit tests of ecomlib.eda on tiny hand-made tables in an in-memory DuckDB: the order-line
aggregations run as queries on the engine (``eda.clean_lines`` views)."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from ecomlib import eda
from ecomlib.errors import DataError

PRODUCT_ATTRIBUTES = ["department", "product_category", "product_type"]


def make_tx() -> pd.DataFrame:
    """Three households, five baskets, one fuel line with a huge quantity."""
    rows = [
        # household, basket, product, store, qty, sales, timestamp, department, type
        (1, 10, 100, 1, 1, 2.0, "2017-01-02 10:00", "GROCERY", "MILK"),
        (1, 10, 101, 1, 3, 3.0, "2017-01-02 10:00", "GROCERY", "BREAD"),
        (1, 11, 100, 1, 1, 2.0, "2017-02-06 18:00", "GROCERY", "MILK"),
        (2, 20, 900, 1, 89638, 50.0, "2017-01-03 11:00", "FUEL", "GASOLINE-REG UNLEADED"),
        (2, 21, 102, 1, 40, 8.0, "2017-03-07 12:00", "PRODUCE", "CORN"),
        (3, 30, 103, 2, 0, 0.0, "2017-03-08 09:00", None, None),
        (3, 30, 100, 2, 2, 4.0, "2017-03-08 09:00", "GROCERY", "MILK"),
    ]
    cols = [
        "household_id",
        "basket_id",
        "product_id",
        "store_id",
        "quantity",
        "sales_value",
        "transaction_timestamp",
        "department",
        "product_type",
    ]
    frame = pd.DataFrame(rows, columns=cols)
    frame["transaction_timestamp"] = pd.to_datetime(frame["transaction_timestamp"])
    frame["product_category"] = frame["product_type"]
    return frame


def connect(tx: pd.DataFrame) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with ``transactions`` (the columns of ``tx`` that are not product
    attributes) and, when ``tx`` has attributes, ``products`` (one row per product with a
    department: a product whose attributes are all missing is not in the product table)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    attrs = [c for c in PRODUCT_ATTRIBUTES if c in tx]
    lines = tx.drop(columns=attrs)
    con.register("tx_df", lines)
    con.execute("CREATE TABLE transactions AS SELECT * FROM tx_df")
    if attrs:
        products = tx[["product_id", *attrs]].drop_duplicates("product_id")
        products = products[products[attrs].notna().any(axis=1)]
        con.register("products_df", products)
        con.execute("CREATE TABLE products AS SELECT * FROM products_df")
    return con


def lines_of(tx: pd.DataFrame, **options) -> eda.Lines:
    """``eda.clean_lines`` on the tables of :func:`connect`."""
    return eda.clean_lines(connect(tx), **options)


def view(lines: eda.Lines) -> pd.DataFrame:
    """The cleaned lines, in product and basket order (for assertions on tiny data)."""
    return lines.con.execute(f"SELECT * FROM {lines.view} ORDER BY basket_id, product_id").df()


# ---------------------------------------------------------------- quality and cleaning
def test_data_quality_report_counts_each_problem():
    tx = pd.concat([make_tx(), make_tx().iloc[[0]]], ignore_index=True)  # one exact duplicate
    lines = lines_of(tx, upper_quantile=0.5)
    report = eda.data_quality_report(lines).set_index("check")["rows"]
    assert report["exact duplicate rows"] == 1
    assert report["duplicated key (basket_id, product_id)"] == 1
    assert report["quantity == 0"] == 1
    assert report["sales_value <= 0"] == 1
    assert report["missing department"] == 1
    assert report["fuel lines (quantity = volume)"] == 1
    # non-fuel quantities: 1,3,1,40,0,2,1 -> median 1: the 3, 40 and 2 are above it
    assert report[[k for k in report.index if k.startswith("non-fuel quantity")][0]] == 3


def test_data_quality_report_rejects_bad_input():
    with pytest.raises(DataError, match="empty"):
        eda.data_quality_report(lines_of(make_tx().iloc[:0]))
    with pytest.raises(DataError, match="sales_value"):
        lines_of(make_tx().drop(columns="sales_value"))
    with pytest.raises(DataError, match="transactions"):
        eda.clean_lines(duckdb.connect())


def test_fuel_lines_count_as_one_unit_and_outliers_are_capped():
    lines = lines_of(make_tx(), upper_quantile=0.8)
    tx = view(lines)
    cap = lines.cap
    assert cap == make_tx().query("department != 'FUEL'")["quantity"].quantile(0.8)
    fuel = tx.set_index("product_id").loc[900]
    assert fuel["is_fuel"] and fuel["units"] == 1 and not fuel["quantity_outlier"]
    corn = tx.set_index("product_id").loc[102]
    assert corn["quantity_outlier"] and corn["units"] == int(cap) < 40
    assert tx["units"].dtype == "int64"  # whole units stay whole
    assert sorted(tx["sales_value"]) == sorted(make_tx()["sales_value"])  # spend untouched
    assert (tx["department"] == "UNKNOWN").sum() == 1
    assert len(tx) == len(make_tx())  # nothing dropped


def test_quantity_cap_checks_quantile():
    with pytest.raises(ValueError):
        lines_of(make_tx(), upper_quantile=1.5)


@pytest.mark.parametrize("q", [0.1, 0.5, 0.8, 0.9, 0.999, 1.0])
def test_quantity_cap_is_the_pandas_quantile(q):
    """The cap, computed from distinct values and counts on the engine, is pandas' quantile
    (linear interpolation) of the non-fuel quantities, bit for bit."""
    rng = np.random.default_rng(3)
    tx = pd.concat([make_tx()] * 7, ignore_index=True)
    tx["quantity"] = rng.integers(0, 60, len(tx))
    expected = tx.loc[tx["department"] != "FUEL", "quantity"].quantile(q)
    assert lines_of(tx, upper_quantile=q).cap == expected


def test_clean_lines_converts_utc_to_local_time():
    tx = make_tx()
    tx.loc[0, "transaction_timestamp"] = pd.Timestamp("2018-01-01 04:01")
    lines = lines_of(tx, timezone="America/New_York")
    out = view(lines).set_index(["basket_id", "product_id"]).loc[(10, 100)]
    assert out["transaction_timestamp"] == pd.Timestamp("2017-12-31 23:01")
    assert out["timestamp_utc"] == pd.Timestamp("2018-01-01 04:01")
    assert lines.has_times and lines.timezone == "America/New_York"
    assert eda.weekday_hour(lines, "sales").loc["Sun", 23] == 2.0  # milk on Sunday 23h
    same = view(lines_of(tx)).set_index(["basket_id", "product_id"]).loc[(10, 100)]
    assert same["transaction_timestamp"] == pd.Timestamp("2018-01-01 04:01")


def test_dates_without_times_stay_as_stored():
    tx = make_tx()
    tx["transaction_timestamp"] = tx["transaction_timestamp"].dt.normalize() + pd.Timedelta("5h")
    lines = lines_of(tx, timezone="America/New_York")  # 05:00 UTC is midnight in New York
    assert not lines.has_times and lines.timezone is None
    assert (view(lines)["transaction_timestamp"].dt.hour == 5).all()


def test_sample_households():
    lines = lines_of(make_tx())
    assert eda.sample_households(lines, None) is lines
    two = eda.sample_households(lines, 2, seed=1)
    assert view(two)["household_id"].nunique() == 2
    again = eda.sample_households(lines, 2, seed=1)
    assert view(two).equals(view(again))  # seeded
    # the draw is numpy's on the sorted distinct ids, as it was on a pandas frame
    keep = np.random.default_rng(1).choice(np.array([1, 2, 3]), size=2, replace=False)
    assert sorted(view(two)["household_id"].unique()) == sorted(keep)
    assert eda.sample_households(lines, 10) is lines
    with pytest.raises(ValueError):
        eda.sample_households(lines, 0)


# ---------------------------------------------------------------- time
def test_weekly_sales_drop_partial_edge_weeks():
    ts = pd.to_datetime(
        [
            "2017-01-01 12:00",
            "2017-01-02 08:00",
            "2017-01-08 20:00",
            "2017-01-09 09:00",
            "2017-01-10 10:00",
        ]
    )
    tx = pd.DataFrame(
        {
            "household_id": 1,
            "basket_id": range(5),
            "product_id": 1,
            "quantity": 1,
            "sales_value": [1.0, 2.0, 4.0, 8.0, 16.0],
            "transaction_timestamp": ts,
        }
    )
    lines = lines_of(tx)
    # Sun 1 Jan belongs to the week of Mon 26 Dec (partial); 2-8 Jan is complete;
    # 9-15 Jan ends after the last day (10 Jan): partial
    weekly = eda.sales_over_time(lines, "W")
    assert weekly.index.tolist() == [pd.Timestamp("2017-01-02")]
    assert weekly["sales"].tolist() == [6.0] and weekly["baskets"].tolist() == [2]
    assert eda.sales_over_time(lines, "D")["sales"].sum() == 31.0  # every day is complete
    assert len(eda.sales_over_time(lines, "W", complete_only=False)) == 3


def test_periods_match_pandas_periods():
    rng = np.random.default_rng(0)
    ts = pd.Timestamp("2016-12-20") + pd.to_timedelta(rng.integers(0, 400 * 86400, 500), "s")
    tx = pd.DataFrame(
        {
            "household_id": 1,
            "basket_id": range(500),
            "product_id": 1,
            "quantity": 1,
            "sales_value": 1.0,
            "transaction_timestamp": ts,
        }
    )
    lines = lines_of(tx)
    for freq in ("W", "M"):
        got = eda.sales_over_time(lines, freq, complete_only=False)
        expected = pd.Series(1.0, index=ts).groupby(ts.to_period(freq).start_time).sum()
        assert got.index.tolist() == expected.index.tolist(), freq
        assert got["sales"].tolist() == expected.tolist(), freq
    with pytest.raises(ValueError, match="freq"):
        eda.sales_over_time(lines, "Q")


def test_sales_over_time_fills_missing_days():
    tx = make_tx()
    daily = eda.sales_over_time(lines_of(tx), "D")
    assert daily.index.min() == pd.Timestamp("2017-01-02")
    assert len(daily) == (pd.Timestamp("2017-03-08") - pd.Timestamp("2017-01-02")).days + 1
    assert daily.loc["2017-01-02", "sales"] == 5.0
    assert daily.loc["2017-01-02", "baskets"] == 1
    assert daily.loc["2017-01-04", "sales"] == 0
    assert daily["sales"].sum() == pytest.approx(tx["sales_value"].sum())


def test_weekday_hour_matrix():
    lines = lines_of(make_tx())
    mat = eda.weekday_hour(lines, "baskets")
    assert mat.shape == (7, 24)
    assert mat.loc["Mon", 10] == 1  # basket 10 on Monday 2 Jan at 10h
    assert mat.to_numpy().sum() == 5  # five baskets
    sales = eda.weekday_hour(lines, "sales")
    assert sales.loc["Mon", 10] == 5.0
    with pytest.raises(ValueError):
        eda.weekday_hour(lines, "units")


def test_line_stats_and_top_lines():
    lines = lines_of(make_tx(), upper_quantile=0.8)
    st = eda.line_stats(lines)
    assert (st["lines"], st["baskets"], st["households"], st["products"]) == (7, 5, 3, 5)
    assert st["sales"] == 69.0 and st["fuel_sales"] == 50.0 and st["fuel_lines"] == 1
    assert st["max_quantity"] == 89638 and st["quantity_outliers"] == 1
    assert st["max_units"] == int(lines.cap) and st["zero_sales_share"] == 1 / 7
    assert st["last_utc"] == st["last_local"] == pd.Timestamp("2017-03-08 09:00")
    top = eda.top_lines(lines, 2)
    assert top["quantity"].tolist() == [89638, 40]
    assert top.columns.tolist() == [
        "basket_id",
        "department",
        "product_type",
        "quantity",
        "sales_value",
    ]
    hours = eda.baskets_by_hour(lines, utc=True)
    assert hours.to_dict() == {9: 1, 10: 1, 11: 1, 12: 1, 18: 1}


# ---------------------------------------------------------------- categories, baskets
def test_pareto_and_share_count():
    tx = pd.DataFrame(
        {
            "basket_id": range(4),
            "product_id": range(4),
            "quantity": 1,
            "sales_value": [10.0, 50.0, 30.0, 10.0],
            "transaction_timestamp": pd.Timestamp("2017-01-02"),
            "product_category": list("abcd"),
        }
    )
    lines = lines_of(tx)
    p = eda.pareto(lines, "product_category")
    assert p.index.tolist() == ["b", "c", "a", "d"]  # ties in level order
    assert p["share"].tolist()[:2] == [0.5, 0.3]
    assert p["cum_share"].iloc[-1] == pytest.approx(1.0)
    assert eda.n_for_share(p, 0.8) == 2
    assert eda.n_for_share(p, 0.81) == 3
    assert eda.n_for_share(p, 1.0) == 4
    with pytest.raises(DataError):
        eda.pareto(lines_of(tx.assign(sales_value=0.0)), "product_category")
    with pytest.raises(ValueError):
        eda.n_for_share(p, 0)


def test_fuel_share_of_a_level():
    lines = lines_of(make_tx())
    assert eda.fuel_share(lines, "department", "FUEL") == 1.0
    assert eda.fuel_share(lines, "department", "GROCERY") == 0.0


def test_change_words():
    assert eda.change_words(0.234) == "23% more"
    assert eda.change_words(-0.1) == "10% less"


def test_basket_summary():
    b = eda.basket_summary(lines_of(make_tx()))
    assert len(b) == 5
    assert b.loc[10, "lines"] == 2 and b.loc[10, "value"] == 5.0 and b.loc[10, "units"] == 4
    assert b.loc[20, "units"] == 1  # fuel line counts as one unit
    assert b.loc[30, "household_id"] == 3
    assert b.loc[11, "timestamp"] == pd.Timestamp("2017-02-06 18:00")


# ---------------------------------------------------------------- households
def rfm_frame() -> pd.DataFrame:
    """Household h has h baskets of $h each; household h last shops on day 10 * h."""
    rows = []
    for h in range(1, 5):
        for k in range(h):
            day = pd.Timestamp("2017-01-01") + pd.Timedelta(days=10 * h - k)
            rows.append((h, h * 100 + k, 1, 1, float(h), day))
    return pd.DataFrame(
        rows,
        columns=[
            "household_id",
            "basket_id",
            "product_id",
            "quantity",
            "sales_value",
            "transaction_timestamp",
        ],
    )


def test_rfm_scores_and_segments():
    scores = eda.rfm(lines_of(rfm_frame()), bins=2)
    assert scores["frequency"].tolist() == [1, 2, 3, 4]
    assert scores["monetary"].tolist() == [1.0, 4.0, 9.0, 16.0]
    assert scores["recency_days"].tolist() == [31, 21, 11, 1]
    assert scores["r"].tolist() == [1, 1, 2, 2]
    assert scores["f"].tolist() == [1, 1, 2, 2]
    assert scores.loc[4, "segment"] == "Champions"
    assert scores.loc[1, "segment"] == "Hibernating"
    summary = eda.segment_summary(scores)
    assert summary["households"].sum() == 4
    assert summary["spend_share"].sum() == pytest.approx(1.0)
    assert summary.loc["Champions", "spend_share"] == pytest.approx(25 / 30)


def test_rfm_rejects_bad_bins_and_tiny_data():
    lines = lines_of(rfm_frame())
    with pytest.raises(ValueError):
        eda.rfm(lines, bins=1)
    with pytest.raises(DataError):
        eda.rfm(lines, bins=5)


def test_cohort_retention_by_hand():
    ts = pd.to_datetime(
        [
            "2017-01-05",
            "2017-02-05",
            "2017-03-05",  # h1: Jan, Feb, Mar
            "2017-01-20",
            "2017-03-20",  # h2: Jan, Mar
            "2017-02-10",
            "2017-03-31",
        ]
    )  # h3: Feb, Mar
    tx = pd.DataFrame(
        {
            "household_id": [1, 1, 1, 2, 2, 3, 3],
            "basket_id": range(7),
            "quantity": 1,
            "sales_value": 1.0,
            "transaction_timestamp": ts,
        }
    )
    ret = eda.cohort_retention(lines_of(tx), "M", complete_only=False)
    assert ret.index.tolist() == ["2017-01", "2017-02"]
    assert ret.loc["2017-01", "cohort_size"] == 2 and ret.loc["2017-02", "cohort_size"] == 1
    assert ret.loc["2017-01", 0] == 1.0
    assert ret.loc["2017-01", 1] == 0.5  # only h1 in February
    assert ret.loc["2017-01", 2] == 1.0  # both in March
    assert ret.loc["2017-02", 1] == 1.0
    assert np.isnan(ret.loc["2017-02", 2])
    weekly = eda.cohort_retention(lines_of(tx), "W", complete_only=False)
    assert weekly.index[0] == "2017-01-02/2017-01-08"  # pandas' weekly periods
    assert weekly["cohort_size"].sum() == 3


def test_demographics_spend_orders_levels():
    lines = lines_of(make_tx())
    demo = pd.DataFrame({"household_id": [1, 2, 3], "income": ["100-124K", "Under 15K", "15-24K"]})
    out = eda.demographics_spend(lines, demo, ["income"])["income"]
    assert out.index.tolist() == ["Under 15K", "15-24K", "100-124K"]
    assert out.loc["100-124K", "median_spend"] == 7.0
    with pytest.raises(DataError):
        eda.demographics_spend(lines, demo, ["age"])


# ---------------------------------------------------------------- promotions (DuckDB)
@pytest.fixture
def tiny_con():
    """Store 1 open weeks 1-4. Product A sells 2, 6, 0, 4 in weeks 1-4; it is on display in
    week 2 (listed twice) and in the mailer in week 4. Product B sells 1 every week, never
    promoted. Product C is promoted but never sold; week 9 is outside the open weeks."""
    con = duckdb.connect()
    tx = pd.DataFrame(
        {
            "household_id": 1,
            "basket_id": range(7),
            "product_id": [1, 1, 1, 2, 2, 2, 2],
            "store_id": 1,
            "quantity": [2, 6, 4, 1, 1, 1, 1],
            "sales_value": [2.0, 6.0, 4.0, 1.0, 1.0, 1.0, 1.0],
            "week": [1, 2, 4, 1, 2, 3, 4],
        }
    )
    promo = pd.DataFrame(
        {
            "product_id": [1, 1, 1, 3, 1],
            "store_id": 1,
            "display_location": ["1", "1", "0", "5", "2"],
            "mailer_location": ["0", "0", "A", "A", "0"],
            "week": [2, 2, 4, 2, 9],
        }
    )
    con.register("transactions_df", tx)
    con.register("promotions_df", promo)
    con.execute("CREATE TABLE transactions AS SELECT * FROM transactions_df")
    con.execute("CREATE TABLE promotions AS SELECT * FROM promotions_df")
    yield con
    con.close()


def test_promotion_lift_by_hand(tiny_con):
    lift = eda.promotion_lift(tiny_con, threads=1, memory_limit="200MB")
    # base weeks of pair (A, 1): weeks 1 and 3, sales 2 + 0 -> 1.0 a week
    assert lift.loc["display only", "sales_lift"] == pytest.approx(6 / 1 - 1)
    assert lift.loc["mailer only", "sales_lift"] == pytest.approx(4 / 1 - 1)
    assert lift.loc["any promotion", "sales_lift"] == pytest.approx(5 / 1 - 1)
    assert lift.loc["any promotion", "pairs"] == 1
    assert lift.loc["display only", "promo_weeks"] == 1
    assert lift.loc["any promotion", "base_weeks"] == 2
    assert "display + mailer" not in lift.index


def test_naive_promotion_comparison(tiny_con):
    naive = eda.naive_promotion_comparison(tiny_con).set_index(["on_display", "in_mailer"])
    assert naive.loc[(False, False), "mean_sales"] == pytest.approx((2 + 4 * 1) / 5)
    assert naive.loc[(True, False), "mean_sales"] == 6.0
    assert naive.loc[(False, True), "mean_sales"] == 4.0
    assert naive.loc[(False, False), "median_unit_price"] == 1.0


def test_promotion_lift_needs_the_views():
    con = duckdb.connect()
    with pytest.raises(DataError, match="promotions"):
        eda.promotion_lift(con)


def test_coupon_redemption_by_hand():
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE campaign_descriptions AS SELECT * FROM (VALUES "
        "(1, 'Type A', TIMESTAMP '2017-01-01', TIMESTAMP '2017-02-01'), "
        "(2, 'Type B', TIMESTAMP '2017-03-01', TIMESTAMP '2017-04-01')) "
        "t(campaign_id, campaign_type, start_date, end_date)"
    )
    con.execute(
        "CREATE TABLE campaigns AS SELECT * FROM (VALUES (1, 10), (1, 11), (1, 12), "
        "(1, 13), (2, 10)) t(campaign_id, household_id)"
    )
    con.execute(
        "CREATE TABLE coupons AS SELECT * FROM (VALUES (555, 1, 1), (556, 2, 1)) "
        "t(coupon_upc, product_id, campaign_id)"
    )
    con.execute(
        "CREATE TABLE coupon_redemptions AS SELECT * FROM (VALUES "
        "(10, 555, 1, TIMESTAMP '2017-01-05'), (10, 556, 1, TIMESTAMP '2017-01-06')) "
        "t(household_id, coupon_upc, campaign_id, redemption_date)"
    )
    out = eda.coupon_redemption(con)
    assert out.loc[1, "targeted_households"] == 4
    assert out.loc[1, "coupons"] == 2
    assert out.loc[1, "redemptions"] == 2
    assert out.loc[1, "redemption_rate"] == 0.25
    assert out.loc[2, "redemption_rate"] == 0.0


# ---------------------------------------------------------------- summary
def test_summary_markdown_and_path(tmp_path, monkeypatch):
    text = eda.summary_markdown(
        "T", {"rows": "3"}, {"table": pd.DataFrame({"a": [1]})}, ["one finding"]
    )
    assert text.startswith("# T\n")
    assert "| rows | 3 |" in text and "- one finding" in text and "| index | a |" in text
    monkeypatch.setenv("ECOM_METRICS_FILE", str(tmp_path / "run" / "01_eda.metrics.json"))
    assert eda.summary_path() == tmp_path / "run" / "01_eda_summary.md"


def test_promotion_lift_interval_matches_delta_method():
    """Three products on display once each in store 1 (open weeks 1-4, kept open by product
    9): per-pair promoted-week sales x and mean other-week sales y give the delta-method SE."""
    con = duckdb.connect()
    sold = [(1, 1, 2.0), (1, 2, 6.0), (2, 1, 1.0), (2, 3, 3.0), (2, 4, 1.0), (3, 2, 4.0)]
    sold += [(3, 4, 3.0)] + [(9, w, 1.0) for w in range(1, 5)]
    tx = pd.DataFrame(sold, columns=["product_id", "week", "sales_value"])
    tx["store_id"], tx["quantity"] = 1, 1
    promo = pd.DataFrame(
        {"product_id": [1, 2, 3], "store_id": 1, "week": [2, 3, 2]}
        | {"display_location": "1", "mailer_location": "0"}
    )
    con.register("tx_df", tx)
    con.register("promo_df", promo)
    con.execute("CREATE TABLE transactions AS SELECT * FROM tx_df")
    con.execute("CREATE TABLE promotions AS SELECT * FROM promo_df")
    lift = eda.promotion_lift(con).loc["display only"]
    x, y = np.array([6.0, 3.0, 4.0]), np.array([2 / 3, 2 / 3, 1.0])
    ratio = x.mean() / y.mean()
    cov = np.cov(x, y, ddof=1)
    se = np.sqrt((cov[0, 0] - 2 * ratio * cov[0, 1] + ratio**2 * cov[1, 1]) / (3 * y.mean() ** 2))
    assert lift["pairs"] == 3
    assert lift["sales_lift"] == pytest.approx(ratio - 1)
    assert lift["sales_lift_se"] == pytest.approx(se)
    assert lift["ci_low"] == pytest.approx(ratio - 1 - 1.959964 * se, rel=1e-5)
    assert lift["ci_low"] < lift["sales_lift"] < lift["ci_high"]
    with pytest.raises(ValueError):
        eda.promotion_lift(con, confidence=1.0)


def test_spend_difference_test():
    rng = np.random.default_rng(0)
    n = 60
    tx = pd.DataFrame({"household_id": np.arange(n), "sales_value": rng.normal(100, 5, n)})
    tx = tx.assign(basket_id=tx["household_id"], quantity=1)
    tx["transaction_timestamp"] = pd.Timestamp("2017-01-02")
    demo = pd.DataFrame({"household_id": np.arange(n), "band": np.repeat(["a", "b", "c"], 20)})
    same = eda.spend_difference_test(lines_of(tx), demo, "band")
    assert same["groups"] == 3 and same["households"] == n and same["p_value"] > 0.01
    tx.loc[demo["band"] == "c", "sales_value"] += 50  # band c spends clearly more
    assert eda.spend_difference_test(lines_of(tx), demo, "band")["p_value"] < 1e-6
    with pytest.raises(DataError):
        eda.spend_difference_test(lines_of(tx), demo.assign(band="a"), "band")


def test_readable_adds_thousands_separators_for_display_only():
    frame = pd.DataFrame({"rows": [1469307, 12], "share": [0.057741, 12345.6], "name": ["a", "b"]})
    shown = eda.readable(frame)
    assert shown["rows"].tolist() == ["1,469,307", "12"]
    assert shown["share"].tolist() == ["0.05774", "12,346"]
    assert frame["rows"].dtype == "int64"  # the frame itself is untouched
