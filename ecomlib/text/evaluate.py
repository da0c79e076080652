"""Scoring, calibration, error analysis and aspect summaries for binary text classifiers."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, brier_score_loss, f1_score, log_loss, roc_auc_score

from ecomlib.errors import ParameterError

__all__ = [
    "ASPECTS",
    "aspect_summary",
    "binary_scores",
    "blend_weight",
    "confident_mistakes",
    "expected_calibration_error",
    "fit_and_predict",
    "int8_comparison",
    "plot_reliability",
    "reliability_table",
]


def fit_and_predict(clf, train_texts, train_labels, test_texts) -> tuple[object, np.ndarray, float]:
    """Fit ``clf`` (any classifier with ``fit(texts, labels)`` and ``predict_proba``) and score
    ``test_texts``; returns ``(fitted clf, positive-class probabilities, predict seconds)``.
    One call, so :func:`ecomlib.cache.step` can store the fitted model with its predictions."""
    import time

    clf.fit(list(train_texts), np.asarray(train_labels))
    t0 = time.perf_counter()
    p = clf.predict_proba(list(test_texts))[:, 1]
    return clf, p, time.perf_counter() - t0


def int8_comparison(
    clf, texts: Sequence[str], y: np.ndarray, p_float: np.ndarray, n_speed: int = 300
) -> tuple[pd.DataFrame, np.ndarray]:
    """The fitted transformer ``clf`` against its int8 dynamic-quantized copy.

    Returns ``(table, p_int8)``: one row per model (``reviews_per_s`` over the first
    ``n_speed`` of ``texts``, then ``accuracy`` and ``roc_auc`` on all of them, the float
    model's from its probabilities ``p_float``) and the int8 copy's positive-class
    probabilities. One call, so :func:`ecomlib.cache.step` can replay it with its timings.
    """
    texts = list(texts)
    speed_texts = texts[:n_speed]
    int8 = clf.quantize()
    p_int8 = int8.predict_proba(texts)[:, 1]
    float_row = f"float ({'bf16' if clf.uses_bf16 else 'fp32'} matmuls)"  # bf16 only with AMX
    table = pd.DataFrame(
        {
            float_row: {"reviews_per_s": clf.throughput(speed_texts), **binary_scores(y, p_float)},
            "int8 dynamic": {
                "reviews_per_s": int8.throughput(speed_texts),
                **binary_scores(y, p_int8),
            },
        }
    ).T[["reviews_per_s", "accuracy", "roc_auc"]]
    return table, p_int8


def binary_scores(
    y_true: Sequence[int], p_positive: Sequence[float], threshold: float = 0.5
) -> dict[str, float]:
    """Accuracy, ROC-AUC, F1, log loss, Brier score and ECE of positive-class probabilities."""
    y = np.asarray(y_true).astype(int)
    p = np.clip(np.asarray(p_positive, dtype=float), 1e-7, 1 - 1e-7)
    if y.shape != p.shape:
        raise ParameterError(f"{len(y)} labels but {len(p)} probabilities.")
    both = len(np.unique(y)) == 2
    return {
        "accuracy": float(accuracy_score(y, p >= threshold)),
        "roc_auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "f1": float(f1_score(y, p >= threshold, zero_division=0)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "brier": float(brier_score_loss(y, p)),
        "ece": expected_calibration_error(y, p),
    }


def reliability_table(
    y_true: Sequence[int], p_positive: Sequence[float], n_bins: int = 10
) -> pd.DataFrame:
    """Equal-width probability bins: count, mean predicted probability, observed positive rate."""
    y = np.asarray(y_true).astype(float)
    p = np.asarray(p_positive, dtype=float)
    edges = np.linspace(0, 1, n_bins + 1)
    bins = np.clip(np.digitize(p, edges[1:-1]), 0, n_bins - 1)
    rows = []
    for b in range(n_bins):
        sel = bins == b
        rows.append(
            {
                "bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
                "count": int(sel.sum()),
                "mean_predicted": float(p[sel].mean()) if sel.any() else float("nan"),
                "observed_rate": float(y[sel].mean()) if sel.any() else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def expected_calibration_error(
    y_true: Sequence[int], p_positive: Sequence[float], n_bins: int = 10
) -> float:
    """Count-weighted mean |observed rate - mean predicted probability| over the bins."""
    table = reliability_table(y_true, p_positive, n_bins).dropna()
    if table["count"].sum() == 0:
        return float("nan")
    gap = (table["observed_rate"] - table["mean_predicted"]).abs()
    return float((gap * table["count"]).sum() / table["count"].sum())


def plot_reliability(
    y_true: Sequence[int],
    probabilities: Mapping[str, Sequence[float]],
    n_bins: int = 10,
    title: str = "Reliability curve",
) -> plt.Figure:
    """Reliability curves (observed rate vs predicted probability) of several models, with a
    histogram of predicted probabilities below."""
    fig, (ax, hx) = plt.subplots(
        2, 1, figsize=(7, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfectly calibrated")
    for name, p in probabilities.items():
        table = reliability_table(y_true, p, n_bins).dropna()
        ece = expected_calibration_error(y_true, p, n_bins)
        ax.plot(
            table["mean_predicted"],
            table["observed_rate"],
            marker="o",
            label=f"{name} (ECE {ece:.3f})",
        )
        hx.hist(np.asarray(p), bins=np.linspace(0, 1, n_bins + 1), histtype="step", lw=1.5)
    ax.set_ylabel("observed share of 'great'")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=9)
    hx.set_xlabel("predicted probability of 'great'")
    hx.set_ylabel("reviews")
    return fig


def confident_mistakes(
    texts: Sequence[str],
    y_true: Sequence[int],
    p_positive: Sequence[float],
    k: int = 5,
    max_chars: int = 300,
) -> pd.DataFrame:
    """The ``k`` wrong predictions the model was most sure of (each direction mixed)."""
    y = np.asarray(y_true).astype(int)
    p = np.asarray(p_positive, dtype=float)
    wrong = np.flatnonzero((p >= 0.5).astype(int) != y)
    conf = np.abs(p[wrong] - 0.5)
    pick = wrong[np.argsort(-conf, kind="stable")[:k]]
    return pd.DataFrame(
        {
            "index": pick,
            "label": y[pick],
            "p_great": p[pick].round(3),
            "text": [_shorten(str(texts[i]), max_chars) for i in pick],
        }
    )


def _shorten(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[: max_chars - 1].rstrip() + "…"


# Hand-written aspect lexicon for food reviews (word stems matched at word starts).
ASPECTS: dict[str, tuple[str, ...]] = {
    "taste & flavour": (
        "tast",
        "flavor",
        "flavour",
        "delicious",
        "sweet",
        "bitter",
        "bland",
        "salty",
        "yummy",
    ),
    "price & value": ("price", "expensive", "cheap", "value", "cost", "money", "worth", "deal"),
    "packaging & shipping": (
        "packag",
        "box",
        "ship",
        "deliver",
        "arriv",
        "damag",
        "bag",
        "container",
        "seal",
    ),
    "freshness & smell": ("fresh", "stale", "smell", "odor", "expir", "rancid", "moldy"),
    "texture": ("textur", "crunch", "chewy", "soggy", "creamy", "smooth", "hard", "soft"),
    "health & ingredients": (
        "ingredient",
        "sugar",
        "organic",
        "calori",
        "health",
        "natural",
        "allerg",
        "gluten",
        "protein",
        "artificial",
    ),
    "pets": ("dog", "cat", "pet", "puppy", "kitten"),
    "coffee & tea": ("coffee", "tea", "brew", "cup", "k-cup", "espresso"),
}


def aspect_summary(
    texts: Sequence[str], labels: Sequence[int], aspects: Mapping[str, Sequence[str]] | None = None
) -> pd.DataFrame:
    """How often each aspect is mentioned per class and how 'great' its reviews are.

    Returns one row per aspect: ``mentions``, ``share_of_great_reviews``,
    ``share_of_other_reviews`` (share of each class's reviews that mention it),
    ``great_rate_when_mentioned`` and ``lift`` (that rate over the overall great rate).
    """
    aspects = aspects or ASPECTS
    low = [str(t).lower() for t in texts]
    y = np.asarray(labels).astype(int)
    base = y.mean() if len(y) else float("nan")
    rows = []
    for name, stems in aspects.items():
        pattern = re.compile(r"\b(?:" + "|".join(re.escape(s) for s in stems) + r")")
        hit = np.array([bool(pattern.search(t)) for t in low])
        rate = float(y[hit].mean()) if hit.any() else float("nan")
        rows.append(
            {
                "aspect": name,
                "mentions": int(hit.sum()),
                "share_of_great_reviews": float(hit[y == 1].mean()) if (y == 1).any() else np.nan,
                "share_of_other_reviews": float(hit[y == 0].mean()) if (y == 0).any() else np.nan,
                "great_rate_when_mentioned": rate,
                "lift": rate / base if base else float("nan"),
            }
        )
    return pd.DataFrame(rows).sort_values("lift").reset_index(drop=True)


def blend_weight(
    y_val: Sequence[int],
    p_main: Sequence[float],
    p_other: Sequence[float],
    grid: Sequence[float] | None = None,
) -> float:
    """Weight ``w`` of ``w * p_main + (1 - w) * p_other`` with the lowest validation log loss.

    Choose it on held-out training data (never on the test set). Log loss, not accuracy, so
    that the choice is smooth and not decided by a handful of reviews near 0.5.
    """
    y = np.asarray(y_val).astype(int)
    a, b = np.asarray(p_main, dtype=float), np.asarray(p_other, dtype=float)
    if not (y.shape == a.shape == b.shape) or y.ndim != 1 or len(y) == 0:
        raise ParameterError(f"need equally long 1-d inputs, got {y.shape}, {a.shape}, {b.shape}")
    if len(np.unique(y)) < 2:
        raise ParameterError("the validation labels hold a single class: cannot choose a weight")
    grid = np.linspace(0, 1, 21).round(4) if grid is None else np.asarray(grid, dtype=float)
    losses = [
        log_loss(y, np.clip(w * a + (1 - w) * b, 1e-7, 1 - 1e-7), labels=[0, 1]) for w in grid
    ]
    return float(grid[int(np.argmin(losses))])
