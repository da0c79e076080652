"""Artifact cache for the expensive steps of the notebooks (fitted models, embeddings, backtests).

>>> from ecomlib import cache
>>> result = cache.step("cnn_fit", vision.train_classifier, model, x_train, y_train, epochs=4)

runs ``train_classifier(model, x_train, y_train, epochs=4)`` the first time and replays the
stored result afterwards. The key hashes the step name, the arguments by content (arrays and
frames by value, torch modules by class, structure and weights), the ecomlib source code and the
versions of the numerical libraries, so a change to the data, a parameter, the library or an
upgrade recomputes; nothing else does. A replayed result is what the call returned the first
time, timings included.

Storage is :class:`joblib.Memory` under ``data/cache/steps`` (``ECOM_CACHE_DIR`` moves it):
writes are atomic, so concurrent runs are safe; after each new entry the store is trimmed to
``ECOM_CACHE_MB`` (default 4096) megabytes, least recently used first. ``ECOM_CACHE=0``
(``ecom run --no-cache`` or ``-p CACHE False``) bypasses it; ``ecom cache list | clear``
inspects and empties it. Inside ``ecom run`` each step's hit or miss is recorded in the
notebook's metrics (``cache``).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import importlib.metadata
import inspect
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_MB = 4096
_VERSIONED = (
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "torch",
    "transformers",
    "lightgbm",
    "statsforecast",
    "duckdb",
)
_FALSE = {"0", "false", "no", "off", ""}


def enabled() -> bool:
    """False when ``ECOM_CACHE`` is 0/false/no/off."""
    return os.environ.get("ECOM_CACHE", "1").strip().lower() not in _FALSE


def location() -> Path:
    """The cache folder: ``$ECOM_CACHE_DIR`` or ``data/cache/steps``."""
    from ecomlib import config

    env = os.environ.get("ECOM_CACHE_DIR")
    return Path(env).expanduser().resolve() if env else config.cache_dir() / "steps"


def limit_bytes() -> int:
    """Size bound of the store (``ECOM_CACHE_MB`` megabytes)."""
    try:
        return int(float(os.environ.get("ECOM_CACHE_MB", DEFAULT_MB)) * 1e6)
    except ValueError:
        return int(DEFAULT_MB * 1e6)


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """Hash of the ecomlib sources plus the versions of the numerical libraries it calls."""
    digest = hashlib.sha256()
    root = Path(__file__).parent
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    for name in _VERSIONED:
        try:
            digest.update(f"{name}={importlib.metadata.version(name)}".encode())
        except importlib.metadata.PackageNotFoundError:
            pass
    return digest.hexdigest()[:16]


def _normalise(obj: Any) -> Any:
    """A stable, hashable stand-in for ``obj``: torch modules and tensors by value (joblib's
    hash of a pickled module changes from process to process)."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a core dependency
        torch = None
    if torch is not None:
        if isinstance(obj, torch.nn.Module):
            state = [(k, v.detach().cpu().numpy()) for k, v in obj.state_dict().items()]
            return ("torch.nn.Module", type(obj).__qualname__, repr(obj), state)
        if isinstance(obj, torch.Tensor):
            return ("torch.Tensor", obj.detach().cpu().numpy())
        if isinstance(obj, torch.device):
            return str(obj)
    import numpy as np

    if isinstance(obj, np.ndarray) and not obj.flags.c_contiguous:
        return np.ascontiguousarray(obj)  # joblib hashes a strided view unlike its values
    tokenizer = getattr(sys.modules.get("transformers"), "PreTrainedTokenizerBase", None)
    if tokenizer is not None and isinstance(obj, tokenizer):  # by its vocabulary and settings,
        # not its pickle, which carries the truncation length of its last call
        settings = (obj.model_max_length, obj.padding_side, obj.truncation_side)
        return ("tokenizer", type(obj).__qualname__, sorted(obj.get_vocab().items()), settings)
    if inspect.ismethod(obj):  # a bound method: its object's state is part of the call
        return ("method", obj.__func__.__qualname__, _normalise(obj.__self__))
    if isinstance(obj, dict):
        return {k: _normalise(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_normalise(v) for v in obj)
    if callable(obj) and hasattr(obj, "__qualname__"):
        return f"{getattr(obj, '__module__', '')}.{obj.__qualname__}"
    if (
        hasattr(obj, "__dict__")
        and not isinstance(obj, type)
        and type(obj).__module__.startswith("ecomlib")
    ):  # the project's own objects (models, configs) by their attributes
        state = vars(obj)
        if callable(getattr(obj, "fingerprint", None)):  # a data source: its files' sizes, mtimes
            state = {**state, "_fingerprint": obj.fingerprint()}
        return ("object", type(obj).__qualname__, _normalise(state))
    return obj


def _memory():
    import joblib

    return joblib.Memory(location(), verbose=0)


def _store(memory):
    @memory.cache(ignore=["_call"])
    def ecom_step(name: str, key: str, _call: Callable[[], Any]) -> Any:
        return _call()

    return ecom_step


# keyword arguments that say how a step runs, not what it computes: left out of the key
RUN_ONLY = ("n_jobs", "show_progress")


def key(name: str, fn: Callable, args: tuple, kwargs: dict) -> str:
    """The cache key of one call (what :func:`step` looks up); :data:`RUN_ONLY` keywords
    are left out."""
    import joblib

    kwargs = {k: v for k, v in kwargs.items() if k not in RUN_ONLY}
    return joblib.hash(
        (name, code_fingerprint(), _normalise(fn), _normalise(args), _normalise(kwargs))
    )


@dataclass(frozen=True)
class StepInfo:
    """How the last call of a step went: ``hit`` (replayed) and the ``seconds`` its result took
    to compute (on a hit: when it was first computed, so reports show real timings)."""

    hit: bool
    seconds: float


_LAST: dict[str, StepInfo] = {}


def step(name: str, fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, computed once per distinct input and replayed from the cache.

    Parameters
    ----------
    name : str
        Name of the step, shown by ``ecom cache list`` and in the run's metrics; :func:`last`
        tells whether its last call was replayed and how long the computation took.
    fn : callable
        A deterministic function of its arguments (seed passed in, not global state); a bound
        method is keyed by its object's state too.
    *args, **kwargs
        Passed to ``fn``; all of them but the :data:`RUN_ONLY` keywords are part of the key.
    """

    def compute() -> tuple[Any, float]:
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        return out, time.perf_counter() - t0

    if not enabled():
        result, seconds = compute()
        _LAST[name] = StepInfo(False, seconds)
        return result
    memory = _memory()
    cached = _store(memory)
    k = key(name, fn, args, kwargs)
    hit = cached.check_call_in_cache(name, k, None)
    result, seconds = cached(name, k, compute)
    _LAST[name] = StepInfo(hit, seconds)
    _note(name, hit, seconds)
    if not hit:
        try:
            memory.reduce_size(bytes_limit=limit_bytes())
        except OSError as exc:  # pragma: no cover - a concurrent run removed an entry
            log.debug("cache trim skipped: %s", exc)
    return result


def last(name: str) -> StepInfo:
    """How the last :func:`step` call named ``name`` in this process went."""
    if name not in _LAST:
        raise KeyError(f"no cache step named {name!r} has run in this process")
    return _LAST[name]


def _note(name: str, hit: bool, seconds: float) -> None:
    """Record the step's hit or miss in the notebook's metrics (inside ``ecom run``)."""
    from ecomlib.report.metrics import record, recorded

    if not os.environ.get("ECOM_METRICS_FILE"):
        return
    log_ = dict(recorded().get("cache") or {})
    log_[name] = {"hit": hit, "compute_seconds": round(seconds, 2)}
    record("cache", log_)


def entries() -> list[dict[str, Any]]:
    """One row per stored result: step name, size in MB, when it was computed, and the
    seconds its computation took (what a hit saves)."""
    rows = []
    for meta in location().rglob("metadata.json"):
        try:
            info = json.loads(meta.read_text())
        except (OSError, ValueError):
            continue
        folder = meta.parent
        size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
        rows.append(
            {
                "step": str(info.get("input_args", {}).get("name", "?")).strip("'\""),
                "mb": size / 1e6,
                "computed": dt.datetime.fromtimestamp(info.get("time", 0)).isoformat(
                    " ", "seconds"
                ),
                "seconds": float(info.get("duration") or 0.0),
                "path": str(folder),
            }
        )
    return sorted(rows, key=lambda r: r["computed"])


def clear() -> int:
    """Remove every stored result; returns how many there were."""
    n = len(entries())
    shutil.rmtree(location(), ignore_errors=True)
    return n
