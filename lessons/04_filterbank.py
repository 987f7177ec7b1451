# %% [markdown]
# # Lesson 4: DRAW's attention, a grid of N x N Gaussian filters, and its backward pass
#
# What you will learn:
#
# * how five numbers from the decoder place the grid: centre $(g_X, g_Y)$, stride $\delta$,
#   filter variance $\sigma^2$ and intensity $\gamma$ (spec eqs. 21-24);
# * where the $N$ filter centres go (eqs. 19-20), with the paper's 1-based indices, and why
#   with $\tilde g = 0$ and odd $N$ the middle filter sits exactly on the image centre;
# * the filterbank matrices $F_X: N \times W$ and $F_Y: N \times H$, whose rows are normalised
#   Gaussians (eqs. 25-26), built by hand and checked against `draw_np.attention`;
# * **the filterbank's backward pass derived by hand**, with the normalisation's row-sum term
#   that is easy to forget (and what finite differences say when it is forgotten), and the
#   backward pass of eqs. 21-24; both asserted equal to the library in float64.

# %%
import matplotlib.pyplot as plt
import numpy as np

from draw_np.attention import (AttentionParams, NORMALISER_EPS, attention_params_backward,
                               attention_params_forward, filterbank, filterbank_backward,
                               filterbank_forward)
from draw_np.gradcheck import check_gradients
from draw_np.plot import plot_filterbank
from _common import Lesson, load_sample_digits

lesson = Lesson("Lesson 4: DRAW's attention, a grid of N x N Gaussian filters")

# %% [markdown]
# ## 1. Five numbers from the decoder state (eqs. 21-24)
#
# A linear map of $h^{dec}$ gives five unconstrained numbers, then each is put in range:
#
# $$(\tilde g_X, \tilde g_Y, \log\sigma^2, \log\tilde\delta, \log\gamma) = W h^{dec} + b \tag{21}$$
#
# $$g_X = \tfrac{W + 1}{2}(\tilde g_X + 1) \qquad
#   g_Y = \tfrac{H + 1}{2}(\tilde g_Y + 1) \tag{22, 23}$$
#
# $$\delta = \frac{\max(H, W) - 1}{N - 1}\,\tilde\delta \tag{24}$$
#
# $\tilde g$ from $-1$ to $1$ moves the centre across the image (pixel coordinates are 1-based,
# $1..W$); the exponentials keep $\sigma^2$, $\delta$ and $\gamma$ positive. The image here is
# 20 high and 28 wide: different sides, so a mixed-up $H$ and $W$ would show.

# %%
lesson.step("Five numbers from the decoder state (eqs. 21-24)")
H, W, N = 20, 28, 5
rng = np.random.default_rng(0)
h = rng.standard_normal((2, 6))
W_attn, b_attn = 0.3 * rng.standard_normal((6, 5)), 0.3 * rng.standard_normal(5)
a = h @ W_attn + b_attn
gx, gy = (W + 1) / 2 * (a[:, 0] + 1), (H + 1) / 2 * (a[:, 1] + 1)
sigma2, delta, gamma = np.exp(a[:, 2]), (max(H, W) - 1) / (N - 1) * np.exp(a[:, 3]), np.exp(a[:, 4])
params, _ = attention_params_forward(h, W_attn, b_attn, N, H, W)
for name, by_hand in zip(params._fields, (gx, gy, sigma2, delta, gamma)):
    assert np.allclose(getattr(params, name), by_hand), name
print(f"  by hand == attention_params_forward for {params._fields}: OK")

zero, _ = attention_params_forward(np.zeros((1, 6)), np.zeros((6, 5)), np.zeros(5), N, H, W)
print(f"  with everything zero: g_X = {zero.gx[0]}, g_Y = {zero.gy[0]}, delta = {zero.delta[0]}, "
      f"sigma^2 = {zero.sigma2[0]}, gamma = {zero.gamma[0]}")
assert zero.gx[0] == (W + 1) / 2 and zero.gy[0] == (H + 1) / 2   # the image centre
assert zero.delta[0] * (N - 1) == max(H, W) - 1                  # the grid spans the image

# %% [markdown]
# ## 2. Where the filters sit (eqs. 19-20), and the off-by-one to avoid
#
# Filter $i = 1..N$ (1-based, as in the paper) is centred at
#
# $$\mu_X^i = g_X + (i - N/2 - 0.5)\,\delta \tag{19}$$
#
# For odd $N$ the middle filter, $i = (N + 1)/2$, has offset 0: it sits exactly on $g_X$. In
# 0-based code ($i_0 = i - 1$) the offset is $i_0 - (N - 1)/2$. Plugging the 0-based $i_0$ into
# the paper's formula instead shifts the whole grid by one stride: a common bug in public code.

