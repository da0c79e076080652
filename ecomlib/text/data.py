"""A user's own reviews: CSV/Parquet with a text column and a rating or label column.

:func:`read_reviews` returns the canonical reviews table (``text, label`` and, when known,
``rating`` and ``product``) and raises :class:`~ecomlib.errors.DataError` naming the file,
the column, the rule and a few offending rows for empty texts, missing or unknown labels and
a single class.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ecomlib.data.schemas import read_file, validate
from ecomlib.errors import DataError

__all__ = ["read_reviews", "validate_reviews"]

_POSITIVE = {"1", "great", "positive", "pos", "true", "yes", "good"}
_NEGATIVE = {"0", "other", "negative", "neg", "false", "no", "bad"}


def _rows(mask: np.ndarray, n: int = 5) -> list[int]:
    return [int(i) for i in np.flatnonzero(mask)[:n]]


def validate_reviews(
    frame: pd.DataFrame,
    text_col: str = "text",
    label_col: str | None = None,
    rating_col: str | None = None,
    great_threshold: float = 5,
    product_col: str | None = None,
    source: str = "reviews",
    require_both_classes: bool = True,
) -> pd.DataFrame:
    """Turn a raw frame into the canonical reviews table, with clear errors.

    Exactly one of ``label_col`` (0/1, or words such as great/other, positive/negative) and
    ``rating_col`` (numeric; ``label = rating >= great_threshold``) is used; when both are
    None, a ``label`` or ``rating``/``score`` column is looked for.
    """
    if text_col not in frame.columns:
        raise DataError(
            f"{source}: text column {text_col!r} not found; columns are "
            f"{list(frame.columns)}. Pass text_col=..."
        )
    if label_col is None and rating_col is None:
        if "label" in frame.columns:
            label_col = "label"
        else:
            rating_col = next((c for c in ("rating", "score", "stars") if c in frame.columns), None)
            if rating_col is None:
                raise DataError(
                    f"{source}: no label column: pass label_col= (0/1 labels) or "
                    f"rating_col= (star ratings); columns are {list(frame.columns)}."
                )
    if len(frame) == 0:
        raise DataError(f"{source}: the file has no rows.")
    text = frame[text_col]
    empty = text.isna().to_numpy() | (text.astype(str).str.strip() == "").to_numpy()
    if empty.any():
        raise DataError(
            f"{source}: column {text_col!r} has {int(empty.sum())} empty or missing "
            f"text(s), e.g. rows {_rows(empty)}. Remove or fill them."
        )
    out = pd.DataFrame({"text": text.astype(str).to_numpy()})
    if rating_col is not None:
        if rating_col not in frame.columns:
            raise DataError(
                f"{source}: rating column {rating_col!r} not found; columns are "
                f"{list(frame.columns)}."
            )
        raw = frame[rating_col]
        rating = pd.to_numeric(raw, errors="coerce")
        bad = rating.isna().to_numpy()
        if bad.any():
            raise DataError(
                f"{source}: column {rating_col!r} has {int(bad.sum())} missing or non-numeric "
                f"rating(s), e.g. rows {_rows(bad)} (values {raw[bad].head(5).tolist()})."
            )
        out["rating"] = rating.to_numpy(dtype=float)
        out["label"] = (rating.to_numpy() >= great_threshold).astype("int64")
        col = rating_col
    else:
        if label_col not in frame.columns:
            raise DataError(
                f"{source}: label column {label_col!r} not found; columns are "
                f"{list(frame.columns)}."
            )
        raw = frame[label_col]
        missing = raw.isna().to_numpy()
        if missing.any():
            raise DataError(
                f"{source}: column {label_col!r} has {int(missing.sum())} missing "
                f"label(s), e.g. rows {_rows(missing)}. Every review needs a label."
            )
        words = raw.astype(str).str.strip().str.lower().str.replace(r"\.0$", "", regex=True)
        pos, neg = words.isin(_POSITIVE).to_numpy(), words.isin(_NEGATIVE).to_numpy()
        unknown = ~(pos | neg)
        if unknown.any():
            raise DataError(
                f"{source}: column {label_col!r} has values that are not binary labels, e.g. "
                f"rows {_rows(unknown)} (values {raw[unknown].head(5).tolist()}); use 0/1 or "
                "great/other, or pass rating_col= for star ratings."
            )
        out["label"] = pos.astype("int64")
        col = label_col
    if product_col is not None:
        if product_col not in frame.columns:
            raise DataError(f"{source}: product column {product_col!r} not found.")
        out["product"] = frame[product_col].astype(str).to_numpy()
    if require_both_classes and out["label"].nunique() < 2:
        only = int(out["label"].iloc[0])
        raise DataError(
            f"{source}: every review has label {only} (from column {col!r}); training and "
            "evaluation need both classes. Check the column or the great_threshold."
        )
    return validate(out, "reviews", source=source)


def read_reviews(
    path: str | Path,
    text_col: str = "text",
    label_col: str | None = None,
    rating_col: str | None = None,
    great_threshold: float = 5,
    product_col: str | None = None,
    require_both_classes: bool = True,
) -> pd.DataFrame:
    """Read and validate a user's review file (.csv or .parquet).

    Examples
    --------
    >>> reviews = read_reviews("data/raw/my_reviews.csv", text_col="body", rating_col="stars")
    """
    frame = read_file(path)
    return validate_reviews(
        frame,
        text_col=text_col,
        label_col=label_col,
        rating_col=rating_col,
        great_threshold=great_threshold,
        product_col=product_col,
        source=str(path),
        require_both_classes=require_both_classes,
    )
