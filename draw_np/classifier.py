"""The attention classifier ("differentiable RAM", paper section 4.1, Table 1).

DRAW's read attention steered by one LSTM: no canvas, no error image, no latent. For
``t = 1..T`` glimpses, with ``h_0`` learned and the cell starting at zero (spec, "The attention
classifier")::

    (g̃_X, g̃_Y, log σ², log δ̃, log γ) = h_{t−1} W_a + b_a         (21-24)
    r_t = γ [F_Y x⁽¹⁾ F_Xᵀ, …, F_Y x⁽ᶜ⁾ F_Xᵀ]                        (25-27)  read_size = C N²
    h_t = LSTM(h_{t−1}, r_t)                                        input [r_t, h_{t−1}]
    logits = h_T W_o + b_o
    loss   = mean over the batch of −log softmax(logits)[label]

Each line is a layer of draw_np with its own backward pass: the read head of
:mod:`draw_np.heads` (eqs. 21-27), :func:`draw_np.lstm.lstm_forward`, the linear map of
:mod:`draw_np.linear` and the cross-entropy of :mod:`draw_np.softmax`. Backprop through time
walks the steps from ``t = T`` down to 1; each step hands ``dL/dh_{t−1}`` and ``dL/dcell_{t−1}``
to the one before. The image is data, so the read computes no image gradient, but the glimpse's
placement depends on ``h_{t−1}``, so ``dL/dh_{t−1}`` has two parts: through the LSTM and
through where the glimpse looked. Weights are shared by every step: their gradients are sums.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

from . import backend
from .attention import AttentionParams
from .config import ModelConfig
from .heads import (ReadHeadCache, attention_names, read_head_backward, read_head_forward,
                    read_head_matmul_shapes, read_head_param_shapes, read_size)
from .linear import linear_backward, linear_forward, linear_matmul_shapes
from .lstm import LSTMCache, lstm_backward, lstm_forward
from .model import INIT_STD, initial_attention_bias
from .softmax import check_labels, softmax_cross_entropy_backward, softmax_cross_entropy_forward
from .validate import check_positive_int, is_integer, trusted


@dataclass(frozen=True)
class ClassifierConfig(ModelConfig):
    """The shape of an attention classifier. The defaults are the paper's Table 1 model:
    8 glimpses of 12 x 12 on 100 x 100 cluttered MNIST, an LSTM of 256, 10 classes."""
    H: int = 100
    W: int = 100
    channels: int = 1
    T: int = 8
    size: int = 256
    read_n: int = 12
    classes: int = 10

    #: Far beyond the paper's model: see ModelConfig.
    LIMITS: ClassVar[dict] = dict(H=2048, W=2048, channels=64, T=1024, size=8192, read_n=2048,
                                  classes=100_000)
    LEAST: ClassVar[dict] = dict(classes=2)

    def __post_init__(self):
        self.check_fields()
        side = max(self.H, self.W)
        if self.read_n > side:
            raise ValueError(f"read_n = {self.read_n} is larger than the image ({self.H} x "
                             f"{self.W}): a grid side must be at most {side}")

    @property
    def read_size(self) -> int:
        """Length of r_t: C patches of N x N (eq. 27 on the image alone)."""
        return read_size(self.read_n, self.channels, self.H, self.W)


def param_shapes(config: ClassifierConfig) -> dict:
    """Every parameter's name and shape, as in the spec: the LSTM, the read head's attention
    map, the output layer and the learned initial state."""
    c = config
    shapes = {"lstm.W": (c.read_size + c.size, 4 * c.size), "lstm.b": (4 * c.size,)}
    shapes.update(read_head_param_shapes("read", c.size, c.read_n))
    shapes.update({"out.W": (c.size, c.classes), "out.b": (c.classes,), "h0": (c.size,)})
    return shapes


class StepCache(NamedTuple):
    """What the backward pass of one glimpse needs."""
    read: ReadHeadCache   # r_t = read(x, h_{t−1}), eqs. 21-27, with its glimpse
    lstm: LSTMCache       # h_t = LSTM(h_{t−1}, r_t)


class Forward(NamedTuple):
    """A forward pass: the logits, and the caches to differentiate it."""
    logits: object        # (n, classes)
    out: object           # LinearCache of logits = h_T W_o + b_o
    steps: list           # T StepCaches


class ClassifierTerms(NamedTuple):
    """Per-example results of a forward pass."""
    cross_entropy: object   # (n,) −log softmax(logits)[label], nats
    wrong: object           # (n,) bool: the most probable class is not the label


class Glimpses(NamedTuple):
    """Where the classifier looked and what it saw (host arrays, for plots)."""
    attention: AttentionParams   # each field (T, n): g_X, g_Y, σ², δ, γ of every glimpse
    patches: object              # (T, n, C, N, N) r_t as patches, γ included (eq. 27)


class ClassifierEvalResult(NamedTuple):
    """The classifier's figures on a labelled set (what ``AttentionClassifier.evaluate`` returns)."""
    n: int                       # images evaluated
    error: float                 # % of images whose most probable class is not the label
    error_stderr: float          # its standard error over images, %
    cross_entropy: float         # mean −log softmax(logits)[label], nats
    cross_entropy_stderr: float

    @property
    def figure(self) -> float:
        """The number training minimises on the validation set: the error in %."""
        return self.error

    def summary(self) -> dict:
        return dict(error=self.error, cross_entropy=self.cross_entropy)

    def to_dict(self) -> dict:
        return self._asdict()

    def format(self, split: str = "test") -> str:
        return "\n".join([
            f"{split} images: {self.n}",
            f"{split} error         : {self.error:6.2f} ± {self.error_stderr:.2f} %   (the "
            f"paper's Table 1 figure: 3.36 % with 8 glimpses, 4.18 % with 4)",
            f"{split} cross-entropy : {self.cross_entropy:6.3f} ± "
            f"{self.cross_entropy_stderr:.3f} nats",
        ])