# %%
lesson.step("Where the filters sit (eqs. 19-20), and the off-by-one to avoid")
i = np.arange(1, N + 1)
mu_x = zero.gx[0] + (i - N / 2 - 0.5) * zero.delta[0]
wrong = zero.gx[0] + ((i - 1) - N / 2 - 0.5) * zero.delta[0]
print(f"  centres (1-based i):          {np.round(mu_x, 2).tolist()}")
print(f"  centres (0-based i, the bug): {np.round(wrong, 2).tolist()}")
assert mu_x[N // 2] == (W + 1) / 2 and mu_x[0] == 1 and mu_x[-1] == W   # first and last pixel

# %% [markdown]
# ## 3. The filterbank matrices (eqs. 25-26)
#
# Each filter is a Gaussian over pixel columns $a = 1..W$ (rows $b = 1..H$ for $F_Y$):
#
# $$F_X[i, a] = \frac{e_{ia}}{s_i}, \qquad
#   e_{ia} = \exp\Big(-\frac{(a - \mu_X^i)^2}{2\sigma^2}\Big),
# \qquad s_i = \sum_{a'} e_{ia'} + \epsilon \tag{25}$$
#
# The row sum $s_i$ makes each row sum to 1 ($\epsilon = 10^{-8}$, so a filter far outside the
# image gives a row of zeros rather than 0/0). $F_X$ is $N \times W$ and $F_Y$ is $N \times H$:
# reading is $F_Y x F_X^\top$ (lesson 5).

# %%
lesson.step("The filterbank matrices (eqs. 25-26)")
pixels = np.arange(1, W + 1)
mu = gx[:, None] + (i - N / 2 - 0.5) * delta[:, None]                        # (n, N)
unnormalised = np.exp(-(pixels - mu[:, :, None]) ** 2 / (2 * sigma2[:, None, None]))
Fx_by_hand = unnormalised / (unnormalised.sum(axis=2, keepdims=True) + NORMALISER_EPS)
Fx, Fy = filterbank(gx, gy, sigma2, delta, N, H, W)
print(f"  Fx: {Fx.shape} = (n, N, W),  Fy: {Fy.shape} = (n, N, H)")
assert Fx.shape == (2, N, W) and Fy.shape == (2, N, H)
assert np.allclose(Fx, Fx_by_hand)
mu_y = gy[:, None] + (i - N / 2 - 0.5) * delta[:, None]
inside_x, inside_y = (mu >= 1) & (mu <= W), (mu_y >= 1) & (mu_y <= H)
assert np.allclose(Fx.sum(axis=2)[inside_x], 1) and np.allclose(Fy.sum(axis=2)[inside_y], 1)
print("  by hand == filterbank, and every filter centred on the image sums to 1: OK")
worst = np.unravel_index(Fy.sum(axis=2).argmin(), mu_y.shape)
print(f"  (a filter centred well off the image fades out: mu_Y = {mu_y[worst]:.1f}, with H = {H},"
      f" has a row sum of {Fy.sum(axis=2)[worst]:.2f})")
far = filterbank(np.array([-500.0]), np.array([10.0]), np.array([1.0]), np.array([1.0]), N, H, W)[0]
assert np.isfinite(far).all() and np.allclose(far, 0)
print("  a grid far off the image gives rows of zeros, not NaN: OK")

# %% [markdown]
# ## 4. The filterbank's backward pass, derived
#
# Given $\bar F_X$ and $\bar F_Y$ (the loss's gradients with respect to the filters), we want
# $\bar g_X, \bar g_Y, \bar\sigma^2, \bar\delta$. Take one row of $F_X$ and drop the index $i$.
#
# **The normalisation.** $F_a = e_a / s$ with $s = \sum_{a'} e_{a'} + \epsilon$. Every $e_a$
# appears twice: in its own numerator and in the row sum that divides *all* the row's
# entries. So
#
# $$\bar e_a = \frac{\bar F_a}{s} - \sum_{a'} \bar F_{a'} \frac{e_{a'}}{s^2}
#            = \frac{1}{s}\Big(\bar F_a - \sum_{a'} \bar F_{a'} F_{a'}\Big).$$
#
# The second term is the **row-sum term**. Forgetting it gives $\bar e_a = \bar F_a / s$,
# which looks right and is wrong: we will see finite differences reject it.
#
# **The Gaussian.** $e_a = \exp(-(a - \mu)^2 / 2\sigma^2)$ gives
# $\partial e_a / \partial \mu = e_a (a - \mu)/\sigma^2$ and
# $\partial e_a / \partial \sigma^2 = e_a (a - \mu)^2 / 2\sigma^4$. Both carry a factor
# $e_a = s F_a$, so the $1/s$ above cancels:
#
# $$\bar\mu = \sum_a \Big(\bar F_a - \sum_{a'} \bar F_{a'} F_{a'}\Big) F_a \frac{a - \mu}{\sigma^2},
# \qquad
# \bar\sigma^2 \mathrel{+}= \sum_a \Big(\bar F_a - \sum_{a'} \bar F_{a'} F_{a'}\Big)
#   F_a \frac{(a - \mu)^2}{2\sigma^4}.$$
#
# **The grid.** $\mu_X^i = g_X + o_i\,\delta$ with offsets $o_i = i - N/2 - 0.5$, the same for
# $\mu_Y^j$. So $\bar g_X = \sum_i \bar\mu_X^i$, $\bar g_Y = \sum_j \bar\mu_Y^j$, and the stride and
# the variance, shared by both axes, collect from both:
# $\bar\delta = \sum_i o_i \bar\mu_X^i + \sum_j o_j \bar\mu_Y^j$,
# $\bar\sigma^2$ = the x part + the y part.
#
# We write this for each axis separately, with $F_X$, $F_Y$ from `filterbank_forward`, and
# compare with `filterbank_backward` (which computes both axes as one stack).

# %%
lesson.step("The filterbank's backward pass, derived by hand")
(Fx, Fy), fb_cache = filterbank_forward(gx, gy, sigma2, delta, N, H, W)
dFx, dFy = rng.standard_normal(Fx.shape), rng.standard_normal(Fy.shape)
offsets = i - N / 2 - 0.5


def axis_backward(dF, F, centre, side, row_sum_term=True):
    """dmu (n, N) and this axis's part of dsigma2 (n,), for one filterbank F (n, N, side)."""
    a = np.arange(1, side + 1)
    diff = a - (centre[:, None] + offsets * delta[:, None])[:, :, None]    # a - mu, (n, N, side)
    de_s = dF - (dF * F).sum(axis=2, keepdims=True) if row_sum_term else dF   # s * e-bar
    de_e = de_s * F                                                           # e-bar * e
    dmu = (de_e * diff).sum(axis=2) / sigma2[:, None]
    dsigma2 = (de_e * diff ** 2).sum(axis=(1, 2)) / (2 * sigma2 ** 2)
    return dmu, dsigma2


def filterbank_backward_by_hand(dFx, dFy, row_sum_term=True):
    dmu_x, dsigma2_x = axis_backward(dFx, Fx, gx, W, row_sum_term)
    dmu_y, dsigma2_y = axis_backward(dFy, Fy, gy, H, row_sum_term)
    return (dmu_x.sum(axis=1), dmu_y.sum(axis=1), dsigma2_x + dsigma2_y,
            dmu_x @ offsets + dmu_y @ offsets)


by_hand = filterbank_backward_by_hand(dFx, dFy)
library = filterbank_backward(dFx, dFy, fb_cache)
for name, ours, theirs in zip(("dgx", "dgy", "dsigma2", "ddelta"), by_hand, library):
    assert np.allclose(ours, theirs, rtol=1e-10, atol=1e-12), name
print("  by hand == filterbank_backward for dgx, dgy, dsigma2, ddelta: OK")

# %% [markdown]
# ## 5. Forget the row-sum term, and finite differences say so
#
# The same check as lesson 2, on $\langle \bar F_X, F_X\rangle + \langle \bar F_Y, F_Y\rangle$ as a
# function of $(g_X, g_Y, \sigma^2, \delta)$: the derivation passes at $10^{-7}$, the version
# without the row-sum term fails by orders of magnitude. (It would pass if every row's
# upstream gradient were the same constant, so the check needs a random $\bar F$.)

# %%
lesson.step("Forget the row-sum term, and finite differences say so")
inputs = {"gx": gx, "gy": gy, "sigma2": sigma2, "delta": delta}
filters = lambda: filterbank(gx, gy, sigma2, delta, N, H, W)
for row_sum_term in (True, False):
    grads = dict(zip(inputs, filterbank_backward_by_hand(dFx, dFy, row_sum_term)))
    errors = check_gradients(filters, inputs, grads, (dFx, dFy))
    print(f"  {'with' if row_sum_term else 'without'} the row-sum term: largest relative "
          f"error {max(errors.values()):.1e}")
    assert (max(errors.values()) < 1e-7) == row_sum_term

# %% [markdown]
# ## 6. Back through eqs. 21-24 to $h^{dec}$
#
# The last piece is the chain rule through the five maps of eqs. 22-24, each one number:
#
# $$\bar a = \Big[\tfrac{W+1}{2}\bar g_X,\ \tfrac{H+1}{2}\bar g_Y,\ \sigma^2\,\bar{\sigma^2},\
#   \delta\,\bar\delta,\ \gamma\,\bar\gamma\Big]$$
#
# (the derivative of $\exp$ is itself, and $\delta$ is a constant times $\exp(\log\tilde\delta)$),
# then the affine map of lesson 3: $\bar h = \bar a W^\top$, $\bar W = h^\top \bar a$,
# $\bar b = \sum \bar a$. $\bar\gamma$ comes from read or write (lesson 5); here it is random.

# %%
lesson.step("Back through eqs. 21-24 to the decoder state")
params, params_cache = attention_params_forward(h, W_attn, b_attn, N, H, W)
dgx, dgy, dsigma2, ddelta = library
dgamma = rng.standard_normal(gamma.shape)
da = np.stack([(W + 1) / 2 * dgx, (H + 1) / 2 * dgy, sigma2 * dsigma2, delta * ddelta,
               gamma * dgamma], axis=1)
dh, dW_attn, db_attn = attention_params_backward(
    AttentionParams(dgx, dgy, dsigma2, ddelta, dgamma), params_cache)
assert np.allclose(dh, da @ W_attn.T) and np.allclose(dW_attn, h.T @ da)
assert np.allclose(db_attn, da.sum(axis=0))
print("  by hand == attention_params_backward for dh, dW, db: OK")

# %% [markdown]
# ## 7. Look at the filters
#
# Left: the $N = 5$ rows of $F_X$ for the centred grid, for two variances; wide filters blur,
# narrow ones pick single columns. Right: the filter centres $(\mu_X^i, \mu_Y^j)$ laid over a
# digit for three settings: the whole image, a zoom on the centre, and a small off-centre
# patch. This is all the attention is: where to look ($g$), how big a patch ($\delta$), how
# sharp ($\sigma^2$).

# %%
lesson.step("Look at the filters")
digit = load_sample_digits()[0][0]
fig, axes = plt.subplots(1, 4, figsize=(13, 3.2))
for s2, style in ((1.0, "-"), (9.0, ":")):
    rows = filterbank(zero.gx, zero.gy, np.array([s2]), zero.delta, N, H, W)[0][0]
    for k, row in enumerate(rows):
        axes[0].plot(pixels, row, style, color=f"C{k}",
                     label=f"$\\sigma^2$ = {s2:g}" if k == 0 else None)
axes[0].set_xlabel("pixel column a")
axes[0].set_title("rows of $F_X$ (centred grid)")
axes[0].legend(fontsize=8)
settings = [("whole image", 14.5, 14.5, 6.75), ("zoom on centre", 14.5, 14.5, 2.0),
            ("small patch, top left", 9.0, 8.0, 1.2)]
for ax, (title, g_x, g_y, d) in zip(axes[1:], settings):
    centres = g_x + (i - N / 2 - 0.5) * d, g_y + (i - N / 2 - 0.5) * d
    ax.imshow(digit, cmap="gray_r")           # imshow puts 1-based pixel a at a - 1
    cx, cy = np.meshgrid(centres[0] - 1, centres[1] - 1)
    ax.plot(cx, cy, "o", color="tab:red", markersize=4)
    ax.set_title(f"{title}\ng = ({g_x}, {g_y}), delta = {d}", fontsize=9)
    ax.axis("off")
fig.suptitle("DRAW's attention grid: N x N Gaussian filters (eqs. 19-26)", y=1.05)
lesson.save(fig, "04_filterbank.png")

# %% [markdown]
# `draw_np.plot.plot_filterbank` draws the paper's Figure 3 the same way: three $12 \times 12$ reads
# of one digit, with different strides and variances, and the patches they return. Small
# $\delta$ and large $\sigma^2$ zoom in and blur; large $\delta$ and small $\sigma^2$ downsample.

# %%
lesson.save(plot_filterbank(digit.astype(np.float64), N=12), "04_paper_figure3.png")

lesson.done()
