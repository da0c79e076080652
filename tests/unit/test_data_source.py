"""Data sources: a YAML file per shop -> canonical DuckDB views, checks, and the CLI on them."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from ecomlib.data import check_source, open_source
from ecomlib.errors import DataError

ORDERS = """\
order,customer,sku,created_at,qty,total
A1,c-1,SKU-1,2024-03-01 09:15:00,2,5.00
A1,c-1,SKU-2,2024-03-01 09:15:00,1,3.50
A2,c-2,SKU-1,2024-03-01 23:30:00,1,2.50
A3,c-1,SKU-3,2024-03-02 10:00:00,3,9.00
"""
PRODUCTS = """\
sku,cat
SKU-1,bread
SKU-2,milk
SKU-3,bread
"""
MAPPING = (
    "{order: basket_id, customer: household_id, sku: product_id, "
    "created_at: transaction_timestamp, qty: quantity, total: sales_value}"
)


def _shop(tmp_path: Path, orders: str = ORDERS, mapping: str = MAPPING, extra: str = "") -> Path:
    (tmp_path / "orders.csv").write_text(orders)
    (tmp_path / "products.csv").write_text(PRODUCTS)
    src = tmp_path / "shop.yaml"
    src.write_text(
        textwrap.dedent(
            f"""\
            name: test-shop
            timezone: Europe/Berlin
            currency: EUR
            tables:
              transactions: {{path: orders.csv, columns: {mapping}}}
              products: {{path: products.csv, columns: {{sku: product_id, cat: product_category}}}}
            """
        )
        + extra
    )
    return src


def test_views_have_canonical_names_types_and_utc_times(tmp_path):
    src = open_source(_shop(tmp_path))
    assert src.name == "test-shop" and src.timezone == "Europe/Berlin"
    assert src.has("products") and not src.has("promotions")
    assert src.has_column("transactions", "household_id")
    assert not src.has_column("transactions", "store_id")
    con = src.connect()
    tx = con.execute("SELECT * FROM transactions ORDER BY transaction_timestamp").df()
    types = {r[0]: r[1] for r in con.execute("DESCRIBE transactions").fetchall()}
    assert types["household_id"] == "BIGINT" and types["product_id"] == "BIGINT"
    assert types["transaction_timestamp"] == "TIMESTAMP"
    # Berlin is UTC+1 in March: 09:15 local -> 08:15 UTC; 23:30 local -> 22:30 UTC
    assert tx["transaction_timestamp"].iloc[0] == pd.Timestamp("2024-03-01 08:15")
    assert tx["transaction_timestamp"].iloc[2] == pd.Timestamp("2024-03-01 22:30")
    assert tx["store_id"].isna().all()
    # text ids get one code each, shared by transactions and products
    joined = con.execute(
        "SELECT t.sales_value, p.product_category FROM transactions t JOIN products p "
        "USING (product_id) ORDER BY t.sales_value"
    ).df()
    assert joined["product_category"].tolist() == ["bread", "milk", "bread", "bread"]
    assert tx["basket_id"].nunique() == 3 and tx["household_id"].nunique() == 2
    assert check_source(src).ok


def test_absent_basket_and_quantity_are_derived(tmp_path):
    mapping = "{customer: household_id, created_at: transaction_timestamp, total: sales_value}"
    con = open_source(_shop(tmp_path, mapping=mapping)).connect()
    tx = con.execute("SELECT basket_id, quantity, product_id FROM transactions").df()
    # one basket per customer and moment; quantity 1; no product column -> NULL
    assert tx["basket_id"].nunique() == 3
    assert (tx["quantity"] == 1).all() and tx["product_id"].isna().all()


def test_bundled_sources_share_one_path():
    cj = open_source("")
    assert cj.name == "completejourney" and cj.has("promotions") and cj.has("reviews")
    pizza = open_source("pizzaplace")
    assert not pizza.has_column("transactions", "household_id")
    assert pizza.has_column("products", "product_category")
    with pizza.connect() as con:
        n, baskets = con.execute(
            "SELECT count(*), count(DISTINCT basket_id) FROM transactions"
        ).fetchone()
    assert (n, baskets) == (49574, 21350)
    with open_source("cdnow").connect() as con:
        customers = con.execute("SELECT count(DISTINCT household_id) FROM transactions").fetchone()
    assert customers == (23570,)


@pytest.mark.parametrize(
    ("mapping", "extra", "orders", "message"),
    [
        (
            "{order: basket_id, customer: household_id, created_at: transaction_timestamp}",
            "",
            ORDERS,
            r"tables.transactions: required column\(s\) \['sales_value'\]",
        ),
        (
            "{nope: basket_id, created_at: transaction_timestamp, total: sales_value}",
            "",
            ORDERS,
            r"tables.transactions.columns maps \['nope'\], which the file does not have",
        ),
        (MAPPING, "  orders: {path: orders.csv}\n", ORDERS, r"unknown table key\(s\) \['orders'\]"),
        (
            MAPPING,
            "  customers: {path: nowhere.csv}\n",
            ORDERS,
            r"tables.customers.path: .* not exist",
        ),
    ],
    ids=["required-column", "mapping-to-absent-column", "unknown-table", "absent-path"],
)
def test_bad_source_files_name_file_and_key(tmp_path, mapping, extra, orders, message):
    path = _shop(tmp_path, orders=orders, mapping=mapping, extra=extra)
    with pytest.raises(DataError, match=message) as err:
        open_source(path)
    assert str(path) in str(err.value)


def test_unknown_timezone_and_unknown_source(tmp_path):
    path = _shop(tmp_path)
    path.write_text(path.read_text().replace("Europe/Berlin", "Mars/Olympus"))
    with pytest.raises(DataError, match="'Mars/Olympus' is not a known IANA time zone"):
        open_source(path)
    with pytest.raises(DataError, match="Unknown data source 'no-such-shop'"):
        open_source("no-such-shop")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda s: s.replace("2024-03-02 10:00:00", "2024-03-02 10:00:00+02:00"),
            "time zones are mixed: 1 value",
        ),
        (lambda s: s.replace("SKU-3,2024", "SKU-9,2024"), "name a product that is not in products"),
        (lambda s: s.replace("2024-03-02", "2099-03-02"), "lie in the future"),
        (lambda s: s.replace(",9.00", ",inf"), "infinite or NaN"),
        (lambda s: s.replace(",9.00", ",-9.00"), "negative value"),
        (lambda s: s.replace(",9.00", ",abc"), "not a number: 'abc'"),
        (lambda s: s.splitlines()[0] + "\n", "has no rows"),
    ],
    ids=["mixed-zones", "foreign-key", "future", "inf", "negative", "not-a-number", "empty"],
)
def test_check_finds_bad_rows_and_links(tmp_path, edit, message):
    report = check_source(open_source(_shop(tmp_path, orders=edit(ORDERS))))
    assert not report.ok
    assert message in report.text()


def _ecom(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ecomlib.cli", *args], capture_output=True, text=True, cwd=cwd
    )


def test_cli_init_check_and_bad_source(tmp_path):
    out = _ecom("data", "init", "mine.yaml", cwd=tmp_path)
    assert out.returncode == 0 and (tmp_path / "mine.yaml").is_file()
    again = _ecom("data", "init", "mine.yaml", cwd=tmp_path)
    assert again.returncode == 1 and "already exists" in again.stderr
    # the template names files the user has not exported yet: one clear line, no traceback
    bad = _ecom("data", "check", "--data", "mine.yaml", cwd=tmp_path)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "tables.transactions.path" in bad.stderr and "does not exist" in bad.stderr

    good = _shop(tmp_path)
    ok = _ecom("data", "check", "--data", str(good), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "OK: 0 error(s)" in ok.stdout
    (tmp_path / "b").mkdir()
    broken = _shop(tmp_path / "b", orders=ORDERS.replace(",9.00", ",-9.00"))
    failed = _ecom("data", "check", "--data", str(broken), cwd=tmp_path)
    assert failed.returncode == 1 and "negative value" in failed.stdout


@pytest.mark.parametrize(
    ("mapping", "extra", "edit", "message"),
    [
        ("{created_at: transaction_timestamp}", "", None, "required column(s) ['sales_value']"),
        (
            "{nope: basket_id, created_at: transaction_timestamp, total: sales_value}",
            "",
            None,
            "maps ['nope'], which the file does not have",
        ),
        (MAPPING, "  orders: {path: orders.csv}\n", None, "unknown table key(s) ['orders']"),
        (MAPPING, "  customers: {path: nowhere.csv}\n", None, "does not exist"),
        (
            MAPPING,
            "",
            lambda s: s.replace("2024-03-02 10:00:00", "2024-03-02 10:00:00+02:00"),
            "time zones are mixed",
        ),
        (
            MAPPING,
            "",
            lambda s: s.replace("SKU-3,2024", "SKU-9,2024"),
            "name a product that is not in products",
        ),
        (MAPPING, "period: {start: 2024-03-05, end: 2024-03-01}\n", None, "is after period.end"),
    ],
    ids=[
        "required-column",
        "mapping-to-absent-column",
        "unknown-table",
        "absent-path",
        "mixed-zones",
        "foreign-key",
        "period",
    ],
)
def test_cli_run_with_a_bad_source_writes_nothing(tmp_path, mapping, extra, edit, message):
    """Every bad source file: one message naming the problem (and the file, where the file
    itself is wrong), exit 1, no traceback, nothing in the reports folder."""
    reports = tmp_path / "reports"
    orders = edit(ORDERS) if edit else ORDERS
    path = _shop(tmp_path, orders=orders, mapping=mapping, extra=extra)
    out = _ecom("run", "01", "--data", str(path), "--out", str(reports), cwd=tmp_path)
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    assert message in out.stderr + out.stdout
    if edit is None:  # a wrong source file is named with its path
        assert str(path) in out.stderr
    assert not reports.exists() or not any(reports.iterdir())


def test_source_period_is_checked_and_read(tmp_path):
    src = open_source(_shop(tmp_path, extra="period: {start: 2024-03-01}\n"))
    assert src.period == ("2024-03-01", None)
    assert open_source(_shop(tmp_path)).period == (None, None)
    assert open_source("").period == ("2017-01-01", "2017-12-31")
    with pytest.raises(DataError, match=r"period.end: 'soon' is not a date"):
        open_source(_shop(tmp_path, extra="period: {end: soon}\n"))
    with pytest.raises(DataError, match="period must be a mapping"):
        open_source(_shop(tmp_path, extra="period: 2024\n"))


def test_source_spark_settings_are_checked_and_read(tmp_path):
    """`spark: {remote: sc://...}` or `{master: ...}`: read as given, each wrong form one line
    naming the file and the key."""
    src = open_source(_shop(tmp_path, extra="spark: {remote: 'sc://spark-host:15002'}\n"))
    assert src.spark == {"remote": "sc://spark-host:15002"}
    src = open_source(_shop(tmp_path, extra="spark:\n  master: local[2]\n"))
    assert src.spark == {"master": "local[2]"}
    assert open_source(_shop(tmp_path)).spark == {} and open_source("cdnow").spark == {}
    bad = {
        "spark: sc://h:15002": "spark must be a mapping such as {remote: sc://HOST:15002}",
        "spark: {remote: 15002}": r"spark.remote must be a string .*got 15002 \(int\)",
        "spark: {remote: [sc://h]}": r"spark.remote must be a string .*\(list\)",
        "spark: {remote: 'http://h:15002'}": r"'http://h:15002' is not a Spark Connect address",
        "spark: {master: cluster}": r"spark.master: 'cluster' is not a Spark master; use local",
        "spark: {remotes: 'sc://h'}": r"unknown key\(s\) \['remotes'\] under spark",
        "spark: {master: 'local[2]', remote: 'sc://h'}": "spark.master or spark.remote, not both",
    }
    for extra, message in bad.items():
        path = _shop(tmp_path, extra=extra + "\n")
        with pytest.raises(DataError, match=message) as err:
            open_source(path)
        text = str(err.value)
        assert str(path) in text and "\n" not in text, extra


def test_images_folder_source_splits_photos(tmp_path):
    from PIL import Image

    for cls in ("mugs", "plates"):
        folder = tmp_path / "photos" / cls
        folder.mkdir(parents=True)
        for i in range(5):
            Image.new("L", (40, 30), color=40 * i).save(folder / f"{i}.png")
    (tmp_path / "shop.yaml").write_text("name: photos\ntables:\n  images: {path: photos/}\n")
    src = open_source(tmp_path / "shop.yaml")
    x_tr, y_tr, x_te, y_te, classes = src.images()
    assert classes == ("mugs", "plates")
    assert x_tr.shape[1:] == (28, 28) and len(x_tr) + len(x_te) == 10
    assert set(y_te) == {0, 1}  # stratified
    assert check_source(src).rows["images"] == 10


def test_timestamps_with_offsets_are_instants(tmp_path):
    orders = ORDERS.replace("2024-03-01 09:15:00", "2024-03-01 09:15:00+05:00")
    src = open_source(_shop(tmp_path, orders=orders))
    with src.connect() as con:
        ts = con.execute(
            "SELECT transaction_timestamp FROM transactions ORDER BY sales_value"
        ).df()["transaction_timestamp"]
    # 09:15+05:00 is 04:15 UTC; the bare 23:30 is Berlin time (UTC+1)
    assert pd.Timestamp("2024-03-01 04:15") in set(ts)
    assert pd.Timestamp("2024-03-01 22:30") in set(ts)
    assert "time zones are mixed" in check_source(src).text()


def test_run_skips_notebooks_whose_tables_the_source_lacks(tmp_path, monkeypatch):
    import nbformat

    from ecomlib.report import runner

    monkeypatch.setenv("ECOM_HOME", str(tmp_path))
    nbdir = tmp_path / "notebooks"
    (nbdir / "profiles").mkdir(parents=True)
    for stem, requires in (("01_orders", {"transactions": []}), ("02_photos", {"images": []})):
        nb = nbformat.v4.new_notebook()
        nb.cells = [
            nbformat.v4.new_code_cell('DATA = ""', metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell(
                "from ecomlib.data import open_source\n"
                "from ecomlib.report import record\n"
                "record('n', open_source(DATA).connect()"
                ".execute('select count(*) from transactions').fetchone()[0])"
            ),
        ]
        nb.metadata["ecom"] = {"requires": requires}
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        nbformat.write(nb, nbdir / f"{stem}.ipynb")
    skipped = []
    final, results = runner.run(
        profile="default",
        out=tmp_path / "reports",
        data=str(_shop(tmp_path)),
        progress=False,
        on_skip=lambda name, reason: skipped.append((name, reason)),
    )
    assert skipped == [("02_photos", "data source 'test-shop' has no 'images' table")]
    by_name = {r.name: r for r in results}
    assert by_name["01_orders"].status == "ok" and by_name["01_orders"].metrics["n"] == 4
    assert by_name["02_photos"].status == "skipped"
    summary = (final / "metrics.json").read_text()
    assert '"test-shop"' in summary and '"skipped"' in summary
    index = (tmp_path / "reports" / "index.html").read_text()
    assert "test-shop" in index and "skipped" in index


@pytest.mark.parametrize(
    "source, runs",
    [
        ("", {"01", "02", "03", "04", "05", "06"}),
        ("pizzaplace", {"01", "02", "05"}),  # no customers, images or reviews
        ("cdnow", {"01", "02", "06"}),  # no products, images or reviews
    ],
)
def test_each_notebook_declares_the_tables_it_reads(source, runs):
    """The runner skips a notebook, with its reason, exactly when the source lacks its tables."""
    from ecomlib.report.runner import missing_requirement

    src = open_source(source)
    notebooks = sorted((Path(__file__).parents[2] / "notebooks").glob("0*.ipynb"))
    ran = {p.name[:2] for p in notebooks if missing_requirement(p, src) is None}
    assert ran == runs


def test_check_warns_when_the_source_names_no_timezone(tmp_path):
    path = _shop(tmp_path)
    path.write_text(path.read_text().replace("timezone: Europe/Berlin\n", ""))
    report = check_source(open_source(path))
    assert report.ok  # a warning: UTC is a valid reading, just perhaps not the shop's days
    assert "names no timezone" in report.text()
    assert "names no timezone" not in check_source(open_source(_shop(tmp_path))).text()
