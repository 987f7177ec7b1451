"""Checkpoints: one ``.npz`` file holding everything needed to resume or use a model.

Layout (all plain arrays, so the file loads with ``allow_pickle=False``):

* ``param/<name>``: every parameter under the spec's names (``param/enc.W``, ``param/c0``, ...);
* ``optim/<key>``: the optimiser state (Adam's ``m/<name>``, ``v/<name>``, step count, ...);
* ``meta``: a JSON object with the format version, the model's kind (``"draw"``, see
  :mod:`draw_np.models`), its config, and whatever the writer adds (training settings,
  progress, random-number states).

Writes are atomic (:mod:`draw_np.atomic`), so a crash mid-write never leaves a half-written
checkpoint where the last good one was, and parameters that are not finite are never written.
Reading checks everything a crafted or damaged file could get wrong (the header's type, the
kind, the config, every parameter's name, shape, dtype and finiteness) and reports it in one
line as a :class:`CheckpointError`. Checkpoints written before kinds were recorded are DRAW's.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import backend, models
from .atomic import write_atomically
from .errors import CheckpointError

FORMAT = "draw_np-checkpoint-1"


class Checkpoint(NamedTuple):
    kind: str           # the model's kind, a key of draw_np.models.KINDS
    config: object      # that kind's config (a DRAWConfig for "draw")
    params: dict        # name -> host NumPy array
    optim_state: dict   # key -> host array or number (empty if none was saved)
    meta: dict          # everything else from the JSON header

    @property
    def dataset(self) -> str:
        """The data set the model was trained on: its training settings' ``dataset``, or
        ``"mnist"`` for checkpoints from before data sets had names (or without settings)."""
        settings = self.meta.get("settings")
        name = settings.get("dataset", "mnist") if isinstance(settings, dict) else "mnist"
        return name if isinstance(name, str) else "mnist"

    def build_model(self, dtype="float32", seed=0):
        """The model of the kind this checkpoint records, with its parameters, on the current
        backend (``seed`` seeds only the model's noise generator)."""
        model = models.model_class(self.kind)(self.config, seed=seed, dtype=dtype)
        model.params = {k: backend.xp().asarray(v, dtype=dtype) for k, v in self.params.items()}
        return model


def save_checkpoint(path, params: dict, config, optim_state: dict | None = None,
                    **meta) -> None:
    """Write a checkpoint atomically. ``meta`` entries must be JSON-serialisable.

    Raises :class:`CheckpointError` if a parameter is not finite (a diverged model is never
    saved over a good one) or the file cannot be written (the old file is then intact).
    """
    path = Path(path)
    arrays = {f"param/{k}": backend.to_numpy(v) for k, v in params.items()}
    for name, a in arrays.items():
        if not np.isfinite(a).all():
            raise CheckpointError(f"refusing to write {path}: parameter {name[6:]} holds NaN "
                                  f"or inf")
    for k, v in (optim_state or {}).items():
        arrays[f"optim/{k}"] = np.asarray(backend.to_numpy(v))
    header = dict(meta, format=FORMAT, kind=models.kind_for_config(config),
                  config=config.to_dict())
    arrays["meta"] = np.array(json.dumps(header, allow_nan=False))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, lambda f: np.savez(f, **arrays))
    except OSError as exc:
        raise CheckpointError(f"cannot write {path}: {exc.strerror or exc}; the previous file "
                              f"there, if any, is intact") from None


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
    kind, config, meta = _read_header(path, contents.pop("meta", None))
    params = {k[len("param/"):]: v for k, v in contents.items() if k.startswith("param/")}
    optim_state = {k[len("optim/"):]: (v if v.ndim else v.item())
                   for k, v in contents.items() if k.startswith("optim/")}
    expected = models.model_class(kind).param_shapes(config)
    if set(params) != set(expected):
        raise CheckpointError(f"{path} does not hold the parameters of its config: "
                              f"differs in {sorted(set(params) ^ set(expected))}")
    for name, shape in expected.items():
        a = params[name]
        if a.dtype.kind != "f":
            raise CheckpointError(f"{path}: parameter {name} has dtype {a.dtype}, not a real "
                                  f"floating-point type")
        if a.shape != shape:
            raise CheckpointError(f"{path}: parameter {name} has shape {a.shape}, "
                                  f"its config needs {shape}")
        if not np.isfinite(a).all():
            raise CheckpointError(f"{path}: parameter {name} holds NaN or inf")
    return Checkpoint(kind, config, params, optim_state, meta)


def _read_header(path: Path, raw):
    """The kind, the config and the rest of the JSON header, checked."""
    try:
        if raw is None or raw.shape != () or raw.dtype.kind != "U":
            raise ValueError("no JSON header")
        meta = json.loads(str(raw))
        if not isinstance(meta, dict):
            raise ValueError(f"the header is a JSON {type(meta).__name__}, not an object")
        if meta.pop("format", None) != FORMAT:
            raise ValueError("unknown format")
        config_dict = meta.pop("config")
        if not isinstance(config_dict, dict):
            raise ValueError("the config is not a JSON object")
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{path} is not a draw_np checkpoint (bad header: {exc})") from None
    kind = meta.pop("kind", models.LEGACY_KIND)
    try:
        config = models.config_class(kind).from_dict(config_dict)
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{path} holds an impossible model config: {exc}") from None
    return kind, config, meta


def load_model(path, dtype="float32"):
    """The model of a checkpoint, of the kind it records, with its parameters, on the current
    backend (a :class:`draw_np.model.DRAW` for DRAW checkpoints)."""
    return load_checkpoint(path).build_model(dtype)
