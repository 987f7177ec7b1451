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

The forward pass keeps one :class:`StepCache` per step. The backward pass walks them from
``t = T`` down to 1, each step undoing eqs. 8, 7, 6, 2-1, 5, 4, 3 in that order and handing the
gradient of the state it started from to the step before. Weights are shared by every step, so
their gradients are sums over steps.
"""
from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import NamedTuple

from . import backend
from .activations import sigmoid
from .attention import (AttentionParams, attention_params_backward, attention_params_forward,
                        filterbank_backward, filterbank_forward)
from .bernoulli import bernoulli_nll_backward, bernoulli_nll_forward
from .gaussian import kl_backward, kl_forward, sample_backward, sample_forward
from .linear import linear_backward, linear_forward
from .lstm import lstm_forward, lstm_gates_backward
from .validate import trusted
from .readwrite import (read_attention_backward, read_attention_forward, read_backward,
                        read_forward, write_attention_backward, write_attention_forward,
                        write_backward, write_forward)

#: Standard deviation of the initial weights, N(0, 0.1²). Careful reproductions use 0.01 (spec)
#: and train for 100+ epochs; with 0.01 everything starts so small (μ_t carries ~1e-4 of signal
#: against noise of σ = 1) that the decoder learns to ignore z, the KL collapses to zero and the
#: model sits at the mean image (208 nats) for the whole of a short run. Measured on the quick
#: preset, 400 Adam steps at lr 1e-3 on 20,000 images: 0.01 → 208.8 nats (L^z 0.002),
#: Glorot-uniform → 192.3 (L^z 2.6), 0.1 → 186.8 (L^z 4.2). Biases, the initial canvas and the
#: initial hidden states start at zero, except the attention heads' (:func:`initial_attention_bias`).
INIT_STD = 0.1


@dataclass(frozen=True)
class DRAWConfig:
    """The shape of a DRAW model. The defaults are the paper's MNIST model (Table 3)."""
    H: int = 28
    W: int = 28
    T: int = 64
    enc_size: int = 256
    dec_size: int = 256
    z_size: int = 100
    read_n: int = 2
    write_n: int = 5
    attention: bool = True

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "attention":
                if not isinstance(value, bool):
                    raise ValueError(f"attention must be True or False, got {value!r}")
            elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{f.name} must be an integer >= 1, got {value!r}")
        if self.attention:
            side = max(self.H, self.W)
            for name in ("read_n", "write_n"):
                if getattr(self, name) > side:
                    raise ValueError(f"{name} = {getattr(self, name)} is larger than the image "
                                     f"({self.H} x {self.W}): a grid side must be at most {side}")

    @property
    def read_size(self) -> int:
        """Length of r_t: two N x N patches (eq. 27), or the image and error image (eq. 17)."""
        return 2 * self.read_n ** 2 if self.attention else 2 * self.H * self.W

    @property
    def write_size(self) -> int:
        """Length of the write head's output: an N x N patch (eq. 28) or a whole canvas (eq. 18)."""
        return self.write_n ** 2 if self.attention else self.H * self.W

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "DRAWConfig":
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown DRAWConfig fields: {sorted(unknown)}")
        return cls(**d)


def param_shapes(config: DRAWConfig) -> dict:
    """Every parameter's name and shape, exactly as in the spec's table."""
    c = config
    shapes = {
        "enc.W": (c.read_size + c.dec_size + c.enc_size, 4 * c.enc_size),
        "enc.b": (4 * c.enc_size,),
        "dec.W": (c.z_size + c.dec_size, 4 * c.dec_size),
        "dec.b": (4 * c.dec_size,),
        "mu.W": (c.enc_size, c.z_size), "mu.b": (c.z_size,),
        "logsigma.W": (c.enc_size, c.z_size), "logsigma.b": (c.z_size,),
        "write.W": (c.dec_size, c.write_size), "write.b": (c.write_size,),
        "c0": (c.H, c.W),
        "h0_enc": (c.enc_size,), "h0_dec": (c.dec_size,),
    }
    if c.attention:
        shapes.update({"read_attn.W": (c.dec_size, 5), "read_attn.b": (5,),
                       "write_attn.W": (c.dec_size, 5), "write_attn.b": (5,)})
    return shapes


