"""Automatic model selection on the validation windows before the test windows.

The procedure notebook 02 used by hand for the Complete Journey, automated: one backtest with
``2 * n_windows`` origins; the first ``n_windows`` are the **validation** windows, the last
``n_windows`` the **test** windows of the leaderboard. On the validation windows only:

1. every model's MASE is compared with the best of the reference baselines (SeasonalNaive,
   AutoETS): a model that does not beat it by the relative ``margin`` is dropped (never
   recommended), and so is a model without a forecast for every series and window;
2. the ensemble members are chosen greedily among the models that beat the best baseline
   (without the margin) and that baseline: start from the best, add the model that lowers the
   ensemble's (equal-weight mean) MASE the most, stop when no model lowers it by more than
   ``tol`` or ``max_members`` are in; the ensemble itself must clear the margin;
3. the recommended model is the best of the ensemble (two members or more) and the kept
   models; if nothing beats the baselines, the best baseline is recommended.

>>> cv = fc.backtest(df, models, h=14, n_windows=8, step=14)
>>> val, test = fc.split_windows(cv, 4)
>>> sel = fc.select_models(val, df, season=7)
>>> test["Ensemble"] = sel.ensemble().combine(test)
>>> sel.table      # validation MASE, role and reason of every model
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ecomlib.errors import ParameterError
from ecomlib.forecast.backtest import Ensemble
from ecomlib.forecast.metrics import model_columns

BASELINES = ("SeasonalNaive", "AutoETS")


@dataclass
class Selection:
    """What :func:`select_models` chose, and why.

    Attributes
    ----------
    recommended : name of the model to use (``ensemble_name`` when the ensemble won).
    members : the ensemble's members (empty when fewer than two models were kept).
    table : one row per model: validation ``mase``, ``coverage`` (share of series x windows
        forecast), ``role`` (recommended, member, kept, dropped, baseline) and ``reason``.
    reference : the best baseline and its validation MASE.
    ensemble_name : column name of the chosen ensemble.
    notes : sentences about models left out of some series.
    """

    recommended: str
    members: list[str]
    table: pd.DataFrame
    reference: tuple[str, float] | None
    ensemble_name: str = "Ensemble"
    notes: list[str] = field(default_factory=list)

    def ensemble(self, freq: str = "D") -> Ensemble:
        """The chosen ensemble as an (unfitted, by-name) :class:`Ensemble`."""
        if len(self.members) < 2:
            raise ParameterError(
                f"no ensemble was chosen (members {self.members}); use {self.recommended!r}."
            )
        return Ensemble(list(self.members), name=self.ensemble_name, freq=freq)

    def summary(self) -> str:
        """One paragraph: what was chosen and why."""
        ref = (
            f"the best baseline, {self.reference[0]} (validation MASE {self.reference[1]:.3f})"
            if self.reference
            else "no baseline (none was run)"
        )
        dropped = self.table.index[self.table["role"] == "dropped"].tolist()
        mase = self.table["mase"]
        text = f"Chosen on the validation windows: **{self.recommended}** (MASE "
        text += f"{mase.get(self.recommended, float('nan')):.3f}), against {ref}. "
        if len(self.members) >= 2:
            text += f"{self.ensemble_name} = mean of {', '.join(self.members)}. "
        if dropped:
            text += f"Not recommended (did not beat the baseline): {', '.join(dropped)}."
        return text


def split_windows(cv: pd.DataFrame, n_test: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(validation, test) parts of a backtest frame: the last ``n_test`` cutoffs are the test.

    Parameters
    ----------
    cv : backtest output with a ``cutoff`` column.
    n_test : number of test windows (the latest cutoffs).
    """
    cuts = sorted(cv["cutoff"].unique())
    if len(cuts) <= n_test:
        raise ParameterError(
            f"n_test={n_test} leaves no validation window: the backtest has {len(cuts)} "
            "cutoffs; run it with n_windows = 2 * n_test."
        )
    is_test = cv["cutoff"].isin(cuts[-n_test:])
    val, test = cv[~is_test].reset_index(drop=True), cv[is_test].reset_index(drop=True)
    val.attrs, test.attrs = dict(cv.attrs), dict(cv.attrs)
    return val, test


def _scales(cv: pd.DataFrame, history: pd.DataFrame, season: int) -> np.ndarray:
    """Per row of ``cv``: the in-sample seasonal MAE of its series up to its cutoff."""
    out = np.full(len(cv), np.nan)
    hist = {u: g.sort_values("ds") for u, g in history.groupby("unique_id", sort=False)}
    for (uid, cut), pos in cv.groupby(["unique_id", "cutoff"], sort=False).indices.items():
        h = hist[uid]
        x = h.loc[h["ds"] <= cut, "y"].to_numpy(float)
        d = np.mean(np.abs(x[season:] - x[:-season])) if len(x) > season else np.nan
        out[pos] = d if d > 0 else np.nan
    return out


