"""DuckDB and Spark give the same answers to the same (DuckDB-dialect) queries.

One session-scoped Spark ``local[1]`` session; the Spark tests skip when pyspark or Java is
missing (``make setup`` installs both). Sums are compared to 1e-9 relative, counts exactly.
"""

from __future__ import annotations

import re

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


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        a.reset_index(drop=True), b.reset_index(drop=True), check_exact=False, rtol=1e-9
    )


# ---------------------------------------------------------------------- no JVM needed
def test_bind_inlines_duckdb_parameters_as_literals():
    import datetime as dt

    from ecomlib.data.engines import bind

    sql = bind(
        "SELECT '?' AS q FROM t WHERE ts <= ? AND w BETWEEN ? AND ? AND x / ? > 0 AND s = ?",
        [dt.datetime(2017, 1, 2, 5), 1, 3, 2.0, "it's"],
    )
    assert sql == (
        "SELECT '?' AS q FROM t WHERE ts <= TIMESTAMP '2017-01-02 05:00:00' AND w BETWEEN 1 "
        "AND 3 AND x / CAST(2.0 AS DOUBLE) > 0 AND s = 'it''s'"
    )
    with pytest.raises(EcomError, match="1 '[?]' but 2 parameter"):
        bind("SELECT ?", [1, 2])
    with pytest.raises(EcomError, match="more '[?]' than"):
        bind("SELECT ?, ?", [1])


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
    monkeypatch.delenv("ECOM_ENGINE", raising=False)
    out = CliRunner().invoke(app, ["engines"])
    assert out.exit_code == 0, out.output  # the engine in use (duckdb) can run
    assert "duckdb   available" in out.output
    assert "spark    unavailable" in out.output
    monkeypatch.setenv("ECOM_ENGINE", "spark")  # asked for, and it cannot run: exit 1
    out = CliRunner().invoke(app, ["engines"])
    assert out.exit_code == 1 and "spark    unavailable (default)" in out.output, out.output
    assert "openjdk-17-jre-headless" in out.output


@pytest.mark.parametrize(
    "master, hint",
    [("sc://127.0.0.1:1", "start-connect-server.sh"), ("spark://127.0.0.1:1", "start-master.sh")],
)
def test_unreachable_master_is_one_clear_error(monkeypatch, tmp_path, master, hint):
    """A Spark Connect / standalone address where nothing listens: one message naming it and
    what to do, from connect(), `ecom engines` and `ecom run --engine spark` (exit 1): a TCP
    probe, not the client's minutes of retries or a JVM trace."""
    from typer.testing import CliRunner

    from ecomlib.cli import app

    monkeypatch.setattr(engines, "_pyspark_missing", lambda: None)
    monkeypatch.setattr(engines, "_connect_missing", lambda: [])  # as with pyspark[connect]
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    monkeypatch.setenv("ECOM_SPARK_MASTER", master)
    why = rf"cannot reach {master} \(127\.0\.0\.1:1: .*\); start .*{hint}.*ECOM_SPARK_MASTER"
    with pytest.raises(EcomError, match=why):
        connect("cdnow", engine="spark")
    out = CliRunner().invoke(app, ["engines"])
    assert "spark    unavailable" in out.output and f"cannot reach {master}" in out.output
    out = CliRunner().invoke(app, ["run", "01", "--engine", "spark", "--out", str(tmp_path)])
    assert out.exit_code == 1 and f"cannot reach {master}" in out.output
    assert "Traceback" not in out.output and "py4j" not in out.output.lower()


