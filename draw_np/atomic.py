"""Writing a file atomically: all of it or, after any failure, none of it.

The bytes go to a temporary file next to the destination, are flushed to disk, and the file is
then renamed over the destination in one step (``os.replace``). A crash, a full disk or an
exception while writing leaves the destination as it was (absent, or the previous good copy);
a second process never sees a half-written file. An exception also removes the temporary file;
a kill (SIGKILL) cannot, and :func:`remove_orphans` clears what it left.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import BinaryIO, Callable


def write_atomically(path, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write(f)`` on a temporary binary file, then rename it to ``path``.

    The folder of ``path`` must exist. Any exception (``OSError`` included) propagates, with the
    temporary file removed.
    """
    path = Path(path)
    # A name no other process will pick; "x" mode refuses to reuse an existing file. (Unlike
    # tempfile.mkstemp, open() honours the umask, so the file gets ordinary permissions.)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def remove_orphans(path) -> None:
    """Remove the temporary files that killed :func:`write_atomically` calls for ``path`` left
    (a SIGKILL runs no cleanup). Only safe when nobody else is writing ``path``: a training run
    holds its folder's lock."""
    path = Path(path)
    for orphan in path.parent.glob(f"{path.name}.*.tmp"):
        orphan.unlink(missing_ok=True)
