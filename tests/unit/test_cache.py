"""ecomlib.cache: one computation per distinct input, replayed exactly, bypassable, bounded."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from ecomlib import cache

CALLS: list[int] = []


def _work(frame: pd.DataFrame, scale: float = 1.0) -> pd.DataFrame:
    CALLS.append(1)
    return frame.assign(y=frame["x"] * scale + np.random.default_rng(0).normal(size=len(frame)))


@pytest.fixture(autouse=True)
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("ECOM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("ECOM_CACHE", raising=False)
    CALLS.clear()
    return tmp_path / "cache"


def test_a_step_runs_once_per_input_and_replays_the_same_result():
    frame = pd.DataFrame({"x": np.arange(100.0)})
    fresh = _work(frame, scale=2.0)
    CALLS.clear()
    first = cache.step("work", _work, frame, scale=2.0)
    again = cache.step("work", _work, frame, scale=2.0)
    assert len(CALLS) == 1
    pd.testing.assert_frame_equal(first, fresh)
    pd.testing.assert_frame_equal(again, fresh)
    cache.step("work", _work, frame, scale=3.0)  # another parameter
    cache.step("work", _work, frame.assign(x=frame["x"] + 1), scale=2.0)  # other data
    assert len(CALLS) == 3
    rows = cache.entries()
    assert [r["step"] for r in rows] == ["work"] * 3 and all(r["mb"] > 0 for r in rows)


def test_the_cache_can_be_bypassed_and_cleared(monkeypatch):
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    monkeypatch.setenv("ECOM_CACHE", "0")
    cache.step("work", _work, frame)
    cache.step("work", _work, frame)
    assert len(CALLS) == 2 and cache.entries() == []
    monkeypatch.setenv("ECOM_CACHE", "1")
    cache.step("work", _work, frame)
    assert cache.clear() == 1 and cache.entries() == []


def test_the_store_is_trimmed_to_its_size_bound(monkeypatch):
    monkeypatch.setenv("ECOM_CACHE_MB", "1.5")  # room for one 0.8 MB result, not two
    for i in range(3):
        cache.step("big", _work, pd.DataFrame({"x": np.full(50_000, float(i))}))
    assert len(cache.entries()) == 1


def test_torch_modules_key_by_weights_the_same_in_every_process():
    code = (
        "import torch; from ecomlib import cache\n"
        "torch.manual_seed(0); m = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU())\n"
        "print(cache.key('fit', print, (m,), {'device': torch.device('cpu')}))"
    )
    keys = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(2)
    }
    assert len(keys) == 1
    import torch

    torch.manual_seed(1)
    other = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU())
    assert cache.key("fit", print, (other,), {"device": torch.device("cpu")}) not in keys
