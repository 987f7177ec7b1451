"""Lesson 4: DRAW's attention, a grid of N x N Gaussian filters (spec eqs. 19-26).

What you will learn:
  * how five numbers from the decoder place the grid: centre (g_X, g_Y), stride delta,
    filter variance sigma^2 and intensity gamma (eqs. 21-24);
  * where the N filter centres go (eqs. 19-20), with the paper's 1-based indices, and why
    with g~ = 0 and odd N the middle filter sits exactly on the image centre;
  * the filterbank matrices F_X: (N, W) and F_Y: (N, H), whose rows are normalised Gaussians
    (eqs. 25-26), built by hand and checked against draw_np.attention.

Run:  python lessons/04_filterbank.py [--pause] [--fast] [--out DIR] [--show]
"""
# %%
import matplotlib.pyplot as plt
import numpy as np

from draw_np.attention import attention_params_forward, filterbank
from draw_np.plot import plot_filterbank
from _common import Lesson, load_sample_digits

lesson = Lesson(__doc__)

# %%
lesson.step("Five numbers from the decoder state (eqs. 21-24)", """
    A linear map of h^dec gives five unconstrained numbers, then each is put in range:
        (g~_X, g~_Y, log sigma^2, log delta~, log gamma) = W h^dec + b          (21)
        g_X = (W + 1)/2 (g~_X + 1)      g_Y = (H + 1)/2 (g~_Y + 1)              (22, 23)
        delta = (max(H, W) - 1)/(N - 1) delta~                                  (24)
    g~ from -1 to 1 moves the centre across the image (pixel coordinates are 1-based, 1..W);
    the exps keep sigma^2, delta and gamma positive. The image here is 20 high and 28 wide:
    different sides, so a mixed-up H and W would show.
""")
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

# %%
lesson.step("Where the filters sit (eqs. 19-20), and the off-by-one to avoid", """
    Filter i = 1..N (1-based, as in the paper) is centred at
        mu_X^i = g_X + (i - N/2 - 0.5) delta                                    (19)
    For odd N the middle filter, i = (N + 1)/2, has offset 0: it sits exactly on g_X. In
    0-based code (i0 = i - 1) the offset is i0 - (N - 1)/2. Plugging the 0-based i0 into the
    paper's formula instead shifts the whole grid by one stride: a common bug in public code.
""")
i = np.arange(1, N + 1)
mu_x = zero.gx[0] + (i - N / 2 - 0.5) * zero.delta[0]
wrong = zero.gx[0] + ((i - 1) - N / 2 - 0.5) * zero.delta[0]
print(f"  centres (1-based i):          {np.round(mu_x, 2).tolist()}")
print(f"  centres (0-based i, the bug): {np.round(wrong, 2).tolist()}")
assert mu_x[N // 2] == (W + 1) / 2 and mu_x[0] == 1 and mu_x[-1] == W   # first and last pixel

# %%
lesson.step("The filterbank matrices (eqs. 25-26)", """
    Each filter is a Gaussian over pixel columns a = 1..W (rows b = 1..H for F_Y):
        F_X[i, a] = exp(-(a - mu_X^i)^2 / (2 sigma^2)) / Z_X                    (25)
    Z_X makes each row sum to 1 (plus 1e-8, so a filter far outside the image gives a row of
    zeros rather than 0/0). F_X is (N, W) and F_Y is (N, H): reading is F_Y x F_X^T (lesson 5).
""")
pixels = np.arange(1, W + 1)
mu = gx[:, None] + (i - N / 2 - 0.5) * delta[:, None]                        # (n, N)
unnormalised = np.exp(-(pixels - mu[:, :, None]) ** 2 / (2 * sigma2[:, None, None]))
Fx_by_hand = unnormalised / (unnormalised.sum(axis=2, keepdims=True) + 1e-8)
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

# %%
lesson.step("Look at the filters", """
    Left: the N = 5 rows of F_X for the centred grid, for two variances; wide filters blur,
    narrow ones pick single columns. Right: the filter centres (mu_X^i, mu_Y^j) laid over a
    digit for three settings: the whole image, a zoom on the centre, and a small off-centre
    patch. This is all the attention is: where to look (g), how big a patch (delta), how
    sharp (sigma^2).
""")
digit = load_sample_digits()[0][0]
fig, axes = plt.subplots(1, 4, figsize=(13, 3.2))
for s2, style in ((1.0, "-"), (9.0, ":")):
    rows = filterbank(zero.gx, zero.gy, np.array([s2]), zero.delta, N, H, W)[0][0]
    for k, row in enumerate(rows):
        axes[0].plot(pixels, row, style, color=f"C{k}",
                     label=f"sigma^2 = {s2:g}" if k == 0 else None)
axes[0].set_xlabel("pixel column a")
axes[0].set_title("rows of F_X (centred grid)")
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
lesson.say("""
    draw_np.plot.plot_filterbank draws the paper's Figure 3 the same way: three 12 x 12 reads of
    one digit, with different strides and variances, and the patches they return. Small
    delta and large sigma^2 zoom in and blur; large delta and small sigma^2 downsample.
""")
lesson.save(plot_filterbank(digit.astype(np.float64), N=12), "04_paper_figure3.png")

lesson.done()
