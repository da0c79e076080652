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


def _place_model(model: nn.Module, dev: str, channels_last: bool) -> tuple[nn.Module, bool]:
    """``model`` on ``dev``, in channels_last memory format when asked for and on CUDA; and
    whether that format is used."""
    model = model.to(dev)
    use_cl = channels_last and dev.startswith("cuda")
    if use_cl:
        model = model.to(memory_format=torch.channels_last)
    return model, use_cl


@dataclass(frozen=True)
class _Step:
    """One optimizer step on a training batch: the model, its optimizer, and how a batch is
    prepared, augmented and turned into a loss (the options of :func:`fit` it needs)."""

    model: nn.Module
    opt: torch.optim.Optimizer
    params: list[torch.Tensor]  # the parameters whose gradient norm grad_clip clips
    forward: Callable[[nn.Module, Batch], tuple[torch.Tensor, torch.Tensor]]
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    augment: Callable[[Batch, torch.Generator], Batch] | None
    grad_clip: float | None
    device: str
    amp: bool
    channels_last: bool  # resolved: asked for and on CUDA

    def prepare(self, batch: Batch) -> Batch:
        """``batch`` on the device, images in channels_last format when that is used."""
        batch = _to_device(batch, self.device)
        if self.channels_last and batch[0].dim() == 4:
            batch = (batch[0].contiguous(memory_format=torch.channels_last), *batch[1:])
        return batch

    def __call__(self, batch: Batch, gen: torch.Generator) -> tuple[torch.Tensor, int]:
        """Train on ``batch``: its (detached) mean loss and its number of examples."""
        batch = self.prepare(batch)
        if self.augment is not None:
            batch = self.augment(batch, gen)
        with _autocast(self.device, self.amp):
            pred, target = self.forward(self.model, batch)
            loss = self.loss_fn(pred.float() if pred.is_floating_point() else pred, target)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_clip:
            nn.utils.clip_grad_norm_(self.params, self.grad_clip)
        self.opt.step()
        return loss.detach(), len(batch[-1])


