"""The data layer: catalog, checksums, loaders and validation of users' files."""

from __future__ import annotations

import gzip
import re
import struct

import numpy as np
import pandas as pd
import pytest

from ecomlib import data
from ecomlib.data import catalog, schemas
from ecomlib.data.fetch import verify
from ecomlib.errors import DataError, DatasetNotFound


def _transactions(n: int = 4) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "household_id": np.arange(n) + 1,
            "basket_id": np.arange(n) + 100,
            "product_id": np.arange(n) + 1000,
            "store_id": [1] * n,
            "quantity": [1] * n,
            "sales_value": [2.5] * n,
            "transaction_timestamp": pd.date_range("2017-01-01", periods=n, freq="D"),
        }
    )


def test_catalog_lists_every_embedded_dataset():
    assert set(data.CATALOG) == {
        "completejourney",
        "amazon_reviews",
        "fashion_mnist",
        "movielens_100k",
        "cdnow",
        "pizzaplace",
    }
    for ds in data.CATALOG.values():
        assert ds.files and all(len(d) == 64 for d in ds.files.values())
        assert ds.source and ds.licence and ds.rows


def test_unknown_dataset_name_lists_valid_ones():
    with pytest.raises(DatasetNotFound, match="Known datasets: amazon_reviews"):
        data.get("imagenet")


def test_fetch_verifies_checksums():
    assert data.fetch(["completejourney", "movielens_100k", "cdnow"]) == {
        "completejourney": "ok",
        "movielens_100k": "ok",
        "cdnow": "ok",
    }


def test_corrupted_file_fails_verification(tmp_path, monkeypatch):
    monkeypatch.setenv("ECOM_DATA_DIR", str(tmp_path))
    ds = data.get("cdnow")
    ds.location().mkdir(parents=True)
    for fname in ds.files:
        (ds.location() / fname).write_text("not the real file\n")
    problems = verify(ds)
    assert len(problems) == len(ds.files)
    assert all("checksum mismatch" in p for p in problems)
    with pytest.raises(DataError, match="failed verification"):
        data.fetch(["cdnow"])


def test_missing_extracted_dataset_says_how_to_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("ECOM_DATA_DIR", str(tmp_path))
    with pytest.raises(DatasetNotFound, match="ecom data fetch"):
        data.load_movielens_100k()


def test_fashion_mnist_absent_gives_instructions(tmp_path, monkeypatch):
    monkeypatch.setenv("ECOM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ECOM_FASHION_MNIST_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setattr(catalog, "FASHION_SYSTEM_DIR", tmp_path / "no-system")
    data.load_fashion_mnist.cache_clear()
    with pytest.raises(DatasetNotFound) as err:
        data.load_fashion_mnist()
    msg = str(err.value)
    assert "apt-get install dataset-fashion-mnist" in msg and "ECOM_FASHION_MNIST_DIR" in msg
    data.load_fashion_mnist.cache_clear()


def _write_idx(path, array: np.ndarray, truncate: int = 0) -> None:
    header = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    with gzip.open(path, "wb") as fh:
        fh.write(payload[: len(payload) - truncate] if truncate else payload)


def test_read_idx_round_trip_and_truncation(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "ok.gz", arr)
    np.testing.assert_array_equal(data.read_idx(tmp_path / "ok.gz"), arr)
    _write_idx(tmp_path / "short.gz", arr, truncate=5)
    with pytest.raises(DataError, match="truncated"):
        data.read_idx(tmp_path / "short.gz")
    (tmp_path / "junk.gz").write_bytes(b"definitely not gzip")
    with pytest.raises(DataError):
        data.read_idx(tmp_path / "junk.gz")


def test_complete_journey_views_have_documented_sizes():
    with data.connect() as con:
        counts = dict(
            con.execute(
                "SELECT 'transactions', count(*) FROM transactions UNION ALL "
                "SELECT 'households', count(DISTINCT household_id) FROM transactions UNION ALL "
                "SELECT 'products', count(*) FROM products"
            ).fetchall()
        )
    assert counts == {"transactions": 1_469_307, "households": 2_469, "products": 92_331}


def test_reviews_and_cdnow_loaders_return_canonical_shapes():
    train, test = data.load_reviews("train"), data.load_reviews("test")
    assert (len(train), len(test)) == (4000, 1000)
    assert list(train.columns) == ["text", "label", "product"]
    assert set(train.label.unique()) == {0, 1}
    assert train.label.mean() == pytest.approx(0.65)
    cdnow = data.load_cdnow()
    assert len(cdnow) == 69_659 and cdnow.customer_id.nunique() == 23_570
    with pytest.raises(DataError, match="Unknown split"):
        data.load_reviews("validation")


# ---------------------------------------------------------------- user files
def test_valid_user_csv_with_column_mapping(tmp_path):
    frame = _transactions().rename(columns={"household_id": "customer"})
    path = tmp_path / "tx.csv"
    frame.to_csv(path, index=False)
    out = data.read_table(path, "transactions", {"customer": "household_id"})
    assert len(out) == 4 and out["transaction_timestamp"].dtype.kind == "M"


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda f: f.drop(columns="sales_value"), "column 'sales_value' is required but missing"),
        (lambda f: f.assign(quantity=["1", "two", "3", "4"]), "column 'quantity'"),
        (lambda f: f.assign(sales_value=[1.0, -2.0, 3.0, 4.0]), "greater_than_or_equal_to(0)"),
        (lambda f: f.assign(sales_value=[1.0, np.nan, 3.0, 4.0]), "column 'sales_value'"),
        (
            lambda f: f.assign(basket_id=[1, 1, 2, 3], product_id=[5, 5, 6, 7]),
            "duplicate key (basket_id, product_id)",
        ),
    ],
    ids=["missing-column", "text-in-quantity", "negative-sales", "nan-sales", "duplicate-keys"],
)
def test_bad_user_csv_is_reported_clearly(tmp_path, mutate, expected):
    path = tmp_path / "bad.csv"
    mutate(_transactions()).to_csv(path, index=False)
    with pytest.raises(DataError) as err:
        data.read_table(path, "transactions")
    msg = str(err.value)
    assert str(path) in msg and "transactions" in msg
    assert expected in msg


