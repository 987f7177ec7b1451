"""Lesson 12: attention for classification. Finding a digit in clutter, and backprop through it.

What you will learn:
  * cluttered MNIST (the paper's Table 1 task): a digit and eight 8 x 8 crops of others on a
    100 x 100 canvas;
  * the attention classifier ("differentiable RAM", paper section 4.1): DRAW's read head
    steered by one LSTM, and a softmax layer on its last state; built by hand from the layers;
  * its backprop through time, derived step by step from the layers' own backward passes, and
    checked against `AttentionClassifier.loss_and_grads` and against finite differences;
  * a short training run, and the glimpses of the trained model.

Run:  python lessons/12_attention_classifier.py [--pause] [--fast] [--out DIR] [--show]
"""
# %% [markdown]
# # Lesson 12: attention for classification
#
# DRAW's read attention is differentiable: the five numbers that place a glimpse (eq. 21) come
# out of a linear map of a hidden state, and the patch it reads is a smooth function of them
# (eqs. 19-27). So a network that *decides where to look* can be trained end to end by plain
# backprop, with no reinforcement learning. The paper's first experiment shows it: a recurrent
# network finds a digit in a 100 x 100 image full of clutter by moving a 12 x 12 glimpse, and
# reaches 3.36 % test error with 8 glimpses (Table 1).
#
# The model, for glimpses $t = 1..T$, with a learned $h_0$ and the cell starting at zero:
#
# $$\big(\tilde g_X, \tilde g_Y, \log\sigma^2, \log\tilde\delta, \log\gamma\big) = h_{t-1} W_a + b_a
#   \qquad\text{(eqs. 21-24)}$$
# $$r_t = \gamma\,\big[F_Y\, x^{(1)} F_X^\top, \dots, F_Y\, x^{(C)} F_X^\top\big]
#   \qquad\text{(eq. 27)}$$
# $$h_t = \mathrm{LSTM}(h_{t-1}, r_t), \qquad a = h_T W_o + b_o, \qquad
#   L = \frac{1}{n}\sum_{\text{examples}} -\log \mathrm{softmax}(a)_y$$

# %%
import matplotlib.pyplot as plt
import numpy as np

from draw_np.backend import Random
from draw_np.classifier import AttentionClassifier, ClassifierConfig
from draw_np.data.cluttered import draw_placements, render
from draw_np.gradcheck import directional_check
from draw_np.heads import read_head_backward, read_head_forward
from draw_np.linear import linear_backward, linear_forward
from draw_np.lstm import lstm_backward, lstm_forward
from draw_np.optim import Adam, clip_by_global_norm
from draw_np.plot import choose_examples, plot_classifier_glimpses
from draw_np.softmax import softmax_cross_entropy_backward, softmax_cross_entropy_forward
from _common import Lesson, load_sample_digits

lesson = Lesson(__doc__)

# %% [markdown]
# ## Cluttered images
#
# The recipe of DeepMind's `mnist-cluttered` (spec, "Cluttered MNIST"): a canvas of zeros;
# eight distractors, each an 8 x 8 crop of a random digit at a random offset, added at random
# positions; then the target digit added at a random position; the sum clipped to $[0, 1]$.
# `draw_np.data.cluttered` makes the real data set from MNIST; here we make a few images from
# the 100 digits bundled with draw_np, with the same two functions: `draw_placements` (where
# every piece goes) and `render` (the clipped sum).

# %%
lesson.step("Cluttered images from the bundled digits")
digits, digit_labels = load_sample_digits()
digit_bytes = (digits * 255).astype(np.uint8)          # the sample is binarised: 0 or 255
rng = np.random.default_rng(0)


def cluttered_batch(n, rng):
    """n cluttered images of random bundled digits, and their labels."""
    targets = rng.integers(0, len(digits), n)
    return (render(digit_bytes, targets, draw_placements(rng, n, len(digits))),
            digit_labels[targets])


x_show, y_show = cluttered_batch(4, rng)
print(f"  images {x_show.shape}, values in [{x_show.min()}, {x_show.max()}], labels {y_show}")

# %% [markdown]
# ## The forward pass, by hand
#
# Each line of the model is a layer with a forward and a backward function: the read head of
# `draw_np.heads` (it places the glimpse from $h_{t-1}$ and reads), `lstm_forward`, the
# linear map and the softmax cross-entropy. A small model in float64, every parameter random
# (a zero bias would hide a bug in its own gradient), so the checks below mean something.

