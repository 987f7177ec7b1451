"""Checkpoints: one ``.npz`` file holding everything needed to resume or use a model.

Layout (all plain arrays, so the file loads with ``allow_pickle=False``):

* ``param/<name>``: every parameter under the spec's names (``param/enc.W``, ``param/c0``, ...);
* ``optim/<key>``: the optimiser state (Adam's ``m/<name>``, ``v/<name>``, step count, ...);
* ``meta``: a JSON string with the format version, the model config, the training settings,
  epoch, step, best validation bound and the random-number states.

Writes are atomic: the file is written next to its destination under a temporary name, flushed
to disk, and renamed over the destination, so a crash mid-write never leaves a half-written
checkpoint where the last good one was.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import backend
from .errors import CheckpointError
from .model import DRAW, DRAWConfig, param_shapes

FORMAT = "draw_np-checkpoint-1"


class Checkpoint(NamedTuple):
    config: DRAWConfig
    params: dict        # name -> host NumPy array
    optim_state: dict   # key -> host array or number (empty if none was saved)
    meta: dict          # everything else from the JSON header


def save_checkpoint(path, params: dict, config: DRAWConfig, optim_state: dict | None = None,
                    **meta) -> None:
    """Write a checkpoint atomically. ``meta`` entries must be JSON-serialisable."""
    path = Path(path)
    arrays = {f"param/{k}": backend.to_numpy(v) for k, v in params.items()}
    for k, v in (optim_state or {}).items():
        arrays[f"optim/{k}"] = np.asarray(backend.to_numpy(v))
    header = dict(meta, format=FORMAT, config=config.to_dict())
    arrays["meta"] = np.array(json.dumps(header))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; a checkpoint need not be
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path) -> Checkpoint:
    """Read and validate a checkpoint; raise :class:`CheckpointError` with one clear sentence."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            contents = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise CheckpointError(f"{path} is not a readable checkpoint (corrupt or not an .npz "
                              f"file: {exc})") from None
    try:
        meta = json.loads(str(contents.pop("meta")))
        if meta.pop("format") != FORMAT:
            raise ValueError("unknown format")
        config = DRAWConfig.from_dict(meta.pop("config"))
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{path} is not a draw_np checkpoint (bad header: {exc})") from None
    params = {k[len("param/"):]: v for k, v in contents.items() if k.startswith("param/")}
    optim_state = {k[len("optim/"):]: (v if v.ndim else v.item())
                   for k, v in contents.items() if k.startswith("optim/")}
    expected = param_shapes(config)
    if set(params) != set(expected):
        raise CheckpointError(f"{path} does not hold the parameters of its config: "
                              f"differs in {sorted(set(params) ^ set(expected))}")
    for name, shape in expected.items():
        if params[name].shape != shape:
            raise CheckpointError(f"{path}: parameter {name} has shape {params[name].shape}, "
                                  f"its config needs {shape}")
        if not np.isfinite(params[name]).all():
            raise CheckpointError(f"{path}: parameter {name} holds NaN or inf")
    return Checkpoint(config, params, optim_state, meta)


def load_model(path, dtype="float32") -> DRAW:
    """A :class:`DRAW` model with the parameters of a checkpoint, on the current backend."""
    ckpt = load_checkpoint(path)
    model = DRAW(ckpt.config, dtype=dtype)
    model.params = {k: backend.xp().asarray(v, dtype=dtype) for k, v in ckpt.params.items()}
    return model
