"""Exploratory analysis of retail transactions: quality, time, categories, baskets,
households (RFM, cohorts) and promotions.

The order lines never come into pandas: :func:`clean_lines` makes views of the cleaned lines
on the query engine (:meth:`ecomlib.data.Source.open_engine`: DuckDB, or Spark, which runs
the same DuckDB-dialect SQL transpiled), and every aggregation is one query on them whose
small result (per day, category, basket or household) is a tidy pandas object that a
notebook displays or plots. Big tables (the 20.9M-row ``promotions``) are aggregated the same
way.

>>> from ecomlib import data, eda
>>> con = data.open_source("").open_engine()
>>> lines = eda.clean_lines(con, timezone="America/New_York")   # views, no pandas load
>>> daily = eda.sales_over_time(lines, "D")
>>> scores = eda.rfm(eda.sample_households(lines, 800))
>>> lift = eda.promotion_lift(con)              # display / mailer lift, computed in SQL
"""

from ecomlib.eda._common import (
    CURRENCY_SYMBOLS,
    FUEL_PATTERN,
    WEEKDAYS,
    money,
    readable,
    set_currency,
)
from ecomlib.eda.customers import (
    RFM_SEGMENTS,
    cohort_retention,
    demographics_spend,
    household_totals,
    rfm,
    segment_summary,
    spend_difference_test,
)
from ecomlib.eda.lines import (
    PRODUCT_COLUMNS,
    Lines,
    clean_lines,
    sample_households,
)
from ecomlib.eda.periods import (
    WEEKDAY_SQL,
    sales_over_time,
    weekday_hour,
)
from ecomlib.eda.plots import (
    plot_baskets,
    plot_cohorts,
    plot_coupons,
    plot_demographics,
    plot_lift,
    plot_pareto,
    plot_sales_over_time,
    plot_segments,
    plot_weekday_hour,
)
from ecomlib.eda.products import (
    basket_summary,
    change_words,
    fuel_share,
    n_for_share,
    pareto,
)
from ecomlib.eda.promotions import (
    NAIVE_PROMOTION_SQL,
    PROMOTION_LIFT_SQL,
    coupon_redemption,
    naive_promotion_comparison,
    promotion_lift,
)
from ecomlib.eda.quality import (
    baskets_by_hour,
    data_quality_report,
    line_stats,
    table_overview,
    top_lines,
)
from ecomlib.eda.summary import (
    summary_markdown,
    summary_path,
)

__all__ = [
    "CURRENCY_SYMBOLS",
    "FUEL_PATTERN",
    "Lines",
    "NAIVE_PROMOTION_SQL",
    "PRODUCT_COLUMNS",
    "PROMOTION_LIFT_SQL",
    "RFM_SEGMENTS",
    "WEEKDAYS",
    "WEEKDAY_SQL",
    "basket_summary",
    "baskets_by_hour",
    "change_words",
    "clean_lines",
    "cohort_retention",
    "coupon_redemption",
    "data_quality_report",
    "demographics_spend",
    "fuel_share",
    "household_totals",
    "line_stats",
    "money",
    "n_for_share",
    "naive_promotion_comparison",
    "pareto",
    "plot_baskets",
    "plot_cohorts",
    "plot_coupons",
    "plot_demographics",
    "plot_lift",
    "plot_pareto",
    "plot_sales_over_time",
    "plot_segments",
    "plot_weekday_hour",
    "promotion_lift",
    "readable",
    "rfm",
    "sales_over_time",
    "sample_households",
    "segment_summary",
    "set_currency",
    "spend_difference_test",
    "summary_markdown",
    "summary_path",
    "table_overview",
    "top_lines",
    "weekday_hour",
]
