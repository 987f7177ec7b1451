"""The DRAW model: T steps of read, encode, sample, decode, write; and backprop through time.

One step ``t = 1..T`` (spec eqs. 3-8)::

    x̂_t     = x − σ(c_{t−1})                                (3)  error image
    r_t     = read(x, x̂_t, h^dec_{t−1})                     (4)
    h^enc_t = LSTM_enc(h^enc_{t−1}, [r_t, h^dec_{t−1}])     (5)
    μ_t     = h^enc_t W_μ + b_μ,  log σ_t = h^enc_t W_σ + b_σ  (1, 2)
    z_t     = μ_t + σ_t ⊙ ε_t                               (6)
    h^dec_t = LSTM_dec(h^dec_{t−1}, z_t)                    (7)
    c_t     = c_{t−1} + write(h^dec_t)                      (8)

and the loss (eqs. 9-12) ``L = L^x + L^z`` with ``L^x`` the Bernoulli NLL of x under logits
``c_T`` and ``L^z = Σ_t KL(N(μ_t, σ_t²) || N(0, I))``.

Images may have C channels (``DRAWConfig(channels=C)``, spec "Images with C channels"): x and
the canvas are (n, C, H, W), or (n, H, W) for the grey model, which also takes (n, 1, H, W).
Read and write are the heads of :mod:`draw_np.heads`, which own their parameters; the decoder
half-step (eqs. 7-8, :meth:`DRAW.decode`) is shared by training and generation.

The forward pass keeps one :class:`StepCache` per step. The backward pass walks them from
``t = T`` down to 1, each step undoing eqs. 8, 7, 6, 2-1, 5, 4, 3 in that order and handing the
gradient of the state it started from to the step before. Weights are shared by every step, so
their gradients are sums over steps.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import numpy as np

from . import backend
from .activations import sigmoid
from .attention import AttentionParams
from .bernoulli import bernoulli_nll_backward, bernoulli_nll_forward
from .config import ModelConfig
from .gaussian import kl_backward, kl_forward, sample_backward, sample_forward
from .heads import (Glimpse, ReadHeadCache, WriteHeadCache, attention_names, read_head_backward,
                    read_head_forward, read_head_matmul_shapes, read_head_param_shapes,
                    read_size, write_head_backward, write_head_forward, write_head_matmul_shapes,
                    write_head_param_shapes, write_size)
from .linear import linear_forward, linear_matmul_shapes
from .lstm import lstm_forward, lstm_gates_backward
from .validate import check_positive_int, is_integer, trusted

#: Standard deviation of the initial weights, N(0, 0.1²). Careful reproductions use 0.01 (spec)
#: and train for 100+ epochs; with 0.01 everything starts so small (μ_t carries ~1e-4 of signal
#: against noise of σ = 1) that the decoder learns to ignore z, the KL collapses to zero and the
#: model sits at the mean image (208 nats) for the whole of a short run. Measured on the quick
#: preset, 400 Adam steps at lr 1e-3 on 20,000 images: 0.01 → 208.8 nats (L^z 0.002),
#: Glorot-uniform → 192.3 (L^z 2.6), 0.1 → 186.8 (L^z 4.2). Biases, the initial canvas and the
#: initial hidden states start at zero, except the attention heads' (:func:`initial_attention_bias`).
INIT_STD = 0.1


@dataclass(frozen=True)
class DRAWConfig(ModelConfig):
    """The shape of a DRAW model. The defaults are the paper's MNIST model (Table 3).

    ``channels`` is C, the image planes (1 grey, 3 colour; spec, "Images with C channels").
    """
    H: int = 28
    W: int = 28
    T: int = 64
    enc_size: int = 256
    dec_size: int = 256
    z_size: int = 100
    read_n: int = 2
    write_n: int = 5
    attention: bool = True
    channels: int = 1
    #: Side, in pixels, of the window the write head's first glimpse covers before training
    #: (:func:`initial_attention_bias`); 0, the default, is the whole image.
    write_window: int = 0

    #: Far beyond any model of the paper (T = 64, LSTMs of 800, 32 x 32 x 3): see ModelConfig.
    LIMITS: ClassVar[dict] = dict(H=2048, W=2048, T=1024, enc_size=8192, dec_size=8192,
                                  z_size=8192, read_n=2048, write_n=2048, channels=64,
                                  write_window=2048)
    LEAST: ClassVar[dict] = dict(write_window=0)
    FLAGS: ClassVar[tuple] = ("attention",)

    def __post_init__(self):
        self.check_fields()
        side = max(self.H, self.W)
        if self.attention:
            for name in ("read_n", "write_n"):
                if getattr(self, name) > side:
                    raise ValueError(f"{name} = {getattr(self, name)} is larger than the image "
                                     f"({self.H} x {self.W}): a grid side must be at most {side}")
        if self.write_window and not self.attention:
            raise ValueError("write_window sets the write glimpse's first window: it needs "
                             "attention (without it the model writes whole canvases)")
        if self.write_window > side:
            raise ValueError(f"write_window = {self.write_window} is larger than the image "
                             f"({self.H} x {self.W}): at most {side}, or 0 for the whole image")

    @property
    def read_grid(self) -> int | None:
        """The read head's grid side N, or None: the model reads whole images (eq. 17)."""
        return self.read_n if self.attention else None

    @property
    def write_grid(self) -> int | None:
        """The write head's grid side N, or None: the model writes whole canvases (eq. 18)."""
        return self.write_n if self.attention else None

    @property
    def canvas_shape(self) -> tuple:
        """The shape of ``c0`` and the canvas: an image's, (H, W) when grey, else (C, H, W)."""
        return self.image_shape

    @property
    def read_size(self) -> int:
        """Length of r_t: 2C N x N patches (eq. 27), or the image and error image (eq. 17)."""
        return read_size(self.read_grid, 2 * self.channels, self.H, self.W)

    @property
    def write_size(self) -> int:
        """Length of the write head's output: C N x N patches (eq. 28) or a whole canvas (eq. 18)."""
        return write_size(self.write_grid, self.canvas_shape)

