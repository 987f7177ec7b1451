# %% [markdown]
# # Lesson 7: one DRAW step, eqs. 3-8, assembled by hand from the pieces of lessons 3-6
#
# What you will learn:
#   * the state one step hands to the next: canvas c, and the hidden and cell states of the
#     encoder and decoder LSTMs; where it starts (model.initial_state: learned c_0, h_0);
#   * the seven lines of a step: error image, read, encode, sample, decode, write;
#   * that T such steps plus the loss of eqs. 9-11 are exactly what draw_np.model.DRAW computes;
#   * what a trained model reads and writes at each step.
#
# We use the small trained model bundled with draw_np (the `quick` preset), in float64, so that
# the pictures mean something; lesson 9 shows how such a model is trained.

# %%
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from draw_np.activations import sigmoid
from draw_np.attention import attention_params_forward, filterbank
from draw_np.backend import Random
from draw_np.bernoulli import bernoulli_nll_forward
from draw_np.checkpoint import load_model
from draw_np.gaussian import kl_forward
from draw_np.lstm import lstm_forward
from draw_np.plot import READ_COLOUR, WRITE_COLOUR, glimpse_box
from draw_np.readwrite import read_attention_forward, write_attention_forward
from _common import CHECKPOINT_PATH, Lesson, load_sample_digits

lesson = Lesson("Lesson 7: one DRAW step")

# %% [markdown]
# ## The model and its starting state
#
# draw_np.checkpoint.load_model reads a checkpoint into a DRAW object: model.config (the
# sizes), model.params (a flat dict name -> array, the spec's names). The state of step t is
# State(canvas, h_enc, cell_enc, h_dec, cell_dec). At t = 0 the canvas c_0 and the hidden
# states h^enc_0, h^dec_0 are learned parameters shared by the whole batch; the LSTM cells
# start at zero.

# %%
lesson.step("The model and its starting state")
model = load_model(CHECKPOINT_PATH, dtype="float64")
c, p = model.config, model.params
print(f"  {CHECKPOINT_PATH.name}: {c}")
assert c.attention, "this lesson walks the attention model"
x = load_sample_digits()[0][:3].astype(np.float64)
n = len(x)
state = model.initial_state(n)
for name, value in state._asdict().items():
    print(f"  {name:9s} {value.shape}")
assert np.array_equal(state.canvas[1], p["c0"]) and not state.cell_dec.any()
eps = Random(0).normal((c.T, n, c.z_size), "float64")   # the noise of eq. 6, for every step

# %% [markdown]
# ## One step by hand (eqs. 3-8)
#
#     x^_t    = x - sigmoid(c_{t-1})                          (3)  what is still missing
#     r_t     = read(x, x^_t, h^dec_{t-1})                    (4)  two read_n^2 patches (27)
#     h^enc_t = LSTM_enc(h^enc_{t-1}, [r_t, h^dec_{t-1}])     (5)
#     mu_t, log sigma_t = linear maps of h^enc_t              (1, 2)
#     z_t     = mu_t + sigma_t * eps_t                        (6)
#     h^dec_t = LSTM_dec(h^dec_{t-1}, z_t)                    (7)
#     c_t     = c_{t-1} + write(h^dec_t)                      (8)  a write_n^2 patch (29)
# Note that the read is steered by the PREVIOUS decoder state: the decoder decides where to
# look next. We write these lines with the layer functions and compare with model.step.

# %%
lesson.step("One step by hand (eqs. 3-8)")
x_hat = x - sigmoid(state.canvas)                                                        # (3)
read_at, _ = attention_params_forward(state.h_dec, p["read_attn.W"], p["read_attn.b"],
                                      c.read_n, c.H, c.W)                                # (21-24)
Fx, Fy = filterbank(read_at.gx, read_at.gy, read_at.sigma2, read_at.delta, c.read_n, c.H, c.W)
r, _ = read_attention_forward((x, x_hat), Fx, Fy, read_at.gamma)                        # (4)
(h_enc, cell_enc), _ = lstm_forward(np.concatenate([r, state.h_dec], axis=1),
                                    state.h_enc, state.cell_enc, p["enc.W"], p["enc.b"])  # (5)