# %%
lesson.step("The forward pass from the layers")
config = ClassifierConfig(H=100, W=100, T=3, size=6 if lesson.fast else 16, read_n=5, classes=10)
model = AttentionClassifier(config, seed=0, dtype="float64")
param_rng = Random(1)
for name, value in model.params.items():
    model.params[name] = 0.3 * param_rng.normal(value.shape, "float64")
p = model.params
x, labels = x_show.astype(np.float64), y_show
n = len(x)

h, cell = np.zeros((n, config.size)) + p["h0"], np.zeros((n, config.size))
steps = []
for t in range(config.T):
    r, read_cache = read_head_forward(p, "read", h, (x,), config.read_n)      # r_t from h_{t-1}
    (h, cell), lstm_cache = lstm_forward(r, h, cell, p["lstm.W"], p["lstm.b"])  # h_t
    steps.append((read_cache, lstm_cache))
logits, out_cache = linear_forward(h, p["out.W"], p["out.b"])                  # a = h_T W_o + b_o
losses, softmax_cache = softmax_cross_entropy_forward(logits, labels)
loss = losses.mean()
library_loss, library = model.loss_and_grads(x, labels)
assert np.isclose(loss, library_loss, rtol=1e-12)
print(f"  loss by hand {loss:.6f} nats == AttentionClassifier.loss_and_grads: OK")

# %% [markdown]
# ## Backprop through time
#
# Walk the forward pass backwards, undoing one line at a time.
#
# **The loss.** With $p = \mathrm{softmax}(a)$, the gradient of $-\log p_y$ is
# $\partial \ell / \partial a = p - \mathrm{onehot}(y)$; the mean over the batch divides it by
# $n$.
#
# **The output layer** $a = h_T W_o + b_o$:
# $\;\partial L/\partial h_T = \delta_a W_o^\top$, $\;\partial L/\partial W_o = h_T^\top \delta_a$,
# $\;\partial L/\partial b_o = \sum \delta_a$. Nothing comes after step $T$, so
# $\partial L/\partial \mathrm{cell}_T = 0$.
#
# **Each step, $t = T$ down to 1.** $h_t = \mathrm{LSTM}(h_{t-1}, r_t)$ hands back three
# gradients: $\partial L/\partial r_t$, $\partial L/\partial \mathrm{cell}_{t-1}$ and a first
# part of $\partial L/\partial h_{t-1}$ (the LSTM's own recurrence). Then
# $r_t = \mathrm{read}(x, h_{t-1})$: the image is data and needs no gradient, but *where* the
# glimpse looked depends on $h_{t-1}$, so the read head hands back a second part of
# $\partial L/\partial h_{t-1}$, through eqs. 27, 25-26, 19-20 and 21-24:
#
# $$\frac{\partial L}{\partial h_{t-1}} =
#   \underbrace{\frac{\partial L}{\partial h_t}\frac{\partial h_t}{\partial h_{t-1}}}_{\text{LSTM}}
# + \underbrace{\frac{\partial L}{\partial r_t}\frac{\partial r_t}{\partial h_{t-1}}}_{\text{where to look}}$$
#
# The weights $W$, $b$ of the LSTM and $W_a$, $b_a$ of the read head are used at every step, so
# their gradients are sums over the steps. Finally $h_0$ is shared by the whole batch:
# $\partial L/\partial h_0 = \sum_{\text{examples}} \partial L/\partial h_0$.

# %%
lesson.step("Backprop through time, by hand")
grads = {name: np.zeros_like(value) for name, value in p.items()}
onehot = np.eye(config.classes)[labels]
dlogits = (softmax_cache.probs - onehot) / n                   # dℓ/da = (p − onehot(y)) / n
assert np.allclose(dlogits, softmax_cross_entropy_backward(np.full(n, 1.0 / n), softmax_cache))
dh, grads["out.W"], grads["out.b"] = linear_backward(dlogits, out_cache)
dcell = np.zeros_like(dh)
arriving = []
for t in reversed(range(config.T)):
    read_cache, lstm_cache = steps[t]
    lstm = lstm_backward(dh, dcell, lstm_cache)
    grads["lstm.W"] += lstm.dW
    grads["lstm.b"] += lstm.db
    read = read_head_backward(lstm.dx, read_cache, wrt=(False,))
    for name, grad in read.params.items():
        grads[name] += grad
    arriving.append((t, np.abs(lstm.dh_prev).mean(), np.abs(read.dh).mean()))
    dh, dcell = lstm.dh_prev + read.dh, lstm.dcell_prev                         # dL/dh_{t-1}
