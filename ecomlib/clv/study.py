"""The calibration/holdout study shared by notebook 06 and ``benchmarks/clv.py``, and its
figures."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ecomlib.clv.data import Period, calibration_holdout
from ecomlib.clv.data import calibration_end as resolve_calibration_end
from ecomlib.clv.evaluate import fit_predict, leaderboard, paired_bootstrap, validation_board
from ecomlib.clv.ml import GRUCLV, ChurnClassifier, LightGBMCLV, default_inner_weeks
from ecomlib.clv.models import BGNBD, CLVModel, ParetoNBD, RateBaseline, ZeroBaseline
from ecomlib.errors import ParameterError

log = logging.getLogger(__name__)

MODEL_NAMES = ("rate", "zero", "BG/NBD", "Pareto/NBD", "LightGBM", "LightGBM-L1", "GRU")


def make_models(
    names: Sequence[str] = MODEL_NAMES,
    seed: int = 42,
    device: str = "auto",
    gru_epochs: int = 30,
    gru_max_seconds: float | None = 20.0,
    lgbm_trees: int = 300,
    intervals: bool = True,
) -> list[CLVModel]:
    """Fresh, unfitted models by name (see ``MODEL_NAMES``); ``intervals``: BG/NBD simulates
    its predictive intervals (Pareto/NBD never does here)."""
    factories = {
        "rate": RateBaseline,
        "zero": ZeroBaseline,
        "BG/NBD": lambda: BGNBD(intervals=intervals, seed=seed),
        "Pareto/NBD": lambda: ParetoNBD(intervals=False, seed=seed),
        "LightGBM": lambda: LightGBMCLV("poisson", n_estimators=lgbm_trees, seed=seed),
        "LightGBM-L1": lambda: LightGBMCLV("l1", n_estimators=lgbm_trees, seed=seed),
        "GRU": lambda: GRUCLV(
            epochs=gru_epochs, max_seconds=gru_max_seconds, device=device, seed=seed
        ),
    }
    unknown = [n for n in names if n not in factories]
    if unknown:
        raise ParameterError(f"unknown CLV model(s) {unknown}; choose from {list(factories)}.")
    return [factories[n]() for n in names]


@dataclass
class Study:
    """Everything the calibration/holdout protocol produces."""

    period: Period
    actual: pd.DataFrame
    horizon: float
    validation: pd.DataFrame
    board: pd.DataFrame
    preds: dict[str, pd.DataFrame]
    models: dict[str, CLVModel]
    best: str
    paired: dict[str, float] | None
    churn: pd.DataFrame
    seconds: float


def run_study(
    days: pd.DataFrame,
    calibration_end: str | pd.Timestamp | None,
    holdout_weeks: float,
    names: Sequence[str] = MODEL_NAMES,
    cohort_end: str | pd.Timestamp | None = None,
    reference: str = "BG/NBD",
    n_boot: int = 1000,
    seed: int = 42,
    **model_kwargs,
) -> Study:
    """Choose a model on the last weeks of the calibration period, then fit every model on the
    whole calibration period and score it on the holdout.

    Parameters
    ----------
    days : DataFrame
        Customer-days (:func:`ecomlib.clv.customer_days`).
    calibration_end : timestamp or None
        Last calibration day; None or "": ``holdout_weeks`` before the last purchase day.
    holdout_weeks : float
        Holdout length; the validation window inside calibration is a third of it.
    names : model names (:func:`make_models`); ``reference`` is the peer the paired bootstrap
        compares the chosen model with.
    """
    t0 = time.perf_counter()
    calibration_end = resolve_calibration_end(days, calibration_end, holdout_weeks)
    period, actual = calibration_holdout(
        days, calibration_end, holdout_weeks, cohort_end=cohort_end
    )

    def factory(intervals: bool = False):
        return make_models(names, seed=seed, intervals=intervals, **model_kwargs)

    validation = validation_board(factory, period, default_inner_weeks(period))
    best = validation.index[0]
    models = factory(intervals=True)
    preds, seconds = fit_predict(models, period, holdout_weeks)
    board = leaderboard(preds, actual, seconds)
    paired = None
    if reference in preds and best != reference:
        err = {m: (preds[m]["purchases"] - actual["purchases"]).abs().to_numpy() for m in preds}
        paired = paired_bootstrap(err[best], err[reference], n_boot=n_boot, seed=seed)
    churn = churn_scores(period, actual, holdout_weeks, preds.get(reference), seed)
    return Study(
        period=period,
        actual=actual,
        horizon=float(holdout_weeks),
        validation=validation,
        board=board,
        preds=preds,
        models={m.name: m for m in models},
        best=best,
        paired=paired,
        churn=churn,
        seconds=time.perf_counter() - t0,
    )


def churn_scores(
    period: Period,
    actual: pd.DataFrame,
    horizon: float,
    reference: pd.DataFrame | None = None,
    seed: int = 42,
) -> pd.DataFrame:
    """P(no purchase in the holdout) from the churn classifier (and BG/NBD's ``p_zero`` when
    given), with the observed label: columns ``churned, classifier[, BG/NBD]``."""
    out = pd.DataFrame({"churned": (actual["purchases"] == 0).astype(int)})
    out["classifier"] = ChurnClassifier(seed=seed).fit(period).predict_proba(period, horizon)
    if reference is not None and "p_zero" in reference:
        out["BG/NBD"] = reference["p_zero"]
    return out


def churn_table(churn: pd.DataFrame) -> pd.DataFrame:
    """ROC-AUC, Brier score and mean predicted vs observed churn per scorer."""
    from sklearn.metrics import brier_score_loss, roc_auc_score

    y = churn["churned"]
    rows = {
        c: {
            "roc_auc": roc_auc_score(y, churn[c]),
            "brier": brier_score_loss(y, churn[c]),
            "mean_predicted": churn[c].mean(),
            "observed": y.mean(),
        }
        for c in churn.columns
        if c != "churned"
    }
    return pd.DataFrame(rows).T


# ---------------------------------------------------------------- figures
def plot_histories(period: Period) -> plt.Figure:
    """Frequency, recency, tenure and mean spend per customer."""
    s = period.summary
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.2))
    cap = int(max(7, s["frequency"].quantile(0.99)))
    axes[0].hist(s["frequency"].clip(upper=cap), bins=np.arange(cap + 2) - 0.5)
    axes[0].set_title(f"repeat purchases (capped at {cap})")
    axes[1].hist(s.loc[s["frequency"] > 0, "recency"], bins=30)
    axes[1].set_title("recency, weeks (repeat buyers)")
    axes[2].hist(s["T"], bins=30)
    axes[2].set_title("tenure T, weeks")
    m = s.loc[s["frequency"] > 0, "monetary"]
    axes[3].hist(m.clip(upper=m.quantile(0.99)), bins=30)
    axes[3].set_title("mean repeat spend (99% clip)")
    for ax in axes:
        ax.set_ylabel("customers")
    fig.tight_layout()
    return fig


def weekly_tracking(study: Study, days: pd.DataFrame, model: str = "BG/NBD") -> pd.DataFrame:
    """Repeat purchases per week of the cohort (calibration and holdout) and the model's
    expected weekly purchases over the holdout."""
    cohort = days[days["customer_id"].isin(study.period.customers)].copy()
    first = study.period.summary["first"]
    cohort = cohort[cohort["day"] > cohort["customer_id"].map(first)]
    end = study.period.cutoff + pd.Timedelta(weeks=study.horizon)
    cohort = cohort[cohort["day"] <= end]
    week = (cohort["day"] - study.period.start).dt.days // 7
    out = pd.DataFrame({"actual": cohort.groupby(week).size()})
    m = study.models.get(model)
    if m is not None and hasattr(m, "curve"):
        weeks = np.arange(1, int(np.floor(study.horizon)) + 1)
        cum = m.curve(study.period, weeks).sum(axis=0)
        first_week = int(np.ceil(study.period.weeks))
        out = out.join(
            pd.Series(np.diff(cum, prepend=0.0), index=first_week + weeks - 1, name=model),
            how="outer",
        )
    out.index.name = "week"
    return out


def plot_tracking(track: pd.DataFrame, calibration_weeks: float) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(10, 3.5))
    ax.plot(track.index, track["actual"], label="actual repeat purchases", color="black")
    for c in track.columns.drop("actual"):
        ax.plot(track.index, track[c], label=f"{c} expected", linestyle="--")
    ax.axvline(calibration_weeks, color="grey", linestyle=":")
    ax.text(calibration_weeks, ax.get_ylim()[1] * 0.9, " holdout", color="grey")
    ax.set_xlabel("week")
    ax.set_ylabel("repeat purchases")
    ax.set_title("Weekly repeat purchases of the cohort")
    ax.legend()
    return fig


def by_frequency(study: Study, names: Sequence[str], cap: int = 7) -> pd.DataFrame:
    """Mean holdout purchases (actual and predicted) by calibration frequency (capped)."""
    f = study.period.summary["frequency"].clip(upper=cap).astype(int)
    table = pd.DataFrame({"actual": study.actual["purchases"]})
    for n in names:
        table[n] = study.preds[n]["purchases"]
    out = table.groupby(f).mean()
    out.insert(0, "customers", f.value_counts().sort_index())
    out.index = [str(i) if i < cap else f"{cap}+" for i in out.index]
    out.index.name = "calibration repeat purchases"
    return out


def plot_by_frequency(table: pd.DataFrame) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(8, 3.8))
    x = np.arange(len(table))
    ax.plot(x, table["actual"], color="black", marker="o", label="actual")
    for c in table.columns.drop(["customers", "actual"]):
        ax.plot(x, table[c], marker=".", linestyle="--", label=c)
    ax.set_xticks(x, table.index)
    ax.set_xlabel(table.index.name)
    ax.set_ylabel("mean holdout purchases")
    ax.set_title("Conditional expectations by calibration frequency")
    ax.legend()
    return fig


def plot_churn(churn: pd.DataFrame) -> plt.Figure:
    """ROC curves and reliability diagram of P(no purchase in the holdout)."""
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import roc_curve

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    y = churn["churned"]
    for c in churn.columns.drop("churned"):
        fpr, tpr, _ = roc_curve(y, churn[c])
        axes[0].plot(fpr, tpr, label=c)
        frac, mean = calibration_curve(y, churn[c], n_bins=10, strategy="quantile")
        axes[1].plot(mean, frac, marker="o", label=c)
    for ax in axes:
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
        ax.legend()
    axes[0].set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    axes[1].set(xlabel="predicted P(churn)", ylabel="observed share", title="Reliability")
    fig.tight_layout()
    return fig
