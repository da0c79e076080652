"""Rolling-origin backtest (statsforecast ``cross_validation`` semantics), ensembles, and
conformal prediction intervals from backtest residuals.

``backtest(df, models, h=14, n_windows=4, step=14)`` uses the cutoffs
``last - h - (n_windows - 1 - i) * step`` for ``i = 0..n_windows-1`` (the last origin is ``h``
periods before the end), refits every model on the data up to each cutoff, and returns one
long frame ``unique_id, ds, cutoff, y, <model>...``. Fit+predict seconds per model are kept in
``frame.attrs["seconds"]``.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ecomlib.config import progress, resolve_jobs
from ecomlib.errors import DataError, ParameterError
from ecomlib.forecast.base import Forecaster, SeriesTooShort
from ecomlib.forecast.series import FREQS

log = logging.getLogger(__name__)

with warnings.catch_warnings():  # tqdm.auto warns when ipywidgets is absent; text bars are fine
    warnings.simplefilter("ignore")
    import tqdm.auto  # noqa: F401


def _check_freq(df: pd.DataFrame, models: Sequence[Forecaster]) -> None:
    """Refuse models whose ``freq`` is not the data's (their forecast dates would not match)."""
    from ecomlib.forecast.series import _norm_freq, infer_freq

    g = df[df["unique_id"] == df["unique_id"].iloc[0]].sort_values("ds")
    found = infer_freq(g["ds"])
    if found is None:
        return
    for m in models:
        if _norm_freq(getattr(m, "freq", "D")) != found:
            raise DataError(
                f"{m.name}: freq={m.freq!r} but the series have {FREQS[found]}ly dates; build "
                f"the models with freq={found!r}."
            )


def cutoffs(df: pd.DataFrame, h: int, n_windows: int, step: int | None = None) -> list:
    """The forecast origins of a backtest (oldest first), shared by all series."""
    step = step or h
    dates = np.sort(df["ds"].unique())
    need = h + (n_windows - 1) * step
    if len(dates) <= need:
        raise ParameterError(
            f"{len(dates)} periods are too few for h={h}, n_windows={n_windows}, step={step}."
        )
    return [
        pd.Timestamp(dates[len(dates) - 1 - h - (n_windows - 1 - i) * step])
        for i in range(n_windows)
    ]


class Ensemble(Forecaster):
    """Combine member forecasts: equal mean, median, or fixed weights.

    Parameters
    ----------
    members : forecasters (or, for :meth:`combine`, their column names).
    weights : None (equal), "median", or a sequence of weights (normalised to sum 1).
    """

    def __init__(self, members: Sequence, weights=None, name: str = "Ensemble", freq: str = "D"):
        self.members, self.weights, self.name, self.freq = list(members), weights, name, freq

    @property
    def member_names(self) -> list[str]:
        return [m if isinstance(m, str) else m.name for m in self.members]

    def combine(self, frame: pd.DataFrame) -> np.ndarray:
        """The ensemble forecast from member columns already present in ``frame``.

        A member without a forecast for a row (NaN: a series too short for it) is left out of
        that row; a row no member forecasts stays NaN.
        """
        vals = frame[self.member_names].to_numpy(float)
        if isinstance(self.weights, str) and self.weights == "median":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                return np.nanmedian(vals, axis=1)
        w = np.ones(vals.shape[1]) if self.weights is None else np.asarray(self.weights, float)
        if len(w) != vals.shape[1]:
            raise ParameterError(f"{self.name}: {len(w)} weights for {vals.shape[1]} members.")
        have = ~np.isnan(vals)
        wsum = have @ w
        out = np.where(have, vals, 0.0) @ w
        return np.divide(out, wsum, out=np.full(len(vals), np.nan), where=wsum > 0)

    def member_notes(self, frame: pd.DataFrame) -> list[str]:
        """One note per member left out of some series of ``frame`` (NaN forecasts)."""
        notes = []
        for m in self.member_names:
            miss = frame.loc[frame[m].isna(), "unique_id"].astype(str).unique()
            if len(miss):
                notes.append(
                    f"{self.name}: {m} left out for {len(miss)} series without its forecast "
                    f"({', '.join(sorted(miss)[:3])}{', ...' if len(miss) > 3 else ''})."
                )
        return notes

    def fit(self, df: pd.DataFrame) -> Ensemble:
        if any(isinstance(m, str) for m in self.members):
            raise ParameterError(f"{self.name}: fit() needs forecaster members, not names.")
        self.fitted_ = [m.clone().fit(df) for m in self.members]
        self.last_ = df[["unique_id", "ds"]]
        return self

    def predict(self, h: int) -> pd.DataFrame:
        self._check_fitted()
        out = None
        for m in self.fitted_:
            p = m.predict(h)
            out = p if out is None else out.merge(p, on=["unique_id", "ds"])
        out[self.name] = self.combine(out)
        return out[["unique_id", "ds", self.name]]


