"""Probabilistic customer-base models and baselines behind one interface.

``model.fit(period)`` on a calibration :class:`~ecomlib.clv.data.Period`;
``model.predict(period, horizon)`` returns per customer ``purchases`` (expected repeat
purchases in the next ``horizon`` weeks) and ``spend`` (expected spend), plus ``p_alive`` and
interval columns where the model has them.

BG/NBD follows Fader, Hardie & Lee (2005, "Counting your customers the easy way"), Pareto/NBD
Schmittlein et al. (1987) with the likelihood of Fader & Hardie's note (2005), Gamma-Gamma
Fader, Hardie & Lee (2005, "RFM and CLV"). Parameters are fitted by maximum likelihood
(L-BFGS-B on log parameters).
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd
from scipy import optimize, special

from ecomlib.clv.data import Period
from ecomlib.errors import ParameterError

log = logging.getLogger(__name__)


class CLVModel:
    """Base class: ``fit(period)``, ``predict(period, horizon)``."""

    name = "model"

    def fit(self, period: Period) -> CLVModel:  # pragma: no cover - interface
        raise NotImplementedError

    def predict(self, period: Period, horizon: float) -> pd.DataFrame:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def _check_horizon(horizon: float) -> float:
    if not np.isfinite(horizon) or horizon <= 0:
        raise ParameterError(f"the prediction horizon must be > 0 weeks, got {horizon}.")
    return float(horizon)


def _mean_value(period: Period) -> pd.Series:
    s = period.summary
    return s["spend"] / s["n_purchases"]


# ---------------------------------------------------------------- baselines
class RateBaseline(CLVModel):
    """The calibration repeat-purchase rate (``frequency / T``) carried forward; spend = those
    purchases x the customer's mean purchase value."""

    name = "rate"

    def fit(self, period: Period) -> RateBaseline:
        return self

    def predict(self, period: Period, horizon: float) -> pd.DataFrame:
        h = _check_horizon(horizon)
        s = period.summary
        rate = s["frequency"] / s["T"].clip(lower=1.0)
        purchases = rate * h
        return pd.DataFrame({"purchases": purchases, "spend": purchases * _mean_value(period)})


class ZeroBaseline(CLVModel):
    """Nobody buys again."""

    name = "zero"

    def fit(self, period: Period) -> ZeroBaseline:
        return self

    def predict(self, period: Period, horizon: float) -> pd.DataFrame:
        _check_horizon(horizon)
        zero = pd.Series(0.0, index=period.customers)
        return pd.DataFrame({"purchases": zero, "spend": zero})


