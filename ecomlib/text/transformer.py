"""A pretrained transformer as a scikit-learn style text classifier.

:class:`TransformerClassifier` wraps a local Hugging Face encoder (default: the packaged
all-MiniLM-L6-v2) with a mean-pooling linear head:

* ``fit(texts, labels)`` fine-tunes through the shared loop :func:`ecomlib.train.fit`, fed by
  length-bucketed batches (:class:`TokenBatches`);
* ``predict_proba(texts)`` / ``predict(texts)`` / ``embed(texts)`` run in inference mode with
  length-bucketed dynamic padding, outputs in input order;
* ``save(path)`` / :meth:`TransformerClassifier.load` keep weights, head and tokenizer together
  so another process can predict;
* ``quantize()`` swaps the Linear layers for int8 dynamic-quantized ones (CPU inference).

Fine-tuning a 22M-parameter encoder on two CPU cores is slow, so ``train_layers`` lets the
bottom of the network stay frozen: with ``train_layers=k`` the embeddings and the lower
``n_layers - k`` blocks run **once** over the training texts and their output is cached
(:class:`HiddenBatches`); each epoch then only runs (and back-propagates through) the top
``k`` blocks. ``train_layers=None`` fine-tunes every block (use it on a GPU).
"""

from __future__ import annotations

import copy
import json
import logging
import math
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ecomlib.config import progress, resolve_device
from ecomlib.errors import NotFittedError, ParameterError
from ecomlib.text.embeddings import (
    _quiet_from_pretrained,
    _resolve_model_dir,
    bucket_batches,
    mean_pool,
)

log = logging.getLogger(__name__)

__all__ = [
    "HiddenBatches",
    "TextClassifierNet",
    "TokenBatches",
    "TransformerClassifier",
    "tokenize",
]


# ---------------------------------------------------------------- tokenisation
def tokenize(
    tokenizer,
    texts: Sequence[str],
    max_length: int = 128,
    truncation: str = "head_tail",
    head_share: float = 0.5,
) -> list[list[int]]:
    """Token ids with special tokens, at most ``max_length`` long, unpadded.

    ``truncation="head"`` keeps the start of long texts; ``"head_tail"`` keeps the first
    ``head_share`` of the ``max_length`` tokens and fills the rest from the end (reviews often
    state their verdict at the end; Sun et al. 2019 keep about a quarter head, three quarters
    tail).
    """
    if truncation not in ("head", "head_tail"):
        raise ParameterError(f"truncation must be 'head' or 'head_tail', got {truncation!r}")
    if max_length < 8:
        raise ParameterError(f"max_length must be >= 8 tokens, got {max_length}")
    if not 0 < head_share < 1:
        raise ParameterError(f"head_share must be in (0, 1), got {head_share}")
    texts = [str(t) for t in texts]
    if not texts:
        return []
    limit = max_length if truncation == "head" else 100_000
    ids = tokenizer(
        texts,
        truncation=True,
        max_length=limit,
        padding=False,
        return_attention_mask=False,
        return_token_type_ids=False,
    )["input_ids"]
    if truncation == "head_tail":
        head, tail = head_tail_lengths(max_length, head_share)
        ids = [x if len(x) <= max_length else x[:head] + x[-tail:] for x in ids]
    return ids


def head_tail_lengths(max_length: int, head_share: float) -> tuple[int, int]:
    """Tokens kept from the start and from the end of a text longer than ``max_length``."""
    head = min(max_length - 2, max(2, int(round(max_length * head_share))))
    return head, max_length - head


def _pad(seqs: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, s in enumerate(seqs):
        ids[row, : len(s)] = torch.as_tensor(s, dtype=torch.long)
        mask[row, : len(s)] = 1
    return ids, mask


def _shuffled_buckets(
    lengths: np.ndarray, batch_size: int, generator: torch.Generator, pool: int = 50
) -> list[np.ndarray]:
    """Random batches of similar length: shuffle, sort within pools of ``pool`` batches,
    cut into batches, shuffle the batch order."""
    n = len(lengths)
    perm = torch.randperm(n, generator=generator).numpy()
    batches = []
    step = batch_size * pool
    for start in range(0, n, step):
        chunk = perm[start : start + step]
        chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    order = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in order]