def backtest(
    df: pd.DataFrame,
    models: Sequence[Forecaster],
    h: int = 14,
    n_windows: int = 4,
    step: int | None = None,
    show_progress: bool = True,
    n_jobs: int | None = 1,
) -> pd.DataFrame:
    """Refit each model at each cutoff and forecast the next ``h`` periods.

    Ensembles whose members are earlier models in ``models`` are combined from those columns
    (no refit). Returns ``unique_id, ds, cutoff, y`` and one column per model;
    ``attrs["seconds"]`` maps model name to total fit+predict seconds over the windows,
    ``attrs["budget_cut"]`` model name to the windows whose training its ``max_seconds`` cut
    short, ``attrs["notes"]`` holds one sentence for the report per such model and per
    series left out of a window.
    ``n_jobs`` worker processes fit the (window, model) pairs side by side (None or 0: one
    per CPU core; 1: in this process); the result is the same, every model being
    single-threaded and seeded (:func:`runs_in_worker`).
    :func:`backtest_with_models` also returns the models fitted at the last cutoff.
    """
    return backtest_with_models(df, models, h, n_windows, step, show_progress, n_jobs)[0]


def runs_in_worker(model: Forecaster) -> bool:
    """Whether the backtest may fit ``model`` in a worker process: everything but ensembles
    (combined from their members' columns) and networks placed on a GPU (one device, shared)."""
    return not isinstance(model, Ensemble) and str(getattr(model, "device", "cpu")) in (
        "cpu",
        "None",
    )


def _fit_predict(model: Forecaster, train: pd.DataFrame, h: int) -> tuple:
    """Fit a copy of ``model`` on ``train`` and forecast ``h`` periods:
    ``(fitted, forecast, seconds)``, or ``(SeriesTooShort, None, seconds)``."""
    t0 = time.perf_counter()
    try:
        fitted = model.clone().fit(train)
    except SeriesTooShort as exc:  # left out of this window, with a note
        return exc, None, time.perf_counter() - t0
    return fitted, fitted.predict(h), time.perf_counter() - t0


def _fit_in_workers(trains, models, h, n_jobs, bar) -> dict[tuple[int, str], tuple]:
    """:func:`_fit_predict` of every (window, model) pair that :func:`runs_in_worker`, on
    ``n_jobs`` processes (``trains``: each window's training frame); keyed by (window
    number, model name)."""
    from joblib import Parallel, delayed

    tasks = [(i, m) for i in range(len(trains)) for m in models if runs_in_worker(m)]
    if n_jobs <= 1 or len(tasks) < 2:
        return {}
    run = Parallel(n_jobs=n_jobs, return_as="generator_unordered", batch_size=1)
    out = {}
    with warnings.catch_warnings():  # loky replaces a worker whose memory grew, and says so
        warnings.filterwarnings("ignore", "A worker stopped", UserWarning)
        for key, result in run(delayed(_keyed)((i, m.name), m, trains[i], h) for i, m in tasks):
            out[key] = result
            bar.update(1)
    return out


def _keyed(key: tuple, model: Forecaster, train: pd.DataFrame, h: int) -> tuple:
    return key, _fit_predict(model, train, h)


