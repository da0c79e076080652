"""The one interface every forecaster follows, and the simple baselines.

A forecaster is configured in ``__init__`` (scikit-learn style), learns from a long-format
frame in :meth:`Forecaster.fit` and returns the next ``h`` periods of every series from
:meth:`Forecaster.predict` as a long frame ``unique_id, ds, <name>``. The backtest and the
export treat every model alike through these two methods.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from ecomlib._validate import check_param
from ecomlib.errors import NotFittedError, ParameterError
from ecomlib.forecast.series import future_dates, season_length


class SeriesTooShort(ParameterError):
    """A model cannot learn from series this short (the backtest leaves it out, with a note)."""


class Forecaster:
    """Base class: ``fit(df) -> self``, ``predict(h) -> DataFrame[unique_id, ds, name]``."""

    name: str = "model"
    freq: str = "D"

    def fit(self, df: pd.DataFrame) -> Forecaster:  # pragma: no cover - interface
        raise NotImplementedError

    def predict(self, h: int) -> pd.DataFrame:  # pragma: no cover - interface
        raise NotImplementedError

    def clone(self) -> Forecaster:
        """An unfitted copy with the same parameters."""
        new = copy.copy(self)
        for attr in list(vars(new)):
            if attr.endswith("_") and not attr.startswith("__"):
                delattr(new, attr)
        return new

    def _check_fitted(self) -> None:
        if not hasattr(self, "last_"):
            raise NotFittedError(f"{self.name} is not fitted: call fit(df) before predict(h).")

    def _remember(self, df: pd.DataFrame) -> dict[str, np.ndarray]:
        """Keep each series' values (sorted by date) and its last date."""
        values = {
            uid: g["y"].to_numpy(dtype=float)
            for uid, g in df.sort_values(["unique_id", "ds"]).groupby("unique_id", sort=True)
        }
        self.last_ = df[["unique_id", "ds"]]
        return values

    def _frame(self, h: int, values: dict[str, np.ndarray]) -> pd.DataFrame:
        out = future_dates(self.last_, h, self.freq)
        out[self.name] = np.concatenate([np.asarray(values[u], float)[:h] for u in sorted(values)])
        return out

    def __repr__(self) -> str:
        params = {k: v for k, v in vars(self).items() if not k.endswith("_") and k != "name"}
        inner = ", ".join(f"{k}={_short_repr(v)}" for k, v in params.items())
        return f"{type(self).__name__}({inner})"


def _short_repr(value) -> str:
    """A parameter in a model's repr; frames (a promotion plan, extra training series) are
    summarised instead of printed row by row."""
    if not isinstance(value, pd.DataFrame):
        return repr(value)
    if list(value.columns) == ["unique_id", "ds", "y"]:
        return f"<{value['unique_id'].nunique()} series>"
    n = sum(c not in ("unique_id", "ds") for c in value.columns)
    return f"<{len(value)} rows x {n} features>"


class Naive(Forecaster):
    """Repeat the last value."""

    def __init__(self, name: str = "Naive", freq: str = "D"):
        self.name, self.freq = name, freq

    def fit(self, df: pd.DataFrame) -> Naive:
        self.values_ = {u: v[-1] for u, v in self._remember(df).items()}
        return self

    def predict(self, h: int) -> pd.DataFrame:
        self._check_fitted()
        return self._frame(h, {u: np.full(h, v) for u, v in self.values_.items()})


class SeasonalNaive(Forecaster):
    """Repeat the last season (7 days for daily data; see :func:`season_length`).

    A series shorter than one season repeats its last value.
    """

    def __init__(self, season: int | None = None, name: str = "SeasonalNaive", freq: str = "D"):
        self.season, self.name, self.freq = season, name, freq

    def fit(self, df: pd.DataFrame) -> SeasonalNaive:
        s = self.season or season_length(self.freq)
        self.values_ = {u: v[-s:] if len(v) >= s else v[-1:] for u, v in self._remember(df).items()}
        return self

    def predict(self, h: int) -> pd.DataFrame:
        self._check_fitted()
        return self._frame(h, {u: np.resize(v, h) for u, v in self.values_.items()})


class WindowAverage(Forecaster):
    """The mean of the last ``window`` values, flat over the horizon."""

    def __init__(self, window: int = 28, name: str = "WindowAverage", freq: str = "D"):
        self.window, self.name, self.freq = window, name, freq

    def fit(self, df: pd.DataFrame) -> WindowAverage:
        self.values_ = {u: v[-self.window :].mean() for u, v in self._remember(df).items()}
        return self

    def predict(self, h: int) -> pd.DataFrame:
        self._check_fitted()
        return self._frame(h, {u: np.full(h, v) for u, v in self.values_.items()})


