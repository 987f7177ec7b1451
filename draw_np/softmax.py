"""The attention classifier's loss: softmax cross-entropy from logits (spec, "The attention
classifier": ``loss = −log softmax(logits)[label]``).

For one example with logits ``a`` (K classes) and label ``y``::

    p_k = exp(a_k) / Σ_j exp(a_j),      ℓ = −log p_y = logsumexp(a) − a_y

Written from the logits with the maximum subtracted inside the log-sum-exp it is exact and
finite for any finite logits, and its gradient is the famous ``dℓ/da = p − onehot(y)``.
"""
from __future__ import annotations

from typing import NamedTuple

from .backend import array_module
from .validate import check_array


class SoftmaxCache(NamedTuple):
    probs: object    # (n, K) softmax(a): the gradient is built from it
    labels: object   # (n,) integer labels


def check_labels(labels, n: int, classes: int):
    """``labels`` must be ``n`` integers in ``[0, classes)``; a clear ``ValueError`` otherwise.
    (A value check, so it reads the data: the classifier calls it once, at its door.)"""
    if not hasattr(labels, "shape") or not hasattr(labels, "dtype"):
        raise ValueError(f"labels must be an integer array of shape ({n},), got "
                         f"{type(labels).__name__}")
    if labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be integers, got dtype {labels.dtype}")
    if tuple(labels.shape) != (n,):
        raise ValueError(f"labels must have shape ({n},), one per image, got "
                         f"{tuple(labels.shape)}")
    if n and bool(((labels < 0) | (labels >= classes)).any()):
        raise ValueError(f"labels must lie in [0, {classes - 1}], got values in "
                         f"[{int(labels.min())}, {int(labels.max())}]")
    return labels


def softmax(logits):
    """``softmax`` over the last axis, with the maximum subtracted so ``exp`` cannot overflow."""
    xp = array_module(logits)
    e = xp.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_cross_entropy_forward(logits, labels):
    """``ℓ = logsumexp(a) − a_y`` per example, in nats.

    Args:
        logits: (n, K) class scores ``a``.  labels: (n,) integers in [0, K).
    Returns:
        loss: (n,), and a :class:`SoftmaxCache`.
    """
    check_array("logits", logits, ("n", "K"))
    n, classes = logits.shape
    check_labels(labels, n, classes)
    xp = array_module(logits)
    top = logits.max(axis=1, keepdims=True)
    shifted = logits - top
    log_norm = xp.log(xp.exp(shifted).sum(axis=1))             # logsumexp(a) − max(a)
    rows = xp.arange(n)
    loss = log_norm - shifted[rows, labels]
    probs = xp.exp(shifted - log_norm[:, None])
    return loss, SoftmaxCache(probs, labels)


def softmax_cross_entropy_backward(dloss, cache: SoftmaxCache):
    """Gradient of :func:`softmax_cross_entropy_forward`: dloss (n,) -> dlogits (n, K).

    ``dℓ/da_k = p_k − [k = y]``: the probabilities, less one at the label.
    """
    probs, labels = cache
    check_array("dloss", dloss, (probs.shape[0],))
    dlogits = probs * dloss[:, None]
    dlogits[array_module(probs).arange(len(labels)), labels] -= dloss
    return dlogits
