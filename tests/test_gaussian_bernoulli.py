"""The latent Gaussian (sampling, KL) and the Bernoulli loss: gradients and meaning."""
import numpy as np
import pytest
from hypothesis import given

from draw_np import backend as B
from draw_np.bernoulli import bernoulli_entropy, bernoulli_nll_backward, bernoulli_nll_forward
from draw_np.gaussian import kl_backward, kl_forward, sample_backward, sample_forward

from .helpers import assert_gradients_match, batch, randn, seeds, side


@given(n=batch, k=side, seed=seeds)
def test_sample_gradients(backend, n, k, seed):
    rng = np.random.default_rng(seed)
    mu, logsigma, eps = randn(rng, n, k), randn(rng, n, k, scale=0.5), randn(rng, n, k)
    _, cache = sample_forward(mu, logsigma, eps)
    dz = randn(rng, n, k)
    dmu, dlogsigma, deps = sample_backward(dz, cache)
    assert_gradients_match(lambda: sample_forward(mu, logsigma, eps)[0],
                           dict(mu=mu, logsigma=logsigma, eps=eps),
                           dict(mu=dmu, logsigma=dlogsigma, eps=deps), dz)


@given(n=batch, k=side, seed=seeds)
def test_kl_gradients(backend, n, k, seed):
    rng = np.random.default_rng(seed)
    mu, logsigma = randn(rng, n, k), randn(rng, n, k, scale=0.5)
    _, cache = kl_forward(mu, logsigma)
    dkl = randn(rng, n)
    dmu, dlogsigma = kl_backward(dkl, cache)
    assert_gradients_match(lambda: kl_forward(mu, logsigma)[0], dict(mu=mu, logsigma=logsigma),
                           dict(mu=dmu, logsigma=dlogsigma), dkl)


@given(n=batch, H=side, W=side, seed=seeds)
def test_bernoulli_gradients(backend, n, H, W, seed):
    rng = np.random.default_rng(seed)
    logits, x = randn(rng, n, H, W, scale=2.0), B.xp().asarray(rng.uniform(0, 1, (n, H, W)))
    _, cache = bernoulli_nll_forward(logits, x)
    dnll = randn(rng, n)
    dlogits, dx = bernoulli_nll_backward(dnll, cache)
    assert_gradients_match(lambda: bernoulli_nll_forward(logits, x)[0],
                           dict(logits=logits, x=x), dict(logits=dlogits, x=dx), dnll)


def test_sampler_has_mean_mu_and_variance_sigma_squared(backend):
    xp = backend
    rng = B.Random(0)
    m = 200_000
    mu, logsigma = xp.full((m, 2), 0.7), xp.full((m, 2), np.log(1.5))
    z, _ = sample_forward(mu, logsigma, rng.normal((m, 2), "float64"))
    z = B.to_numpy(z)
    # Standard errors: σ/√m for the mean, about σ²√(2/m) for the variance; allow 5 of them.
    assert abs(z.mean() - 0.7) < 5 * 1.5 / np.sqrt(2 * m)
    assert abs(z.var() - 1.5 ** 2) < 5 * 1.5 ** 2 * np.sqrt(2 / (2 * m))


def test_kl_matches_a_monte_carlo_estimate_from_the_sampler(backend):
    """KL(q || p) = E_q[log q(z) − log p(z)], estimated with z drawn by the library's sampler."""
    xp = backend
    mu = xp.asarray([[0.5, -1.0, 0.0]])
    logsigma = xp.asarray([[-0.3, 0.4, 0.0]])
    kl, _ = kl_forward(mu, logsigma)
    m = 400_000
    eps = B.Random(1).normal((m, 3), "float64")
    z, _ = sample_forward(xp.broadcast_to(mu, (m, 3)), xp.broadcast_to(logsigma, (m, 3)), eps)
    z, mu_, ls = B.to_numpy(z), B.to_numpy(mu), B.to_numpy(logsigma)
    log_q = (-0.5 * ((z - mu_) / np.exp(ls)) ** 2 - ls - 0.5 * np.log(2 * np.pi)).sum(axis=1)
    log_p = (-0.5 * z ** 2 - 0.5 * np.log(2 * np.pi)).sum(axis=1)
    samples = log_q - log_p
    stderr = samples.std() / np.sqrt(m)
    assert abs(samples.mean() - float(kl[0])) < 5 * stderr


