# %% [markdown]
# # Lesson 6: the latent variables. Reparameterised sampling and the KL term (eqs. 1-2, 6, 11)
#
# What you will learn:
#
# * the encoder emits a mean $\mu$ and a **log standard deviation** $\log\sigma$ (eqs. 1-2);
# * the reparameterisation $z = \mu + \sigma \odot \epsilon$ (eq. 6): randomness comes in as an
#   argument, so $z$ is a plain differentiable function and its gradient can be checked;
# * the KL divergence of $\mathcal N(\mu, \sigma^2)$ from the prior $\mathcal N(0, I)$ in closed
#   form (eq. 11), checked against a Monte Carlo estimate made with the library's own sampler;
# * the $\log\sigma$ / $\log\sigma^2$ mix-up: a bug gradient checks cannot see, and how the
#   Monte Carlo test of meaning catches it.

# %%
import matplotlib.pyplot as plt
import numpy as np

from draw_np.backend import Random
from draw_np.gaussian import kl_backward, kl_forward, sample_backward, sample_forward
from draw_np.gradcheck import check_gradients
from _common import Lesson

lesson = Lesson("Lesson 6: the latent variables")
rng = np.random.default_rng(0)
show = lambda errors: ", ".join(f"{k}: {v:.0e}" for k, v in errors.items())
n, k = 3, 4
mu, logsigma = rng.standard_normal((n, k)), 0.5 * rng.standard_normal((n, k))

# %% [markdown]
# ## 1. Reparameterised sampling (eq. 6)
#
# To train through a random sample, write it as a deterministic function of the parameters
# and of noise drawn elsewhere:
#
# $$z = \mu + \sigma \odot \epsilon, \qquad \sigma = \exp(\log\sigma), \qquad
#   \epsilon \sim \mathcal N(0, I) \tag{6}$$
#
# Then $\partial z / \partial \mu = 1$, $\partial z / \partial \log\sigma = \sigma\epsilon$ and
# $\partial z / \partial \epsilon = \sigma$: the backward pass multiplies the upstream
# $\bar z$ by these, element by element, and the code below asserts exactly that of
# `sample_backward`.
#
# `draw_np.gaussian.sample_forward` takes $\epsilon$ as an argument; the caller draws it (the
# model, from `draw_np.backend.Random`).

# %%
lesson.step("Reparameterised sampling (eq. 6)")
eps = Random(1).normal((n, k), "float64")
z, cache = sample_forward(mu, logsigma, eps)
assert np.allclose(z, mu + np.exp(logsigma) * eps)
dz = rng.standard_normal((n, k))
dmu, dlogsigma, deps = sample_backward(dz, cache)
sigma = np.exp(logsigma)               # z = μ + σ ε: dz/dμ = 1, dz/d log σ = σ ε, dz/dε = σ
assert np.allclose(dmu, dz) and np.allclose(dlogsigma, dz * sigma * eps)
assert np.allclose(deps, dz * sigma)
errors = check_gradients(lambda: sample_forward(mu, logsigma, eps)[0],
                         {"mu": mu, "logsigma": logsigma, "eps": eps},
                         {"mu": dmu, "logsigma": dlogsigma, "eps": deps}, dz)
print(f"  by hand == sample_forward; gradient check: {show(errors)}")
assert max(errors.values()) < 1e-7

many = 20_000 if lesson.fast else 1_000_000
samples = sample_forward(np.full((many, 1), 0.7), np.full((many, 1), np.log(0.3)),
                         Random(2).normal((many, 1), "float64"))[0]
print(f"  {many} samples with mu = 0.7, sigma = 0.3: mean {samples.mean():.4f}, "
      f"std {samples.std():.4f}")
assert abs(samples.mean() - 0.7) < 5 * 0.3 / np.sqrt(many)
assert abs(samples.std() - 0.3) < 5 * 0.3 / np.sqrt(2 * many)   # the sampler's std is sigma

# %% [markdown]
# ## 2. The KL term in closed form (eq. 11)
#
# The latent loss of one step compares $Q(z \mid x) = \mathcal N(\mu, \sigma^2)$ with the prior
# $\mathcal N(0, I)$:
#
# $$\text{KL} = \sum_k \tfrac12 \left(\mu_k^2 + \sigma_k^2 - \log\sigma_k^2 - 1\right) \tag{11}$$
#
# With $\log\sigma$ as the network's output, $\sigma^2 = \exp(2\log\sigma)$ and
# $\log\sigma^2 = 2\log\sigma$. Its gradients are
#
# $$\frac{\partial\,\text{KL}}{\partial \mu} = \mu, \qquad
#   \frac{\partial\,\text{KL}}{\partial \log\sigma} = \sigma^2 - 1.$$
#
# KL is 0 exactly when $\mu = 0$ and $\sigma = 1$: a latent that carries no information about
# $x$ costs nothing.

