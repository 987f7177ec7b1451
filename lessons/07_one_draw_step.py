# %% [markdown]
# # Lesson 7: one DRAW step, forward and backward, from the pieces of lessons 3-6
#
# What you will learn:
#
# * the state one step hands to the next: canvas $c$, and the hidden and cell states of the
#   encoder and decoder LSTMs; where it starts (learned $c_0$, $h_0$);
# * the seven lines of a step (spec eqs. 3-8): error image, read, encode, sample, decode, write;
#   written with the library's layers and asserted equal to `model.step`;
# * **the step's backward pass, derived**: the canvas gradient through eq. 8, the $\sigma'$ of
#   eq. 3, the split of the encoder input's gradient, and the three paths into $h^{dec}_{t-1}$;
#   asserted equal, for a one-step model, to `DRAW.loss_and_grads` in float64;
# * that $T$ steps plus the loss of eqs. 9-11 are what `draw_np.model.DRAW` computes;
# * what a trained model reads and writes at each step.
#
# We use the small trained model bundled with draw_np (the `quick` preset), in float64, so
# that the pictures mean something; lesson 9 shows how such a model is trained. The step and
# its backward pass live in `lessons/by_hand.py`, so that lesson 8 can unroll them; this
# lesson shows their code.

# %%
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from draw_np.activations import sigmoid
from draw_np.backend import Random
from draw_np.bernoulli import bernoulli_nll_backward, bernoulli_nll_forward
from draw_np.checkpoint import load_model
from draw_np.model import DRAW, State
from draw_np.plot import READ_COLOUR, WRITE_COLOUR, glimpse_box
import by_hand
from _common import CHECKPOINT_PATH, Lesson, load_sample_digits

lesson = Lesson("Lesson 7: one DRAW step, forward and backward")

# %% [markdown]
# ## 1. The model and its starting state
#
# `draw_np.checkpoint.load_model` reads a checkpoint into a `DRAW` object: `model.config`
# (the sizes), `model.params` (a flat dict name → array, the spec's names). The state of step
# $t$ is `State(canvas, h_enc, cell_enc, h_dec, cell_dec)`. At $t = 0$ the canvas $c_0$ and the
# hidden states $h^{enc}_0$, $h^{dec}_0$ are learned parameters shared by the whole batch; the
# LSTM cells start at zero.

# %%
lesson.step("The model and its starting state")
model = load_model(CHECKPOINT_PATH, dtype="float64")
c, p = model.config, model.params
print(f"  {CHECKPOINT_PATH.name}: {c}")
assert c.attention, "this lesson walks the attention model"
x = load_sample_digits()[0][:3].astype(np.float64)
n = len(x)
start = State(np.broadcast_to(p["c0"], (n, c.H, c.W)),
              np.broadcast_to(p["h0_enc"], (n, c.enc_size)), np.zeros((n, c.enc_size)),
              np.broadcast_to(p["h0_dec"], (n, c.dec_size)), np.zeros((n, c.dec_size)))
for name, ours, theirs in zip(State._fields, start, model.initial_state(n)):
    assert np.array_equal(ours, theirs), name
    print(f"  {name:9s} {ours.shape}")
eps = Random(0).normal((c.T, n, c.z_size), "float64")   # the noise of eq. 6, for every step

# %% [markdown]
# ## 2. One step by hand (eqs. 3-8)
#
# $$\begin{aligned}
# \hat x_t &= x - \sigma(c_{t-1}) && (3)\ \text{what is still missing}\\
# r_t &= \text{read}(x, \hat x_t, h^{dec}_{t-1})
#   && (4)\ \text{two } N \times N \text{ patches (27)}\\
# h^{enc}_t &= \text{LSTM}^{enc}(h^{enc}_{t-1}, [r_t, h^{dec}_{t-1}]) && (5)\\
# \mu_t = h^{enc}_t W_\mu + b_\mu, &\quad \log\sigma_t = h^{enc}_t W_\sigma + b_\sigma && (1, 2)\\
# z_t &= \mu_t + \sigma_t \odot \epsilon_t && (6)\\
# h^{dec}_t &= \text{LSTM}^{dec}(h^{dec}_{t-1}, z_t) && (7)\\
# c_t &= c_{t-1} + \text{write}(h^{dec}_t) && (8)\ \text{an } N \times N \text{ patch (29)}
# \end{aligned}$$
#
# The read is steered by the *previous* decoder state: the decoder decides where to look
# next. The read and write heads (`draw_np.heads`) bundle lesson 4's attention with lesson 5's
# products; lesson 13 opens them up. Here is the step, line for line; we compare it with
# `model.step` for all five state arrays and the KL.

