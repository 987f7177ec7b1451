# %% [markdown]
# # Lesson 9: training. Adam, gradient clipping, a short real run, and the `train` command
#
# What you will learn:
#   * one training step: a batch of binarised digits, loss and gradients (lesson 8), clip the
#     gradient's global norm, an Adam update;
#   * Adam and clipping by global norm, each written by hand once and checked against
#     draw_np.optim;
#   * a short run where you can watch L^x and L^z go down;
#   * how to train the real thing: `python -m draw_np train --preset quick|paper`.

# %%
import inspect
import tempfile
import textwrap
from dataclasses import replace
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import draw_np.model
import draw_np.presets
from draw_np.model import DRAW, INIT_STD
from draw_np.optim import Adam, clip_by_global_norm
from draw_np.plot import plot_training_curves
from draw_np.presets import preset
from draw_np.data.dataset import DataSplits
from draw_np.train import train
from _common import Lesson, load_digits

lesson = Lesson("Lesson 9: training")

# %% [markdown]
# ## Data and a small model
#
# The `tiny` preset: $T = 4$ glimpses, LSTMs of 32, $z$ of 4, read 2 x 2, write 3 x 3. Small
# enough to train in seconds, big enough to show the loss falling. Weight matrices start as
# $\mathcal N(0, s^2)$ with $s$ = `draw_np.model.INIT_STD` (printed below, with the library's
# reason for it: the spec's 0.01 makes the decoder ignore $z$ in a short run), and $c_0$ at
# zero: the first canvas is grey ($\sigma(0) = 0.5$ everywhere), which costs $\log 2$ nats per
# pixel, $784 \log 2 = 543$ nats per image.

# %%
lesson.step("Data and a small model")
images, source = load_digits(lesson.fast, "train")
if len(images) > 100:                                   # real MNIST: 50,000 training digits
    train_x, valid_x = images, load_digits(False, "valid")[0][:1000]
else:                                                   # the bundled 100: hold 20 out
    train_x, valid_x = images[:80], images[80:]
config, settings = preset("tiny")
model = DRAW(config, seed=0)
print(f"  {len(train_x)} training images from {source}; {config}")
source = inspect.getsource(draw_np.model).splitlines()    # the library says why, above INIT_STD
line = next(k for k, text in enumerate(source) if text.startswith("INIT_STD ="))
why = []
while source[line - 1 - len(why)].startswith("#:"):
    why.insert(0, source[line - 1 - len(why)][2:].strip())
print(f"  weights start as N(0, {INIT_STD}^2). Why, in draw_np/model.py's words:")
print(textwrap.indent(textwrap.fill(" ".join(why), 88), "    "))
std = float(np.std(model.params["enc.W"]))
assert abs(std - INIT_STD) < 0.1 * INIT_STD, std

# %% [markdown]
# ## Adam by hand, once
#
# Adam keeps two running averages per parameter, of the gradient (m) and of its square (v),
# and steps by their ratio, so every weight moves about lr per step whatever its scale:
#     m <- b1 m + (1 - b1) g        v <- b2 v + (1 - b2) g^2
#     theta <- theta - lr m^ / (sqrt(v^) + eps),   m^ = m / (1 - b1^t),  v^ = v / (1 - b2^t)
# (the hats undo the bias of averages that start at zero). One step on one array:

# %%
lesson.step("Adam by hand, once")
rng = np.random.default_rng(0)
theta, g = {"w": rng.standard_normal(5)}, {"w": rng.standard_normal(5)}
lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-8
m, v = (1 - b1) * g["w"], (1 - b2) * g["w"] ** 2
by_hand = theta["w"] - lr * (m / (1 - b1)) / (np.sqrt(v / (1 - b2)) + eps)
Adam(theta, lr=lr).step(theta, g)                              # updates theta in place
assert np.allclose(theta["w"], by_hand, rtol=1e-10)
print("  by hand == draw_np.optim.Adam: OK (note the first step moves every weight by ~lr)")

# %% [markdown]
# ## Clipping by global norm, by hand
#
# Backprop through many steps occasionally gives a huge gradient; one such step can throw
# the attention off the image for good. Clip: if the norm over ALL gradients together,
# sqrt(sum_k ||g_k||^2), exceeds max_norm, scale every gradient by max_norm / norm. The
# direction is kept, only the length shrinks. draw_np uses max_norm = 10.

