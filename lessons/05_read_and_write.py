# %% [markdown]
# # Lesson 5: read and write, with and without attention, for images with C channels
#
# What you will learn:
#
# * read without attention: the whole image and the error image, side by side (spec eq. 17);
# * read with attention: $N \times N$ patches $\gamma F_Y X F_X^\top$ (eq. 27), built by hand and
#   checked against `draw_np.readwrite`; with $N = H = W$, stride 1 and tiny filters the read
#   returns the image itself;
# * write: the decoder's patch painted onto the canvas, $\frac1\gamma F_Y^\top w F_X$ (eq. 29),
#   exactly the transpose of reading;
# * **C channels**: one filterbank filters every plane (spec, "Images with C channels");
# * **the backward passes of read and write derived by hand**, with and without attention and
#   with C channels, asserted equal to `read_attention_backward`, `write_attention_backward`,
#   `read_backward` and `write_backward` in float64; and why the backward of a read is a write.

# %%
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from draw_np.attention import filterbank
from draw_np.plot import glimpse_box
from draw_np.gradcheck import check_gradients
from draw_np.readwrite import (read_attention_backward, read_attention_forward, read_backward,
                               read_forward, write_attention_backward, write_attention_forward,
                               write_backward, write_forward)
from _common import Lesson, load_sample_digits

lesson = Lesson("Lesson 5: read and write, with and without attention, with C channels")
digits = load_sample_digits()[0].astype(np.float64)
H = W = 28
rng = np.random.default_rng(0)


def glimpse(gx, gy, delta, sigma2, N):
    """Filterbanks (Fx, Fy) for one example with the grid placed by hand (1-based pixels)."""
    one = lambda value: np.array([value], dtype=np.float64)
    return filterbank(one(gx), one(gy), one(sigma2), one(delta), N, H, W)


# %% [markdown]
# ## 1. Without attention (eqs. 17-18)
#
# The simplest DRAW reads everything and writes everything:
#
# $$\text{read}(x, \hat x_t, h^{dec}_{t-1}) = [x, \hat x_t]
#   \quad\text{flattened: } 2HW \text{ numbers} \tag{17}$$
#
# $$\text{write}(h^{dec}_t) = W_w h^{dec}_t + b_w \quad\text{reshaped to } H \times W \tag{18}$$
#
# $\hat x_t = x - \sigma(c_{t-1})$ is the error image: what the canvas still gets wrong (eq. 3).

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
# ## 2. Reading through the filters (eq. 27)
#
# $$\text{read}(x, \hat x_t, h^{dec}_{t-1}) =
#   \gamma\,[F_Y x F_X^\top,\ F_Y \hat x_t F_X^\top] \tag{27}$$
#
# $F_Y$ ($N \times H$) mixes rows, $F_X^\top$ ($W \times N$) mixes columns: each patch pixel
# $(j, i)$ is a Gaussian-weighted average of the image around $(\mu_Y^j, \mu_X^i)$; $\gamma$
# scales the result. We build it by hand for a $12 \times 12$ glimpse and compare.

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
# ## 3. A test of meaning: the identity glimpse
#
# With $N = H = W$, $\tilde g = 0$ (centred) and $\tilde\delta = 1$, the stride is
# $\delta = \frac{28 - 1}{28 - 1} = 1$ (eq. 24): one filter per pixel, centred on it. Make the
# filters very narrow ($\sigma^2 = 10^{-4}$) and $\gamma = 1$, and $F_X$, $F_Y$ become identity
# matrices: reading returns the image itself.
#
# Any off-by-one in the grid geometry of lesson 4 would shift the image and fail this.

# %%
lesson.step("A test of meaning: the identity glimpse")
Fx, Fy = glimpse(gx=(W + 1) / 2, gy=(H + 1) / 2, delta=1.0, sigma2=1e-4, N=28)
r, _ = read_attention_forward((digits[:1], digits[:1]), Fx, Fy, np.ones(1))
assert np.allclose(Fx[0], np.eye(28)) and np.allclose(r[0, :H * W].reshape(H, W), digits[0])
print("  identity glimpse reads back the digit exactly: OK")

# %% [markdown]
# ## 4. Glimpses of a real digit
#
# The same $12 \times 12$ read, placed three ways. The rectangle marks the region the grid
# covers, $N$ filters one stride apart: from $g - N\delta/2$ to $g + N\delta/2$ in 1-based pixel
# coordinates. (`imshow` draws 0-based array index $k$ at $k$, so 1-based pixel $a$ sits at
# $a - 1$: subtract 1 when drawing. `draw_np.plot.glimpse_box` does exactly this.)
#
# Look at how the patch resolution changes: a wide stride sees the whole digit coarsely, a
# small stride sees a piece of it in detail. DRAW learns to move this window from step to step.

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
# ## 5. Writing (eqs. 28-29): the transpose of reading
#
# The decoder emits an $N \times N$ patch and paints it onto the canvas through its own
# filters:
#
# $$w_t = W_w h^{dec}_t + b_w \tag{28}$$
#
# $$\text{write}(h^{dec}_t) = \frac{1}{\gamma} F_Y^\top w_t F_X \tag{29}$$
#
# $F_Y^\top$ and $F_X$ are the transposes of what reading uses, so for any image $x$ and
# patch $w$
#
# $$\langle \text{read patch of } x,\ w \rangle = \gamma^2 \langle x,\ \text{write}(w) \rangle$$
#
# (with $\gamma = 1$, write is exactly the adjoint of read). We check both statements. We pass
# $h = w$ and the identity as $W_w$, so the patch written is exactly $w$.
#
# In the figure, look at the large '+': its stride is 3 pixels but the filters are narrow
# ($\sigma^2 = 0.5$), so the strokes break into dots. $\sigma^2$ must grow with $\delta$ to
# paint smoothly; the decoder learns both.

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

