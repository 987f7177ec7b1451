"""The floating-point work of one training step, counted analytically from its matrix products."""
from __future__ import annotations

import math
from typing import NamedTuple

from ..model import DRAWConfig, param_shapes


#: Rough elementwise cost, in FLOPs per element, of the pieces of one step (forward + backward).
#: Counted from the code: e.g. an LSTM's gates, cell and output take about 25 operations per
#: hidden unit forward (three sigmoids at ~4 each, two tanh, the cell update, the bias add) and
#: about 25 backward; a filterbank axis ~7 per filter entry forward and ~13 backward. These
#: are estimates: elementwise work is limited by memory traffic, not arithmetic, so its FLOP
#: count says little about its time. It is reported, and kept out of the matmul limit.
ELEMENTWISE_COST = {"lstm_unit": 50, "pixel": 15, "filter_entry": 20, "latent": 20,
                    "attention_param": 30, "optimiser_param": 12}


class Product(NamedTuple):
    """One family of matrix products in a training step: ``count`` times ``(m, k) @ (k, n)``,
    each a stack of ``batch`` independent products (``batch = 1`` for a plain 2-D product)."""
    part: str   # encoder_lstm, decoder_lstm, heads, attention
    layer: str  # the parameter prefix (enc, dec, mu, ...) or the attention operation
    role: str   # forward, grad_input, grad_weight, or batched (attention filterbank products)
    m: int
    k: int
    n: int
    batch: int
    count: int

    @property
    def flops(self) -> int:
        return 2 * self.m * self.k * self.n * self.batch * self.count

    def as_dict(self) -> dict:
        return dict(self._asdict(), flops=self.flops)


def check_int(name: str, value, minimum: int = 1) -> None:
    """Refuse anything but an int (bools excluded) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def linear_layers(config: DRAWConfig) -> list:
    """The step's linear maps ``y = x W + b`` as ``(part, layer, in, out)``.

    An LSTM's fused gate map takes ``u = [input, h_prev]``, so its ``in`` is input + size and
    its ``out`` is 4·size (spec, "LSTM"); the encoder's input is ``[r_t, h^dec_{t−1}]``.
    """
    c = config
    layers = [
        ("encoder_lstm", "enc", c.read_size + c.dec_size + c.enc_size, 4 * c.enc_size),
        ("decoder_lstm", "dec", c.z_size + c.dec_size, 4 * c.dec_size),
        ("heads", "mu", c.enc_size, c.z_size),
        ("heads", "logsigma", c.enc_size, c.z_size),
        ("heads", "write", c.dec_size, c.write_size),
    ]
    if c.attention:
        layers += [("heads", "read_attn", c.dec_size, 5), ("heads", "write_attn", c.dec_size, 5)]
    return layers


def _attention_products(config: DRAWConfig, n: int) -> list:
    """The batched filterbank products of eqs. 27 and 29 and their gradients, per step.

    They follow :mod:`draw_np.readwrite`, where ``A @ B @ C`` runs left to right. Read
    (eq. 27) filters the image and the error image: a stack of 2n products of each shape.
    """
    c = config
    H, W, R, N = c.H, c.W, c.read_n, c.write_n
    read = [  # P = F_Y X F_Xᵀ, then dX = F_Yᵀ G F_X, dF_Y = G F_X Xᵀ, dF_X = Gᵀ F_Y X
        ("read_forward", R, H, W), ("read_forward", R, W, R),
        ("read_grad_image", H, R, R), ("read_grad_image", H, R, W),
        ("read_grad_Fy", R, R, W), ("read_grad_Fy", R, W, H),
        ("read_grad_Fx", R, R, H), ("read_grad_Fx", R, H, W),
    ]
    write = [  # out = F_Yᵀ w F_X, then dw = F_Y G F_Xᵀ, dF_Y = w F_X Gᵀ, dF_X = wᵀ F_Y G
        ("write_forward", H, N, N), ("write_forward", H, N, W),
        ("write_grad_patch", N, H, W), ("write_grad_patch", N, W, N),
        ("write_grad_Fy", N, N, W), ("write_grad_Fy", N, W, H),
        ("write_grad_Fx", N, N, H), ("write_grad_Fx", N, H, W),
    ]
    return ([Product("attention", name, "batched", m, k, k2, 2 * n, c.T)
             for name, m, k, k2 in read]
            + [Product("attention", name, "batched", m, k, k2, n, c.T)
               for name, m, k, k2 in write])


def step_products(config: DRAWConfig, batch: int) -> list:
    """Every matrix product of one training step, as :class:`Product` families.

    Each linear map ``y = x W`` with ``x: (n, in)``, ``W: (in, out)`` costs, at each of the T
    steps, ``x W`` (n, in) @ (in, out), ``dy Wᵀ`` (n, out) @ (out, in) and ``xᵀ dy``
    (in, n) @ (n, out). The weight gradient is listed per step (``k = n``, T products); the
    model may instead make it one product over the whole unroll (``k = T·n``), which does the
    same FLOPs (:func:`matmul_limit` times both shapes).
    """
    check_int("batch", batch)
    T, n = config.T, batch
    products = []
    for part, layer, n_in, n_out in linear_layers(config):
        products += [Product(part, layer, "forward", n, n_in, n_out, 1, T),
                     Product(part, layer, "grad_input", n, n_out, n_in, 1, T),
                     Product(part, layer, "grad_weight", n_in, n, n_out, 1, T)]
    if config.attention:
        products += _attention_products(config, n)
    return products


def elementwise_flops(config: DRAWConfig, batch: int) -> dict:
    """A rough count of the step's elementwise FLOPs (see :data:`ELEMENTWISE_COST`), by piece."""
    c, e = config, ELEMENTWISE_COST
    per_example_step = {
        "lstm": e["lstm_unit"] * (c.enc_size + c.dec_size),
        "canvas": e["pixel"] * c.H * c.W,            # σ(c), x̂, c + write, their gradients
        "latent": e["latent"] * c.z_size,            # sample, KL and their gradients
    }
    if c.attention:
        per_example_step["filterbanks"] = e["filter_entry"] * (c.read_n + c.write_n) * (c.H + c.W)
        per_example_step["attention_params"] = 2 * e["attention_param"] * 5
    out = {k: v * c.T * batch for k, v in per_example_step.items()}
    n_params = sum(math.prod(s) for s in param_shapes(config).values())
    out["clip_and_adam"] = e["optimiser_param"] * n_params
    return out