# ---------------------------------------------------------------- likelihoods
def bgnbd_loglik(params, x, t_x, T) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood for ``params = (r, alpha, a, b)``."""
    r, alpha, a, b = params
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = (
        special.gammaln(a + b)
        + special.gammaln(b + x)
        - special.gammaln(b)
        - special.gammaln(a + b + x)
    )
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x)
    a4 = np.where(x > 0, a4, -np.inf)
    return a1 + a2 + np.logaddexp(a3, a4)


def _pareto_log_a0(params, x, t_x, T) -> np.ndarray:
    r, alpha, s, beta = params
    if alpha < beta:
        lo, hi, t = alpha, beta, r + x
    else:
        lo, hi, t = beta, alpha, s + 1.0
    gap = hi - lo
    rsx = r + s + x
    p1 = special.hyp2f1(rsx, t, rsx + 1.0, gap / (hi + t_x))
    p2 = special.hyp2f1(rsx, t, rsx + 1.0, gap / (hi + T))
    q1, q2 = hi + t_x, hi + T
    ones = np.ones_like(x)
    return special.logsumexp(
        [np.log(p1) + rsx * np.log(q2), np.log(p2) + rsx * np.log(q1)],
        axis=0,
        b=[ones, -ones],
    ) - rsx * np.log(q1 * q2)


def pareto_nbd_loglik(params, x, t_x, T) -> np.ndarray:
    """Per-customer Pareto/NBD log-likelihood for ``params = (r, alpha, s, beta)``."""
    r, alpha, s, beta = params
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_a0 = _pareto_log_a0(params, x, t_x, T)
        a2 = np.logaddexp(
            -(r + x) * np.log(alpha + T) - s * np.log(beta + T),
            np.log(s) + log_a0 - np.log(r + s + x),
        )
    return a1 + a2


def gamma_gamma_loglik(params, x, m) -> np.ndarray:
    """Per-customer Gamma-Gamma log-likelihood of mean spend ``m`` over ``x`` purchases."""
    p, q, g = params
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    px = p * x
    return (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(g)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(g + m * x)
    )


def _mle(loglik, args, n_params: int, start: float = 1.0) -> tuple[np.ndarray, float]:
    """Maximum likelihood over log parameters; identical customers are evaluated once."""
    rows, weight = np.unique(np.stack(args, axis=1), axis=0, return_counts=True)
    args = tuple(rows.T)

    def nll(theta):
        ll = loglik(np.exp(theta), *args)
        total = -np.sum(weight * ll)
        return total if np.isfinite(total) else 1e20

    best = None
    for x0 in (np.full(n_params, np.log(start)), np.zeros(n_params) - 0.5):
        res = optimize.minimize(nll, x0, method="L-BFGS-B", bounds=[(-10, 10)] * n_params)
        if best is None or res.fun < best.fun:
            best = res
    return np.exp(best.x), -float(best.fun)


def _rfm(period: Period) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = period.summary
    return (
        s["frequency"].to_numpy(float),
        s["recency"].to_numpy(float),
        s["T"].to_numpy(float),
    )


# ---------------------------------------------------------------- Gamma-Gamma
class GammaGamma:
    """Gamma-Gamma model of the mean purchase value (customers with repeat purchases).

    Attributes after ``fit``: ``params_`` (p, q, gamma), ``loglik_``.
    """

    def fit(self, frequency, monetary) -> GammaGamma:
        x = np.asarray(frequency, dtype=float)
        m = np.asarray(monetary, dtype=float)
        keep = (x > 0) & (m > 0)
        if keep.sum() < 3:
            raise ParameterError("Gamma-Gamma needs at least 3 customers with repeat purchases.")
        self.params_, self.loglik_ = _mle(gamma_gamma_loglik, (x[keep], m[keep]), 3)
        p, q, g = self.params_
        self.population_mean_ = p * g / (q - 1) if q > 1 else float(np.mean(m[keep]))
        return self

    def expected_value(self, frequency, monetary) -> np.ndarray:
        """E[mean purchase value | x, m]; customers without repeats get the population mean."""
        p, q, g = self.params_
        x = np.asarray(frequency, dtype=float)
        m = np.asarray(monetary, dtype=float)
        cond = (g + m * x) * p / (p * x + q - 1)
        return np.where(x > 0, cond, self.population_mean_)


# ---------------------------------------------------------------- BG/NBD and Pareto/NBD
class _CountModel(CLVModel):
    """Shared parts of BG/NBD and Pareto/NBD: MLE fit, Gamma-Gamma spend, intervals."""

    n_params = 4

    def __init__(
        self,
        interval: float = 0.9,
        n_samples: int = 200,
        batch: int = 4096,
        intervals: bool = True,
        seed: int = 0,
    ):
        self.interval = interval
        self.intervals = intervals
        self.n_samples = n_samples
        self.batch = batch
        self.seed = seed

    def fit(self, period: Period) -> _CountModel:
        t0 = time.perf_counter()
        x, t_x, T = _rfm(period)
        if len(x) < 5:
            raise ParameterError(f"{self.name} needs at least 5 customers, got {len(x)}.")
        self.params_, self.loglik_ = _mle(self.loglik, (x, t_x, T), self.n_params)
        self.spend_model_ = GammaGamma().fit(x, period.summary["monetary"])
        self.fit_seconds_ = time.perf_counter() - t0
        log.info("%s params %s LL %.1f", self.name, np.round(self.params_, 3), self.loglik_)
        return self

    def predict(
        self, period: Period, horizon: float, intervals: bool | None = None
    ) -> pd.DataFrame:
        """Expected purchases, spend, P(alive), P(no purchase); with ``intervals`` (default
        the ``intervals`` setting) the ``interval`` predictive interval of the purchases."""
        h = _check_horizon(horizon)
        intervals = self.intervals if intervals is None else intervals
        x, t_x, T = _rfm(period)
        purchases = self.expected(x, t_x, T, h)
        value = self.spend_model_.expected_value(x, period.summary["monetary"])
        out = pd.DataFrame(
            {
                "purchases": purchases,
                "spend": purchases * value,
                "p_alive": self.p_alive(x, t_x, T),
                "p_zero": self.p_zero(x, t_x, T, h),
                "value": value,
            },
            index=period.customers,
        )
        if intervals:
            lo, hi = self.purchase_interval(x, t_x, T, h)
            out.insert(1, "purchases_low", lo)
            out.insert(2, "purchases_high", hi)
        return out

    def purchase_interval(self, x, t_x, T, horizon: float) -> tuple[np.ndarray, np.ndarray]:
        """Central ``interval`` predictive interval of the purchases in ``horizon`` weeks,
        simulated from each customer's posterior in batches of ``batch`` customers."""
        rng = np.random.default_rng(self.seed)
        q = [(1 - self.interval) / 2, (1 + self.interval) / 2]
        alive = self.p_alive(x, t_x, T)
        lo, hi = np.empty(len(x)), np.empty(len(x))
        for i in range(0, len(x), self.batch):
            sl = slice(i, i + self.batch)
            draws = self._simulate(rng, x[sl], T[sl], alive[sl], horizon)
            lo[sl], hi[sl] = np.quantile(draws, q, axis=1, method="inverted_cdf")
        return lo, hi

    def curve(self, period: Period, weeks: np.ndarray) -> np.ndarray:
        """Expected cumulative repeat purchases at each of ``weeks`` (customers x weeks)."""
        x, t_x, T = _rfm(period)
        return np.stack([self.expected(x, t_x, T, float(w)) for w in weeks], axis=1)


