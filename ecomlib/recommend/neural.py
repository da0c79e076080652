"""Torch recommenders trained through :func:`ecomlib.train.fit`.

* :class:`TwoTower` - user tower = MLP over the bag of the user's item embeddings (with item
  dropout, so it generalises to users and histories it has not seen), item tower = item
  embedding + bias; trained with a full-softmax multinomial likelihood over the catalogue
  (the Mult-DAE objective), so no negative sampling is needed.
* :class:`GRUSequence` - a GRU over each user's ordered baskets (bag of item embeddings per
  basket) predicting the next basket's items at every step; the last hidden state scores
  the catalogue (the RNN-for-behaviour-sequences of the seed brief).

Both keep the interactions as flat index tensors (CSR style) on the device and gather a
batch's rows with vectorised ops; there is no dense users x items array.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

import numpy as np
import pandas as pd
import torch
from torch import nn

from ecomlib.config import resolve_device
from ecomlib.errors import DataError
from ecomlib.recommend.interactions import Interactions
from ecomlib.recommend.models import Recommender
from ecomlib.train import fit

log = logging.getLogger(__name__)


@contextmanager
def cpu_threads(device: str, n: int | None):
    """Temporarily limit torch's intra-op threads on CPU. These models run many small ops,
    where thread synchronisation costs more than it saves (20x slower with 2 threads on a
    loaded 2-core machine); ``None`` leaves the setting alone."""
    if n is None or not device.startswith("cpu"):
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def gather_rows(
    indptr: torch.Tensor, indices: torch.Tensor, rows: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat column indices of CSR ``rows`` and the batch position of each (vectorised)."""
    lengths = indptr[rows + 1] - indptr[rows]
    pos = torch.repeat_interleave(torch.arange(len(rows), device=rows.device), lengths)
    starts = torch.repeat_interleave(indptr[rows], lengths)
    first = torch.repeat_interleave(torch.cumsum(lengths, 0) - lengths, lengths)
    offs = torch.arange(int(lengths.sum()), device=rows.device) - first
    return indices[starts + offs], pos


