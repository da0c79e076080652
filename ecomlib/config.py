"""Paths, device choice, seeding and progress bars shared by every part of ecomlib.

Paths default to the project checkout (``data/``, ``reports/``) and can be overridden with
environment variables, so a notebook, the ``ecom`` CLI and the tests all agree on them:

========================  =====================================  ==========================
variable                  meaning                                default
========================  =====================================  ==========================
``ECOM_HOME``             project root                           the checkout holding ecomlib
``ECOM_DATA_DIR``         data root (raw/, interim/, processed/)  ``$ECOM_HOME/data``
``ECOM_REPORTS_DIR``      where ``ecom run`` writes runs          ``$ECOM_HOME/reports``
``ECOM_FASHION_MNIST_DIR`` folder with the 4 Fashion-MNIST .gz   see :mod:`ecomlib.data`
``ECOM_MODEL_DIR``        a Hugging Face-format encoder folder   the packaged all-MiniLM-L6-v2
``ECOM_PROGRESS``         ``0`` turns progress bars off           ``1``
========================  =====================================  ==========================
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ecomlib.errors import ParameterError

log = logging.getLogger("ecomlib")

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def project_root() -> Path:
    """Root of the project (``$ECOM_HOME`` or the checkout that holds ``ecomlib``)."""
    return Path(os.environ.get("ECOM_HOME", PROJECT_ROOT)).resolve()


def data_dir() -> Path:
    """Data root: ``$ECOM_DATA_DIR`` or ``<project>/data``."""
    return Path(os.environ.get("ECOM_DATA_DIR", project_root() / "data")).resolve()


def raw_dir(name: str | None = None) -> Path:
    """``data/raw`` or ``data/raw/<name>``."""
    base = data_dir() / "raw"
    return base / name if name else base


def cache_dir() -> Path:
    """Scratch space for derived artefacts (``data/cache``); safe to delete."""
    path = data_dir() / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def reports_dir() -> Path:
    """Where report runs go: ``$ECOM_REPORTS_DIR`` or ``<project>/reports``."""
    return Path(os.environ.get("ECOM_REPORTS_DIR", project_root() / "reports")).resolve()


def resolve_device(device: str = "auto") -> str:
    """Turn ``"auto"`` into ``"cuda"`` when a GPU is present, else ``"cpu"``.

    Parameters
    ----------
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    """
    import torch

    if device in (None, "", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ParameterError(
            f"DEVICE={device!r} was requested but no CUDA GPU is visible to torch. "
            "Use DEVICE='auto' or 'cpu'."
        )
    if device not in ("cpu", "mps") and not device.startswith("cuda"):
        raise ParameterError(f"Unknown device {device!r}: use 'auto', 'cpu', 'cuda' or 'cuda:N'.")
    return device


def resolve_jobs(n_jobs: int | None) -> int:
    """Worker processes for ``n_jobs``: None or 0 means one per CPU core, else ``n_jobs``."""
    if n_jobs is not None and (not isinstance(n_jobs, int) or n_jobs < 0):
        raise ParameterError(
            f"n_jobs must be a whole number >= 0 (0: one per core), got {n_jobs!r}."
        )
    return n_jobs or os.cpu_count() or 1


def seed_everything(seed: int = 42) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) for repeatable runs."""
    random.seed(seed)
    np.random.seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    try:
        import torch

        torch.manual_seed(seed)
        if torch.cuda.is_available():
            torch.cuda.manual_seed_all(seed)
    except ImportError:  # pragma: no cover - torch is a hard dependency
        pass


def progress_enabled() -> bool:
    """Progress bars are on unless ``ECOM_PROGRESS=0`` (the runner and tests set it)."""
    return os.environ.get("ECOM_PROGRESS", "1") not in ("0", "false", "False", "no")


def progress(iterable: Iterable | None = None, **kwargs: Any):
    """A tqdm bar that is a widget in JupyterLab and text in a terminal.

    Disabled when ``ECOM_PROGRESS=0`` so executed reports stay free of widget noise.
    """
    kwargs.setdefault("disable", not progress_enabled())
    kwargs.setdefault("leave", False)
    if kwargs["disable"]:  # skip tqdm.auto's widget probing (and its warnings)
        from tqdm.std import tqdm
    else:
        from tqdm.auto import tqdm
    return tqdm(iterable, **kwargs)


def number_format(x: float) -> str:
    """How a float reads in a notebook table: ``2,316,040`` / ``1,234`` (no decimals from
    1,000 up), 4 significant digits below (``146.2``, ``0.2319``, ``0.000895``), scientific
    only under 0.0001 (``3.854e-05``). Used as pandas' ``display.float_format`` by
    :func:`setup_notebook`, so a column mixing sizes never turns into ``2.316e+06``.
    """
    if abs(x) >= 1000 and abs(x) != float("inf"):
        return f"{x:,.0f}"
    return f"{x:.4g}"


def setup_notebook(seed: int = 42, device: str = "auto") -> str:
    """One call at the top of a notebook: seed, plotting style, table number format
    (:func:`number_format`), offline hub, resolved device.

    Returns the resolved device string.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.basicConfig(level=logging.WARNING)
    from ecomlib import plots

    plots.set_style()
    import pandas as pd

    pd.set_option("display.float_format", number_format)
    seed_everything(seed)
    return resolve_device(device)