def test_source_file_spark_remote_reaches_the_session_builder(monkeypatch, tmp_path):
    """`spark: {remote: sc://...}` in the source file: the address the engine's session is
    built with (ECOM_SPARK_MASTER / SPARK_REMOTE win over it); no local warehouse for a
    remote driver; a failing client is one message naming the address."""
    from pyspark.sql import SparkSession

    from ecomlib.data import open_source

    (tmp_path / "o.csv").write_text(
        "basket_id,product_id,sales_value,transaction_timestamp\n1,a,2.0,2024-01-01 10:00:00\n"
    )
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\nengine: spark\nspark: {remote: 'sc://spark-host:15002'}\n"
        "tables:\n  transactions: {path: o.csv}\n"
    )
    src = open_source(path)
    for var in ("ECOM_SPARK_MASTER", "SPARK_REMOTE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(engines, "_LAST_SOURCE", ({}, ""))  # restored after: no leak
    where = f"spark.remote in {path}"
    assert engines.spark_target(src) == ("sc://spark-host:15002", where)
    monkeypatch.setenv("SPARK_REMOTE", "sc://other:15002")
    assert engines.spark_target(src) == ("sc://other:15002", "SPARK_REMOTE")
    monkeypatch.setenv("ECOM_SPARK_MASTER", "local[1]")
    assert engines.spark_target(src) == ("local[1]", "ECOM_SPARK_MASTER")
    monkeypatch.delenv("ECOM_SPARK_MASTER")
    monkeypatch.delenv("SPARK_REMOTE")

    monkeypatch.setattr(engines, "_pyspark_missing", lambda: None)
    monkeypatch.setattr(engines, "_connect_missing", lambda: [])
    monkeypatch.setattr(engines, "_unreachable", lambda master, timeout=3.0: None)
    monkeypatch.setattr(engines, "_java", lambda: None)  # a Connect client needs no Java
    built = {}

    def get_or_create(builder):
        built.update(builder._options)
        raise RuntimeError("[CONNECTION] server gone\n\tat org.apache.spark.Something")

    monkeypatch.setattr(SparkSession.Builder, "getOrCreate", get_or_create)
    assert engines.available_engines(src)["spark"] is None
    with pytest.raises(EcomError) as err:
        connect(src)  # the file's engine: spark
    assert built["spark.remote"] == "sc://spark-host:15002"
    assert "spark.master" not in built and "spark.sql.warehouse.dir" not in built
    text = str(err.value)
    assert text.startswith("cannot start Spark (sc://spark-host:15002): [CONNECTION] server gone")
    assert where in text and "\n" not in text and "org.apache" not in text
    # calls that name no source (a notebook's SparkALS) use the source last opened
    assert engines.spark_target() == ("sc://spark-host:15002", where)
    connect("cdnow", engine="duckdb").close()
    assert engines.spark_target() == (None, "")


def test_unreachable_remote_of_the_source_file_stops_ecom_run(monkeypatch, tmp_path):
    """An unreachable `spark: {remote: ...}` in the source file: `ecom run --data` and `ecom
    data check` exit 1 with one message naming the address and the file, no JVM trace."""
    from typer.testing import CliRunner

    from ecomlib.cli import app

    monkeypatch.setattr(engines, "_pyspark_missing", lambda: None)
    monkeypatch.setattr(engines, "_connect_missing", lambda: [])  # as with pyspark[connect]
    for var in ("ECOM_SPARK_MASTER", "SPARK_REMOTE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("ECOM_ENGINE", "spark")
    monkeypatch.setattr(engines, "_LAST_SOURCE", ({}, ""))  # this test sets it: restored after
    (tmp_path / "o.csv").write_text(
        "basket_id,product_id,sales_value,transaction_timestamp\n1,a,2.0,2024-01-01 10:00:00\n"
    )
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\nspark: {remote: 'sc://127.0.0.1:1'}\ntables:\n  transactions: {path: o.csv}\n"
    )
    why = (
        r"cannot reach sc://127\.0\.0\.1:1 \(127\.0\.0\.1:1: .*\); start a Spark Connect "
        rf"server there .*, remove spark\.remote in {path} to run Spark locally"
    )
    for args in (
        ["data", "check", "--data", str(path)],
        ["run", "01", "--data", str(path), "--out", str(tmp_path / "reports")],
    ):
        out = CliRunner().invoke(app, args)
        assert out.exit_code == 1, out.output
        assert re.search(why, out.output.replace("\n", " ")), out.output
        assert "Traceback" not in out.output and "py4j" not in out.output.lower()
    assert not (tmp_path / "reports").exists() or not any((tmp_path / "reports").iterdir())


def test_spark_connect_without_its_client_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(engines, "_pyspark_missing", lambda: None)
    monkeypatch.setattr(engines, "_connect_missing", lambda: ["grpcio", "zstandard"])
    monkeypatch.setenv("ECOM_SPARK_MASTER", "sc://127.0.0.1:1")
    with pytest.raises(EcomError, match=r"sc://127.0.0.1:1 .*grpcio, zstandard missing.*connect"):
        engines.spark_session()


# ---------------------------------------------------------------------- equality
@needs_spark
@pytest.mark.parametrize("name, rows", [("cdnow", 69_659), ("pizzaplace", 49_574)])
def test_canonical_views_equal(spark, name, rows):
    from pathlib import Path

    duck = connect(name, engine="duckdb")
    spk = connect(name, engine="spark", spark=spark)
    try:
        days = LOCAL_DAYS.format(tz=duck.source.timezone)
        a, b = duck.query(days), spk.query(days)
        assert a["lines"].sum() == rows and a["day"].dtype == "datetime64[ns]"
        _same(a, b)
        # Spark makes its warehouse folder when the catalog is first listed (information_schema
        # on the Spark engine): not in the cwd (notebooks/ for `ecom run`)
        assert "transactions" in set(
            spk.execute("SELECT table_name FROM information_schema.tables").df()["table_name"]
        )
        assert not (Path.cwd() / "spark-warehouse").exists()
        warehouse = spark.conf.get("spark.sql.warehouse.dir")
        assert str(Path(engines.spark_scratch_dir()).resolve()) in warehouse
        if duck.source.has("products"):  # text skus, encoded on both engines the same way
            join = (
                "SELECT p.product_category, COUNT(DISTINCT product_id) AS products, "
                "SUM(t.sales_value) AS sales FROM transactions t "
                "JOIN products p USING (product_id) GROUP BY 1 ORDER BY 1"
            )
            _same(duck.query(join), spk.query(join))
    finally:
        duck.close()
        spk.close()


@pytest.fixture(scope="module")
def complete_journey(spark, tmp_path_factory):
    """The Complete Journey's first quarter (weeks 1-13) in every tenth store (566k of the
    20.9M promotions, 34k transactions) with all products, written as a source of its own: a
    filter on the bundled files would still make Spark scan all promotions (~15 s on local[1])
    in every query, and the whole lift takes minutes there (the benchmark measures it)."""
    import duckdb

    from ecomlib.data import open_source

    cj = open_source("")
    folder = tmp_path_factory.mktemp("cj_q1")
    tables = {
        "transactions": "WHERE store_id % 10 = 0 AND week <= 13",
        "promotions": "WHERE store_id % 10 = 0 AND week <= 13",
        "products": "",
    }
    with duckdb.connect() as con:
        for name, where in tables.items():
            src = cj.tables[name].path
            con.execute(
                f"COPY (SELECT * FROM read_parquet('{src}') {where}) "
                f"TO '{folder / name}.parquet' (FORMAT parquet)"
            )
    (folder / "source.yaml").write_text(
        "name: cj-q1-stores\ntimezone: America/New_York\ntables:\n"
        "  transactions: {path: transactions.parquet, timestamps: utc}\n"
        "  promotions: {path: promotions.parquet}\n"
        "  products: {path: products.parquet}\n"
    )
    source = open_source(folder / "source.yaml")
    duck = connect(source, engine="duckdb")
    spk = connect(source, engine="spark", spark=spark)
    yield duck, spk
    duck.close()
    spk.close()


@needs_spark
def test_series_builder_equal_on_both_engines(complete_journey):
    """ecomlib.forecast.build_series, unchanged, on either engine (New York days)."""
    from ecomlib.forecast.series import build_series

    duck, spk = complete_journey
    kw = dict(level="department", n_series=3, start="2017-01-01", end="2017-03-25")
    kw["timezone"] = "America/New_York"
    a, b = build_series(con=duck, **kw), build_series(con=spk, **kw)
    assert a.shape == (3 * 84, 3) and a["y"].sum() > 1e4
    _same(a, b)
    # every department x store (ecom forecast --by store_id)
    kw.update(n_series=None, by="store_id")
    a, b = build_series(con=duck, **kw), build_series(con=spk, **kw)
    assert a["unique_id"].nunique() > 50 and a["unique_id"].str.contains(" [|] ").all()
    _same(a, b)


@needs_spark
def test_promotion_plan_features_equal_on_both_engines(complete_journey):
    """ecomlib.forecast.promotion_features (notebook 02's plan columns), unchanged, on either
    engine."""
    from ecomlib.data.engines import normalise_frame
    from ecomlib.forecast import promotion_features

    kw = dict(level="department", start="2017-01-02", end="2017-03-26")
    a, b = (promotion_features(eng, **kw) for eng in complete_journey)
    assert len(a) > 500 and a["display_share"].max() > 0
    _same(normalise_frame(a), normalise_frame(b))


@needs_spark
def test_recommender_feature_queries_equal_on_both_engines(complete_journey):
    """The next-basket ranker's SQL readers (promotion plan, purchase details, store sales),
    with their DuckDB ``?`` parameters, give the same frames on either engine."""
    from ecomlib.data.engines import normalise_frame
    from ecomlib.recommend.signals import PlannedSignals, PurchaseDetails, StoreSales

    cut = pd.Timestamp("2017-02-20 05:00")
    duck, spk = complete_journey

    def frames(con):
        plan = PlannedSignals(con)
        first, last = plan.window_weeks(cut, cut + pd.Timedelta(days=14))
        out = {
            "weeks": pd.DataFrame({"first": [first], "last": [last]}),
            "promoted": plan.promoted(first, last),
            "shares": plan.store_shares(cut),
            "lines": PurchaseDetails(con).lines(cut),
            "sold": StoreSales(con, recent_days=14).store_products(cut),
        }
        keys = ["store_id", "product_id", "household_id"]
        return {
            k: normalise_frame(f)
            .sort_values([c for c in keys if c in f] or list(f.columns))
            .reset_index(drop=True)
            for k, f in out.items()
        }

    a, b = frames(duck), frames(spk)
    assert len(a["promoted"]) > 100 and len(a["lines"]) > 1000 and len(a["sold"]) > 100
    for key in a:
        _same(a[key], b[key])


@needs_spark
def test_promotion_lift_equal_on_both_engines(complete_journey):
    """ecomlib.eda.promotion_lift (PROMOTION_LIFT_SQL), unchanged, on either engine."""
    from ecomlib.eda import promotion_lift

    a, b = (promotion_lift(eng) for eng in complete_journey)
    assert list(a.index) == ["display only", "mailer only", "display + mailer", "any promotion"]
    assert a["pairs"].dtype == "int64" and a["pairs"].min() > 100
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9)


