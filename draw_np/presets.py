"""Named configurations: a model shape plus the training settings that go with it.

* ``tiny``: seconds; for tests and CI smoke runs.
* ``quick``: a real result in about ten minutes on two CPU cores, a DRAW that visibly draws
  digits with attention (the configuration of the widely used TensorFlow DRAW demo: T = 10,
  read 2 x 2, write 5 x 5, z = 10).
* ``paper``: the paper's MNIST model (Table 3): T = 64, LSTMs of 256, z = 100, read 2 x 2,
  write 5 x 5, batch 100; Adam at 1e-3 with clipping at 10, as careful reproductions use.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .model import DRAWConfig


@dataclass(frozen=True)
class TrainSettings:
    """How to train: everything that is not the model's shape."""
    epochs: int = 100
    batch_size: int = 100
    lr: float = 1e-3
    clip: float = 10.0
    seed: int = 0
    dynamic_binarization: bool = False  # fresh bits every epoch instead of the fixed set

    def __post_init__(self):
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}")
        if not self.clip > 0:
            raise ValueError(f"clip must be > 0, got {self.clip!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


PRESETS: dict[str, tuple[DRAWConfig, TrainSettings]] = {
    "tiny": (DRAWConfig(T=4, enc_size=32, dec_size=32, z_size=4, read_n=2, write_n=3),
             TrainSettings(epochs=1, batch_size=50, lr=3e-3)),
    "quick": (DRAWConfig(T=10, enc_size=256, dec_size=256, z_size=10, read_n=2, write_n=5),
              TrainSettings(epochs=8, batch_size=100, lr=1e-3)),
    "paper": (DRAWConfig(), TrainSettings(epochs=100, batch_size=100, lr=1e-3)),
}


def preset(name: str) -> tuple[DRAWConfig, TrainSettings]:
    """The (model config, training settings) of a named preset."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}: choose one of {', '.join(PRESETS)}")
    return PRESETS[name]
