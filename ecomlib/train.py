"""THE torch training loop, shared by vision, text, forecast and recommend.

One function, :func:`fit`, trains any ``torch.nn.Module``:

* device ``"auto"`` (CUDA when present, else CPU), bf16 autocast and optional channels_last on CUDA;
* seeding; a validation split carved from the *training* data (the test set is only touched
  by the caller, at the end);
* early stopping on the validation loss (or a validation metric), best checkpoint restored;
* a tqdm progress bar (widget in JupyterLab, text in a terminal, off with ``ECOM_PROGRESS=0``);
* a history :class:`pandas.DataFrame` (one row per epoch) for plotting.

Data is either a tuple of tensors ``(x1, ..., xk, y)`` — moved to the device once and sliced
by index, no per-sample Python in the hot path — or any object with a
``batches(batch_size, shuffle, generator)`` method yielding tuples of tensors (e.g. the
length-bucketed text batches of :mod:`ecomlib.text`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch
from torch import nn

from ecomlib.config import progress, resolve_device, seed_everything
from ecomlib.errors import ParameterError

log = logging.getLogger(__name__)

Batch = tuple[torch.Tensor, ...]


class BatchSource(Protocol):
    """Anything that can yield mini-batches of tensors."""

    def batches(
        self, batch_size: int, shuffle: bool, generator: torch.Generator | None
    ) -> Iterator[Batch]: ...

    def __len__(self) -> int: ...


class TensorBatches:
    """Mini-batches sliced from a tuple of equally long tensors (kept on one device).

    Parameters
    ----------
    tensors : sequence of torch.Tensor
        Inputs followed by the target; all share their first dimension.
    device : str, optional
        Move the tensors there once (``None`` keeps them where they are).
    """

    def __init__(self, tensors: Sequence[torch.Tensor], device: str | None = None):
        tensors = tuple(torch.as_tensor(t) for t in tensors)
        n = len(tensors[0])
        bad = [i for i, t in enumerate(tensors) if len(t) != n]
        if bad:
            raise ParameterError(
                f"All tensors must have the same length; tensor(s) {bad} differ from {n}."
            )
        self.tensors = tuple(t.to(device) for t in tensors) if device else tensors

    def __len__(self) -> int:
        return len(self.tensors[0])

    def subset(self, index: torch.Tensor) -> TensorBatches:
        idx = index.to(self.tensors[0].device)
        return TensorBatches([t[idx] for t in self.tensors])

    def batches(
        self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> Iterator[Batch]:
        n = len(self)
        if shuffle:
            order = torch.randperm(n, generator=generator).to(self.tensors[0].device)
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                yield tuple(t[idx] for t in self.tensors)
        else:
            for start in range(0, n, batch_size):
                yield tuple(t[start : start + batch_size] for t in self.tensors)


def as_batches(data: Any, device: str | None = None) -> BatchSource:
    """Wrap tensors/arrays in :class:`TensorBatches`; pass batch sources through."""
    if hasattr(data, "batches"):
        return data
    if isinstance(data, (tuple, list)):
        return TensorBatches(
            [torch.as_tensor(np.asarray(t)) if not torch.is_tensor(t) else t for t in data],
            device=device,
        )
    raise TypeError(
        "Training data must be a tuple of tensors/arrays (x..., y) or an object with a "
        f"batches(batch_size, shuffle, generator) method, got {type(data).__name__}."
    )


def default_forward(model: nn.Module, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """``model(*inputs)`` against the last tensor of the batch."""
    return model(*batch[:-1]), batch[-1]


def _to_device(batch: Batch, device: str) -> Batch:
    return tuple(t.to(device, non_blocking=True) if t.device.type != device else t for t in batch)


@dataclass
class FitResult:
    """What :func:`fit` returns: the trained model (best checkpoint) and its history."""

    model: nn.Module
    history: pd.DataFrame
    best_epoch: int
    best_score: float
    seconds: float
    device: str
    samples_per_second: float = float("nan")
    extras: dict = field(default_factory=dict)
    planned_steps: int = 0  # optimizer steps the schedule planned at the start
    steps_run: int = 0  # optimizer steps taken
    budget_cut: bool = False  # the max_seconds guard shortened the run

    @property
    def note(self) -> str | None:
        """A sentence for the report when the time budget shortened training, else None."""
        if not self.budget_cut:
            return None
        return (
            f"The time budget shortened training: {self.steps_run:,} of {self.planned_steps:,} "
            f"planned steps ({len(self.history)} epoch(s)) ran in {self.seconds:.0f} s; on a "
            "faster or less loaded machine the model trains longer (and usually scores higher)."
        )


def _param_groups(
    model: nn.Module,
    builder: Callable[[nn.Module], list[dict]] | None,
    lr: float,
    weight_decay: float,
) -> list[dict]:
    """Optimizer groups: one of every trainable parameter, or ``builder(model)`` resolved
    to absolute ``lr`` / ``weight_decay`` per group (frozen parameters dropped)."""
    if builder is None:
        return [{"params": [p for p in model.parameters() if p.requires_grad]}]
    groups, seen = [], set()
    for spec in builder(model):
        if "params" not in spec:
            raise ParameterError("every param_groups entry needs a 'params' list")
        unknown = set(spec) - {"params", "lr_scale", "weight_decay"}
        if unknown:
            raise ParameterError(f"unknown param_groups keys {sorted(unknown)}")
        ps = [p for p in spec["params"] if p.requires_grad]
        if any(id(p) in seen for p in ps):
            raise ParameterError("a parameter appears in more than one param_groups entry")
        seen.update(id(p) for p in ps)
        scale = float(spec.get("lr_scale", 1.0))
        if not scale > 0:
            raise ParameterError(f"lr_scale must be > 0, got {scale}")
        if ps:
            groups.append(
                {
                    "params": ps,
                    "lr": lr * scale,
                    "weight_decay": float(spec.get("weight_decay", weight_decay)),
                }
            )
    if not groups:
        raise ParameterError("param_groups left no trainable parameter")
    missing = sum(1 for p in model.parameters() if p.requires_grad and id(p) not in seen)
    if missing:
        raise ParameterError(
            f"{missing} trainable parameter tensor(s) are in no param_groups entry: add them "
            "or set requires_grad=False"
        )
    return groups


def _scheduler(
    kind: str | None,
    opt: torch.optim.Optimizer,
    peak_lrs: list[float],
    total_steps: int,
    done: int = 0,
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """The per-step schedule over ``total_steps``, positioned after ``done`` steps.

    ``done > 0`` re-plans a running schedule (the optimizer already carries its initial rates).
    """
    last = done - 1 if done > 0 else -1
    if kind == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=peak_lrs, total_steps=total_steps, pct_start=0.25, last_epoch=last
        )
    if kind == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps, last_epoch=last)
    return None


def _autocast(device: str, amp: bool):
    if amp and device.startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def _train_and_val(
    train: Any, val: Any | None, val_fraction: float, dev: str, gen: torch.Generator
) -> tuple[BatchSource, BatchSource | None]:
    """The training and validation batch sources; without ``val`` a seeded ``val_fraction``
    share of ``train`` (tensor tuples only) is held out. Tensor data is put on a CUDA device
    once and sliced there batch by batch."""
    data_device = dev if dev.startswith("cuda") else None
    train_src = as_batches(train, device=data_device)
    if val is None and val_fraction and val_fraction > 0:
        if not isinstance(train_src, TensorBatches):
            raise ParameterError("Pass `val` explicitly when train is not a tuple of tensors.")
        n = len(train_src)
        n_val = max(1, int(round(n * val_fraction)))
        perm = torch.randperm(n, generator=gen)
        return train_src.subset(perm[n_val:]), train_src.subset(perm[:n_val])
    return train_src, (as_batches(val, device=data_device) if val is not None else None)


def _optimizer(
    model: nn.Module,
    optimizer: str,
    param_groups: Callable[[nn.Module], list[dict]] | None,
    lr: float,
    weight_decay: float,
) -> tuple[torch.optim.Optimizer, list[torch.Tensor]]:
    """The optimizer over ``model``'s parameter groups and the parameters it updates (those
    whose gradient norm ``grad_clip`` clips)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = _param_groups(model, param_groups, lr, weight_decay)
    if optimizer == "adamw":
        opt: torch.optim.Optimizer = torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay)
    elif optimizer == "adam":
        opt = torch.optim.Adam(groups, lr=lr, weight_decay=weight_decay)
    elif optimizer == "sgd":
        opt = torch.optim.SGD(groups, lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay)
    else:
        raise ParameterError(f"Unknown optimizer {optimizer!r}: use 'adamw', 'adam' or 'sgd'.")
    if param_groups is not None:
        params = [p for g in opt.param_groups for p in g["params"]]
    return opt, params


