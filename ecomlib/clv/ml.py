"""Machine-learning CLV models trained inside the calibration period.

The calibration period is cut ``inner_weeks`` before its end: features are computed from the
purchases up to that inner cutoff and the targets are the purchases (and spend) of the last
``inner_weeks`` calibration weeks, as a rate per week. The trained model then reads the
features at the calibration end and its rate is multiplied by the holdout length. The holdout
is never seen.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd
import torch
from torch import nn

from ecomlib._validate import check_param
from ecomlib.clv.data import WEEK, Period, future_purchases, summarise
from ecomlib.clv.models import BGNBD, CLVModel, _check_horizon
from ecomlib.errors import ParameterError

log = logging.getLogger(__name__)


def default_inner_weeks(period: Period) -> float:
    """A third of the calibration period (at least 4 weeks)."""
    return float(max(4, round(period.weeks / 3)))


def features(period: Period, horizon: float, bg: BGNBD) -> pd.DataFrame:
    """RFM-style features per customer plus the BG/NBD expectations for ``horizon`` weeks."""
    s = period.summary
    counts, spend, _ = period.weekly()
    x, t_x, T = (s[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    out = pd.DataFrame(
        {
            "frequency": x,
            "recency": t_x,
            "T": T,
            "weeks_since_last": T - t_x,
            "rate": x / np.maximum(T, 1.0),
            "monetary": s["monetary"].to_numpy(float),
            "mean_value": (s["spend"] / s["n_purchases"]).to_numpy(float),
            "log_spend": np.log1p(s["spend"].to_numpy(float)),
            "count_4w": counts[:, -4:].sum(axis=1),
            "count_13w": counts[:, -13:].sum(axis=1),
            "spend_13w": np.log1p(spend[:, -13:].sum(axis=1)),
            "bg_rate": bg.expected(x, t_x, T, horizon) / horizon,
            "bg_p_alive": bg.p_alive(x, t_x, T),
            "bg_p_zero": bg.p_zero(x, t_x, T, horizon),
        },
        index=s.index,
    )
    return out


def inner_split(period: Period, inner_weeks: float) -> tuple[Period, pd.DataFrame]:
    """The calibration period cut ``inner_weeks`` before its end and the purchases after it."""
    cut = period.cutoff - pd.Timedelta(days=int(round(inner_weeks * 7)))
    if cut <= period.start + WEEK:
        raise ParameterError(
            f"inner validation of {inner_weeks:g} weeks leaves no history in a calibration "
            f"period of {period.weeks:.1f} weeks: use a longer calibration period."
        )
    inner = summarise(period.days, cut, start=period.start)
    target = future_purchases(period.days, inner.customers, cut, period.cutoff)
    return inner, target


class _InnerTrained(CLVModel):
    """Shared parts: the inner split, the BG/NBD features, the rate x horizon prediction."""

    def __init__(self, inner_weeks: float | None = None, seed: int = 42):
        self.inner_weeks = inner_weeks
        self.seed = seed

    def _to_horizon(self, period: Period, rate: np.ndarray, horizon: float) -> np.ndarray:
        """Rate over the next ``inner_weeks`` -> expected total over ``horizon`` weeks, with
        each customer's BG/NBD curve giving the shape (purchases slow down as customers
        leave)."""
        s = period.summary
        x, t_x, T = (s[c].to_numpy(float) for c in ("frequency", "recency", "T"))
        h = self.inner_weeks_
        near = self.bg_.expected(x, t_x, T, h)
        far = self.bg_.expected(x, t_x, T, horizon)
        return rate * h * np.where(near > 1e-12, far / np.maximum(near, 1e-12), horizon / h)

    def _training_frame(self, period: Period):
        h = self.inner_weeks or default_inner_weeks(period)
        inner, target = inner_split(period, h)
        bg_inner = BGNBD().fit(inner)
        self.bg_ = BGNBD().fit(period)
        self.inner_weeks_ = h
        return inner, features(inner, h, bg_inner), target / h


class LightGBMCLV(_InnerTrained):
    """LightGBM on RFM features: one regressor for the purchase rate, one for the spend rate.

    Parameters
    ----------
    objective : {"poisson", "l1"}
        Poisson predicts the mean (what totals and RMSE reward); L1 the median (what MAE
        rewards).
    n_estimators, learning_rate, num_leaves : LightGBM knobs.
    """

    def __init__(
        self,
        objective: str = "poisson",
        inner_weeks: float | None = None,
        n_estimators: int = 300,
        learning_rate: float = 0.03,
        num_leaves: int = 15,
        n_jobs: int = 1,
        seed: int = 42,
    ):
        super().__init__(inner_weeks, seed)
        self.objective = objective
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.n_jobs = n_jobs

    @property
    def name(self) -> str:
        """``LightGBM`` (Poisson objective) or ``LightGBM-L1``."""
        return "LightGBM" if self.objective == "poisson" else "LightGBM-L1"

    def _validate_params(self) -> None:
        check_param(
            "objective",
            self.objective,
            self.objective in ("poisson", "l1"),
            "'poisson' or 'l1'",
            self,
        )

    def _regressor(self, objective: str):
        import lightgbm as lgb

        return lgb.LGBMRegressor(
            objective=objective,
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=40,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.8,
            n_jobs=self.n_jobs,
            random_state=self.seed,
            verbose=-1,
        )

    def fit(self, period: Period) -> LightGBMCLV:
        self._validate_params()
        _, X, y = self._training_frame(period)
        self.count_model_ = self._regressor(self.objective).fit(X, y["purchases"])
        self.spend_model_ = self._regressor(self.objective).fit(X, y["spend"])
        self.features_ = list(X.columns)
        return self

    def predict(self, period: Period, horizon: float) -> pd.DataFrame:
        h = _check_horizon(horizon)
        X = features(period, self.inner_weeks_, self.bg_)
        rate = np.clip(self.count_model_.predict(X), 0, None)
        spend = np.clip(self.spend_model_.predict(X), 0, None)
        return pd.DataFrame(
            {
                "purchases": self._to_horizon(period, rate, h),
                "spend": self._to_horizon(period, spend, h),
            },
            index=period.customers,
        )

    def feature_importance(self) -> pd.Series:
        """Share of total gain per feature (purchase model)."""
        gain = self.count_model_.booster_.feature_importance("gain")
        return pd.Series(gain / gain.sum(), index=self.features_).sort_values(ascending=False)


# ---------------------------------------------------------------- the GRU
class _GRUNet(nn.Module):
    def __init__(self, n_seq: int, n_static: int, hidden: int):
        super().__init__()
        self.gru = nn.GRU(n_seq, hidden, batch_first=True)
        self.head = nn.Sequential(
            nn.Linear(hidden + n_static, hidden), nn.ReLU(), nn.Linear(hidden, 2)
        )

    def forward(
        self, seq: torch.Tensor, static: torch.Tensor, offset: torch.Tensor
    ) -> torch.Tensor:
        """Log rates of purchases and spend: the BG/NBD ``offset`` plus a learned correction."""
        _, h = self.gru(seq)
        return offset + self.head(torch.cat([h[-1], static], dim=1))


def _squash(X: pd.DataFrame) -> np.ndarray:
    """Signed log1p of the features: heavy tails would swamp the network after one step."""
    v = X.to_numpy(float)
    return np.sign(v) * np.log1p(np.abs(v))


def _poisson_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Poisson deviance of purchases and scaled spend with the window length as exposure."""
    log_h = torch.log(target[:, 2:3])
    eta = pred + log_h
    y = target[:, :2]
    return (torch.exp(eta) - y * eta).mean()