def param_shapes(config: DRAWConfig) -> dict:
    """Every parameter's name and shape, exactly as in the spec's table: the LSTMs, the latent
    maps and the initial state, and what the read and write heads own."""
    c = config
    shapes = {
        "enc.W": (c.read_size + c.dec_size + c.enc_size, 4 * c.enc_size),
        "enc.b": (4 * c.enc_size,),
        "dec.W": (c.z_size + c.dec_size, 4 * c.dec_size),
        "dec.b": (4 * c.dec_size,),
        "mu.W": (c.enc_size, c.z_size), "mu.b": (c.z_size,),
        "logsigma.W": (c.enc_size, c.z_size), "logsigma.b": (c.z_size,),
        "c0": c.canvas_shape,
        "h0_enc": (c.enc_size,), "h0_dec": (c.dec_size,),
    }
    shapes.update(read_head_param_shapes("read", c.dec_size, c.read_grid))
    shapes.update(write_head_param_shapes("write", c.dec_size, c.write_grid, c.canvas_shape))
    return shapes


def initial_attention_bias(N: int, H: int, W: int, window: int = 0) -> list:
    """Bias of an attention head (eq. 21) whose first glimpse sees the whole image, or the
    centred ``window`` x ``window`` pixels of it when ``window`` is not 0.

    Centred (g̃ = 0), intensity γ = 1, stride ``δ = max(H, W) / N`` (or ``window / N``) so the
    N x N grid tiles the image (the window), and ``σ = δ / 2`` so each filter averages its own
    tile. A zero bias would instead give ``δ = (max(H, W) − 1)/(N − 1)`` and σ = 1: for the
    2 x 2 read of the MNIST model, four one-pixel filters on the image's corners, which only
    ever see background. The encoder is then blind, the KL drives q(z) to the prior, and
    training stalls at the mean-image model (about 208 nats on MNIST, which is what we saw).
    Returns ``[g̃_X, g̃_Y, log σ², log δ̃, log γ]``.
    """
    from .attention import stride_scale
    delta = (window or max(H, W)) / N
    return [0.0, 0.0, math.log((delta / 2) ** 2), math.log(delta / stride_scale(N, H, W)), 0.0]


#: How far from 0 and 1 :func:`canvas_bias_for_mean` clips a pixel's rate, so that pixels the
#: data never inks (a border) start at a finite logit, ln(1e-3 / (1 − 1e-3)) ≈ −6.9.
MEAN_RATE_CLIP = 1e-3