class TokenBatches:
    """Length-bucketed batches ``(input_ids, attention_mask, label)`` of tokenised texts.

    A :class:`ecomlib.train.BatchSource`: without shuffling, batches go longest first (use
    :attr:`order` to map outputs back to input order); with shuffling, texts of similar
    length are still batched together so padding stays small.
    """

    def __init__(
        self, ids: Sequence[Sequence[int]], labels: Sequence[int] | None = None, pad_id: int = 0
    ):
        self.ids = [list(x) for x in ids]
        self.lengths = np.array([len(x) for x in self.ids], dtype=np.int64)
        self.labels = (
            None if labels is None else torch.as_tensor(np.asarray(labels), dtype=torch.long)
        )
        self.pad_id = pad_id

    def __len__(self) -> int:
        return len(self.ids)

    def order(self, batch_size: int) -> np.ndarray:
        """Input positions in the order :meth:`batches` yields them (``shuffle=False``)."""
        return (
            np.concatenate(bucket_batches(self.lengths, batch_size))
            if len(self)
            else np.zeros(0, dtype=np.int64)
        )

    def _index(self, batch_size: int, shuffle: bool, generator) -> list[np.ndarray]:
        if shuffle:
            return _shuffled_buckets(
                self.lengths, batch_size, generator or torch.Generator().manual_seed(0)
            )
        return bucket_batches(self.lengths, batch_size)

    def batches(
        self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> Iterator[tuple[torch.Tensor, ...]]:
        for idx in self._index(batch_size, shuffle, generator):
            ids, mask = _pad([self.ids[i] for i in idx], self.pad_id)
            if self.labels is None:
                yield ids, mask
            else:
                yield ids, mask, self.labels[torch.as_tensor(idx)]


class HiddenBatches(TokenBatches):
    """Like :class:`TokenBatches` but over cached hidden states ``(len_i, hidden)`` per text:
    batches are ``(hidden, attention_mask, label)``."""

    def __init__(self, hidden: Sequence[torch.Tensor], labels: Sequence[int] | None = None):
        self.hidden = list(hidden)
        self.ids = self.hidden
        self.lengths = np.array([len(h) for h in self.hidden], dtype=np.int64)
        self.labels = (
            None if labels is None else torch.as_tensor(np.asarray(labels), dtype=torch.long)
        )

    def batches(
        self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> Iterator[tuple[torch.Tensor, ...]]:
        for idx in self._index(batch_size, shuffle, generator):
            seqs = [self.hidden[i] for i in idx]
            h = nn.utils.rnn.pad_sequence(seqs, batch_first=True).float()
            mask = torch.zeros(h.shape[:2], dtype=torch.long)
            for row, s in enumerate(seqs):
                mask[row, : len(s)] = 1
            if self.labels is None:
                yield h, mask
            else:
                yield h, mask, self.labels[torch.as_tensor(idx)]


# ---------------------------------------------------------------- network
class TextClassifierNet(nn.Module):
    """Encoder + mean pooling + dropout + linear head.

    ``forward(input_ids, attention_mask)`` gives logits; ``forward_from(hidden, mask, start)``
    continues from the output of block ``start - 1`` (used with cached frozen layers).
    """

    def __init__(self, backbone: nn.Module, n_classes: int = 2, dropout: float = 0.1):
        super().__init__()
        self.backbone = backbone
        hidden = int(backbone.config.hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, n_classes)

    @property
    def n_layers(self) -> int:
        return len(self.backbone.encoder.layer)

    def _mask(self, hidden: torch.Tensor, mask: torch.Tensor):
        from transformers.masking_utils import create_bidirectional_mask

        return create_bidirectional_mask(
            config=self.backbone.config, inputs_embeds=hidden, attention_mask=mask
        )

    def run_layers(
        self, hidden: torch.Tensor, mask: torch.Tensor, start: int = 0, stop: int | None = None
    ) -> torch.Tensor:
        """Run encoder blocks ``start..stop-1`` on ``hidden``."""
        ext = self._mask(hidden, mask)
        for layer in self.backbone.encoder.layer[start:stop]:
            out = layer(hidden, attention_mask=ext)
            hidden = out[0] if isinstance(out, tuple) else out
        return hidden

    def token_states(
        self, input_ids: torch.Tensor, mask: torch.Tensor, inputs_embeds: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Last-layer token vectors (``inputs_embeds`` replaces the word embeddings)."""
        if inputs_embeds is not None:
            hidden = self.backbone.embeddings(inputs_embeds=inputs_embeds)
        else:
            hidden = self.backbone.embeddings(input_ids=input_ids)
        return self.run_layers(hidden, mask)

    def pooled(self, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return mean_pool(self.token_states(input_ids, mask), mask)

    def logits_from_states(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(mean_pool(states, mask)))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.logits_from_states(self.token_states(input_ids, attention_mask), attention_mask)

    def forward_from(self, hidden: torch.Tensor, mask: torch.Tensor, start: int) -> torch.Tensor:
        return self.logits_from_states(self.run_layers(hidden, mask, start), mask)


class _FromLayer(nn.Module):
    """Adapter so :func:`ecomlib.train.fit` trains only the top blocks on cached inputs."""

    def __init__(self, net: TextClassifierNet, start: int):
        super().__init__()
        self.net = net
        self.start = start

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.net.forward_from(hidden, mask, self.start)


def cpu_bf16_is_fast() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (Intel AMX tiles).

    Only there does CPU autocast to bfloat16 speed a transformer up. Without AMX (AVX-512 or
    AVX2 only) the bf16 matmuls are emulated and slower than float32: all-MiniLM-L6-v2 on a
    2-core AVX-512 VM without AMX ran 60.6 vs 40.7 sequences/s (128 tokens) and 12.6 vs 8.1
    (512 tokens) in float32 vs bf16.
    """
    check = getattr(torch.cpu, "_is_amx_tile_supported", None)
    try:
        return bool(check is not None and check())
    except Exception:  # a torch build without the probe: assume no AMX
        return False


def _cpu_autocast(device: str, enabled: bool):
    if enabled and not device.startswith("cuda"):
        return torch.autocast("cpu", dtype=torch.bfloat16)
    if device.startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def _roc_auc(logits: torch.Tensor, target: torch.Tensor) -> float:
    from sklearn.metrics import roc_auc_score

    y = target.numpy()
    if len(np.unique(y)) < 2:
        return float("nan")
    p = torch.softmax(logits.float(), dim=-1).numpy()
    return (
        float(roc_auc_score(y, p[:, 1]))
        if p.shape[1] == 2
        else float(roc_auc_score(y, p, multi_class="ovr"))
    )


# ---------------------------------------------------------------- the estimator
class TransformerClassifier:
    """Fine-tunable pretrained encoder with a scikit-learn style API.

    Parameters
    ----------
    model_dir : path, optional
        Local Hugging Face model directory (default: packaged all-MiniLM-L6-v2).
    max_length : int
        Tokens per text after truncation (special tokens included) for training.
    predict_max_length : int, optional
        Tokens per text for prediction, embedding and explanations (default ``max_length``).
        Training on shorter cuts and predicting on longer ones (up to the encoder's 512
        positions) reads whole reviews at a small cost with length-bucketed batches.
    truncation : {"head_tail", "head"}
        How long texts are cut (see :func:`tokenize`).
    head_share : float
        With ``"head_tail"``: share of ``max_length`` taken from the start of long texts.
    train_layers : int or None
        Fine-tune only the top ``train_layers`` encoder blocks (lower ones frozen and cached);
        ``None`` fine-tunes all blocks (the word-embedding matrix stays frozen).
    epochs, batch_size, lr, weight_decay : training knobs (one-cycle schedule, a quarter of
        the steps rising to ``lr``).
    head_lr_scale : float
        Learning rate of the (freshly initialised) classification head, as a multiple of ``lr``.
    layer_decay : float
        Layer-wise learning-rate decay: block ``i`` counted from the top trains at
        ``lr * layer_decay**i`` (the embeddings below the lowest block one step further);
        1.0 gives every block the same rate.
    val_fraction : float
        Stratified share of the training texts held out for early stopping / checkpointing.
    patience : int or None
        Early-stopping patience in epochs.
    max_seconds : float, optional
        Time budget for training (caching included): when the planned epochs would not fit,
        :func:`ecomlib.train.fit` shortens the run and re-plans the learning-rate schedule.
    bf16 : bool or None
        bfloat16 autocast for CPU inference and caching (CUDA always uses bf16 autocast).
        None (default): only on CPUs that multiply bf16 in hardware (:func:`cpu_bf16_is_fast`),
        float32 elsewhere, where bf16 would be slower; True / False force it.
    select_on : {"loss", "auc"}
        Validation criterion for early stopping and the restored checkpoint.
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    seed : int
    """

    def __init__(
        self,
        model_dir: str | Path | None = None,
        max_length: int = 128,
        truncation: str = "head_tail",
        head_share: float = 0.5,
        train_layers: int | None = 2,
        predict_max_length: int | None = None,
        epochs: int = 3,
        batch_size: int = 32,
        lr: float = 1e-4,
        weight_decay: float = 0.01,
        head_lr_scale: float = 1.0,
        layer_decay: float = 1.0,
        dropout: float = 0.1,
        val_fraction: float = 0.1,
        patience: int | None = 2,
        max_seconds: float | None = None,
        bf16: bool | None = None,
        select_on: str = "loss",
        device: str = "auto",
        seed: int = 42,
    ):
        self.model_dir = model_dir
        self.max_length = max_length
        self.predict_max_length = predict_max_length
        self.truncation = truncation
        self.head_share = head_share
        self.train_layers = train_layers
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.head_lr_scale = head_lr_scale
        self.layer_decay = layer_decay
        self.dropout = dropout
        self.val_fraction = val_fraction
        self.patience = patience
        self.max_seconds = max_seconds
        self.bf16 = bf16
        self.select_on = select_on
        self.device = device
        self.seed = seed
        self.quantized_ = False

    # ------------------------------------------------------------ loading
    def _load(self, n_classes: int) -> None:
        from transformers import AutoModel, AutoTokenizer

        path = _resolve_model_dir(self.model_dir)
        self.tokenizer_ = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        backbone = _quiet_from_pretrained(AutoModel, path)
        with torch.random.fork_rng(devices=[]):  # the head's initial weights follow `seed`
            torch.manual_seed(self.seed)
            self.net_ = TextClassifierNet(backbone, n_classes=n_classes, dropout=self.dropout)
        self.device_ = resolve_device(self.device)

    def _check_fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise NotFittedError("This TransformerClassifier is not fitted: call fit() or load().")

    @property
    def inference_length(self) -> int:
        """Token limit at prediction: ``predict_max_length`` (or ``max_length``), capped at the
        encoder's position limit."""
        n = int(self.predict_max_length or self.max_length)
        if hasattr(self, "net_"):
            limit = getattr(self.net_.backbone.config, "max_position_embeddings", n)
            n = min(n, int(limit))
        return n

    def _encode(self, texts: Sequence[str], training: bool = False) -> list[list[int]]:
        if isinstance(texts, str):
            raise TypeError("Pass a sequence of texts, not a single string.")
        n = self.max_length if training else self.inference_length
        return tokenize(self.tokenizer_, texts, n, self.truncation, self.head_share)

    @property
    def pad_id(self) -> int:
        return int(self.tokenizer_.pad_token_id or 0)

    # ------------------------------------------------------------ training
    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[int],
        val_texts: Sequence[str] | None = None,
        val_labels: Sequence[int] | None = None,
    ) -> TransformerClassifier:
        """Fine-tune on ``texts`` / integer ``labels`` (0..n_classes-1).

        Without ``val_texts`` a stratified ``val_fraction`` of the training texts is held out
        for early stopping and best-checkpoint selection (``select_on``); their positions are
        kept in ``val_index_`` (empty when ``val_texts`` is given) so a caller can score the
        fitted model on reviews it did not train on, e.g. to choose an ensemble weight.
        """
        from ecomlib.train import fit as train_fit

        if not (self.head_lr_scale > 0 and 0 < self.layer_decay <= 1):
            raise ParameterError(
                f"head_lr_scale must be > 0 and layer_decay in (0, 1], got "
                f"{self.head_lr_scale} and {self.layer_decay}"
            )
        if self.predict_max_length is not None and self.predict_max_length < 8:
            raise ParameterError(
                f"predict_max_length must be >= 8 tokens or None, got {self.predict_max_length}"
            )
        if self.select_on not in ("loss", "auc"):
            raise ParameterError(f"select_on must be 'loss' or 'auc', got {self.select_on!r}")
        y = np.asarray(labels)
        if len(y) != len(texts):
            raise ParameterError(f"{len(texts)} texts but {len(y)} labels.")
        classes = np.unique(y)
        if len(classes) < 2:
            raise ParameterError("fit needs at least two classes in the labels.")
        if not np.array_equal(classes, np.arange(len(classes))):
            raise ParameterError(f"labels must be integers 0..k-1, got classes {classes.tolist()}")
        self.classes_ = classes
        self._load(len(classes))
        texts = list(texts)
        self.val_index_ = np.zeros(0, dtype=np.int64)
        if val_texts is None:
            tr_idx, va_idx = _stratified_split(y, self.val_fraction, self.seed)
            self.val_index_ = va_idx
            val_texts = [texts[i] for i in va_idx]
            val_labels = y[va_idx]
            texts = [texts[i] for i in tr_idx]
            y = y[tr_idx]
        val_y = np.asarray(val_labels)

        net = self.net_
        n = net.n_layers
        k = n if self.train_layers is None else int(self.train_layers)
        if not 1 <= k <= n:
            raise ParameterError(f"train_layers must be in 1..{n} or None, got {k}")
        for p in net.backbone.parameters():
            p.requires_grad_(False)
        for layer in net.backbone.encoder.layer[n - k :]:
            for p in layer.parameters():
                p.requires_grad_(True)
        start = n - k
        t0 = time.perf_counter()
        # validation reads texts as prediction will, so checkpoints are chosen on what is used
        tr_ids, va_ids = self._encode(texts, training=True), self._encode(val_texts)
        if start > 0:
            # frozen bottom: run it once, cache its output (fp16 on CPU to halve memory)
            train_src = HiddenBatches(self._hidden_at(tr_ids, start), y)
            val_src = HiddenBatches(self._hidden_at(va_ids, start), val_y)
            model: nn.Module = _FromLayer(net, start)
        else:
            for name, p in net.backbone.embeddings.named_parameters():
                p.requires_grad_("word_embeddings" not in name)
            train_src = TokenBatches(tr_ids, y, self.pad_id)
            val_src = TokenBatches(va_ids, val_y, self.pad_id)
            model = net
        self.cache_seconds_ = time.perf_counter() - t0
        budget = (
            None if self.max_seconds is None else max(1.0, self.max_seconds - self.cache_seconds_)
        )
        result = train_fit(
            model,
            train_src,
            val_src,
            loss_fn=nn.CrossEntropyLoss(),
            val_metric=_roc_auc if self.select_on == "auc" else None,
            metric_mode="max",
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            weight_decay=self.weight_decay,
            scheduler="onecycle",
            param_groups=self._param_groups,
            patience=self.patience,
            grad_clip=1.0,
            max_seconds=budget,
            device=self.device_,
            seed=self.seed,
            desc=f"fine-tune top {k}/{n} blocks",
        )
        self.fit_result_ = result
        self.history_ = result.history
        self.net_ = net.eval()
        self.fit_seconds_ = self.cache_seconds_ + result.seconds
        return self

    def _param_groups(self, model: nn.Module) -> list[dict]:
        """Block ``i`` from the top at ``lr * layer_decay**i`` (top block first, so the history's
        ``lr`` column shows ``lr``), the head at ``lr * head_lr_scale``, embeddings last."""
        net = self.net_
        blocks = list(net.backbone.encoder.layer)[::-1]
        groups = [
            {"params": list(layer.parameters()), "lr_scale": self.layer_decay**i}
            for i, layer in enumerate(blocks)
        ]
        groups.append({"params": list(net.head.parameters()), "lr_scale": self.head_lr_scale})
        rest = [
            p
            for name, p in net.backbone.named_parameters()
            if not name.startswith("encoder.layer.")
        ]
        groups.append({"params": rest, "lr_scale": self.layer_decay ** len(blocks)})
        return groups

    @property
    def uses_bf16(self) -> bool:
        """Whether CPU inference and caching run with bfloat16 autocast (see ``bf16``)."""
        return cpu_bf16_is_fast() if self.bf16 is None else bool(self.bf16)

    def _hidden_at(self, ids: list[list[int]], layer: int) -> list[torch.Tensor]:
        """Output of the first ``layer`` blocks for each text (unpadded, fp16 on CPU)."""
        out: list[torch.Tensor | None] = [None] * len(ids)
        net = self.net_.to(self.device_).eval()
        src = TokenBatches(ids, None, self.pad_id)
        bs = self.batch_size * 2
        order = bucket_batches(src.lengths, bs)
        with torch.inference_mode(), _cpu_autocast(self.device_, self.uses_bf16):
            for idx, (x, m) in zip(
                order,
                progress(
                    src.batches(bs), total=len(order), desc="cache frozen layers", unit="batch"
                ),
                strict=True,
            ):
                x, m = x.to(self.device_), m.to(self.device_)
                h = net.run_layers(net.backbone.embeddings(input_ids=x), m, 0, layer)
                h = h.to("cpu", torch.float16)
                for row, i in enumerate(idx):
                    out[i] = h[row, : int(src.lengths[i])].clone()
        return out  # type: ignore[return-value]

    # ------------------------------------------------------------ inference
    def _run(self, texts: Sequence[str], what: str, batch_size: int | None = None) -> np.ndarray:
        self._check_fitted()
        ids = self._encode(texts)
        dim = len(self.classes_) if what == "proba" else int(self.net_.backbone.config.hidden_size)
        out = np.zeros((len(ids), dim), dtype=np.float32)
        if not ids:
            return out
        bs = batch_size or max(self.batch_size, 64)
        dev = "cpu" if self.quantized_ else self.device_
        net = self.net_.to(dev).eval()
        src = TokenBatches(ids, None, self.pad_id)
        order = bucket_batches(src.lengths, bs)
        amp = self.uses_bf16 and not self.quantized_
        with torch.inference_mode(), _cpu_autocast(dev, amp):
            for idx, (x, m) in zip(
                order,
                progress(src.batches(bs), total=len(order), desc=what, unit="batch"),
                strict=True,
            ):
                x, m = x.to(dev), m.to(dev)
                if what == "proba":
                    res = torch.softmax(net(x, m).float(), dim=-1)
                else:
                    res = nn.functional.normalize(net.pooled(x, m).float(), dim=-1)
                out[idx] = res.cpu().numpy()
        return out

    def predict_proba(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Class probabilities ``(n, n_classes)`` in input order."""
        return self._run(texts, "proba", batch_size)

    def predict(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Most probable class per text."""
        return self.classes_[self.predict_proba(texts, batch_size).argmax(1)]

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Mean-pooled, L2-normalised vectors from the (fine-tuned) encoder."""
        return self._run(texts, "embed", batch_size)

    def throughput(self, texts: Sequence[str], batch_size: int | None = None) -> float:
        """Texts per second of :meth:`predict_proba` on ``texts`` (tokenisation included)."""
        t = time.perf_counter()
        self.predict_proba(texts, batch_size)
        return len(texts) / (time.perf_counter() - t)

    # ------------------------------------------------------------ compression
    def quantize(self) -> TransformerClassifier:
        """A copy whose Linear layers are int8 dynamic-quantized (CPU inference only)."""
        self._check_fitted()
        clone = copy.copy(self)
        net = copy.deepcopy(self.net_).to("cpu").eval()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clone.net_ = torch.ao.quantization.quantize_dynamic(net, {nn.Linear}, dtype=torch.qint8)
        clone.quantized_ = True
        return clone

    # ------------------------------------------------------------ persistence
    _PARAMS = (
        "max_length",
        "predict_max_length",
        "truncation",
        "head_share",
        "train_layers",
        "epochs",
        "batch_size",
        "lr",
        "weight_decay",
        "head_lr_scale",
        "layer_decay",
        "dropout",
        "val_fraction",
        "patience",
        "max_seconds",
        "bf16",
        "select_on",
        "seed",
    )

    def save(self, path: str | Path) -> Path:
        """Write encoder, tokenizer, head and settings to folder ``path``."""
        self._check_fitted()
        if self.quantized_:
            raise RuntimeError("Save the float model; quantize() again after load().")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        from transformers.utils import logging as hf_logging

        was_on = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            self.net_.backbone.save_pretrained(path)
        finally:
            if was_on:
                hf_logging.enable_progress_bar()
        self.tokenizer_.save_pretrained(path)
        torch.save(
            {k: v.cpu() for k, v in self.net_.head.state_dict().items()},
            path / "classifier_head.pt",
        )
        meta = {k: getattr(self, k) for k in self._PARAMS}
        meta["classes"] = [int(c) for c in self.classes_]
        (path / "ecomlib_classifier.json").write_text(json.dumps(meta, indent=2))
        return path

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> TransformerClassifier:
        """Load a classifier written by :meth:`save` (offline)."""
        path = Path(path)
        meta_file = path / "ecomlib_classifier.json"
        if not meta_file.is_file():
            raise FileNotFoundError(
                f"{path} holds no saved TransformerClassifier (ecomlib_classifier.json is missing)."
            )
        meta = json.loads(meta_file.read_text())
        classes = np.asarray(meta.pop("classes"))
        clf = cls(model_dir=path, device=device, **meta)
        clf._load(len(classes))
        state = torch.load(path / "classifier_head.pt", map_location="cpu", weights_only=True)
        clf.net_.head.load_state_dict(state)
        clf.net_.eval()
        clf.classes_ = classes
        return clf

    def n_parameters(self, trainable_only: bool = False) -> int:
        self._check_fitted()
        return sum(
            p.numel() for p in self.net_.parameters() if p.requires_grad or not trainable_only
        )

    def __repr__(self) -> str:
        args = ", ".join(
            f"{k}={getattr(self, k)!r}"
            for k in ("model_dir", *self._PARAMS)
            if getattr(self, k) is not None
        )
        return f"TransformerClassifier({args})"


def _stratified_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if not 0 < fraction < 1:
        raise ParameterError(f"val_fraction must be in (0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    tr, va = [], []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        n_val = max(1, int(math.floor(len(idx) * fraction + 0.5)))
        if n_val >= len(idx):
            raise ParameterError(
                f"class {c} has {len(idx)} example(s): too few to hold out "
                "a validation share; pass val_texts or more data."
            )
        va.append(idx[:n_val])
        tr.append(idx[n_val:])
    return np.sort(np.concatenate(tr)), np.sort(np.concatenate(va))
