# %% [markdown]
# # Lesson 5: read and write, with and without attention (spec eqs. 17-18 and 27-29)
#
# What you will learn:
#   * read without attention: the whole image and the error image, side by side (eq. 17);
#   * read with attention: two N x N patches, gamma F_Y x F_X^T (eq. 27), built by hand and
#     checked against draw_np.readwrite; and that with N = H = W, stride 1 and tiny filters the
#     read returns the image itself;
#   * write: the decoder's patch painted back onto the canvas, (1/gamma) F_Y^T w F_X (eq. 29),
#     which is exactly the transpose of reading;
#   * what glimpses of a real digit look like.

# %%
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from draw_np.attention import filterbank
from draw_np.plot import glimpse_box
from draw_np.readwrite import (read_attention_forward, read_forward, write_attention_forward,
                               write_forward)
from _common import Lesson, load_sample_digits

lesson = Lesson("Lesson 5: read and write, with and without attention (spec eqs")
digits = load_sample_digits()[0].astype(np.float64)
H = W = 28
rng = np.random.default_rng(0)


def glimpse(gx, gy, delta, sigma2, N):
    """Filterbanks (Fx, Fy) for one example with the grid placed by hand (1-based pixels)."""
    one = lambda value: np.array([value], dtype=np.float64)
    return filterbank(one(gx), one(gy), one(sigma2), one(delta), N, H, W)


# %% [markdown]
# ## Without attention (eqs. 17-18)
#
# The simplest DRAW reads everything and writes everything:
#     read(x, x^_t, h^dec_{t-1}) = [x, x^_t]        flattened: 2 H W numbers        (17)
#     write(h^dec_t) = W_w h^dec_t + b_w            reshaped to (H, W)               (18)
# x^_t = x - sigmoid(c_{t-1}) is the error image: what the canvas still gets wrong (eq. 3).

# %%
lesson.step("Without attention (eqs. 17-18)")
x, x_hat = digits[:2], digits[:2] - 0.5
r, _ = read_forward((x, x_hat))
assert np.array_equal(r, np.concatenate([x.reshape(2, -1), x_hat.reshape(2, -1)], axis=1))
h = rng.standard_normal((2, 7))
W_w, b_w = rng.standard_normal((7, H * W)), rng.standard_normal(H * W)
update, _ = write_forward(h, W_w, b_w, (H, W))
assert np.allclose(update, (h @ W_w + b_w).reshape(2, H, W))
print(f"  read: {x.shape} and {x_hat.shape} -> r {r.shape};  write: h {h.shape} -> {update.shape}")

# %% [markdown]
# ## Reading through the filters (eq. 27)
#
#     read(x, x^_t, h^dec_{t-1}) = gamma [F_Y x F_X^T,  F_Y x^_t F_X^T]               (27)
# F_Y (N, H) mixes rows, F_X^T (W, N) mixes columns: each patch pixel (j, i) is a Gaussian-
# weighted average of the image around (mu_Y^j, mu_X^i). gamma scales the result. We build
# it by hand for a 12 x 12 glimpse and compare.

# %%
lesson.step("Reading through the filters (eq. 27)")
N = 12
Fx, Fy = glimpse(gx=15.0, gy=13.0, delta=1.5, sigma2=0.8, N=N)
gamma = np.array([1.7])
patch_by_hand = gamma[0] * Fy[0] @ digits[0] @ Fx[0].T
error_by_hand = gamma[0] * Fy[0] @ (digits[0] - 0.5) @ Fx[0].T
r, _ = read_attention_forward((digits[:1], digits[:1] - 0.5), Fx, Fy, gamma)
assert r.shape == (1, 2 * N * N)
assert np.allclose(r[0], np.concatenate([patch_by_hand.ravel(), error_by_hand.ravel()]))
print(f"  by hand == read_attention_forward: r has 2 N^2 = {r.shape[1]} numbers: OK")

# %% [markdown]
# ## A test of meaning: the identity glimpse
#
# With N = H = W, g~ = 0 (centred) and delta~ = 1, the stride is (28 - 1)/(28 - 1) = 1: one
# filter per pixel, centred on it. Make the filters very narrow (sigma^2 = 1e-4) and gamma = 1,
# and F_X, F_Y become identity matrices: reading returns the image itself. (Any off-by-one in
# the grid geometry of lesson 4 would shift the image and fail this.)

# %%
lesson.step("A test of meaning: the identity glimpse")
Fx, Fy = glimpse(gx=(W + 1) / 2, gy=(H + 1) / 2, delta=1.0, sigma2=1e-4, N=28)
r, _ = read_attention_forward((digits[:1], digits[:1]), Fx, Fy, np.ones(1))
assert np.allclose(Fx[0], np.eye(28)) and np.allclose(r[0, :H * W].reshape(H, W), digits[0])
print("  identity glimpse reads back the digit exactly: OK")

# %% [markdown]
# ## Glimpses of a real digit
#
# The same 12 x 12 read, placed three ways. The rectangle marks the region the grid covers,
# N filters one stride apart: from g - N delta / 2 to g + N delta / 2 in 1-based pixel
# coordinates. (imshow draws 0-based array index k at k, so 1-based pixel a sits at a - 1:
# subtract 1 when drawing. draw_np.plot.glimpse_box does exactly this.) Look at how the
# patch resolution changes: a wide stride sees the whole digit coarsely, a small stride
# sees a piece of it in detail. DRAW learns to move this window from step to step.