def _mase(err: np.ndarray, scale: np.ndarray, group: np.ndarray, n_groups: int) -> float:
    """Mean over (series, cutoff) groups of mean |error| / scale (NaN rows left out)."""
    ok = ~np.isnan(err)
    sums = np.bincount(group[ok], np.abs(err[ok]) / scale[ok], n_groups)
    counts = np.bincount(group[ok], minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        per = sums / counts
    return float(np.nanmean(per)) if np.isfinite(per).any() else float("nan")


def select_models(
    cv: pd.DataFrame,
    history: pd.DataFrame,
    season: int = 7,
    baselines: Sequence[str] = BASELINES,
    max_members: int = 4,
    tol: float = 0.001,
    margin: float = 0.01,
    ensemble_name: str = "Ensemble",
    candidates: Sequence[str] | None = None,
) -> Selection:
    """Choose the recommended model and the ensemble members on validation windows.

    Parameters
    ----------
    cv : backtest frame of the validation windows only (see :func:`split_windows`).
    history : the long-format series the backtest ran on (for the MASE scales).
    season : seasonal period of the MASE scale.
    baselines : models a recommended model must beat (those present in ``cv``).
    max_members : most ensemble members.
    tol : least MASE gain for adding a member.
    margin : relative MASE gain over the best baseline a model needs to be kept.
    ensemble_name : name of the chosen ensemble (a column of that name in ``cv`` is ignored).
    candidates : models that may be recommended or be members (default: every model column).

    Returns
    -------
    Selection
    """
    cols = [c for c in model_columns(cv) if c != ensemble_name]
    if not cols:
        raise ParameterError("select_models: the backtest frame has no model columns.")
    cands = [c for c in (candidates or cols) if c in cols]
    scale = _scales(cv, history, season)
    keys = cv["unique_id"].astype(str) + "|" + cv["cutoff"].astype(str)
    group, uniq = pd.factorize(keys)
    n_groups = len(uniq)
    y = cv["y"].to_numpy(float)
    preds = {c: cv[c].to_numpy(float) for c in cols}
    mase = {c: _mase(y - preds[c], scale, group, n_groups) for c in cols}
    coverage = {c: float(np.mean(~np.isnan(preds[c]))) for c in cols}
    base = {b: mase[b] for b in baselines if b in mase and np.isfinite(mase[b])}
    reference = min(base.items(), key=lambda kv: kv[1]) if base else None
    bar = reference[1] * (1 - margin) if reference else np.inf

    def beats(c: str) -> bool:
        return np.isfinite(mase[c]) and mase[c] < bar and coverage[c] == 1.0

    # greedy forward selection of the ensemble members among the models that beat the best
    # baseline (no margin: the ensemble as a whole must clear it) and that baseline
    ref_mase = reference[1] if reference else np.inf
    pool = [
        c
        for c in cands
        if (np.isfinite(mase[c]) and mase[c] < ref_mase and coverage[c] == 1.0)
        or (reference and c == reference[0])
    ]
    pool = sorted(pool, key=lambda c: mase[c])
    members: list[str] = pool[:1]
    best = mase[members[0]] if members else np.inf
    while members and len(members) < max_members:
        trial = {}
        for c in pool:
            if c in members:
                continue
            stack = np.column_stack([preds[m] for m in [*members, c]])
            trial[c] = _mase(y - _nanmean(stack), scale, group, n_groups)
        if not trial:
            break
        c, score = min(trial.items(), key=lambda kv: kv[1])
        if not score < best - tol:
            break
        members.append(c)
        best = score
    ens_score = best if len(members) >= 2 else np.nan
    ens_cover = (
        float(np.mean(~np.isnan(_nanmean(np.column_stack([preds[m] for m in members])))))
        if len(members) >= 2
        else 0.0
    )
    options = {c: mase[c] for c in cands if beats(c)}
    if len(members) >= 2 and ens_score < bar and ens_cover == 1.0:
        options[ensemble_name] = ens_score
    if options:
        recommended = min(options, key=options.get)
    elif reference:
        recommended = reference[0]
    else:
        recommended = min((c for c in cols if np.isfinite(mase[c])), key=mase.get)
    if recommended != ensemble_name and len(members) >= 2 and not ens_score < bar:
        members_note = f"the ensemble of {', '.join(members)} did not beat the baseline"
    else:
        members_note = ""
    rows = []
    ref_txt = f"{reference[0]} {reference[1]:.3f}" if reference else "-"
    by = f" by {margin:.0%}" if margin else ""
    for c in cols:
        if c == recommended:
            role, why = (
                "recommended",
                "lowest validation MASE among the models that beat " + ref_txt,
            )
            if c in base and not options:
                why = "no model beat the baselines: the best baseline"
        elif c in members and len(members) >= 2:
            role, why = "member", f"lowers the {ensemble_name}'s validation MASE"
        elif c in base:
            role, why = "baseline", "reference"
        elif coverage[c] < 1.0:
            role, why = "dropped", f"forecasts only {coverage[c]:.0%} of the series x windows"
        elif beats(c):
            role, why = "kept", f"beats {ref_txt}{by}"
        else:
            role, why = "dropped", f"MASE {mase[c]:.3f} does not beat {ref_txt}{by}"
        rows.append(
            {"model": c, "mase": mase[c], "coverage": coverage[c], "role": role, "reason": why}
        )
    if len(members) >= 2:
        role = (
            "recommended"
            if recommended == ensemble_name
            else ("kept" if ens_score < bar else "dropped")
        )
        why = f"mean of {', '.join(members)}" + (f"; {members_note}" if members_note else "")
        rows.append(
            {
                "model": ensemble_name,
                "mase": ens_score,
                "coverage": ens_cover,
                "role": role,
                "reason": why,
            }
        )
    table = pd.DataFrame(rows).set_index("model").sort_values("mase")
    notes = [
        f"{c} forecasts {coverage[c]:.0%} of the validation series x windows."
        for c in cols
        if coverage[c] < 1.0
    ]
    return Selection(
        recommended=recommended,
        members=members if len(members) >= 2 else [],
        table=table,
        reference=reference,
        ensemble_name=ensemble_name,
        notes=notes,
    )


def _nanmean(stack: np.ndarray) -> np.ndarray:
    have = ~np.isnan(stack)
    n = have.sum(1)
    total = np.where(have, stack, 0.0).sum(1)
    return np.divide(total, n, out=np.full(len(stack), np.nan), where=n > 0)


def backtest_and_select(
    df: pd.DataFrame,
    models: Sequence,
    h: int,
    n_windows: int,
    step: int | None = None,
    season: int = 7,
    select: bool = True,
    show_progress: bool = True,
    n_jobs: int | None = 1,
    **select_kwargs,
) -> tuple[pd.DataFrame, dict, Selection | None, pd.DataFrame | None]:
    """The backtest of notebook 02, with or without the automatic selection.

    With ``select=True`` the backtest runs on ``2 * n_windows`` origins; the models are
    chosen on the first ``n_windows`` (:func:`select_models`) and the chosen ensemble (named
    "Ensemble", replacing any Ensemble in ``models``) is combined on the last ``n_windows``,
    the test windows that are returned. With ``select=False`` it is the plain
    :func:`ecomlib.forecast.backtest` on ``n_windows`` origins.

    Parameters
    ----------
    df : long-format series.
    models : forecasters (see :func:`ecomlib.forecast.zoo.make_models`).
    h : horizon.
    n_windows : number of test windows (and of validation windows with ``select``).
    step : periods between origins (default ``h``).
    season : seasonal period of the MASE scale.
    select : choose the models on the validation windows.
    show_progress : show a progress bar.
    n_jobs : worker processes for the fits (None or 0: one per core; the same result).
    **select_kwargs : passed to :func:`select_models`.

    Returns
    -------
    (test frame, fitted models at the last cutoff, Selection or None, validation frame or None)
    """
    from ecomlib.forecast.backtest import backtest_with_models

    if not select:
        cv, fitted = backtest_with_models(
            df,
            models,
            h=h,
            n_windows=n_windows,
            step=step,
            show_progress=show_progress,
            n_jobs=n_jobs,
        )
        return cv, fitted, None, None
    name = select_kwargs.pop("ensemble_name", "Ensemble")
    run = [m for m in models if not (isinstance(m, Ensemble) and m.name == name)]
    cv, fitted = backtest_with_models(
        df,
        run,
        h=h,
        n_windows=2 * n_windows,
        step=step,
        show_progress=show_progress,
        n_jobs=n_jobs,
    )
    val, test = split_windows(cv, n_windows)
    sel = select_models(val, df, season=season, ensemble_name=name, **select_kwargs)
    if sel.members:
        test[name] = sel.ensemble().combine(test)
        test.attrs["seconds"] = {
            **test.attrs.get("seconds", {}),
            name: sum(cv.attrs["seconds"].get(m, 0.0) for m in sel.members),
        }
        test.attrs["notes"] = test.attrs.get("notes", []) + sel.ensemble().member_notes(test)
    return test, fitted, sel, val
