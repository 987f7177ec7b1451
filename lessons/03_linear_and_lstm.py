# %% [markdown]
# # Lesson 3: the affine map and the LSTM step, forward and backward
#
# What you will learn:
#
# * the forward/backward contract: `out, cache = f_forward(...)`, `grads = f_backward(dout, cache)`,
#   with the cache a NamedTuple of named arrays, and no state kept in between;
# * $y = xW + b$ and its three gradients;
# * one LSTM step (spec, "LSTM"), built by hand from its four gates $[i, f, o, g]$;
# * **its backward pass derived by hand**, gate by gate, and asserted equal to
#   `draw_np.lstm.lstm_backward` in float64; then checked against finite differences;
# * what the forget gate does to the memory cell over many steps.

# %%
import matplotlib.pyplot as plt
import numpy as np

from draw_np.activations import sigmoid
from draw_np.gradcheck import check_gradients
from draw_np.linear import linear_backward, linear_forward
from draw_np.lstm import lstm_backward, lstm_forward
from _common import Lesson

lesson = Lesson("Lesson 3: the affine map and the LSTM step, forward and backward")
rng = np.random.default_rng(0)
n, n_in, size = 3, 5, 4          # sides that all differ, so a transposed array cannot fit
show = lambda errors: ", ".join(f"{k}: {v:.0e}" for k, v in errors.items())

# %% [markdown]
# ## 1. The affine map $y = xW + b$
#
# Every learned map in DRAW is $y = xW + b$ with $x$: (n, in), $W$: (in, out), $b$: (out,).
# Backward, from $\bar y = \partial L / \partial y$ (a bar means "gradient of the loss"):
#
# $$\bar x = \bar y\, W^\top \qquad \bar W = x^\top \bar y \qquad
#   \bar b = \textstyle\sum_{\text{batch}} \bar y$$
#
# Each is the only product of $\bar y$ with the other factor whose shape fits.

# %%
lesson.step("The affine map y = x W + b")
x = rng.standard_normal((n, n_in))
W, b = rng.standard_normal((n_in, size)), rng.standard_normal(size)
y, cache = linear_forward(x, W, b)
assert np.allclose(y, x @ W + b)
print(f"  cache is a {type(cache).__name__} with fields {cache._fields}")
dy = rng.standard_normal(y.shape)
dx, dW, db = linear_backward(dy, cache)
assert np.allclose(dx, dy @ W.T) and np.allclose(dW, x.T @ dy) and np.allclose(db, dy.sum(0))
errors = check_gradients(lambda: linear_forward(x, W, b)[0], {"x": x, "W": W, "b": b},
                         {"x": dx, "W": dW, "b": db}, dy)
print(f"  by hand == linear_backward; gradient check (relative errors): {show(errors)}")
assert max(errors.values()) < 1e-7

# %% [markdown]
# ## 2. An LSTM step by hand, from its four gates
#
# One fused affine map of $u = [x, h_{\text{prev}}]$ gives four blocks of pre-activations, in
# the order $[i, f, o, g]$:
#
# $$a = uW + b, \qquad W: (\text{in} + \text{size}) \times 4\,\text{size}$$
#
# $$i = \sigma(a_i) \quad f = \sigma(a_f) \quad o = \sigma(a_o) \quad g = \tanh(a_g)$$
#
# $$c = f \odot c_{\text{prev}} + i \odot g \qquad h = o \odot \tanh(c)$$
#
# $i$ is the input gate (how much new content to write), $f$ the forget gate (how much of the
# old cell to keep), $o$ the output gate (how much of the cell to show as $h$), $g$ the
# candidate content. DRAW's encoder (eq. 5) and decoder (eq. 7) are each one of these,
# applied $T$ times.

# %%
lesson.step("An LSTM step by hand, from its four gates")
x = rng.standard_normal((n, n_in))
h_prev, cell_prev = rng.standard_normal((n, size)), rng.standard_normal((n, size))
W, b = 0.5 * rng.standard_normal((n_in + size, 4 * size)), rng.standard_normal(4 * size)

u = np.concatenate([x, h_prev], axis=1)
a = u @ W + b
a_i, a_f, a_o, a_g = np.split(a, 4, axis=1)
i, f, o, g = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o), np.tanh(a_g)
cell_by_hand = f * cell_prev + i * g
h_by_hand = o * np.tanh(cell_by_hand)

(h, cell), lstm_cache = lstm_forward(x, h_prev, cell_prev, W, b)
assert np.allclose(h, h_by_hand) and np.allclose(cell, cell_by_hand)
print("  by hand == lstm_forward: OK")
print(f"  its cache keeps what backward needs: {lstm_cache._fields}")