def canvas_bias_for_mean(mean_image) -> np.ndarray:
    """The initial canvas ``c0`` with ``σ(c0)`` equal to the data's mean image (spec: ``c0`` is a
    learned bias; the paper gives no initialisation). The inverse of eq. 9's sigmoid:
    ``c0 = ln(m / (1 − m))``, each rate ``m`` clipped to [1e-3, 1 − 1e-3].

    Why it exists: with ``c0 = 0`` a fresh model's canvas starts grey (σ(0) = 0.5 everywhere),
    and on 60 × 60 two-digit MNIST (94.5 % background) the model learns wide write filters that
    paint the canvas dark, then carves blurred digits out of it. Starting from the mean image
    was meant to leave the writes only the ink to add. Measured (pilot P4,
    ``docs/two-digit-campaign.md``): it made things worse. The mean image is the plateau every
    run must leave (about 628 nats there); starting on it, the gradients were 100 times smaller
    (global norm 1.5-3 against 150-700), the KL fell to 0.01 nats by step 300 and the run was
    still on the plateau after 672 steps, where the grey start was at 470. So the default stays
    ``zero``; ``train --canvas-init data-mean`` uses this.
    """
    m = np.clip(np.asarray(mean_image, dtype=np.float64), MEAN_RATE_CLIP, 1 - MEAN_RATE_CLIP)
    return np.log(m) - np.log1p(-m)


def init_params(config: DRAWConfig, rng: backend.Random, dtype="float32") -> dict:
    """Weight matrices ~ N(0, INIT_STD²); attention biases from :func:`initial_attention_bias`;
    other biases, c0 and the initial states zero."""
    xp = backend.xp()
    params = {}
    for name, shape in param_shapes(config).items():
        if name.endswith(".W"):
            params[name] = INIT_STD * rng.normal(shape, dtype)
        else:
            params[name] = xp.zeros(shape, dtype=dtype)
    if config.attention:
        for prefix, N, window in (("read", config.read_n, 0),
                                  ("write", config.write_n, config.write_window)):
            params[attention_names(prefix)[1]] = xp.asarray(
                initial_attention_bias(N, config.H, config.W, window), dtype=dtype)
    return params


class State(NamedTuple):
    """What one step hands to the next (and, in the backward pass, its gradient)."""
    canvas: object    # (n, *canvas_shape) c_t, logits: (n, H, W) grey, (n, C, H, W) colour
    h_enc: object     # (n, enc_size)
    cell_enc: object  # (n, enc_size)
    h_dec: object     # (n, dec_size)
    cell_dec: object  # (n, dec_size)


class DecoderState(NamedTuple):
    """What the decoder half-step (eqs. 7-8) carries: in training and in generation alike."""
    canvas: object    # (n, *canvas_shape)
    h_dec: object     # (n, dec_size)
    cell_dec: object  # (n, dec_size)


class DecoderCache(NamedTuple):
    dec: object              # LSTM cache, eq. 7
    write: WriteHeadCache    # eq. 8


class StepCache(NamedTuple):
    """Everything the backward pass of one step needs, named after the equation it serves."""
    canvas_prob: object      # (n, *canvas_shape) σ(c_{t−1}), for eq. 3
    read: ReadHeadCache      # eq. 4, with its glimpse
    enc: object              # LSTM cache, eq. 5
    mu: object               # linear caches, eqs. 1-2
    logsigma: object
    sample: object           # eq. 6
    kl: object               # eq. 11
    dec: object              # LSTM cache, eq. 7
    write: WriteHeadCache    # eq. 8, with its glimpse

    @property
    def read_glimpse(self) -> Glimpse | None:
        """Where the read head looked (None without attention)."""
        return self.read.glimpse

    @property
    def write_glimpse(self) -> Glimpse | None:
        """Where the write head drew (None without attention)."""
        return self.write.glimpse


class LossTerms(NamedTuple):
    """Per-example loss terms, in nats."""
    Lx: object           # (n,) reconstruction: Bernoulli NLL of x under σ(c_T) (eq. 9)
    Lz: object           # (n,) latent: Σ_t KL (eqs. 10-11)
    kl_per_step: object  # (T, n) the KL of each step: which steps carry information
    log_ratio: object    # (n,) Σ_t log q(z_t | x) − log p(z_t) at the sampled z: a one-sample
                         # estimate of L^z, needed for importance weights (evaluate.py)


class Drawing(NamedTuple):
    """What the model drew, step by step, for plots and animations (all on the host)."""
    canvases: object                       # (T, n, H, W) σ(c_t), the Bernoulli means; (T, n, C, H, W)
                                           # for C > 1
    write_attention: AttentionParams | None  # each field (T, n)
    read_attention: AttentionParams | None   # each field (T, n); None when generating


def _check_seed(seed):
    """A seed is an integer >= 0 (NumPy integers too, bools refused)."""
    if not is_integer(seed) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    return int(seed)


