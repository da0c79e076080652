"""Neural forecasters in PyTorch, trained through :func:`ecomlib.train.fit`.

* :class:`SeedConv1D` is the brief's model, kept faithful: Conv1D(32 filters, kernel 3, ReLU)
  -> MaxPool1D(2) -> Flatten -> Dense(64, ReLU) -> Dense(1), Adam (lr 1e-3, constant), MSE,
  trained on sliding windows of past values that predict the next value. A one-step model
  forecasts ``h`` periods recursively (each prediction is fed back as an input).
* :class:`ConvForecaster` is an improved Conv1D: longer windows, a day-of-week input channel,
  two dilated conv layers, and a direct multi-horizon head (all ``h`` values at once, no
  recursion), trained with an L1 loss (closer to MASE).
* :class:`RNNForecaster` is the brief's "recurrent network": a GRU (or LSTM) over the window,
  with the same inputs and direct multi-horizon head.
* :class:`LinearForecaster` is a global linear map (NLinear / DLinear style, optionally with an
  MLP residual) from a 56-day window and the origin's weekday to all ``h`` values at once.

All are global (one network for every series) and scale each input window so that series of
every size share the network (``scaling``): "window" divides it by the mean of its last 28
values; "series" by the mean of its series' training history; "standard" subtracts its mean
and divides by its standard deviation; "difference" subtracts its last value and divides by
its mean absolute step; "auto" (default) is "window" for daily data, "standard" otherwise
(short monthly and quarterly series, whose level dwarfs their changes: see
reports/bench/forecast.md). For weekly, monthly and
quarterly data the default window is 26, 24 and 12 periods and the position inside the season
(week, month, quarter of the year) replaces the day of week; series too short for the window
are not forecast (NaN, listed in ``notes_``).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import torch
from torch import nn

from ecomlib._validate import check_param
from ecomlib.errors import ParameterError
from ecomlib.forecast.base import Forecaster, SeriesTooShort
from ecomlib.forecast.series import _norm_freq, future_dates

log = logging.getLogger(__name__)

SCALE_WINDOW = 28
# default input windows of non-daily data (periods); daily windows are each model's own
WINDOWS = {"W": 26, "M": 24, "Q": 12}
MIN_WINDOWS = 8  # training windows a series needs at least
SCALINGS = ("auto", "window", "series", "difference", "standard")


class _cpu_threads:
    """Run a block with ``n`` torch CPU threads (restored afterwards).

    These networks are tiny: on CPU one thread avoids the synchronisation cost of several,
    which is large on a busy machine.
    """

    def __init__(self, n: int | None):
        self.n = n

    def __enter__(self):
        self.old = torch.get_num_threads()
        if self.n:
            torch.set_num_threads(self.n)

    def __exit__(self, *exc):
        torch.set_num_threads(self.old)


def _scale(windows: np.ndarray) -> np.ndarray:
    s = windows[:, -SCALE_WINDOW:].mean(1)
    fallback = windows.mean(1)
    return np.where(s > 0, s, np.where(fallback > 0, fallback, 1.0))


def sliding_windows(x: np.ndarray, window: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """All (input window, next ``h`` values) pairs of one series, oldest first."""
    x = np.asarray(x, np.float32)
    n = len(x) - window - h + 1
    if n < 1:
        return np.empty((0, window), np.float32), np.empty((0, h), np.float32)
    idx = np.arange(window + h)[None, :] + np.arange(n)[:, None]
    block = x[idx]
    return block[:, :window], block[:, window:]


class _WindowForecaster(Forecaster):
    """Shared data handling of the neural forecasters (windows, scaling, device, fit)."""

    window: int = 28
    out: int = 1

    def _set_training(self, epochs, batch_size, lr, patience, max_seconds, device, seed) -> None:
        """Store the training knobs every neural forecaster shares (see ``train.fit``)."""
        self.epochs, self.batch_size, self.lr, self.patience = epochs, batch_size, lr, patience
        self.max_seconds, self.device, self.seed = max_seconds, device, seed

    def _periods(self, dates: np.ndarray) -> tuple[np.ndarray, int]:
        """(period number of each date, season): days, weeks, months or quarters."""
        d = pd.DatetimeIndex(pd.to_datetime(pd.Series(np.asarray(dates).ravel())).to_numpy())
        f = _norm_freq(self.freq)
        if f == "D":  # 1970-01-01 was a Thursday (dow 3)
            return d.asi8 // 86_400_000_000_000 + 3, 7
        if f == "W":
            return (d.asi8 // 86_400_000_000_000) // 7, 52
        if f == "M":
            return np.asarray(d.year * 12 + d.month - 1), 12
        return np.asarray(d.year * 4 + d.quarter - 1), 4

    def _dow_inputs(self, last_dates: np.ndarray, n: int) -> np.ndarray:
        """Position in the season (day of week for daily data) of each input, in [0, 1]."""
        pos = np.arange(-self.window_ + 1, 1)
        p, season = self._periods(last_dates)
        return (((p[:, None] + pos[None, :]) % season) / (season - 1)).astype(np.float32)

    def _validate_params(self) -> None:
        """Check the parameters (``fit`` calls this first); raises :class:`ParameterError`."""
        check_param("scaling", self.scaling, self.scaling in SCALINGS, f"one of {SCALINGS}", self)

    def _prepare(self, df: pd.DataFrame) -> None:
        """Resolve the window and the series too short to train on (``notes_``)."""
        self.notes_ = []
        f = _norm_freq(self.freq)
        window = int(self.window or WINDOWS.get(f, getattr(self, "daily_window", 56)))
        lengths = df.groupby("unique_id").size()
        extra = self.out + MIN_WINDOWS
        if lengths.max() < window + extra:
            window = int(lengths.max()) - extra
            if window < 4:
                raise SeriesTooShort(
                    f"{self.name}: the longest series has {lengths.max()} values; a network "
                    f"needs at least {4 + extra} (window 4 + horizon {self.out} + "
                    f"{MIN_WINDOWS} training windows)."
                )
            self.notes_.append(f"{self.name}: window shortened to {window} (short series).")
        self.window_ = window
        short = sorted(lengths.index[lengths < window + extra].astype(str))
        if short:
            self.notes_.append(
                f"{self.name}: {len(short)} series shorter than {window + extra} values not "
                f"forecast ({', '.join(short[:3])}{', ...' if len(short) > 3 else ''})."
            )
        self.skipped_ = set(short)

    def _dataset(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(input windows, targets, last input date, series id) of every training window."""
        xs, ys, ends, ids = [], [], [], []
        for uid, g in df.sort_values(["unique_id", "ds"]).groupby("unique_id", sort=True):
            if str(uid) in self.skipped_:
                continue
            x = g["y"].to_numpy(np.float32)
            w, t = sliding_windows(x, self.window_, self.out)
            xs.append(w)
            ys.append(t)
            d = g["ds"].to_numpy()
            ends.append(d[self.window_ - 1 : self.window_ - 1 + len(w)])
            ids.append(np.full(len(w), str(uid), dtype=object))
        return np.concatenate(xs), np.concatenate(ys), np.concatenate(ends), np.concatenate(ids)

    def _scaling(self) -> str:
        if self.scaling != "auto":
            return self.scaling
        return "window" if _norm_freq(self.freq) == "D" else "standard"

    def _offset(self, windows: np.ndarray) -> np.ndarray:
        """What is subtracted from each window: its last value ("difference"), else 0."""
        if self._scaling() == "difference":
            return windows[:, -1].astype(np.float64)
        if self._scaling() == "standard":
            return windows.mean(1).astype(np.float64)
        return np.zeros(len(windows))

    def _window_scale(self, windows: np.ndarray, ids: np.ndarray | None) -> np.ndarray:
        """What each window is divided by (see ``scaling``)."""
        kind = self._scaling()
        if kind in ("difference", "standard"):
            d = (
                np.mean(np.abs(np.diff(windows, axis=1)), axis=1)
                if kind == "difference"
                else windows.std(1)
            )
            return np.where(d > 0, d, _scale(windows))
        if kind == "window" or ids is None:
            return _scale(windows)
        level = np.array([self.series_scale_.get(str(u), 1.0) for u in ids], dtype=np.float64)
        return np.where(level > 0, level, _scale(windows))

    def _inputs(
        self, windows: np.ndarray, ends: np.ndarray, ids: np.ndarray | None = None
    ) -> tuple[torch.Tensor, np.ndarray]:
        scale = self._window_scale(windows, ids)
        vals = (windows - self._offset(windows)[:, None]) / scale[:, None]
        if getattr(self, "use_dow", False):
            feats = np.stack([vals, self._dow_inputs(ends, len(windows))], axis=1)
        else:
            feats = vals[:, None, :]
        return torch.from_numpy(feats.astype(np.float32)), scale

    def _train(self, df: pd.DataFrame, net: nn.Module, loss_fn: nn.Module, **fit_kwargs):
        from ecomlib.train import fit

        self.series_scale_ = {
            str(u): float(np.mean(np.abs(g.to_numpy(float))))
            for u, g in df.groupby("unique_id")["y"]
        }
        windows, targets, ends, ids = self._dataset(df)
        x, scale = self._inputs(windows, ends, ids)
        off = self._offset(windows)[:, None]
        y = torch.from_numpy(((targets - off) / scale[:, None]).astype(np.float32))
        with _cpu_threads(getattr(self, "cpu_threads", 1)):
            result = fit(
                net,
                (x, y),
                loss_fn=loss_fn,
                epochs=self.epochs,
                batch_size=self.batch_size,
                lr=self.lr,
                device=self.device,
                seed=self.seed,
                max_seconds=self.max_seconds,
                patience=self.patience,
                desc=self.name,
                **fit_kwargs,
            )
        self.model_, self.history_ = result.model, result.history
        self.fit_result_ = result
        self.series_ = {
            uid: (g["y"].to_numpy(np.float32), g["ds"].to_numpy())
            for uid, g in df.sort_values(["unique_id", "ds"]).groupby("unique_id", sort=True)
            if str(uid) not in self.skipped_
        }
        self.last_ = df[["unique_id", "ds"]]
        return self

    def _last_windows(self) -> tuple[np.ndarray, np.ndarray]:
        w = np.stack([v[-self.window_ :] for v, _ in self.series_.values()])
        ends = np.array([d[-1] for _, d in self.series_.values()])
        return w, ends

    def _ids(self) -> np.ndarray:
        return np.array([str(u) for u in self.series_], dtype=object)

    def _output(self, h: int, pred: np.ndarray) -> pd.DataFrame:
        """The forecast frame: every series of the training frame, NaN for skipped ones."""
        out = future_dates(self.last_, h, self.freq)
        out[self.name] = np.nan
        done = ~out["unique_id"].astype(str).isin(self.skipped_).to_numpy()
        out.loc[done, self.name] = pred.reshape(-1)
        return out

    def _net_predict(self, x: torch.Tensor) -> np.ndarray:
        from ecomlib.train import predict

        with _cpu_threads(getattr(self, "cpu_threads", 1)):
            return predict(self.model_, (x,), device=self.device).numpy()


