"""Exceptions for problems a user can fix. The CLI prints their message (no traceback)
and exits with status 1.

``ParameterError`` and ``DataError`` are also ``ValueError`` (code that catches
``ValueError`` catches them); ``NotFittedError`` is also a ``RuntimeError`` (the convention of
scikit-learn's ``NotFittedError`` is ``ValueError``+``AttributeError``; ours is raised where a
method needs state that only ``fit`` or ``load`` creates).
"""

from __future__ import annotations


class EcomError(Exception):
    """A problem with the user's input or environment, with a message saying how to fix it."""


class DataError(EcomError, ValueError):
    """A dataset is missing, corrupt or does not match its schema."""


class DatasetNotFound(DataError):
    """A dataset's files are not where they should be."""


class ParameterError(EcomError, ValueError):
    """A notebook parameter or CLI option is not valid."""


class NotFittedError(EcomError, RuntimeError):
    """A model was asked to predict, recommend or save before ``fit`` (or ``load``)."""
