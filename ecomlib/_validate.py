"""Parameter checks: constructors store their arguments, ``fit`` validates them.

An estimator's ``__init__`` only assigns its keyword arguments; its ``fit`` starts with
``self._validate_params()``, which calls :func:`check_param` once per constraint (the pattern
of scikit-learn's estimators). Every message names the parameter, its owner and the value it
got: ``The 'alpha' parameter of TIFUKNN must be a number in [0, 1]; got 1.5.``
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ecomlib.errors import ParameterError

__all__ = ["check_param", "describe"]

_MAX_REPR = 200


def describe(value: Any) -> str:
    """A short description of ``value`` for an error message: ``repr`` for plain values, the
    shape (and columns) for arrays and frames, cut at 200 characters."""
    if isinstance(value, pd.DataFrame):
        return f"a DataFrame of {len(value)} rows with columns {list(value.columns)}"
    if isinstance(value, pd.Series):
        return f"a Series of {len(value)} values"
    if isinstance(value, np.ndarray) and value.ndim > 0:
        return f"an array of shape {value.shape}"
    text = repr(value)
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 3] + "..."


def _owner_name(owner: object) -> str:
    if isinstance(owner, str):
        return owner
    if isinstance(owner, type):
        return owner.__name__
    return type(owner).__name__


def check_param(
    name: str,
    value: Any,
    ok: bool | Callable[[Any], bool],
    what: str,
    owner: object,
) -> None:
    """Raise :class:`~ecomlib.errors.ParameterError` unless a parameter's value is valid.

    Parameters
    ----------
    name : str
        The parameter's name.
    value : Any
        The value it got (described in the message by :func:`describe`).
    ok : bool or callable
        Whether the value is valid, or a predicate ``ok(value) -> bool``; a predicate that
        raises ``TypeError``, ``ValueError``, ``LookupError`` or ``AttributeError``
        (``int("x") >= 1``, a missing key) counts as ``False``.
    what : str
        What the value must be, completing "must be ..." (e.g. ``"an integer >= 1"``).
    owner : object
        The estimator (or its class, or a name) the parameter belongs to.
    """
    if callable(ok):
        try:
            ok = bool(ok(value))
        except (TypeError, ValueError, LookupError, AttributeError):
            ok = False
    if not ok:
        raise ParameterError(
            f"The {name!r} parameter of {_owner_name(owner)} must be {what}; got {describe(value)}."
        )