# %%
lesson.step("The KL term in closed form (eq. 11)")
kl, kl_cache = kl_forward(mu, logsigma)
assert np.allclose(kl, 0.5 * (mu ** 2 + np.exp(2 * logsigma) - 2 * logsigma - 1).sum(axis=1))
dkl = rng.standard_normal(n)
dmu_kl, dlogsigma_kl = kl_backward(dkl, kl_cache)
assert np.allclose(dmu_kl, dkl[:, None] * mu)                               # dKL/dμ = μ
assert np.allclose(dlogsigma_kl, dkl[:, None] * (np.exp(2 * logsigma) - 1))  # dKL/d log σ = σ² − 1
errors = check_gradients(lambda: kl_forward(mu, logsigma)[0], {"mu": mu, "logsigma": logsigma},
                         {"mu": dmu_kl, "logsigma": dlogsigma_kl}, dkl)
print(f"  by hand == kl_forward; gradient check: {show(errors)}")
assert max(errors.values()) < 1e-7
assert np.allclose(kl_forward(np.zeros((1, k)), np.zeros((1, k)))[0], 0)

# %% [markdown]
# ## 3. The closed form against Monte Carlo
#
# KL is an expectation,
# $\text{KL} = \mathbb{E}_{z \sim Q}\left[\log Q(z) - \log P(z)\right]$, so we can estimate it by
# sampling $z$ with the library's sampler and averaging, with
# $\epsilon_k = (z_k - \mu_k) / \sigma_k$,
#
# $$\log Q(z) - \log P(z) = \sum_k \Big[\big(-\tfrac12 \epsilon_k^2 - \log\sigma_k\big)
#   - \big(-\tfrac12 z_k^2\big)\Big]$$
#
# (the $\log 2\pi$ terms cancel). If the sampler's $\sigma$ and the formula's $\sigma^2$ are the
# same $\sigma$, the average converges to the closed form.

# %%
lesson.step("The closed form against Monte Carlo")
one_mu, one_logsigma = mu[:1], logsigma[:1]
eps = Random(3).normal((many, k), "float64")
z, _ = sample_forward(np.repeat(one_mu, many, 0), np.repeat(one_logsigma, many, 0), eps)
log_ratio = (-0.5 * eps ** 2 - one_logsigma + 0.5 * z ** 2).sum(axis=1)
mc, stderr = log_ratio.mean(), log_ratio.std() / np.sqrt(many)
closed = kl_forward(one_mu, one_logsigma)[0][0]
print(f"  closed form {closed:.4f}   Monte Carlo {mc:.4f} +- {stderr:.4f}  ({many} samples)")
assert abs(mc - closed) < 4 * stderr

# %% [markdown]
# ## 4. The classic bug: $\log\sigma$ where the formula wants $\log\sigma^2$
#
# Suppose the KL code believes the network emits $s = \log\sigma^2$ (a common convention),
# while the sampler uses $s$ as $\log\sigma$. The KL becomes
#
# $$\text{KL}_{\text{wrong}} = \sum_k \tfrac12 \left(\mu_k^2 + e^{s_k} - s_k - 1\right),$$
#
# and its backward pass, $\frac12 (e^{s} - 1)$, is the correct derivative of that wrong
# formula. So the gradient check **passes**.
#
# Only a test of meaning sees it: the Monte Carlo estimate, made with the sampler the model
# really uses, disagrees by many standard errors.

# %%
lesson.step("The classic bug: log sigma where the formula wants log sigma^2")


def wrong_kl(mu, s):
    return 0.5 * (mu ** 2 + np.exp(s) - s - 1).sum(axis=1)


def wrong_kl_grad_s(dkl, s):
    return dkl[:, None] * 0.5 * (np.exp(s) - 1)


errors = check_gradients(lambda: wrong_kl(mu, logsigma), {"s": logsigma},
                         {"s": wrong_kl_grad_s(dkl, logsigma)}, dkl)
wrong = wrong_kl(one_mu, one_logsigma)[0]
print(f"  gradient check of the wrong KL: {show(errors)}   (passes!)")
print(f"  wrong KL {wrong:.4f} vs Monte Carlo {mc:.4f}: off by {abs(wrong - mc) / stderr:.0f} "
      f"standard errors")
assert errors["s"] < 1e-7 and abs(wrong - mc) > 10 * stderr

counts = np.unique(np.geomspace(10, many, 60).astype(int))
running = np.cumsum(log_ratio)[counts - 1] / counts
fig, ax = plt.subplots(figsize=(6.5, 3.8))
ax.semilogx(counts, running, label="Monte Carlo: mean of log Q(z) - log P(z)")
ax.axhline(closed, color="C2", label="closed form, eq. 11 (log sigma used correctly)")
ax.axhline(wrong, color="C3", linestyle="--", label="log sigma treated as log sigma^2 (the bug)")
ax.set_xlabel("number of samples")
ax.set_ylabel("KL estimate (nats)")
ax.set_title("the sampler and the KL must agree on what sigma is")
ax.legend(fontsize=8)
lesson.save(fig, "06_kl_monte_carlo.png")

lesson.done()