class DRAW:
    """A DRAW network: parameters, the loss and its gradients, generation and reconstruction.

    Args:
        config: a :class:`DRAWConfig`.
        seed: seeds the initial weights and the generator that draws ε when none is given.
        dtype: ``"float32"`` for training, ``"float64"`` for gradient checks.

    ``model.params`` maps the spec's names to arrays on the current backend; ``model.rng`` is
    the model's :class:`draw_np.backend.Random`. The class offers the interface of
    :mod:`draw_np.models`.
    """

    kind = "draw"
    config_class = DRAWConfig
    param_shapes = staticmethod(param_shapes)
    figure_name, figure_unit = "bound", "nats"   # what evaluate() reports: L^x + L^z
    read_input = "enc.W"                          # its first rows take r_t (eq. 4)

    def __init__(self, config: DRAWConfig = DRAWConfig(), seed: int = 0, dtype="float32"):
        if not isinstance(config, DRAWConfig):
            raise ValueError(f"config must be a DRAWConfig, got {type(config).__name__}")
        if str(dtype) not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        self.config = config
        self.dtype = str(dtype)
        self.rng = backend.Random(_check_seed(seed))
        self.params = init_params(config, self.rng, self.dtype)

    # ------------------------------------------------------------------ checking the inputs
    def _check_input(self, x, eps):
        """Validate x and eps and convert them; draw eps if None.

        x is (n, *canvas_shape) in [0, 1]; a grey model also takes (n, 1, H, W) and reads it
        as (n, H, W). eps is (T, n, z_size).
        """
        xp, c = backend.xp(), self.config
        shapes = [c.canvas_shape] + ([(1, c.H, c.W)] if c.channels == 1 else [])
        shape = tuple(getattr(x, "shape", ()))
        if not hasattr(x, "shape") or shape[1:] not in shapes:
            got = shape if hasattr(x, "shape") else type(x).__name__
            wanted = " or ".join("(n, " + ", ".join(map(str, s)) + ")" for s in shapes)
            raise ValueError(f"x must have shape {wanted}, got {got}")
        if x.shape[0] < 1:
            raise ValueError("x must hold at least one image, got an empty batch")
        if getattr(x, "dtype", None) is None or x.dtype.kind not in "biuf":
            raise ValueError(f"x must hold real numbers, got dtype {getattr(x, 'dtype', None)}")
        x = xp.asarray(x, dtype=self.dtype).reshape((x.shape[0],) + c.canvas_shape)
        if bool(xp.isnan(x).any()):
            raise ValueError("x contains NaN")
        if bool((x < 0).any() | (x > 1).any()):
            raise ValueError(f"x must have values in [0, 1], got values in "
                             f"[{float(x.min())}, {float(x.max())}]")
        return x, self._noise(x.shape[0], eps)

    def _noise(self, n: int, eps):
        """Check eps of shape (T, n, z_size) and convert it, or draw it when None."""
        c, xp = self.config, backend.xp()
        if eps is None:
            return self.rng.normal((c.T, n, c.z_size), self.dtype)
        if not hasattr(eps, "shape") or tuple(eps.shape) != (c.T, n, c.z_size):
            got = getattr(eps, "shape", type(eps).__name__)
            raise ValueError(f"eps must have shape (T, n, z_size) = ({c.T}, {n}, {c.z_size}), "
                             f"got {got}")
        if getattr(eps, "dtype", None) is None or eps.dtype.kind not in "biuf":
            raise ValueError(f"eps must hold real numbers, got dtype {getattr(eps, 'dtype', None)}")
        eps = xp.asarray(eps, dtype=self.dtype)
        if not bool(xp.isfinite(eps).all()):
            raise ValueError("eps must be finite: it contains NaN or inf")
        return eps

    # --------------------------------------------------------------------------- forward
    def initial_state(self, n: int) -> State:
        """c_0, h^enc_0 and h^dec_0 are learned, shared by the batch; cell states start at 0."""
        xp, p = backend.xp(), self.params
        zeros = lambda size: xp.zeros((n, size), dtype=self.dtype)
        return State(
            canvas=xp.broadcast_to(p["c0"], (n,) + p["c0"].shape),
            h_enc=xp.broadcast_to(p["h0_enc"], (n, self.config.enc_size)),
            cell_enc=zeros(self.config.enc_size),
            h_dec=xp.broadcast_to(p["h0_dec"], (n, self.config.dec_size)),
            cell_dec=zeros(self.config.dec_size),
        )

    def decode(self, state: DecoderState, z):
        """The decoder half-step (eqs. 7-8), shared by training and generation.

        ``h^dec_t = LSTM_dec(h^dec_{t−1}, z_t)`` and ``c_t = c_{t−1} + write(h^dec_t)``.
        Returns the new :class:`DecoderState` and a :class:`DecoderCache`.
        """
        c, p = self.config, self.params
        (h_dec, cell_dec), dec_cache = lstm_forward(z, state.h_dec, state.cell_dec,  # (7)
                                                    p["dec.W"], p["dec.b"])
        update, write_cache = write_head_forward(p, "write", h_dec, c.write_grid,   # (8)
                                                 c.canvas_shape)
        return (DecoderState(state.canvas + update, h_dec, cell_dec),
                DecoderCache(dec_cache, write_cache))

    def step(self, x, state: State, eps_t):
        """One step of eqs. 3-8. Returns the new state, the step's KL (n,) and its cache.

        x is (n, *canvas_shape), as :meth:`initial_state`'s canvas.
        """
        c, p = self.config, self.params
        xp = backend.xp()
        canvas_prob = sigmoid(state.canvas)
        x_hat = x - canvas_prob                                                    # (3)
        r, read_cache = read_head_forward(p, "read", state.h_dec, (x, x_hat),     # (4)
                                          c.read_grid)
        (h_enc, cell_enc), enc_cache = lstm_forward(                               # (5)
            xp.concatenate([r, state.h_dec], axis=1), state.h_enc, state.cell_enc,
            p["enc.W"], p["enc.b"])
        mu, mu_cache = linear_forward(h_enc, p["mu.W"], p["mu.b"])                 # (1)
        logsigma, logsigma_cache = linear_forward(h_enc, p["logsigma.W"], p["logsigma.b"])  # (2)
        z, sample_cache = sample_forward(mu, logsigma, eps_t)                      # (6)
        kl, kl_cache = kl_forward(mu, logsigma)                                    # (11)
        decoded, decoder_cache = self.decode(                                      # (7, 8)
            DecoderState(state.canvas, state.h_dec, state.cell_dec), z)
        new_state = State(decoded.canvas, h_enc, cell_enc, decoded.h_dec, decoded.cell_dec)
        cache = StepCache(canvas_prob, read_cache, enc_cache, mu_cache, logsigma_cache,
                          sample_cache, kl_cache, decoder_cache.dec, decoder_cache.write)
        return new_state, kl, cache

    def _forward(self, x, eps, keep_states: bool = False):
        """The unrolled forward pass: the per-example loss terms, the step caches, and the
        states after each step if ``keep_states`` (the backward pass does not need them)."""
        state = self.initial_state(x.shape[0])
        kls, caches, states = [], [], []
        for t in range(self.config.T):
            state, kl, cache = self.step(x, state, eps[t])
            kls.append(kl)
            caches.append(cache)
            if keep_states:
                states.append(state)
        Lx, nll_cache = bernoulli_nll_forward(state.canvas, x)                     # (9)
        kl_per_step = backend.xp().stack(kls)
        terms = LossTerms(Lx, kl_per_step.sum(axis=0), kl_per_step,               # (10)
                          _log_ratio(caches))
        return terms, nll_cache, caches, states

    # -------------------------------------------------------------------------- backward
    def weights_T(self) -> dict:
        """``Wᵀ`` as a contiguous copy for the LSTMs, μ and log σ, for :meth:`step_backward`.

        The input gradients ``dx = dy Wᵀ`` of these layers are the biggest products of a
        backward step. OpenBLAS runs them 15-25% faster from a contiguous ``Wᵀ`` than from the
        transposed view ``W.T`` (measured on the paper's shapes). One copy serves all T steps.
        """
        xp = backend.xp()
        return {layer: xp.ascontiguousarray(self.params[layer + ".W"].T)
                for layer in LAYERS_OVER_TIME}

    def step_backward(self, d: State, dkl, cache: StepCache, grads: "GradientSums",
                      weights_T: dict | None = None) -> State:
        """Backward through one step: from the gradient of its output state to its input state.

        ``d`` holds dL/d(state_t) as seen from everything after step t; ``dkl`` (n,) is dL/dKL_t.
        Parameter gradients go into ``grads``. ``weights_T`` is :meth:`weights_T`, made
        once for all steps (made here if None). Each block undoes the forward line with the same
        equation number, in reverse order.
        """
        c = self.config
        weights_T = weights_T or self.weights_T()
        # (8) c_t = c_{t−1} + write(h^dec_t): the canvas gradient passes through unchanged and
        # also reaches h^dec_t through the write.
        dcanvas = d.canvas
        write = write_head_backward(dcanvas, cache.write)
        grads.add_all(write.params)
        dh_dec = d.h_dec + write.dh
        # (7) h^dec_t = LSTM_dec(h^dec_{t−1}, z_t): undo the gates, then a = [z_t, h^dec_{t−1}] W + b
        da, dcell_dec_prev = lstm_gates_backward(dh_dec, d.cell_dec, cache.dec)
        du = da @ weights_T["dec"]
        grads.add_over_time("dec", cache.dec.linear.x, da)
        dz, dh_dec_prev = du[:, :c.z_size], du[:, c.z_size:]
        # (6) z = μ + σ ε  and  (11) the KL term, both functions of μ and log σ
        dmu, dlogsigma, _ = sample_backward(dz, cache.sample)
        dmu_kl, dlogsigma_kl = kl_backward(dkl, cache.kl)
        dmu, dlogsigma = dmu + dmu_kl, dlogsigma + dlogsigma_kl
        # (1, 2) μ = h^enc_t W_μ + b_μ and log σ = h^enc_t W_σ + b_σ
        dh_enc = d.h_enc + dmu @ weights_T["mu"] + dlogsigma @ weights_T["logsigma"]
        grads.add_over_time("mu", cache.mu.x, dmu)
        grads.add_over_time("logsigma", cache.logsigma.x, dlogsigma)
        # (5) h^enc_t = LSTM_enc(h^enc_{t−1}, [r_t, h^dec_{t−1}]): a = [r_t, h^dec_{t−1}, h^enc_{t−1}] W + b
        da, dcell_enc_prev = lstm_gates_backward(dh_enc, d.cell_enc, cache.enc)
        du = da @ weights_T["enc"]
        grads.add_over_time("enc", cache.enc.linear.x, da)
        split = c.read_size + c.dec_size
        dr, dh_enc_prev = du[:, :c.read_size], du[:, split:]
        dh_dec_prev = dh_dec_prev + du[:, c.read_size:split]
        # (4) r_t = read(x, x̂_t, h^dec_{t−1}); x is data, only x̂ and the glimpse need gradients
        read = read_head_backward(dr, cache.read, wrt=(False, True))
        grads.add_all(read.params)
        if read.dh is not None:                      # without attention the read ignores h
            dh_dec_prev = dh_dec_prev + read.dh
        dx_hat = read.dimages[1]
        # (3) x̂_t = x − σ(c_{t−1}), and σ' = σ (1 − σ)
        dcanvas_prev = dcanvas - dx_hat * cache.canvas_prob * (1 - cache.canvas_prob)
        return State(dcanvas_prev, dh_enc_prev, dcell_enc_prev, dh_dec_prev, dcell_dec_prev)

    def _backward(self, n: int, nll_cache, caches) -> dict:
        """Backprop through time: dL/dθ for every parameter, with L the batch mean of L^x + L^z."""
        xp = backend.xp()
        grads = GradientSums(self.params)
        dmean = xp.full((n,), 1.0 / n, dtype=self.dtype)        # L = mean over the batch
        dcanvas, _ = bernoulli_nll_backward(dmean, nll_cache)   # (9) dL^x/dc_T
        zeros = lambda a: xp.zeros(a.shape, dtype=self.dtype)
        last = caches[-1]
        d = State(dcanvas, zeros(last.enc.i), zeros(last.enc.i),  # nothing comes after step T
                  zeros(last.dec.i), zeros(last.dec.i))
        weights_T = self.weights_T()
        for cache in reversed(caches):
            d = self.step_backward(d, dmean, cache, grads, weights_T)
        # The initial state is shared by the batch: its gradient is the sum over examples.
        grads.add_one("c0", d.canvas.sum(axis=0))
        grads.add_one("h0_enc", d.h_enc.sum(axis=0))
        grads.add_one("h0_dec", d.h_dec.sum(axis=0))
        return grads.result()

    # ------------------------------------------------------------------------ public API
    def loss_and_grads(self, x, eps=None, return_terms: bool = False):
        """The training loss and its gradient with respect to every parameter.

        Args:
            x: (n, H, W) images with values in [0, 1] (binarised in training); (n, C, H, W)
                for C > 1, and a grey model takes (n, 1, H, W) too.
            eps: (T, n, z_size) standard-normal noise for eq. 6; drawn from ``self.rng`` if None.
            return_terms: also return the per-example :class:`LossTerms`.
        Returns:
            ``(loss, grads)``: the batch mean of L^x + L^z in nats as a Python float, and a dict
            with the keys and shapes of ``params``; ``(loss, grads, terms)`` if ``return_terms``.
        """
        x, eps = self._check_input(x, eps)
        with trusted():  # x and eps are checked; the loop's own arrays are right by construction
            terms, nll_cache, caches, _ = self._forward(x, eps)
            grads = self._backward(x.shape[0], nll_cache, caches)
        loss = float((terms.Lx + terms.Lz).mean())
        return (loss, grads, terms) if return_terms else (loss, grads)

    def evaluate(self, images, samples: int = 1, batch_size: int = 100, seed: int = 0,
                 progress=None):
        """The bound L^x + L^z and the importance-weighted estimate over ``images`` (the
        paper's Table 2 figure): :func:`draw_np.evaluate.evaluate_bound`."""
        from .evaluate import evaluate_bound
        return evaluate_bound(self, images, samples=samples, batch_size=batch_size, seed=seed,
                              progress=progress)

    @staticmethod
    def training_metrics(terms: LossTerms) -> dict:
        """The batch means to log beside the loss: ``{"Lx": .., "Lz": ..}`` in nats, as floats."""
        return {"Lx": float(terms.Lx.mean()), "Lz": float(terms.Lz.mean())}

    def matmul_shapes(self, n: int) -> list:
        """Every matrix product of one training step on a batch of n (forward and backward).

        Returns ``(label, rows, inner, cols, count)`` tuples: ``count`` products of
        ``(rows, inner) @ (inner, cols)`` (``cols = 1`` for a matrix-vector product), so the
        step's floating-point work in products is ``Σ 2·rows·inner·cols·count``. It follows the
        code: the weight gradients of :data:`LAYERS_OVER_TIME` as the stacked products of
        :class:`GradientSums`, the attention products per image plane.
        """
        n = check_positive_int("n", n)
        c, T = self.config, self.config.T
        per_step = (
            read_head_matmul_shapes("read", n, c.dec_size, c.read_grid, (c.channels, c.channels),
                                    (False, True), c.H, c.W)
            + linear_matmul_shapes("enc", n, c.read_size + c.dec_size + c.enc_size,
                                   4 * c.enc_size, weight_grad=False)
            + linear_matmul_shapes("mu", n, c.enc_size, c.z_size, weight_grad=False)
            + linear_matmul_shapes("logsigma", n, c.enc_size, c.z_size, weight_grad=False)
            + linear_matmul_shapes("dec", n, c.z_size + c.dec_size, 4 * c.dec_size,
                                   weight_grad=False)
            + write_head_matmul_shapes("write", n, c.dec_size, c.write_grid, c.canvas_shape))
        shapes = [(label, rows, inner, cols, count * T)
                  for label, rows, inner, cols, count in per_step]
        sizes = {"enc": (c.read_size + c.dec_size + c.enc_size, 4 * c.enc_size),
                 "mu": (c.enc_size, c.z_size), "logsigma": (c.enc_size, c.z_size),
                 "dec": (c.z_size + c.dec_size, 4 * c.dec_size)}
        for layer in LAYERS_OVER_TIME:
            n_in, n_out = sizes[layer]
            shapes += GradientSums.matmul_shapes(layer, n, n_in, n_out, T)
        return shapes

    def loss_terms(self, x, eps=None) -> LossTerms:
        """The per-example loss terms of a forward pass (no gradients): for evaluation."""
        x, eps = self._check_input(x, eps)
        with trusted():
            return self._forward(x, eps)[0]

    def reconstruct(self, x, eps=None) -> Drawing:
        """Run the encoder and decoder on x; return each step's canvas and both glimpses."""
        x, eps = self._check_input(x, eps)
        with trusted():
            _, _, caches, states = self._forward(x, eps, keep_states=True)
        canvases = backend.xp().stack([sigmoid(s.canvas) for s in states])
        read = write = None
        if self.config.attention:
            read = _stack_params([c.read_glimpse.params for c in caches])
            write = _stack_params([c.write_glimpse.params for c in caches])
        return Drawing(backend.to_numpy(canvases), write, read)

    def generate(self, n: int, eps=None) -> Drawing:
        """Draw n images from the prior (eqs. 13-16): the decoder alone, z̃_t ~ N(0, I).

        Args:
            n: number of images.  eps: optional (T, n, z_size) latent samples z̃.
        Returns:
            a :class:`Drawing` with canvases σ(c̃_t) of shape (T, n, H, W) ((T, n, C, H, W) for
            C > 1) and the write attention of every step (``read_attention`` is None:
            generation reads nothing).
        """
        n = check_positive_int("n", n)
        eps = self._noise(n, eps)
        start = self.initial_state(n)
        state = DecoderState(start.canvas, start.h_dec, start.cell_dec)
        canvases, write_params = [], []
        with trusted():
            for t in range(self.config.T):
                state, cache = self.decode(state, eps[t])                         # (7, 8)
                canvases.append(sigmoid(state.canvas))
                if cache.write.glimpse is not None:
                    write_params.append(cache.write.glimpse.params)
        write = _stack_params(write_params) if write_params else None
        return Drawing(backend.to_numpy(backend.xp().stack(canvases)), write, None)


