"""Named configurations: a model shape plus the training settings that go with it.

* ``tiny``: seconds; for tests and CI smoke runs.
* ``quick``: a real result in about six minutes on two CPU cores, a DRAW that visibly draws
  digits with attention (the configuration of the widely used TensorFlow DRAW demo: T = 10,
  read 2 x 2, write 5 x 5, z = 10).
* ``paper``: the paper's MNIST model (Table 3): T = 64, LSTMs of 256, z = 100, read 2 x 2,
  write 5 x 5, batch 100; Adam at 1e-3 with clipping at 10, as careful reproductions use.

Other data sets (``TrainSettings.dataset``):

* ``two-digit``: the paper's MNIST model on 60 x 60 two-digit MNIST (section 4.2; the paper
  gives no settings for it) with a 12 x 12 read instead of 2 x 2: pilots at equal CPU time
  (``docs/two-digit-campaign.md``) found the 2 x 2 read nearly blind at the start on 60 x 60
  (its four samples lie near the corners), and the 12 x 12 read 3 nats ahead after 0.3
  CPU-hours. Its Adam rate of 1e-3 learns for the first two epochs and then stalls with
  gradient spikes; the campaign went on with ``--resume --lr 3e-4`` from epoch 8;
* ``colour-mnist``: a small colour DRAW (C = 3; T = 12, LSTMs of 256, z = 16, read 2 x 2,
  write 5 x 5) on colour MNIST, to train on a CPU in under an hour. Measured: 1.1-1.3 min an
  epoch on one BLAS thread (AMD EPYC VM), so the 45 epochs take about 52 minutes. The
  validation cross-entropy falls 1268.6 (epoch 1) -> 1244.5 (20) -> 1233.6 (45), still about
  0.5 nats an epoch at the end; at 20 epochs it painted the right colours but turned a 7 into
  a 3, by 45 it draws each test digit back (the bundled ``assets/colour_mnist.npz``);
* ``svhn`` and ``cifar10``: the paper's models of Table 3 (SVHN: T = 32, LSTMs of 800, z = 100,
  read and write 12 x 12; CIFAR-10: T = 64, LSTMs of 400, z = 200, read and write 5 x 5), on
  32 x 32 x 3 images read from the files the user downloads (``--data PATH``).
* ``cluttered``: the attention classifier of the paper's Table 1 on 100 x 100 cluttered MNIST:
  8 glimpses of 12 x 12, an LSTM of 256, 10 classes (``--T 4`` gives the 4-glimpse row); batch
  100, Adam at 3e-4 (a pilot found 1e-3 unstable), clipping at 10.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass

import numpy as np

from .classifier import ClassifierConfig
from .data.dataset import DATASETS
from .model import DRAWConfig


#: How a new DRAW run starts its canvas bias c0: "zero" (σ(c0) = 0.5, a grey canvas) or
#: "data-mean" (σ(c0) = the mean training image, :func:`draw_np.model.canvas_bias_for_mean`).
CANVAS_INITS = ("zero", "data-mean")

#: How ``--init-from`` carries a model's glimpses to larger images: ``stretch`` keeps its
#: parameters as they are (eqs. 22-24 then stretch every glimpse over the new image), ``own``
#: keeps each glimpse's scale in pixels, the old image centred (:func:`draw_np.grow.at_own_scale`).
INIT_SCALES = ("stretch", "own")


@dataclass(frozen=True)
class TrainSettings:
    """How to train: everything that is not the model's shape."""
    epochs: int = 100
    batch_size: int = 100
    lr: float = 1e-3
    clip: float = 10.0
    seed: int = 0
    dataset: str = "mnist"              # a key of draw_np.data.dataset.DATASETS
    dynamic_binarization: bool = False  # fresh bits every epoch instead of the fixed set
    canvas_init: str = "zero"           # DRAW's c0 at the start: see CANVAS_INITS
    weight_decay: float = 0.0           # decoupled, on the weight matrices (draw_np.optim.Adam)
    init_from: str = ""                 # a checkpoint a new run takes its parameters from
    init_scale: str = "stretch"         # its glimpses on larger images: see INIT_SCALES
    warmup_steps: int = 0               # the rate rises linearly over the run's first steps
    weight_average: float = 0.0         # decay of an average of the weights (0: none; optim.py)
    skip_spikes: float = 0.0            # skip a step whose gradient norm is this many times the
                                        # recent median (0: none; optim.SpikeFilter)

    def __post_init__(self):
        for name, least in (("epochs", 1), ("batch_size", 1), ("seed", 0), ("warmup_steps", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < least:
                raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
            object.__setattr__(self, name, int(value))  # NumPy integers become plain ints
        for name, zero_allowed in (("lr", False), ("clip", False), ("weight_decay", True)):
            value = getattr(self, name)
            if (isinstance(value, bool) or not isinstance(value, numbers.Real)
                    or not (0 <= value if zero_allowed else 0 < value) or not value < math.inf):
                what = "a finite number >= 0" if zero_allowed else "a positive finite number"
                raise ValueError(f"{name} must be {what}, got {value!r}")
            object.__setattr__(self, name, float(value))
        decay = self.weight_average
        if isinstance(decay, bool) or not isinstance(decay, numbers.Real) or not 0 <= decay < 1:
            raise ValueError(f"weight_average must be a decay in [0, 1) (0: none), got "
                             f"{decay!r}")
        object.__setattr__(self, "weight_average", float(decay))
        factor = self.skip_spikes
        if (isinstance(factor, bool) or not isinstance(factor, numbers.Real)
                or not (factor == 0 or 1 < factor < math.inf)):
            raise ValueError(f"skip_spikes must be a factor > 1 (0: none), got {factor!r}")
        object.__setattr__(self, "skip_spikes", float(factor))
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, got "
                             f"{self.dataset!r}")
        if not isinstance(self.dynamic_binarization, (bool, np.bool_)):
            raise ValueError(f"dynamic_binarization must be True or False, got "
                             f"{self.dynamic_binarization!r}")
        object.__setattr__(self, "dynamic_binarization", bool(self.dynamic_binarization))
        if not isinstance(self.init_from, str):
            raise ValueError(f"init_from must be a path (a string), got {self.init_from!r}")
        if self.init_scale not in INIT_SCALES:
            raise ValueError(f"init_scale must be one of {', '.join(INIT_SCALES)}, got "
                             f"{self.init_scale!r}")
        if self.init_scale != "stretch" and not self.init_from:
            raise ValueError(f"init_scale {self.init_scale} applies only to a run started "
                             f"with init_from (--init-from)")
        if self.canvas_init not in CANVAS_INITS:
            raise ValueError(f"canvas_init must be one of {', '.join(CANVAS_INITS)}, got "
                             f"{self.canvas_init!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainSettings":
        """The inverse of :meth:`to_dict`; fields a dict lacks take their defaults."""
        if not isinstance(d, dict):
            raise ValueError(f"training settings must be a mapping, got {type(d).__name__}")
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown training settings: {sorted(unknown)}")
        return cls(**d)


#: Epochs of the cluttered preset: 25,000 Adam steps of 100 fresh images each (every epoch
#: places the 50,000 training digits anew, so epochs never repeat an image). The paper gives
#: no number; public reproductions of RAM on this task train for tens of thousands of steps.
#: Measured since (docs/cluttered-campaign.md, run 2): the training loss still falls at 3e-4
#: long after epoch 50, and staying there to epoch ~170 before dropping the rate gave 3.83 %
#: test error against 5.23 % for the drop at 50. Pass ``--epochs`` (or ``--hours``) for that.
EPOCHS_CLUTTERED = 50

#: Adam's learning rate for the cluttered preset. Measured in two pilots of 4.8 minutes on 2
#: shared CPU cores (``train --preset cluttered --limit 3000 --hours 0.08``, one seed each):
#: at 1e-3 the validation error fell to 69.5 % after 450 steps, then the run went unstable
#: (train loss 2.01 -> 2.24, error back to 80 %; 71.1 % on 1000 test images at the end);
#: at 3e-4 it fell steadily, 70.9 % after 870 steps and 31.1 % after 1500 (34.7 % on 1000
#: test images).
LR_CLUTTERED = 3e-4

#: name -> (a model config, of any kind in draw_np.models, and its training settings)
PRESETS: dict[str, tuple[object, TrainSettings]] = {
    "tiny": (DRAWConfig(T=4, enc_size=32, dec_size=32, z_size=4, read_n=2, write_n=3),
             TrainSettings(epochs=1, batch_size=50, lr=3e-3)),
    "quick": (DRAWConfig(T=10, enc_size=256, dec_size=256, z_size=10, read_n=2, write_n=5),
              TrainSettings(epochs=8, batch_size=100, lr=1e-3)),
    "paper": (DRAWConfig(), TrainSettings(epochs=100, batch_size=100, lr=1e-3)),
    # --- other data sets
    "two-digit": (DRAWConfig(H=60, W=60, read_n=12),
                  TrainSettings(epochs=100, batch_size=100, lr=1e-3, dataset="two-digit")),
    "colour-mnist": (DRAWConfig(T=12, enc_size=256, dec_size=256, z_size=16, read_n=2, write_n=5,
                                channels=3),
                     TrainSettings(epochs=45, batch_size=100, lr=1e-3, dataset="colour-mnist")),
    "svhn": (DRAWConfig(H=32, W=32, T=32, enc_size=800, dec_size=800, z_size=100, read_n=12,
                        write_n=12, channels=3),
             TrainSettings(epochs=100, batch_size=100, lr=1e-3, dataset="svhn")),
    "cifar10": (DRAWConfig(H=32, W=32, T=64, enc_size=400, dec_size=400, z_size=200, read_n=5,
                           write_n=5, channels=3),
                TrainSettings(epochs=100, batch_size=100, lr=1e-3, dataset="cifar10")),
    # --- the attention classifier
    "cluttered": (ClassifierConfig(H=100, W=100, T=8, size=256, read_n=12, classes=10),
                  TrainSettings(epochs=EPOCHS_CLUTTERED, batch_size=100, lr=LR_CLUTTERED,
                                dataset="cluttered")),
}


def preset(name: str) -> tuple[object, TrainSettings]:
    """The (model config, training settings) of a named preset."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}: choose one of {', '.join(PRESETS)}")
    return PRESETS[name]
