"""Batch augmentation in plain torch (no torchvision): flips, random shifts, random erasing.

An :class:`Augment` is a callable ``augment(batch, generator) -> batch`` — the hook of
:func:`ecomlib.train.fit`. It works on whole batches on whatever device they live on, draws
every random number from the ``generator`` it is given (on the CPU), and so gives the same
result for the same seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ecomlib.errors import ParameterError


def _rand(n: int, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    return torch.rand(n, generator=generator).to(device)


def random_flip(x: torch.Tensor, generator: torch.Generator | None, p: float = 0.5) -> torch.Tensor:
    """Mirror each image left-right with probability ``p``."""
    flip = _rand(len(x), generator, x.device) < p
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def random_shift(x: torch.Tensor, generator: torch.Generator | None, pad: int = 2) -> torch.Tensor:
    """Random crop after zero padding: shifts each image by up to ``pad`` pixels each way."""
    if pad <= 0:
        return x
    n, c, h, w = x.shape
    xp = F.pad(x, (pad, pad, pad, pad))
    oy = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(x.device)
    ox = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(x.device)
    rows = oy[:, None] + torch.arange(h, device=x.device)  # N x H
    cols = ox[:, None] + torch.arange(w, device=x.device)  # N x W
    batch = torch.arange(n, device=x.device)[:, None, None]
    out = xp.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]  # N x H x W x C
    return out.permute(0, 3, 1, 2).contiguous()


def random_erasing(
    x: torch.Tensor,
    generator: torch.Generator | None,
    p: float = 0.5,
    scale: tuple[float, float] = (0.02, 0.2),
    ratio: tuple[float, float] = (0.3, 3.3),
) -> torch.Tensor:
    """Random erasing (Zhong et al., 2017): a random rectangle per image filled with noise.

    With probability ``p`` per image; the rectangle covers a ``scale`` share of the image with
    an aspect ratio drawn log-uniformly from ``ratio``.
    """
    n, c, h, w = x.shape
    area = (scale[0] + (scale[1] - scale[0]) * torch.rand(n, generator=generator)) * h * w
    log_r = math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * torch.rand(
        n, generator=generator
    )
    aspect = torch.exp(log_r)
    eh = torch.sqrt(area * aspect).round().clamp(1, h).long()
    ew = torch.sqrt(area / aspect).round().clamp(1, w).long()
    top = (torch.rand(n, generator=generator) * (h - eh + 1)).floor().long()
    left = (torch.rand(n, generator=generator) * (w - ew + 1)).floor().long()
    on = torch.rand(n, generator=generator) < p
    noise = torch.rand(x.shape, generator=generator)
    dev = x.device
    ys = torch.arange(h, device=dev)[None, :, None]
    xs = torch.arange(w, device=dev)[None, None, :]
    top, left, eh, ew, on = (t.to(dev) for t in (top, left, eh, ew, on))
    mask = (
        (ys >= top[:, None, None])
        & (ys < (top + eh)[:, None, None])
        & (xs >= left[:, None, None])
        & (xs < (left + ew)[:, None, None])
        & on[:, None, None]
    )
    return torch.where(mask[:, None], noise.to(dev, x.dtype), x)


@dataclass
class Augment:
    """Training-time augmentation for image batches ``(x, y)``, usable as ``fit(augment=...)``.

    Parameters
    ----------
    flip : bool
        Random left-right mirror (p = 0.5).
    shift : int
        Maximum random shift in pixels (zero padding + random crop); 0 turns it off.
    erase : float
        Probability of random erasing per image; 0 turns it off.
    erase_scale : (float, float)
        Share of the image an erased rectangle covers.
    """

    flip: bool = True
    shift: int = 2
    erase: float = 0.0
    erase_scale: tuple[float, float] = (0.02, 0.2)

    def __post_init__(self) -> None:
        if self.shift < 0:
            raise ParameterError(f"shift must be >= 0 pixels, got {self.shift}.")
        if not 0.0 <= self.erase <= 1.0:
            raise ParameterError(f"erase is a probability in [0, 1], got {self.erase}.")

    def apply(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Augment a float image batch ``N x C x H x W``."""
        if x.dim() != 4:
            raise ParameterError(f"Augment expects N x C x H x W images, got {tuple(x.shape)}.")
        channels_last = x.is_contiguous(memory_format=torch.channels_last) and x.shape[1] > 1
        if self.flip:
            x = random_flip(x, generator)
        if self.shift:
            x = random_shift(x, generator, self.shift)
        if self.erase:
            x = random_erasing(x, generator, p=self.erase, scale=self.erase_scale)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def __call__(
        self, batch: tuple[torch.Tensor, ...], generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, ...]:
        return (self.apply(batch[0], generator), *batch[1:])