class GRUCLV(_InnerTrained):
    """A GRU over each customer's purchase days, spend and calendar per ``bin_weeks`` weeks,
    with the RFM features beside it, correcting the BG/NBD rate (its log is the offset; the
    network starts at zero correction); Poisson loss on the purchases and spend of the next
    weeks, trained through :func:`ecomlib.train.fit` with ``threads`` CPU threads (these small
    steps run faster on one thread than on several, much faster on a busy machine).
    """

    name = "GRU"

    def __init__(
        self,
        hidden: int = 32,
        epochs: int = 30,
        batch_size: int = 512,
        lr: float = 2e-3,
        max_seconds: float | None = 60.0,
        inner_weeks: float | None = None,
        bin_weeks: int = 2,
        threads: int | None = 1,
        device: str = "auto",
        seed: int = 42,
    ):
        super().__init__(inner_weeks, seed)
        self.bin_weeks = bin_weeks
        self.threads = threads
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.max_seconds = max_seconds
        self.device = device

    def _binned(self, period: Period):
        """Purchase days, spend and a has-started flag per customer and bin of ``bin_weeks``
        weeks (bins end at the cutoff), and each bin's last week."""
        counts, spend, ends = period.weekly()
        n = counts.shape[1]
        first_week = n - 1 - ((period.cutoff - period.summary["first"]).dt.days // 7).to_numpy()
        started = (np.arange(n)[None, :] >= first_week[:, None]).astype(np.float32)
        k = int(self.bin_weeks)
        if k == 1:
            return counts, spend, started, ends
        pad = (-n) % k
        bins = (n + pad) // k

        def fold(a: np.ndarray, how) -> np.ndarray:
            a = np.pad(a, ((0, 0), (pad, 0)))
            return how(a.reshape(len(a), bins, k), axis=2)

        last = [n - 1 - k * (bins - 1 - b) for b in range(bins)]
        return fold(counts, np.sum), fold(spend, np.sum), fold(started, np.max), ends[last]

    def _tensors(self, period: Period, X: pd.DataFrame):
        counts, spend, started, ends = self._binned(period)
        woy = 2 * np.pi * ends.isocalendar().week.to_numpy(float) / 52.0
        cal = np.broadcast_to(np.stack([np.sin(woy), np.cos(woy)], 1), (len(counts), len(ends), 2))
        seq = np.concatenate(
            [counts[..., None], np.log1p(spend)[..., None] / 4, started[..., None], cal], axis=2
        )
        static = np.clip((_squash(X) - self.mu_) / self.sd_, -5, 5).astype(np.float32)
        value = (period.summary["spend"] / period.summary["n_purchases"]).to_numpy(float)
        value = np.maximum(value, 0.01)
        rate = np.maximum(X["bg_rate"].to_numpy(float), 1e-4)
        offset = np.log(np.stack([rate, rate * value / self.spend_scale_], axis=1))
        return (
            torch.tensor(seq, dtype=torch.float32),
            torch.tensor(static),
            torch.tensor(offset, dtype=torch.float32),
        )

    def _validate_params(self) -> None:
        check_param(
            "bin_weeks", self.bin_weeks, lambda v: int(v) == v and v >= 1, "an integer >= 1", self
        )

    def fit(self, period: Period) -> GRUCLV:
        self._validate_params()
        from ecomlib.config import resolve_device
        from ecomlib.recommend.neural import cpu_threads
        from ecomlib.train import fit

        t0 = time.perf_counter()
        inner, X, y = self._training_frame(period)
        self.mu_ = _squash(X).mean(axis=0)
        self.sd_ = _squash(X).std(axis=0) + 1e-6
        self.spend_scale_ = float(max(y["spend"].mean() / max(y["purchases"].mean(), 1e-9), 1.0))
        seq, static, offset = self._tensors(inner, X)
        h = self.inner_weeks_
        target = torch.tensor(
            np.stack(
                [
                    y["purchases"].to_numpy() * h,
                    y["spend"].to_numpy() * h / self.spend_scale_,
                    np.full(len(y), h),
                ],
                axis=1,
            ),
            dtype=torch.float32,
        )
        torch.manual_seed(self.seed)
        net = _GRUNet(seq.shape[2], static.shape[1], self.hidden)
        with torch.no_grad():  # start exactly at BG/NBD
            net.head[-1].weight.zero_()
            net.head[-1].bias.zero_()
        device = resolve_device(self.device)
        with cpu_threads(device, self.threads):
            result = fit(
                net,
                (seq, static, offset, target),
                loss_fn=_poisson_loss,
                epochs=self.epochs,
                batch_size=self.batch_size,
                lr=self.lr,
                weight_decay=1e-4,
                grad_clip=1.0,
                val_fraction=0.15,
                patience=4,
                max_seconds=self.max_seconds,
                device=device,
                seed=self.seed,
                desc="GRU",
            )
        self.net_ = result.model
        self.fit_result_ = result
        self.history_ = result.history
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def predict(self, period: Period, horizon: float) -> pd.DataFrame:
        from ecomlib.recommend.neural import cpu_threads
        from ecomlib.train import predict

        h = _check_horizon(horizon)
        tensors = self._tensors(period, features(period, self.inner_weeks_, self.bg_))
        device = self.fit_result_.device
        with cpu_threads(device, self.threads):
            out = predict(self.net_, tensors, batch_size=4096, device=device).numpy()
        rate = np.exp(out.astype(np.float64))
        return pd.DataFrame(
            {
                "purchases": self._to_horizon(period, rate[:, 0], h),
                "spend": self._to_horizon(period, rate[:, 1] * self.spend_scale_, h),
            },
            index=period.customers,
        )


# ---------------------------------------------------------------- churn
class ChurnClassifier(_InnerTrained):
    """P(no purchase in the next ``horizon`` weeks): LightGBM on the RFM + BG/NBD features,
    calibrated with isotonic regression (3-fold), trained on the inner split (no purchase in
    the last ``inner_weeks`` of calibration); longer horizons are bridged with BG/NBD."""

    name = "churn"

    def fit(self, period: Period) -> ChurnClassifier:
        import lightgbm as lgb
        from sklearn.calibration import CalibratedClassifierCV

        _, X, y = self._training_frame(period)
        label = (y["purchases"] == 0).astype(int)
        if label.nunique() < 2:
            raise ParameterError("churn needs both buyers and non-buyers in the inner window.")
        base = lgb.LGBMClassifier(
            n_estimators=200,
            learning_rate=0.03,
            num_leaves=15,
            min_child_samples=40,
            n_jobs=1,
            random_state=self.seed,
            verbose=-1,
        )
        self.model_ = CalibratedClassifierCV(base, method="isotonic", cv=3).fit(X, label)
        return self

    def predict_proba(self, period: Period, horizon: float) -> pd.Series:
        """Calibrated P(no purchase in the next ``horizon`` weeks) per customer."""
        h = _check_horizon(horizon)
        X = features(period, self.inner_weeks_, self.bg_)
        p = self.model_.predict_proba(X)[:, 1]
        # P(none in horizon) = P(none in the inner window) x P(none after it | none in it),
        # the second factor from BG/NBD (1 when the horizon is the inner window)
        s = period.summary
        x, t_x, T = (s[c].to_numpy(float) for c in ("frequency", "recency", "T"))
        near = self.bg_.p_zero(x, t_x, T, self.inner_weeks_)
        far = self.bg_.p_zero(x, t_x, T, h)
        return pd.Series(p * np.minimum(far / near, 1.0), index=period.customers, name="p_churn")
