"""DuckDB and Spark give the same answers to the same (DuckDB-dialect) queries.

One session-scoped Spark ``local[1]`` session; the Spark tests skip when pyspark or Java is
missing (``make setup`` installs both). Sums are compared to 1e-9 relative, counts exactly.
"""

from __future__ import annotations

import pandas as pd
import pytest

from ecomlib.data import engines
from ecomlib.data.engines import available_engines, connect, to_spark_sql
from ecomlib.errors import EcomError

SPARK_MISSING = available_engines()["spark"]
needs_spark = pytest.mark.skipif(SPARK_MISSING is not None, reason=str(SPARK_MISSING))

LOCAL_DAYS = """
    SELECT CAST(timezone('{tz}', timezone('UTC', transaction_timestamp)) AS DATE) AS day,
           COUNT(*) AS lines, COUNT(DISTINCT basket_id) AS baskets,
           SUM(quantity) AS units, SUM(sales_value) AS sales,
           AVG(CASE WHEN quantity > 1 THEN 1.0 ELSE 0.0 END) AS share_multi
    FROM transactions GROUP BY 1 ORDER BY 1
"""


@pytest.fixture(scope="session")
def spark():
    if SPARK_MISSING:
        pytest.skip(SPARK_MISSING)
    session = engines.spark_session("local[1]")
    yield session
    session.stop()


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        a.reset_index(drop=True), b.reset_index(drop=True), check_exact=False, rtol=1e-9
    )


# ---------------------------------------------------------------------- no JVM needed
def test_transpile_rewrites_what_sqlglot_passes_through():
    sql = to_spark_sql(
        "SELECT timezone('UTC', timezone('Europe/Berlin', TRY_CAST(x AS TIMESTAMP))) AS a, "
        "CAST(timezone('America/New_York', timezone('UTC', t)) AS DATE) AS d, "
        "AVG(CASE WHEN y THEN 1.0 ELSE 0.0 END) AS s, CAST(z AS VARCHAR) AS v FROM t"
    )
    assert "TO_UTC_TIMESTAMP(TRY_CAST(x AS TIMESTAMP), 'Europe/Berlin')" in sql
    assert "FROM_UTC_TIMESTAMP(t, 'America/New_York')" in sql
    assert "CAST(1.0 AS DOUBLE)" in sql and "CAST(0.0 AS DOUBLE)" in sql
    assert "TIMEZONE(" not in sql.upper() and "TIMESTAMP_NTZ" not in sql
    assert "CAST(z AS STRING)" in sql


def test_no_pyspark_is_one_clear_error(monkeypatch):
    real = engines.importlib.util.find_spec
    monkeypatch.setattr(
        engines.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "pyspark" else real(name, *a),
    )
    monkeypatch.delenv("ECOM_SPARK_MASTER", raising=False)
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    assert "pyspark is not installed" in available_engines()["spark"]
    assert available_engines()["duckdb"] is None
    with pytest.raises(EcomError, match=r"pyspark is not installed.*\.\[spark\]"):
        engines.spark_session()


def test_no_java_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(engines, "_java", lambda: None)
    monkeypatch.setattr(engines, "_pyspark_missing", lambda: None)
    monkeypatch.delenv("ECOM_SPARK_MASTER", raising=False)
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    with pytest.raises(EcomError, match="Java is not found.*openjdk-17-jre-headless"):
        connect("cdnow", engine="spark")


def test_unknown_engine_and_env_default(monkeypatch):
    with pytest.raises(EcomError, match="unknown engine 'flink'"):
        connect("cdnow", engine="flink")
    monkeypatch.setenv("ECOM_ENGINE", "DuckDB")
    with connect("cdnow") as eng:
        assert eng.name == "duckdb"
        assert eng.query("SELECT count(*) AS n FROM transactions")["n"].dtype == "int64"


def test_cli_engines_says_why_not(monkeypatch):
    from typer.testing import CliRunner

    from ecomlib.cli import app

    monkeypatch.setattr(engines, "_java", lambda: None)
    monkeypatch.delenv("ECOM_SPARK_MASTER", raising=False)
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    out = CliRunner().invoke(app, ["engines"])
    assert out.exit_code == 0, out.output
    assert "duckdb   available" in out.output
    assert "spark    unavailable" in out.output


# ---------------------------------------------------------------------- equality
@needs_spark
@pytest.mark.parametrize("name", ["cdnow", "pizzaplace"])
def test_canonical_views_equal(spark, name):
    duck = connect(name, engine="duckdb")
    spk = connect(name, engine="spark", spark=spark)
    try:
        tz = duck.source.timezone
        counts = "SELECT count(*) AS n, count(DISTINCT product_id) AS products FROM transactions"
        _same(duck.query(counts), spk.query(counts))
        a, b = duck.query(LOCAL_DAYS.format(tz=tz)), spk.query(LOCAL_DAYS.format(tz=tz))
        assert len(a) > 300 and a["day"].dtype == "datetime64[ns]"
        _same(a, b)
        if duck.source.has("products"):  # text skus, encoded on both engines the same way
            join = (
                "SELECT p.product_category, SUM(t.sales_value) AS sales FROM transactions t "
                "JOIN products p USING (product_id) GROUP BY 1 ORDER BY 1"
            )
            _same(duck.query(join), spk.query(join))
    finally:
        duck.close()
        spk.close()


@pytest.fixture(scope="module")
def complete_journey(spark):
    duck = connect("", engine="duckdb")
    spk = connect("", engine="spark", spark=spark)
    yield duck, spk
    duck.close()
    spk.close()


@needs_spark
def test_series_builder_equal_on_both_engines(complete_journey):
    from ecomlib.forecast.series import build_series

    duck, spk = complete_journey
    kw = dict(level="department", n_series=3, start="2017-03-01", end="2017-04-30")
    kw["timezone"] = "America/New_York"
    a, b = build_series(con=duck, **kw), build_series(con=spk, **kw)
    assert a.shape == (3 * 61, 3)
    _same(a, b)


@needs_spark
def test_promotion_lift_equal_on_both_engines(complete_journey):
    """ecomlib.eda.PROMOTION_LIFT_SQL, verbatim but for its two tables, on weeks 1-4 (the
    20.9M-row join takes minutes on Spark local[1])."""
    from ecomlib.eda import PROMOTION_LIFT_SQL

    sql = PROMOTION_LIFT_SQL.replace("FROM transactions", "FROM tx_w").replace(
        "FROM promotions", "FROM promo_w"
    )
    results = []
    for eng in complete_journey:
        eng.create_view("tx_w", "SELECT * FROM transactions WHERE week <= 4")
        eng.create_view("promo_w", "SELECT * FROM promotions WHERE week <= 4")
        results.append(eng.query(sql).sort_values("state"))
    a, b = results
    assert len(a) == 4 and a["pairs"].dtype == "int64" and a["pairs"].min() > 100
    _same(a, b)
