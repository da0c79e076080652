"""Review NLP: cleaning, baselines, pretrained transformer (embed + fine-tune), explanation.

The stable entry point for other parts of the project is :func:`embed_texts`
(``(n, 384)`` float32, mean-pooled, L2-normalised MiniLM sentence vectors).

>>> from ecomlib import text
>>> clean = text.clean_texts(reviews["text"])
>>> clf = text.TransformerClassifier(max_length=128, epochs=3).fit(train_texts, train_labels)
>>> p_great = clf.predict_proba(test_texts)[:, 1]
"""

import warnings

with warnings.catch_warnings():  # tqdm.auto warns once at import when ipywidgets is absent
    warnings.simplefilter("ignore")
    import tqdm.auto  # noqa: F401

from ecomlib.text.baseline import embedding_logreg, keyword_summary, tfidf_logreg
from ecomlib.text.clean import clean_text, clean_texts, length_stats, token_lengths, top_ngrams
from ecomlib.text.data import (
    REVIEW_COLUMNS,
    canonical_reviews,
    has_labels,
    read_reviews,
    split_reviews,
    validate_reviews,
)
from ecomlib.text.embeddings import (
    bucket_batches,
    default_model_dir,
    embed_texts,
    load_pretrained,
    mean_pool,
)
from ecomlib.text.evaluate import (
    ASPECTS,
    aspect_summary,
    binary_scores,
    blend_weight,
    confident_mistakes,
    expected_calibration_error,
    fit_and_predict,
    int8_comparison,
    plot_reliability,
    reliability_table,
)
from ecomlib.text.explain import (
    Explanation,
    deletion_check,
    explain,
    explanations_html,
    faithfulness,
    render_html,
)
from ecomlib.text.search import SemanticIndex
from ecomlib.text.sentiment import (
    DEFAULT_ANCHORS,
    FREQ_NAMES,
    AnchorScorer,
    VaderScorer,
    plot_sentiment_trend,
    sentiment_by_product,
    sentiment_trend,
    trend_frequency,
)
from ecomlib.text.transformer import (
    HiddenBatches,
    TextClassifierNet,
    TokenBatches,
    TransformerClassifier,
    tokenize,
)

__all__ = [
    "ASPECTS",
    "AnchorScorer",
    "DEFAULT_ANCHORS",
    "FREQ_NAMES",
    "REVIEW_COLUMNS",
    "VaderScorer",
    "Explanation",
    "HiddenBatches",
    "SemanticIndex",
    "TextClassifierNet",
    "TokenBatches",
    "TransformerClassifier",
    "aspect_summary",
    "binary_scores",
    "blend_weight",
    "bucket_batches",
    "canonical_reviews",
    "clean_text",
    "clean_texts",
    "confident_mistakes",
    "default_model_dir",
    "embed_texts",
    "embedding_logreg",
    "expected_calibration_error",
    "deletion_check",
    "explain",
    "explanations_html",
    "faithfulness",
    "fit_and_predict",
    "int8_comparison",
    "has_labels",
    "keyword_summary",
    "length_stats",
    "load_pretrained",
    "mean_pool",
    "plot_reliability",
    "plot_sentiment_trend",
    "read_reviews",
    "reliability_table",
    "render_html",
    "sentiment_by_product",
    "sentiment_trend",
    "split_reviews",
    "tfidf_logreg",
    "token_lengths",
    "tokenize",
    "top_ngrams",
    "trend_frequency",
    "validate_reviews",
]