class _SeedNet(nn.Module):
    def __init__(self, window: int):
        super().__init__()
        self.conv = nn.Conv1d(1, 32, kernel_size=3)
        self.pool = nn.MaxPool1d(2)
        self.dense = nn.Linear(32 * ((window - 2) // 2), 64)
        self.out = nn.Linear(64, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.pool(torch.relu(self.conv(x))).flatten(1)
        return self.out(torch.relu(self.dense(z)))


class SeedConv1D(_WindowForecaster):
    """The brief's Conv1D sales model, faithfully (one-step, recursive over the horizon).

    Parameters
    ----------
    window : input length (past values per sample); None: 28 for daily data, 26, 24, 12 for
        weekly, monthly, quarterly data (shorter when the series are short).
    epochs, batch_size, lr : the brief used 100 epochs, batch 32, Adam's default lr 1e-3;
        early stopping on a 10% validation split keeps the run short.
    scaling : "auto", "window", "series" or "difference" (see the module docstring).
    """

    def __init__(
        self,
        window: int | None = None,
        epochs: int = 30,
        batch_size: int = 32,
        lr: float = 1e-3,
        patience: int | None = 5,
        max_seconds: float | None = None,
        device: str = "auto",
        seed: int = 42,
        name: str = "SeedConv1D",
        freq: str = "D",
        scaling: str = "auto",
    ):
        self._set_training(epochs, batch_size, lr, patience, max_seconds, device, seed)
        self.window, self.name, self.freq, self.out, self.use_dow = window, name, freq, 1, False
        self.scaling, self.daily_window = scaling, 28

    def fit(self, df: pd.DataFrame) -> SeedConv1D:
        self._validate_params()
        torch.manual_seed(self.seed)
        self._prepare(df)
        return self._train(
            df, _SeedNet(self.window_), nn.MSELoss(), optimizer="adam", scheduler=None
        )

    def predict(self, h: int) -> pd.DataFrame:
        self._check_fitted()
        w, _ = self._last_windows()
        scale, off = self._window_scale(w, self._ids()), self._offset(w)
        cur = ((w - off[:, None]) / scale[:, None]).astype(np.float32)
        preds = []
        for _ in range(h):
            nxt = self._net_predict(torch.from_numpy(cur[:, None, :]))[:, 0]
            preds.append(nxt)
            cur = np.concatenate([cur[:, 1:], nxt[:, None]], axis=1)
        pred = np.maximum(off[:, None] + np.stack(preds, 1) * scale[:, None], 0.0)
        return self._output(h, pred)


class _ConvNet(nn.Module):
    def __init__(self, channels: int, window: int, h: int, width: int = 32):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv1d(channels, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv1d(width, width, 3, padding=2, dilation=2),
            nn.ReLU(),
            nn.Conv1d(width, width, 3, padding=4, dilation=4),
            nn.ReLU(),
            nn.MaxPool1d(2),
        )
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(width * (window // 2), 128),
            nn.ReLU(),
            nn.Dropout(0.1),
            nn.Linear(128, h),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class _RNNNet(nn.Module):
    def __init__(self, channels: int, h: int, hidden: int = 64, cell: str = "gru"):
        super().__init__()
        rnn = nn.GRU if cell == "gru" else nn.LSTM
        self.rnn = rnn(channels, hidden, batch_first=True)
        self.head = nn.Linear(hidden, h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x.transpose(1, 2))
        return self.head(out[:, -1])


class _DirectForecaster(_WindowForecaster):
    def _build(self, h: int) -> nn.Module:  # pragma: no cover - interface
        raise NotImplementedError

    def fit(self, df: pd.DataFrame) -> _DirectForecaster:
        self._validate_params()
        self.out = int(self.h)
        torch.manual_seed(self.seed)
        self._prepare(df)
        return self._train(
            df,
            self._build(self.out),
            nn.L1Loss(),
            optimizer="adamw",
            scheduler="onecycle",
            weight_decay=1e-4,
        )

    def predict(self, h: int) -> pd.DataFrame:
        self._check_fitted()
        if h > self.h:
            raise ParameterError(f"{self.name} was trained for h <= {self.h}; got h={h}.")
        w, ends = self._last_windows()
        x, scale = self._inputs(w, ends, self._ids())
        off = self._offset(w)[:, None]
        pred = np.maximum(off + self._net_predict(x)[:, :h] * scale[:, None], 0.0)
        return self._output(h, pred)


class ConvForecaster(_DirectForecaster):
    """Improved Conv1D: 56-day window + day-of-week channel, dilated convs, direct h outputs.

    ``window=None`` is 56 for daily data, 26, 24, 12 for weekly, monthly, quarterly data;
    ``scaling`` as in the module docstring.
    """

    def __init__(
        self,
        h: int = 14,
        window: int | None = None,
        width: int = 32,
        epochs: int = 30,
        batch_size: int = 128,
        lr: float = 3e-3,
        patience: int | None = 6,
        max_seconds: float | None = None,
        device: str = "auto",
        seed: int = 42,
        name: str = "Conv1D+",
        freq: str = "D",
        scaling: str = "auto",
    ):
        self._set_training(epochs, batch_size, lr, patience, max_seconds, device, seed)
        self.h, self.window, self.width = h, window, width
        self.name, self.freq, self.use_dow, self.scaling = name, freq, True, scaling

    def _build(self, h: int) -> nn.Module:
        return _ConvNet(2, self.window_, h, self.width)


class RNNForecaster(_DirectForecaster):
    """GRU/LSTM over a 56-day window (+ day-of-week input), direct multi-horizon head.

    ``window`` and ``scaling`` as for :class:`ConvForecaster`.
    """

    def __init__(
        self,
        h: int = 14,
        window: int | None = None,
        hidden: int = 64,
        cell: str = "gru",
        epochs: int = 30,
        batch_size: int = 128,
        lr: float = 3e-3,
        patience: int | None = 6,
        max_seconds: float | None = None,
        device: str = "auto",
        seed: int = 42,
        name: str | None = None,
        freq: str = "D",
        scaling: str = "auto",
    ):
        self._set_training(epochs, batch_size, lr, patience, max_seconds, device, seed)
        self.h, self.window, self.hidden, self.cell = h, window, hidden, cell
        self.freq, self.use_dow, self.scaling = freq, True, scaling
        self.name = name or str(cell).upper()

    def _validate_params(self) -> None:
        super()._validate_params()
        check_param("cell", self.cell, self.cell in ("gru", "lstm"), "'gru' or 'lstm'", self)

    def _build(self, h: int) -> nn.Module:
        return _RNNNet(2, h, self.hidden, self.cell)


class _LinearNet(nn.Module):
    """A linear map from the inputs to the ``h`` outputs."""

    def __init__(self, n_in: int, h: int):
        super().__init__()
        self.linear = nn.Linear(n_in, h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


class LinearForecaster(_DirectForecaster):
    """Global linear (NLinear-style) direct forecaster.

    Inputs: the last ``window`` values divided by their last 28-period mean (the per-origin
    scale the LightGBMs use) and a one-hot of the origin's day of week (which fixes the
    weekday of every target date); outputs: all ``h`` scaled values at once, L1 loss: one
    linear layer (``window + 7`` inputs x ``h`` outputs for daily data). Trained through
    :func:`ecomlib.train.fit` like the other networks (CUDA when ``device="auto"`` finds it).
    The validation figures of the variants tried (window, MLP residual, promotion plan,
    holiday flags): docs/benchmarks.md.
    """

    def __init__(
        self,
        h: int = 14,
        window: int | None = None,
        epochs: int = 30,
        batch_size: int = 128,
        lr: float = 3e-3,
        patience: int | None = 6,
        max_seconds: float | None = None,
        device: str = "auto",
        seed: int = 42,
        name: str = "Linear",
        freq: str = "D",
        scaling: str = "auto",
    ):
        self._set_training(epochs, batch_size, lr, patience, max_seconds, device, seed)
        self.h, self.window = h, window
        self.name, self.freq = name, freq
        self.scaling = scaling

    def _validate_params(self) -> None:
        super()._validate_params()
        check_param("h", self.h, lambda v: int(v) >= 1, "an integer >= 1", self)
        check_param(
            "window",
            self.window,
            lambda v: v is None or int(v) >= 1,
            "an integer >= 1 or None",
            self,
        )

    def _build(self, h: int) -> nn.Module:
        return _LinearNet(self.window_ + self._n_pos(), h)

    def _n_pos(self) -> int:
        """Width of the one-hot position of the origin: weekday, month or quarter (weekly: 0)."""
        return {"D": 7, "W": 0, "M": 12, "Q": 4}[_norm_freq(self.freq)]

    def _inputs(
        self, windows: np.ndarray, ends: np.ndarray, ids: np.ndarray | None = None
    ) -> tuple[torch.Tensor, np.ndarray]:
        scale = self._window_scale(windows, ids)
        parts = [(windows - self._offset(windows)[:, None]) / scale[:, None]]
        if self._n_pos():
            p, season = self._periods(ends)
            parts.append(np.eye(season, dtype=np.float32)[p % season])
        feats = np.concatenate(parts, axis=1)
        return torch.from_numpy(feats.astype(np.float32)), scale
