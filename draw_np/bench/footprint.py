"""Memory of a step: its peak, and what the forward pass keeps for the backward pass."""
from __future__ import annotations

import tracemalloc

from .. import backend
from ..validate import trusted
from .timing import is_cupy, synchronize


def arrays_nbytes(arrays) -> int:
    return int(sum(a.nbytes for a in arrays))


def step_memory(step) -> tuple:
    """Peak bytes allocated during one call of ``step()`` beyond what was held before it.

    NumPy reports its array allocations to ``tracemalloc``: the peak of the memory traced
    during the step is the step's own high-water mark (caches of all T steps, gradients,
    temporaries). CuPy allocates from its memory pool: after releasing the pool's cached free
    blocks, what the pool holds after the step is its high-water mark for the step, an upper
    bound on the peak within the pool's rounding of block sizes.
    """
    if is_cupy():
        pool = backend.xp().get_default_memory_pool()
        synchronize()
        pool.free_all_blocks()
        base = pool.used_bytes()
        step()
        synchronize()
        return int(pool.total_bytes() - base), "CuPy memory pool high-water mark during the step"
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        step()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return int(peak - base), "tracemalloc: peak of the allocations made during the step"


#: The parts of a step that the backward pass needs, as fields of :class:`draw_np.model.StepCache`.
CACHE_PARTS = {
    "encoder LSTM (eq. 5): input [r, h_dec, h_enc], gates, cells": ("enc",),
    "decoder LSTM (eq. 7): input [z, h_dec], gates, cells": ("dec",),
    "canvas sigma(c_t-1) (eq. 3), for the error image's gradient": ("canvas_prob",),
    "mu, log sigma, sample, KL (eqs. 1-2, 6, 11): h_enc, eps, sigma": ("mu", "logsigma",
                                                                     "sample", "kl"),
    "read and its glimpse (eqs. 4, 19-27): F_Y X, X F_X^T, filters": ("read", "read_glimpse"),
    "write and its glimpse (eqs. 8, 28-29): h_dec, patch, filters": ("write", "write_glimpse"),
}


def cache_breakdown(model, x, eps=None) -> dict:
    """Bytes that a DRAW model's forward pass keeps for the backward pass, by part of the step,
    over all T (a DRAW breakdown: ``model`` is a :class:`draw_np.model.DRAW`).

    Each array is counted once, by the buffer it views, at the first part that holds it (the
    decoder state h^dec_t, for one, is the write head's input and the next read head's too).
    Parameters and the images x are not counted; the noise ε is, under the latent part.
    Returns ``{"parts": {label: bytes}, "total": bytes, "per_step": bytes}``.
    """
    if getattr(model, "kind", None) != "draw":
        raise ValueError(f"cache_breakdown breaks down a DRAW model's caches, got "
                         f"{type(model).__name__}")
    x, eps = model._check_input(x, eps)
    with trusted():
        _, _, caches, _ = model._forward(x, eps)   # the same caches loss_and_grads keeps
    skip = {id(a) for a in model.params.values()} | {id(x)}
    seen, parts = set(), dict.fromkeys(CACHE_PARTS, 0)

    def arrays(tree):
        if isinstance(tree, tuple):
            for item in tree:
                yield from arrays(item)
        elif hasattr(tree, "nbytes") and hasattr(tree, "shape"):
            yield tree if tree.base is None else tree.base

    for cache in caches:
        for label, fields in CACHE_PARTS.items():
            for field in fields:
                for a in arrays(getattr(cache, field)):
                    if id(a) not in seen and id(a) not in skip:
                        seen.add(id(a))
                        parts[label] += int(a.nbytes)
    total = sum(parts.values())
    return dict(parts=parts, total=total, per_step=total / len(caches))
