"""The latent distribution ``Q(z_t | h^enc_t) = N(μ_t, σ_t²)``: sampling and KL (spec eqs. 1-2, 6, 11).

One convention throughout: the encoder emits ``log σ`` (eq. 2). Sampling uses
``σ = exp(log σ)``; the KL uses ``σ² = exp(2 log σ)`` and ``log σ² = 2 log σ``. Mixing up
``log σ`` and ``log σ²`` is a classic VAE bug that gradient checks cannot see (each gradient
matches its own wrong formula), so the tests also check the KL against a Monte-Carlo estimate
made with this sampler.
"""
from __future__ import annotations

from typing import NamedTuple

from .backend import array_module
from .validate import check_array, check_same_dtype


class SampleCache(NamedTuple):
    sigma: object  # (n, k) exp(log σ)
    eps: object    # (n, k) the standard-normal noise


def sample_forward(mu, logsigma, eps):
    """Reparameterised sample ``z = μ + exp(log σ) ⊙ ε`` (eq. 6).

    The noise comes in as an argument, so the function is deterministic and can be checked
    against finite differences; ``ε ~ N(0, I)`` is drawn by the caller.

    Args:
        mu, logsigma, eps: (n, k).
    Returns:
        z: (n, k), and the cache.
    """
    dims = {}
    check_array("mu", mu, ("n", "k"), dims)
    check_array("logsigma", logsigma, ("n", "k"), dims)
    check_array("eps", eps, ("n", "k"), dims)
    check_same_dtype(mu=mu, logsigma=logsigma, eps=eps)
    sigma = array_module(mu).exp(logsigma)
    return mu + sigma * eps, SampleCache(sigma, eps)


def sample_backward(dz, cache: SampleCache):
    """Gradients of :func:`sample_forward`: dz (n, k) -> dmu, dlogsigma, deps (each (n, k)).

    ``dz/dμ = 1``; ``dz/d log σ = σ ε`` (since dσ/d log σ = σ); ``dz/dε = σ``.
    """
    sigma, eps = cache
    check_array("dz", dz, sigma.shape)
    return dz, dz * sigma * eps, dz * sigma


def kl_forward(mu, logsigma):
    """``KL(N(μ, σ²) || N(0, I)) = Σ_k ½ (μ² + σ² − log σ² − 1)``, per example (eq. 11).

    Args:
        mu, logsigma: (n, k).
    Returns:
        kl: (n,) in nats, and the cache ``(mu, sigma2)``.
    """
    dims = {}
    check_array("mu", mu, ("n", "k"), dims)
    check_array("logsigma", logsigma, ("n", "k"), dims)
    sigma2 = array_module(mu).exp(2 * logsigma)
    kl = 0.5 * (mu * mu + sigma2 - 2 * logsigma - 1).sum(axis=1)
    return kl, (mu, sigma2)


def kl_backward(dkl, cache):
    """Gradients of :func:`kl_forward`: dkl (n,) -> dmu, dlogsigma (each (n, k)).

    ``d/dμ = μ``;  ``d/d log σ = ½ (2σ² − 2) = σ² − 1``.
    """
    mu, sigma2 = cache
    check_array("dkl", dkl, (mu.shape[0],))
    return dkl[:, None] * mu, dkl[:, None] * (sigma2 - 1)
