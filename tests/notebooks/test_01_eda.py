"""Notebook 01 (EDA) at the smoke profile: its recorded metrics against the known sizes of
The Complete Journey and sane ranges."""

from __future__ import annotations

import pytest


@pytest.mark.notebook
@pytest.mark.xdist_group("nb_01")
def test_01_eda_smoke(run_notebook):
    m = run_notebook("01_eda", profile="smoke")

    # known sizes of the data (docs/design.md): nothing lost or duplicated on the way
    assert m["n_transactions"] == 1_469_307
    assert m["n_households"] == 2_469
    assert m["n_promotion_rows"] == 20_940_529
    assert m["n_campaigns"] == 27
    assert m["coupon_redemptions"] == 2_102
    assert m["n_households_with_demographics"] <= 801
    assert 100_000 < m["n_baskets"] < m["n_transactions"]
    assert 3e6 < m["total_sales"] < 7e6

    # outliers: the 89,638 fuel quantity is found, and nothing above the cap survives cleaning
    assert m["max_quantity"] == 89_638
    assert m["n_fuel_lines"] > 0
    assert m["max_units_after_cleaning"] <= m["quantity_cap"] < 1_000

    # time: timestamps converted from UTC, so the peak hour is a daytime hour
    assert 8 <= m["peak_hour"] <= 21
    assert m["busiest_weekday"] in {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
    assert 0 < m["weekly_sales_cv"] < 0.5

    # categories and baskets
    assert m["top_department"] == "GROCERY"
    assert 0.3 < m["top_department_share"] < 0.8
    assert 0 < m["top_category_share"] < m["top_n_category_share"] < 1
    assert 1 < m["n_categories_80pct"] < m["n_categories"]
    assert 1 <= m["median_basket_lines"] < 50
    assert 1 < m["median_basket_value"] < m["mean_basket_value"] < 200

    # households: the smoke profile samples 800 households
    assert m["n_households_analysed"] == 800
    assert sum(m["rfm_segments"].values()) == 800
    assert m["champions_spend_share"] > m["champions_household_share"] > 0
    assert 0.5 < m["first_cohort_month1_retention"] <= 1
    assert 0 < m["later_cohorts_month1_retention"] <= 1
    assert m["income_spend_ratio"] >= 1

    # promotions: positive within-pair lifts, combined >= each alone, naive comparison below
    for key in ("display_lift", "mailer_lift", "display_mailer_lift", "any_promotion_lift"):
        assert 0.05 < m[key] < 20, key
    assert m["display_mailer_lift"] > max(m["display_lift"], m["mailer_lift"])
    assert m["naive_display_difference"] < m["display_lift"]
    assert m["promo_pairs"] > 10_000
    for key in ("display_lift", "mailer_lift"):
        low, high = m[f"{key}_ci"]
        assert 0 < low < m[key] < high < 2 * m[key], key  # an informative interval
    assert set(m["spend_difference_p_values"]) == {"income", "age", "household_size"}
    assert 0 < m["coupon_redemption_rate"] < 1


@pytest.mark.notebook
@pytest.mark.xdist_group("nb_01")
def test_01_eda_without_promotion_lift(run_notebook):
    m = run_notebook("01_eda", profile="smoke", PROMO_LIFT=False, SAMPLE_HOUSEHOLDS=300)
    assert "display_lift" not in m and "promo_lift_seconds" not in m
    assert m["n_households_analysed"] == 300
    assert m["n_transactions"] == 1_469_307  # the overview still covers every line
    assert m["coupon_redemptions"] == 2_102


@pytest.mark.notebook
@pytest.mark.xdist_group("nb_01")
def test_01_eda_on_a_source_without_customers(run_notebook):
    # pizzaplace: order lines with products and categories, no customer ids
    m = run_notebook("01_eda", profile="smoke", DATA="pizzaplace")
    assert m["n_transactions"] == 49_574 and m["n_baskets"] == 21_350
    assert "n_households" not in m and "rfm_segments" not in m  # no customers: skipped
    assert m["n_categories"] == 4 and m["top_category"] in {
        "classic",
        "supreme",
        "veggie",
        "chicken",
    }
    assert 1 <= m["median_basket_lines"] <= 5
    assert 11 <= m["peak_hour"] <= 20  # local time of a pizza place
    assert "display_lift" not in m and "n_campaigns" not in m


@pytest.mark.notebook
@pytest.mark.xdist_group("nb_01")
def test_01_eda_on_a_source_without_products(run_notebook):
    # cdnow: customers, dates and amounts only
    m = run_notebook("01_eda", profile="smoke", DATA="cdnow")
    assert m["n_transactions"] == 69_659 and m["n_households"] == 23_570
    assert m["n_households_analysed"] == 800
    assert "n_categories" not in m and "median_basket_lines" not in m
    assert "peak_hour" not in m  # dates without a time of day
    assert 0 < m["first_cohort_month1_retention"] < 0.5


@pytest.mark.notebook
@pytest.mark.xdist_group("nb_01")
def test_01_eda_same_metrics_on_spark(run_notebook, monkeypatch):
    """`ecom run --engine spark` (ECOM_ENGINE=spark): the notebook's queries run on Spark and
    every recorded metric equals the DuckDB run's (the promotion lift, 60 s on Spark here, is
    compared query by query in tests/unit/test_engines.py)."""
    from ecomlib import config
    from ecomlib.data.engines import available_engines

    if available_engines()["spark"]:
        pytest.skip(available_engines()["spark"])
    params = {"profile": "smoke", "PROMO_LIFT": False, "SAMPLE_HOUSEHOLDS": 300}
    monkeypatch.setenv("ECOM_ENGINE", "duckdb")
    on_duckdb = run_notebook("01_eda", **params)
    monkeypatch.setenv("ECOM_ENGINE", "spark")
    on_spark = run_notebook("01_eda", **params)
    assert on_spark["engine"] == "spark" and on_duckdb["engine"] == "duckdb"
    timing = {k for k in on_duckdb if k.endswith("seconds")} | {"engine"}
    assert set(on_spark) == set(on_duckdb)
    assert {k: on_spark[k] for k in on_spark if k not in timing} == {
        k: on_duckdb[k] for k in on_duckdb if k not in timing
    }
    # the kernel's cwd is notebooks/: Spark's warehouse folder goes elsewhere (engines.py)
    assert not (config.project_root() / "notebooks" / "spark-warehouse").exists()