def initial_attention_bias(N: int, H: int, W: int) -> list:
    """Bias of an attention head (eq. 21) whose first glimpse sees the whole image.

    Centred (g̃ = 0), intensity γ = 1, stride ``δ = max(H, W) / N`` so the N x N grid tiles the
    image, and ``σ = δ / 2`` so each filter averages its own tile. A zero bias would instead
    give ``δ = (max(H, W) − 1)/(N − 1)`` and σ = 1: for the 2 x 2 read of the MNIST model, four
    one-pixel filters on the image's corners, which only ever see background. The encoder is
    then blind, the KL drives q(z) to the prior, and training stalls at the mean-image model
    (about 208 nats on MNIST, which is what we saw). Returns ``[g̃_X, g̃_Y, log σ², log δ̃, log γ]``.
    """
    from .attention import stride_scale
    delta = max(H, W) / N
    return [0.0, 0.0, math.log((delta / 2) ** 2), math.log(delta / stride_scale(N, H, W)), 0.0]


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
        for head, N in (("read_attn", config.read_n), ("write_attn", config.write_n)):
            params[head + ".b"] = xp.asarray(initial_attention_bias(N, config.H, config.W),
                                             dtype=dtype)
    return params


class State(NamedTuple):
    """What one step hands to the next (and, in the backward pass, its gradient)."""
    canvas: object    # (n, H, W) c_t, logits
    h_enc: object     # (n, enc_size)
    cell_enc: object  # (n, enc_size)
    h_dec: object     # (n, dec_size)
    cell_dec: object  # (n, dec_size)


class Glimpse(NamedTuple):
    """An attention head's placement for one step: its params, filterbank and their caches."""
    params: AttentionParams
    params_cache: object
    filters: tuple       # (Fx, Fy)
    filters_cache: object


class StepCache(NamedTuple):
    """Everything the backward pass of one step needs, named after the equation it serves."""
    canvas_prob: object  # (n, H, W) σ(c_{t−1}), for eq. 3
    read: object         # cache of eq. 4 (read or read with attention)
    read_glimpse: Glimpse | None
    enc: object          # LSTM cache, eq. 5
    mu: object           # linear caches, eqs. 1-2
    logsigma: object
    sample: object       # eq. 6
    kl: object           # eq. 11
    dec: object          # LSTM cache, eq. 7
    write: object        # cache of eq. 8 (write or write with attention)
    write_glimpse: Glimpse | None


class LossTerms(NamedTuple):
    """Per-example loss terms, in nats."""
    Lx: object           # (n,) reconstruction: Bernoulli NLL of x under σ(c_T) (eq. 9)
    Lz: object           # (n,) latent: Σ_t KL (eqs. 10-11)
    kl_per_step: object  # (T, n) the KL of each step: which steps carry information
    log_ratio: object    # (n,) Σ_t log q(z_t | x) − log p(z_t) at the sampled z: a one-sample
                         # estimate of L^z, needed for importance weights (evaluate.py)


class Drawing(NamedTuple):
    """What the model drew, step by step, for plots and animations (all on the host)."""
    canvases: object                       # (T, n, H, W) σ(c_t), the Bernoulli means
    write_attention: AttentionParams | None  # each field (T, n)
    read_attention: AttentionParams | None   # each field (T, n); None when generating