# %%
lesson.step("Glimpses of a real digit")
views = [("whole digit", 14.5, 14.5, 27 / 11, 1.0), ("centre, stride 1", 14.5, 14.5, 1.0, 0.5),
         ("top of the digit, stride 0.7", 15.0, 8.0, 0.7, 0.3)]
fig, axes = plt.subplots(2, 3, figsize=(8, 5.6))
for k, (title, g_x, g_y, delta, s2) in enumerate(views):
    Fx, Fy = glimpse(g_x, g_y, delta, s2, N)
    patch = read_attention_forward((digits[:1], digits[:1]), Fx, Fy, np.ones(1))[0][0, :N * N]
    corner = (g_x - N * delta / 2 - 1, g_y - N * delta / 2 - 1)   # 1-based -> imshow coordinates
    assert np.allclose(corner, glimpse_box(g_x, g_y, delta, N)[:2])
    axes[0, k].imshow(digits[0], cmap="gray_r")
    axes[0, k].add_patch(Rectangle(corner, N * delta, N * delta, fill=False, color="tab:green",
                                   linewidth=2))
    axes[0, k].set(xlim=(-2.5, W + 1.5), ylim=(H + 1.5, -2.5))   # room for a rectangle at the edge
    axes[0, k].set_title(f"{title}\ng = ({g_x}, {g_y}), delta = {delta:.2f}", fontsize=9)
    axes[1, k].imshow(patch.reshape(N, N), cmap="gray_r")
    axes[1, k].set_title(f"the {N} x {N} patch read", fontsize=9)
for ax in axes.flat:
    ax.axis("off")
lesson.save(fig, "05_read_glimpses.png")

# %% [markdown]
# ## Writing (eqs. 28-29): the transpose of reading
#
# The decoder emits an N x N patch w_t = W_w h^dec_t + b_w (eq. 28) and paints it onto the
# canvas through its own filters:   write(h^dec_t) = (1/gamma) F_Y^T w_t F_X           (29)
# F_Y^T and F_X are the transposes of what reading uses, so for any image x and patch w,
#     <read patch of x, w> = gamma^2 <x, write(w)>
# (with gamma = 1, write is exactly the adjoint of read). We check both statements. We pass
# h = w and the identity as W_w, so the patch written is exactly w.
# In the figure, look at the large '+': its stride is 3 pixels but the filters are narrow
# (sigma^2 = 0.5), so the strokes break into dots. sigma^2 must grow with delta to paint
# smoothly; the decoder learns both.

# %%
lesson.step("Writing (eqs. 28-29): the transpose of reading")
N = 5
Fx, Fy = glimpse(gx=12.0, gy=16.0, delta=2.2, sigma2=1.3, N=N)
w, gamma = rng.standard_normal((1, N * N)), np.array([0.6])
canvas_update, _ = write_attention_forward(w, np.eye(N * N), np.zeros(N * N), Fx, Fy, gamma)
assert np.allclose(canvas_update[0], Fy[0].T @ w.reshape(N, N) @ Fx[0] / gamma[0])
read_patch = read_attention_forward((digits[:1], digits[:1]), Fx, Fy, gamma)[0][0, :N * N]
assert np.isclose(read_patch @ w[0], gamma[0] ** 2 * (digits[0] * canvas_update[0]).sum())
print("  by hand == write_attention_forward, and <read(x), w> = gamma^2 <x, write(w)>: OK")

fig, axes = plt.subplots(1, 4, figsize=(10, 2.8))
stroke = np.zeros((N, N))
stroke[:, 2], stroke[2, :] = 1.0, 1.0                       # a plus sign
for ax, (g_x, g_y, delta, title) in zip(axes[:3], [(8, 8, 1.0, "small, top left"),
                                                   (16, 14, 3.0, "large, centre"),
                                                   (22, 20, 1.5, "medium, lower right")]):
    Fx, Fy = glimpse(g_x, g_y, delta, 0.5, N)
    out, _ = write_attention_forward(stroke.reshape(1, -1), np.eye(N * N), np.zeros(N * N), Fx, Fy,
                                     np.ones(1))
    ax.imshow(out[0], cmap="gray_r")
    ax.set_title(f"write a 5 x 5 '+':\n{title}", fontsize=9)
N = 12                                                     # read the digit, write it back
Fx, Fy = glimpse(14.5, 14.5, 27 / 11, 1.0, N)
patch = read_attention_forward((digits[:1], digits[:1]), Fx, Fy, np.ones(1))[0][:, :N * N]
back, _ = write_attention_forward(patch, np.eye(N * N), np.zeros(N * N), Fx, Fy, np.ones(1))
axes[3].imshow(back[0], cmap="gray_r")
axes[3].set_title("read 12 x 12, write back:\na blurred digit", fontsize=9)
for ax in axes:
    ax.axis("off")
lesson.save(fig, "05_write.png")

lesson.done()
