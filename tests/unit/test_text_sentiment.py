"""Sentiment without training (VADER, embedding anchors), the reviews view of a data source,
and per-product / over-time summaries."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from ecomlib import text
from ecomlib.errors import DataError, ParameterError


# ------------------------------------------------------------------ VADER
def test_vader_orders_praise_above_complaints():
    vader = text.VaderScorer()
    c = vader.compound(["Love it, will buy again!", "Awful taste, a waste of money."])
    assert c[0] > 0.3 and c[1] < -0.3
    p = vader.predict_proba(["Love it", "Awful"])
    assert p.shape == (2, 2)
    np.testing.assert_allclose(p.sum(1), 1.0)
    assert p[0, 1] > 0.5 > p[1, 1]
    assert vader.predict(["Love it", "Awful"]).tolist() == [1, 0]


def test_vader_reads_decoded_html_and_validates_inputs():
    vader = text.VaderScorer()
    raw = "I didn&#39;t like it.<br />Terrible!"
    assert vader.compound([raw])[0] == pytest.approx(
        vader.compound(["I didn't like it. Terrible!"])[0]
    )
    with pytest.raises(TypeError):
        vader.compound("one string")
    with pytest.raises(ValueError, match="The 'threshold' parameter of VaderScorer .*; got 2"):
        text.VaderScorer(threshold=2)
    assert text.VaderScorer(threshold=0.0).proba_threshold == 0.5
    assert vader.compound([]).shape == (0,)


# ------------------------------------------------------------------ anchors
def _toy_encoder(texts):
    """2-d unit vectors: 'good' words point along x, 'bad' ones along -x, the rest along y."""
    out = []
    for t in texts:
        t = t.lower()
        x = sum(w in t for w in ("love", "great", "excellent", "happy", "best"))
        x -= sum(w in t for w in ("hate", "awful", "terrible", "disappointed", "worst"))
        v = np.array([x, 1.0])
        out.append(v / np.linalg.norm(v))
    return np.array(out, dtype=np.float32)


def test_anchor_scorer_gap_and_probability():
    scorer = text.AnchorScorer(_toy_encoder)
    emb = _toy_encoder(["great, love it", "awful, hate it", "a box"])
    gap = scorer.gap(emb)
    assert gap[0] > 0 > gap[1]
    assert abs(gap[2]) < abs(gap[0])
    p = scorer.predict_proba(emb)
    assert p.shape == (3, 2) and p[0, 1] > 0.5 > p[1, 1]


def test_anchor_scorer_validates():
    with pytest.raises(ValueError, match="The 'anchors' parameter of AnchorScorer"):
        text.AnchorScorer(_toy_encoder, anchors={"positive": ["good"]})
    with pytest.raises(ValueError, match="'anchors'.*got \\{'positive': \\[\\]"):
        text.AnchorScorer(_toy_encoder, anchors={"positive": [], "negative": ["bad"]})
    with pytest.raises(ValueError):
        text.AnchorScorer(_toy_encoder).gap(np.zeros(3))


# ------------------------------------------------------------------ reviews view
def test_canonical_reviews_fills_optional_columns():
    out = text.canonical_reviews(pd.DataFrame({"text": ["a", "  ", "b"]}))
    assert list(out.columns) == list(text.REVIEW_COLUMNS)
    assert out["text"].tolist() == ["a", "b"]  # the empty review is dropped
    assert str(out["label"].dtype) == "Int64" and out["label"].isna().all()
    assert out["rating"].isna().all() and out["review_date"].isna().all()
    assert out["product"].tolist() == [None, None] and out["split"].tolist() == [None, None]
    assert not text.has_labels(out)


def test_canonical_reviews_types_and_errors():
    frame = pd.DataFrame(
        {
            "text": ["a", "b", "c"],
            "label": [1, None, 0],
            "rating": [5, None, 2],
            "product": ["p1", None, 7],
            "review_date": ["2024-01-03", None, "2024-02-01"],
        }
    )
    out = text.canonical_reviews(frame)
    assert out["label"].tolist()[0] == 1 and pd.isna(out["label"].iloc[1])
    assert out["product"].tolist() == ["p1", None, "7"]
    assert out["review_date"].dtype.kind == "M" and pd.isna(out["review_date"].iloc[1])
    assert text.has_labels(out)
    with pytest.raises(DataError, match="label"):
        text.canonical_reviews(frame.assign(label=[1, 2, 0]))
    with pytest.raises(DataError, match="split"):
        text.canonical_reviews(frame.assign(split=["train", "valid", "test"]))
    with pytest.raises(DataError, match="'text'"):
        text.canonical_reviews(frame.drop(columns="text"), source="shop.yaml")
    with pytest.raises(DataError, match="no rows"):
        text.canonical_reviews(frame.iloc[:0])


def test_split_reviews_keeps_the_source_split():
    frame = pd.DataFrame(
        {
            "text": list("abcdef"),
            "label": [1, 0, 1, 0, 1, None],
            "split": ["train", "train", "train", "test", "test", None],
        }
    )
    train, test = text.split_reviews(text.canonical_reviews(frame))
    assert train["text"].tolist() == ["a", "b", "c"] and test["text"].tolist() == ["d", "e"]
    assert train["label"].dtype == np.int64
    assert list(train.index) == [0, 1, 2]


def test_split_reviews_stratified_and_seeded():
    n = 100
    frame = pd.DataFrame(
        {"text": [f"r{i}" for i in range(n)], "label": [i % 4 == 0 for i in range(n)]}
    )
    frame["label"] = frame["label"].astype(int)
    reviews = text.canonical_reviews(frame)
    train, test = text.split_reviews(reviews, test_size=0.2, seed=1)
    assert len(test) == 20 and len(train) == 80
    assert test["label"].mean() == pytest.approx(0.25)
    again, _ = text.split_reviews(reviews, test_size=0.2, seed=1)
    assert again["text"].tolist() == train["text"].tolist()
    with pytest.raises(ParameterError):
        text.split_reviews(reviews, test_size=1.5)
    with pytest.raises(DataError, match="no labels"):
        text.split_reviews(reviews.assign(label=pd.array([pd.NA] * n, dtype="Int64")))


# ------------------------------------------------------------------ summaries
def _scored():
    return pd.DataFrame(
        {
            "product": ["a", "a", "a", "b", "b", "c", None],
            "vader": [0.9, 0.5, 0.1, -0.8, -0.2, 0.3, 0.0],
            "review_date": pd.to_datetime(
                [
                    "2024-01-05",
                    "2024-01-20",
                    "2024-03-02",
                    "2024-01-10",
                    "2024-03-15",
                    None,
                    "2024-02-01",
                ]
            ),
        }
    )


def test_sentiment_by_product():
    table = text.sentiment_by_product(_scored(), ["vader"], min_reviews=2)
    assert table.index.tolist() == ["a", "b"]
    assert table.loc["a", "reviews"] == 3
    assert table.loc["b", "mean_vader"] == pytest.approx(-0.5)
    with pytest.raises(ParameterError):
        text.sentiment_by_product(_scored(), ["missing"])


def test_sentiment_trend_monthly_and_by_product():
    frame = _scored()
    assert text.trend_frequency(frame["review_date"], min_per_period=1) == "M"
    assert text.trend_frequency(frame["review_date"]) == "Y"  # too few reviews per month
    trend = text.sentiment_trend(frame, ["vader"], freq="M")
    assert [str(p) for p in trend.index] == ["2024-01", "2024-02", "2024-03"]
    assert trend["reviews"].tolist() == [3, 1, 2]
    assert trend.loc[pd.Period("2024-01", "M"), "mean_vader"] == pytest.approx(0.2)
    by = text.sentiment_trend(frame, ["vader"], freq="Q", by="product")
    assert by.loc[(pd.Period("2024Q1", "Q"), "a"), "reviews"] == 3
    fig = text.plot_sentiment_trend(trend, labels={"mean_vader": "VADER"})
    assert len(fig.axes) == 2


def test_trend_frequency_coarsens_long_spans_and_needs_dates():
    quarters = pd.Series(pd.date_range("2008-01-01", "2017-12-31", freq="3D"))
    assert text.trend_frequency(quarters) == "Q"  # 120 months are too many, 40 quarters not
    assert text.trend_frequency(quarters.iloc[:300]) == "M"  # 30 months, 10 a month
    assert text.trend_frequency(quarters.iloc[::10]) == "Y"  # 3 a month, 9 a quarter
    with pytest.raises(DataError, match="no dates"):
        text.trend_frequency(pd.Series([pd.NaT, pd.NaT]))
    with pytest.raises(ParameterError):
        text.sentiment_trend(_scored(), ["vader"], freq="W")