def backtest_with_models(
    df: pd.DataFrame,
    models: Sequence[Forecaster],
    h: int = 14,
    n_windows: int = 4,
    step: int | None = None,
    show_progress: bool = True,
    n_jobs: int | None = 1,
) -> tuple[pd.DataFrame, dict[str, Forecaster]]:
    """:func:`backtest`, returning ``(frame, fitted)``: ``fitted`` maps each model name to its
    copy fitted at the last cutoff (for feature importance, training curves)."""
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise ParameterError(f"model names must be unique, got {names}")
    _check_freq(df, models)
    cuts = cutoffs(df, h, n_windows, step)
    notes: list[str] = []
    seconds = dict.fromkeys(names, 0.0)
    cut: dict[str, list[float]] = {}  # model -> share of planned steps, per budget-cut window
    frames = []
    fitted: dict[str, Forecaster] = {}
    bar = progress(
        total=len(cuts) * len(models),
        desc="backtest",
        **({} if show_progress else {"disable": True}),
    )
    try:
        trains = [df[df["ds"] <= cutoff] for cutoff in cuts]
        done = _fit_in_workers(trains, models, h, resolve_jobs(n_jobs), bar)
        for i, (cutoff, train) in enumerate(zip(cuts, trains, strict=True)):
            test = df[(df["ds"] > cutoff)].groupby("unique_id", sort=True).head(h)
            frame = test[["unique_id", "ds", "y"]].copy()
            frame.insert(2, "cutoff", cutoff)
            seconds_now: dict[str, float] = {}
            for model in models:
                t0 = time.perf_counter()
                if isinstance(model, Ensemble) and set(model.member_names) <= set(frame.columns):
                    frame[model.name] = model.combine(frame)
                    # an ensemble costs what its members cost
                    seconds[model.name] += sum(seconds_now[m] for m in model.member_names)
                else:
                    result = done.get((i, model.name))
                    if result is None:  # fitted here, inside this timing
                        result = _fit_predict(model, train, h)
                        bar.update(1)
                    else:  # fitted in a worker: its seconds there count
                        t0 -= result[2]
                    model_fit, pred, _ = result
                    if isinstance(model_fit, SeriesTooShort):
                        notes.append(f"{model_fit} (window after {cutoff.date()})")
                        frame[model.name] = np.nan
                    else:
                        fitted[model.name] = model_fit
                        frame = frame.merge(pred, on=["unique_id", "ds"], how="left")
                        if pred[model.name].notna().any() and frame[model.name].isna().all():
                            raise DataError(
                                f"{model.name}: forecasts for {pred['ds'].min().date()}.. but "
                                f"the test dates start {frame['ds'].min().date()}: the dates "
                                "do not follow the model's freq (check freq)."
                            )
                        notes += getattr(fitted[model.name], "notes_", [])
                        run = getattr(model_fit, "fit_result_", None)
                        if getattr(run, "budget_cut", False):
                            share = run.steps_run / max(run.planned_steps, 1)
                            cut.setdefault(model.name, []).append(share)
                if isinstance(model, Ensemble) and set(model.member_names) <= set(frame.columns):
                    notes += model.member_notes(frame)
                seconds_now[model.name] = time.perf_counter() - t0
                seconds[model.name] += seconds_now[model.name]
                if isinstance(model, Ensemble):
                    bar.update(1)
            frames.append(frame)
    finally:
        bar.close()
    out = pd.concat(frames, ignore_index=True)
    missing = out[names].isna().any()
    if missing.any():
        log.info("models with missing forecasts: %s", list(missing[missing].index))
    out.attrs["seconds"] = seconds
    out.attrs["budget_cut"] = {name: len(shares) for name, shares in cut.items()}
    budget = [
        f"{name}: its time budget (max_seconds) shortened training in {len(shares)} of "
        f"{len(cuts)} windows ({np.mean(shares):.0%} of the planned steps ran); on a faster "
        "or less loaded machine it trains longer"
        for name, shares in cut.items()
    ]
    out.attrs["notes"] = list(dict.fromkeys(budget + notes))
    return out, fitted


# ------------------------------------------------------------------ conformal intervals
def _scales(history: pd.DataFrame, cuts, season: int) -> pd.DataFrame:
    """Per (unique_id, cutoff) in-sample seasonal MAE, used to make residuals comparable."""
    rows = []
    for uid, g in history.groupby("unique_id", sort=False):
        y, ds = g["y"].to_numpy(float), g["ds"].to_numpy()
        for c in cuts:
            ins = y[ds <= np.datetime64(c)]
            s = np.mean(np.abs(ins[season:] - ins[:-season])) if len(ins) > season else np.nan
            rows.append(
                {"unique_id": uid, "cutoff": pd.Timestamp(c), "scale": s if s > 0 else np.nan}
            )
    return pd.DataFrame(rows)