mu = h_enc @ p["mu.W"] + p["mu.b"]                                                       # (1)
logsigma = h_enc @ p["logsigma.W"] + p["logsigma.b"]                                     # (2)
z = mu + np.exp(logsigma) * eps[0]                                                       # (6)
(h_dec, cell_dec), _ = lstm_forward(z, state.h_dec, state.cell_dec, p["dec.W"], p["dec.b"])  # (7)
write_at, _ = attention_params_forward(h_dec, p["write_attn.W"], p["write_attn.b"],
                                       c.write_n, c.H, c.W)
Fx, Fy = filterbank(write_at.gx, write_at.gy, write_at.sigma2, write_at.delta, c.write_n, c.H, c.W)
update, _ = write_attention_forward(h_dec, p["write.W"], p["write.b"], Fx, Fy, write_at.gamma)
canvas = state.canvas + update                                                           # (8)

new_state, kl, cache = model.step(x, state, eps[0])
for name, by_hand in zip(new_state._fields, (canvas, h_enc, cell_enc, h_dec, cell_dec)):
    assert np.allclose(getattr(new_state, name), by_hand), name
assert np.allclose(kl, kl_forward(mu, logsigma)[0])
print(f"  by hand == model.step for all five state arrays and the step's KL: OK")
print(f"  r_t {r.shape}, z_t {z.shape}, a {c.write_n}x{c.write_n} write -> canvas {canvas.shape}")

# %% [markdown]
# ## T steps and the loss (eqs. 9-12)
#
# Run the step T times, then score the final canvas. c_T holds logits; the pixel
# probabilities are sigmoid(c_T), and
#     L^x = sum_pixels softplus(c_T) - x c_T      Bernoulli negative log-likelihood   (9)
#     L^z = sum_t KL_t                                                             (10, 11)
#     L   = L^x + L^z     nats per image, an upper bound on -log p(x)                 (12)
# model.loss_terms(x, eps) does all of this; we check our loop against it.

# %%
lesson.step("T steps and the loss (eqs. 9-12)")
state, kls, caches = model.initial_state(n), [], []
for t in range(c.T):
    state, kl, cache = model.step(x, state, eps[t])
    kls.append(kl)
    caches.append(cache)
Lx, _ = bernoulli_nll_forward(state.canvas, x)
Lz = np.sum(kls, axis=0)
terms = model.loss_terms(x, eps)
assert np.allclose(Lx, terms.Lx) and np.allclose(Lz, terms.Lz)
print(f"  L^x = {np.round(Lx, 1)}, L^z = {np.round(Lz, 1)}, L = {np.round(Lx + Lz, 1)} nats")
print(f"  (an untrained model: about 784 log 2 = {784 * np.log(2):.0f} nats, a coin per pixel)")
print("\n   t   read centre  stride   write centre  stride    KL_t (first digit)")
for t, cache in enumerate(caches, 1):
    rd, wr = cache.read_glimpse.params, cache.write_glimpse.params
    print(f"  {t:2d}   ({rd.gx[0]:4.1f},{rd.gy[0]:5.1f})  {rd.delta[0]:5.2f}   "
          f"({wr.gx[0]:4.1f},{wr.gy[0]:5.1f})  {wr.delta[0]:5.2f}   {kls[t - 1][0]:6.2f}")

# %% [markdown]
# ## What the model looks at and draws
#
# Top row: the error image x^_t that step t reads (red = ink still missing, blue = ink that
# should not be there), with the read glimpse (green box). Bottom row: the canvas
# sigmoid(c_t) after the step, with the write glimpse (red box). A box is N delta pixels
# wide around the grid centre g (draw_np.plot.glimpse_box).

# %%
lesson.step("What the model looks at and draws")


def box(ax, params, t, N, colour):
    b = glimpse_box(params.gx[t, 0], params.gy[t, 0], params.delta[t, 0], N)
    ax.add_patch(Rectangle((b.x, b.y), b.width, b.height, fill=False, color=colour, linewidth=1.5))


drawing = model.reconstruct(x, eps)
assert np.allclose(drawing.canvases[-1], sigmoid(state.canvas))
fig, axes = plt.subplots(2, c.T, figsize=(1.3 * c.T, 3.0), squeeze=False)
for t, cache in enumerate(caches):
    previous = sigmoid(model.initial_state(n).canvas) if t == 0 else drawing.canvases[t - 1]
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
