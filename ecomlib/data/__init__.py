"""Embedded datasets: catalog, fetching, loaders and validation.

>>> from ecomlib import data
>>> con = data.connect()                       # DuckDB views of every Complete Journey table
>>> reviews = data.load_reviews("train")       # text, label, product
>>> x_tr, y_tr, x_te, y_te, classes = data.load_fashion_mnist()
"""

from ecomlib.data.catalog import CATALOG, Dataset, get
from ecomlib.data.fetch import fetch, verify
from ecomlib.data.loaders import (
    CJ_TABLES,
    FASHION_CLASSES,
    connect,
    load_cdnow,
    load_fashion_mnist,
    load_movielens_100k,
    load_reviews,
    load_table,
    load_transactions,
    read_idx,
)
from ecomlib.data.schemas import SCHEMAS, read_file, read_table, validate

__all__ = [
    "CATALOG",
    "CJ_TABLES",
    "FASHION_CLASSES",
    "SCHEMAS",
    "Dataset",
    "connect",
    "fetch",
    "get",
    "load_cdnow",
    "load_fashion_mnist",
    "load_movielens_100k",
    "load_reviews",
    "load_table",
    "load_transactions",
    "read_file",
    "read_idx",
    "read_table",
    "validate",
    "verify",
]