def count_step_flops(config: DRAWConfig, batch: int) -> dict:
    """The floating-point work of one training step (forward + backward), counted analytically.

    Matrix products count ``2·m·k·n`` each (a multiply and an add per term); see
    :func:`step_products` for the list. For the paper's model (T = 64, LSTMs of 256, z = 100,
    read 2×2, write 5×5) at batch 100 the matrix products come to 37.2 GFLOP:

    * encoder LSTM  3 · 64 · 2·100·520·1024  = 20.4 GFLOP  (in = 8 + 256 + 256, out = 4·256)
    * decoder LSTM  3 · 64 · 2·100·356·1024  = 14.0 GFLOP  (in = 100 + 256)
    * heads (μ, log σ, write, two attention maps)       2.3 GFLOP
    * attention filterbank products (eqs. 27, 29)       0.4 GFLOP

    The optimiser and the elementwise work (gates, filterbanks, canvas, about 0.3 GFLOP) are a
    rough estimate, reported apart: they are limited by memory traffic, not arithmetic.

    Returns a dict: ``matmul`` (the FLOPs of all matrix products: the figure the matmul limit
    applies to), ``elementwise`` (the estimate), ``total`` (their sum), ``parts`` (encoder_lstm,
    decoder_lstm, heads, attention, elementwise; they add up to ``total``), ``layers`` (FLOPs
    per linear map or attention operation) and ``products`` (every product family as a dict).
    """
    if not isinstance(config, DRAWConfig):
        raise ValueError(f"config must be a DRAWConfig, got {type(config).__name__}")
    products = step_products(config, batch)
    parts = {p: 0 for p in ("encoder_lstm", "decoder_lstm", "heads", "attention")}
    layers = {}
    for p in products:
        parts[p.part] += p.flops
        layers[p.layer] = layers.get(p.layer, 0) + p.flops
    matmul = sum(parts.values())
    elementwise = elementwise_flops(config, batch)
    parts["elementwise"] = sum(elementwise.values())
    return dict(batch=batch, T=config.T, matmul=matmul, elementwise=parts["elementwise"],
                total=matmul + parts["elementwise"], parts=parts, layers=layers,
                elementwise_pieces=elementwise, products=[p.as_dict() for p in products])
