"""Sentiment without training: a lexicon (VADER) and zero-shot sentence-embedding anchors.

Both score reviews that carry no label or rating, and both sit on the leaderboard next to the
trained models when labels exist. :class:`VaderScorer` wraps ``vaderSentiment`` (the lexicon
ships inside the package; nothing is downloaded): its compound score lies in [-1, 1] and
``(compound + 1) / 2`` is the probability-like score. :class:`AnchorScorer` compares each
review's MiniLM embedding with positive and negative anchor sentences.

>>> from ecomlib import text
>>> text.VaderScorer().compound(["Love it, will buy again", "Awful taste, a waste of money"])
array([ 0.6369, -0.7003])
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from functools import lru_cache

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ecomlib._validate import check_param
from ecomlib.errors import DataError, ParameterError

__all__ = [
    "DEFAULT_ANCHORS",
    "FREQ_NAMES",
    "AnchorScorer",
    "VaderScorer",
    "plot_sentiment_trend",
    "sentiment_by_product",
    "sentiment_trend",
    "trend_frequency",
]

_TAG = re.compile(r"<\s*/?\s*[a-zA-Z][^>]*>")

# Short, product-neutral review sentences: they carry sentiment, not a topic.
DEFAULT_ANCHORS: dict[str, tuple[str, ...]] = {
    "positive": (
        "This is excellent, I love it.",
        "Great product, highly recommended.",
        "Very happy with this purchase, would buy again.",
        "The best I have ever had, five stars.",
    ),
    "negative": (
        "This is terrible, I hate it.",
        "Awful product, do not buy.",
        "Very disappointed with this purchase, waste of money.",
        "The worst I have ever had, one star.",
    ),
}


def _plain(text: str) -> str:
    """Decode HTML entities and drop tags; VADER reads case and punctuation, so keep them."""
    s = html.unescape(str(text))
    return html.unescape(_TAG.sub(" ", s))


@lru_cache(maxsize=1)
def _analyzer():
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError as exc:  # pragma: no cover - hard dependency
        raise ImportError(
            "VADER is missing: `pip install -c constraints.txt vaderSentiment`."
        ) from exc
    return SentimentIntensityAnalyzer()


class VaderScorer:
    """VADER lexicon sentiment as a classifier-like scorer (no training).

    Parameters
    ----------
    threshold : float
        Compound score at or above which a review counts as positive (VADER's own
        convention is 0.05).
    """

    def __init__(self, threshold: float = 0.05) -> None:
        # no fit: a scorer ready at construction checks its parameter here
        check_param("threshold", threshold, lambda t: -1.0 <= t <= 1.0, "a number in [-1, 1]", self)
        self.threshold = threshold

    def compound(self, texts: Sequence[str]) -> np.ndarray:
        """VADER compound score of each text, in [-1, 1] (HTML entities and tags removed)."""
        if isinstance(texts, str):
            raise TypeError("compound expects a sequence of strings, not a single string.")
        analyzer = _analyzer()
        return np.array(
            [analyzer.polarity_scores(_plain(t))["compound"] for t in texts], dtype=float
        )

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """``(n, 2)`` array whose second column is ``(compound + 1) / 2``: a ranking score
        on the probability scale, not a calibrated probability."""
        p = (self.compound(texts) + 1.0) / 2.0
        return np.column_stack([1.0 - p, p])

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """1 where the compound score reaches ``threshold``, else 0."""
        return (self.compound(texts) >= self.threshold).astype(np.int64)

    @property
    def proba_threshold(self) -> float:
        """``threshold`` on the scale of :meth:`predict_proba` (for ``binary_scores``)."""
        return (self.threshold + 1.0) / 2.0


class AnchorScorer:
    """Zero-shot sentiment from sentence embeddings: similarity to positive minus negative
    anchor sentences.

    Parameters
    ----------
    encoder : callable
        Maps a list of strings to L2-normalised embeddings, e.g.
        ``lambda t: text.embed_texts(t, model_dir)``.
    anchors : dict, optional
        ``{"positive": [...], "negative": [...]}``; default :data:`DEFAULT_ANCHORS`.
    scale : float
        Multiplier of the similarity gap before the logistic squashing of
        :meth:`predict_proba` (the gap is small: cosine similarities differ by tenths).
    """

    def __init__(
        self,
        encoder: Callable[[list[str]], np.ndarray],
        anchors: dict[str, Sequence[str]] | None = None,
        scale: float = 10.0,
    ) -> None:
        anchors = DEFAULT_ANCHORS if anchors is None else anchors
        check_param(
            "anchors",
            anchors,
            lambda a: all(len(a[k]) for k in ("positive", "negative")),
            "a dict of non-empty 'positive' and 'negative' sentence lists",
            self,
        )
        self.encoder = encoder
        self.anchors = {k: list(anchors[k]) for k in ("positive", "negative")}
        self.scale = scale
        self._centroids: np.ndarray | None = None

    def _anchor_centroids(self) -> np.ndarray:
        if self._centroids is None:
            rows = []
            for key in ("positive", "negative"):
                vec = np.asarray(self.encoder(self.anchors[key]), dtype=np.float32).mean(0)
                rows.append(vec / max(float(np.linalg.norm(vec)), 1e-12))
            self._centroids = np.stack(rows)
        return self._centroids

    def gap(self, embeddings: np.ndarray) -> np.ndarray:
        """Cosine similarity to the positive centroid minus that to the negative one.

        Parameters
        ----------
        embeddings : ndarray
            ``(n, d)`` L2-normalised review embeddings from the same encoder.
        """
        emb = np.asarray(embeddings, dtype=np.float32)
        if emb.ndim != 2:
            raise ParameterError(f"embeddings must be 2-d (n, d), got shape {emb.shape}")
        sims = emb @ self._anchor_centroids().T
        return (sims[:, 0] - sims[:, 1]).astype(float)

    def predict_proba(self, embeddings: np.ndarray) -> np.ndarray:
        """``(n, 2)`` array whose second column is ``sigmoid(scale * gap)``: a ranking score,
        not a calibrated probability."""
        p = 1.0 / (1.0 + np.exp(-self.scale * self.gap(embeddings)))
        return np.column_stack([1.0 - p, p])


def _score_columns(reviews: pd.DataFrame, scores: Sequence[str]) -> list[str]:
    scores = [scores] if isinstance(scores, str) else list(scores)
    missing = [c for c in scores if c not in reviews.columns]
    if missing or not scores:
        raise ParameterError(
            f"score columns {missing or scores} not in the reviews; columns are "
            f"{list(reviews.columns)}."
        )
    return scores


def sentiment_by_product(
    reviews: pd.DataFrame,
    scores: Sequence[str],
    product_col: str = "product",
    min_reviews: int = 5,
) -> pd.DataFrame:
    """Per-product review count and mean of each score column, most-reviewed first.

    Parameters
    ----------
    reviews : DataFrame
        One row per review, with ``product_col`` and the score columns.
    scores : sequence of str
        Numeric columns to average (e.g. a compound score, or 0/1 "reads positive" flags).
    product_col : str
        Product id column; rows without a product are left out.
    min_reviews : int
        Products with fewer reviews are left out (their mean is mostly noise).
    """
    cols = _score_columns(reviews, scores)
    if product_col not in reviews.columns:
        raise DataError(f"the reviews have no {product_col!r} column.")
    known = reviews[reviews[product_col].notna()]
    grouped = known.groupby(product_col, sort=False)
    table = grouped[cols].mean().add_prefix("mean_")
    table.insert(0, "reviews", grouped.size())
    table = table[table["reviews"] >= min_reviews]
    return table.sort_values(["reviews", f"mean_{cols[0]}"], ascending=[False, True])


def trend_frequency(dates: pd.Series, max_periods: int = 40, min_per_period: int = 10) -> str:
    """The finest of month ("M"), quarter ("Q") and year ("Y") giving at most ``max_periods``
    periods from the first to the last date and a median of at least ``min_per_period``
    reviews per period that has any ("Y" when none qualifies)."""
    known = pd.to_datetime(dates).dropna()
    if known.empty:
        raise DataError("the reviews have no dates: no trend over time.")
    for freq in ("M", "Q"):
        periods = known.dt.to_period(freq)
        span = (periods.max() - periods.min()).n + 1
        if span <= max_periods and periods.value_counts().median() >= min_per_period:
            return freq
    return "Y"


FREQ_NAMES = {"M": "monthly", "Q": "quarterly", "Y": "yearly"}


def sentiment_trend(
    reviews: pd.DataFrame,
    scores: Sequence[str],
    date_col: str = "review_date",
    freq: str = "auto",
    by: str | None = None,
) -> pd.DataFrame:
    """Review count and mean of each score column per calendar period.

    Parameters
    ----------
    reviews : DataFrame
        One row per review, with ``date_col`` and the score columns.
    scores : sequence of str
        Numeric columns to average per period.
    date_col : str
        Review date column; rows without a date are left out.
    freq : str
        "M", "Q", "Y" or "auto" (:func:`trend_frequency`).
    by : str, optional
        A further grouping column (e.g. ``"product"``): one row per (period, value).
    """
    cols = _score_columns(reviews, scores)
    if date_col not in reviews.columns:
        raise DataError(f"the reviews have no {date_col!r} column: no trend over time.")
    dates = pd.to_datetime(reviews[date_col])
    if freq == "auto":
        freq = trend_frequency(dates)
    if freq not in ("M", "Q", "Y"):
        raise ParameterError(f"freq must be 'M', 'Q', 'Y' or 'auto', got {freq!r}.")
    dated = reviews.loc[dates.notna()].assign(period=dates.dropna().dt.to_period(freq))
    keys = ["period"] if by is None else ["period", by]
    grouped = dated.groupby(keys, sort=True, observed=True)
    table = grouped[cols].mean().add_prefix("mean_")
    table.insert(0, "reviews", grouped.size())
    return table


def plot_sentiment_trend(
    trend: pd.DataFrame, labels: dict[str, str] | None = None, title: str = "Sentiment over time"
) -> plt.Figure:
    """Mean of each score per period (top) and the number of reviews (bottom).

    Parameters
    ----------
    trend : DataFrame
        Output of :func:`sentiment_trend` without ``by``.
    labels : dict, optional
        Legend text per ``mean_<score>`` column.
    title : str
        Figure title.
    """
    labels = labels or {}
    means = [c for c in trend.columns if c.startswith("mean_")]
    x = trend.index.to_timestamp() if isinstance(trend.index, pd.PeriodIndex) else trend.index
    fig, (ax, cx) = plt.subplots(
        2, 1, figsize=(9, 5), sharex=True, gridspec_kw={"height_ratios": [2, 1]}
    )
    for col in means:
        ax.plot(x, trend[col], marker="o", ms=3, label=labels.get(col, col))
    ax.set_ylabel("mean per period")
    ax.set_title(title)
    ax.legend(fontsize=9)
    width = (x[1] - x[0]) * 0.8 if len(x) > 1 else 20
    cx.bar(x, trend["reviews"], width=width, color="grey")
    cx.set_ylabel("reviews")
    return fig
