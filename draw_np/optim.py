"""Adam with gradient clipping by global norm, for a dict of parameters; a warm-up of its rate;
a filter that skips the steps of gradient spikes; and an average of the weights that training
leaves alone.

The paper trains with Adam and gives no other settings; careful reproductions use learning
rate 1e-3 to 3e-4, β = (0.9, 0.999), and clip the gradient's global norm at 10 (spec). Clipping
matters for DRAW: backprop through 64 steps occasionally produces a large gradient, and one
such step can throw the attention far off the image. Weight decay is off unless a run asks
for it (``train --weight-decay``).
"""
from __future__ import annotations

import math
import statistics
from contextlib import contextmanager

import numpy as np

from .backend import xp


def global_norm(grads: dict) -> float:
    """``sqrt(Σ_k ||g_k||²)`` over all gradients; NaN or inf if any gradient is not finite."""
    return math.sqrt(sum(float((g * g).sum()) for g in grads.values()))


def clip_by_global_norm(grads: dict, max_norm: float):
    """Scale all gradients by ``min(1, max_norm / norm)``, keeping their direction.

    Returns ``(clipped, norm)``, ``norm`` being the global norm before clipping. The input dict
    and its arrays are not modified.
    """
    if not max_norm > 0:
        raise ValueError(f"max_norm must be > 0, got {max_norm!r}")
    norm = global_norm(grads)
    scale = min(1.0, max_norm / norm) if norm > 0 else 1.0
    if scale == 1.0:
        return dict(grads), norm
    return {k: g * scale for k, g in grads.items()}, norm


def warmed_up_rate(lr: float, step: int, warmup_steps: int) -> float:
    """The learning rate of optimiser step ``step`` (1, 2, ...) under a linear warm-up:
    ``lr · step / warmup_steps`` for the first ``warmup_steps`` steps, then ``lr``.

    Why: a fresh Adam moves every parameter by about the full rate from its first step, since
    its second-moment estimate knows nothing yet (Liu et al., 2020, "On the variance of the
    adaptive learning rate"). A run started from a trained model (``train --init-from``) pays
    for that at once, most of all in weights that start at zero, such as the new points of a
    grown glimpse (:mod:`draw_np.grow`)."""
    if warmup_steps and step < warmup_steps:
        return lr * step / warmup_steps
    return lr


def is_weight_matrix(name: str) -> bool:
    """Whether weight decay applies to a parameter: the weight matrices (the spec's ``*.W``),
    not the biases, the initial states ``h0`` or the canvas bias ``c0``."""
    return name.endswith(".W")