# %% [markdown]
# ## 6. C channels: one filterbank for every plane
#
# A colour image is $(C, H, W)$: DRAW reads each of its $C$ planes, and each of $\hat x_t$'s,
# through the **same** $F_X, F_Y, \gamma$, so $r_t$ holds $2C$ patches (all of $x$'s channels,
# then all of $\hat x_t$'s), and the write head emits $C$ patches, one per canvas channel:
#
# $$r = \gamma\,[F_Y X^{(1)} F_X^\top, \dots, F_Y X^{(P)} F_X^\top] \qquad
#   \text{write}^{(c)} = \tfrac{1}{\gamma} F_Y^\top w^{(c)} F_X$$
#
# With `einsum` a stack of planes is one line: `"njh,nphw,niw->npji"` is
# $P^{(p)}_{ji} = \sum_{h,w} F_Y[j,h]\,X^{(p)}[h,w]\,F_X[i,w]$ for every example $n$ and plane $p$.

# %%
lesson.step("C channels: one filterbank for every plane")
n, C, N = 2, 3, 4
H_c, W_c = 9, 11                                  # a small colour image, sides that differ
at = lambda *values: np.array(values, dtype=np.float64)
Fx, Fy = (np.ascontiguousarray(F) for F in       # contiguous: the gradient check perturbs them
          filterbank(at(6.0, 5.0), at(4.5, 5.5), at(1.2, 0.7), at(1.6, 2.1), N, H_c, W_c))
gamma = at(1.3, 0.8)
x = rng.uniform(size=(n, C, H_c, W_c))
x_hat = x - rng.uniform(size=(n, C, H_c, W_c))
X = np.concatenate([x, x_hat], axis=1)            # the 2C planes, in the order read takes them
patches = np.einsum("njh,nphw,niw->npji", Fy, X, Fx)
r, read_cache = read_attention_forward((x, x_hat), Fx, Fy, gamma)
assert r.shape == (n, 2 * C * N * N)
assert np.allclose(r, gamma[:, None] * patches.reshape(n, -1))
print(f"  by hand == read_attention_forward: {2 * C} planes -> r {r.shape}: OK")

# %% [markdown]
# ## 7. The read's backward pass, derived
#
# Write $P = F_Y X F_X^\top$ for each plane, so $r = \gamma P$. Given $\bar r$ (reshaped to
# patches, $\bar P$ for each plane):
#
# * $\bar\gamma = \sum_{\text{planes}} \langle \bar r, P\rangle$ (a sum over every entry);
# * with $G = \gamma \bar r$ the gradient that reaches $P$, the product rule on a triple product
#   gives one term per factor:
#
# $$\bar X = F_Y^\top G F_X \qquad \bar F_Y = \sum_{\text{planes}} G\,(X F_X^\top)^\top \qquad
#   \bar F_X = \sum_{\text{planes}} G^\top (F_Y X)$$
#
# The filters serve every plane, so their gradients **sum over the planes**; each image's
# gradient is its own. Note $\bar X = F_Y^\top G F_X$: the backward pass of a read is a write
# (eq. 29, with $\gamma = 1$). The library checks that too.

# %%
lesson.step("The read's backward pass, derived by hand")
dr = rng.standard_normal(r.shape)
dP = dr.reshape(patches.shape)
dgamma = (dP * patches).sum(axis=(1, 2, 3))
G = gamma[:, None, None, None] * dP
dX = np.einsum("njh,npji,niw->nphw", Fy, G, Fx)
dFy = np.einsum("npji,nphw,niw->njh", G, X, Fx)
dFx = np.einsum("npji,njh,nphw->niw", G, Fy, X)
(dx, dx_hat), dFx_lib, dFy_lib, dgamma_lib = read_attention_backward(dr, read_cache)
assert np.allclose(dx, dX[:, :C]) and np.allclose(dx_hat, dX[:, C:])
assert np.allclose(dFx_lib, dFx) and np.allclose(dFy_lib, dFy)
assert np.allclose(dgamma_lib, dgamma)
print("  by hand == read_attention_backward for dx, dx^, dFx, dFy, dgamma: OK")
as_write, _ = write_attention_forward(G.reshape(n, -1), np.eye(2 * C * N * N),
                                      np.zeros(2 * C * N * N), Fx, Fy, np.ones(n), 2 * C)
