# %% [markdown]
# # Lesson 13: the read and write heads, for images with C channels
#
# What you will learn:
#
# * what a **head** is (`draw_np.heads`): lesson 4's attention (eqs. 21-24 and 19-26) and lesson
#   5's products (eqs. 27-29) bundled into one layer that owns its parameters, by name;
# * that one head serves grey images $(n, H, W)$ and colour ones $(n, C, H, W)$: one glimpse,
#   the same filters for every plane;
# * **the heads' backward passes assembled by hand** from the layers' backward passes and
#   asserted equal to `read_head_backward` and `write_head_backward` in float64: the gradient
#   that reaches the glimpse from every plane, and the write head's two paths into $h$;
# * the heads without attention ($N$ = None), and a finite-difference check of a colour head.
#
# DRAW (lessons 7-8) uses a read head placed by $h^{dec}_{t-1}$ and a write head placed by
# $h^{dec}_t$; the attention classifier of lesson 12 uses a read head alone.

# %%
import numpy as np

from draw_np.attention import (AttentionParams, attention_params_backward,
                               attention_params_forward, filterbank_backward, filterbank_forward)
from draw_np.gradcheck import check_gradients
from draw_np.heads import (read_head_backward, read_head_forward, read_head_param_shapes,
                           write_head_backward, write_head_forward, write_head_param_shapes)
from draw_np.readwrite import (read_attention_backward, read_attention_forward,
                               write_attention_backward, write_attention_forward)
from _common import Lesson

lesson = Lesson("Lesson 13: the read and write heads, for images with C channels")
rng = np.random.default_rng(0)
n, C, H, W, hidden, N = 2, 3, 9, 11, 6, 4      # sides that all differ

# %% [markdown]
# ## 1. A head owns its parameters
#
# A model's parameter table is the union of its layers'. A read head called `"read"` owns the
# attention map of eq. 21, `read_attn.W` $(\text{hidden}, 5)$ and `read_attn.b`; a write head
# called `"write"` owns that too, and the patch map of eq. 28, `write.W`
# $(\text{hidden}, C N^2)$ and `write.b`. Without attention a read head owns nothing (it
# copies the images) and a write head only the map to a whole canvas, $(\text{hidden}, CHW)$.

# %%
lesson.step("A head owns its parameters")
shapes = {**read_head_param_shapes("read", hidden, N),
          **write_head_param_shapes("write", hidden, N, (C, H, W))}
for name, shape in shapes.items():
    print(f"  {name:13s} {shape}")
assert shapes["write.W"] == (hidden, C * N * N)
assert write_head_param_shapes("write", hidden, None, (C, H, W))["write.W"] == (hidden, C * H * W)
assert read_head_param_shapes("read", hidden, None) == {}
params = {name: 0.3 * rng.standard_normal(shape) for name, shape in shapes.items()}
params["read_attn.b"] = params["write_attn.b"] = np.array([0.0, 0.0, 0.5, 0.0, 0.0])

# %% [markdown]
# ## 2. The read head, forward
#
# $$(g_X, g_Y, \sigma^2, \delta, \gamma) = \text{attention}(h) \ (21\text{-}24) \qquad
#   F_X, F_Y = \text{filterbank}(g_X, g_Y, \sigma^2, \delta)\ (19\text{-}26) \qquad
#   r = \gamma\,[F_Y X^{(p)} F_X^\top]_p\ (27)$$
#
# over every plane $p$ of every image it is given: DRAW gives it $(x, \hat x_t)$, $2C$ planes.

# %%
lesson.step("The read head, forward")
h = rng.standard_normal((n, hidden))
x = rng.uniform(size=(n, C, H, W))
x_hat = x - rng.uniform(size=(n, C, H, W))
at, at_cache = attention_params_forward(h, params["read_attn.W"], params["read_attn.b"], N, H, W)
(Fx, Fy), fb_cache = filterbank_forward(at.gx, at.gy, at.sigma2, at.delta, N, H, W)
r_by_hand, read_cache = read_attention_forward((x, x_hat), Fx, Fy, at.gamma)
r, head_cache = read_head_forward(params, "read", h, (x, x_hat), N)
assert np.allclose(r, r_by_hand) and r.shape == (n, 2 * C * N * N)
print(f"  by hand == read_head_forward: r {r.shape} = (n, 2 C N^2): OK")

# %% [markdown]
# ## 3. The read head, backward: three layers undone in turn
#
# Given $\bar r$: lesson 5's read backward gives $\bar X$ for each image (only where asked: DRAW
# asks for $\bar{\hat x}$ but not $\bar x$, which is data), and $\bar F_X, \bar F_Y, \bar\gamma$, each
# **summed over all $2C$ planes**, since one filterbank read them all. Lesson 4's filterbank
# backward turns $\bar F_X, \bar F_Y$ into $\bar g_X, \bar g_Y, \bar\sigma^2, \bar\delta$, and the
# attention map's backward turns those five (with $\bar\gamma$) into $\bar h$ and the head's
# $\bar W, \bar b$.