grads["h0"] = dh.sum(axis=0)
for name in p:
    assert np.allclose(grads[name], library[name], rtol=1e-10, atol=1e-14), name
print(f"  by hand == AttentionClassifier.loss_and_grads, all {len(p)} gradients: OK")

# %% [markdown]
# Agreement with the library shows the lesson and the library compose the layers the same way.
# That both are *right* is a separate claim, checked independently: the slope of the loss along
# one random direction through every parameter, measured by central differences, must equal
# $\sum \nabla L \odot v$ (lesson 8's directional check; the test suite also compares with an
# independent PyTorch implementation).

# %%
lesson.step("An independent check: the directional derivative")
err = directional_check(lambda: model.loss_and_grads(x, labels)[0], model.params, grads, Random(2))
print(f"  directional derivative over all {len(p)} arrays: relative error {err:.1e}")
assert err < 1e-6

ts, through_lstm, through_glimpse = zip(*arriving)
fig, ax = plt.subplots(figsize=(5.5, 3.4))
ax.plot(np.array(ts) + 1, through_lstm, "o-", label=r"through the LSTM")
ax.plot(np.array(ts) + 1, through_glimpse, "s-", label=r"through where the glimpse looked")
ax.set_xticks(np.array(ts) + 1)
ax.set_xlabel("t: the step whose input state receives the gradient (mean |dL/dh_{t-1}|)")
ax.set_yscale("log")
ax.set_title("the two paths of the gradient to h_{t-1}")
ax.legend(fontsize=8)
lesson.save(fig, "12_gradient_paths.png")

# %% [markdown]
# ## A short training run
#
# Adam with clipping by global norm (lesson 9) on fresh cluttered images every step, made from
# the 100 bundled digits. The model starts with its first glimpse covering the whole image
# (`initial_attention_bias`); the loss starts near $\log 10 = 2.30$ nats. A real run is
# `python -m draw_np train --preset cluttered` (the paper's Table 1 model on cluttered MNIST),
# then `python -m draw_np evaluate runs/cluttered/best.npz` for the test error and
# `python -m draw_np plot classifier --checkpoint runs/cluttered/best.npz --out glimpses.png`.

# %%
lesson.step("A short training run")
config = ClassifierConfig(H=100, W=100, T=3, size=32 if lesson.fast else 64, read_n=8)
model = AttentionClassifier(config, seed=0)
opt = Adam(model.params, lr=3e-3)
train_rng = np.random.default_rng(1)
curve = []
for step in range(40 if lesson.fast else 300):
    xb, yb = cluttered_batch(20, train_rng)
    step_loss, step_grads = model.loss_and_grads(xb, yb)
    step_grads, _ = clip_by_global_norm(step_grads, 10.0)
    opt.step(model.params, step_grads)
    curve.append(step_loss)
first, last = np.mean(curve[:10]), np.mean(curve[-10:])
print(f"  mean loss of the first 10 steps {first:.3f}, of the last 10 {last:.3f} nats")
assert last < first

fig, ax = plt.subplots(figsize=(5.5, 3.4))
ax.plot(np.arange(1, len(curve) + 1), curve)
ax.axhline(np.log(10), color="0.6", linestyle="--", label="log 10: a uniform guess")
ax.set_xlabel("Adam step (20 fresh cluttered images each)")
ax.set_ylabel("cross-entropy, nats")
ax.legend(fontsize=8)
lesson.save(fig, "12_training.png")

# %%
lesson.step("Where the model looked")
x_test, y_test = cluttered_batch(40, np.random.default_rng(2))
chosen = choose_examples(model.predict(x_test), y_test, 4)
x_test, y_test = x_test[chosen], y_test[chosen]
lesson.save(plot_classifier_glimpses(x_test, y_test, model.predict(x_test),
                                     model.glimpses(x_test), config), "12_glimpses.png")

lesson.done()
