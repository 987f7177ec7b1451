# %% [markdown]
# # Lesson 8: backprop through time, assembled from lesson 7's steps
#
# What you will learn:
#
# * how the backward pass walks the $T$ steps from $t = T$ down to 1, each step undoing
#   eqs. 8, 7, 6, 2-1, 5, 4, 3 in that order (lesson 7's `step_backward`);
# * where the gradient starts ($\partial L^x / \partial c_T$, eq. 9), what one step hands to the
#   step before it (the gradient of its starting state), and why weight gradients are sums
#   over steps;
# * **the whole backward pass assembled by hand** from those steps and asserted equal to
#   `DRAW.loss_and_grads` in float64: with attention, without, and with C = 3 channels;
# * how to check all of it against finite differences: element by element for a few
#   parameters, and all parameters at once with a random directional derivative.

# %%
import matplotlib.pyplot as plt
import numpy as np

from draw_np.backend import Random
from draw_np.bernoulli import bernoulli_nll_backward, bernoulli_nll_forward
from draw_np.gradcheck import check_gradients, directional_check
from draw_np.model import DRAW, DRAWConfig, State
import by_hand
from _common import Lesson

lesson = Lesson("Lesson 8: backprop through time")

# %% [markdown]
# ## 1. A tiny model with every parameter randomised
#
# Gradient checks need float64, a model small enough to perturb element by element, and
# sides that all differ ($7 \times 6$ images, LSTMs of 5 and 4, $z$ of 2) so a transposed
# gradient cannot fit. Every parameter is randomised, biases and $c_0$ too: a zero bias would
# hide a bug in its own gradient.

# %%
lesson.step("A tiny model with every parameter randomised")


def tiny_model(**changes):
    """A float64 DRAW of sides that all differ, every parameter random; a batch and its noise."""
    config = DRAWConfig(H=7, W=6, T=3, enc_size=5, dec_size=4, z_size=2, read_n=2, write_n=3,
                        **changes)
    model = DRAW(config, seed=0, dtype="float64")
    rng = Random(1)
    for name, value in model.params.items():
        model.params[name] = 0.5 * rng.normal(value.shape, "float64")
    x = (rng.uniform((2,) + config.canvas_shape, "float64") < 0.4).astype(np.float64)
    return model, x, rng.normal((config.T, len(x), config.z_size), "float64")


model, x, eps = tiny_model()
config, n = model.config, len(x)
print(f"  {config}")
print(f"  {sum(v.size for v in model.params.values())} parameters in {len(model.params)} arrays")

# %% [markdown]
# ## 2. Backprop through time, by hand
#
# The loss is the batch mean of $L = L^x + \sum_t \text{KL}_t$. Forward, keep every step's
# caches. Backward:
#
# 1. $\bar c_T = (\sigma(c_T) - x)/n$ from the Bernoulli NLL (eq. 9); nothing comes after step
#    $T$, so the other parts of $\bar s_T$ start at zero;
# 2. for $t = T, \dots, 1$: $\bar s_{t-1}$ = `step_backward`($\bar s_t$, $\overline{\text{KL}}_t = 1/n$,
#    caches$_t$), which also **adds** the step's weight gradients: the same weights serve every
#    step, so their gradient is the sum of every step's;
# 3. the initial state is shared by the batch: $\bar c_0 = \sum_{\text{examples}} \bar c_0$, and the
#    same for $h^{enc}_0$, $h^{dec}_0$.
#
# The cell state's gradient $\bar c^{enc}$, $\bar c^{dec}$ flows from step to step as well (lesson 3:
# multiplied by the forget gate each step), and so do the three paths into $h^{dec}$.

# %%
lesson.step("Backprop through time, by hand")


