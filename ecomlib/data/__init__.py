"""Embedded datasets: catalog, fetching, loaders and validation.

>>> from ecomlib import data
>>> src = data.open_source("my_shop.yaml")     # or "" for the bundled default, "cdnow", ...
>>> con = src.connect()                        # canonical DuckDB views: transactions, products, ...
>>> con = data.connect()                       # the same for the bundled Complete Journey
>>> reviews = data.load_reviews("train")       # text, label, product
>>> x_tr, y_tr, x_te, y_te, classes = data.load_fashion_mnist()
"""

from ecomlib.data.catalog import CATALOG, Dataset, get
from ecomlib.data.checks import CheckReport, check_source
from ecomlib.data.fetch import fetch, verify
from ecomlib.data.loaders import (
    CJ_TABLES,
    FASHION_CLASSES,
    connect,
    load_cdnow,
    load_cdnow_sample,
    load_fashion_mnist,
    load_movielens_100k,
    load_reviews,
    load_table,
    load_transactions,
    read_idx,
)
from ecomlib.data.schemas import SCHEMAS, read_file, read_table, validate
from ecomlib.data.source import Source, bundled_sources, open_source, write_template

__all__ = [
    "CATALOG",
    "CJ_TABLES",
    "CheckReport",
    "Source",
    "bundled_sources",
    "check_source",
    "open_source",
    "write_template",
    "FASHION_CLASSES",
    "SCHEMAS",
    "Dataset",
    "connect",
    "fetch",
    "get",
    "load_cdnow",
    "load_cdnow_sample",
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
