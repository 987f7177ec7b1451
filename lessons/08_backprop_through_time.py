# %% [markdown]
# # Lesson 8: backprop through time. The gradient of the whole unrolled DRAW, and its checks
#
# What you will learn:
#   * how the backward pass walks the T step caches from t = T down to 1, each step undoing
#     eqs. 8, 7, 6, 2-1, 5, 4, 3 in that order (model.step_backward);
#   * where the gradient starts (dL^x/dc_T, eq. 9), what one step hands to the step before it
#     (the gradient of its starting State), and why weight gradients are sums over steps;
#   * how to check all of it against finite differences: element by element for a few
#     parameters, and all parameters at once with a random directional derivative.

# %%
import matplotlib.pyplot as plt
import numpy as np

from draw_np.backend import Random
from draw_np.bernoulli import bernoulli_nll_backward, bernoulli_nll_forward
from draw_np.gradcheck import check_gradients, directional_check
from draw_np.model import DRAW, DRAWConfig, GradientSums, State
from _common import Lesson

lesson = Lesson("Lesson 8: backprop through time")

# %% [markdown]
# ## A tiny model with every parameter randomised
#
# Gradient checks need float64, a model small enough to perturb element by element, and
# sides that all differ (7 x 6 images, LSTMs of 5 and 4, z of 2) so a transposed gradient
# cannot fit. Every parameter is randomised, biases and c_0 too: a zero bias would hide a
# bug in its own gradient.

# %%
lesson.step("A tiny model with every parameter randomised")
config = DRAWConfig(H=7, W=6, T=3, enc_size=5, dec_size=4, z_size=2, read_n=2, write_n=3)
model = DRAW(config, seed=0, dtype="float64")
rng = Random(1)
for name, value in model.params.items():
    model.params[name] = 0.5 * rng.normal(value.shape, "float64")
n = 2
x = (rng.uniform((n, config.H, config.W), "float64") < 0.4).astype(np.float64)
eps = rng.normal((config.T, n, config.z_size), "float64")
print(f"  {config}")
print(f"  {sum(v.size for v in model.params.values())} parameters in {len(model.params)} arrays")

# %% [markdown]
# ## Walk the steps backwards by hand
#
# The loss is the batch mean of L = L^x + sum_t KL_t. Backward:
#   1. dL/dc_T = (sigmoid(c_T) - x) / n from the Bernoulli NLL (eq. 9); nothing comes after
#      step T, so the other parts of the state gradient start at zero;
#   2. for t = T..1: d = model.step_backward(d, dKL_t = 1/n, cache_t, grads). It takes
#      dL/d(state_t) and returns dL/d(state_{t-1}), adding the step's weight gradients to
#      grads (the same weights are used at every step, so their gradients add up);
#   3. the initial state is shared by the batch: dc_0 = sum over examples of dL/dc_0.
# We do this with the model's own pieces and compare with model.loss_and_grads.

# %%
lesson.step("Walk the steps backwards by hand")
state, caches = model.initial_state(n), []
for t in range(config.T):
    state, kl, cache = model.step(x, state, eps[t])
    caches.append(cache)
_, nll_cache = bernoulli_nll_forward(state.canvas, x)
dmean = np.full(n, 1.0 / n)                                     # L = mean over the batch
dcanvas, _ = bernoulli_nll_backward(dmean, nll_cache)           # (9)
zeros = lambda size: np.zeros((n, size))
d = State(dcanvas, zeros(config.enc_size), zeros(config.enc_size),
          zeros(config.dec_size), zeros(config.dec_size))
grads = GradientSums(model.params)
norms = []
for t in reversed(range(config.T)):
    d = model.step_backward(d, dmean, caches[t], grads)         # now dL/d(state_{t})
    norms.append((t, np.abs(d.canvas).mean(), np.abs(d.h_dec).mean()))
    print(f"  after undoing step {t + 1}: mean |dL/dc_{t}| = {norms[-1][1]:.5f}, "
          f"mean |dL/dh^dec_{t}| = {norms[-1][2]:.5f}")
grads.add_one("c0", d.canvas.sum(axis=0))
grads.add_one("h0_enc", d.h_enc.sum(axis=0))
grads.add_one("h0_dec", d.h_dec.sum(axis=0))
by_hand = grads.result()

loss, library = model.loss_and_grads(x, eps)
for name in model.params:
    assert np.allclose(by_hand[name], library[name], rtol=1e-12, atol=1e-14), name
print(f"  loss {loss:.3f} nats; by hand == model.loss_and_grads, all {len(library)} gradients: OK")

# %% [markdown]
# ## Element by element: central differences on the whole model
#
# Now the real test. For a parameter array, nudge each element by +-1e-6, recompute the
# loss from scratch (all T steps), and compare the slope with the backward pass. The loss is
# a scalar, so dout = 1. For the whole unrolled model the threshold is 1e-5 (errors add up
# over T steps and many ops), against 1e-7 for one op.

# %%
lesson.step("Element by element: central differences on the whole model")
names = (["c0", "h0_dec", "read_attn.W", "write_attn.b", "logsigma.b", "dec.b"] if lesson.fast
         else list(model.params))


def loss_fn():
    terms = model.loss_terms(x, eps)       # reads model.params, which the checker perturbs
    return float((terms.Lx + terms.Lz).mean())


errors = check_gradients(loss_fn, {k: model.params[k] for k in names},
                         {k: library[k] for k in names}, 1.0)
for name, err in errors.items():
    print(f"  {name:13s} {model.params[name].size:4d} elements   relative error {err:.1e}")
assert max(errors.values()) < 1e-5

# %% [markdown]
# ## All parameters at once: a random directional derivative
#
# Element-wise checks cost two forward passes per element, too many for a real model. Pick
# one random direction v through ALL parameters instead: the slope of the loss along v,
# (L(theta + h v) - L(theta - h v)) / 2h, must equal sum(grad * v). Two forward passes check
# every gradient at once; a wrong one would have to be orthogonal to a random v to hide.

# %%
lesson.step("All parameters at once: a random directional derivative")
err = directional_check(loss_fn, model.params, library, Random(2))
print(f"  directional derivative, all {len(library)} arrays: relative error {err:.1e}")
assert err < 1e-5

ts, canvas_norm, h_dec_norm = zip(*norms)
fig, ax = plt.subplots(figsize=(5.5, 3.5))
ax.plot(ts, canvas_norm, "o-", label="mean |dL/dc_t| (canvas)")
ax.plot(ts, h_dec_norm, "s-", label="mean |dL/dh^dec_t| (decoder state)")
ax.set_xticks(ts)
ax.set_xlabel("t (the gradient flows from t = T back to t = 0)")
ax.set_title("gradients arriving at each step's starting state")
ax.legend(fontsize=8)
lesson.save(fig, "08_gradient_through_time.png")

lesson.done()