def _multinomial_nll(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-row -sum(log_softmax * target) / sum(target)."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    return -(logp * target).sum(-1) / target.sum(-1).clamp_min(1.0)


def _mean_loss(pred: torch.Tensor, _target: torch.Tensor) -> torch.Tensor:
    return pred.mean()


class _TwoTowerNet(nn.Module):
    def __init__(self, n_items: int, dim: int, dropout: float):
        super().__init__()
        self.n_items = n_items
        self.history = nn.EmbeddingBag(n_items, dim, mode="mean")
        self.user_mlp = nn.Sequential(nn.Tanh(), nn.Dropout(0.1), nn.Linear(dim, dim))
        self.items = nn.Embedding(n_items, dim)
        self.bias = nn.Parameter(torch.zeros(n_items))
        self.dropout = dropout
        nn.init.normal_(self.history.weight, std=0.05)
        nn.init.normal_(self.items.weight, std=0.05)
        self.register_buffer("indptr", torch.zeros(1, dtype=torch.long), persistent=False)
        self.register_buffer("indices", torch.zeros(0, dtype=torch.long), persistent=False)

    def user_vectors(self, users: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        cols, pos = gather_rows(self.indptr, self.indices, users)
        keep_cols, keep_pos = cols, pos
        if self.training and self.dropout > 0:
            keep = torch.rand(len(cols), device=cols.device) >= self.dropout
            keep_cols, keep_pos = cols[keep], pos[keep]
        counts = torch.bincount(keep_pos, minlength=len(users))
        offsets = torch.cumsum(counts, 0) - counts
        # rows with every item dropped fall back to a zero vector
        bag = self.history(keep_cols, offsets)
        return self.user_mlp(bag), cols, pos

    def forward(self, users: torch.Tensor) -> torch.Tensor:
        vec, cols, pos = self.user_vectors(users)
        logits = vec @ self.items.weight.T + self.bias
        target = torch.zeros_like(logits)
        target[pos, cols] = 1.0
        return _multinomial_nll(logits, target)


class _TorchUserModel(Recommender):
    """Training and scoring shared by the torch recommenders whose network maps a batch of
    user ids to per-user losses (trained through :func:`ecomlib.train.fit`)."""

    def _train(self, net: nn.Module, n_users: int, dev: str, desc: str) -> None:
        with cpu_threads(dev, self.cpu_threads):
            result = fit(
                net,
                (torch.arange(n_users), torch.zeros(n_users)),
                loss_fn=_mean_loss,
                forward=lambda m, b: (m(b[0]), b[1]),
                epochs=self.epochs,
                batch_size=self.batch_size,
                lr=self.lr,
                weight_decay=self.weight_decay,
                patience=self.patience,
                device=dev,
                seed=self.seed,
                desc=desc,
            )
        self.net_ = result.model.eval()
        self.history_ = result.history
        self.train_seconds_ = result.seconds
        self.device_ = dev

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        with cpu_threads(self.device_, self.cpu_threads), torch.inference_mode():
            return self._score(user_idx)


class TwoTower(_TorchUserModel):
    """Two-tower neural recommender trained with the shared loop (:func:`ecomlib.train.fit`).

    Parameters
    ----------
    dim : embedding size of both towers.
    dropout : share of a user's items hidden from the user tower in each training step.
    epochs, batch_size, lr, weight_decay : passed to :func:`ecomlib.train.fit` (10% of the
        users are held out for early stopping).
    cpu_threads : torch threads while training/scoring on CPU (see :func:`cpu_threads`).
    """

    name = "two_tower"

    def __init__(
        self,
        dim: int = 128,
        dropout: float = 0.5,
        epochs: int = 60,
        batch_size: int = 128,
        lr: float = 3e-3,
        weight_decay: float = 1e-4,
        patience: int = 8,
        device: str = "auto",
        seed: int = 42,
        cpu_threads: int | None = 1,
    ):
        self.dim = dim
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.device = device
        self.seed = seed
        self.cpu_threads = cpu_threads

    def _fit(self, inter: Interactions) -> None:
        dev = resolve_device(self.device)
        torch.manual_seed(self.seed)
        net = _TwoTowerNet(inter.n_items, self.dim, self.dropout)
        x = self.seen_
        net.indptr = torch.as_tensor(x.indptr, dtype=torch.long)
        net.indices = torch.as_tensor(x.indices, dtype=torch.long)
        self._train(net, inter.n_users, dev, "two-tower")

    def _score(self, user_idx: np.ndarray) -> np.ndarray:
        users = torch.as_tensor(np.asarray(user_idx), dtype=torch.long, device=self.device_)
        vec, _, _ = self.net_.user_vectors(users)
        logits = vec @ self.net_.items.weight.T + self.net_.bias
        return logits.float().cpu().numpy()


# ---------------------------------------------------------------------- sequence model
def basket_sequences(
    frame: pd.DataFrame, n_users: int, max_baskets: int, max_items: int, pad: int
) -> torch.Tensor:
    """(n_users, max_baskets, max_items) item indices of each user's last baskets, in time
    order, left-padded with ``pad`` (users with fewer baskets start with empty baskets)."""
    cols = ["user_idx", "basket_id", "item_idx"]
    if "basket_id" not in frame:
        raise DataError("GRUSequence needs a 'basket_id' column (use complete_journey()).")
    f = frame[[*cols, "timestamp"]].sort_values(["user_idx", "timestamp", "basket_id"])
    basket_rank = (
        f.groupby("user_idx")["basket_id"].transform(lambda s: pd.factorize(s)[0]).to_numpy()
    )
    n_baskets = f.groupby("user_idx")["basket_id"].transform("nunique").to_numpy()
    slot = basket_rank - (n_baskets - max_baskets)  # last max_baskets baskets end at slot -1
    item_pos = f.groupby(["user_idx", "basket_id"]).cumcount().to_numpy()
    keep = (slot >= 0) & (item_pos < max_items)
    seq = torch.full((n_users, max_baskets, max_items), pad, dtype=torch.long)
    seq[
        torch.as_tensor(f["user_idx"].to_numpy()[keep], dtype=torch.long),
        torch.as_tensor(slot[keep], dtype=torch.long),
        torch.as_tensor(item_pos[keep], dtype=torch.long),
    ] = torch.as_tensor(f["item_idx"].to_numpy()[keep], dtype=torch.long)
    return seq


class _GRUNet(nn.Module):
    def __init__(self, n_items: int, dim: int):
        super().__init__()
        self.n_items = n_items
        self.embed = nn.Embedding(n_items + 1, dim, padding_idx=n_items)
        self.gru = nn.GRU(dim, dim, batch_first=True)
        self.out = nn.Linear(dim, n_items)
        self.register_buffer("seq", torch.zeros(1, 1, 1, dtype=torch.long), persistent=False)

    def hidden(self, users: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        seq = self.seq[users]  # (B, L, M)
        mask = (seq != self.n_items).float()
        bags = (self.embed(seq) * mask[..., None]).sum(2) / mask.sum(2, keepdim=True).clamp_min(1)
        h, _ = self.gru(bags)
        return h, seq

    def forward(self, users: torch.Tensor) -> torch.Tensor:
        h, seq = self.hidden(users)
        logits = self.out(h[:, :-1])  # predict basket t+1 from baskets <= t
        nxt = seq[:, 1:]
        b, steps, _ = nxt.shape
        target = torch.zeros(b, steps, self.n_items + 1, device=nxt.device)
        target.scatter_(2, nxt, 1.0)
        target = target[..., : self.n_items]
        has = target.sum(-1) > 0
        return _multinomial_nll(logits[has], target[has])


class GRUSequence(_TorchUserModel):
    """GRU over each user's ordered baskets, predicting the next basket (trained with
    :func:`ecomlib.train.fit`). Needs ``timestamp`` and ``basket_id`` columns.

    Parameters
    ----------
    max_baskets, max_items : length of the basket history kept and items kept per basket.
    vocab_size : the most popular items modelled (others are dropped from the baskets and
        score 0).
    dim : embedding and hidden size.
    """

    name = "gru"

    def __init__(
        self,
        dim: int = 96,
        max_baskets: int = 32,
        max_items: int = 32,
        vocab_size: int | None = 5000,
        epochs: int = 20,
        batch_size: int = 64,
        lr: float = 3e-3,
        patience: int = 4,
        device: str = "auto",
        seed: int = 42,
        cpu_threads: int | None = 1,
    ):
        self.dim = dim
        self.vocab_size = vocab_size
        self.max_baskets = max_baskets
        self.max_items = max_items
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.patience = patience
        self.device = device
        self.seed = seed
        self.cpu_threads = cpu_threads
        self.weight_decay = 1e-5

    def _fit(self, inter: Interactions) -> None:
        dev = resolve_device(self.device)
        torch.manual_seed(self.seed)
        from ecomlib.recommend.models import _popular_items

        self.items_kept_ = _popular_items(self.popularity_, self.vocab_size)
        vocab = len(self.items_kept_)
        to_vocab = np.full(inter.n_items, -1, dtype=np.int64)
        to_vocab[self.items_kept_] = np.arange(vocab)
        frame = inter.frame.assign(item_idx=to_vocab[inter.frame["item_idx"].to_numpy()])
        frame = frame[frame["item_idx"] >= 0]
        net = _GRUNet(vocab, self.dim)
        net.seq = basket_sequences(frame, inter.n_users, self.max_baskets, self.max_items, vocab)
        self._train(net, inter.n_users, dev, "gru")

    def _score(self, user_idx: np.ndarray) -> np.ndarray:
        users = torch.as_tensor(np.asarray(user_idx), dtype=torch.long, device=self.device_)
        from ecomlib.recommend.models import _expand

        h, _ = self.net_.hidden(users)
        part = self.net_.out(h[:, -1]).float().cpu().numpy()
        if len(self.items_kept_) < self.seen_.shape[1]:
            part = part - part.min(axis=1, keepdims=True)  # out-of-vocabulary items score 0
        return _expand(part, self.items_kept_, self.seen_.shape[1])