# %%
lesson.step("One step by hand (eqs. 3-8)")
lesson.code(by_hand.step_forward)
state, kl, caches = by_hand.step_forward(p, c, x, start, eps[0])
library_state, library_kl, _ = model.step(x, model.initial_state(n), eps[0])
for name, ours, theirs in zip(State._fields, state, library_state):
    assert np.allclose(ours, theirs, rtol=1e-12, atol=1e-12), name
assert np.allclose(kl, library_kl)
print("  by hand == model.step for all five state arrays and the step's KL: OK")

# %% [markdown]
# ## 3. The step's backward pass, derived
#
# The step maps the state $s_{t-1}$ (and $x$, $\epsilon_t$) to $s_t$ and $\text{KL}_t$. Its backward
# pass takes $\bar s_t = \partial L / \partial s_t$ (from everything after step $t$) and
# $\overline{\text{KL}}_t$, and returns $\bar s_{t-1}$, adding the step's weight gradients on the
# way. Undo the lines in reverse order:
#
# * **(8)** $c_t = c_{t-1} + \text{write}(h^{dec}_t)$: $\bar c_t$ passes to $c_{t-1}$ unchanged, and
#   into the write head, which returns $\bar h^{dec}_t$ (through the patch *and* the glimpse).
#   $h^{dec}_t$ also receives $\bar h^{dec}_t$ from step $t+1$: the two add.
# * **(7)** the decoder LSTM (lesson 3) gives $\bar z_t$, $\bar c^{dec}_{t-1}$, and the
#   **first path** into $h^{dec}_{t-1}$.
# * **(6) and (11)**: $z = \mu + \sigma\epsilon$ gives $\bar\mu = \bar z$ and
#   $\overline{\log\sigma} = \bar z \odot \sigma\epsilon$; the KL depends on the same $\mu$,
#   $\log\sigma$, so its gradients ($\mu$ and $\sigma^2 - 1$, times $\overline{\text{KL}}$) add
#   to them.
# * **(1, 2)** two affine maps of $h^{enc}_t$: their input gradients add, with what step $t+1$ sent.
# * **(5)** the encoder LSTM's input was the concatenation $[r_t, h^{dec}_{t-1}]$, so its gradient
#   **splits**: the first `read_size` columns are $\bar r_t$, the rest the **second path** into
#   $h^{dec}_{t-1}$.
# * **(4)** the read head gives $\bar{\hat x}_t$ (not $\bar x$: $x$ is data) and, because
#   $h^{dec}_{t-1}$ placed the glimpse, the **third path** into $h^{dec}_{t-1}$.
# * **(3)** $\hat x_t = x - \sigma(c_{t-1})$, with $\sigma' = \sigma(1 - \sigma)$:
#   $\bar c_{t-1} = \bar c_t - \bar{\hat x}_t \odot \sigma(c_{t-1})(1 - \sigma(c_{t-1}))$.
#
# So $\bar h^{dec}_{t-1}$ is the sum of three paths: through the decoder's recurrence, through
# the encoder's input, and through the read glimpse.

# %%
lesson.step("The step's backward pass, derived")
lesson.code(by_hand.step_backward)

# %% [markdown]
# ## 4. Checked against the library: a one-step DRAW
#
# The library's backward pass is `DRAW.loss_and_grads`. For a model with $T = 1$ it is
# exactly one step's backward pass, between two ends we add by hand:
#
# * the start: $L$ is the batch mean of $L^x + \text{KL}_1$, so $\overline{\text{KL}}_1 = 1/n$ and,
#   from the Bernoulli NLL of eq. 9, $\bar c_1 = (\sigma(c_1) - x)/n$; nothing comes after the
#   step, so the other parts of $\bar s_1$ are zero;
# * the end: $c_0$, $h^{enc}_0$, $h^{dec}_0$ are shared by the batch, so their gradients are
#   sums over the examples.
#
# The trained weights with $T = 1$ draw badly, but the gradients must still agree, to the
# last digits of float64.

# %%
lesson.step("Checked against the library: a one-step DRAW")
one_step = DRAW(replace(c, T=1), dtype="float64")
one_step.params = p
_, nll_cache = bernoulli_nll_forward(state.canvas, x)
dmean = np.full(n, 1.0 / n)                                            # L = mean over the batch
dcanvas = dmean[:, None, None] * (sigmoid(state.canvas) - x)          # (9): d(softplus(c) − x c)
assert np.allclose(dcanvas, bernoulli_nll_backward(dmean, nll_cache)[0])
d = State(dcanvas, *(np.zeros_like(a) for a in state[1:]))
grads = {name: np.zeros_like(value) for name, value in p.items()}
d_start, paths = by_hand.step_backward(d, dmean, caches, grads)
for name, d_initial in (("c0", d_start.canvas), ("h0_enc", d_start.h_enc),
                        ("h0_dec", d_start.h_dec)):
    grads[name] = grads[name] + d_initial.sum(axis=0)