def test_kl_is_zero_exactly_at_the_prior(backend):
    kl, _ = kl_forward(backend.zeros((2, 4)), backend.zeros((2, 4)))
    assert float(abs(kl).max()) == 0.0


def test_bernoulli_nll_equals_the_textbook_formula(backend):
    rng = np.random.default_rng(3)
    logits, x = randn(rng, 2, 3, 4), B.xp().asarray(rng.uniform(0, 1, (2, 3, 4)))
    nll, _ = bernoulli_nll_forward(logits, x)
    p = 1 / (1 + np.exp(-B.to_numpy(logits)))
    xs = B.to_numpy(x)
    expected = -(xs * np.log(p) + (1 - xs) * np.log(1 - p)).sum(axis=(1, 2))
    np.testing.assert_allclose(B.to_numpy(nll), expected, rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bernoulli_nll_is_finite_and_right_for_huge_logits(backend, dtype):
    xp = backend
    logits = xp.asarray([[[1000.0, -1000.0, 1000.0, -1000.0]]], dtype=dtype)
    x = xp.asarray([[[1.0, 0.0, 0.0, 1.0]]], dtype=dtype)
    nll, cache = bernoulli_nll_forward(logits, x)
    # Two confident right answers cost 0 nats; two confident wrong answers cost 1000 each.
    assert float(nll[0]) == pytest.approx(2000.0)
    dlogits, _ = bernoulli_nll_backward(xp.ones(1, dtype=dtype), cache)
    np.testing.assert_allclose(B.to_numpy(dlogits).ravel(), [0, 0, 1, -1], atol=1e-6)


def test_bernoulli_entropy_is_the_least_nll_reached_at_the_targets_own_logits(backend):
    rng = np.random.default_rng(4)
    x = B.xp().asarray(rng.uniform(0.01, 0.99, (3, 2, 5, 4)))
    floor = bernoulli_entropy(x)
    at_x, _ = bernoulli_nll_forward(B.xp().log(x / (1 - x)), x)   # the canvas that draws x
    np.testing.assert_allclose(B.to_numpy(floor), B.to_numpy(at_x), rtol=1e-12)
    other, _ = bernoulli_nll_forward(randn(rng, 3, 2, 5, 4), x)     # any other canvas costs more
    assert (B.to_numpy(other) > B.to_numpy(floor)).all()


def test_bernoulli_entropy_of_bits_is_zero_and_of_one_half_is_log_2_a_pixel(backend):
    bits = B.xp().asarray([[[0.0, 1.0], [1.0, 0.0]]])
    assert float(bernoulli_entropy(bits)[0]) == 0.0
    halves = B.xp().full((2, 3, 7), 0.5)
    np.testing.assert_allclose(B.to_numpy(bernoulli_entropy(halves)), 21 * np.log(2), rtol=1e-12)


def test_bernoulli_entropy_rejects_values_outside_the_unit_interval():
    for bad in (np.full((1, 4), 1.5), np.full((1, 4), -0.1), np.full((1, 4), np.nan)):
        with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
            bernoulli_entropy(bad)
    with pytest.raises(ValueError, match=r"x must have shape \(n, ...\)"):
        bernoulli_entropy(np.zeros(4))


def test_loss_functions_reject_mismatched_shapes():
    with pytest.raises(ValueError, match=r"x must have shape \(2, 3, 4\), got \(2, 4, 3\)"):
        bernoulli_nll_forward(np.zeros((2, 3, 4)), np.zeros((2, 4, 3)))
    with pytest.raises(ValueError, match=r"eps must have shape \(2, 5\)"):
        sample_forward(np.zeros((2, 5)), np.zeros((2, 5)), np.zeros((5, 2)))