@needs_spark
def test_interactions_equal_on_both_engines(complete_journey):
    """ecomlib.recommend.interactions.orders (household x product x basket), unchanged, on
    either engine, and the interaction matrix built from it."""
    from ecomlib.data.engines import normalise_frame
    from ecomlib.recommend.interactions import Interactions, orders
    from ecomlib.recommend.interactions import complete_journey as cj

    duck, spk = complete_journey
    for weight in ("baskets", "sales_value"):
        a, b = orders(duck, weight), orders(spk, weight)
        assert len(a) > 10_000 and a["user_id"].dtype == "int64"
        _same(normalise_frame(a), b)  # DuckDB's timestamps are datetime64[us], Spark's [ns]
    ma, mb = Interactions(a).matrix, Interactions(cj(spk, "sales_value")).matrix
    assert ma.shape == mb.shape and abs(ma - mb).max() <= 1e-6 * abs(ma).max()


@needs_spark
def test_statsforecast_on_spark_same_as_pandas(spark, complete_journey):
    """forecast_many on a Spark DataFrame (statsforecast through fugue) gives the pandas
    forecasts, with the pandas types (Spark's come back float32)."""
    from ecomlib.forecast import build_series, forecast_many

    kw = dict(level="department", n_series=3, start="2017-01-01", end="2017-03-25")
    df = build_series(con=complete_journey[0], timezone="America/New_York", **kw)
    a = forecast_many(df, h=7, freq="D", models=["SeasonalNaive", "AutoETS"])
    b = forecast_many(df, h=7, freq="D", models=["SeasonalNaive", "AutoETS"], spark=spark)
    assert a.shape == (3 * 7, 4) and a["AutoETS"].notna().all()
    assert a["ds"].dtype == "datetime64[ns]" and b["AutoETS"].dtype == "float64"
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-6)


