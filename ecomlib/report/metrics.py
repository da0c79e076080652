"""Recording results from inside a notebook: one helper, :func:`record`.

Inside a run started by ``ecom run`` the runner sets ``ECOM_METRICS_FILE``; every
``record(name, value)`` rewrites that JSON file atomically, and the runner copies it into the
run's ``metrics.json``. In JupyterLab (no variable set) values are kept in memory and can be
read back with :func:`recorded`.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ecomlib.errors import ParameterError

_METRICS: dict[str, Any] = {}
_HEADLINE: list[str] = []


def _plain(value: Any) -> Any:
    """Convert numpy/pandas/torch scalars and containers to JSON-friendly Python."""
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return _plain(float(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "to_dict"):  # pandas objects
        return _plain(value.to_dict())
    return value


@contextmanager
def atomic_target(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path of its own beside ``path`` (so concurrent writers never share one):
    write it in the ``with`` block; it replaces ``path`` when the block ends without error and
    is removed otherwise. The file gets the usual permissions (umask), not mkstemp's 0600."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write JSON to ``path`` through a temporary file and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_target(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2))


def record(name: str, value: Any, headline: bool = False) -> Any:
    """Record a result under ``name`` (a number, string, list or dict) and return it.

    ``headline=True`` puts it in the run's summary on ``reports/index.html``.

    Examples
    --------
    >>> acc = record("test_accuracy", 0.93, headline=True)
    """
    if not isinstance(name, str) or not name:
        raise ParameterError("record() needs a non-empty string name")
    _METRICS[name] = _plain(value)
    if headline and name not in _HEADLINE:
        _HEADLINE.append(name)
    target = os.environ.get("ECOM_METRICS_FILE")
    if target:
        write_json_atomic(Path(target), {"metrics": _METRICS, "headline": _HEADLINE})
    return value


def output_path(path: str | os.PathLike) -> Path:
    """Where a notebook's output file goes: absolute paths are kept; a relative one goes into
    the report folder of the current ``ecom run`` (next to its metrics, from
    ``ECOM_METRICS_FILE``), otherwise into ``data/processed/``, never the notebooks folder."""
    p = Path(path)
    if p.is_absolute():
        return p
    metrics = os.environ.get("ECOM_METRICS_FILE")
    if metrics:
        return Path(metrics).resolve().parent / p
    from ecomlib.config import data_dir

    return data_dir() / "processed" / p


def write_csv(frame, path: str | os.PathLike, **to_csv) -> Path:
    """Write a DataFrame to CSV at :func:`output_path` of ``path``, atomically (a temporary
    file renamed into place); returns the path written."""
    target = output_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_target(target) as tmp:
        frame.to_csv(tmp, index=False, **to_csv)
    return target


def read_metrics_file(path: Path) -> tuple[dict[str, Any], list[str]]:
    """Read what :func:`record` wrote: ``(metrics, headline names)``."""
    payload = json.loads(Path(path).read_text())
    return payload.get("metrics", {}), payload.get("headline", [])


def recorded() -> dict[str, Any]:
    """A copy of everything recorded in this process."""
    return dict(_METRICS)


def reset() -> None:
    """Forget recorded values (for tests)."""
    _METRICS.clear()
    _HEADLINE.clear()
