"""The on-disk cache: where it is, how a file in it is read, rebuilt and written.

Every cached file is an ``.npz`` of plain arrays (loaded with ``allow_pickle=False``), written
atomically (:mod:`draw_np.atomic`). A cached file is never trusted blindly: the reader a data set
passes to :func:`read_cache` checks it, and a file that fails in any way is reported with a
warning and deleted, so that the caller rebuilds it.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from ..atomic import write_atomically
from .progress import Log


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/draw_np`` if that variable is set, else ``~/.cache/draw_np``.

    As the XDG spec asks, an empty or relative ``XDG_CACHE_HOME`` is ignored.
    """
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "draw_np"


def cache_dir_or_default(cache_dir) -> Path:
    """``cache_dir`` as a Path, or :func:`default_cache_dir` if it is None."""
    return Path(cache_dir) if cache_dir is not None else default_cache_dir()


def read_cache(path: Path, read: Callable[[np.lib.npyio.NpzFile], dict]) -> dict | None:
    """``read(npz)`` of the cached file, or None if there is none or it is unusable.

    ``read`` takes what it needs from the open file and raises (a ``DataError`` saying why, or
    anything a damaged file raises) if the contents are not right; the file is then deleted.
    """
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            return read(npz)
    except Exception as error:  # noqa: BLE001
        # A damaged file can fail in many ways (zip, npy header, missing key, our own checks);
        # every one of them means the same thing: delete it and rebuild.
        discard(path, error)
        return None


def discard(path: Path, error: Exception) -> None:
    """Warn that a cache file is unusable and delete it, so that it gets rebuilt."""
    warnings.warn(f"the cache file {path} is unusable ({type(error).__name__}: {error}); "
                  f"deleting it and rebuilding it", RuntimeWarning, stacklevel=2)
    try:
        path.unlink()
    except OSError:
        pass  # the rebuilt file replaces it anyway


def write_cache(path: Path, arrays: dict, log: Log, label: str) -> None:
    """Save ``arrays`` as ``path`` (an .npz) atomically; warn, don't fail, if that is impossible.

    ``label`` starts the progress message (e.g. ``MNIST: cached at PATH``).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, lambda f: np.savez(f, **arrays))
    except OSError as error:
        warnings.warn(f"could not write the cache {path} ({error}); the data will be decoded "
                      f"again next time", RuntimeWarning, stacklevel=2)
        return
    log(f"{label}: cached at {path}")
