"""One DRAW step and its backward pass, written by hand from the equations (lessons 7 and 8).

Lesson 7 derives these two functions and lesson 8 unrolls them over T steps. They are built
only from the library's layers (LSTM, linear maps, sampler, KL, the read and write heads), each
of which an earlier lesson opened up; never from the model's own step or backward pass, which
the lessons compare them with (``DRAW.step``, ``DRAW.loss_and_grads``).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from draw_np.activations import sigmoid
from draw_np.gaussian import kl_backward, kl_forward, sample_backward, sample_forward
from draw_np.heads import (read_head_backward, read_head_forward, write_head_backward,
                           write_head_forward)
from draw_np.linear import linear_backward, linear_forward
from draw_np.lstm import lstm_backward, lstm_forward
from draw_np.model import State


class StepCaches(NamedTuple):
    """What the backward pass of one step needs: each layer's cache, and σ(c_{t−1}) for eq. 3."""
    canvas_prob: object
    read: object
    enc: object
    mu: object
    logsigma: object
    sample: object
    kl: object
    dec: object
    write: object


class DecoderPaths(NamedTuple):
    """The three ways h^dec_{t−1} reaches the loss through step t; dL/dh^dec_{t−1} is their sum."""
    decoder: object   # as the decoder LSTM's previous state (eq. 7)
    encoder: object   # as part of the encoder's input [r_t, h^dec_{t−1}] (eq. 5)
    read: object      # as what places the read glimpse (eqs. 4, 21); zero without attention


def step_forward(params: dict, config, x, state: State, eps_t):
    """One step, eqs. 3-8: returns the new State, the step's KL (n,) and its caches."""
    p, c = params, config
    canvas_prob = sigmoid(state.canvas)
    x_hat = x - canvas_prob                                                          # (3)
    r, read = read_head_forward(p, "read", state.h_dec, (x, x_hat), c.read_grid)     # (4)
    (h_enc, cell_enc), enc = lstm_forward(np.concatenate([r, state.h_dec], axis=1),  # (5)
                                          state.h_enc, state.cell_enc, p["enc.W"], p["enc.b"])
    mu, mu_cache = linear_forward(h_enc, p["mu.W"], p["mu.b"])                       # (1)
    logsigma, logsigma_cache = linear_forward(h_enc, p["logsigma.W"], p["logsigma.b"])  # (2)
    z, sample = sample_forward(mu, logsigma, eps_t)                                  # (6)
    kl, kl_cache = kl_forward(mu, logsigma)                                          # (11)
    (h_dec, cell_dec), dec = lstm_forward(z, state.h_dec, state.cell_dec,           # (7)
                                          p["dec.W"], p["dec.b"])
    update, write = write_head_forward(p, "write", h_dec, c.write_grid, c.canvas_shape)
    canvas = state.canvas + update                                                   # (8)
    caches = StepCaches(canvas_prob, read, enc, mu_cache, logsigma_cache, sample, kl_cache,
                        dec, write)
    return State(canvas, h_enc, cell_enc, h_dec, cell_dec), kl, caches


def add_to(grads: dict, step_grads: dict) -> None:
    """Add one step's parameter gradients: every step uses the same weights."""
    for name, grad in step_grads.items():
        grads[name] = grads[name] + grad


def step_backward(d: State, dkl, caches: StepCaches, grads: dict):
    """Undo one step, eqs. 8 back to 3: from dL/d(state_t) to dL/d(state_{t−1}).

    ``d`` is the gradient of the state the step returned, ``dkl`` (n,) that of its KL. The
    step's parameter gradients are added to ``grads``. Returns the gradient of the state the
    step started from, and the three :class:`DecoderPaths` that make up its ``h_dec``.
    """
    # (8) c_t = c_{t−1} + write(h^dec_t): dc_t reaches c_{t−1} unchanged, and h^dec_t via the write
    write = write_head_backward(d.canvas, caches.write)
    add_to(grads, write.params)
    dh_dec = d.h_dec + write.dh
    # (7) h^dec_t = LSTM_dec(h^dec_{t−1}, z_t)
    dec = lstm_backward(dh_dec, d.cell_dec, caches.dec)
    add_to(grads, {"dec.W": dec.dW, "dec.b": dec.db})
    # (6) z = μ + σ ε, and (11) the KL: both depend on μ and log σ, so their gradients add
    dmu, dlogsigma, _ = sample_backward(dec.dx, caches.sample)
    dmu_kl, dlogsigma_kl = kl_backward(dkl, caches.kl)
    dmu, dlogsigma = dmu + dmu_kl, dlogsigma + dlogsigma_kl
    # (1, 2) μ and log σ are linear maps of h^enc_t: h^enc_t gets both, plus what step t+1 sent
    dh_enc_mu, dW, db = linear_backward(dmu, caches.mu)
    add_to(grads, {"mu.W": dW, "mu.b": db})
    dh_enc_logsigma, dW, db = linear_backward(dlogsigma, caches.logsigma)
    add_to(grads, {"logsigma.W": dW, "logsigma.b": db})
    dh_enc = d.h_enc + dh_enc_mu + dh_enc_logsigma
    # (5) h^enc_t = LSTM_enc(h^enc_{t−1}, [r_t, h^dec_{t−1}]): split the input's gradient
    enc = lstm_backward(dh_enc, d.cell_enc, caches.enc)
    add_to(grads, {"enc.W": enc.dW, "enc.b": enc.db})
    read_size = enc.dx.shape[1] - dec.dh_prev.shape[1]     # the input was [r_t, h^dec_{t−1}]
    dr, dh_dec_from_encoder = enc.dx[:, :read_size], enc.dx[:, read_size:]
    # (4) r_t = read(x, x̂_t, h^dec_{t−1}): x is data, so only x̂_t's gradient is wanted
    read = read_head_backward(dr, caches.read, wrt=(False, True))
    add_to(grads, read.params)
    dh_dec_from_read = read.dh if read.dh is not None else np.zeros_like(dec.dh_prev)
    # (3) x̂_t = x − σ(c_{t−1}), with σ' = σ (1 − σ)
    dx_hat = read.dimages[1]
    dcanvas_prev = d.canvas - dx_hat * caches.canvas_prob * (1 - caches.canvas_prob)
    paths = DecoderPaths(dec.dh_prev, dh_dec_from_encoder, dh_dec_from_read)
    d_prev = State(dcanvas_prev, enc.dh_prev, enc.dcell_prev, sum(paths), dec.dcell_prev)
    return d_prev, paths
