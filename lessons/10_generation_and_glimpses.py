# %% [markdown]
# # Lesson 10: a trained DRAW. Generating digits, reconstructing them, and where the KL goes
#
# What you will learn:
#
# * generation (eqs. 13-16): the decoder alone, fed $\tilde z_t \sim \mathcal N(0, I)$, paints a
#   digit glimpse by glimpse; written by hand and checked against `model.generate`;
# * how to read the library's figures: the write glimpse (red) moving as the digit appears,
#   the read glimpse (green) following the strokes when reconstructing;
# * the bound $L = L^x + L^z$ in nats, and the KL of each step: which steps carry information.
#
# It uses the model bundled with draw_np (the `quick` preset), or your own with
# `--checkpoint PATH`, e.g. `runs/quick/best.npz` after `python -m draw_np train --preset quick`.

# %%
from pathlib import Path

import numpy as np

from draw_np.activations import sigmoid
from draw_np.attention import attention_params_forward, filterbank
from draw_np.backend import Random
from draw_np.checkpoint import load_checkpoint, load_model
from draw_np.evaluate import evaluate_bound
from draw_np.lstm import lstm_forward
from draw_np.model import DRAW
from draw_np.plot import (animate_generation, generation_animation, plot_generation,
                          plot_kl_per_step, plot_reconstruction)
from draw_np.readwrite import write_attention_forward, write_forward
from _common import CHECKPOINT_PATH, Lesson, load_sample_digits

lesson = Lesson("Lesson 10: a trained DRAW", lambda parser: parser.add_argument(
    "--checkpoint", type=Path, default=CHECKPOINT_PATH, metavar="PATH",
    help="a checkpoint .npz (default: the bundled quick-preset model)"))

# %% [markdown]
# ## 1. Load the trained model
#
# A checkpoint holds the parameters under the spec's names, the config, and what training
# recorded (epoch, best validation bound, ...). `load_model` builds a `DRAW` from it.

# %%
lesson.step("Load the trained model")
checkpoint = load_checkpoint(lesson.args.checkpoint)
model = load_model(lesson.args.checkpoint)
c, p = model.config, model.params
print(f"  {lesson.args.checkpoint}: {c}")
meta = checkpoint.meta
if "progress" in meta:
    print(f"  trained for {meta['progress']['epoch']} epochs, {meta['progress']['step']} steps")
if "valid_bound" in meta:
    print(f"  validation bound when it was saved: {meta['valid_bound']:.2f} nats per image")

# %% [markdown]
# ## 2. Generation by hand (eqs. 13-16)
#
# To generate there is no image to read, so the encoder is not used at all. Start from the
# learned $c_0$ and $h^{dec}_0$ and, for $t = 1, \dots, T$:
#
# $$\begin{aligned}
# \tilde z_t &\sim \mathcal N(0, I) && (13)\ \text{a sample from the prior}\\
# \tilde h^{dec}_t &= \text{LSTM}^{dec}(\tilde h^{dec}_{t-1}, \tilde z_t) && (14)\\
# \tilde c_t &= \tilde c_{t-1} + \text{write}(\tilde h^{dec}_t) && (15)
# \end{aligned}$$
#
# and the image is $\sigma(\tilde c_T)$, the Bernoulli means (16).
#
# Training made the encoder's $Q(z_t \mid x)$ close to $\mathcal N(0, I)$ (the KL term), which
# is why feeding the decoder prior samples gives digit-like images.

# %%
lesson.step("Generation by hand (eqs. 13-16)")
n = 8
eps = Random(0).normal((c.T, n, c.z_size), model.dtype)
canvas = np.broadcast_to(p["c0"], (n, c.H, c.W))
h_dec = np.broadcast_to(p["h0_dec"], (n, c.dec_size))
cell_dec = np.zeros((n, c.dec_size), model.dtype)
for t in range(c.T):
    (h_dec, cell_dec), _ = lstm_forward(eps[t], h_dec, cell_dec, p["dec.W"], p["dec.b"])  # (14)
    if c.attention:                                                                       # (15)
        at, _ = attention_params_forward(h_dec, p["write_attn.W"], p["write_attn.b"],
                                         c.write_n, c.H, c.W)
        Fx, Fy = filterbank(at.gx, at.gy, at.sigma2, at.delta, c.write_n, c.H, c.W)
        update, _ = write_attention_forward(h_dec, p["write.W"], p["write.b"], Fx, Fy, at.gamma)
    else:
        update, _ = write_forward(h_dec, p["write.W"], p["write.b"], (c.H, c.W))
    canvas = canvas + update
