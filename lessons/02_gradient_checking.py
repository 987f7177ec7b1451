# %% [markdown]
# # Lesson 2: gradient checking, the test every hand-written backward pass must pass
#
# What you will learn:
#
# * central differences, $\frac{f(x + h) - f(x - h)}{2h}$, and why they beat one-sided ones;
# * why the check runs in float64 (with float32 the rounding error swamps the answer);
# * how to check a function with many outputs: a random upstream gradient $\overline{\text{out}}$,
#   the scalar $L = \sum \text{out} \odot \overline{\text{out}}$, and the relative error
#   $\frac{\max|a - b|}{\max(10^{-8},\ \max|a| + \max|b|)}$;
# * that $\overline{\text{out}} = \mathbf{1}$ (all ones) can hide a transposed gradient, and a
#   random $\overline{\text{out}}$ catches it.
#
# Every backward pass in draw_np is checked this way (`draw_np/gradcheck.py`); the lessons
# that follow use the same checker.

# %%
import matplotlib.pyplot as plt
import numpy as np

from draw_np.gradcheck import check_gradients, numerical_gradient, rel_error
from draw_np.linear import linear_backward, linear_forward
from _common import Lesson

lesson = Lesson("Lesson 2: gradient checking, the test every hand-written backward pass must pass")

# %% [markdown]
# ## 1. Central differences, and the step size $h$
#
# The derivative of $f$ at $x$ is the slope of a very short chord. The one-sided chord has an
# error of order $h$ (the curvature term survives), the centred one an error of order $h^2$
# (the curvature terms cancel):
#
# $$\frac{f(x + h) - f(x)}{h} = f'(x) + O(h), \qquad
#   \frac{f(x + h) - f(x - h)}{2h} = f'(x) + O(h^2).$$
#
# But $h$ cannot be tiny: $f$ is only known to about machine epsilon ($10^{-16}$ in float64,
# $6 \times 10^{-8}$ in float32), and the division by $h$ magnifies that rounding error by
# $1/h$.
#
# We try $f = \sin$ at $x = 1$, whose derivative $\cos 1$ we know exactly, for $h$ from
# $10^{-1}$ down to $10^{-12}$.

# %%
lesson.step("Central differences, and the step size h")
hs = 10.0 ** -np.arange(1, 13)
errors = {}
for dtype in (np.float64, np.float32):
    x, exact = dtype(1.0), np.cos(1.0)
    one_sided = [abs((np.sin(x + dtype(h)) - np.sin(x)) / dtype(h) - exact) for h in hs]
    central = [abs((np.sin(x + dtype(h)) - np.sin(x - dtype(h))) / dtype(2 * h) - exact)
               for h in hs]
    errors[dtype.__name__] = (one_sided, central)
print("        h    one-sided f64    central f64    central f32")
for k, h in enumerate(hs):
    print(f"  {h:7.0e}    {errors['float64'][0][k]:13.1e}  {errors['float64'][1][k]:13.1e}"
          f"  {errors['float32'][1][k]:13.1e}")
best64 = min(errors["float64"][1])
best32 = min(errors["float32"][1])
print(f"  best central error: float64 {best64:.0e}, float32 {best32:.0e}")
assert best64 < 1e-10 and best32 > 1e-6   # float64 is the only useful precision for checking
assert errors["float64"][1][5] < 1e-9     # h = 1e-6 is a good choice: draw_np's default

fig, ax = plt.subplots(figsize=(6, 4))
ax.loglog(hs, errors["float64"][0], "o-", label="one-sided, float64")
ax.loglog(hs, errors["float64"][1], "o-", label="central, float64")
ax.loglog(hs, errors["float32"][1], "o-", label="central, float32")
ax.set_xlabel("step h")
ax.set_ylabel("|estimate - true derivative|")
ax.set_title("too big: truncation error; too small: rounding error")
ax.legend()
lesson.save(fig, "02_step_size.png")

# %% [markdown]
# ## 2. Many inputs and outputs: a random upstream gradient
#
# A layer maps arrays to arrays. Backprop is handed
# $\overline{\text{out}} = \partial L / \partial\,\text{out}$ from above and returns
# $\partial L / \partial\,\text{input}$. To check it, fix a random $\overline{\text{out}}$ and
# define the scalar
#
# $$L = \sum \text{out} \odot \overline{\text{out}}, \qquad \text{so that} \qquad
#   \frac{\partial L}{\partial\,\text{out}} = \overline{\text{out}} \ \text{exactly}.$$
#
# Then nudge each input element by $\pm h$ and take central differences of $L$. We do this
# by hand for the weights of the affine map $y = xW + b$ (whose backward pass says
# $\bar W = x^\top \bar y$), and compare with `draw_np.gradcheck.numerical_gradient`, which
# does the same loop.

