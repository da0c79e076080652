"""LightGBM global model: one tree ensemble for every series, features built without leakage.

Every training row is a pair (forecast origin ``o``, horizon ``k``): the target is the value at
``o + k`` and **every feature is computed from values at or before ``o``** plus calendar facts
of the target date that are known in advance (day of week, holidays, and optional exogenous
plan features such as promotions, see ``exog``). Values are divided by
the series' mean over the 28 periods up to ``o`` (a per-origin scale), so one model serves big
and small series, and the prediction is multiplied back.

Two strategies:

* ``"direct"`` (default): rows for every horizon ``k = 1..h`` with ``k`` as a feature; the
  forecast for ``cutoff + k`` uses origin ``cutoff``, i.e. all the latest data;
* ``"lags"``: the classic "lags >= h" model of the M5 solutions: only ``k = h`` is trained and
  the forecast for ``cutoff + k`` uses origin ``cutoff + k - h``. No recursion either way.

:func:`make_features` is the single place features are built (training and prediction), which
is what the leakage test checks.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ecomlib._validate import check_param
from ecomlib.errors import ParameterError
from ecomlib.forecast.base import Forecaster, SeriesTooShort
from ecomlib.forecast.calendar import calendar_features
from ecomlib.forecast.exog import split_exog
from ecomlib.forecast.series import _norm_freq, add_periods, future_dates, season_length

log = logging.getLogger(__name__)

N_LAST = 14  # last values before the origin
N_SAME = 8  # same-weekday values before the origin
SCALE_WINDOW = 28
MIN_ORIGINS = 8  # training origins a series needs at least (for the horizon h)
RATIO_FLOOR = 0.1  # smallest same-weekday base (in units of the scale) for target="ratio"
# calendar columns of the target date (see ecomlib.forecast.calendar_features) per ``calendar=``.
# "full" (default): all of them.
# "none": no calendar feature at all; "month": only the target's month (for weekly, monthly and
# quarterly data, where days of week and holidays do not exist; the default there, "auto").
CALENDAR_COLUMNS = {
    "full": None,
    "none": (),
    "month": ("month",),
}


def lookback(season: int = 7, n_same: int = N_SAME) -> int:
    """Values needed before (and including) the origin to build one row.

    Parameters
    ----------
    season : seasonal period of the same-season features.
    n_same : number of same-season values read before the origin.
    """
    return max(SCALE_WINDOW, N_LAST, season * n_same + season)


def auto_calendar(freq: str) -> str:
    """The default calendar of a frequency: "full" for daily data, else "month"."""
    return "full" if _norm_freq(freq) == "D" else "month"


def make_features(
    x: np.ndarray,
    dates: pd.DatetimeIndex,
    origins: np.ndarray,
    horizons: np.ndarray,
    season: int = 7,
    step: pd.Timedelta | str | None = None,
    exog: pd.DataFrame | None = None,
    calendar: str = "full",
    n_same: int = N_SAME,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Features of rows (origin index ``o``, horizon ``k``) of one series ``x``.

    Parameters
    ----------
    x : values of one series (oldest first).
    dates : the dates of ``x``.
    origins, horizons : equally long integer arrays; the target is ``x[o + k]`` (which may lie
        beyond ``x``: only ``x[: o + 1]`` is ever read).
    season : seasonal period (same-weekday features).
    step : time between periods (default one day), or a frequency ("D", "W", "M", "Q").
    exog : optional known-in-advance features of this series, indexed by date (e.g. one frame
        of :func:`ecomlib.forecast.exog.split_exog`). Adds ``exog_<c>``, the value at the
        target date, and ``exog_<c>_delta``, that value minus the value at the origin date
        (NaN where a date is missing from ``exog``). Never reads ``x`` beyond the origin.
    calendar : which calendar facts of the target date become ``target_<c>`` features, a key
        of :data:`CALENDAR_COLUMNS`: "full" (default) every column of
        :func:`ecomlib.forecast.calendar_features`; "month" only the month; "none" none.
    n_same : same-season values read before the origin (at least 2; fewer fit short series).

    Returns
    -------
    (features, scale): a DataFrame of features and the per-row scale the values were divided by.
    """
    _check_calendar(calendar)
    x = np.asarray(x, float)
    o = np.asarray(origins, int)
    k = np.asarray(horizons, int)
    if n_same < 2:
        raise ParameterError(f"n_same must be >= 2, got {n_same}")
    if (o < lookback(season, n_same) - 1).any():
        raise ParameterError(f"origins need at least {lookback(season, n_same)} values of history")
    if (o >= len(x)).any():
        raise ParameterError("an origin lies beyond the data")
    csum = _cumsum0(x)

    def mean_to(end: np.ndarray, n: int) -> np.ndarray:  # mean of x[end-n+1 .. end]
        return _window_mean(csum, end, n)

    scale = mean_to(o, SCALE_WINDOW)
    fallback = csum[o + 1] / (o + 1)
    scale = np.where(scale > 0, scale, np.where(fallback > 0, fallback, 1.0))
    feats: dict[str, np.ndarray] = {"horizon": k.astype(np.float32)}
    for j in range(N_LAST):
        feats[f"last_{j}"] = x[o - j] / scale
    m0 = -(-k // season)  # ceil(k / season): first same-weekday lag at or before o
    same = np.stack([x[o + k - season * (m0 + i)] for i in range(n_same)], axis=1) / scale[:, None]
    for i in range(min(4, n_same)):
        feats[f"same_{i}"] = same[:, i]
    feats["same_mean4"] = same[:, :4].mean(1)
    feats["same_mean8"] = same.mean(1)
    feats["same_median8"] = np.median(same, axis=1)
    feats["same_std8"] = same.std(1)
    feats["mean_7"] = mean_to(o, season) / scale
    feats["mean_14"] = mean_to(o, 14) / scale
    feats["mean_56"] = mean_to(o, min(56, lookback(season, n_same))) / scale
    feats["zero_share_28"] = _zero_share(x, o)
    feats["log_scale"] = np.log1p(scale)
    step = step or pd.Timedelta(days=1)
    if isinstance(step, str):
        target_dates = add_periods(pd.DatetimeIndex(dates[o]), k, step)
        daily = _norm_freq(step) == "D"
    else:
        target_dates = pd.DatetimeIndex(dates[o]) + pd.to_timedelta(k * step.days, unit="D")
        daily = step.days == 1
    keep = CALENDAR_COLUMNS[calendar]
    if keep is None or keep:
        cal = calendar_features(target_dates)
        for c in cal.columns if keep is None else keep:
            feats[f"target_{c}"] = cal[c].to_numpy()
    if daily and calendar != "none":
        feats["origin_dow"] = pd.DatetimeIndex(dates[o]).dayofweek.to_numpy().astype(np.float32)
    if exog is not None:
        at_target = exog.reindex(target_dates)
        at_origin = exog.reindex(pd.DatetimeIndex(dates[o]))
        for c in exog.columns:
            feats[f"exog_{c}"] = at_target[c].to_numpy()
            feats[f"exog_{c}_delta"] = at_target[c].to_numpy() - at_origin[c].to_numpy()
    frame = pd.DataFrame(feats)
    return frame.astype(np.float32), scale


def _check_calendar(calendar: str) -> None:
    if calendar not in CALENDAR_COLUMNS:
        raise ParameterError(
            f"calendar must be one of {sorted(CALENDAR_COLUMNS)}, got {calendar!r}"
        )


def _cumsum0(x: np.ndarray) -> np.ndarray:
    """Cumulative sums with a leading 0, so window sums are two lookups."""
    return np.concatenate([[0.0], np.cumsum(x)])


def _window_mean(cs: np.ndarray, end: np.ndarray, n: int) -> np.ndarray:
    """Mean of the ``n`` values ending at each index ``end``, from :func:`_cumsum0` sums."""
    return (cs[end + 1] - cs[end + 1 - n]) / n


def _zero_share(x: np.ndarray, o: np.ndarray) -> np.ndarray:
    z = np.concatenate([[0], np.cumsum(x == 0)])
    return (z[o + 1] - z[o + 1 - SCALE_WINDOW]) / SCALE_WINDOW


class LightGBMForecaster(Forecaster):
    """Global LightGBM forecaster on scaled lag, same-weekday, rolling and calendar features.

    Parameters
    ----------
    strategy : {"direct", "lags"}
        See the module docstring.
    h : int
        Horizon the model is trained for (``predict`` accepts any ``h`` up to it).
    n_estimators, learning_rate, num_leaves, min_child_samples, subsample, colsample :
        LightGBM knobs.
    objective : "l2", "l1" or "huber" (on scaled values).
    origin_stride : use every ``origin_stride``-th origin for training rows (speed).
    n_jobs : LightGBM threads.
    seed : random seed.
    target : "level" (default): learn the value over the 28-period scale; "ratio": learn it
        over the mean of the last 4 same-weekday values (floored at 0.1 scale), with rows
        weighted by that base so the L1 loss still counts errors in scaled units.
    exog : optional long frame ``unique_id, ds, <feature>...`` of features known in advance
        for every date the model forecasts (e.g. the promotion plan of
        :func:`ecomlib.forecast.exog.promotion_features`). Given at construction so that
        ``fit(df)`` / ``predict(h)`` keep the common interface: training rows read it at their
        target dates inside ``df``, forecasts at the future target dates. Series or dates it
        lacks get NaN features. It may also cover the ``extra_series``.
    extra_series : optional long frame ``unique_id, ds, y`` of **additional training series**
        (e.g. the categories beyond the scored top 50). A global model learns the shared
        patterns (weekday, holidays, promotion response) from more series; only the series of
        ``df`` are forecast. ``fit(df)`` cuts them at ``df``'s last date, so no value after
        the forecast origin is ever read (series of ``df`` itself are ignored here; series
        too short at the cutoff are skipped).
    extra_stride : use every ``extra_stride``-th origin for the rows of the extra series
        (on top of ``origin_stride``), to keep training time in check.
    extra_weight : weight of an extra series' row relative to a scored series' row.
    season : seasonal period of the same-season features (None: from ``freq``). A series too
        short for 8 same-season values gets fewer (at least 2); shorter still, the season
        falls back to 1; series shorter than that are not forecast (NaN, listed in
        ``notes_``).
    calendar : calendar features of the target date: "auto" (default: "full" for daily data,
        "month" otherwise), "full", "month" or "none" (see
        :data:`CALENDAR_COLUMNS` and :func:`make_features`).
    params : further ``lightgbm.LGBMRegressor`` keyword arguments (e.g.
        ``{"extra_trees": True}``); they override the knobs above.
    """

    def __init__(
        self,
        strategy: str = "direct",
        h: int = 14,
        n_estimators: int = 400,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 40,
        subsample: float = 0.8,
        colsample: float = 0.8,
        objective: str = "l2",
        origin_stride: int = 1,
        n_jobs: int = 1,
        seed: int = 42,
        season: int | None = None,
        name: str | None = None,
        freq: str = "D",
        exog: pd.DataFrame | None = None,
        target: str = "level",
        extra_series: pd.DataFrame | None = None,
        extra_stride: int = 1,
        extra_weight: float = 1.0,
        calendar: str = "auto",
        params: dict | None = None,
    ):
        self.params = params
        self.calendar = calendar
        self.target = target
        self.strategy, self.h = strategy, h
        self.n_estimators, self.learning_rate, self.num_leaves = (
            n_estimators,
            learning_rate,
            num_leaves,
        )
        self.min_child_samples, self.subsample, self.colsample = (
            min_child_samples,
            subsample,
            colsample,
        )
        self.objective, self.origin_stride, self.n_jobs, self.seed = (
            objective,
            origin_stride,
            n_jobs,
            seed,
        )
        self.season, self.freq = season, freq
        self.exog = exog
        self.extra_series, self.extra_stride, self.extra_weight = (
            extra_series,
            extra_stride,
            extra_weight,
        )
        self.name = name or ("LightGBM" if strategy == "direct" else "LightGBM-lags")

    def _validate_params(self) -> None:
        """Check the parameters (``fit`` calls this first); raises :class:`ParameterError`."""
        check_param(
            "strategy",
            self.strategy,
            self.strategy in ("direct", "lags"),
            "'direct' or 'lags'",
            self,
        )
        check_param(
            "target", self.target, self.target in ("level", "ratio"), "'level' or 'ratio'", self
        )
        check_param(
            "calendar",
            self.calendar,
            self.calendar == "auto" or self.calendar in CALENDAR_COLUMNS,
            f"'auto' or one of {sorted(CALENDAR_COLUMNS)}",
            self,
        )
        check_param(
            "params",
            self.params,
            self.params is None or isinstance(self.params, Mapping),
            "a dict (a mapping) or None",
            self,
        )
        if self.exog is not None:
            split_exog(self.exog)  # raises ParameterError on a malformed frame
        if self.extra_series is not None:
            columns = set(getattr(self.extra_series, "columns", ()))
            check_param(
                "extra_series",
                self.extra_series,
                {"unique_id", "ds", "y"} <= columns,
                "None or a long frame with columns unique_id, ds, y",
                self,
            )
        check_param(
            "extra_stride", self.extra_stride, lambda v: int(v) >= 1, "an integer >= 1", self
        )
        check_param("extra_weight", self.extra_weight, lambda v: float(v) > 0, "a number > 0", self)

    def _exog_of(self, uid) -> pd.DataFrame | None:
        if self.exog is None:
            return None
        if not hasattr(self, "exog_"):
            self.exog_ = split_exog(self.exog)
            self.exog_columns_ = list(next(iter(self.exog_.values())).columns)
        got = self.exog_.get(str(uid))
        return got if got is not None else pd.DataFrame(columns=self.exog_columns_, dtype=float)

    def _base(self, feats: pd.DataFrame) -> np.ndarray:
        """What the scaled target is divided by: 1, or the same-weekday mean (``"ratio"``)."""
        if self.target == "level":
            return np.ones(len(feats))
        return np.maximum(feats["same_mean4"].to_numpy(float), RATIO_FLOOR)

    def _rows(self, n: int, stride: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        first = lookback(self.season_, self.n_same_) - 1
        ks = np.arange(1, self.h + 1) if self.strategy == "direct" else np.array([self.h])
        origins, horizons = [], []
        for k in ks:
            o = np.arange(n - 1 - k, first - 1, -(stride or self.origin_stride))[::-1]
            origins.append(o)
            horizons.append(np.full(len(o), k))
        return np.concatenate(origins), np.concatenate(horizons)

    def training_frame(self, df: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """(features, scaled target, sample weights) of every training row.

        Rows come from the series of ``df`` and from ``extra_series`` cut at ``df``'s last date.
        Every row weighs 1 (``extra_weight`` for rows of extra series), times the ratio base
        with ``target="ratio"``.
        """
        X, Y, W = [], [], []
        self.series_ = sorted(df["unique_id"].unique())
        lengths = df.groupby("unique_id").size()
        self._resolve_history(int(lengths.max()))
        need = lookback(self.season_, self.n_same_) + self.h + MIN_ORIGINS - 1
        short = sorted(lengths.index[lengths < need].astype(str))
        if len(short) == len(lengths):
            raise SeriesTooShort(
                f"{self.name}: every series has fewer than {need} values (lookback + horizon + "
                f"{MIN_ORIGINS - 1}); "
                "use a statistical model for such short series."
            )
        if short:
            self.notes_.append(
                f"{self.name}: {len(short)} series shorter than {need} values not forecast "
                f"({', '.join(short[:3])}{', ...' if len(short) > 3 else ''})."
            )
        self.skipped_ = set(short)
        for _uid, g in df.sort_values(["unique_id", "ds"]).groupby("unique_id", sort=True):
            if str(_uid) in self.skipped_:
                continue
            self._add_rows(g, _uid, self.origin_stride, 1.0, X, Y, W)
        extra = self._extra_until(df)
        self.n_extra_series_ = 0
        for _uid, g in extra.groupby("unique_id", sort=True):
            if len(g) >= need:
                self._add_rows(
                    g,
                    _uid,
                    self.origin_stride * int(self.extra_stride),
                    float(self.extra_weight),
                    X,
                    Y,
                    W,
                )
                self.n_extra_series_ += 1
        w = np.concatenate(W)
        return pd.concat(X, ignore_index=True), np.concatenate(Y), w / w.mean()

    def _resolve_history(self, n: int) -> None:
        """Season, same-season lags and calendar for series of ``n`` values (see ``season``)."""
        self.notes_ = []
        season = self.season or season_length(self.freq)
        self.calendar_ = auto_calendar(self.freq) if self.calendar == "auto" else self.calendar
        for n_same in range(N_SAME, 1, -1):
            if lookback(season, n_same) + self.h + MIN_ORIGINS - 1 <= n:
                self.season_, self.n_same_ = season, n_same
                break
        else:
            self.season_, self.n_same_ = 1, N_SAME
            if season > 1:
                self.notes_.append(
                    f"{self.name}: {n} values are too few for same-season lags of season "
                    f"{season}; season 1 used."
                )
        if self.n_same_ < N_SAME and self.season_ > 1:
            self.notes_.append(f"{self.name}: {self.n_same_} same-season lags (short series).")

    def _extra_until(self, df: pd.DataFrame) -> pd.DataFrame:
        """The extra training series up to ``df``'s last date, minus the series of ``df``."""
        if self.extra_series is None:
            return pd.DataFrame(columns=["unique_id", "ds", "y"])
        e = self.extra_series[["unique_id", "ds", "y"]]
        e = e.assign(unique_id=e["unique_id"].astype(str), ds=pd.to_datetime(e["ds"]))
        keep = (e["ds"] <= df["ds"].max()) & ~e["unique_id"].isin(df["unique_id"].astype(str))
        return e[keep].sort_values(["unique_id", "ds"])

    def _add_rows(self, g: pd.DataFrame, uid, stride: int, weight: float, X, Y, W) -> None:
        x = g["y"].to_numpy(float)
        o, k = self._rows(len(x), stride)
        dates = pd.DatetimeIndex(g["ds"])
        feats, scale = make_features(
            x,
            dates,
            o,
            k,
            self.season_,
            self.freq,
            self._exog_of(uid),
            self.calendar_,
            self.n_same_,
        )
        X.append(feats)
        base = self._base(feats)
        Y.append(x[o + k] / scale / base)
        W.append(weight * base)

    def fit(self, df: pd.DataFrame) -> LightGBMForecaster:
        import lightgbm as lgb

        self._validate_params()
        self.last_ = df[["unique_id", "ds"]]
        X, y, w = self.training_frame(df)
        self.feature_names_ = list(X.columns)
        knobs = {
            "n_estimators": self.n_estimators,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "subsample": self.subsample,
            "subsample_freq": 1,
            "colsample_bytree": self.colsample,
            "objective": self.objective,
            "n_jobs": self.n_jobs,
            "deterministic": True,
            "force_col_wise": True,
            "verbose": -1,
            **dict(self.params or {}),
        }
        model = lgb.LGBMRegressor(**{**knobs, "random_state": self.seed})
        self.model_ = model.fit(X, y, sample_weight=w)
        self.history_ = {
            uid: (g["y"].to_numpy(float), pd.DatetimeIndex(g["ds"]))
            for uid, g in df.sort_values(["unique_id", "ds"]).groupby("unique_id", sort=True)
        }
        return self

    def prediction_frame(self, h: int) -> tuple[pd.DataFrame, np.ndarray]:
        """Features and scales of the rows that forecast ``cutoff + 1 .. cutoff + h``."""
        if h > self.h:
            raise ParameterError(f"{self.name} was built for h <= {self.h}; got h={h}.")
        X, S = [], []
        for uid in sorted(self.history_):
            if str(uid) in self.skipped_:
                continue
            x, dates = self.history_[uid]
            n = len(x)
            ks = np.arange(1, h + 1)
            if self.strategy == "direct":
                o, k = np.full(h, n - 1), ks
            else:
                o, k = n - 1 + ks - self.h, np.full(h, self.h)
            feats, scale = make_features(
                x,
                dates,
                o,
                k,
                self.season_,
                self.freq,
                self._exog_of(uid),
                self.calendar_,
                self.n_same_,
            )
            X.append(feats)
            S.append(scale)
        return pd.concat(X, ignore_index=True), np.concatenate(S)

    def predict(self, h: int) -> pd.DataFrame:
        self._check_fitted()
        X, scale = self.prediction_frame(h)
        pred = np.maximum(self.model_.predict(X) * self._base(X) * scale, 0.0)
        out = future_dates(self.last_, h, self.freq)
        forecast = ~out["unique_id"].astype(str).isin(self.skipped_).to_numpy()
        out[self.name] = np.nan
        out.loc[forecast, self.name] = pred
        return out

    def feature_importance(self, kind: str = "gain") -> pd.Series:
        """Feature importance of the fitted booster (``gain`` share or ``split`` counts)."""
        self._check_fitted()
        imp = self.model_.booster_.feature_importance(importance_type=kind)
        s = pd.Series(imp, index=self.feature_names_, name=kind).sort_values(ascending=False)
        return s / s.sum() if kind == "gain" else s