def conformal_quantiles(
    cv: pd.DataFrame,
    history: pd.DataFrame,
    model: str,
    levels: Sequence[int] = (80, 95),
    season: int = 7,
) -> pd.DataFrame:
    """Split-conformal quantiles of |scaled residual| per horizon step.

    Residuals ``|y - yhat| / scale`` (scale = in-sample seasonal MAE of the series at that
    cutoff) are pooled across series for each horizon step ``k``; the quantile at level ``L``
    uses the finite-sample correction ``ceil((n + 1) L) / n``.
    Returns a frame indexed by horizon step with one column per level.
    """
    frame = _with_step(cv).merge(
        _scales(history, cv["cutoff"].unique(), season), on=["unique_id", "cutoff"]
    )
    frame["score"] = (frame["y"] - frame[model]).abs() / frame["scale"]
    out = {}
    for lvl in levels:

        def q(s: pd.Series, lvl: int = lvl) -> float:
            s = s.dropna().to_numpy()
            n = len(s)
            p = min(1.0, np.ceil((n + 1) * lvl / 100) / n) if n else np.nan
            return float(np.quantile(s, p, method="higher")) if n else np.nan

        out[lvl] = frame.groupby("step")["score"].apply(q)
    return pd.DataFrame(out)


def _with_step(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["step"] = frame.groupby(["unique_id", "cutoff"]).cumcount() + 1
    return frame


def add_intervals(
    forecast: pd.DataFrame,
    quantiles: pd.DataFrame,
    history: pd.DataFrame,
    model: str,
    cutoff=None,
    season: int = 7,
) -> pd.DataFrame:
    """Add ``<model>-lo-L`` / ``<model>-hi-L`` columns (clipped at 0) to a forecast frame.

    ``forecast`` has ``unique_id, ds, <model>`` (and optionally ``cutoff``); scales come from
    the history up to each row's cutoff (or up to ``cutoff``/the last date).
    """
    out = forecast.copy()
    if "cutoff" not in out.columns:
        out["cutoff"] = pd.Timestamp(cutoff) if cutoff is not None else history["ds"].max()
        drop = True
    else:
        drop = False
    out = _with_step(out).merge(
        _scales(history, out["cutoff"].unique(), season), on=["unique_id", "cutoff"], how="left"
    )
    for lvl in quantiles.columns:
        width = out["step"].map(quantiles[lvl]).to_numpy() * out["scale"].to_numpy()
        out[f"{model}-lo-{lvl}"] = np.maximum(out[model] - width, 0.0)
        out[f"{model}-hi-{lvl}"] = out[model] + width
    out = out.drop(columns=["step", "scale"] + (["cutoff"] if drop else []))
    return out


def interval_coverage(
    cv: pd.DataFrame,
    history: pd.DataFrame,
    models: Sequence[str],
    levels: Sequence[int] = (80, 95),
    season: int = 7,
) -> pd.DataFrame:
    """Empirical coverage of conformal intervals, honestly: calibrate on all windows but the
    last, measure on the last one.

    Returns one row per model with ``coverage_<L>`` and ``width_<L>`` (mean width relative to
    the mean actual).
    """
    cuts = sorted(cv["cutoff"].unique())
    if len(cuts) < 2:
        raise ParameterError("interval coverage needs a backtest with at least 2 windows.")
    calib, test = cv[cv["cutoff"] < cuts[-1]], cv[cv["cutoff"] == cuts[-1]]
    rows = []
    for m in models:
        q = conformal_quantiles(calib, history, m, levels, season)
        iv = add_intervals(
            test[["unique_id", "ds", "cutoff", "y", m]], q, history, m, season=season
        )
        row = {"model": m}
        for lvl in levels:
            lo, hi = iv[f"{m}-lo-{lvl}"], iv[f"{m}-hi-{lvl}"]
            row[f"coverage_{lvl}"] = float(((iv["y"] >= lo) & (iv["y"] <= hi)).mean())
            row[f"width_{lvl}"] = float((hi - lo).mean() / max(iv["y"].abs().mean(), 1e-9))
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")
