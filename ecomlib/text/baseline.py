"""Classical baselines: TF-IDF + logistic regression, and a linear head on frozen embeddings."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.pipeline import Pipeline

__all__ = ["embedding_logreg", "keyword_summary", "tfidf_logreg"]


def tfidf_logreg(
    ngram_range: tuple[int, int] = (1, 2),
    min_df: int = 2,
    C: float = 10.0,
    max_features: int | None = 100_000,
    seed: int = 42,
) -> Pipeline:
    """A TF-IDF (word 1-2 grams, sublinear tf) + logistic-regression pipeline.

    Fit it on cleaned texts: ``tfidf_logreg().fit(clean_texts(train), y)``.
    """
    return Pipeline(
        [
            (
                "tfidf",
                TfidfVectorizer(
                    ngram_range=ngram_range,
                    min_df=min_df,
                    sublinear_tf=True,
                    max_features=max_features,
                ),
            ),
            ("logreg", LogisticRegression(C=C, max_iter=2000, random_state=seed)),
        ]
    )


def embedding_logreg(seed: int = 42, cv: int = 5) -> LogisticRegressionCV:
    """Logistic regression for frozen sentence embeddings, its strength chosen by CV."""
    return LogisticRegressionCV(
        Cs=np.logspace(-2, 3, 11).tolist(),
        cv=cv,
        max_iter=3000,
        scoring="roc_auc",
        random_state=seed,
        l1_ratios=(0.0,),
        use_legacy_attributes=False,
    )


def keyword_summary(
    pipeline: Pipeline, n: int = 15, class_names: Sequence[str] = ("other", "great")
) -> pd.DataFrame:
    """The n-grams that push a fitted :func:`tfidf_logreg` hardest towards each class.

    Returns columns ``class, rank, ngram, weight`` (weight = logistic coefficient; positive
    pushes towards the second class).
    """
    vocab = np.asarray(pipeline.named_steps["tfidf"].get_feature_names_out())
    coef = pipeline.named_steps["logreg"].coef_.ravel()
    rows = []
    for name, order in ((class_names[1], np.argsort(-coef)), (class_names[0], np.argsort(coef))):
        for rank, j in enumerate(order[:n], start=1):
            rows.append({"class": name, "rank": rank, "ngram": vocab[j], "weight": float(coef[j])})
    return pd.DataFrame(rows)