def test_source_file_engine_key_and_its_precedence(tmp_path, monkeypatch):
    """`engine:` in a source file picks the engine unless ECOM_ENGINE (ecom run --engine) says
    otherwise; an engine that cannot run stops the run with the reason before any notebook."""
    from ecomlib.data import open_source
    from ecomlib.errors import DataError, ParameterError
    from ecomlib.report import runner

    (tmp_path / "o.csv").write_text(
        "basket_id,product_id,sales_value,transaction_timestamp\n1,a,2.0,2024-01-01 10:00:00\n"
    )
    path = tmp_path / "s.yaml"
    path.write_text("name: s\nengine: Spark\ntables:\n  transactions: {path: o.csv}\n")
    src = open_source(path)
    monkeypatch.delenv("ECOM_ENGINE", raising=False)
    assert src.engine == "spark" and engines.default_engine(src) == "spark"
    assert engines.default_engine(open_source("cdnow")) == "duckdb"
    monkeypatch.setenv("ECOM_ENGINE", "duckdb")
    assert engines.default_engine(src) == "duckdb"
    with src.open_engine() as eng:
        assert (
            eng.name == "duckdb"
            and eng.query("SELECT count(*) AS n FROM transactions")["n"][0] == 1
        )
    monkeypatch.delenv("ECOM_ENGINE")
    monkeypatch.setattr(engines, "_java", lambda: None)
    monkeypatch.delenv("ECOM_SPARK_MASTER", raising=False)
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    with pytest.raises(ParameterError, match="--engine spark: not available here: Java"):
        runner._check_engine(None, src)
    assert runner._check_engine("duckdb", src) == "duckdb"
    path.write_text("name: s\nengine: flink\ntables:\n  transactions: {path: o.csv}\n")
    with pytest.raises(DataError, match="engine: 'flink' is not an engine; use duckdb or spark"):
        open_source(path)


