"""The floating-point work of one training step, counted from the products the model reports.

Every model offers ``matmul_shapes(n)`` (:mod:`draw_np.models`): each matrix product of one
training step as ``(label, rows, inner, cols, count)``. The count here is nothing but their sum,
``2·rows·inner·cols`` for each product (a multiply and an add per term), so the figure follows
the code whatever the model, and changes with it.
"""
from __future__ import annotations

from typing import NamedTuple


class Product(NamedTuple):
    """``count`` products ``(rows, inner) @ (inner, cols)`` of one step, as a model reports them.

    ``label`` is ``"<layer>.<role>"``: the parameter prefix or head (``enc``, ``read``, ...) and
    what the product is for (``forward``, ``grad_input``, ``grad_weight``, ``F_Y X``, ...).
    """
    label: str
    rows: int
    inner: int
    cols: int
    count: int

    @property
    def layer(self) -> str:
        return self.label.split(".", 1)[0]

    @property
    def role(self) -> str:
        return self.label.split(".", 1)[1] if "." in self.label else ""

    @property
    def flops_each(self) -> int:
        return 2 * self.rows * self.inner * self.cols

    @property
    def flops(self) -> int:
        return self.flops_each * self.count

    def shape(self) -> str:
        return f"({self.rows}, {self.inner}) @ ({self.inner}, {self.cols})"


def check_int(name: str, value, minimum: int = 1) -> None:
    """Refuse anything but an int (bools excluded) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def step_products(model, batch: int) -> list:
    """The model's matrix products of one training step on ``batch`` examples, as
    :class:`Product` (``model.matmul_shapes``)."""
    check_int("batch", batch)
    return [Product(*shape) for shape in model.matmul_shapes(batch)]


def count_step_flops(model, batch: int) -> dict:
    """The floating-point work in the matrix products of one training step (forward + backward).

    For the paper's DRAW at batch 100 that is 37.07 GFLOP, almost all of it in the two LSTMs:
    each linear map ``y = x W`` costs three products per time step, the forward ``x W``, the
    input gradient ``dy Wᵀ`` and the weight gradient ``xᵀ dy``. Elementwise work is not counted:
    it is limited by memory traffic, not arithmetic, so a FLOP figure would say little about it.

    Returns a dict: ``matmul`` (the FLOPs the matmul limit applies to), ``layers`` (FLOPs per
    layer, largest first) and ``products`` (every product family as a dict, with its FLOPs).
    """
    products = step_products(model, batch)
    layers = {}
    for p in products:
        layers[p.layer] = layers.get(p.layer, 0) + p.flops
    return dict(batch=batch, matmul=sum(p.flops for p in products),
                layers=dict(sorted(layers.items(), key=lambda item: -item[1])),
                products=[dict(p._asdict(), flops=p.flops) for p in products])
