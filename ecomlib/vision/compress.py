"""Model compression (the seed's "model compression" challenge): int8 quantization on CPU.

* :func:`quantize_dynamic` — weights of the dense layers stored as int8, activations
  quantized on the fly (``torch.ao.quantization.quantize_dynamic``); convolutions stay float.
* :func:`quantize_static` — post-training static quantization of the whole network (FX graph
  mode): convolutions and dense layers in int8, activation ranges calibrated on a few hundred
  training images.

:func:`compression_table` compares file size, CPU latency per image and accuracy.
"""

from __future__ import annotations

import copy
import io
import logging
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import numpy as np
import pandas as pd
import torch
from torch import nn

from ecomlib.vision.data import resize, to_tensor

log = logging.getLogger(__name__)


@contextmanager
def _quiet() -> Iterator[None]:
    """torch.ao.quantization warns that it will move to torchao; the API still works."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=FutureWarning)
        yield


def _cpu_copy(model: nn.Module) -> nn.Module:
    return copy.deepcopy(model).to("cpu", memory_format=torch.contiguous_format).eval()


def quantize_dynamic(model: nn.Module) -> nn.Module:
    """Dynamic int8 quantization of the ``nn.Linear`` layers (a CPU copy; ``model`` is kept)."""
    from torch.ao.quantization import quantize_dynamic as _qd

    with _quiet():
        return _qd(_cpu_copy(model), {nn.Linear}, dtype=torch.qint8)


def quantize_static(
    model: nn.Module,
    calibration: np.ndarray | torch.Tensor,
    backend: str = "x86",
    batch_size: int = 256,
) -> nn.Module:
    """Post-training static int8 quantization (FX graph mode), calibrated on ``calibration``.

    Parameters
    ----------
    model : nn.Module
        A float model (left untouched; a quantized CPU copy is returned).
    calibration : images
        A few hundred training images (uint8 or float ``N x C x H x W``); never test images.
    backend : {"x86", "fbgemm", "qnnpack"}
        Quantized kernel library (``x86`` for Intel/AMD servers, ``qnnpack`` for ARM).
    """
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    float_model = _cpu_copy(model)
    x = to_tensor(calibration)
    size = getattr(model, "config", {}).get("image_size", x.shape[-1])
    x = resize(x, size)
    torch.backends.quantized.engine = backend
    with _quiet():
        prepared = prepare_fx(
            float_model, get_default_qconfig_mapping(backend), example_inputs=(x[:1],)
        )
        with torch.inference_mode():
            for start in range(0, len(x), batch_size):
                prepared(x[start : start + batch_size])
        quantized = convert_fx(prepared)
    quantized.config = getattr(model, "config", {})  # keep image size / classes for callers
    return quantized


def size_bytes(model: nn.Module) -> int:
    """Size of the model's saved ``state_dict`` in bytes (what a deployment ships)."""
    buf = io.BytesIO()
    with _quiet():
        torch.save(model.state_dict(), buf)
    return buf.getbuffer().nbytes


def cpu_latency_ms(
    model: nn.Module,
    images: torch.Tensor,
    batch_size: int = 1,
    repeats: int = 50,
    warmup: int = 5,
    threads: int | None = 1,
) -> float:
    """Median CPU milliseconds per image, feeding ``batch_size`` images at a time.

    ``threads=1`` (default) measures on one CPU thread: the figure a single-core serving
    worker sees, and one that stays meaningful on a busy machine (``None``: torch's setting).
    """
    model = model.eval()
    x = images[:batch_size].cpu()
    times = []
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            for i in range(warmup + repeats):
                t0 = time.perf_counter()
                model(x)
                if i >= warmup:
                    times.append(time.perf_counter() - t0)
    finally:
        torch.set_num_threads(before)
    return float(np.median(times)) * 1000.0 / len(x)


def cpu_accuracy(
    model: nn.Module, images: torch.Tensor, labels: np.ndarray, batch_size: int = 1000
) -> float:
    """Accuracy of a CPU model on float images ``N x C x H x W``."""
    preds = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            preds.append(model(images[start : start + batch_size]).argmax(1))
    return float((torch.cat(preds).numpy() == np.asarray(labels)).mean())


def compression_table(
    models: Mapping[str, nn.Module],
    images: np.ndarray | torch.Tensor,
    labels: np.ndarray,
    image_size: int | None = None,
    latency_repeats: int = 50,
) -> pd.DataFrame:
    """File size, CPU latency per image (batch 1 and batch 256) and accuracy of each model.

    All models run on the CPU (int8 kernels are CPU-only); ``images``/``labels`` should be the
    test set.
    """
    x = to_tensor(images)
    if image_size:
        x = resize(x, image_size)
    rows = []
    for name, model in models.items():
        model = model if _is_cpu(model) else _cpu_copy(model)
        rows.append(
            {
                "model": name,
                "size_kb": size_bytes(model) / 1024,
                "latency_ms_batch1": cpu_latency_ms(model, x, 1, repeats=latency_repeats),
                "latency_ms_batch256": cpu_latency_ms(
                    model, x, 256, repeats=max(3, latency_repeats // 10)
                ),
                "accuracy": cpu_accuracy(model, x, labels),
            }
        )
    table = pd.DataFrame(rows).set_index("model")
    base = table.iloc[0]
    table["size_ratio"] = table["size_kb"] / base["size_kb"]
    table["speedup_batch1"] = base["latency_ms_batch1"] / table["latency_ms_batch1"]
    table["accuracy_change"] = table["accuracy"] - base["accuracy"]
    return table


def _is_cpu(model: nn.Module) -> bool:
    tensors = list(model.parameters()) + list(model.buffers())
    return all(t.device.type == "cpu" for t in tensors)
