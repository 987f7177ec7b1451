"""DRAW and the attention classifier in eager PyTorch: a gradient oracle and a speed reference.

Written from the spec (``draw-spec.md``), not from draw_np's NumPy code, and differentiated by
autograd instead of by hand. When draw_np's hand-written backprop through time agrees with
this to rounding, both read the spec the same way and draw_np's derivation is right; a
finite-difference check alone would only show that draw_np differentiates its *own* forward
pass correctly.

* :func:`draw_loss_and_grads` — the DRAW loss (eqs. 3-12, with or without attention, C channels)
  and the gradient of every parameter.
* :func:`classifier_loss_and_grads` — the same for the attention classifier ("differentiable
  RAM", paper section 4.1).
* :class:`TorchDRAWStep` — one training step (forward, backward, clipping, Adam) with the same
  update as draw_np's, to time against it; :func:`time_against_draw_np` alternates the two.

Arrays come in and go out as NumPy (CuPy is moved to the host); parameters use the spec's names.
Only this module imports torch, and only when it is itself imported (``pip install torch``, or
the ``compare`` extra).
"""
from __future__ import annotations

import inspect
import statistics
import time

from . import backend
from .errors import BackendError
from .optim import Adam, clip_by_global_norm
from .presets import TrainSettings

try:
    import torch
except ImportError:
    raise BackendError("draw_np.torch_reference needs PyTorch: pip install torch") from None

DTYPES = {"float32": torch.float32, "float64": torch.float64}

#: Added to each filter's row sum (spec, eqs. 25-26) so a filter far off the image gives zeros.
FILTER_EPS = 1e-8

#: lr, β1, β2 and ε exactly as draw_np's Adam defaults them, so the two steps do the same update.
ADAM_DEFAULTS = {k: p.default for k, p in inspect.signature(Adam).parameters.items()
                 if p.default is not inspect.Parameter.empty}


# ----------------------------------------------------------------------------- shapes
def channels(config) -> int:
    """C, the image's channels: ``config.channels`` where the config has one, else 1 (grey)."""
    return getattr(config, "channels", 1)


def draw_param_shapes(config) -> dict:
    """Every DRAW parameter's name and shape, read off the spec's table and its colour section."""
    c, C = config, channels(config)
    read_size = 2 * C * (c.read_n ** 2 if c.attention else c.H * c.W)
    write_size = C * (c.write_n ** 2 if c.attention else c.H * c.W)
    shapes = {
        "enc.W": (read_size + c.dec_size + c.enc_size, 4 * c.enc_size), "enc.b": (4 * c.enc_size,),
        "dec.W": (c.z_size + c.dec_size, 4 * c.dec_size), "dec.b": (4 * c.dec_size,),
        "mu.W": (c.enc_size, c.z_size), "mu.b": (c.z_size,),
        "logsigma.W": (c.enc_size, c.z_size), "logsigma.b": (c.z_size,),
        "write.W": (c.dec_size, write_size), "write.b": (write_size,),
        "c0": (c.H, c.W) if C == 1 else (C, c.H, c.W),   # grey checkpoints keep (H, W)
        "h0_enc": (c.enc_size,), "h0_dec": (c.dec_size,),
    }
    if c.attention:
        for head in ("read_attn", "write_attn"):
            shapes.update({f"{head}.W": (c.dec_size, 5), f"{head}.b": (5,)})
    return shapes


def classifier_param_shapes(config) -> dict:
    """The attention classifier's parameters (spec, "The attention classifier").

    ``config`` has ``H, W, channels, T, size, read_n, classes``.
    """
    c = config
    read_size = channels(c) * c.read_n ** 2
    return {"lstm.W": (read_size + c.size, 4 * c.size), "lstm.b": (4 * c.size,),
            "read_attn.W": (c.size, 5), "read_attn.b": (5,),
            "out.W": (c.size, c.classes), "out.b": (c.classes,), "h0": (c.size,)}