def test_empty_and_non_tabular_files_are_refused(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="empty"):
        data.read_table(empty, "transactions")
    binary = tmp_path / "image.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(DataError, match="binary"):
        data.read_table(binary, "transactions")
    fake_parquet = tmp_path / "t.parquet"
    fake_parquet.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="cannot be read as parquet"):
        data.read_table(fake_parquet, "transactions")
    with pytest.raises(DataError, match="unsupported file type"):
        (tmp_path / "t.xlsx").write_text("x")
        data.read_table(tmp_path / "t.xlsx", "transactions")
    with pytest.raises(DataError, match="not found"):
        data.read_table(tmp_path / "absent.csv", "transactions")


def test_header_only_file_has_no_rows(tmp_path):
    path = tmp_path / "header.csv"
    _transactions().head(0).to_csv(path, index=False)
    with pytest.raises(DataError, match="no rows"):
        data.read_table(path, "transactions")


def test_unknown_schema_and_bad_mapping(tmp_path):
    path = tmp_path / "tx.csv"
    _transactions().to_csv(path, index=False)
    with pytest.raises(DataError, match="Unknown schema"):
        schemas.validate(_transactions(), "orders")
    with pytest.raises(DataError, match="not in the file"):
        data.read_table(path, "transactions", {"nope": "household_id"})


HEADER = "household_id,basket_id,product_id,quantity,sales_value,transaction_timestamp\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (HEADER + "1,10,100,1,inf,2017-01-01 10:00\n", "fails finite"),
        (
            HEADER + "1,10,100,1,2.0,2017-01-01 10:00\n1,11,101,1,3.0,2017-01-03T11:00+01:00\n",
            "time zones are mixed",
        ),
        (
            HEADER + "1,10,100,1,2.0,2017-01-01 10:00\n1,11,101,1,3.0,01/02/2017 11:00\n",
            "not dates in one format (YYYY-MM-DD",
        ),
        (HEADER.replace(",", ";") + "1;10;100;1;2,50;2017-01-01 10:00\n", "Decimal commas"),
        ("a,b\n1,2\n", "'transaction_timestamp' is required but missing"),
    ],
    ids=["inf", "mixed-zones", "mixed-formats", "decimal-comma", "all-missing-listed"],
)
def test_file_check_refuses_bad_values_with_a_reason(tmp_path, content, message):
    path = tmp_path / "orders.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=re.escape(message)):
        data.read_table(path, "transactions")


def test_file_check_reads_a_byte_order_mark_and_keeps_fractional_quantities(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (HEADER + "1,10,100,1.5,2.0,2017-01-01 10:00\n").encode())
    frame = data.read_table(path, "transactions")
    assert frame["quantity"].tolist() == [1.5]


def test_file_check_names_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_bytes(
        (HEADER.strip() + ",name\n1,10,100,1,2.0,2017-01-01,caf\xe9\n").encode("latin-1")
    )
    with pytest.raises(DataError, match="not UTF-8 text"):
        data.read_table(path, "transactions")
