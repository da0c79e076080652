"""Many series forecast at once with statsforecast's statistical models, on pandas or Spark.

On a Spark DataFrame statsforecast distributes the series through fugue (one task per group
of series), so every category x store of a shop can be forecast on a cluster; the result is
the same pandas frame, with the same types, as the in-process run.

>>> from ecomlib.forecast import forecast_many
>>> fc = forecast_many(df, h=14, freq="D", models=["SeasonalNaive", "AutoETS"], spark=spark)
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import pandas as pd

from ecomlib.errors import ParameterError
from ecomlib.forecast.series import season_length

DEFAULT_MODELS = ("SeasonalNaive", "AutoETS")


def _models(models: Sequence[Any], season: int) -> list:
    import statsforecast.models as sm

    out = []
    for m in models:
        if not isinstance(m, str):
            out.append(m)
        elif not hasattr(sm, m):
            raise ParameterError(f"models: statsforecast has no model {m!r}.")
        else:
            out.append(getattr(sm, m)(season_length=season))
    return out


def _is_spark(df: Any) -> bool:
    return type(df).__module__.startswith("pyspark.")


def forecast_many(
    df: Any,
    h: int,
    freq: str = "D",
    models: Sequence[Any] = DEFAULT_MODELS,
    season: int | None = None,
    spark: Any = None,
    level: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Forecast every series of ``df`` (``unique_id, ds, y``) ``h`` periods ahead.

    ``models``: statsforecast model names (built with ``season_length=season``, default from
    ``freq``) or instances. ``df`` a Spark DataFrame, or pandas with ``spark`` a session: the
    series are fitted on Spark through fugue (``PYSPARK_PYTHON`` is set to this Python for the
    workers when unset); else in this process. ``level``: prediction-interval levels.

    Returns
    -------
    pandas DataFrame ``unique_id`` (str), ``ds`` (datetime64[ns]) and one float64 column per
    model (and interval), sorted by ``unique_id, ds``: the same on either path.
    """
    from statsforecast import StatsForecast

    if not isinstance(h, int) or h < 1:
        raise ParameterError(f"h must be a positive integer, got {h!r}.")
    if not models:
        raise ParameterError("models must name at least one statsforecast model, got none.")
    sf = StatsForecast(models=_models(models, season or season_length(freq)), freq=freq, n_jobs=1)
    kw = {"h": h, "level": list(level) if level else None}
    if _is_spark(df) or spark is not None:
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        if not _is_spark(df):
            frame = df[["unique_id", "ds", "y"]].astype({"unique_id": str, "y": "float64"})
            df = spark.createDataFrame(frame)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = sf.forecast(df=df, **kw).toPandas()
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = sf.forecast(df=df.astype({"unique_id": str}), **kw)
    out = out.reset_index() if "unique_id" not in out.columns else out
    out["unique_id"] = out["unique_id"].astype(str)
    out["ds"] = pd.to_datetime(out["ds"]).astype("datetime64[ns]")
    values = [c for c in out.columns if c not in ("unique_id", "ds")]
    out[values] = out[values].astype("float64")
    return out.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