def _tensors(params: dict, shapes: dict, dtype, requires_grad: bool) -> dict:
    """The parameters as fresh torch leaf tensors, after checking names and shapes."""
    if set(params) != set(shapes):
        raise ValueError(f"parameters do not match the spec's table: missing "
                         f"{sorted(set(shapes) - set(params))}, unexpected "
                         f"{sorted(set(params) - set(shapes))}")
    out = {}
    for name, shape in shapes.items():
        value = torch.tensor(backend.to_numpy(params[name]), dtype=dtype)
        if tuple(value.shape) != shape:
            raise ValueError(f"{name} has shape {tuple(value.shape)}, the spec says {shape}")
        out[name] = value.requires_grad_(requires_grad)
    return out


def _images(config, x, dtype):
    """x as an (n, C, H, W) tensor; grey images may come as (n, H, W)."""
    C, H, W = channels(config), config.H, config.W
    x = torch.tensor(backend.to_numpy(x), dtype=dtype)
    if x.ndim == 3 and C == 1:
        x = x[:, None]
    if x.ndim != 4 or tuple(x.shape[1:]) != (C, H, W) or x.shape[0] < 1:
        grey = f"(n, {H}, {W}) or " if C == 1 else ""
        raise ValueError(f"x must have shape {grey}(n, {C}, {H}, {W}), got {tuple(x.shape)}")
    return x


def _dtype(dtype: str):
    if str(dtype) not in DTYPES:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return DTYPES[str(dtype)]


def _to_numpy(loss, params: dict) -> tuple:
    return loss.item(), {k: p.grad.numpy() for k, p in params.items()}


# ------------------------------------------------------------------------ the layers
def lstm(inputs, h, cell, W, b):
    """One LSTM step without peepholes: ``a = [inputs, h] W + b``, gates in order [i, f, o, g].

    inputs (n, in_size), h and cell (n, size), W (in_size + size, 4·size). Returns (h, cell).
    """
    i, f, o, g = (torch.cat([inputs, h], dim=1) @ W + b).chunk(4, dim=1)
    cell = torch.sigmoid(f) * cell + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(cell), cell


def attention_params(h, W, b, N: int, height: int, width: int) -> tuple:
    """``(g_X, g_Y, σ², δ, γ)``, each (n,), from a state h (n, size) (eqs. 21-24)."""
    a = h @ W + b
    stride = (max(height, width) - 1) / (N - 1 if N > 1 else 1)   # N = 1: finite, as the spec says
    return ((width + 1) / 2 * (a[:, 0] + 1), (height + 1) / 2 * (a[:, 1] + 1),
            torch.exp(a[:, 2]), stride * torch.exp(a[:, 3]), torch.exp(a[:, 4]))


def filterbank(g, delta, sigma2, N: int, size: int):
    """Gaussian filters (n, N, size) along one image axis of ``size`` pixels (eqs. 19-20, 25-26).

    1-based as the paper writes them: filter ``i = 1..N`` centred at ``g + (i − N/2 − 0.5) δ``,
    compared with pixel ``a = 1..size``; each row divided by its sum plus :data:`FILTER_EPS`.
    """
    i = torch.arange(1, N + 1, dtype=g.dtype)
    a = torch.arange(1, size + 1, dtype=g.dtype)
    mu = g[:, None] + (i - N / 2 - 0.5) * delta[:, None]                       # (n, N)
    F = torch.exp(-(a - mu[:, :, None]) ** 2 / (2 * sigma2[:, None, None]))   # (n, N, size)
    return F / (F.sum(dim=2, keepdim=True) + FILTER_EPS)


def glimpse(h, W, b, N: int, height: int, width: int) -> tuple:
    """``(F_Y (n, N, height), F_X (n, N, width), γ (n,))`` of one attention head steered by h."""
    gx, gy, sigma2, delta, gamma = attention_params(h, W, b, N, height, width)
    return filterbank(gy, delta, sigma2, N, height), filterbank(gx, delta, sigma2, N, width), gamma


