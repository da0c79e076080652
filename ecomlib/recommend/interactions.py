"""Interaction tables and their sparse user x item matrices.

The canonical interactions frame (docs/design.md) has columns ``user_id, item_id, weight`` and
optionally ``timestamp``. :class:`Interactions` maps the IDs to contiguous indices (both
ways) and holds the ``scipy.sparse`` CSR matrix every model is fitted on.

Builders:

* :func:`movielens_100k` - explicit ratings (weight = rating);
* :func:`complete_journey` - household x product purchases, aggregated in DuckDB;
* :func:`read_interactions` - a user's own CSV/Parquet, validated, with a column mapping.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ecomlib.data.engines import quiet_query
from ecomlib.data.schemas import read_table, validate
from ecomlib.errors import DataError, ParameterError

log = logging.getLogger(__name__)

COLUMNS = ("user_id", "item_id", "weight", "timestamp")


def canonical(frame: pd.DataFrame, source: str = "interactions") -> pd.DataFrame:
    """Validate a frame against the ``interactions`` schema and fill a unit ``weight``.

    Raises
    ------
    DataError
        Missing columns, nulls, negative or non-finite weights, unparseable timestamps.
    """
    frame = validate(frame, "interactions", source=source)
    out = frame[[c for c in COLUMNS if c in frame.columns]].copy()
    if "weight" not in out:
        out["weight"] = 1.0
    weight = out["weight"].to_numpy(dtype=float)
    bad = ~np.isfinite(weight) | (weight < 0)
    if bad.any():
        rows = np.flatnonzero(bad)[:5].tolist()
        raise DataError(
            f"{source}: column 'weight' must be finite and >= 0; rows {rows} hold "
            f"{out['weight'].iloc[rows].tolist()} ({int(bad.sum())} failing in all)."
        )
    if "timestamp" in out and not pd.api.types.is_datetime64_any_dtype(out["timestamp"]):
        try:
            out["timestamp"] = pd.to_datetime(out["timestamp"])
        except (ValueError, TypeError) as exc:
            raise DataError(
                f"{source}: column 'timestamp' cannot be parsed as dates ({exc})."
            ) from None
    return out.reset_index(drop=True)


class Interactions:
    """Interactions with ID <-> index maps and a CSR user x item matrix.

    Parameters
    ----------
    frame : DataFrame
        ``user_id, item_id[, weight][, timestamp]``; repeated pairs are summed in the matrix.
    users, items : array-like, optional
        Fix the ID universe (e.g. the training set's). Rows whose user or item is not in it
        are dropped. Default: the IDs present in ``frame`` (sorted).

    Attributes
    ----------
    frame : DataFrame with extra ``user_idx`` and ``item_idx`` columns.
    user_ids, item_ids : ndarray, index -> ID.
    matrix : scipy.sparse.csr_matrix (n_users x n_items), float32 summed weights.
    """

    def __init__(self, frame: pd.DataFrame, users=None, items=None):
        missing = [c for c in ("user_id", "item_id") if c not in frame.columns]
        if missing:
            raise DataError(f"Interactions need columns user_id and item_id; missing {missing}.")
        frame = frame.copy()
        if "weight" not in frame:
            frame["weight"] = 1.0
        self.user_ids = np.asarray(users) if users is not None else np.unique(frame["user_id"])
        self.item_ids = np.asarray(items) if items is not None else np.unique(frame["item_id"])
        self._users = pd.Index(self.user_ids)
        self._items = pd.Index(self.item_ids)
        for name, index in (("users", self._users), ("items", self._items)):
            if not index.is_unique:
                dup = index[index.duplicated()].unique()
                raise DataError(
                    f"The {name!r} parameter of Interactions must hold unique IDs; got "
                    f"{len(dup)} repeated, e.g. {list(dup[:3])}."
                )
        u = self._users.get_indexer(frame["user_id"])
        i = self._items.get_indexer(frame["item_id"])
        keep = (u >= 0) & (i >= 0)
        frame = frame.loc[keep].copy()
        frame["user_idx"] = u[keep].astype(np.int32)
        frame["item_idx"] = i[keep].astype(np.int32)
        self.frame = frame.reset_index(drop=True)
        self.matrix = sp.csr_matrix(
            (frame["weight"].to_numpy(np.float32), (frame["user_idx"], frame["item_idx"])),
            shape=(len(self.user_ids), len(self.item_ids)),
            dtype=np.float32,
        )
        self.matrix.sum_duplicates()

    # ------------------------------------------------------------------ sizes
    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        return (
            f"Interactions({len(self):,} rows, {self.n_users:,} users, {self.n_items:,} items, "
            f"density {self.density:.4%})"
        )

    @property
    def density(self) -> float:
        return self.matrix.nnz / max(1, self.n_users * self.n_items)

    # ------------------------------------------------------------------ id maps
    def user_index(self, user_ids, missing: str = "raise") -> np.ndarray:
        """Indices of ``user_ids``; unknown IDs raise (``missing="raise"``) or map to -1."""
        return self._lookup(self._users, user_ids, "user", missing)

    def item_index(self, item_ids, missing: str = "raise") -> np.ndarray:
        """Indices of ``item_ids``; unknown IDs raise (``missing="raise"``) or map to -1."""
        return self._lookup(self._items, item_ids, "item", missing)

    @staticmethod
    def _lookup(index: pd.Index, ids, kind: str, missing: str) -> np.ndarray:
        ids = np.atleast_1d(np.asarray(ids))
        pos = index.get_indexer(ids)
        if missing == "raise" and (pos < 0).any():
            unknown = ids[pos < 0]
            raise ParameterError(
                f"{len(unknown)} unknown {kind} id(s), e.g. {unknown[:5].tolist()}: they are not "
                f"in the training interactions ({len(index):,} {kind}s)."
            )
        return pos

    def binary(self) -> sp.csr_matrix:
        """The matrix with every stored entry set to 1."""
        out = self.matrix.copy()
        out.data[:] = 1.0
        return out


# ---------------------------------------------------------------------- builders
@contextlib.contextmanager
def connection(source=None):
    """A connection from ``source``: a DuckDB connection or an engine of
    :func:`ecomlib.data.engines.connect` (used as is), a data source
    (:class:`ecomlib.data.Source`: its views on the run's engine,
    :meth:`~ecomlib.data.Source.open_engine`, closed afterwards) or None (the bundled
    default on DuckDB, closed afterwards)."""
    import duckdb

    from ecomlib.data.engines import DuckDBEngine, SparkEngine

    if isinstance(source, duckdb.DuckDBPyConnection | DuckDBEngine | SparkEngine):
        yield source
        return
    if source is None:
        from ecomlib.data import connect

        con = connect()
    else:
        con = source.open_engine()
    try:
        yield con
    finally:
        con.close()


def movielens_100k() -> pd.DataFrame:
    """MovieLens-100K ratings as canonical interactions (weight = rating 1-5)."""
    from ecomlib.data import load_movielens_100k

    ratings, _, _ = load_movielens_100k()
    out = ratings.rename(columns={"rating": "weight"})[list(COLUMNS)]
    return out.reset_index(drop=True)


def orders(con, weight: str = "baskets") -> pd.DataFrame:
    """A data source's purchases as interactions, one row per customer x product x basket.

    One SQL query on the canonical ``transactions`` view of ``con`` (a DuckDB connection of
    :meth:`ecomlib.data.Source.connect`, or an engine of :func:`ecomlib.data.engines.connect`:
    the same rows on DuckDB and Spark); lines without a customer or product id are left
    out. ``weight`` is ``"baskets"`` (1 per basket), ``"quantity"`` or ``"sales_value"``.

    Returns
    -------
    DataFrame with ``user_id`` (customer), ``item_id`` (product), ``weight``, ``timestamp``
    and ``basket_id``.
    """
    exprs = {
        "baskets": "1.0",
        "quantity": "SUM(quantity)::DOUBLE",
        "sales_value": "SUM(sales_value)",
    }
    if weight not in exprs:
        raise ParameterError(f"weight must be one of {sorted(exprs)}, got {weight!r}.")
    sql = f"""
        SELECT household_id AS user_id, product_id AS item_id, {exprs[weight]} AS weight,
               MIN(transaction_timestamp) AS timestamp, basket_id
        FROM transactions
        WHERE household_id IS NOT NULL AND product_id IS NOT NULL
        GROUP BY household_id, product_id, basket_id
        ORDER BY timestamp, basket_id, item_id
    """
    frame = quiet_query(con, sql)
    frame["weight"] = frame["weight"].astype(float)
    return frame


def complete_journey(con=None, weight: str = "baskets") -> pd.DataFrame:
    """:func:`orders` of the bundled Complete Journey (or of ``con`` when given)."""
    with connection(con) as c:
        return orders(c, weight)


TEXT_COLUMNS = ("department", "product_category", "product_type", "brand")


def product_texts(con=None) -> pd.DataFrame:
    """Product descriptions: ``item_id`` and ``text``, the product table's descriptive
    columns (department, category, type, brand, those present) joined into one lower-case
    string. ``con``: a connection, a data source or None (the bundled Complete Journey)."""
    with connection(con) as c:
        frame = quiet_query(
            c, f"SELECT product_id AS item_id, {', '.join(TEXT_COLUMNS)} FROM products"
        )
    present = [c for c in TEXT_COLUMNS if frame[c].notna().any()]
    if not present:
        raise DataError(
            "product_texts: the products table has none of "
            f"{', '.join(TEXT_COLUMNS)}; map a descriptive column onto one of them."
        )
    parts = frame[present].fillna("").apply(lambda col: col.astype(str).str.strip().str.lower())
    if "brand" in present:
        parts["brand"] = parts["brand"] + " brand"
    text = parts[present[0]]
    for col in present[1:]:
        text = text + " | " + parts[col]
    frame["text"] = text
    return frame[["item_id", "text"]]


GROUP_LEVELS = ("department", "product_category", "product_type", "manufacturer_id")


def product_groups(con=None, level: str = "product_category") -> pd.Series:
    """Complete Journey product hierarchy: a Series product ID -> group label at ``level``
    (one of :data:`GROUP_LEVELS`; category and type labels are prefixed with the department,
    since some names recur across departments). Products without a label are left out."""
    if level not in GROUP_LEVELS:
        raise ParameterError(f"level must be one of {GROUP_LEVELS}, got {level!r}.")
    with connection(con) as c:
        frame = quiet_query(c, f"SELECT product_id, department, {level} FROM products")
    frame = frame.dropna(subset=[level])
    label = frame[level].astype(str).str.strip()
    if level in ("product_category", "product_type"):
        label = frame["department"].fillna("").astype(str).str.strip() + " / " + label
    return pd.Series(label.to_numpy(), index=frame["product_id"].to_numpy(), name=level)


def read_interactions(path: str | Path, columns: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Read a user's own interactions CSV/Parquet into the canonical frame, validated.

    Parameters
    ----------
    path : a .csv or .parquet file with a header row.
    columns : mapping from the file's names to ``user_id, item_id, weight, timestamp``,
        e.g. ``{"customer": "user_id", "sku": "item_id", "date": "timestamp"}``.

    Raises
    ------
    DataError
        Naming the file, column, rule and a few offending rows.
    """
    frame = read_table(path, "interactions", columns)
    return canonical(frame, source=str(path))