class _Plan:
    """The optimizer steps a run takes and their learning-rate schedule, fitted to a time
    budget (``max_seconds``, see :func:`fit`). The run's clock starts when the plan is made.

    ``val_share``: the cost of the validation passes relative to the training steps.
    """

    def __init__(
        self,
        kind: str | None,
        opt: torch.optim.Optimizer,
        total_steps: int,
        max_seconds: float | None,
        val_share: float,
    ):
        if kind == "onecycle" and total_steps < 8:
            # OneCycleLR needs a few steps for its warm-up phase; tiny runs keep a constant rate.
            kind = None
        if kind not in ("onecycle", "cosine", None):
            raise ParameterError(f"Unknown scheduler {kind!r}: use 'onecycle', 'cosine' or None.")
        self.kind, self.opt = kind, opt
        self.peak_lrs = [g["lr"] for g in opt.param_groups]
        self.sched = _scheduler(kind, opt, self.peak_lrs, total_steps)
        self.total_steps = self.planned_steps = total_steps
        self.max_seconds, self.val_share = max_seconds, val_share
        self.probe_step = min(20, max(1, total_steps // 10))
        self.steps_run = 0
        self.budget_cut = False  # the budget shortened the run
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def after_step(self) -> bool:
        """Count an optimizer step and advance the schedule (after a few steps, fit the plan to
        the budget); True when the planned steps are done."""
        if self.sched is not None:
            self.sched.step()
        self.steps_run += 1
        if self.max_seconds is not None and self.steps_run == self.probe_step:
            self._fit_to_budget(validated=False)
        return self.steps_run >= self.total_steps

    def after_epoch(self, epoch: int) -> bool:
        """True when training ends after ``epoch``: the planned steps are done or the budget is
        spent; otherwise re-plan with a whole epoch (and its validation) measured."""
        if self.steps_run >= self.total_steps:
            return True
        if self.max_seconds is None:
            return False
        if self.elapsed() > self.max_seconds:
            log.info("time budget of %.0f s reached at epoch %d", self.max_seconds, epoch)
            self.budget_cut = self.budget_cut or self.steps_run < self.planned_steps
            return True
        self._fit_to_budget(validated=True)
        return False

    def _fit_to_budget(self, validated: bool) -> None:
        """Shorten the run (and its schedule) so it ends within ``max_seconds``.

        ``validated``: the elapsed time already includes the validation passes.
        """
        step = self.steps_run
        per_step = self.elapsed() / step
        if not validated:
            per_step *= 1 + self.val_share
        affordable = int(0.9 * self.max_seconds / per_step)
        if affordable >= self.total_steps:
            return
        new_total = max(affordable, step + 1)
        log.info(
            "time budget of %.0f s: %d of %d planned steps fit (%.2f s/step), schedule shortened",
            self.max_seconds,
            new_total,
            self.total_steps,
            per_step,
        )
        self.total_steps = new_total
        self.budget_cut = True
        self.sched = _scheduler(self.kind, self.opt, self.peak_lrs, new_total, done=step)


class _Checkpoint:
    """The best epoch so far and a copy of its weights.

    Epochs are compared by a score where higher is better: ``val_metric`` (signed by
    ``metric_mode``) when given, else minus the validation loss, else minus the training loss.
    """

    def __init__(self, metric_mode: str, by_metric: bool, validated: bool):
        self.sign = 1.0 if metric_mode == "max" else -1.0
        self.by_metric, self.validated = by_metric, validated
        self.score, self.epoch, self.state = -math.inf, 0, None
        self.bad_epochs = 0  # epochs since the last improvement

    def update(self, row: dict, model: nn.Module) -> None:
        """Score the epoch of history ``row``; keep ``model``'s weights when it is the best."""
        if not self.validated:
            score = -row["train_loss"]
        elif self.by_metric:
            score = self.sign * row["val_metric"]
        else:
            score = -row["val_loss"]
        if score > self.score:
            self.score, self.epoch, self.bad_epochs = score, row["epoch"], 0
            self.state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        else:
            self.bad_epochs += 1

    def patience_spent(self, patience: int | None) -> bool:
        return patience is not None and self.bad_epochs >= patience

    def restore(self, model: nn.Module) -> None:
        """Load the best epoch's weights into ``model`` (when an epoch was scored)."""
        if self.state is not None:
            model.load_state_dict(self.state)

    def value(self) -> float:
        """The best score in its own sense: the validation loss, else the metric (signed back
        by ``metric_mode``; minus the training loss without validation data)."""
        if self.validated and not self.by_metric:
            return -self.score
        return self.sign * self.score


_SHOWN = ("train_loss", "val_loss", "val_metric")  # history columns on the progress bar


def _train_epoch(
    step: _Step,
    src: BatchSource,
    batch_size: int,
    gen: torch.Generator,
    plan: _Plan,
    bar: Any,
) -> tuple[float, int]:
    """One shuffled pass over ``src``, cut short when the plan's steps are done: the mean
    training loss and the number of examples seen."""
    step.model.train()
    total, count = 0.0, 0
    for batch in src.batches(batch_size, shuffle=True, generator=gen):
        loss, n = step(batch, gen)
        total += loss * n
        count += n
        bar.update(1)
        if plan.after_step():
            break
    return float(total) / max(count, 1), count


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
    model, use_cl = _place_model(model, dev, channels_last)
    opt, params = _optimizer(model, optimizer, param_groups, lr, weight_decay)
    step = _Step(model, opt, params, forward, loss_fn, augment, grad_clip, dev, amp, use_cl)
    best = _Checkpoint(metric_mode, by_metric=val_metric is not None, validated=val_src is not None)
    steps_per_epoch = max(1, math.ceil(len(train_src) / batch_size))
    # Validation costs about a third of a training step per example (forward only).
    val_share = len(val_src) / max(len(train_src), 1) / 3 if val_src is not None else 0.0
    plan = _Plan(scheduler, opt, epochs * steps_per_epoch, max_seconds, val_share)

    rows: list[dict] = []
    seen = 0
    bar = progress(total=epochs * steps_per_epoch, desc=desc, unit="batch")
    try:
        for epoch in range(1, epochs + 1):
            t0 = time.perf_counter()
            train_loss, count = _train_epoch(step, train_src, batch_size, gen, plan, bar)
            seen += count
            row = {"epoch": epoch, "train_loss": train_loss, "lr": opt.param_groups[0]["lr"]}
            if val_src is not None:
                row.update(
                    _validate(model, val_src, loss_fn, val_metric, forward, batch_size, dev, amp)
                )
            row["seconds"] = time.perf_counter() - t0
            rows.append(row)
            bar.set_postfix({k: round(v, 4) for k, v in row.items() if k in _SHOWN})
            best.update(row, model)
            if best.patience_spent(patience):
                log.info("early stop at epoch %d (best %d)", epoch, best.epoch)
                break
            if plan.after_epoch(epoch):
                break
    finally:
        bar.close()
    seconds = plan.elapsed()
    best.restore(model)
    model.eval()
    return FitResult(
        model=model,
        history=pd.DataFrame(rows),
        best_epoch=best.epoch,
        best_score=best.value(),
        seconds=seconds,
        device=dev,
        samples_per_second=seen / seconds if seconds > 0 else float("nan"),
        planned_steps=plan.planned_steps,
        steps_run=plan.steps_run,
        budget_cut=plan.budget_cut,
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