def test_data_checks_same_findings_on_both_engines(spark, tmp_path, monkeypatch):
    """`ecom data check` with ECOM_ENGINE=spark: the same row counts and findings (bad numbers,
    negative amounts, dates in the future, order lines naming an unknown product)."""
    from ecomlib.data import check_source, open_source

    (tmp_path / "orders.csv").write_text(
        "order,customer,sku,created_at,qty,total\n"
        "A1,c-1,SKU-1,2024-03-01 09:15:00,2,5.00\n"
        "A1,c-1,SKU-2,2024-03-01 09:15:00,1,abc\n"
        "A2,c-2,SKU-9,2099-03-01 23:30:00,1,2.50\n"
        "A3,c-1,SKU-3,2024-03-02 10:00:00,3,-9.00\n"
    )
    (tmp_path / "products.csv").write_text("sku,cat\nSKU-1,bread\nSKU-2,milk\nSKU-3,bread\n")
    (tmp_path / "shop.yaml").write_text(
        "name: shop\ntimezone: Europe/Berlin\ntables:\n"
        "  transactions: {path: orders.csv, columns: {order: basket_id, customer: household_id, "
        "sku: product_id, created_at: transaction_timestamp, qty: quantity, total: sales_value}}\n"
        "  products: {path: products.csv, columns: {sku: product_id, cat: product_category}}\n"
    )
    reports = {}
    for name in ("duckdb", "spark"):
        monkeypatch.setenv("ECOM_ENGINE", name)
        reports[name] = check_source(open_source(tmp_path / "shop.yaml"))
    duck, on_spark = reports["duckdb"], reports["spark"]
    assert not duck.ok and len(duck.findings) >= 4
    for message in (
        "not a number: 'abc'",
        "negative value",
        "lie in the future",
        "not in products",
    ):
        assert message in duck.text(), message
    assert on_spark.rows == duck.rows
    assert sorted(on_spark.findings, key=str) == sorted(duck.findings, key=str)


