"""Validation windows of protocol R2: each drops the window after it, nothing else."""

from __future__ import annotations

import pandas as pd
import pytest

from ecomlib import recommend as rec
from ecomlib.errors import DataError, ParameterError


def _daily(days=100) -> pd.DataFrame:
    ts = pd.Timestamp("2020-01-01 09:00") + pd.to_timedelta(range(days), unit="D")
    return pd.DataFrame(
        {"user_id": [d % 3 for d in range(days)], "item_id": range(days), "timestamp": ts}
    )


def test_validation_frames_nest_and_hold_out_the_test_window():
    frame = _daily()
    out = rec.validation_frames(frame, n_windows=2, days=28)
    assert list(out) == ["V1", "V2"]
    last = frame["timestamp"].max()
    v1, v2 = out["V1"], out["V2"]
    # V1 = everything but the test window (last 28 days); V2 also drops V1's last 28 days
    assert v1["timestamp"].max() <= last - pd.Timedelta(days=28)
    assert len(v1) == 100 - 28 and len(v2) == 100 - 56
    assert v2.index.isin(v1.index).all() and v1.index.isin(frame.index).all()
    # each one's own last 28 days are its validation window, as temporal_split cuts them
    train, val = rec.temporal_split(v2, test_days=28, min_item_count=1)
    assert val["timestamp"].min() > train["timestamp"].max()
    assert val["timestamp"].max() < v1["timestamp"].max() - pd.Timedelta(days=27)
    assert list(rec.validation_frames(frame, n_windows=1)) == ["V1"]


def test_validation_frames_bad_input():
    frame = _daily(40)
    with pytest.raises(DataError, match="too little"):
        rec.validation_frames(frame, n_windows=2, days=28)
    with pytest.raises(ParameterError):
        rec.validation_frames(frame, n_windows=0)
    with pytest.raises(ParameterError):
        rec.validation_frames(frame, days=-1)
    with pytest.raises(DataError, match="timestamp"):
        rec.validation_frames(frame.drop(columns="timestamp"))
