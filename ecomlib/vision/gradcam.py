"""Grad-CAM (Selvaraju et al., 2017): which pixels pushed the model towards a class.

The gradients of the class score with respect to a convolutional layer's activations weight
those activations; the weighted channels are summed, passed through a ReLU (positive evidence
only) and upsampled to the image size. Two weightings:

* ``"element"`` (default): each activation times its own gradient. Behind a linear head over
  the whole feature map (the project's CNNs keep the 7 x 7 map, so the classifier knows *where*
  a part is) this is exactly each position's share of the class score; behind a global-average
  head it equals classic Grad-CAM up to a constant.
* ``"channel"``: classic Grad-CAM, gradients averaged per channel first. Behind a positional
  head the averages mix positions with opposite signs, and about half of the maps of a trained
  Fashion-MNIST model came out empty (all <= 0 before the ReLU).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ecomlib.errors import ParameterError
from ecomlib.vision.data import resize, to_tensor


def grad_cam(
    model: nn.Module,
    images: np.ndarray | torch.Tensor,
    target: np.ndarray | torch.Tensor | None = None,
    layer: nn.Module | None = None,
    weighting: str = "element",
) -> np.ndarray:
    """Grad-CAM heatmaps ``N x H x W`` in [0, 1] (each map scaled to its own maximum).

    Parameters
    ----------
    model : nn.Module
        A classifier; ``layer`` defaults to its ``cam_layer`` attribute.
    images : uint8 array or float tensor
        The images to explain (converted with :func:`to_tensor`).
    target : int array, optional
        Class to explain per image; default the predicted class.
    layer : nn.Module, optional
        Convolutional layer (or block) whose output is explained.
    weighting : {"element", "channel"}
        Gradient x activation per position, or classic per-channel averaged gradients (see the
        module docstring).
    """
    if weighting not in ("element", "channel"):
        raise ParameterError(f"weighting must be 'element' or 'channel', got {weighting!r}.")
    layer = layer if layer is not None else model.cam_layer
    dev = next(model.parameters()).device
    x = to_tensor(images)
    size = getattr(model, "config", {}).get("image_size", x.shape[-1])
    x = resize(x, size).to(dev)
    store: dict[str, torch.Tensor] = {}

    def _hook(_module, _inputs, output):
        output.retain_grad()
        store["act"] = output

    handle = layer.register_forward_hook(_hook)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            logits = model(x.requires_grad_(True))
            if target is None:
                tgt = logits.argmax(1)
            else:
                tgt = torch.as_tensor(np.asarray(target), device=dev, dtype=torch.long)
            model.zero_grad(set_to_none=True)
            logits.gather(1, tgt[:, None]).sum().backward()
        act, grad = store["act"], store["act"].grad
        weights = grad if weighting == "element" else grad.mean(dim=(2, 3), keepdim=True)
        cam = F.relu((weights * act).sum(1, keepdim=True))
        cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)
        cam = cam[:, 0]
        cam = cam / cam.flatten(1).amax(1).clamp_min(1e-8)[:, None, None]
    finally:
        handle.remove()
        model.train(was_training)
        model.zero_grad(set_to_none=True)
    return cam.detach().cpu().numpy()