def read_patches(images, h, W, b, N: int):
    """``γ [F_Y x⁽ᶜ⁾ F_Xᵀ for each plane c]`` flattened to (n, planes·N²) (eq. 27).

    images (n, planes, H, W); every plane through the same filters, each patch row-major.
    """
    n, _, height, width = images.shape
    Fy, Fx, gamma = glimpse(h, W, b, N, height, width)
    patches = Fy[:, None] @ images @ Fx[:, None].transpose(2, 3)             # (n, planes, N, N)
    return gamma[:, None] * patches.reshape(n, -1)


def write_patch(w, h, W, b, height: int, width: int):
    """``(1/γ̂) F̂_Yᵀ w⁽ᶜ⁾ F̂_X`` for each channel: w (n, C, N, N) → (n, C, height, width) (eq. 29)."""
    Fy, Fx, gamma = glimpse(h, W, b, w.shape[-1], height, width)
    return Fy[:, None].transpose(2, 3) @ w @ Fx[:, None] / gamma[:, None, None, None]


# ------------------------------------------------------------------------------ DRAW
def draw_loss(config, params: dict, x, eps):
    """The batch mean of ``L = L^x + L^z`` (eqs. 3-12) as a torch scalar.

    params: the spec's names → tensors; x (n, C, H, W); eps (T, n, z_size) for eq. 6.
    """
    c, C = config, channels(config)
    p = params
    n = x.shape[0]
    zeros = lambda size: x.new_zeros(n, size)
    canvas = p["c0"].reshape(C, c.H, c.W).expand(n, C, c.H, c.W)
    h_enc, cell_enc = p["h0_enc"].expand(n, c.enc_size), zeros(c.enc_size)
    h_dec, cell_dec = p["h0_dec"].expand(n, c.dec_size), zeros(c.dec_size)
    Lz = 0
    for t in range(c.T):
        x_hat = x - torch.sigmoid(canvas)                                              # (3)
        if c.attention:                                                                # (4)
            r = read_patches(torch.cat([x, x_hat], dim=1), h_dec, p["read_attn.W"],
                             p["read_attn.b"], c.read_n)
        else:
            r = torch.cat([x.reshape(n, -1), x_hat.reshape(n, -1)], dim=1)
        h_enc, cell_enc = lstm(torch.cat([r, h_dec], dim=1), h_enc, cell_enc,
                               p["enc.W"], p["enc.b"])                                 # (5)
        mu = h_enc @ p["mu.W"] + p["mu.b"]                                             # (1)
        log_sigma = h_enc @ p["logsigma.W"] + p["logsigma.b"]                          # (2)
        sigma = torch.exp(log_sigma)
        z = mu + sigma * eps[t]                                                        # (6)
        Lz = Lz + 0.5 * (mu ** 2 + sigma ** 2 - 2 * log_sigma - 1).sum(dim=1)        # (11)
        h_dec, cell_dec = lstm(z, h_dec, cell_dec, p["dec.W"], p["dec.b"])             # (7)
        w = h_dec @ p["write.W"] + p["write.b"]
        if c.attention:                                                                # (8)
            w = w.reshape(n, C, c.write_n, c.write_n)
            canvas = canvas + write_patch(w, h_dec, p["write_attn.W"], p["write_attn.b"],
                                          c.H, c.W)
        else:
            canvas = canvas + w.reshape(n, C, c.H, c.W)
    # softplus(c) − x c, the Bernoulli NLL with logits c; logaddexp(c, 0) is softplus, stably.
    Lx = (torch.logaddexp(canvas, torch.zeros_like(canvas)) - x * canvas).sum(dim=(1, 2, 3))
    return (Lx + Lz).mean()


