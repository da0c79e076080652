"""Text cleaning and descriptive statistics for reviews.

The seed's preprocessing replaces non-word characters with spaces and collapses whitespace;
reviews scraped from HTML also carry ``<br />`` tags and entities such as ``&amp;`` or
``&#34;``, which are decoded/removed first.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["clean_text", "clean_texts", "length_stats", "top_ngrams", "token_lengths"]

_TAG = re.compile(r"<\s*/?\s*[a-zA-Z][^>]*>")
_NON_WORD = re.compile(r"[^\w']+|_")
_SPACES = re.compile(r"\s+")


def clean_text(text: str, lowercase: bool = True, keep_apostrophes: bool = True) -> str:
    """Clean one review.

    Steps: decode HTML entities (``&amp;`` -> ``&``, ``&#34;`` -> ``"``), turn tags such as
    ``<br />`` into spaces, replace every non-word character with a space (apostrophes kept
    by default so "don't" stays one word), collapse whitespace, strip, lowercase.

    Examples
    --------
    >>> clean_text("Great!<br />Would buy again &amp; again :-)")
    'great would buy again again'
    """
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return ""
    s = html.unescape(str(text))
    s = _TAG.sub(" ", s)
    s = html.unescape(s)  # doubly escaped entities (&amp;quot;)
    s = _NON_WORD.sub(" ", s) if keep_apostrophes else re.sub(r"\W+|_", " ", s)
    if keep_apostrophes:  # drop quotes that are not inside a word
        s = re.sub(r"(?<!\w)'|'(?!\w)", " ", s)
    s = _SPACES.sub(" ", s).strip()
    return s.lower() if lowercase else s


def clean_texts(texts: Sequence[str], **kwargs) -> list[str]:
    """:func:`clean_text` over a sequence."""
    return [clean_text(t, **kwargs) for t in texts]


def token_lengths(texts: Sequence[str], tokenizer=None) -> np.ndarray:
    """Tokens per text: word-piece tokens (special tokens included) with a Hugging Face
    ``tokenizer``, else whitespace-separated words."""
    texts = [str(t) for t in texts]
    if tokenizer is None:
        return np.array([len(t.split()) for t in texts], dtype=np.int64)
    enc = tokenizer(
        texts,
        truncation=True,
        max_length=100_000,
        padding=False,
        return_attention_mask=False,
        return_token_type_ids=False,
    )
    return np.array([len(x) for x in enc["input_ids"]], dtype=np.int64)


def length_stats(lengths: np.ndarray, limits: Sequence[int] = (64, 128, 256)) -> pd.Series:
    """Summary of a length distribution and the share of texts longer than each limit."""
    lengths = np.asarray(lengths)
    out = {
        "texts": len(lengths),
        "mean": float(lengths.mean()) if len(lengths) else float("nan"),
        "median": float(np.median(lengths)) if len(lengths) else float("nan"),
        "p90": float(np.percentile(lengths, 90)) if len(lengths) else float("nan"),
        "max": int(lengths.max()) if len(lengths) else 0,
    }
    for limit in limits:
        out[f"share > {limit}"] = float((lengths > limit).mean()) if len(lengths) else 0.0
    return pd.Series(out)


def top_ngrams(
    texts: Sequence[str],
    labels: Sequence[int],
    n: int = 10,
    ngram_range: tuple[int, int] = (1, 2),
    min_df: int = 5,
    stop_words: str | None = "english",
) -> pd.DataFrame:
    """Most frequent n-grams per class, and the most *distinctive* ones (log-odds ratio).

    Returns a long DataFrame: ``label, kind ("frequent" | "distinctive"), rank, ngram,
    count, log_odds``.
    """
    from sklearn.feature_extraction.text import CountVectorizer

    labels = np.asarray(labels)
    vec = CountVectorizer(ngram_range=ngram_range, min_df=min_df, stop_words=stop_words)
    counts = vec.fit_transform(texts)
    vocab = np.asarray(vec.get_feature_names_out())
    classes = np.unique(labels)
    per_class = np.vstack([np.asarray(counts[labels == c].sum(0)).ravel() for c in classes])
    rows = []
    total = per_class.sum(0)
    for ci, c in enumerate(classes):
        own = per_class[ci] + 1.0
        other = total - per_class[ci] + 1.0
        log_odds = np.log(own / own.sum()) - np.log(other / other.sum())
        for kind, score in (("frequent", per_class[ci].astype(float)), ("distinctive", log_odds)):
            for rank, j in enumerate(np.argsort(-score, kind="stable")[:n], start=1):
                rows.append(
                    {
                        "label": int(c),
                        "kind": kind,
                        "rank": rank,
                        "ngram": vocab[j],
                        "count": int(per_class[ci, j]),
                        "log_odds": float(log_odds[j]),
                    }
                )
    return pd.DataFrame(rows)