# %%
lesson.step("Many inputs and outputs: a random upstream gradient")
rng = np.random.default_rng(0)
x, W, b = rng.standard_normal((4, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4)
dout = rng.standard_normal((4, 4))
h = 1e-6
num_dW = np.zeros_like(W)
for idx in np.ndindex(W.shape):
    W_plus, W_minus = W.copy(), W.copy()
    W_plus[idx] += h
    W_minus[idx] -= h
    num_dW[idx] = ((linear_forward(x, W_plus, b)[0] * dout).sum()
                   - (linear_forward(x, W_minus, b)[0] * dout).sum()) / (2 * h)
y, cache = linear_forward(x, W, b)
_, dW, _ = linear_backward(dout, cache)
library_num = numerical_gradient(lambda: linear_forward(x, W, b)[0], W, dout)
assert np.allclose(num_dW, library_num, rtol=0, atol=1e-12)

err_by_hand = np.abs(dW - num_dW).max() / max(1e-8, np.abs(dW).max() + np.abs(num_dW).max())
assert err_by_hand == rel_error(dW, num_dW)
print(f"  relative error of dW = x^T dy: {err_by_hand:.1e}   (a single op should be < 1e-7)")
assert err_by_hand < 1e-7

# %% [markdown]
# ## 3. A checker that catches a transposed gradient
#
# Now a buggy backward pass: it computes $\bar W = x^\top \bar y^\top$ where it should use
# $\bar y$ (an easy slip when the batch size equals the output size, because the shapes still
# fit). We run the checker twice: with $\overline{\text{out}} = \mathbf{1}$ (all ones), and
# with a random $\overline{\text{out}}$.
#
# With all ones, $\bar y^\top = \bar y$, so the bug is invisible and the check passes. A
# random $\overline{\text{out}}$ weights every output element differently, so the transposed
# gradient cannot hide. This is why every check here uses a random upstream gradient.

# %%
lesson.step("A checker that catches a transposed gradient")


def buggy_linear_backward(dy, cache):
    x, W = cache
    return dy @ W.T, x.T @ dy.T, dy.sum(axis=0)   # BUG: dy.T instead of dy in dW


def check_buggy(dout):
    _, cache = linear_forward(x, W, b)
    dx, dW, db = buggy_linear_backward(dout, cache)
    return check_gradients(lambda: linear_forward(x, W, b)[0], {"x": x, "W": W, "b": b},
                           {"x": dx, "W": dW, "b": db}, dout)


def show(errors):
    return ", ".join(f"{name}: {err:.0e}" for name, err in errors.items())


with_ones = check_buggy(np.ones((4, 4)))
with_random = check_buggy(dout)
print(f"  dout = ones:   relative errors {show(with_ones)}")
print(f"  dout = random: relative errors {show(with_random)}")
assert with_ones["W"] < 1e-7          # fooled
assert with_random["W"] > 1e-2        # caught
assert with_random["x"] < 1e-7 and with_random["b"] < 1e-7   # and it names the culprit

# %% [markdown]
# ## 4. The rules, as draw_np applies them
#
# * float64 everywhere in a check (`numerical_gradient` refuses float32 arrays);
# * $h = 10^{-6}$, central differences;
# * a random upstream gradient, and every parameter randomised, biases too;
# * relative error below about $10^{-7}$ for one op, $10^{-5}$ for the whole unrolled model;
# * a hard assert, never a print.
#
# The checker perturbs the arrays in place, so $f$ must read them (not copies of them).

# %%
lesson.step("The rules, as draw_np applies them")
try:
    numerical_gradient(lambda: x, x.astype(np.float32), dout)
except ValueError as exc:
    print(f"  float32 refused: {exc}")
else:
    raise AssertionError("numerical_gradient should refuse float32")
final = check_gradients(lambda: linear_forward(x, W, b)[0], {"x": x, "W": W, "b": b},
                        dict(zip("xWb", linear_backward(dout, cache))), dout)
print(f"  the real linear_backward: {show(final)}")
assert max(final.values()) < 1e-7

lesson.done()
