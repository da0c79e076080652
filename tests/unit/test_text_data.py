"""User review files: validation with clear errors."""

from __future__ import annotations

import pandas as pd
import pytest

from ecomlib.errors import DataError
from ecomlib.text import read_reviews, validate_reviews


def _write(tmp_path, frame, name="reviews.csv"):
    path = tmp_path / name
    if name.endswith(".parquet"):
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False)
    return path


def test_ratings_become_labels(tmp_path):
    path = _write(tmp_path, pd.DataFrame({"body": ["good", "bad", "ok"], "stars": [5, 1, 4]}))
    out = read_reviews(path, text_col="body", rating_col="stars")
    assert out["label"].tolist() == [1, 0, 0]
    assert out["rating"].tolist() == [5.0, 1.0, 4.0]


def test_word_labels_and_parquet(tmp_path):
    frame = pd.DataFrame({"text": ["a", "b"], "score": ["great", "other"], "sku": ["x", "y"]})
    path = _write(tmp_path, frame, "r.parquet")
    out = read_reviews(path, label_col="score", product_col="sku")
    assert out["label"].tolist() == [1, 0] and out["product"].tolist() == ["x", "y"]


def test_label_column_is_found_automatically():
    out = validate_reviews(pd.DataFrame({"text": ["a", "b"], "label": [0, 1]}))
    assert out["label"].tolist() == [0, 1]


def test_empty_text_is_a_clear_error(tmp_path):
    path = _write(tmp_path, pd.DataFrame({"text": ["fine", "  ", None], "label": [1, 0, 1]}))
    with pytest.raises(DataError, match=r"2 empty or missing text.*rows \[1, 2\]") as err:
        read_reviews(path)
    assert str(path) in str(err.value)


def test_missing_labels_are_a_clear_error():
    frame = pd.DataFrame({"text": ["a", "b", "c"], "label": [1, None, 0]})
    with pytest.raises(DataError, match=r"1 missing label.*rows \[1\]"):
        validate_reviews(frame)


def test_unknown_label_values():
    frame = pd.DataFrame({"text": ["a", "b"], "label": [1, 3]})
    with pytest.raises(DataError, match="not binary labels"):
        validate_reviews(frame)


def test_non_numeric_ratings():
    frame = pd.DataFrame({"text": ["a", "b"], "rating": [5, "five"]})
    with pytest.raises(DataError, match="non-numeric"):
        validate_reviews(frame)


def test_single_class_is_a_clear_error():
    frame = pd.DataFrame({"text": ["a", "b"], "rating": [5, 5]})
    with pytest.raises(DataError, match="need both classes"):
        validate_reviews(frame)
    ok = validate_reviews(frame, require_both_classes=False)
    assert ok["label"].tolist() == [1, 1]


def test_missing_columns(tmp_path):
    with pytest.raises(DataError, match="text column 'review' not found"):
        validate_reviews(pd.DataFrame({"text": ["a"], "label": [1]}), text_col="review")
    with pytest.raises(DataError, match="no label column"):
        validate_reviews(pd.DataFrame({"text": ["a"]}))
    with pytest.raises(DataError, match="file not found"):
        read_reviews(tmp_path / "nope.csv")
