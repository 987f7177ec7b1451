"""The models draw_np can train, found by the kind their checkpoints record.

``train``, ``checkpoint``, ``evaluate``, ``plot`` and ``bench`` never name a model class: they
look it up here by its kind, and rely only on this interface, which every model class offers:

* ``Model.kind``: a short name (``"draw"``), recorded in every checkpoint;
* ``Model.config_class``: its frozen config dataclass, with ``to_dict()`` and ``from_dict(d)``;
* ``Model(config, seed=0, dtype="float32")``; then ``model.config``, ``model.dtype``,
  ``model.rng`` (a :class:`draw_np.backend.Random`) and ``model.params`` (name -> array, the
  spec's names and shapes);
* ``Model.param_shapes(config)``: every parameter's name and shape, for checking checkpoints;
* ``Model.read_input``: the name of the weight whose first rows take the read vector r_t (so
  that ``train --init-from`` can give a trained model a larger read, :mod:`draw_np.grow`);
* ``model.loss_and_grads(*batch, return_terms=True)`` -> ``(loss, grads, terms)``, with
  ``batch`` what the model's data sets yield (``(x,)`` for DRAW);
* ``model.training_metrics(terms)``: the batch means to log beside the loss (``{"Lx": .., "Lz": ..}``);
* ``model.matmul_shapes(n)``: the matrix products of one training step on a batch of ``n``, as
  ``(label, rows, inner, cols, count)``, so ``bench`` counts floating-point work from what the
  model says about itself.

A new model plugs in with one line in :data:`KINDS`. Imports are lazy, so importing this
module loads no model.
"""
from __future__ import annotations

import importlib

from .errors import CheckpointError

#: kind -> (module, model class, config class)
KINDS = {
    "draw": ("draw_np.model", "DRAW", "DRAWConfig"),
    "classifier": ("draw_np.classifier", "AttentionClassifier", "ClassifierConfig"),
}

#: The kind of a checkpoint written before kinds were recorded: all of them were DRAW models.
LEGACY_KIND = "draw"


def model_class(kind: str):
    """The model class of a kind; a :class:`CheckpointError` for a kind this version lacks."""
    if not isinstance(kind, str) or kind not in KINDS:
        raise CheckpointError(f"unknown model kind {kind!r}: this version of draw_np knows "
                              f"{', '.join(sorted(KINDS))}")
    module, name, _ = KINDS[kind]
    return getattr(importlib.import_module(module), name)


def config_class(kind: str):
    """The config class of a kind (its ``from_dict`` reads a checkpoint's config)."""
    model_class(kind)  # the same check and message for an unknown kind
    module, _, name = KINDS[kind]
    return getattr(importlib.import_module(module), name)


def kind_for_config(config) -> str:
    """The kind whose config class ``config`` is an instance of."""
    for kind in KINDS:
        if type(config) is config_class(kind):
            return kind
    raise ValueError(f"{type(config).__name__} is not the config of any model draw_np knows")