loss, library = one_step.loss_and_grads(x, eps[:1])
for name in p:
    assert np.allclose(grads[name], library[name], rtol=1e-10, atol=1e-13), name
print(f"  by hand == loss_and_grads of the one-step model, all {len(library)} gradients: OK")
print("  the three paths into h^dec_0 (mean |gradient|):")
for name, path in paths._asdict().items():
    print(f"    through the {name:8s} {np.abs(path).mean():.2e}")
assert all(np.abs(path).max() > 0 for path in paths)

# %% [markdown]
# ## 5. T steps and the loss (eqs. 9-12)
#
# Run the step $T$ times, then score the final canvas. $c_T$ holds logits; the pixel
# probabilities are $\sigma(c_T)$, and
#
# $$L^x = \sum_{\text{pixels}} \text{softplus}(c_T) - x\,c_T \tag{9}$$
#
# $$L^z = \sum_t \text{KL}_t \tag{10, 11}$$
#
# $$L = L^x + L^z \tag{12}$$
#
# in nats per image, an upper bound on $-\log p(x)$. `model.loss_terms(x, eps)` does all of
# this; we check our loop against it. Lesson 8 runs the backward pass through all $T$ steps.

# %%
lesson.step("T steps and the loss (eqs. 9-12)")
state, kls, all_caches = start, [], []
for t in range(c.T):
    state, kl, step_caches = by_hand.step_forward(p, c, x, state, eps[t])
    kls.append(kl)
    all_caches.append(step_caches)
Lx, _ = bernoulli_nll_forward(state.canvas, x)
Lz = np.sum(kls, axis=0)
terms = model.loss_terms(x, eps)
assert np.allclose(Lx, terms.Lx) and np.allclose(Lz, terms.Lz)
print(f"  L^x = {np.round(Lx, 1)}, L^z = {np.round(Lz, 1)}, L = {np.round(Lx + Lz, 1)} nats")
print(f"  (an untrained model: about 784 log 2 = {784 * np.log(2):.0f} nats, a coin per pixel)")
print("\n   t   read centre  stride   write centre  stride    KL_t (first digit)")
for t, step_caches in enumerate(all_caches, 1):
    rd, wr = step_caches.read.glimpse.params, step_caches.write.glimpse.params
    print(f"  {t:2d}   ({rd.gx[0]:4.1f},{rd.gy[0]:5.1f})  {rd.delta[0]:5.2f}   "
          f"({wr.gx[0]:4.1f},{wr.gy[0]:5.1f})  {wr.delta[0]:5.2f}   {kls[t - 1][0]:6.2f}")

# %% [markdown]
# ## 6. What the model looks at and draws
#
# Top row: the error image $\hat x_t$ that step $t$ reads (red = ink still missing, blue = ink
# that should not be there), with the read glimpse (green box). Bottom row: the canvas
# $\sigma(c_t)$ after the step, with the write glimpse (red box). A box is $N\delta$ pixels wide
# around the grid centre $g$ (`draw_np.plot.glimpse_box`).

# %%
lesson.step("What the model looks at and draws")


def box(ax, params, t, N, colour):
    b = glimpse_box(params.gx[t, 0], params.gy[t, 0], params.delta[t, 0], N)
    ax.add_patch(Rectangle((b.x, b.y), b.width, b.height, fill=False, color=colour, linewidth=1.5))


drawing = model.reconstruct(x, eps)
assert np.allclose(drawing.canvases[-1], sigmoid(state.canvas))
fig, axes = plt.subplots(2, c.T, figsize=(1.3 * c.T, 3.0), squeeze=False)
for t in range(c.T):
    previous = sigmoid(start.canvas) if t == 0 else drawing.canvases[t - 1]
    axes[0, t].imshow((x - previous)[0], cmap="RdBu_r", vmin=-1, vmax=1)
    box(axes[0, t], drawing.read_attention, t, c.read_n, READ_COLOUR)
    axes[1, t].imshow(drawing.canvases[t, 0], cmap="gray_r", vmin=0, vmax=1)
    box(axes[1, t], drawing.write_attention, t, c.write_n, WRITE_COLOUR)
    axes[0, t].set_title(f"t = {t + 1}", fontsize=9)
for ax in axes.flat:
    ax.set(xlim=(-0.5, c.W - 0.5), ylim=(c.H - 0.5, -0.5), xticks=[], yticks=[])
axes[0, 0].set_ylabel("error image\n+ read", fontsize=8)
axes[1, 0].set_ylabel("canvas\n+ write", fontsize=8)
lesson.save(fig, "07_draw_steps.png")

lesson.done()