drawing = model.generate(n, eps=eps)
assert np.allclose(drawing.canvases[-1], sigmoid(canvas), atol=1e-5)               # (16)
print(f"  by hand == model.generate: OK; drawing.canvases {drawing.canvases.shape} = (T, n, H, W)")

shown = dict(rows=4, steps=min(5, c.T)) if lesson.fast else {}   # fewer frames: quicker
lesson.save(plot_generation(drawing, c, **shown), "10_generation.png")
# %% [markdown]
# In the figure: one row per digit, one column per step, $\sigma(\tilde c_t)$ after each write.
# The red square is the write glimpse (its side is $N\delta$ with $N$ = `write_n`; a thick
# border means sharp filters).
#
# Early steps often lay down a rough blob with a large glimpse; later ones refine strokes
# with smaller ones.

# %%
side = 2 if lesson.fast else 4
grid = model.generate(side * side, eps=Random(1).normal((c.T, side * side, c.z_size), model.dtype))
gif = animate_generation(grid, c, lesson.out / "10_generation.gif", side, side)
print(f"  [animation saved: {gif}]")
lesson.animation(generation_animation(grid, c, side, side), "10_generation.html")

# %% [markdown]
# ## 3. Reconstruction: the read and write glimpses
#
# `model.reconstruct(x)` runs the full model of lesson 7 on real digits and keeps every
# canvas and both glimpses. The green square is the read glimpse (placed by $h^{dec}_{t-1}$,
# eq. 4), the red one the write glimpse.
#
# Look for the read glimpse moving to where the canvas is still wrong.

# %%
lesson.step("Reconstruction: the read and write glimpses")
x = load_sample_digits()[0][:20 if lesson.fast else 100].astype(np.float32)
x_eps = Random(2).normal((c.T, len(x), c.z_size), model.dtype)
reconstruction = model.reconstruct(x[:4], eps=x_eps[:, :4])
shown = dict(rows=2, steps=min(5, c.T)) if lesson.fast else {}
lesson.save(plot_reconstruction(x[:4], reconstruction, c, **shown), "10_reconstruction.png")

# %% [markdown]
# ## 4. How good is it? The bound, and the KL of each step
#
# $L = L^x + L^z$ (eq. 12) is an upper bound on $-\log p(x)$ in nats per image:
#
# * the paper's DRAW with attention ($T = 64$, much bigger) reaches 80.97 on the test set;
#   `quick` is a small model trained for minutes;
# * an untrained model pays $784 \log 2 \approx 543$ nats;
# * with $K$ samples of $\epsilon$ per image, `draw_np.evaluate` also gives the tighter
#   importance-weighted estimate.
#
# The KL of step $t$ (eq. 11) is how many nats of information about $x$ the step's $z_t$
# carries: steps with high KL are the ones that decide the digit.

# %%
lesson.step("How good is it? The bound, and the KL of each step")
terms = model.loss_terms(x, eps=x_eps)
bound = float((terms.Lx + terms.Lz).mean())
untrained = DRAW(c).loss_terms(x[:10])
untrained_bound = float((untrained.Lx + untrained.Lz).mean())
print(f"  on the {len(x)} bundled test digits: L = {bound:.1f} nats "
      f"(L^x {float(terms.Lx.mean()):.1f} + L^z {float(terms.Lz.mean()):.1f});"
      f" untrained: {untrained_bound:.1f}")
assert bound < untrained_bound - 200, "the checkpoint should be far better than an untrained model"
result = evaluate_bound(model, x, samples=2 if lesson.fast else 20, seed=0)
print(f"  evaluate_bound with K = {result.samples}: bound {result.bound:.1f} +- "
      f"{result.bound_stderr:.1f}, importance-weighted {result.iw_nll:.1f} nats")
assert result.iw_nll <= result.bound + 1e-6
print("  the full test-set figure: python -m draw_np evaluate runs/quick/best.npz")
lesson.save(plot_kl_per_step(terms.kl_per_step), "10_kl_per_step.png")

lesson.done()
