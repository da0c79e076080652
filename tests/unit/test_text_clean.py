"""Unit tests for ecomlib.text cleaning, statistics, baselines and evaluation helpers."""

from __future__ import annotations

import numpy as np
import pytest

from ecomlib.text import (
    aspect_summary,
    binary_scores,
    blend_weight,
    clean_text,
    clean_texts,
    confident_mistakes,
    expected_calibration_error,
    keyword_summary,
    length_stats,
    reliability_table,
    tfidf_logreg,
    token_lengths,
    top_ngrams,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Great!<br />Would buy again &amp; again :-)", "great would buy again again"),
        ("It's   the <BR/>best&#34;coffee&#34;", "it's the best coffee"),
        ("tabs\tand\nnewlines__here", "tabs and newlines here"),
        ("'quoted' words", "quoted words"),
        ("&amp;quot;double escaped&amp;quot;", "double escaped"),
        ("", ""),
        (None, ""),
    ],
)
def test_clean_text(raw, expected):
    assert clean_text(raw) == expected


def test_clean_text_options():
    assert clean_text("Don't STOP", lowercase=False) == "Don't STOP"
    assert clean_text("don't", keep_apostrophes=False) == "don t"
    assert clean_texts(["A!", "b?"]) == ["a", "b"]


def test_length_stats_and_word_lengths():
    lengths = token_lengths(["one two three", "one", ""])
    assert lengths.tolist() == [3, 1, 0]
    stats = length_stats(np.array([10, 100, 300]), limits=(64, 256))
    assert stats["texts"] == 3 and stats["max"] == 300
    assert stats["share > 64"] == pytest.approx(2 / 3)
    assert stats["share > 256"] == pytest.approx(1 / 3)


def test_top_ngrams_finds_distinctive_words():
    texts = ["tasty delicious great"] * 6 + ["stale awful broken"] * 6
    labels = [1] * 6 + [0] * 6
    table = top_ngrams(texts, labels, n=3, min_df=1, ngram_range=(1, 1), stop_words=None)
    distinct_pos = table.query("label == 1 and kind == 'distinctive'")["ngram"].tolist()
    assert set(distinct_pos) == {"tasty", "delicious", "great"}


def test_tfidf_baseline_and_keywords():
    texts = ["love it great taste"] * 10 + ["terrible stale waste of money"] * 10
    y = np.array([1] * 10 + [0] * 10)
    model = tfidf_logreg(min_df=1).fit(texts, y)
    assert (model.predict(texts) == y).all()
    kw = keyword_summary(model, n=3)
    assert set(kw["class"]) == {"great", "other"}
    assert (kw.query("`class` == 'great'")["weight"] > 0).all()


def test_binary_scores_and_calibration():
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.4, 0.6, 0.9])
    s = binary_scores(y, p)
    assert s["accuracy"] == 1.0 and s["roc_auc"] == 1.0
    table = reliability_table(y, p, n_bins=2)
    assert table["count"].tolist() == [2, 2]
    assert expected_calibration_error(y, p, n_bins=2) == pytest.approx(0.25)
    with pytest.raises(ValueError):
        binary_scores([0, 1], [0.5])


def test_confident_mistakes_orders_by_confidence():
    texts = ["a", "b", "c", "d"]
    y = [1, 0, 1, 0]
    p = [0.2, 0.99, 0.9, 0.6]
    table = confident_mistakes(texts, y, p, k=2)
    assert table["text"].tolist() == ["b", "a"]


def test_aspect_summary():
    texts = ["great taste", "awful price", "tasty", "expensive price"]
    table = aspect_summary(texts, [1, 0, 1, 0], {"taste": ("tast",), "price": ("price",)})
    rows = table.set_index("aspect")
    assert rows.loc["taste", "great_rate_when_mentioned"] == 1.0
    assert rows.loc["price", "mentions"] == 2


def test_blend_weight_prefers_the_informative_model():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    good = np.clip(0.5 + (y - 0.5) * 0.6 + rng.normal(0, 0.15, 400), 0.01, 0.99)
    noise = rng.uniform(0.01, 0.99, 400)
    assert blend_weight(y, good, noise) >= 0.8
    assert blend_weight(y, noise, good) <= 0.2
    assert blend_weight(y, good, good, grid=[0.0, 0.5, 1.0]) == 0.0  # ties: first grid point
    with pytest.raises(ValueError, match="single class"):
        blend_weight([1, 1], [0.2, 0.8], [0.3, 0.7])
    with pytest.raises(ValueError, match="equally long"):
        blend_weight([0, 1], [0.2], [0.3, 0.7])