# %%
lesson.step("Clipping by global norm, by hand")
grads = {"a": rng.standard_normal((3, 4)) * 10, "b": rng.standard_normal(4) * 10}
norm = np.sqrt(sum((gk ** 2).sum() for gk in grads.values()))
clipped, library_norm = clip_by_global_norm(grads, 10.0)
assert np.isclose(norm, library_norm)
assert all(np.allclose(clipped[k], grads[k] * min(1, 10.0 / norm)) for k in grads)
print(f"  norm {norm:.1f} -> {np.sqrt(sum((gk ** 2).sum() for gk in clipped.values())):.1f}: OK")

# %% [markdown]
# ## A short training run
#
# The whole loop, the same as draw_np.train does it:
#     x = a random batch, as float32 in [0, 1]
#     loss, grads = model.loss_and_grads(x)      # forward T steps, backprop through time
#     grads, norm = clip_by_global_norm(grads, 10)
#     opt.step(model.params, grads)              # Adam, in place
# L^x (reconstruction) falls first; L^z (the information the latents carry) may at first
# rise: the model learns that paying a few nats of KL buys many nats of reconstruction.

# %%
lesson.step("A short training run")
steps, batch = (60, 20) if lesson.fast else (300, 50)
opt = Adam(model.params, lr=settings.lr)
history = []
for step in range(steps):
    x = train_x[rng.integers(0, len(train_x), batch)].astype(np.float32)
    loss, grads, terms = model.loss_and_grads(x, return_terms=True)
    grads, norm = clip_by_global_norm(grads, settings.clip)
    opt.step(model.params, grads)
    history.append((loss, float(terms.Lx.mean()), float(terms.Lz.mean())))
    if step % (steps // 6) == 0 or step == steps - 1:
        print(f"  step {step + 1:4d}: L = {loss:6.1f}  (L^x {history[-1][1]:6.1f}, "
              f"L^z {history[-1][2]:5.2f})  gradient norm {norm:7.1f}")
history = np.array(history)
first, last = history[:10, 0].mean(), history[-10:, 0].mean()
assert last < first - 50, (first, last)
valid = model.loss_terms(valid_x.astype(np.float32))
print(f"  mean loss of the first 10 steps {first:.1f}, of the last 10 {last:.1f} nats")
print(f"  on {len(valid_x)} held-out digits: L = {float((valid.Lx + valid.Lz).mean()):.1f} nats")

fig, ax = plt.subplots(figsize=(6, 3.8))
for k, label in enumerate(("L = L^x + L^z", "L^x (reconstruction)", "L^z (KL)")):
    ax.plot(np.arange(1, steps + 1), history[:, k], label=label)
ax.set_yscale("log")
ax.set_xlabel("step")
ax.set_ylabel("nats per image")
ax.set_title(f"training the tiny preset ({source})", fontsize=10)
ax.legend(fontsize=8)
lesson.save(fig, "09_training_curve.png")

# %% [markdown]
# ## The real thing: draw_np.train and `python -m draw_np train`
#
# draw_np.train.train runs this same loop over epochs, with a validation bound after each,
# and writes DIR/checkpoint.npz (latest), DIR/best.npz (best validation) and DIR/log.jsonl.
# It resumes exactly after an interruption (Ctrl-C saves). From a terminal:
#     python -m draw_np train --preset tiny        # seconds: a smoke test
#     python -m draw_np train --preset quick       # minutes (printed below): draws digits
#     python -m draw_np train --preset paper       # the paper's model: many hours on a CPU,
#                                                  #   use --backend cupy on a GPU
#     python -m draw_np train --preset quick --resume          # continue runs/quick
#     python -m draw_np evaluate runs/quick/best.npz           # the test-set bound
# Here we call train() itself for two short epochs, in a temporary directory, and plot
# its log with draw_np.plot.plot_training_curves (also: `python -m draw_np plot curves`).

# %%
lesson.step("The real thing: draw_np.train and `python -m draw_np train`")
for text in draw_np.presets.__doc__.split("\n* ")[1:]:     # the presets, as the library says
    print("  * " + " ".join(text.split()))
with tempfile.TemporaryDirectory() as run_dir:
    small = DataSplits.of_arrays(train_x[:5000], valid_x)
    short = replace(settings, epochs=2, batch_size=20 if small.train.size < 1000 else 50)
    summary = train(config, short, small, run_dir, log_every=1 if lesson.fast else 10,
                    progress_bar=False, print_fn=lambda s: print("  train(): " + s))
    print(f"  wrote {sorted(Path(f).name for f in (summary['checkpoint'], summary['best']))} "
          f"and log.jsonl")
    assert summary["steps"] == 2 * (small.train.size // short.batch_size)
    lesson.save(plot_training_curves(Path(run_dir) / "log.jsonl"), "09_train_log.png")

lesson.done()
