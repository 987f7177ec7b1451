"""Atomic file writes: a file is either its old self or complete, never half-written.

The data goes to a temporary file beside the destination, is flushed to disk, and is renamed
over the destination (a rename within one folder is atomic on POSIX). If anything fails, or a
kill arrives, the destination is untouched; a kill can leave the temporary file behind, named
``NAME.XXXXXXXX.tmp``, which :func:`remove_orphans` clears away.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable


def atomic_write(path, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write(f)`` on a temporary file and rename it to ``path``. Raises ``OSError``
    (disk full, no permission, ...) with the destination left as it was."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; ours need not be
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_orphans(path) -> None:
    """Remove the temporary files that killed :func:`atomic_write` calls for ``path`` left.
    Only safe when nobody else is writing ``path`` (a training run holds its folder's lock)."""
    path = Path(path)
    for orphan in path.parent.glob(f"{path.name}.*.tmp"):
        orphan.unlink(missing_ok=True)
