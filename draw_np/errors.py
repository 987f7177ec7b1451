"""The errors a user can cause or meet, which the CLI reports as one line and exit status 2.

Each module raises its own specific error (``DataError`` for data, ``CheckpointError`` for
checkpoints, ``BackendError`` for the backend, ``ValueError`` for bad arguments and impossible
configurations); :func:`user_errors` lists them for the CLI. This module imports nothing
from the package, so the CLI can catch a ``BackendError`` raised while the backend imports.
"""
from __future__ import annotations


class BackendError(RuntimeError):
    """The requested backend does not exist or cannot run on this machine."""


class TrainingError(RuntimeError):
    """Training cannot go on (a non-finite loss or gradient, a mismatched resume)."""


def user_errors() -> tuple:
    """The exception types whose message is meant for the user, not a traceback."""
    from .checkpoint import CheckpointError
    from .data import DataError
    return (BackendError, CheckpointError, DataError, TrainingError, ValueError)
