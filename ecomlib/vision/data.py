"""Image data for the vision models: arrays -> tensors, resizing, and a folder-of-photos loader.

Canonical shape (docs/design.md): ``uint8`` array ``N x H x W`` (grey) or ``N x H x W x C`` (RGB),
integer labels, class names. Models take float tensors ``N x C x H x W`` scaled to [0, 1]
(:func:`to_tensor`); each model normalises its own input (see :class:`ImageClassifier`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ecomlib.errors import DataError, ParameterError

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")


def to_tensor(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Turn ``uint8`` images ``N x H x W`` or ``N x H x W x C`` into floats ``N x C x H x W``.

    Values are scaled to [0, 1]. A float tensor already shaped ``N x C x H x W`` is returned
    unchanged.
    """
    if torch.is_tensor(images) and images.is_floating_point():
        if images.dim() != 4:
            raise ParameterError(f"Float images must be N x C x H x W, got {tuple(images.shape)}.")
        return images
    arr = torch.tensor(np.asarray(images))  # a copy: inputs may be read-only
    if arr.dim() == 3:
        arr = arr.unsqueeze(1)
    elif arr.dim() == 4:
        arr = arr.permute(0, 3, 1, 2)
    else:
        raise ParameterError(
            f"Images must be N x H x W or N x H x W x C, got shape {tuple(arr.shape)}."
        )
    return arr.contiguous().float().div_(255.0)


def resize(images: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of float images ``N x C x H x W`` to ``size`` (no-op when equal)."""
    size = (size, size) if isinstance(size, int) else tuple(size)
    if tuple(images.shape[-2:]) == size:
        return images
    return F.interpolate(
        images, size=size, mode="bilinear", align_corners=False, antialias=True
    ).clamp_(0.0, 1.0)


def class_balance(labels: np.ndarray, class_names: Sequence[str]) -> np.ndarray:
    """Counts per class (in the order of ``class_names``)."""
    return np.bincount(np.asarray(labels), minlength=len(class_names))


@dataclass
class ImageFolder:
    """Images read by :func:`load_image_folder`.

    Attributes
    ----------
    images : np.ndarray
        ``uint8`` ``N x H x W`` (grey) or ``N x H x W x 3`` (RGB).
    labels : np.ndarray
        ``int64`` class index per image.
    classes : tuple of str
        Class names (the sub-folder names, sorted).
    paths : list of Path
        Source file of each image.
    skipped : list of (Path, str)
        Files that could not be read, with the reason.
    """

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    paths: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)


def load_image_folder(
    root: str | Path,
    size: int | tuple[int, int] = 28,
    mode: str = "L",
    invert: bool = False,
    extensions: Sequence[str] = IMAGE_EXTENSIONS,
) -> ImageFolder:
    """Read a user's product photos laid out as ``<root>/<class>/*.jpg|png``.

    Every image is converted to grey (``mode="L"``) or RGB (``"RGB"``) and resized to
    ``size``. Unreadable files are skipped, counted and listed in ``skipped`` (not a crash).

    Parameters
    ----------
    root : path
        Folder with one sub-folder per class.
    size : int or (height, width)
        Output size in pixels.
    mode : {"L", "RGB"}
        Grey or colour.
    invert : bool
        ``255 - pixel``: Fashion-MNIST shows bright products on black, while shop photos are
        usually dark products on white.
    extensions : sequence of str
        File endings (case-insensitive) that count as images.

    Raises
    ------
    DataError
        ``root`` is missing, has no class folders, or none of its images could be read.
    """
    from PIL import Image, UnidentifiedImageError

    if mode not in ("L", "RGB"):
        raise ParameterError(f"mode must be 'L' (grey) or 'RGB', got {mode!r}.")
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"Image folder {root} does not exist (expected <root>/<class>/*.jpg|png).")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise DataError(f"{root} has no class sub-folders (expected <root>/<class>/*.jpg|png).")
    exts = {e.lower() for e in extensions}
    images, labels, paths, skipped = [], [], [], []
    for label, folder in enumerate(class_dirs):
        for path in sorted(folder.iterdir()):
            if not path.is_file() or path.suffix.lower() not in exts:
                continue
            try:
                with Image.open(path) as img:
                    img = img.convert(mode).resize((w, h), Image.Resampling.BILINEAR)
                    arr = np.asarray(img, dtype=np.uint8)
            except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
                skipped.append((path, f"{type(exc).__name__}: {exc}"))
                continue
            images.append(255 - arr if invert else arr)
            labels.append(label)
            paths.append(path)
    if skipped:
        log.info(  # the caller gets them in ImageFolder.skipped
            "%d unreadable image file(s) skipped (first: %s/%s); see ImageFolder.skipped",
            len(skipped),
            skipped[0][0].parent.name,
            skipped[0][0].name,
        )
    if not images:
        raise DataError(
            f"No readable images ({', '.join(sorted(exts))}) under {root}; "
            f"{len(skipped)} file(s) were unreadable."
        )
    return ImageFolder(
        images=np.stack(images),
        labels=np.asarray(labels, dtype=np.int64),
        classes=tuple(p.name for p in class_dirs),
        paths=paths,
        skipped=skipped,
    )


def subsample(
    x: np.ndarray, y: np.ndarray, n: int | None, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A class-stratified random subset of ``n`` images (all of them when ``n`` is falsy)."""
    if not n or n >= len(y):
        return x, y
    if n < 1:
        raise ParameterError(f"Subset size must be positive, got {n}.")
    from sklearn.model_selection import train_test_split

    idx, _ = train_test_split(np.arange(len(y)), train_size=n, stratify=y, random_state=seed)
    idx = np.sort(idx)
    return x[idx], y[idx]
