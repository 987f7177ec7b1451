"""Lesson 3: the two layers DRAW is made of, the affine map and the LSTM step.

What you will learn:
  * the forward/backward contract: `out, cache = f_forward(...)`, `grads = f_backward(dout, cache)`,
    with the cache a NamedTuple of named arrays, and no state kept in between;
  * y = x W + b and its three gradients;
  * one LSTM step (spec, "LSTM"), built by hand from its four gates [i, f, o, g], and checked
    against draw_np.lstm.lstm_forward; then its backward pass against finite differences;
  * what the forget gate does to the memory cell over many steps.

Run:  python lessons/03_linear_and_lstm.py [--pause] [--fast] [--out DIR] [--show]
"""
# %%
import matplotlib.pyplot as plt
import numpy as np

from draw_np.activations import sigmoid
from draw_np.gradcheck import check_gradients
from draw_np.linear import linear_backward, linear_forward
from draw_np.lstm import lstm_backward, lstm_forward
from _common import Lesson

lesson = Lesson(__doc__)
rng = np.random.default_rng(0)
n, n_in, size = 3, 5, 4          # sides that all differ, so a transposed array cannot fit
show = lambda errors: ", ".join(f"{k}: {v:.0e}" for k, v in errors.items())

# %%
lesson.step("The affine map y = x W + b", """
    Every learned map in DRAW is y = x W + b with x: (n, in), W: (in, out), b: (out,).
    Backward, from dy = dL/dy:
        dx = dy W^T      dW = x^T dy      db = sum over the batch of dy
    (each is the only product of dy with the other factor whose shape fits).
""")
x = rng.standard_normal((n, n_in))
W, b = rng.standard_normal((n_in, size)), rng.standard_normal(size)
y, cache = linear_forward(x, W, b)
assert np.allclose(y, x @ W + b)
print(f"  cache is a {type(cache).__name__} with fields {cache._fields}")
dy = rng.standard_normal(y.shape)
errors = check_gradients(lambda: linear_forward(x, W, b)[0], {"x": x, "W": W, "b": b},
                         dict(zip(("x", "W", "b"), linear_backward(dy, cache))), dy)
print(f"  gradient check (relative errors): {show(errors)}")
assert max(errors.values()) < 1e-7

# %%
lesson.step("An LSTM step by hand, from its four gates", """
    One fused affine map of u = [input, h_prev] gives four blocks of pre-activations,
    in the order [i, f, o, g]:
        a = u W + b                                  W: (in + size, 4 size)
        i = sigmoid(a_i)   input gate:  how much new content to write
        f = sigmoid(a_f)   forget gate: how much of the old cell to keep
        o = sigmoid(a_o)   output gate: how much of the cell to show as h
        g = tanh(a_g)      the candidate content
        cell = f * cell_prev + i * g
        h    = o * tanh(cell)
    DRAW's encoder (eq. 5) and decoder (eq. 7) are each one of these, applied T times.
""")
x = rng.standard_normal((n, n_in))
h_prev, cell_prev = rng.standard_normal((n, size)), rng.standard_normal((n, size))
W, b = 0.5 * rng.standard_normal((n_in + size, 4 * size)), rng.standard_normal(4 * size)

a = np.concatenate([x, h_prev], axis=1) @ W + b
a_i, a_f, a_o, a_g = np.split(a, 4, axis=1)
i, f, o, g = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o), np.tanh(a_g)
cell_by_hand = f * cell_prev + i * g
h_by_hand = o * np.tanh(cell_by_hand)

(h, cell), lstm_cache = lstm_forward(x, h_prev, cell_prev, W, b)
assert np.allclose(h, h_by_hand) and np.allclose(cell, cell_by_hand)
print("  by hand == lstm_forward: OK")
print(f"  its cache keeps what backward needs: {lstm_cache._fields}")

# %%
lesson.step("The LSTM backward pass against finite differences", """
    lstm_backward(dh, dcell, cache) returns (dx, dh_prev, dcell_prev, dW, db). The step has two
    outputs, h and cell (the cell also flows on to the next step), so it receives two upstream
    gradients. We give both random values and check all five gradients at once.
""")
dh, dcell = rng.standard_normal((n, size)), rng.standard_normal((n, size))
grads = lstm_backward(dh, dcell, lstm_cache)
errors = check_gradients(
    lambda: lstm_forward(x, h_prev, cell_prev, W, b)[0],
    {"x": x, "h_prev": h_prev, "cell_prev": cell_prev, "W": W, "b": b},
    {"x": grads.dx, "h_prev": grads.dh_prev, "cell_prev": grads.dcell_prev,
     "W": grads.dW, "b": grads.db},
    (dh, dcell))
print(f"  gradient check (relative errors): {show(errors)}")
assert max(errors.values()) < 1e-7

# %%
lesson.step("What the gates mean: a memory that leaks at the rate of f", """
    Close the input gate (i = 0) and the cell becomes cell_t = f * cell_{t-1}: it keeps a
    fraction f per step. With the forget gate's bias at 4, f = sigmoid(4) = 0.98 and the memory
    lasts for dozens of steps; at 0 it halves every step. Gradients flow back along the same
    path, multiplied by f each step, which is why LSTMs can learn over DRAW's 64 steps.
""")
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
ax.set_ylabel("cell_t (started at 1)")
ax.set_title("with the input gate shut, the cell decays as f^t")
ax.legend(fontsize=8)
lesson.save(fig, "03_lstm_memory.png")

lesson.done()