# %%
lesson.step("The read head, backward: three layers undone in turn")
dr = rng.standard_normal(r.shape)
(dx, dx_hat), dFx, dFy, dgamma = read_attention_backward(dr, read_cache, wrt=(False, True))
assert dx is None                                   # x is data: no gradient asked, none made
dgx, dgy, dsigma2, ddelta = filterbank_backward(dFx, dFy, fb_cache)
dh, dW, db = attention_params_backward(AttentionParams(dgx, dgy, dsigma2, ddelta, dgamma),
                                       at_cache)
head = read_head_backward(dr, head_cache, wrt=(False, True))
assert head.dimages[0] is None and np.allclose(head.dimages[1], dx_hat)
assert np.allclose(head.dh, dh)
assert np.allclose(head.params["read_attn.W"], dW) and np.allclose(head.params["read_attn.b"], db)
print(f"  by hand == read_head_backward for dx^, dh and {sorted(head.params)}: OK")

# %% [markdown]
# ## 4. The write head: two paths into $h$
#
# The write head uses $h$ twice: to place its glimpse (eqs. 21-24) *and* to make the patches
# $w = hW + b$ (eq. 28). So $\bar h$ is the sum of two paths, one from lesson 5's write backward
# (through the patches) and one from the glimpse's backward (through the filters and
# $\gamma$). The canvas update has the canvas's shape, $(n, C, H, W)$.

# %%
lesson.step("The write head: two paths into h")
at, at_cache = attention_params_forward(h, params["write_attn.W"], params["write_attn.b"], N, H, W)
(Fx, Fy), fb_cache = filterbank_forward(at.gx, at.gy, at.sigma2, at.delta, N, H, W)
update_by_hand, write_cache = write_attention_forward(h, params["write.W"], params["write.b"],
                                                      Fx, Fy, at.gamma, C)
update, head_cache = write_head_forward(params, "write", h, N, (C, H, W))
assert np.allclose(update, update_by_hand) and update.shape == (n, C, H, W)
dupdate = rng.standard_normal(update.shape)
dh_patches, dW, db, dFx, dFy, dgamma = write_attention_backward(dupdate, write_cache)
dh_glimpse, dW_attn, db_attn = attention_params_backward(
    AttentionParams(*filterbank_backward(dFx, dFy, fb_cache), dgamma), at_cache)
head = write_head_backward(dupdate, head_cache)
assert np.allclose(head.dh, dh_patches + dh_glimpse)
for name, ours in (("write.W", dW), ("write.b", db), ("write_attn.W", dW_attn),
                   ("write_attn.b", db_attn)):
    assert np.allclose(head.params[name], ours), name
print("  by hand == write_head_backward: dh = (through the patches) + (through the glimpse): OK")
print(f"  the two paths, mean |dh|: patches {np.abs(dh_patches).mean():.3f}, "
      f"glimpse {np.abs(dh_glimpse).mean():.3f}")

# %% [markdown]
# ## 5. Finite differences on a colour head, and heads without attention
#
# The last word goes to finite differences: the write head's update as a function of $h$ and
# of all four of its parameters. Then the heads with $N$ = None: the read head returns the
# images flattened (eq. 17) and ignores $h$ (its $\bar h$ is None); the write head is an affine
# map to a whole canvas (eq. 18).

# %%
lesson.step("Finite differences on a colour head, and heads without attention")
write_params = {k: v for k, v in params.items() if k.startswith("write")}
errors = check_gradients(lambda: write_head_forward(params, "write", h, N, (C, H, W))[0],
                         {"h": h, **write_params}, {"h": head.dh, **head.params}, dupdate)
print(f"  write head, against finite differences: largest relative error "
      f"{max(errors.values()):.0e}")
assert max(errors.values()) < 1e-7

r, cache = read_head_forward({}, "read", h, (x, x_hat), None)
assert np.array_equal(r, np.concatenate([x.reshape(n, -1), x_hat.reshape(n, -1)], axis=1))
plain = read_head_backward(rng.standard_normal(r.shape), cache)
assert plain.dh is None and plain.params == {}
full = {"write.W": rng.standard_normal((hidden, C * H * W)), "write.b": np.zeros(C * H * W)}
update, cache = write_head_forward(full, "write", h, None, (C, H, W))
assert np.allclose(update, (h @ full["write.W"]).reshape(n, C, H, W))
print("  without attention: read copies the images, write is h W + b reshaped: OK")

lesson.done()