class Adam:
    """Adam (Kingma & Ba, 2015) with bias correction, and optional decoupled weight decay
    (AdamW, Loshchilov & Hutter, 2019) on the weight matrices.

    For every parameter θ with gradient g, at step t = 1, 2, ...::

        m ← β1 m + (1 − β1) g          v ← β2 v + (1 − β2) g²
        θ ← θ − lr · (m̂ / (sqrt(v̂) + ε) + λ θ),   m̂ = m / (1 − β1^t),  v̂ = v / (1 − β2^t)

    with λ = ``weight_decay`` for weight matrices (:func:`is_weight_matrix`) and 0 for the rest.
    The decay is *decoupled*: it shrinks θ directly instead of adding λθ to g, where Adam's
    per-parameter scaling would weaken it wherever gradients are large.
    """

    def __init__(self, params: dict, lr: float = 1e-3, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0):
        for name, value, ok in (("lr", lr, lr > 0), ("beta1", beta1, 0 <= beta1 < 1),
                                ("beta2", beta2, 0 <= beta2 < 1), ("eps", eps, eps > 0),
                                ("weight_decay", weight_decay, 0 <= weight_decay < math.inf)):
            if not ok:
                raise ValueError(f"Adam {name} out of range: {value!r}")
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.weight_decay = weight_decay
        self.t = 0
        self.m = {k: xp().zeros_like(p) for k, p in params.items()}
        self.v = {k: xp().zeros_like(p) for k, p in params.items()}

    def step(self, params: dict, grads: dict) -> None:
        """Update ``params`` in place from ``grads`` (same keys and shapes)."""
        if set(grads) != set(self.m):
            raise ValueError(f"gradients do not match the parameters Adam was built for: "
                             f"{sorted(set(grads) ^ set(self.m))}")
        self.t += 1
        # Fold both bias corrections into the step size: lr sqrt(1 − β2^t) / (1 − β1^t).
        step_size = self.lr * math.sqrt(1 - self.beta2 ** self.t) / (1 - self.beta1 ** self.t)
        eps_hat = self.eps * math.sqrt(1 - self.beta2 ** self.t)
        for k, g in grads.items():
            m, v = self.m[k], self.v[k]
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            v += (1 - self.beta2) * (g * g)
            if self.weight_decay and is_weight_matrix(k):
                params[k] *= 1 - self.lr * self.weight_decay
            params[k] -= step_size * m / (xp().sqrt(v) + eps_hat)

    def state_dict(self) -> dict:
        """The optimiser state as flat name -> array/number, for checkpoints."""
        state = {"t": self.t, "lr": self.lr, "beta1": self.beta1, "beta2": self.beta2,
                 "eps": self.eps, "weight_decay": self.weight_decay}
        state.update({f"m/{k}": a for k, a in self.m.items()})
        state.update({f"v/{k}": a for k, a in self.v.items()})
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned (arrays are copied to the current backend;
        a state from before weight decay existed had none)."""
        for k in self.m:
            for slot in ("m", "v"):
                a = state.get(f"{slot}/{k}")
                if a is None or tuple(a.shape) != tuple(self.m[k].shape):
                    raise ValueError(f"optimiser state has no {slot} for {k} of shape "
                                     f"{tuple(self.m[k].shape)}")
                getattr(self, slot)[k] = xp().asarray(a, dtype=self.m[k].dtype).copy()
        self.t = int(state["t"])
        self.lr, self.beta1, self.beta2, self.eps = (float(state[k]) for k in
                                                     ("lr", "beta1", "beta2", "eps"))
        self.weight_decay = float(state.get("weight_decay", 0.0))


class SpikeFilter:
    """Skip the optimiser step of a batch whose gradient norm (before clipping) is more than
    ``factor`` times the median norm of the last ``window`` batches.

    Why: DRAW's gradient norm is heavy-tailed. On two-digit MNIST a batch's norm is usually a few
    thousand, yet every few dozen steps one image sends back 10^5-10^8 through the read's gain
    (docs/two-digit-campaign.md, session 18). Clipping by global norm bounds the step's length,
    not its direction: the clipped step is that one image's gradient, packed into the few
    attention weights it flows through, and Adam, which scales each weight by its own history,
    moves those weights by several times the rate. Skipping such a step loses one batch of a
    few hundred and keeps the attention where the other images need it.

    Every norm joins the history, a skipped one too, so a lasting change of scale raises the
    median and is followed rather than skipped for ever. Nothing is skipped until the history
    holds ``least`` norms (a new run, or a filter switched on at a resume).
    """

    #: The key of the recent norms in a checkpoint's optimiser state.
    KEY = "spikes/norms"
    #: How many recent norms the median is taken over, unless a filter is made with another.
    WINDOW = 200

    def __init__(self, factor: float, window: int = WINDOW, least: int = 20):
        if not 1 < factor < math.inf:
            raise ValueError(f"the spike filter's factor must be a finite number > 1, got "
                             f"{factor!r}")
        if not 1 <= least <= window:
            raise ValueError(f"the spike filter needs 1 <= least <= window, got {least}, "
                             f"{window}")
        self.factor, self.window, self.least = factor, window, least
        self.norms: list[float] = []   # the recent gradient norms, oldest first

    def admits(self, norm: float) -> bool:
        """Whether the step of a batch with gradient norm ``norm`` goes ahead; the norm joins
        the history either way."""
        spike = len(self.norms) >= self.least and norm > self.factor * statistics.median(self.norms)
        self.norms = (self.norms + [float(norm)])[-self.window:]
        return not spike

    def state_dict(self) -> dict:
        return {self.KEY: np.asarray(self.norms, dtype=np.float64)}

    def load_state_dict(self, state: dict) -> bool:
        """Take the history in ``state`` (a checkpoint's optimiser state); False, keeping an
        empty one, when ``state`` holds none (a filter switched on at a resume)."""
        norms = state.get(self.KEY)
        if norms is None:
            return False
        norms = np.asarray(norms)
        finite = norms.dtype.kind == "f" and bool((np.isfinite(norms) & (norms >= 0)).all())
        if norms.ndim != 1 or not finite:
            raise ValueError(f"{self.KEY} must be a 1-D array of finite norms >= 0")
        self.norms = [float(v) for v in norms[-self.window:]]
        return True


class WeightAverage:
    """An exponential moving average of the parameters (Polyak averaging, as in Polyak &
    Juditsky, 1992, with exponential weights): after every optimiser step ::

        θ̄ ← d θ̄ + (1 − d) θ

    with θ̄ starting at the parameters it is created from.

    Why: at a rate small enough to be stable, progress is slow; at a larger one the iterate
    θ bounces around the valley's floor from step to step (on two-digit MNIST the validation
    bound of single checkpoints varies by 2-3 nats from epoch to epoch). The average of the
    recent iterates sits nearer the floor than any of them. It takes no part in training:
    θ̄ is only validated (beside the trained weights), and kept as ``best.npz`` when lower.
    """

    #: The prefix of its arrays in a checkpoint's optimiser state.
    PREFIX = "average/"

    def __init__(self, params: dict, decay: float):
        if not 0 < decay < 1:
            raise ValueError(f"the weight average's decay must be in (0, 1), got {decay!r}")
        self.decay = decay
        self.params = {k: p.copy() for k, p in params.items()}

    def update(self, params: dict) -> None:
        """One step of the average, after an optimiser step has changed ``params``."""
        for k, average in self.params.items():
            average *= self.decay
            average += (1 - self.decay) * params[k]

    def state_dict(self) -> dict:
        return {self.PREFIX + k: a for k, a in self.params.items()}

    def load_state_dict(self, state: dict) -> bool:
        """Take the averages in ``state`` (a checkpoint's optimiser state); False, keeping the
        parameters it was created from, when ``state`` holds none (a run that starts averaging
        on resume)."""
        found = {k: state.get(self.PREFIX + k) for k in self.params}
        if all(a is None for a in found.values()):
            return False
        for k, a in found.items():
            if a is None or tuple(a.shape) != tuple(self.params[k].shape):
                raise ValueError(f"the weight average has no array for {k} of shape "
                                 f"{tuple(self.params[k].shape)}")
            self.params[k] = xp().asarray(a, dtype=self.params[k].dtype).copy()
        return True

    @contextmanager
    def swapped_into(self, params: dict):
        """Inside the block ``params`` hold the averages (in place); after it, their own values
        again, even if the block raised."""
        own = {k: p.copy() for k, p in params.items()}
        for k, p in params.items():
            p[...] = self.params[k]
        try:
            yield
        finally:
            for k, p in params.items():
                p[...] = own[k]