class StatsForecastModel(Forecaster):
    """A statsforecast model (AutoETS, AutoARIMA, ...) behind the common interface.

    Parameters
    ----------
    kind : {"AutoETS", "AutoARIMA"} or a statsforecast model instance.
    season : seasonal period (default from ``freq``: 7, 52, 12, 4 for D, W, M, Q). When the
        shortest series holds fewer than two seasons, season 1 is used (and a seasonal
        ``model="..A"`` code becomes non-seasonal), noted in ``notes_``.
    name : column name of the forecasts.
    boxcox : optional Box-Cox exponent ``lam`` of a variance-stabilising transform: the model
        is fitted to ``((y + 1) ** lam - 1) / lam`` (``log1p(y)`` for ``lam = 0``) and its
        forecasts are transformed back (clipped at 0). Negative values are read as 0. Such a
        forecast tracks the median rather than the mean (what MASE rewards) and lets the
        weekly pattern scale with the level. None (default): no transform.
    **kwargs : passed to the statsforecast model (e.g. ``approximation=True``).
    """

    def __init__(
        self,
        kind="AutoETS",
        season: int | None = None,
        name: str | None = None,
        freq: str = "D",
        boxcox: float | None = None,
        **kwargs,
    ):
        self.kind, self.season, self.freq, self.kwargs = kind, season, freq, kwargs
        self.boxcox = boxcox
        self.name = name or (kind if isinstance(kind, str) else type(kind).__name__)

    def _validate_params(self) -> None:
        check_param(
            "boxcox",
            self.boxcox,
            lambda b: b is None or (np.isfinite(b) and 0 <= b <= 2),
            "None or a number in [0, 2]",
            self,
        )

    def _model(self):
        import statsforecast.models as sm

        if not isinstance(self.kind, str):
            return copy.deepcopy(self.kind)
        if not hasattr(sm, self.kind):
            raise ParameterError(
                f"The 'kind' parameter of StatsForecastModel must be a statsforecast model name "
                f"(e.g. 'AutoETS') or instance; got {self.kind!r}."
            )
        kwargs = dict(self.kwargs)
        season = getattr(self, "season_", None) or self.season or season_length(self.freq)
        code = kwargs.get("model")
        if season == 1 and isinstance(code, str) and len(code) == 3 and code[2] != "N":
            kwargs["model"] = code[:2] + "N"
        return getattr(sm, self.kind)(season_length=season, **kwargs)

    def fit(self, df: pd.DataFrame) -> StatsForecastModel:
        self._validate_params()
        self._remember(df)
        n = int(df.groupby("unique_id").size().min())
        nominal = self.season or season_length(self.freq)
        self.season_ = nominal if n >= 2 * nominal + 1 else 1
        self.notes_ = (
            [f"{self.name}: series of {n} values are too short for season {nominal}; season 1."]
            if self.season_ != nominal
            else []
        )
        # integer time steps: statsforecast needs no calendar, the dates come from future_dates
        self.df_ = df[["unique_id", "ds", "y"]].sort_values(["unique_id", "ds"])
        self.df_ = self.df_.assign(ds=self.df_.groupby("unique_id").cumcount() + 1)
        if self.boxcox is not None:
            self.df_ = self.df_.assign(y=boxcox(self.df_["y"].to_numpy(float), self.boxcox))
        return self

    def predict(self, h: int) -> pd.DataFrame:
        import warnings

        from statsforecast import StatsForecast

        self._check_fitted()
        sf = StatsForecast(models=[self._model()], freq=1, n_jobs=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fc = sf.forecast(df=self.df_, h=h)
        fc = fc.reset_index() if "unique_id" not in fc.columns else fc
        col = [c for c in fc.columns if c not in ("unique_id", "ds")][0]
        fc["unique_id"] = fc["unique_id"].astype(str)
        fc = fc.sort_values(["unique_id", "ds"], kind="stable")
        dates = future_dates(
            self.last_.assign(unique_id=self.last_["unique_id"].astype(str)), h, self.freq
        )
        fc = dates.assign(**{self.name: fc[col].to_numpy(float)})
        if self.boxcox is not None:
            fc[self.name] = inv_boxcox(fc[self.name].to_numpy(float), self.boxcox)
        fc["unique_id"] = fc["unique_id"].astype(str)
        return fc.sort_values(["unique_id", "ds"]).reset_index(drop=True)


def boxcox(y: np.ndarray, lam: float) -> np.ndarray:
    """Box-Cox transform of ``y + 1`` (values below 0 read as 0): ``log1p(y)`` for ``lam = 0``."""
    y = np.maximum(np.asarray(y, float), 0.0)
    return np.log1p(y) if lam == 0 else ((y + 1.0) ** lam - 1.0) / lam


def inv_boxcox(z: np.ndarray, lam: float) -> np.ndarray:
    """Inverse of :func:`boxcox`, clipped at 0 (a forecast below the transform's floor is 0)."""
    z = np.asarray(z, float)
    y = np.expm1(z) if lam == 0 else np.maximum(z * lam + 1.0, 0.0) ** (1.0 / lam) - 1.0
    return np.maximum(y, 0.0)