def draw_loss_and_grads(config, params: dict, x, eps, dtype: str = "float64") -> tuple:
    """The DRAW loss and its gradients, computed by autograd from the spec.

    Args:
        config: has ``H, W, T, enc_size, dec_size, z_size, read_n, write_n, attention`` and
            optionally ``channels`` (default 1); a :class:`draw_np.model.DRAWConfig` will do.
        params: the spec's parameter names → arrays (:func:`draw_param_shapes`).
        x: (n, H, W) grey or (n, C, H, W) images with values in [0, 1].
        eps: (T, n, z_size) standard-normal noise for eq. 6.
        dtype: ``"float64"`` (the oracle) or ``"float32"``.
    Returns:
        ``(loss, grads)``: the batch mean of L^x + L^z as a float, and NumPy gradients with the
        keys and shapes of ``params``.
    """
    dtype = _dtype(dtype)
    tensors = _tensors(params, draw_param_shapes(config), dtype, requires_grad=True)
    x = _images(config, x, dtype)
    eps = torch.tensor(backend.to_numpy(eps), dtype=dtype)
    if tuple(eps.shape) != (config.T, x.shape[0], config.z_size):
        raise ValueError(f"eps must have shape (T, n, z_size) = ({config.T}, {x.shape[0]}, "
                         f"{config.z_size}), got {tuple(eps.shape)}")
    loss = draw_loss(config, tensors, x, eps)
    loss.backward()
    return _to_numpy(loss, tensors)


# -------------------------------------------------------------- the attention classifier
def classifier_loss(config, params: dict, x, labels):
    """Mean cross-entropy of the attention classifier as a torch scalar.

    params: :func:`classifier_param_shapes` names → tensors; x (n, C, H, W); labels (n,) int64.
    """
    c, p = config, params
    n = x.shape[0]
    h, cell = p["h0"].expand(n, c.size), x.new_zeros(n, c.size)
    for t in range(c.T):
        r = read_patches(x, h, p["read_attn.W"], p["read_attn.b"], c.read_n)   # from h_{t−1}
        h, cell = lstm(r, h, cell, p["lstm.W"], p["lstm.b"])
    logits = h @ p["out.W"] + p["out.b"]
    return torch.nn.functional.cross_entropy(logits, labels)


def classifier_loss_and_grads(config, params: dict, x, labels, dtype: str = "float64") -> tuple:
    """The attention classifier's loss and gradients, computed by autograd from the spec.

    Args:
        config: has ``H, W, channels, T, size, read_n, classes``.
        params: names → arrays as :func:`classifier_param_shapes` gives them.
        x: (n, H, W) grey or (n, C, H, W) images.
        labels: (n,) integer classes in ``[0, classes)``.
    Returns:
        ``(loss, grads)``: the mean cross-entropy in nats and NumPy gradients like ``params``.
    """
    dtype = _dtype(dtype)
    tensors = _tensors(params, classifier_param_shapes(config), dtype, requires_grad=True)
    x = _images(config, x, dtype)
    labels = torch.as_tensor(backend.to_numpy(labels))
    if (tuple(labels.shape) != (x.shape[0],) or labels.is_floating_point()
            or bool((labels < 0).any() | (labels >= config.classes).any())):
        raise ValueError(f"labels must be {x.shape[0]} integers in [0, {config.classes}), got "
                         f"{labels.dtype} of shape {tuple(labels.shape)}")
    loss = classifier_loss(config, tensors, x, labels.long())
    loss.backward()
    return _to_numpy(loss, tensors)


