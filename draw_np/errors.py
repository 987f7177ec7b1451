"""The errors a user can cause or meet, which the CLI reports as one line and exit status 2.

Every error meant for a user lives here: ``DataError`` for data, ``CheckpointError`` for
checkpoints, ``BackendError`` for the backend, ``TrainingError`` for training, and
``ValueError`` for bad arguments and impossible configurations. This module imports nothing
from the package, so every other module can import it (it sits at the bottom of the import
graph) and the CLI can catch a ``BackendError`` raised while the backend itself imports.
"""
from __future__ import annotations


class BackendError(RuntimeError):
    """The requested backend does not exist or cannot run on this machine."""


class CheckpointError(Exception):
    """A checkpoint is missing, corrupt, or does not match what was asked of it."""


class DataError(Exception):
    """The data could not be found, read or trusted; the message says what to do about it."""


class TrainingError(RuntimeError):
    """Training cannot go on (a non-finite loss or gradient, a mismatched resume)."""


def user_errors() -> tuple:
    """The exception types whose message is meant for the user, not a traceback."""
    return (BackendError, CheckpointError, DataError, TrainingError, ValueError)