# %% [markdown]
# ## 3. The LSTM backward pass, derived
#
# The step has two outputs, $h$ and $c$, and the cell also flows on to the next step, so it
# receives two upstream gradients, $\bar h$ and $\bar c_{\text{next}}$ (zero at the last step).
# Walk the forward lines backwards, one product rule at a time:
#
# 1. $h = o \odot \tanh(c)$ gives $\bar o = \bar h \odot \tanh(c)$, and $c$ collects a second
#    gradient through the $\tanh$:
#    $\bar c = \bar c_{\text{next}} + \bar h \odot o \odot (1 - \tanh^2 c)$.
# 2. $c = f \odot c_{\text{prev}} + i \odot g$ gives
#    $\bar i = \bar c \odot g$, $\bar f = \bar c \odot c_{\text{prev}}$,
#    $\bar g = \bar c \odot i$ and $\bar c_{\text{prev}} = \bar c \odot f$: the memory's
#    gradient is multiplied by $f$ each step.
# 3. Through the nonlinearities, with $\sigma' = \sigma(1-\sigma)$ and $\tanh' = 1 - \tanh^2$:
#    $$\bar a = [\bar i \odot i(1-i),\ \bar f \odot f(1-f),
#      \ \bar o \odot o(1-o),\ \bar g \odot (1-g^2)].$$
# 4. $a = uW + b$ is the affine map of step 1: $\bar u = \bar a W^\top$, $\bar W = u^\top \bar a$,
#    $\bar b = \sum \bar a$; and $u = [x, h_{\text{prev}}]$ splits $\bar u$ into $\bar x$ and
#    $\bar h_{\text{prev}}$.
#
# We write exactly these lines, with the forward values from the cell above, and assert that
# they equal `lstm_backward` in float64.

# %%
lesson.step("The LSTM backward pass, derived by hand")
dh, dcell_next = rng.standard_normal((n, size)), rng.standard_normal((n, size))
tanh_cell = np.tanh(cell_by_hand)
do = dh * tanh_cell                                                      # 1.
dcell = dcell_next + dh * o * (1 - tanh_cell ** 2)
di, df, dg, dcell_prev = dcell * g, dcell * cell_prev, dcell * i, dcell * f   # 2.
da = np.concatenate([di * i * (1 - i), df * f * (1 - f),                 # 3.
                     do * o * (1 - o), dg * (1 - g ** 2)], axis=1)
du, dW, db = da @ W.T, u.T @ da, da.sum(axis=0)                          # 4.
dx, dh_prev = du[:, :n_in], du[:, n_in:]

grads = lstm_backward(dh, dcell_next, lstm_cache)
for name, by_hand in (("dx", dx), ("dh_prev", dh_prev), ("dcell_prev", dcell_prev),
                      ("dW", dW), ("db", db)):
    assert np.allclose(getattr(grads, name), by_hand, rtol=1e-12, atol=1e-14), name
print(f"  by hand == lstm_backward for all of {grads._fields}: OK")

# %% [markdown]
# ## 4. ... and against finite differences
#
# Both the derivation and the library could share a mistake, so the last word goes to the
# definition of a derivative (lesson 2): nudge every input and parameter, and compare the
# slope of $\langle \bar h, h\rangle + \langle \bar c_{\text{next}}, c\rangle$ with our gradients.

# %%
lesson.step("The LSTM backward pass against finite differences")
errors = check_gradients(
    lambda: lstm_forward(x, h_prev, cell_prev, W, b)[0],
    {"x": x, "h_prev": h_prev, "cell_prev": cell_prev, "W": W, "b": b},
    {"x": dx, "h_prev": dh_prev, "cell_prev": dcell_prev, "W": dW, "b": db},
    (dh, dcell_next))
print(f"  gradient check (relative errors): {show(errors)}")
assert max(errors.values()) < 1e-7

# %% [markdown]
# ## 5. What the gates mean: a memory that leaks at the rate of $f$
#
# Close the input gate ($i = 0$) and the cell becomes $c_t = f\, c_{t-1}$: it keeps a fraction
# $f$ per step. With the forget gate's bias at 4, $f = \sigma(4) = 0.98$ and the memory lasts
# for dozens of steps; at 0 it halves every step. Gradients flow back along the same path,
# multiplied by $f$ each step ($\bar c_{\text{prev}} = \bar c \odot f$ above), which is why
# LSTMs can learn over DRAW's 64 steps.

# %%
lesson.step("What the gates mean: a memory that leaks at the rate of f")
steps = 30
fig, ax = plt.subplots(figsize=(6, 3.5))
for forget_bias in (0.0, 2.0, 4.0, 8.0):
    b_gates = np.zeros(4 * size)
    b_gates[:size] = -30.0                       # input gate shut: sigmoid(-30) ~ 1e-13
    b_gates[size:2 * size] = forget_bias          # forget gate
    h_t, cell_t = np.zeros((1, size)), np.ones((1, size))
    trace = [1.0]
    for _ in range(steps):
        (h_t, cell_t), _ = lstm_forward(np.zeros((1, n_in)), h_t, cell_t,
                                        np.zeros((n_in + size, 4 * size)), b_gates)
        trace.append(cell_t[0, 0])
    assert np.allclose(trace, sigmoid(forget_bias) ** np.arange(steps + 1))
    ax.plot(trace, label=f"forget bias {forget_bias:g}: f = {sigmoid(forget_bias):.3f}")
ax.set_xlabel("step t")
ax.set_ylabel("$c_t$ (started at 1)")
ax.set_title("with the input gate shut, the cell decays as $f^t$")
ax.legend(fontsize=8)
lesson.save(fig, "03_lstm_memory.png")

lesson.done()
