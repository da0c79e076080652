"""Train/test splits of an interactions frame (protocols R1 and R2, docs/protocols.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecomlib.errors import DataError, ParameterError


def per_user_random_split(
    frame: pd.DataFrame, train_fraction: float = 0.75, seed: int = 42
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Protocol R1: shuffle each user's rows (seed ``seed``) and put the first
    ``round(train_fraction * n)`` in train, the rest in test.

    One ``numpy.random.default_rng(seed)`` draws a random key per row; rows are ordered by
    (user, key), so each user's rows are shuffled independently of the others' sizes.
    ``round`` is numpy's (half to even).
    """
    if not 0.0 < train_fraction < 1.0:
        raise ParameterError(f"train_fraction must be in (0, 1), got {train_fraction}.")
    if "user_id" not in frame:
        raise DataError("per_user_random_split needs a 'user_id' column.")
    rng = np.random.default_rng(seed)
    key = rng.random(len(frame))
    order = np.lexsort((key, frame["user_id"].to_numpy()))
    shuffled = frame.iloc[order]
    pos = shuffled.groupby("user_id", sort=False).cumcount().to_numpy()
    size = shuffled.groupby("user_id", sort=False)["user_id"].transform("size").to_numpy()
    n_train = np.round(train_fraction * size)
    is_train = pos < n_train
    train = shuffled[is_train].sort_index()
    test = shuffled[~is_train].sort_index()
    return train, test


def temporal_split(
    frame: pd.DataFrame,
    test_days: float = 28,
    min_item_count: int = 5,
    time_col: str = "timestamp",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Protocol R2: test = rows in the last ``test_days`` days of the data, train = before.

    Train keeps only items with at least ``min_item_count`` rows in train; the test frame is
    left whole (cold-start items stay visible for the cold-start evaluation) and callers
    restrict it to the users active in both periods with :func:`common_users`.
    """
    if time_col not in frame:
        raise DataError(f"temporal_split needs a {time_col!r} column.")
    if test_days <= 0:
        raise ParameterError(f"test_days must be > 0, got {test_days}.")
    ts = pd.to_datetime(frame[time_col])
    cutoff = ts.max() - pd.Timedelta(days=test_days)
    is_test = (ts > cutoff).to_numpy()
    train, test = frame[~is_test], frame[is_test]
    if min_item_count > 1:
        counts = train["item_id"].value_counts()
        train = train[train["item_id"].isin(counts.index[counts >= min_item_count])]
    if train.empty or test.empty:
        raise DataError(f"temporal_split with test_days={test_days} leaves an empty side.")
    return train, test


def common_users(train: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``test`` whose user also appears in ``train``."""
    return test[test["user_id"].isin(train["user_id"].unique())]


def validation_frames(
    frame: pd.DataFrame, n_windows: int = 2, days: float = 28, time_col: str = "timestamp"
) -> dict[str, pd.DataFrame]:
    """Protocol R2 replayed inside the training period, ``n_windows`` times.

    ``V1`` is ``frame`` without its last ``days`` days (the test window): passed to
    :func:`temporal_split`, its own last ``days`` days are the first validation window and
    the training data everything before. ``V2`` drops ``days`` more (the window before V1),
    and so on. Settings are chosen on the mean over these windows, never on the test window.

    Returns
    -------
    ``{"V1": frame_1, "V2": frame_2, ...}``, each a row subset of ``frame``.
    """
    if time_col not in frame:
        raise DataError(f"validation_frames needs a {time_col!r} column.")
    if n_windows < 1 or days <= 0:
        raise ParameterError(
            f"validation_frames needs n_windows >= 1 and days > 0, got {n_windows}, {days}."
        )
    out, current = {}, frame
    for w in range(1, n_windows + 1):
        ts = pd.to_datetime(current[time_col])
        current = current[(ts <= ts.max() - pd.Timedelta(days=days)).to_numpy()]
        if current.empty or pd.to_datetime(current[time_col]).nunique() < 2:
            raise DataError(f"validation_frames: too little data for {n_windows} windows.")
        out[f"V{w}"] = current
    return out
