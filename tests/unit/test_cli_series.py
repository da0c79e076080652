"""`ecom data check --schema series` applies notebook 02's checks; `ecom data fix` repairs."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest


def _ecom(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "ecomlib.cli", *args], cwd=cwd, capture_output=True, text=True
    )


@pytest.fixture
def gapped(tmp_path):
    """Two daily series under the shop's own column names, shuffled, three days missing."""
    ds = pd.date_range("2024-01-01", periods=120, freq="D")
    frame = pd.DataFrame(
        [(u, d.date(), float(v)) for u in "ab" for d, v in zip(ds, np.arange(120), strict=True)],
        columns=["store", "date", "sales"],
    )
    frame.drop(index=[5, 6, 130]).sample(frac=1, random_state=0).to_csv(
        tmp_path / "s.csv", index=False
    )
    return tmp_path


MAP = ["--map", "store=unique_id", "--map", "date=ds", "--map", "sales=y"]


def test_check_refuses_what_notebook_02_would_refuse(gapped):
    out = _ecom("data", "check", "s.csv", "--schema", "series", *MAP, cwd=gapped)
    assert out.returncode == 1 and "not sorted by unique_id, ds" in out.stderr
    assert "ecom data fix" in out.stderr  # the remedy is one the user can run
    assert "Traceback" not in out.stderr
    (gapped / "sorted.csv").write_text(
        pd.read_csv(gapped / "s.csv").sort_values(["store", "date"]).to_csv(index=False)
    )
    out = _ecom("data", "check", "sorted.csv", "--schema", "series", *MAP, cwd=gapped)
    assert out.returncode == 1 and "irregular dates" in out.stderr
    assert "ecom data fix" in out.stderr
    short = pd.DataFrame(
        {"unique_id": "a", "ds": pd.date_range("2024-01-01", periods=60), "y": 1.0}
    )
    short.to_csv(gapped / "short.csv", index=False)
    out = _ecom("data", "check", "short.csv", "--schema", "series", cwd=gapped)
    assert out.returncode == 1 and "fewer than 72 observations" in out.stderr  # 14 x (4 + 1) + 2
    out = _ecom("data", "check", "short.csv", "--schema", "series", "--windows", "2", cwd=gapped)
    assert out.returncode == 0, out.stderr


def test_fix_sorts_and_fills_gaps_into_a_new_file(gapped):
    before = (gapped / "s.csv").read_bytes()
    out = _ecom("data", "fix", "s.csv", "--out", "fixed.csv", *MAP, cwd=gapped)
    assert out.returncode == 0, out.stderr
    assert "3 missing D periods inserted" in out.stdout
    assert (gapped / "s.csv").read_bytes() == before  # the input is never touched
    fixed = pd.read_csv(gapped / "fixed.csv", parse_dates=["ds"])
    assert len(fixed) == 240 and fixed["ds"].is_monotonic_increasing is False
    assert fixed.groupby("unique_id")["ds"].apply(lambda d: d.is_monotonic_increasing).all()
    filled = fixed[(fixed["unique_id"] == "a") & fixed["ds"].isin(pd.to_datetime(["2024-01-06"]))]
    assert filled["y"].tolist() == [0.0]
    out = _ecom("data", "check", "fixed.csv", "--schema", "series", cwd=gapped)
    assert out.returncode == 0 and "2 series, 240 rows" in out.stdout
    out = _ecom("data", "fix", "s.csv", "--out", "s.csv", cwd=gapped)
    assert out.returncode == 1 and "is the input file" in out.stderr
