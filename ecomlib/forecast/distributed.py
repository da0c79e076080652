"""Many series forecast at once with statsforecast's statistical models, on pandas or Spark.

On a Spark DataFrame statsforecast distributes the series through fugue (one task per group
of series), so every category x store of a shop can be forecast on a cluster; the result is
the same pandas frame, with the same types, as the in-process run.

>>> from ecomlib.forecast import forecast_many, forecast_source
>>> fc = forecast_many(df, h=14, freq="D", models=["SeasonalNaive", "AutoETS"], spark=spark)
>>> fc = forecast_source("my_shop.yaml", level="category", by="store_id", engine="spark")

``ecom forecast`` is :func:`forecast_source` on the command line.
"""

from __future__ import annotations

import inspect
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import pandas as pd

from ecomlib.errors import ParameterError
from ecomlib.forecast.series import (
    LEVELS,
    PANDAS_FREQ,
    _norm_freq,
    build_series,
    season_length,
)

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
            cls = getattr(sm, m)
            seasonal = "season_length" in inspect.signature(cls).parameters
            out.append(cls(season_length=season) if seasonal else cls())
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

    ``models``: statsforecast model names (built with ``season_length=season``; default from
    ``freq``, 1 when the shortest series is shorter than two seasons) or instances. ``df`` a Spark DataFrame, or pandas with ``spark`` a session: the
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
    step = PANDAS_FREQ[_norm_freq(freq)]  # "W": Monday weeks, as build_series dates them
    if season is None:  # 1 when the shortest series holds fewer than two seasons
        n_obs = None if _is_spark(df) else int(df.groupby("unique_id").size().min())
        season = season_length(freq, n_obs=n_obs)
    sf = StatsForecast(models=_models(models, season), freq=step, n_jobs=1)
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


def forecast_source(
    source: Any = None,
    level: str = "category",
    by: str | None = None,
    freq: str = "D",
    h: int = 14,
    models: Sequence[Any] = DEFAULT_MODELS,
    n_series: int | None = None,
    engine: str | None = None,
    intervals: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Forecast every series of a data source with statsforecast's models, on its engine.

    The series (each product group at ``level``, split by the transactions column ``by``,
    e.g. ``"store_id"`` for every category x store) are built by the query engine over the
    source's ``period`` (else all of its data), in its local days when its timestamps are
    local; then :func:`forecast_many` fits them, on Spark when the engine is Spark.

    Parameters
    ----------
    source : a data source (:class:`ecomlib.data.Source`, a YAML file or a bundled name;
        None: the bundled default).
    level, by, freq : the series, as in :func:`ecomlib.forecast.build_series`.
    h : periods to forecast.
    models : statsforecast model names or instances.
    n_series : keep the series with the highest sales (None: every series).
    engine : "duckdb" or "spark" (None: ``ECOM_ENGINE``, else the source's ``engine:``,
        else DuckDB).
    intervals : prediction-interval levels such as ``[80, 95]`` (None: point forecasts).

    Returns
    -------
    The frame of :func:`forecast_many`; ``attrs["n_series"]`` and ``attrs["engine"]`` say
    what was forecast where.
    """
    from ecomlib.data import open_source
    from ecomlib.data.engines import connect
    from ecomlib.data.source import Source

    src = source if isinstance(source, Source) else open_source(source)
    src.require("transactions")
    column = LEVELS.get(level, level)
    if level != "total" and not src.has_column("products", column):
        raise ParameterError(
            f"level={level!r} needs the column products.{column}, which data source "
            f"{src.name!r} does not have; use level 'total' or a products column it has."
        )
    con = connect(src, engine)
    try:
        local = src.tables["transactions"].timestamps == "local"
        tz = src.timezone if local and src.timezone != "UTC" else None
        start, end = src.period
        df = build_series(
            level, freq, n_series=n_series, start=start, end=end, con=con, timezone=tz, by=by
        )
        out = forecast_many(
            df, h=h, freq=freq, models=models, spark=getattr(con, "spark", None), level=intervals
        )
    finally:
        con.close()
    out.attrs.update(n_series=int(df["unique_id"].nunique()), engine=con.name)
    return out