def _validate(
    model: nn.Module,
    val_src: BatchSource,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    val_metric: Callable[[torch.Tensor, torch.Tensor], float] | None,
    forward: Callable[[nn.Module, Batch], tuple[torch.Tensor, torch.Tensor]],
    batch_size: int,
    dev: str,
    amp: bool,
) -> dict[str, float]:
    """``val_loss`` (and ``val_metric`` when given) of ``model`` on ``val_src``."""
    preds, targets = predict(
        model,
        val_src,
        batch_size=batch_size * 2,
        forward=forward,
        device=dev,
        amp=amp,
        with_target=True,
    )
    out = {"val_loss": float(loss_fn(preds.float(), targets))}
    if val_metric is not None:
        out["val_metric"] = float(val_metric(preds, targets))
    return out


def fit(
    model: nn.Module,
    train: Any,
    val: Any | None = None,
    *,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    forward: Callable[[nn.Module, Batch], tuple[torch.Tensor, torch.Tensor]] = default_forward,
    augment: Callable[[Batch, torch.Generator], Batch] | None = None,
    val_metric: Callable[[torch.Tensor, torch.Tensor], float] | None = None,
    metric_mode: str = "max",
    epochs: int = 10,
    batch_size: int = 128,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    optimizer: str = "adamw",
    scheduler: str | None = "onecycle",
    param_groups: Callable[[nn.Module], list[dict]] | None = None,
    val_fraction: float = 0.1,
    patience: int | None = 5,
    grad_clip: float | None = None,
    max_seconds: float | None = None,
    device: str = "auto",
    amp: bool = True,
    channels_last: bool = False,
    seed: int = 42,
    desc: str = "train",
) -> FitResult:
    """Train ``model`` and return it with its per-epoch history.

    Parameters
    ----------
    model : nn.Module
        The network; moved to ``device``.
    train : tuple of tensors or BatchSource
        Training data ``(x..., y)``. When ``val`` is None a ``val_fraction`` share of it is
        held out for early stopping (tensor tuples only).
    val : tuple of tensors or BatchSource, optional
        Validation data. Never pass the test set here.
    loss_fn : callable, default ``nn.MSELoss()``
        ``loss_fn(prediction, target)``.
    forward : callable
        ``forward(model, batch) -> (prediction, target)``; default ``model(*batch[:-1])``.
    augment : callable, optional
        ``augment(batch, generator) -> batch`` applied to training batches only.
    val_metric : callable, optional
        ``val_metric(all_predictions, all_targets) -> float`` computed each epoch; when given,
        early stopping and checkpointing follow it (``metric_mode`` "max" or "min"),
        otherwise the validation loss.
    epochs, batch_size, lr, weight_decay : training knobs.
    optimizer : {"adamw", "adam", "sgd"}
    scheduler : {"onecycle", "cosine", None}
    param_groups : callable, optional
        ``param_groups(model) -> [{"params": [...], "lr_scale": 10.0, "weight_decay": 0.0},
        ...]``: optimizer parameter groups, each with an optional ``lr_scale`` (multiplies
        ``lr``, also the schedule's peak) and ``weight_decay`` (default ``weight_decay``).
        Parameters without ``requires_grad`` are dropped. Default: one group of every
        trainable parameter.
    patience : int or None
        Epochs without improvement before stopping (None: never stop early).
    grad_clip : float, optional
        Clip the gradient norm.
    max_seconds : float, optional
        Wall-clock budget. The run is fitted to it: after a few steps, and again after each
        epoch, the time per step is measured and, when the planned epochs would not fit, the
        run is shortened and the learning-rate schedule re-planned over the steps that fit
        (so a busy machine still gets a complete warm-up and decay, not a schedule cut off in
        the middle). As a last guard training stops after the epoch that crosses the budget.
        When the plan fits, nothing changes: same steps, same schedule.
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    amp : bool
        bf16 autocast on CUDA (ignored on CPU).
    channels_last : bool
        Use channels_last memory format on CUDA (for CNNs).
    seed : int
        Seeds initialisation order, shuffling, augmentation and the validation split.

    Returns
    -------
    FitResult
    """
    if epochs < 1:
        raise ParameterError(f"epochs must be >= 1, got {epochs}")
    dev = resolve_device(device)
    seed_everything(seed)
    gen = torch.Generator().manual_seed(seed)
    loss_fn = loss_fn or nn.MSELoss()

    train_src, val_src = _train_and_val(train, val, val_fraction, dev, gen)

    model = model.to(dev)
    use_cl = channels_last and dev.startswith("cuda")
    if use_cl:
        model = model.to(memory_format=torch.channels_last)

    opt, params = _optimizer(model, optimizer, param_groups, lr, weight_decay)
    peak_lrs = [g["lr"] for g in opt.param_groups]

    steps_per_epoch = max(1, math.ceil(len(train_src) / batch_size))
    total_steps = epochs * steps_per_epoch
    if scheduler == "onecycle" and total_steps < 8:
        # OneCycleLR needs a few steps for its warm-up phase; tiny runs keep a constant rate.
        scheduler = None
    if scheduler not in ("onecycle", "cosine", None):
        raise ParameterError(f"Unknown scheduler {scheduler!r}: use 'onecycle', 'cosine' or None.")
    sched = _scheduler(scheduler, opt, peak_lrs, total_steps)
    # Validation costs about a third of a training step per example (forward only).
    val_share = len(val_src) / max(len(train_src), 1) / 3 if val_src is not None else 0.0
    probe_step = min(20, max(1, total_steps // 10))
    planned_steps, budget_cut = total_steps, False

    def _fit_to_budget(step: int, validated: bool) -> None:
        """Shorten the run (and its schedule) so it ends within ``max_seconds``.

        ``validated``: the elapsed time already includes the validation passes.
        """
        nonlocal total_steps, sched, budget_cut
        per_step = (time.perf_counter() - start) / step
        if not validated:
            per_step *= 1 + val_share
        affordable = int(0.9 * max_seconds / per_step)
        if affordable >= total_steps:
            return
        new_total = max(affordable, step + 1)
        log.info(
            "time budget of %.0f s: %d of %d planned steps fit (%.2f s/step), schedule shortened",
            max_seconds,
            new_total,
            total_steps,
            per_step,
        )
        total_steps = new_total
        budget_cut = True
        sched = _scheduler(scheduler, opt, peak_lrs, total_steps, done=step)

    def _prep(batch: Batch) -> Batch:
        batch = _to_device(batch, dev)
        if use_cl and batch[0].dim() == 4:
            batch = (batch[0].contiguous(memory_format=torch.channels_last), *batch[1:])
        return batch

    sign = 1.0 if metric_mode == "max" else -1.0
    best_score, best_epoch, best_state = -math.inf, 0, None
    rows: list[dict] = []
    start = time.perf_counter()
    seen = 0
    step = 0
    bad_epochs = 0
    bar = progress(total=epochs * steps_per_epoch, desc=desc, unit="batch")
    try:
        for epoch in range(1, epochs + 1):
            model.train()
            t0 = time.perf_counter()
            total, count = 0.0, 0
            for batch in train_src.batches(batch_size, shuffle=True, generator=gen):
                batch = _prep(batch)
                if augment is not None:
                    batch = augment(batch, gen)
                with _autocast(dev, amp):
                    pred, target = forward(model, batch)
                    loss = loss_fn(pred.float() if pred.is_floating_point() else pred, target)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if grad_clip:
                    nn.utils.clip_grad_norm_(params, grad_clip)
                opt.step()
                if sched is not None:
                    sched.step()
                bs = len(batch[-1])
                total += loss.detach() * bs
                count += bs
                bar.update(1)
                step += 1
                if max_seconds is not None and step == probe_step:
                    _fit_to_budget(step, validated=False)
                if step >= total_steps:
                    break
            seen += count
            train_loss = float(total) / max(count, 1)
            row = {"epoch": epoch, "train_loss": train_loss, "lr": opt.param_groups[0]["lr"]}
            if val_src is not None:
                row.update(
                    _validate(model, val_src, loss_fn, val_metric, forward, batch_size, dev, amp)
                )
                score = sign * row["val_metric"] if val_metric is not None else -row["val_loss"]
            else:
                score = -train_loss
            row["seconds"] = time.perf_counter() - t0
            rows.append(row)
            bar.set_postfix(
                {
                    k: round(v, 4)
                    for k, v in row.items()
                    if k in ("train_loss", "val_loss", "val_metric")
                }
            )
            if score > best_score:
                best_score, best_epoch, bad_epochs = score, epoch, 0
                best_state = {
                    k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()
                }
            else:
                bad_epochs += 1
            if patience is not None and bad_epochs >= patience:
                log.info("early stop at epoch %d (best %d)", epoch, best_epoch)
                break
            if step >= total_steps:
                break
            if max_seconds is not None and time.perf_counter() - start > max_seconds:
                log.info("time budget of %.0f s reached at epoch %d", max_seconds, epoch)
                budget_cut = budget_cut or step < planned_steps
                break
            if max_seconds is not None:
                # re-plan with a whole epoch (and its validation) measured
                _fit_to_budget(step, validated=True)
    finally:
        bar.close()
    seconds = time.perf_counter() - start
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    if val_metric is None and val_src is not None:
        best_value = -best_score
    else:
        best_value = sign * best_score
    return FitResult(
        model=model,
        history=pd.DataFrame(rows),
        best_epoch=best_epoch,
        best_score=best_value,
        seconds=seconds,
        device=dev,
        samples_per_second=seen / seconds if seconds > 0 else float("nan"),
        planned_steps=planned_steps,
        steps_run=step,
        budget_cut=budget_cut,
    )


def predict(
    model: nn.Module,
    data: Any,
    *,
    batch_size: int = 512,
    forward: Callable[[nn.Module, Batch], tuple[torch.Tensor, torch.Tensor]] | None = None,
    device: str = "auto",
    amp: bool = True,
    with_target: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Run ``model`` over ``data`` in inference mode and concatenate the outputs (on CPU).

    ``data`` is a tuple of tensors or a BatchSource. With ``with_target=True`` the batches'
    last tensor is returned too (as the target); otherwise every tensor is an input unless a
    ``forward`` is given.
    """
    dev = resolve_device(device)
    src = as_batches(data)
    model = model.to(dev).eval()
    outs, targets = [], []
    with torch.inference_mode(), _autocast(dev, amp):
        for batch in src.batches(batch_size, shuffle=False, generator=None):
            batch = _to_device(batch, dev)
            if forward is not None:
                out, target = forward(model, batch)
            elif with_target:
                out, target = model(*batch[:-1]), batch[-1]
            else:
                out, target = model(*batch), None
            outs.append(out.float().cpu())
            if with_target and target is not None:
                targets.append(target.cpu())
    pred = torch.cat(outs) if outs else torch.empty(0)
    if with_target:
        return pred, torch.cat(targets) if targets else torch.empty(0)
    return pred