class BGNBD(_CountModel):
    """BG/NBD (Fader, Hardie & Lee 2005); time in weeks.

    Attributes after ``fit``: ``params_`` (r, alpha, a, b), ``loglik_`` (total), ``spend_model_``.
    """

    name = "BG/NBD"

    @staticmethod
    def loglik(params, x, t_x, T):
        return bgnbd_loglik(params, x, t_x, T)

    def p_alive(self, x, t_x, T) -> np.ndarray:
        r, alpha, a, b = self.params_
        ratio = (r + x) * np.log((alpha + T) / (alpha + t_x))
        odds = np.where(x > 0, a / np.maximum(b + x - 1, 1e-12) * np.exp(ratio), 0.0)
        return 1.0 / (1.0 + odds)

    def expected(self, x, t_x, T, t: float) -> np.ndarray:
        """E[purchases in (T, T + t] | x, t_x, T] (eq. 10 of the paper)."""
        r, alpha, a, b = self.params_
        if abs(a - 1) < 1e-9:
            a = 1.0 + 1e-9  # the closed form has a removable singularity at a = 1
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
        first = (a + b + x - 1) / (a - 1)
        second = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp
        return first * second * self.p_alive(x, t_x, T)

    def p_zero(self, x, t_x, T, t: float) -> np.ndarray:
        """P(no purchase in (T, T + t] | history)."""
        r, alpha, _, _ = self.params_
        pa = self.p_alive(x, t_x, T)
        return (1 - pa) + pa * ((alpha + T) / (alpha + T + t)) ** (r + x)

    def _simulate(self, rng, x, T, alive, t) -> np.ndarray:
        r, alpha, a, b = self.params_
        n, k = len(x), self.n_samples
        lam = rng.gamma(np.repeat(r + x, k).reshape(n, k), 1.0 / (alpha + T)[:, None])
        p = np.clip(rng.beta(a, (b + x)[:, None], size=(n, k)), 1e-12, 1.0)
        is_alive = rng.random((n, k)) < alive[:, None]
        buys = rng.poisson(lam * t)
        drop_after = rng.geometric(p)  # the customer leaves after this many purchases
        return np.where(is_alive, np.minimum(buys, drop_after), 0)


class ParetoNBD(_CountModel):
    """Pareto/NBD (Schmittlein, Morrison & Colombo 1987); time in weeks.

    Attributes after ``fit``: ``params_`` (r, alpha, s, beta), ``loglik_``, ``spend_model_``.
    """

    name = "Pareto/NBD"

    @staticmethod
    def loglik(params, x, t_x, T):
        return pareto_nbd_loglik(params, x, t_x, T)

    def p_alive(self, x, t_x, T) -> np.ndarray:
        r, alpha, s, beta = self.params_
        with np.errstate(divide="ignore", invalid="ignore"):
            log_a0 = _pareto_log_a0(self.params_, x, t_x, T)
        z = np.log(s / (r + s + x)) + (r + x) * np.log(alpha + T) + s * np.log(beta + T) + log_a0
        return np.exp(-np.logaddexp(0.0, z))

    def expected(self, x, t_x, T, t: float) -> np.ndarray:
        r, alpha, s, beta = self.params_
        s_ = s if abs(s - 1) > 1e-9 else 1.0 + 1e-9  # removable singularity at s = 1
        body = (r + x) * (beta + T) / ((alpha + T) * (s_ - 1))
        return self.p_alive(x, t_x, T) * body * (1 - ((beta + T) / (beta + T + t)) ** (s_ - 1))

    def p_zero(self, x, t_x, T, t: float) -> np.ndarray:
        """P(no purchase in (T, T + t] | history), by simulation-free quadrature over the
        remaining lifetime."""
        r, alpha, s, beta = self.params_
        pa = self.p_alive(x, t_x, T)
        # E[exp(-lambda * min(tau, t))], lambda ~ Gamma(r+x, alpha+T), tau ~ Exp(mu),
        # mu ~ Gamma(s, beta+T): integrate over the lifetime on a grid.
        grid = np.linspace(0.0, t, 65)
        surv = ((beta + T)[:, None] / (beta + T[:, None] + grid[None, :])) ** s  # P(tau > u)
        no_buy = ((alpha + T)[:, None] / (alpha + T[:, None] + grid[None, :])) ** (r + x)[:, None]
        dens = -np.diff(surv, axis=1)  # P(tau in each grid cell)
        mid = 0.5 * (no_buy[:, 1:] + no_buy[:, :-1])
        stay = (dens * mid).sum(axis=1) + surv[:, -1] * no_buy[:, -1]
        return (1 - pa) + pa * stay

    def _simulate(self, rng, x, T, alive, t) -> np.ndarray:
        r, alpha, s, beta = self.params_
        n, k = len(x), self.n_samples
        lam = rng.gamma(np.repeat(r + x, k).reshape(n, k), 1.0 / (alpha + T)[:, None])
        mu = rng.gamma(s, 1.0 / (beta + T)[:, None], size=(n, k))
        life = rng.exponential(1.0 / mu)
        is_alive = rng.random((n, k)) < alive[:, None]
        return np.where(is_alive, rng.poisson(lam * np.minimum(life, t)), 0)