@needs_spark
def test_eda_aggregations_equal_on_both_engines(spark, complete_journey):
    """Notebook 01's order-line aggregations (ecomlib.eda on clean_lines views), unchanged, on
    either engine: quality checks, counts, days, weeks, weekday x hour, Pareto, baskets, RFM,
    cohorts (New York local time, a seeded household sample)."""
    from ecomlib import eda

    duck = complete_journey[0]
    # a fresh Spark engine: temporary views are per session, and an engine made by another
    # test on this session (the data checks) replaces and drops views of the same names
    spk = connect(duck.source, engine="spark", spark=spark)
    tz = "America/New_York"
    a, b = (eda.clean_lines(eng, timezone=tz) for eng in (duck, spk))
    assert a.cap == b.cap and a.has_times and b.has_times
    sa, sb = eda.line_stats(a), eda.line_stats(b)
    assert sa["lines"] > 30_000 and sa.keys() == sb.keys()
    for key, value in sa.items():
        same = (
            sb[key] == value
            if key.startswith("last")
            else sb[key] == pytest.approx(value, rel=1e-9)
        )
        assert same, key
    _same(eda.data_quality_report(a), eda.data_quality_report(b))
    for freq in ("D", "W"):
        _same(eda.sales_over_time(a, freq), eda.sales_over_time(b, freq))
    _same(eda.weekday_hour(a), eda.weekday_hour(b))
    pa, pb = eda.pareto(a, "department"), eda.pareto(b, "department")
    assert list(pa.index) == list(pb.index)
    _same(pa, pb)
    _same(eda.basket_summary(a), eda.basket_summary(b))
    ha, hb = (eda.sample_households(x, 200, seed=7) for x in (a, b))
    assert ha.households == hb.households
    ra, rb = eda.rfm(ha), eda.rfm(hb)
    assert len(ra) == 200
    _same(ra, rb)
    _same(eda.cohort_retention(ha, "M", complete_only=False), eda.cohort_retention(hb, "M", False))
    spk.close()


def test_cli_engines_reads_the_source_files_spark_settings(monkeypatch, tmp_path):
    """`ecom engines --data FILE`: the file's engine: is the default it checks and its
    spark: {remote} the master it reports and probes (nothing listens: exit 1, one line)."""
    from typer.testing import CliRunner

    from ecomlib.cli import app

    (tmp_path / "o.csv").write_text(
        "basket_id,product_id,sales_value,transaction_timestamp\n1,a,2.0,2024-01-01 10:00:00\n"
    )
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\nengine: spark\nspark: {remote: 'sc://127.0.0.1:1'}\n"
        "tables:\n  transactions: {path: o.csv}\n"
    )
    for var in ("ECOM_SPARK_MASTER", "SPARK_REMOTE", "ECOM_ENGINE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(engines, "_LAST_SOURCE", ({}, ""))
    monkeypatch.setattr(engines, "_pyspark_missing", lambda: None)
    monkeypatch.setattr(engines, "_connect_missing", lambda: [])
    out = CliRunner().invoke(app, ["engines", "--data", str(path)])
    assert out.exit_code == 1, out.output
    assert "spark    unavailable (default)" in out.output
    assert "cannot reach sc://127.0.0.1:1" in out.output
    assert f"Spark master: sc://127.0.0.1:1 (from spark.remote in {path})" in out.output
    assert "Traceback" not in out.output
