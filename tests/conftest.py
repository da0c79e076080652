"""Shared test fixtures.

``run_notebook(name, **overrides)`` executes a numbered notebook with papermill at the
``smoke`` profile (plus overrides) into a temporary folder and returns the recorded metrics:
the notebook tests assert thresholds on them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("ECOM_PROGRESS", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture
def run_notebook(tmp_path):
    from ecomlib.report.runner import execute_notebook, find_notebook, load_profile

    def _run(name: str, profile: str = "smoke", **overrides):
        path = find_notebook(name)
        params = {**load_profile(profile, path.stem), **overrides}
        result = execute_notebook(path, tmp_path / path.stem, params, progress=False)
        return result.metrics

    return _run


@pytest.fixture
def fixtures_dir() -> Path:
    return ROOT / "tests" / "fixtures"


@pytest.fixture
def tiny_ranker():
    """Factory of a :class:`~ecomlib.recommend.NextBasketRanker` small enough for unit-test
    data; keyword arguments override its settings."""
    from ecomlib import recommend as rec

    def make(**kwargs):
        settings = {
            "window_days": 14,
            "n_windows": 2,
            "n_repeat": 10,
            "n_new": 10,
            "max_items": 60,
            "neighbours": 4,
            "n_estimators": 10,
            "n_jobs": 1,
        }
        return rec.NextBasketRanker(**{**settings, **kwargs})

    return make
