"""Exceptions for problems a user can fix. The CLI prints their message (no traceback)
and exits with status 1."""

from __future__ import annotations


class EcomError(Exception):
    """A problem with the user's input or environment, with a message saying how to fix it."""


class DataError(EcomError):
    """A dataset is missing, corrupt or does not match its schema."""


class DatasetNotFound(DataError):
    """A dataset's files are not where they should be."""


class ParameterError(EcomError):
    """A notebook parameter or CLI option is not valid."""
