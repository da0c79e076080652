"""The shared training loop, metric recording and config helpers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from ecomlib import config
from ecomlib.report import metrics
from ecomlib.train import TensorBatches, fit, predict


def _blobs(n: int = 600, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    return x, y


def _accuracy(pred: torch.Tensor, target: torch.Tensor) -> float:
    return (pred.argmax(1) == target).float().mean().item()


def test_fit_learns_and_returns_history():
    x, y = _blobs()
    result = fit(
        nn.Linear(4, 2),
        (x, y),
        loss_fn=nn.CrossEntropyLoss(),
        val_metric=_accuracy,
        epochs=8,
        lr=0.1,
        batch_size=64,
        seed=1,
    )
    hist = result.history
    assert isinstance(hist, pd.DataFrame)
    assert {"epoch", "train_loss", "val_loss", "val_metric", "lr", "seconds"} <= set(hist)
    assert hist.train_loss.iloc[-1] < hist.train_loss.iloc[0]
    assert result.best_score == pytest.approx(hist.val_metric.max())
    assert result.best_score > 0.9
    assert result.device == "cpu" and result.samples_per_second > 0


def _same_run_with(**extra):
    """Two seeded runs, the second with ``extra`` fit arguments; asserts equal histories."""
    x, y = _blobs()
    kw = dict(loss_fn=nn.CrossEntropyLoss(), epochs=3, lr=0.05, seed=7)
    config.seed_everything(7)  # weights are initialised when the model is built
    a = fit(nn.Linear(4, 2), (x, y), **kw)
    config.seed_everything(7)
    b = fit(nn.Linear(4, 2), (x, y), **extra, **kw)
    pd.testing.assert_series_equal(a.history.train_loss, b.history.train_loss)
    pd.testing.assert_series_equal(a.history.lr, b.history.lr)


def test_fit_is_repeatable_under_a_seed():
    _same_run_with()


def test_early_stopping_restores_the_best_checkpoint():
    torch.manual_seed(0)
    x = torch.randn(200, 3)
    y = torch.randn(200, 1)  # pure noise: validation loss cannot keep improving
    model = nn.Sequential(nn.Linear(3, 64), nn.ReLU(), nn.Linear(64, 1))
    result = fit(model, (x, y), epochs=40, lr=0.05, patience=2, scheduler=None, seed=0)
    assert len(result.history) < 40
    best = result.history.loc[result.history.val_loss.idxmin()]
    assert result.best_epoch == int(best.epoch)
    # the restored weights reproduce the best validation loss
    perm = torch.randperm(200, generator=torch.Generator().manual_seed(0))
    val = perm[:20]
    with torch.no_grad():
        restored = nn.functional.mse_loss(result.model(x[val]), y[val]).item()
    assert restored == pytest.approx(best.val_loss, rel=1e-4)


def test_predict_keeps_order_and_batches():
    x, _ = _blobs(130)
    model = nn.Linear(4, 2).eval()
    out = predict(model, (x,), batch_size=32)
    torch.testing.assert_close(out, model(x).detach())


def test_bad_arguments_are_explained():
    x, y = _blobs(10)
    with pytest.raises(ValueError, match="same length"):
        TensorBatches([x, y[:5]])
    with pytest.raises(ValueError, match="Unknown optimizer"):
        fit(nn.Linear(4, 2), (x, y), loss_fn=nn.CrossEntropyLoss(), optimizer="lion")
    with pytest.raises(TypeError, match="tuple of tensors"):
        fit(nn.Linear(4, 2), "not data")
    with pytest.raises(ValueError, match="epochs"):
        fit(nn.Linear(4, 2), (x, y), epochs=0)


def test_device_resolution():
    assert config.resolve_device("auto") in ("cpu", "cuda")
    assert config.resolve_device("cpu") == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            config.resolve_device("cuda")
    with pytest.raises(ValueError, match="Unknown device"):
        config.resolve_device("tpu")


def test_paths_follow_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ECOM_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("ECOM_REPORTS_DIR", str(tmp_path / "r"))
    assert config.data_dir() == tmp_path / "d"
    assert config.raw_dir("ml-100k") == tmp_path / "d" / "raw" / "ml-100k"
    assert config.reports_dir() == tmp_path / "r"


def test_seed_everything_repeats_numpy_and_torch():
    config.seed_everything(3)
    a = (np.random.rand(3), torch.rand(3))
    config.seed_everything(3)
    b = (np.random.rand(3), torch.rand(3))
    np.testing.assert_array_equal(a[0], b[0])
    torch.testing.assert_close(a[1], b[1])


def test_record_writes_json_for_the_runner(tmp_path, monkeypatch):
    target = tmp_path / "m.json"
    monkeypatch.setenv("ECOM_METRICS_FILE", str(target))
    metrics.reset()
    assert metrics.record("acc", np.float32(0.5), headline=True) == np.float32(0.5)
    metrics.record("table", pd.Series({"a": 1, "b": np.int64(2)}))
    metrics.record("bad", float("nan"))
    assert json.loads(target.read_text()) == {
        "metrics": {"acc": 0.5, "table": {"a": 1, "b": 2}, "bad": None},
        "headline": ["acc"],
    }
    assert metrics.recorded()["acc"] == 0.5
    with pytest.raises(ValueError):
        metrics.record("", 1)
    metrics.reset()


def test_tiny_runs_do_not_break_the_scheduler():
    x, y = _blobs(20)
    result = fit(nn.Linear(4, 2), (x, y), loss_fn=nn.CrossEntropyLoss(), epochs=2, batch_size=64)
    assert len(result.history) == 2


def _two_layer_groups(model: nn.Sequential) -> list[dict]:
    return [
        {"params": list(model[0].parameters())},
        {"params": list(model[2].parameters()), "lr_scale": 10.0, "weight_decay": 0.0},
    ]


def test_param_groups_scale_the_learning_rate_per_group():
    x, y = _blobs()
    kw = dict(loss_fn=nn.CrossEntropyLoss(), epochs=2, lr=0.01, batch_size=64, seed=3)
    config.seed_everything(3)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    seen: list[list[float]] = []
    original = torch.optim.lr_scheduler.OneCycleLR.step

    def spy(self, *args, **kwargs):  # record every group's rate at each step
        original(self, *args, **kwargs)
        seen.append([g["lr"] for g in self.optimizer.param_groups])

    torch.optim.lr_scheduler.OneCycleLR.step = spy
    try:
        result = fit(model, (x, y), param_groups=_two_layer_groups, weight_decay=0.1, **kw)
    finally:
        torch.optim.lr_scheduler.OneCycleLR.step = original
    rates = np.array(seen)
    assert rates.shape[1] == 2
    np.testing.assert_allclose(rates[:, 1], 10 * rates[:, 0])
    assert rates[:, 0].max() == pytest.approx(0.01, rel=0.05)  # one-cycle peak = lr * scale
    assert result.history.train_loss.iloc[-1] < result.history.train_loss.iloc[0]


def test_param_groups_default_is_the_single_group_run():
    _same_run_with(param_groups=lambda m: [{"params": list(m.parameters())}])


def test_bad_param_groups_are_explained():
    x, y = _blobs(100)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    kw = dict(loss_fn=nn.CrossEntropyLoss(), epochs=1)
    with pytest.raises(ValueError, match="no param_groups entry"):
        fit(model, (x, y), param_groups=lambda m: [{"params": list(m[0].parameters())}], **kw)
    with pytest.raises(ValueError, match="more than one"):
        fit(
            model,
            (x, y),
            param_groups=lambda m: [{"params": list(m.parameters())}] * 2,
            **kw,
        )
    with pytest.raises(ValueError, match="unknown param_groups keys"):
        fit(model, (x, y), param_groups=lambda m: [{"params": [], "lr": 1.0}], **kw)
    with pytest.raises(ValueError, match="lr_scale"):
        fit(model, (x, y), param_groups=lambda m: [{"params": [], "lr_scale": 0}], **kw)


def test_a_budget_that_fits_changes_nothing():
    _same_run_with(max_seconds=600)
    x, y = _blobs(256)
    result = fit(nn.Linear(4, 2), (x, y), loss_fn=nn.CrossEntropyLoss(), epochs=2, max_seconds=600)
    assert not result.budget_cut and result.note is None
    assert result.steps_run == result.planned_steps


class _FakeClock:
    """Stands in for ``time`` in ecomlib.train: only the model's forward passes take time, so
    the test sees the same "slow machine" however loaded the real one is."""

    def __init__(self, step_seconds: float):
        self.now, self.step_seconds, self.train_steps = 0.0, step_seconds, 0

    def perf_counter(self) -> float:
        return self.now

    def forward(self, model: nn.Module, batch):
        self.now += self.step_seconds
        self.train_steps += int(model.training)
        return model(batch[0]), batch[-1]


def test_a_tight_budget_shortens_the_schedule_instead_of_cutting_it(monkeypatch):
    import ecomlib.train

    x, y = _blobs(640)
    clock = _FakeClock(0.01)  # 10 ms a batch: too slow for the planned epochs
    monkeypatch.setattr(ecomlib.train, "time", clock)
    seen: list[float] = []
    original = torch.optim.lr_scheduler.OneCycleLR.step

    def spy(self, *args, **kwargs):
        original(self, *args, **kwargs)
        seen.append(self.optimizer.param_groups[0]["lr"])

    monkeypatch.setattr(torch.optim.lr_scheduler.OneCycleLR, "step", spy)
    # 10 epochs x 9 steps x 10 ms = 0.9 s planned; 0.45 s allowed
    result = fit(
        nn.Linear(4, 2),
        (x, y),
        loss_fn=nn.CrossEntropyLoss(),
        forward=clock.forward,
        epochs=10,
        batch_size=64,
        lr=0.1,
        max_seconds=0.45,
        patience=None,
    )
    assert clock.train_steps < 10 * 9  # shortened ...
    assert result.seconds <= 0.45  # ... to fit the budget, validation included
    rates = np.array(seen)
    assert rates.max() == pytest.approx(0.1, rel=0.05)  # the warm-up still reached the peak
    assert rates[-1] < 0.01 * rates.max()  # and the decay ran to its end: not cut mid-cycle
    # the report is told: the result says the budget shortened the run, and by how much
    assert result.budget_cut and result.steps_run == clock.train_steps < result.planned_steps
    assert result.planned_steps == 10 * 9
    assert "time budget shortened training" in result.note


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (2316040.0, "2,316,040"),
        (-12345.6, "-12,346"),
        (146.1817, "146.2"),
        (0.2319, "0.2319"),
        (0.04898, "0.04898"),
        (3.854e-4, "0.0003854"),
        (3.854e-5, "3.854e-05"),
        (0.0, "0"),
        (float("nan"), "nan"),
    ],
)
def test_number_format_never_turns_a_mixed_column_scientific(value, shown):
    assert config.number_format(value) == shown


def test_setup_notebook_sets_the_table_number_format():
    config.setup_notebook(seed=1, device="cpu")
    try:
        frame = pd.DataFrame({"sales": [2316040.0, 57260.0], "share": [0.504, 0.01246]})
        html = frame.to_html()
        assert "2,316,040" in html and "0.01246" in html and "e+06" not in html
    finally:
        pd.set_option("display.float_format", None)
