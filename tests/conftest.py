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


@pytest.fixture
def weekly_baskets():
    """Factory of small weekly basket data for the next-basket rankers: each user buys a staple
    (item ``user % 3``) every week, its look-alike (``user % 3 + 3``) every other week, plus two
    random items; columns ``user_id, item_id, timestamp, basket_id``."""
    import numpy as np
    import pandas as pd

    start = pd.Timestamp("2017-01-02 06:00")

    def make(n_users: int = 16, weeks: int = 8, seed: int = 3) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        rows = []
        for u in range(n_users):
            for w in range(weeks):
                ts = start + pd.Timedelta(days=7 * w + u % 4, hours=10)
                items = [u % 3, *rng.choice(np.arange(10, 40), size=2, replace=False)]
                if w % 2:
                    items.append(u % 3 + 3)
                rows += [(u, int(i), ts, u * 1000 + w) for i in items]
        return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp", "basket_id"])

    return make


@pytest.fixture(scope="session")
def spark():
    """One Spark ``local[1]`` session per test process (skipped when pyspark or Java is
    missing). A short-lived test JVM: C1 JIT only and the serial collector halve the warm-up
    of the first queries; not for real workloads."""
    from ecomlib.data import engines

    missing = engines.available_engines()["spark"]
    if missing:
        pytest.skip(missing)
    java = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Dlog4j2.level=error"
    session = engines.spark_session("local[1]", conf={"spark.driver.extraJavaOptions": java})
    yield session
    session.stop()
