"""A user's own reviews: CSV/Parquet with a text column and a rating or label column.

:func:`read_reviews` returns the canonical reviews table (``text, label`` and, when known,
``rating`` and ``product``) and raises :class:`~ecomlib.errors.DataError` naming the file,
the column, the rule and a few offending rows for empty texts, missing or unknown labels and
a single class.

:func:`canonical_reviews`, :func:`has_labels` and :func:`split_reviews` take the reviews view of
any data source (``text, label, rating, product, review_date, split``) to what notebook 04
needs: a train/test split of the labelled reviews, or nothing to train on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ecomlib.data.schemas import read_file, validate
from ecomlib.errors import DataError, ParameterError

__all__ = [
    "REVIEW_COLUMNS",
    "canonical_reviews",
    "has_labels",
    "read_reviews",
    "split_reviews",
    "validate_reviews",
]

REVIEW_COLUMNS = ("text", "label", "rating", "product", "review_date", "split")

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


def canonical_reviews(frame: pd.DataFrame, source: str = "reviews") -> pd.DataFrame:
    """The reviews view with every canonical column, typed; optional ones filled with NA.

    Parameters
    ----------
    frame : DataFrame
        Needs ``text``; ``label`` (0/1 or NA), ``rating``, ``product``, ``review_date`` and
        ``split`` ("train"/"test" or None) are optional.
    source : str
        Name used in error messages (a file or data source).
    """
    if "text" not in frame.columns:
        raise DataError(
            f"{source}: the reviews have no 'text' column; columns are {list(frame.columns)}."
        )
    if len(frame) == 0:
        raise DataError(f"{source}: the reviews table has no rows.")
    text = frame["text"]
    empty = text.isna().to_numpy() | (text.astype(str).str.strip() == "").to_numpy()
    if empty.all():
        raise DataError(f"{source}: every review text is empty or missing.")
    out = frame.loc[~empty].reset_index(drop=True)
    result = pd.DataFrame({"text": out["text"].astype(str).to_numpy()})
    raw = out["label"] if "label" in out else pd.Series(pd.NA, index=out.index, dtype="Int64")
    numeric = pd.to_numeric(raw, errors="coerce")
    bad = (raw.notna() & ~numeric.isin([0, 1])).to_numpy()
    if bad.any():
        raise DataError(
            f"{source}: column 'label' must be 1 (positive), 0 or missing; rows "
            f"{_rows(bad)} hold {raw[bad].head(5).tolist()}."
        )
    label = numeric.astype("Int64")
    result["label"] = label
    rating = out["rating"] if "rating" in out else pd.Series(np.nan, index=out.index)
    result["rating"] = pd.to_numeric(rating, errors="coerce").to_numpy(dtype=float)
    product = out["product"] if "product" in out else pd.Series(None, index=out.index)
    result["product"] = [None if pd.isna(p) else str(p) for p in product]
    dates = out["review_date"] if "review_date" in out else pd.Series(pd.NaT, index=out.index)
    result["review_date"] = pd.to_datetime(dates, errors="coerce").to_numpy()
    split = out["split"] if "split" in out else pd.Series(None, index=out.index)
    split = [None if pd.isna(v) else str(v) for v in split]
    odd = sorted({v for v in split if v not in (None, "train", "test")})
    if odd:
        raise DataError(f"{source}: column 'split' holds {odd}; use 'train', 'test' or empty.")
    result["split"] = split
    return result


def has_labels(reviews: pd.DataFrame) -> bool:
    """True when the labelled reviews hold both classes (enough to train and evaluate)."""
    if "label" not in reviews.columns:
        return False
    return reviews["label"].dropna().nunique() == 2


def split_reviews(
    reviews: pd.DataFrame, test_size: float = 0.2, seed: int = 42
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train and test frames of the labelled reviews (``label`` as int64, fresh index).

    The source's own ``split`` column is used when it names both a train and a test row;
    otherwise a seeded split stratified by label. Unlabelled reviews are left out.

    Parameters
    ----------
    reviews : DataFrame
        Output of :func:`canonical_reviews`.
    test_size : float
        Share of the labelled reviews held out when the source defines no split.
    seed : int
        Seed of that split.
    """
    if not has_labels(reviews):
        raise DataError(
            "the reviews have no labels of both classes (no ratings or labels): nothing to "
            "train or evaluate on; score them with VaderScorer or AnchorScorer instead."
        )
    if not 0 < test_size < 1:
        raise ParameterError(f"TEST_SIZE must lie strictly between 0 and 1, got {test_size}.")
    labelled = reviews[reviews["label"].notna()].copy()
    labelled["label"] = labelled["label"].astype("int64")
    split = labelled["split"] if "split" in labelled else pd.Series(None, index=labelled.index)
    if {"train", "test"} <= set(split.dropna()):
        train, test = labelled[split == "train"], labelled[split == "test"]
    else:
        from sklearn.model_selection import train_test_split

        counts = labelled["label"].value_counts()
        stratify = labelled["label"] if counts.min() >= 2 else None
        train, test = train_test_split(
            labelled, test_size=test_size, random_state=seed, stratify=stratify
        )
        train, test = train.sort_index(), test.sort_index()
    return train.reset_index(drop=True), test.reset_index(drop=True)