#: The layers whose weight gradients :class:`GradientSums` sums a block of steps at a time
#: (and whose ``Wᵀ`` :meth:`DRAW.weights_T` keeps contiguous).
LAYERS_OVER_TIME = ("enc", "dec", "mu", "logsigma")


class GradientSums:
    """The gradients of the shared parameters, summed over the steps of the unroll.

    Every weight is used at every step, so its gradient is a sum over steps. The small ones
    (attention and write heads, initial state) are added step by step. For the big matrices (the
    two LSTMs, μ and log σ) the sum ``dW = Σ_t x_tᵀ dy_t`` is better made a block of steps at a
    time: :meth:`add_over_time` keeps each step's input ``x_t`` and output gradient ``dy_t``, and
    every ``block`` steps stacks them into one product with inner dimension ``block·n`` instead
    of ``block`` products with inner dimension ``n``. Same numbers; the BLAS runs the stacked
    product near its peak, no per-step ``(in, out)`` matrices are added up, and each block's
    arrays are freed once summed, so the backward pass never holds all T of them.
    """

    #: Steps per stacked product: inner dimension 16 · 100 = 1600 for the paper's batch. It
    #: measured as fast as one product over all 64 steps, and the peak memory of a paper step
    #: fell from 286 to 216 MiB.
    block = 16

    def __init__(self, params: dict):
        xp = backend.xp()
        self._sums = {k: xp.zeros_like(v) for k, v in params.items()}
        self._over_time = defaultdict(lambda: ([], []))

    def add_all(self, grads: dict) -> None:
        """Add one step's gradients of the named parameters (a head's, for one)."""
        for name, grad in grads.items():
            self._sums[name] += grad

    def add_one(self, name: str, grad) -> None:
        """Add to the gradient of one named parameter."""
        self._sums[name] += grad

    def add_over_time(self, layer: str, x, dy) -> None:
        """Record the input ``x`` (n, in) and output gradient ``dy`` (n, out) of ``y = x W + b``."""
        inputs, dys = self._over_time[layer]
        inputs.append(x)
        dys.append(dy)
        if len(dys) == self.block:
            self._flush(layer)

    def _flush(self, layer: str) -> None:
        """Add the recorded steps of ``layer`` to its sums, in one product, and forget them."""
        xp = backend.xp()
        inputs, dys = self._over_time.pop(layer)
        dy = xp.concatenate(dys)
        self._sums[layer + ".W"] += xp.concatenate(inputs).T @ dy   # Σ_t x_tᵀ dy_t
        self._sums[layer + ".b"] += dy.sum(axis=0)                  # Σ_t Σ_n dy_t

    @classmethod
    def matmul_shapes(cls, layer: str, n: int, n_in: int, n_out: int, T: int) -> list:
        """The weight-gradient products of ``layer`` over T steps of batch n, as
        :meth:`_flush` makes them: ``(n_in, block·n) @ (block·n, n_out)`` per full block, and
        one product over the steps left over."""
        full, rest = divmod(T, cls.block)
        shapes = [(f"{layer}.grad_weight", n_in, cls.block * n, n_out, full)] if full else []
        if rest:
            shapes.append((f"{layer}.grad_weight", n_in, rest * n, n_out, 1))
        return shapes

    def result(self) -> dict:
        """All gradients, with the steps still recorded added in."""
        for layer in list(self._over_time):
            self._flush(layer)
        return self._sums


def _log_ratio(caches) -> object:
    """``Σ_t log q(z_t | x) − log p(z_t)`` per example, at the z the forward pass sampled.

    With ``z = μ + σ ε``: ``log q(z) = −½ ε² − log σ − ½ log 2π`` and ``log p(z) = −½ z² −
    ½ log 2π``, so the difference per latent is ``½ (z² − ε²) − log σ``. Its expectation over ε
    is the KL of eq. 11.
    """
    total = 0
    for cache in caches:
        mu, _ = cache.kl
        sigma, eps = cache.sample
        z = mu + sigma * eps
        total = total + (0.5 * (z * z - eps * eps) - backend.array_module(z).log(sigma)).sum(axis=1)
    return total


def _stack_params(per_step: list) -> AttentionParams:
    """A list over steps of AttentionParams of (n,) arrays -> one of (T, n) host arrays."""
    xp = backend.xp()
    return AttentionParams(*(backend.to_numpy(xp.stack(field)) for field in zip(*per_step)))