class AttentionClassifier:
    """An attention classifier: parameters, the loss and its gradients, predictions, glimpses.

    Args:
        config: a :class:`ClassifierConfig`.
        seed: seeds the initial weights.
        dtype: ``"float32"`` for training, ``"float64"`` for gradient checks.

    Weights start ~ N(0, INIT_STD²) as DRAW's; the read head's bias so that the first glimpse
    sees the whole image (:func:`draw_np.model.initial_attention_bias`); other biases and
    ``h0`` at zero. The class offers the interface of :mod:`draw_np.models`.
    """

    kind = "classifier"
    config_class = ClassifierConfig
    param_shapes = staticmethod(param_shapes)
    figure_name, figure_unit = "error", "%"
    read_input = "lstm.W"                         # its first rows take r_t

    def __init__(self, config: ClassifierConfig = ClassifierConfig(), seed: int = 0,
                 dtype="float32"):
        if not isinstance(config, ClassifierConfig):
            raise ValueError(f"config must be a ClassifierConfig, got {type(config).__name__}")
        if str(dtype) not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        if not is_integer(seed) or seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
        self.config, self.dtype = config, str(dtype)
        self.rng = backend.Random(int(seed))
        xp = backend.xp()
        self.params = {name: (INIT_STD * self.rng.normal(shape, self.dtype) if name.endswith(".W")
                              else xp.zeros(shape, dtype=self.dtype))
                       for name, shape in param_shapes(config).items()}
        self.params[attention_names("read")[1]] = xp.asarray(
            initial_attention_bias(config.read_n, config.H, config.W), dtype=self.dtype)

    # ------------------------------------------------------------------ checking the inputs
    def _check_images(self, x):
        """x as (n, *image_shape) on the backend in the model's dtype; a grey model also takes
        (n, 1, H, W). Values must lie in [0, 1]."""
        xp, c = backend.xp(), self.config
        shapes = [c.image_shape] + ([(1, c.H, c.W)] if c.channels == 1 else [])
        shape = tuple(getattr(x, "shape", ()))
        if not hasattr(x, "shape") or shape[1:] not in shapes:
            got = shape if hasattr(x, "shape") else type(x).__name__
            wanted = " or ".join("(n, " + ", ".join(map(str, s)) + ")" for s in shapes)
            raise ValueError(f"x must have shape {wanted}, got {got}")
        if shape[0] < 1:
            raise ValueError("x must hold at least one image, got an empty batch")
        if getattr(x, "dtype", None) is None or x.dtype.kind not in "biuf":
            raise ValueError(f"x must hold real numbers, got dtype {getattr(x, 'dtype', None)}")
        x = xp.asarray(x, dtype=self.dtype).reshape((shape[0],) + c.image_shape)
        if bool(xp.isnan(x).any()):
            raise ValueError("x contains NaN")
        if bool((x < 0).any() | (x > 1).any()):
            raise ValueError(f"x must have values in [0, 1], got values in "
                             f"[{float(x.min())}, {float(x.max())}]")
        return x

    def _check_labels(self, labels, n: int):
        if hasattr(labels, "dtype") and labels.dtype.kind in "iu":
            labels = backend.xp().asarray(labels)
        return check_labels(labels, n, self.config.classes)

    # --------------------------------------------------------------------------- forward
    def _forward(self, x) -> Forward:
        """T glimpses and the logits, keeping every step's cache (x already checked)."""
        p, c, xp = self.params, self.config, backend.xp()
        n = x.shape[0]
        h = xp.zeros((n, c.size), dtype=self.dtype) + p["h0"]          # h_0, learned
        cell = xp.zeros((n, c.size), dtype=self.dtype)                 # the cell starts at 0
        steps = []
        for _ in range(c.T):
            r, read = read_head_forward(p, "read", h, (x,), c.read_n)  # (21-27) from h_{t−1}
            (h, cell), lstm = lstm_forward(r, h, cell, p["lstm.W"], p["lstm.b"])
            steps.append(StepCache(read, lstm))
        logits, out = linear_forward(h, p["out.W"], p["out.b"])        # h_T W_o + b_o
        return Forward(logits, out, steps)

    # -------------------------------------------------------------------------- backward
    def _backward(self, forward: Forward, dlogits) -> dict:
        """Backprop through time: from dL/dlogits (n, classes) to dL/dθ for every parameter."""
        grads = {name: backend.xp().zeros_like(value) for name, value in self.params.items()}
        # logits = h_T W_o + b_o
        dh, grads["out.W"], grads["out.b"] = linear_backward(dlogits, forward.out)
        dcell = backend.xp().zeros_like(dh)          # nothing comes after step T
        for step in reversed(forward.steps):
            # h_t = LSTM(h_{t−1}, r_t): to dr_t, dh_{t−1}, dcell_{t−1} and the weights'
            lstm = lstm_backward(dh, dcell, step.lstm)
            grads["lstm.W"] += lstm.dW
            grads["lstm.b"] += lstm.db
            # r_t = read(x, h_{t−1}): x is data; the glimpse's placement depends on h_{t−1}
            read = read_head_backward(lstm.dx, step.read, wrt=(False,))
            for name, grad in read.params.items():
                grads[name] += grad
            dh, dcell = lstm.dh_prev + read.dh, lstm.dcell_prev
        grads["h0"] = dh.sum(axis=0)                 # h_0 is shared by the batch
        return grads

    # ------------------------------------------------------------------------ public API
    def loss_and_grads(self, x, labels, return_terms: bool = False):
        """The training loss, the batch mean of ``−log softmax(logits)[label]``, and its
        gradient with respect to every parameter.

        Args:
            x: (n, H, W) grey images in [0, 1], or (n, C, H, W); a grey model takes
                (n, 1, H, W) too.
            labels: (n,) integers in [0, classes).
            return_terms: also return the per-example :class:`ClassifierTerms`.
        Returns:
            ``(loss, grads)``: the loss in nats as a Python float and a dict with the keys and
            shapes of ``params``; ``(loss, grads, terms)`` if ``return_terms``.
        """
        x = self._check_images(x)
        labels = self._check_labels(labels, x.shape[0])
        with trusted():  # x and labels are checked; the loop's own arrays are right by construction
            forward = self._forward(x)
            cross_entropy, softmax = softmax_cross_entropy_forward(forward.logits, labels)
            n = x.shape[0]
            dmean = backend.xp().full((n,), 1.0 / n, dtype=self.dtype)   # L = mean over the batch
            grads = self._backward(forward, softmax_cross_entropy_backward(dmean, softmax))
        loss = float(cross_entropy.mean())
        if not return_terms:
            return loss, grads
        return loss, grads, ClassifierTerms(cross_entropy, forward.logits.argmax(axis=1) != labels)

    def logits(self, x):
        """The class scores (n, classes) of images x, on the backend."""
        x = self._check_images(x)
        with trusted():
            return self._forward(x).logits

    def predict(self, x):
        """The most probable class of each image: (n,) int64 host array."""
        return backend.to_numpy(self.logits(x).argmax(axis=1)).astype("int64")

    def glimpses(self, x) -> Glimpses:
        """Where each of the T glimpses was placed on each image, and the patch it read."""
        x = self._check_images(x)
        with trusted():
            steps = self._forward(x).steps
        xp, c, n = backend.xp(), self.config, x.shape[0]
        fields = zip(*(step.read.glimpse.params for step in steps))
        attention = AttentionParams(*(backend.to_numpy(xp.stack(f)) for f in fields))
        # r_t is the C patches, row-major, with γ applied: patch = r_t reshaped
        patches = xp.stack([step.lstm.linear.x[:, :c.read_size] for step in steps])
        return Glimpses(attention,
                        backend.to_numpy(patches.reshape(c.T, n, c.channels, c.read_n, c.read_n)))

    @staticmethod
    def training_metrics(terms: ClassifierTerms) -> dict:
        """The batch's error in %, logged beside the loss (the cross-entropy)."""
        return {"error": 100 * float(terms.wrong.mean())}

    def evaluate(self, images, labels, samples: int = 1, batch_size: int = 100, seed: int = 0,
                 progress=None) -> ClassifierEvalResult:
        """The error in % (the paper's Table 1 figure) and the cross-entropy over a labelled set.

        Args:
            images: (N, *image_shape) host array with values in [0, 1].  labels: (N,) integers.
            samples: must be 1: the classifier is deterministic (the argument is DRAW's).
            batch_size: images per forward pass.  seed: unused, for the same reason.
            progress: optional callable ``progress(images_done)``.
        """
        if samples != 1:
            raise ValueError(f"samples must be 1 for the attention classifier, got {samples!r}: "
                             f"it is deterministic, so more samples would give the same figure")
        batch_size = check_positive_int("batch_size", batch_size)
        shape = tuple(self.config.image_shape)
        if not hasattr(images, "shape") or tuple(images.shape[1:]) != shape or len(images) == 0:
            raise ValueError(f"images must have shape (N, {', '.join(map(str, shape))}) with "
                             f"N >= 1, got {getattr(images, 'shape', type(images).__name__)}")
        if not hasattr(labels, "shape") or len(labels) != len(images):
            raise ValueError(f"labels must hold one label per image ({len(images)}), got "
                             f"{getattr(labels, 'shape', type(labels).__name__)}")
        xp = backend.xp()
        cross_entropy, wrong = [], []
        for start in range(0, len(images), batch_size):
            x = self._check_images(images[start:start + batch_size])
            y = self._check_labels(labels[start:start + batch_size], x.shape[0])
            with trusted():
                logits = self._forward(x).logits
                loss, _ = softmax_cross_entropy_forward(logits, y)
            cross_entropy.append(loss.astype("float64"))   # summed in float64
            wrong.append((logits.argmax(axis=1) != y).astype("float64"))
            if progress is not None:
                progress(x.shape[0])
        cross_entropy, wrong = (backend.to_numpy(xp.concatenate(a)) for a in (cross_entropy, wrong))
        n = len(wrong)
        stderr = lambda a: float(a.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
        return ClassifierEvalResult(n, 100 * float(wrong.mean()), 100 * stderr(wrong),
                                    float(cross_entropy.mean()), stderr(cross_entropy))

    def matmul_shapes(self, n: int) -> list:
        """Every matrix product of one training step on a batch of n (forward and backward),
        as ``(label, rows, inner, cols, count)`` tuples (see :meth:`draw_np.model.DRAW.matmul_shapes`).
        Each step's products follow the code: the read head on the C image planes (no image
        gradient) and the LSTM with its weight gradient per step; the output layer once."""
        n = check_positive_int("n", n)
        c = self.config
        per_step = (read_head_matmul_shapes("read", n, c.size, c.read_n, (c.channels,), (False,),
                                            c.H, c.W)
                    + linear_matmul_shapes("lstm", n, c.read_size + c.size, 4 * c.size))
        return ([(label, rows, inner, cols, count * c.T)
                 for label, rows, inner, cols, count in per_step if count]   # no image gradient
                + linear_matmul_shapes("out", n, c.size, c.classes))
