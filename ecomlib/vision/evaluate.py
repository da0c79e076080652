"""Evaluation on the held-out test set and the figures that go with it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ecomlib.errors import ParameterError


@dataclass
class Evaluation:
    """Test-set results of a classifier.

    Attributes
    ----------
    accuracy : float
    per_class : pd.DataFrame
        precision, recall, f1 and support per class (index = class name).
    confusion : pd.DataFrame
        Counts, rows = true class, columns = predicted class.
    """

    accuracy: float
    macro_f1: float
    per_class: pd.DataFrame
    confusion: pd.DataFrame

    def confusion_share(self) -> pd.DataFrame:
        """Confusion matrix as a share of each true class (rows sum to 1)."""
        return self.confusion.div(self.confusion.sum(axis=1).replace(0, 1), axis=0)


def evaluate(probs: np.ndarray, y_true: np.ndarray, class_names: Sequence[str]) -> Evaluation:
    """Accuracy, per-class precision/recall/F1 and the confusion matrix.

    Parameters
    ----------
    probs : array N x K
        Class probabilities (or scores) per image.
    y_true : array N
        True class indices.
    class_names : sequence of str
        K class names.
    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    probs = np.asarray(probs)
    y_true = np.asarray(y_true)
    if probs.ndim != 2 or len(probs) != len(y_true):
        raise ParameterError(
            f"probs must be N x K with N = len(y_true) = {len(y_true)}, got {probs.shape}."
        )
    if probs.shape[1] != len(class_names):
        raise ParameterError(f"{probs.shape[1]} score columns but {len(class_names)} classes.")
    y_pred = probs.argmax(1)
    labels = np.arange(len(class_names))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    per_class = pd.DataFrame(
        {"precision": p, "recall": r, "f1": f, "support": s},
        index=pd.Index(list(class_names), name="class"),
    )
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    confusion = pd.DataFrame(
        cm,
        index=pd.Index(list(class_names), name="true"),
        columns=pd.Index(list(class_names), name="predicted"),
    )
    return Evaluation(
        accuracy=float((y_pred == y_true).mean()),
        macro_f1=float(f.mean()),
        per_class=per_class,
        confusion=confusion,
    )


def confident_mistakes(probs: np.ndarray, y_true: np.ndarray, k: int = 12) -> pd.DataFrame:
    """The ``k`` wrong predictions the model was most sure of.

    Returns a frame with columns index (row in the test set), true, predicted, confidence
    (probability of the predicted class) and p_true (probability given to the true class).
    """
    probs = np.asarray(probs)
    y_true = np.asarray(y_true)
    pred = probs.argmax(1)
    wrong = np.flatnonzero(pred != y_true)
    conf = probs[wrong, pred[wrong]]
    order = wrong[np.argsort(-conf, kind="stable")][:k]
    return pd.DataFrame(
        {
            "index": order,
            "true": y_true[order],
            "predicted": pred[order],
            "confidence": probs[order, pred[order]],
            "p_true": probs[order, y_true[order]],
        }
    )


def image_grid(
    images: np.ndarray,
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    cmap: str = "gray",
    size: float = 1.4,
    suptitle: str | None = None,
    overlays: np.ndarray | None = None,
    alpha: float = 0.5,
) -> plt.Figure:
    """Show images (``N x H x W`` or ``N x H x W x 3``) in a grid, optionally with heatmaps.

    ``overlays`` (``N x H x W`` in [0, 1], e.g. Grad-CAM maps) are drawn on top in colour.
    """
    images = np.asarray(images)
    n = len(images)
    if n == 0:
        raise ParameterError("image_grid needs at least one image.")
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * nrows + 0.3), squeeze=False
    )
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(images[i], cmap=cmap if images[i].ndim == 2 else None)
        if overlays is not None:
            ax.imshow(overlays[i], cmap="jet", alpha=alpha, vmin=0, vmax=1)
        if titles is not None:
            ax.set_title(titles[i], fontsize=7, fontweight="normal")
    if suptitle:
        fig.suptitle(suptitle, fontweight="bold")
    return fig


def class_examples(
    images: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    per_class: int = 8,
    seed: int = 0,
) -> plt.Figure:
    """A grid with one row of random examples per class."""
    rng = np.random.default_rng(seed)
    k = len(class_names)
    fig, axes = plt.subplots(k, per_class, figsize=(1.1 * per_class + 1.5, 1.1 * k), squeeze=False)
    for c in range(k):
        idx = np.flatnonzero(np.asarray(labels) == c)
        pick = rng.choice(idx, size=min(per_class, len(idx)), replace=False) if len(idx) else []
        for j, ax in enumerate(axes[c]):
            ax.set_xticks([])
            ax.set_yticks([])
            for side in ax.spines.values():
                side.set_visible(False)
            if j < len(pick):
                ax.imshow(images[pick[j]], cmap="gray")
        axes[c, 0].set_ylabel(class_names[c], rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle("Random products per class", fontweight="bold")
    return fig