def loss_and_grads_by_hand(model, x, eps, norms=None):
    """The batch mean of L^x + L^z and its gradient for every parameter, from lesson 7's steps.

    If ``norms`` is a list, (t, mean |dL/dc_t|, mean |dL/dh^dec_t|) is appended for each step.
    """
    p, c, n = model.params, model.config, len(x)
    state = State(np.broadcast_to(p["c0"], (n,) + p["c0"].shape),
                  np.broadcast_to(p["h0_enc"], (n, c.enc_size)), np.zeros((n, c.enc_size)),
                  np.broadcast_to(p["h0_dec"], (n, c.dec_size)), np.zeros((n, c.dec_size)))
    kls, caches = [], []
    for t in range(c.T):                                           # forward, keeping the caches
        state, kl, step_caches = by_hand.step_forward(p, c, x, state, eps[t])
        kls.append(kl)
        caches.append(step_caches)
    Lx, nll_cache = bernoulli_nll_forward(state.canvas, x)
    dmean = np.full(n, 1.0 / n)                                    # L = mean over the batch
    dcanvas, _ = bernoulli_nll_backward(dmean, nll_cache)          # 1. (9)
    d = State(dcanvas, *(np.zeros_like(a) for a in state[1:]))
    grads = {name: np.zeros_like(value) for name, value in p.items()}
    for t in reversed(range(c.T)):                                 # 2. t = T..1
        d, _ = by_hand.step_backward(d, dmean, caches[t], grads)   # now dL/d(state_t)
        if norms is not None:
            norms.append((t, np.abs(d.canvas).mean(), np.abs(d.h_dec).mean()))
    for name, d_initial in (("c0", d.canvas), ("h0_enc", d.h_enc), ("h0_dec", d.h_dec)):
        grads[name] = grads[name] + d_initial.sum(axis=0)          # 3.
    return float((Lx + np.sum(kls, axis=0)).mean()), grads


norms = []
loss_by_hand, by_hand_grads = loss_and_grads_by_hand(model, x, eps, norms)
for t, canvas_norm, h_dec_norm in norms:
    print(f"  after undoing step {t + 1}: mean |dL/dc_{t}| = {canvas_norm:.5f}, "
          f"mean |dL/dh^dec_{t}| = {h_dec_norm:.5f}")
loss, library = model.loss_and_grads(x, eps)
assert np.isclose(loss, loss_by_hand, rtol=1e-12)
for name in model.params:
    assert np.allclose(by_hand_grads[name], library[name], rtol=1e-10, atol=1e-13), name
print(f"  loss {loss:.3f} nats; by hand == model.loss_and_grads, all {len(library)} gradients: OK")

# %% [markdown]
# The same by-hand backward pass serves a DRAW without attention (the heads of eqs. 17-18)
# and one of colour images ($C = 3$: lesson 5's channels), because it is written only with
# the layers' own backward passes.

# %%
for changes in ({"attention": False}, {"channels": 3}):
    other, x_other, eps_other = tiny_model(**changes)
    _, ours = loss_and_grads_by_hand(other, x_other, eps_other)
    _, theirs = other.loss_and_grads(x_other, eps_other)
    assert all(np.allclose(ours[k], theirs[k], rtol=1e-10, atol=1e-13) for k in theirs), changes
    print(f"  {changes}: by hand == loss_and_grads, all {len(theirs)} gradients: OK")

# %% [markdown]
# ## 3. Element by element: central differences on the whole model
#
# Now the independent test. For a parameter array, nudge each element by $\pm 10^{-6}$,
# recompute the loss from scratch (all $T$ steps), and compare the slope with the backward
# pass. The loss is a scalar, so $\bar L = 1$. For the whole unrolled model the threshold is
# $10^{-5}$ (errors add up over $T$ steps and many ops), against $10^{-7}$ for one op.

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
# ## 4. All parameters at once: a random directional derivative
#
# Element-wise checks cost two forward passes per element, too many for a real model. Pick
# one random direction $v$ through *all* parameters instead: the slope of the loss along $v$,
# $(L(\theta + hv) - L(\theta - hv))/2h$, must equal $\sum \bar\theta \odot v$. Two forward passes
# check every gradient at once; a wrong one would have to be orthogonal to a random $v$ to
# hide.

# %%
lesson.step("All parameters at once: a random directional derivative")
err = directional_check(loss_fn, model.params, library, Random(2))
print(f"  directional derivative, all {len(library)} arrays: relative error {err:.1e}")
assert err < 1e-5

ts, canvas_norm, h_dec_norm = zip(*norms)
fig, ax = plt.subplots(figsize=(5.5, 3.5))
ax.plot(ts, canvas_norm, "o-", label=r"mean $|\bar c_t|$ (canvas)")
ax.plot(ts, h_dec_norm, "s-", label=r"mean $|\bar h^{dec}_t|$ (decoder state)")
ax.set_xticks(ts)
ax.set_xlabel("t (the gradient flows from t = T back to t = 0)")
ax.set_title("gradients arriving at each step's starting state")
ax.legend(fontsize=8)
lesson.save(fig, "08_gradient_through_time.png")

lesson.done()