class DRAW:
    """A DRAW network: parameters, the loss and its gradients, generation and reconstruction.

    Args:
        config: a :class:`DRAWConfig`.
        seed: seeds the initial weights and the generator that draws ε when none is given.
        dtype: ``"float32"`` for training, ``"float64"`` for gradient checks.

    ``model.params`` maps the spec's names to arrays on the current backend; ``model.rng`` is
    the model's :class:`draw_np.backend.Random`.
    """

    kind = "draw"
    config_class = DRAWConfig
    param_shapes = staticmethod(param_shapes)

    def __init__(self, config: DRAWConfig = DRAWConfig(), seed: int = 0, dtype="float32"):
        if not isinstance(config, DRAWConfig):
            raise ValueError(f"config must be a DRAWConfig, got {type(config).__name__}")
        if str(dtype) not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        self.config = config
        self.dtype = str(dtype)
        self.rng = backend.Random(seed)
        self.params = init_params(config, self.rng, self.dtype)

    # ------------------------------------------------------------------ checking the inputs
    def _check_input(self, x, eps):
        """Validate and convert x (n, H, W) in [0, 1] and eps (T, n, z_size); draw eps if None."""
        xp, c = backend.xp(), self.config
        if not hasattr(x, "shape") or x.ndim != 3 or x.shape[1:] != (c.H, c.W):
            got = getattr(x, "shape", type(x).__name__)
            raise ValueError(f"x must have shape (n, {c.H}, {c.W}), got {got}")
        if x.shape[0] < 1:
            raise ValueError("x must hold at least one image, got an empty batch")
        x = xp.asarray(x, dtype=self.dtype)
        if bool(xp.isnan(x).any()):
            raise ValueError("x contains NaN")
        if bool((x < 0).any() | (x > 1).any()):
            raise ValueError(f"x must have values in [0, 1], got values in "
                             f"[{float(x.min())}, {float(x.max())}]")
        return x, self._noise(x.shape[0], eps)

    def _noise(self, n: int, eps):
        """Check eps of shape (T, n, z_size) and convert it, or draw it when None."""
        c = self.config
        if eps is None:
            return self.rng.normal((c.T, n, c.z_size), self.dtype)
        if not hasattr(eps, "shape") or tuple(eps.shape) != (c.T, n, c.z_size):
            got = getattr(eps, "shape", type(eps).__name__)
            raise ValueError(f"eps must have shape (T, n, z_size) = ({c.T}, {n}, {c.z_size}), "
                             f"got {got}")
        return backend.xp().asarray(eps, dtype=self.dtype)

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

    def _glimpse(self, head: str, h_dec, N: int) -> Glimpse:
        """Place an attention grid from a decoder state (eqs. 21-24) and build its filters (19-26)."""
        c, p = self.config, self.params
        params, params_cache = attention_params_forward(h_dec, p[head + ".W"], p[head + ".b"],
                                                        N, c.H, c.W)
        filters, filters_cache = filterbank_forward(params.gx, params.gy, params.sigma2,
                                                    params.delta, N, c.H, c.W)
        return Glimpse(params, params_cache, filters, filters_cache)

    def step(self, x, state: State, eps_t):
        """One step of eqs. 3-8. Returns the new state, the step's KL (n,) and its cache."""
        c, p = self.config, self.params
        xp = backend.xp()
        canvas_prob = sigmoid(state.canvas)
        x_hat = x - canvas_prob                                                    # (3)
        if c.attention:                                                            # (4)
            read_glimpse = self._glimpse("read_attn", state.h_dec, c.read_n)
            Fx, Fy = read_glimpse.filters
            r, read_cache = read_attention_forward(x, x_hat, Fx, Fy, read_glimpse.params.gamma)
        else:
            read_glimpse = None
            r, read_cache = read_forward(x, x_hat)
        (h_enc, cell_enc), enc_cache = lstm_forward(                               # (5)
            xp.concatenate([r, state.h_dec], axis=1), state.h_enc, state.cell_enc,
            p["enc.W"], p["enc.b"])
        mu, mu_cache = linear_forward(h_enc, p["mu.W"], p["mu.b"])                 # (1)
        logsigma, logsigma_cache = linear_forward(h_enc, p["logsigma.W"], p["logsigma.b"])  # (2)
        z, sample_cache = sample_forward(mu, logsigma, eps_t)                      # (6)
        kl, kl_cache = kl_forward(mu, logsigma)                                    # (11)
        (h_dec, cell_dec), dec_cache = lstm_forward(z, state.h_dec, state.cell_dec,  # (7)
                                                    p["dec.W"], p["dec.b"])
        if c.attention:                                                            # (8)
            write_glimpse = self._glimpse("write_attn", h_dec, c.write_n)
            Fx, Fy = write_glimpse.filters
            update, write_cache = write_attention_forward(h_dec, p["write.W"], p["write.b"],
                                                          Fx, Fy, write_glimpse.params.gamma)
        else:
            write_glimpse = None
            update, write_cache = write_forward(h_dec, p["write.W"], p["write.b"], (c.H, c.W))
        new_state = State(state.canvas + update, h_enc, cell_enc, h_dec, cell_dec)
        cache = StepCache(canvas_prob, read_cache, read_glimpse, enc_cache, mu_cache,
                          logsigma_cache, sample_cache, kl_cache, dec_cache, write_cache,
                          write_glimpse)
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
    def _glimpse_backward(self, head: str, dFx, dFy, dgamma, glimpse: Glimpse,
                          grads: "GradientSums"):
        """Undo eqs. 19-26 and 21-24: filterbank gradients back to the decoder state."""
        dgx, dgy, dsigma2, ddelta = filterbank_backward(dFx, dFy, glimpse.filters_cache)
        dparams = AttentionParams(dgx, dgy, dsigma2, ddelta, dgamma)
        dh_dec, dW, db = attention_params_backward(dparams, glimpse.params_cache)
        grads.add(head, dW, db)
        return dh_dec

    def weights_T(self) -> dict:
        """``Wᵀ`` as a contiguous copy for the LSTMs, μ and log σ, for :meth:`step_backward`.

        The input gradients ``dx = dy Wᵀ`` of these layers are the biggest products of a
        backward step. OpenBLAS runs them 15-25% faster from a contiguous ``Wᵀ`` than from the
        transposed view ``W.T`` (measured on the paper's shapes). One copy serves all T steps.
        """
        xp = backend.xp()
        return {layer: xp.ascontiguousarray(self.params[layer + ".W"].T)
                for layer in ("enc", "dec", "mu", "logsigma")}

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
        if c.attention:
            dh, dW, db, dFx, dFy, dgamma = write_attention_backward(dcanvas, cache.write)
            dh_dec = d.h_dec + dh + self._glimpse_backward("write_attn", dFx, dFy, dgamma,
                                                           cache.write_glimpse, grads)
        else:
            dh, dW, db = write_backward(dcanvas, cache.write)
            dh_dec = d.h_dec + dh
        grads.add("write", dW, db)
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
        if c.attention:
            _, dx_hat, dFx, dFy, dgamma = read_attention_backward(dr, cache.read,
                                                                  wrt_x=False)
            dh_dec_prev = dh_dec_prev + self._glimpse_backward("read_attn", dFx, dFy, dgamma,
                                                               cache.read_glimpse, grads)
        else:
            _, dx_hat = read_backward(dr, cache.read)
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
            x: (n, H, W) images with values in [0, 1] (binarised in training).
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
            a :class:`Drawing` with canvases σ(c̃_t) of shape (T, n, H, W) and the write
            attention of every step (``read_attention`` is None: generation reads nothing).
        """
        c, p, xp = self.config, self.params, backend.xp()
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be an integer >= 1, got {n!r}")
        eps = self._noise(n, eps)
        state = self.initial_state(n)
        canvas, h_dec, cell_dec = state.canvas, state.h_dec, state.cell_dec
        canvases, write_params = [], []
        for t in range(c.T):
            (h_dec, cell_dec), _ = lstm_forward(eps[t], h_dec, cell_dec, p["dec.W"], p["dec.b"])
            if c.attention:
                glimpse = self._glimpse("write_attn", h_dec, c.write_n)
                update, _ = write_attention_forward(h_dec, p["write.W"], p["write.b"],
                                                    *glimpse.filters, glimpse.params.gamma)
                write_params.append(glimpse.params)
            else:
                update, _ = write_forward(h_dec, p["write.W"], p["write.b"], (c.H, c.W))
            canvas = canvas + update
            canvases.append(sigmoid(canvas))
        write = _stack_params(write_params) if c.attention else None
        return Drawing(backend.to_numpy(xp.stack(canvases)), write, None)


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

    def add(self, layer: str, dW, db) -> None:
        """Add one step's gradients of ``layer.W`` and ``layer.b``."""
        self._sums[layer + ".W"] += dW
        self._sums[layer + ".b"] += db

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