# ------------------------------------------------------------------------ training step
class TorchDRAWStep:
    """One DRAW training step in eager PyTorch, doing what draw_np's training loop does.

    Forward, backward, clipping by global norm (``g ← g · min(1, clip / ||g||)``, as
    :func:`draw_np.optim.clip_by_global_norm`), then ``torch.optim.Adam``. Its update,
    ``θ ← θ − lr/(1 − β1^t) · m / (sqrt(v)/sqrt(1 − β2^t) + ε)``, is draw_np's Adam's with
    numerator and denominator multiplied by ``sqrt(1 − β2^t)``: the same step. The threads are
    the caller's business (``torch.set_num_threads``).

    Args:
        config: as for :func:`draw_loss_and_grads`.
        params: initial parameters (copied; the caller's arrays are left alone).
        lr, clip: default to draw_np's training settings; ``beta1, beta2, adam_eps`` to its Adam.
        dtype: ``"float32"`` (training speed) or ``"float64"`` (to check the update).

    Call it with ``(x, eps)`` as for :func:`draw_loss_and_grads`; it returns the loss before the
    update. :meth:`numpy_params` gives the current parameters.
    """

    def __init__(self, config, params: dict, lr: float = TrainSettings.lr,
                 clip: float = TrainSettings.clip, beta1: float = ADAM_DEFAULTS["beta1"],
                 beta2: float = ADAM_DEFAULTS["beta2"], adam_eps: float = ADAM_DEFAULTS["eps"],
                 dtype: str = "float32"):
        if not clip > 0:
            raise ValueError(f"clip must be > 0, got {clip!r}")
        self.config, self.clip, self.dtype = config, clip, _dtype(dtype)
        self.params = _tensors(params, draw_param_shapes(config), self.dtype, requires_grad=True)
        self.optimizer = torch.optim.Adam(self.params.values(), lr=lr, betas=(beta1, beta2),
                                          eps=adam_eps)

    def __call__(self, x, eps) -> float:
        x = _images(self.config, x, self.dtype)
        eps = torch.as_tensor(backend.to_numpy(eps), dtype=self.dtype)
        self.optimizer.zero_grad(set_to_none=True)
        loss = draw_loss(self.config, self.params, x, eps)
        loss.backward()
        grads = [p.grad for p in self.params.values()]
        norm = float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g)
                                                           for g in grads])))
        if norm > self.clip:
            for g in grads:
                g.mul_(self.clip / norm)
        self.optimizer.step()
        return loss.item()

    def numpy_params(self) -> dict:
        """The current parameters as NumPy arrays (copies)."""
        return {k: p.detach().numpy().copy() for k, p in self.params.items()}


def time_against_draw_np(config, batch_size: int = 100, repeats: int = 10, warmup: int = 2,
                         seed: int = 0) -> dict:
    """Median seconds of a float32 training step, draw_np's and torch's, alternating in turn.

    Both start from the same parameters and take the same binarised batch and noise every
    step; draw_np's step is ``loss_and_grads`` + ``clip_by_global_norm`` + ``Adam.step`` with
    its training defaults. Alternating makes both see the same stretch of a machine whose speed
    drifts. Runs on the host (the NumPy backend). Returns ``{"draw_np": {"median_s",
    "samples_s"}, "torch": {...}, "torch_threads": ...}``.
    """
    from .model import DRAW
    if backend.get_backend() != "numpy":
        raise ValueError("time_against_draw_np compares CPU steps: use the numpy backend")
    model = DRAW(config, seed=seed, dtype="float32")
    torch_step = TorchDRAWStep(config, model.params)
    adam = Adam(model.params, lr=TrainSettings.lr)
    rng = backend.Random([seed, 1])
    image = (channels(config),) if channels(config) > 1 else ()
    x = (rng.uniform((batch_size,) + image + (config.H, config.W)) < 0.5).astype("float32")
    eps = rng.normal((config.T, batch_size, config.z_size))

    def draw_np_step():
        _, grads = model.loss_and_grads(x, eps)
        grads, _ = clip_by_global_norm(grads, TrainSettings.clip)
        adam.step(model.params, grads)

    steps = {"draw_np": draw_np_step, "torch": lambda: torch_step(x, eps)}
    samples = {name: [] for name in steps}
    for i in range(warmup + repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            if i >= warmup:
                samples[name].append(time.perf_counter() - start)
    result = {name: {"median_s": statistics.median(s), "samples_s": s}
              for name, s in samples.items()}
    result["torch_threads"] = torch.get_num_threads()
    return result