assert np.allclose(as_write, dX)
print("  ... and the image gradient is a write of G (gamma = 1): OK")
errors = check_gradients(lambda: read_attention_forward((x, x_hat), Fx, Fy, gamma)[0],
                         {"x": x, "Fx": Fx, "Fy": Fy, "gamma": gamma},
                         {"x": dX[:, :C], "Fx": dFx, "Fy": dFy, "gamma": dgamma}, dr)
print(f"  against finite differences: largest relative error {max(errors.values()):.0e}")
assert max(errors.values()) < 1e-7

# %% [markdown]
# ## 8. The write's backward pass, derived
#
# $w = h W_w + b_w$ reshaped to $C$ patches (eq. 28), and
# $\text{out}^{(c)} = \frac1\gamma F_Y^\top w^{(c)} F_X$ (eq. 29). Given $\overline{\text{out}}$:
#
# $$\bar w^{(c)} = \tfrac1\gamma F_Y\, \overline{\text{out}}^{(c)} F_X^\top \qquad
#   \bar F_Y = \tfrac1\gamma \sum_c w^{(c)} F_X\, \overline{\text{out}}^{(c)\top} \qquad
#   \bar F_X = \tfrac1\gamma \sum_c w^{(c)\top} F_Y\, \overline{\text{out}}^{(c)}$$
#
# $$\bar\gamma = -\tfrac1\gamma \langle \overline{\text{out}}, \text{out}\rangle
#   \quad(\text{out} \propto 1/\gamma)$$
#
# and then the affine map of lesson 3 on the flattened $\bar w$: $\bar h = \bar w W_w^\top$,
# $\bar W_w = h^\top \bar w$, $\bar b_w = \sum \bar w$. The patch gradient $\bar w$ is a read of
# $\overline{\text{out}}$: the backward pass of a write is a read.

# %%
lesson.step("The write's backward pass, derived by hand")
size = 6
h = rng.standard_normal((n, size))
W_w, b_w = rng.standard_normal((size, C * N * N)), rng.standard_normal(C * N * N)
w = (h @ W_w + b_w).reshape(n, C, N, N)
out_by_hand = np.einsum("njh,ncji,niw->nchw", Fy, w, Fx) / gamma[:, None, None, None]
out, write_cache = write_attention_forward(h, W_w, b_w, Fx, Fy, gamma, C)
assert np.allclose(out, out_by_hand)
dout = rng.standard_normal(out.shape)
inv_gamma = (1 / gamma)[:, None, None]
dw = np.einsum("njh,nchw,niw->ncji", Fy, dout, Fx) * inv_gamma[:, None]
dFy = np.einsum("ncji,niw,nchw->njh", w, Fx, dout) * inv_gamma
dFx = np.einsum("ncji,njh,nchw->niw", w, Fy, dout) * inv_gamma
dgamma = -(dout * out).sum(axis=(1, 2, 3)) / gamma
dw_flat = dw.reshape(n, -1)
dh, dW_w, db_w = dw_flat @ W_w.T, h.T @ dw_flat, dw_flat.sum(axis=0)
library = write_attention_backward(dout, write_cache)
for name, ours, theirs in zip(("dh", "dW", "db", "dFx", "dFy", "dgamma"),
                              (dh, dW_w, db_w, dFx, dFy, dgamma), library):
    assert np.allclose(ours, theirs, rtol=1e-10, atol=1e-12), name
print("  by hand == write_attention_backward for dh, dW, db, dFx, dFy, dgamma: OK")
as_read, _ = read_attention_forward((dout,), Fx, Fy, 1 / gamma)
assert np.allclose(as_read, dw_flat)
print("  ... and the patch gradient is a read of dout (with 1/gamma): OK")

# %% [markdown]
# ## 9. Without attention
#
# Eq. 17 only lays the images side by side, so its backward pass cuts $\bar r$ back into
# pieces of the images' shapes; eq. 18 is an affine map whose output is reshaped, so its
# backward pass flattens $\overline{\text{out}}$ and undoes the affine map.

# %%
lesson.step("Without attention: cut and reshape")
r, cache = read_forward((x, x_hat))
dr = rng.standard_normal(r.shape)
dx, dx_hat = read_backward(dr, cache)
half = C * H_c * W_c
assert np.array_equal(dx, dr[:, :half].reshape(x.shape))
assert np.array_equal(dx_hat, dr[:, half:].reshape(x.shape))
W_full, b_full = rng.standard_normal((size, half)), rng.standard_normal(half)
out, cache = write_forward(h, W_full, b_full, (C, H_c, W_c))
dout = rng.standard_normal(out.shape)
dh, dW_full, db_full = write_backward(dout, cache)
flat = dout.reshape(n, -1)
assert np.allclose(dh, flat @ W_full.T) and np.allclose(dW_full, h.T @ flat)
assert np.allclose(db_full, flat.sum(axis=0))
print("  by hand == read_backward and write_backward: OK")

lesson.done()
