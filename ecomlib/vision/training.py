"""Training, prediction, saving and loading of :class:`ImageClassifier` models.

Training goes through :func:`ecomlib.train.fit` (the project's one loop): cross-entropy,
validation accuracy for early stopping and checkpointing, bf16 + channels_last on CUDA, and
the batch augmentation of :mod:`ecomlib.vision.augment` as its ``augment`` hook.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ecomlib.config import resolve_device
from ecomlib.errors import DataError, ParameterError
from ecomlib.train import FitResult, fit
from ecomlib.train import predict as _predict
from ecomlib.vision.augment import Augment
from ecomlib.vision.data import resize, to_tensor
from ecomlib.vision.models import ImageClassifier

log = logging.getLogger(__name__)

# tqdm.auto warns (on stderr, with a file path) when ipywidgets is missing, although its text
# bars work; import it once quietly so notebook outputs stay free of that noise.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import tqdm.auto  # noqa: F401


def accuracy(logits: torch.Tensor, target: torch.Tensor) -> float:
    """Share of rows whose arg-max equals the target."""
    return float((logits.argmax(1) == target).float().mean())


def train_classifier(
    model: ImageClassifier,
    images: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    *,
    epochs: int = 5,
    batch_size: int = 256,
    lr: float = 3e-3,
    weight_decay: float = 5e-4,
    augment: Augment | None = None,
    label_smoothing: float = 0.0,
    val_fraction: float = 0.1,
    patience: int | None = None,
    max_seconds: float | None = None,
    device: str = "auto",
    seed: int = 42,
    desc: str = "train",
) -> FitResult:
    """Train an image classifier with :func:`ecomlib.train.fit`.

    Parameters
    ----------
    model : ImageClassifier
    images : uint8 array N x H x W (x C) or float tensor N x C x H x W
        Training images (a validation share is carved out of them; the test set is not used).
    labels : int array
        Class index per image.
    epochs, batch_size, lr, weight_decay : training knobs (one-cycle schedule, AdamW).
    augment : Augment, optional
        Batch augmentation for training batches.
    label_smoothing : float
        Cross-entropy label smoothing.
    val_fraction : float
        Share of the training images held out for validation accuracy.
    patience : int, optional
        Early stopping patience in epochs (None: train all epochs, keep the best).
    max_seconds : float, optional
        Time budget: when the planned epochs would not fit, :func:`ecomlib.train.fit` shortens
        the run and re-plans the learning-rate schedule so it still completes.
    device, seed, desc : see :func:`ecomlib.train.fit`.

    Returns
    -------
    FitResult
        ``history`` has ``val_metric`` = validation accuracy per epoch.
    """
    x = resize(to_tensor(images), model.config["image_size"])
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    if len(x) != len(y):
        raise DataError(f"{len(x)} images but {len(y)} labels.")
    if x.shape[1] != model.config["in_channels"]:
        raise ParameterError(
            f"The model expects {model.config['in_channels']} channel(s), images have {x.shape[1]}."
        )
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= len(model.classes)):
        raise DataError(f"Labels must lie in 0..{len(model.classes) - 1}.")
    return fit(
        model,
        (x, y),
        loss_fn=nn.CrossEntropyLoss(label_smoothing=label_smoothing),
        augment=augment,
        val_metric=accuracy,
        metric_mode="max",
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        optimizer="adamw",
        scheduler="onecycle",
        val_fraction=val_fraction,
        patience=patience,
        max_seconds=max_seconds,
        device=device,
        amp=True,
        channels_last=True,
        seed=seed,
        desc=desc,
    )


def predict_proba(
    model: ImageClassifier,
    images: np.ndarray | torch.Tensor,
    batch_size: int = 1024,
    device: str = "auto",
) -> np.ndarray:
    """Class probabilities ``N x K`` for images (uint8 N x H x W (x C) or float N x C x H x W).

    Images of another size are resized to the model's ``image_size``.
    """
    x = resize(to_tensor(images), model.config["image_size"])
    if x.shape[1] != model.config["in_channels"]:
        raise ParameterError(
            f"The model expects {model.config['in_channels']} channel(s), images have {x.shape[1]}."
        )
    dev = resolve_device(device)
    logits = _predict(model, (x,), batch_size=batch_size, device=dev)
    return torch.softmax(logits.float(), dim=1).numpy()


def save_model(model: ImageClassifier, path: str | Path) -> Path:
    """Save the weights and the config needed to rebuild ``model`` (no pickled code)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"format": "ecomlib.vision/1", "config": model.config, "state_dict": state}, path)
    return path


def load_model(path: str | Path, device: str = "cpu") -> ImageClassifier:
    """Load a model saved by :func:`save_model` with ``torch.load(weights_only=True)``."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"Model file {path} does not exist.")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        raise DataError(f"{path} is not a model saved by ecomlib.vision: {exc}") from None
    if not isinstance(payload, dict) or payload.get("format") != "ecomlib.vision/1":
        raise DataError(f"{path} is not a model saved by ecomlib.vision.save_model.")
    model = ImageClassifier(**payload["config"])
    model.load_state_dict(payload["state_dict"])
    return model.to(resolve_device(device)).eval()
