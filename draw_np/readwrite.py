"""DRAW's read and write operations, with and without attention.

Without attention (eqs. 17-18) the encoder reads the whole image and the error image, and the
decoder writes a full-size canvas update. With attention (eqs. 27-29) both act through the
Gaussian filterbanks of :mod:`draw_np.attention`: read extracts two N x N patches, write paints
one N x N patch back onto the H x W canvas. Patches are flattened row-major, the row index
coming from ``F_Y``. Images need not be square.
"""
from __future__ import annotations

from typing import NamedTuple

from .backend import array_module
from .linear import LinearCache, linear_backward, linear_forward
from .validate import check_array, check_same_dtype


def _transpose(a):
    """The stack of transposes of ``a``'s last two axes, as a contiguous array.

    NumPy multiplies stacks of small matrices one BLAS call per matrix, and an operand that is a
    transposed view makes each call about three times slower than a contiguous copy does; the
    copy of a filterbank-sized stack costs a few microseconds.
    """
    return array_module(a).ascontiguousarray(a.swapaxes(-1, -2))


# ----------------------------------------------------------------------------- read, eq. 17
def read_forward(x, x_hat):
    """``read(x, x̂) = [x, x̂]`` flattened row-major (eq. 17).

    Args:
        x, x_hat: (n, H, W) the image and the error image.
    Returns:
        r: (n, 2 H W), and the cache (the image shape).
    """
    dims = {}
    check_array("x", x, ("n", "H", "W"), dims)
    check_array("x_hat", x_hat, ("n", "H", "W"), dims)
    xp = array_module(x)
    n = x.shape[0]
    return xp.concatenate([x.reshape(n, -1), x_hat.reshape(n, -1)], axis=1), x.shape


def read_backward(dr, image_shape):
    """Gradients of :func:`read_forward`: dr (n, 2 H W) -> dx, dx_hat, each (n, H, W)."""
    n, H, W = image_shape
    check_array("dr", dr, (n, 2 * H * W))
    return dr[:, :H * W].reshape(image_shape), dr[:, H * W:].reshape(image_shape)


# ----------------------------------------------------------------------------- read, eq. 27
class ReadAttentionCache(NamedTuple):
    # Not the images themselves: the backward pass needs them only through these two products,
    # which are H/N and W/N times smaller (14 times for the paper's 2 x 2 read).
    rows: object     # (n, 2, N, W) F_Y X for X = x, x̂: the filters' rows applied first
    cols: object     # (n, 2, H, N) X F_X^T: the filters' columns applied first
    Fx: object       # (n, N, W)
    Fy: object       # (n, N, H)
    gamma: object    # (n,)
    patches: object  # (n, 2, N, N) F_Y x F_X^T and F_Y x̂ F_X^T, before γ, for dγ


def read_attention_forward(x, x_hat, Fx, Fy, gamma):
    """``read(x, x̂) = γ [F_Y x F_X^T, F_Y x̂ F_X^T]`` (eq. 27).

    Args:
        x, x_hat: (n, H, W).  Fx: (n, N, W), Fy: (n, N, H) filterbanks.  gamma: (n,) intensity.
    Returns:
        r: (n, 2 N²), the two patches flattened row-major, x's first; and the cache.
    """
    dims = {}
    check_array("x", x, ("n", "H", "W"), dims)
    check_array("x_hat", x_hat, ("n", "H", "W"), dims)
    check_array("Fx", Fx, ("n", "N", "W"), dims)
    check_array("Fy", Fy, ("n", "N", "H"), dims)
    check_array("gamma", gamma, ("n",), dims)
    check_same_dtype(x=x, x_hat=x_hat, Fx=Fx, Fy=Fy, gamma=gamma)
    xp = array_module(x)
    n = x.shape[0]
    FxT = _transpose(Fx)                                                    # (n, W, N)
    # Each image separately: stacking the two images first would copy them, at greater cost.
    rows = xp.stack([Fy @ x, Fy @ x_hat], axis=1)                           # F_Y X
    cols = xp.stack([x @ FxT, x_hat @ FxT], axis=1)                         # X F_X^T
    patches = rows @ FxT[:, None]                                           # F_Y X F_X^T
    r = gamma[:, None] * patches.reshape(n, -1)
    return r, ReadAttentionCache(rows, cols, Fx, Fy, gamma, patches)


def read_attention_backward(dr, cache: ReadAttentionCache, wrt_x: bool = True):
    """Gradients of :func:`read_attention_forward`.

    Args:
        dr: (n, 2 N²).
        wrt_x: whether to compute dx. In DRAW x is the data, so the model passes False and
            skips an image-sized product per step; dx is then None.
    Returns:
        dx, dx_hat: (n, H, W);  dFx: (n, N, W);  dFy: (n, N, H);  dgamma: (n,).
    """
    rows, cols, Fx, Fy, gamma, patches = cache
    check_array("dr", dr, (patches.shape[0], patches[0].size))
    dpatches = dr.reshape(patches.shape)
    dgamma = (dpatches * patches).sum(axis=(1, 2, 3))                  # r = γ P
    G = gamma[:, None, None, None] * dpatches                          # dP, (n, 2, N, N)
    # P = F_Y X F_X^T, summed over the two images X = x, x̂:
    dFy = (G @ _transpose(cols)).sum(axis=1)                           # dF_Y = dP (X F_X^T)^T
    dFx = (_transpose(G) @ rows).sum(axis=1)                           # dF_X = dP^T (F_Y X)
    FyT = _transpose(Fy)
    dx_hat = FyT @ (G[:, 1] @ Fx)                                      # dX = F_Y^T dP F_X
    dx = FyT @ (G[:, 0] @ Fx) if wrt_x else None
    return dx, dx_hat, dFx, dFy, dgamma


# ---------------------------------------------------------------------------- write, eq. 18
def write_forward(h, W, b, image_shape):
    """``write(h) = h W + b`` reshaped to the image (eq. 18).

    Args:
        h: (n, size) decoder state.  W: (size, H W), b: (H W,).  image_shape: (H, W).
    Returns:
        (n, H, W) canvas update, and the linear map's cache.
    """
    H, W_img = image_shape
    check_array("W", W, ("size", H * W_img))
    flat, cache = linear_forward(h, W, b)
    return flat.reshape(h.shape[0], H, W_img), cache


def write_backward(dwrite, cache: LinearCache):
    """Gradients of :func:`write_forward`: dwrite (n, H, W) -> dh, dW, db."""
    n = cache.x.shape[0]
    check_array("dwrite", dwrite, (n, "H", "W"))
    return linear_backward(dwrite.reshape(n, -1), cache)


# ------------------------------------------------------------------------ write, eqs. 28-29
class WriteAttentionCache(NamedTuple):
    linear: LinearCache  # w = h W + b (eq. 28)
    patch: object        # (n, N, N) w reshaped
    Fx: object           # (n, N, W)
    Fy: object           # (n, N, H)
    gamma: object        # (n,)


def write_attention_forward(h, W, b, Fx, Fy, gamma):
    """``w = h W + b`` reshaped to (N, N) (eq. 28); ``write(h) = (1/γ̂) F̂_Y^T w F̂_X`` (eq. 29).

    Args:
        h: (n, size) decoder state.  W: (size, N²), b: (N²,) the write head.
        Fx: (n, N, W), Fy: (n, N, H) the write filterbanks.  gamma: (n,) the write intensity.
    Returns:
        (n, H, W) canvas update, and the cache.
    """
    dims = {}
    check_array("Fx", Fx, ("n", "N", "W"), dims)
    check_array("Fy", Fy, ("n", "N", "H"), dims)
    check_array("gamma", gamma, ("n",), dims)
    check_array("h", h, ("n", "size"), dims)
    N = Fx.shape[1]
    check_array("W", W, ("size", N * N), dims)
    check_same_dtype(h=h, Fx=Fx, Fy=Fy, gamma=gamma)
    flat, linear_cache = linear_forward(h, W, b)
    patch = flat.reshape(-1, N, N)
    out = _transpose(Fy) @ ((patch / gamma[:, None, None]) @ Fx)      # γ divides the small patch
    return out, WriteAttentionCache(linear_cache, patch, Fx, Fy, gamma)


def write_attention_backward(dwrite, cache: WriteAttentionCache):
    """Gradients of :func:`write_attention_forward`.

    With ``out = F_Y^T w F_X / γ``, every gradient meets ``dwrite`` (image-sized) through one of
    two products, ``F_Y dwrite`` and ``dwrite F_X^T``; both are made once and the rest is
    N x N work. ``dγ = −<dwrite, out>/γ = −<F_Y dwrite F_X^T, w>/γ²`` is taken on the patch, so
    the image-sized output need not be kept.

    Args:
        dwrite: (n, H, W).
    Returns:
        dh: (n, size);  dW: (size, N²);  db: (N²,);  dFx: (n, N, W);  dFy: (n, N, H);
        dgamma: (n,).
    """
    linear_cache, patch, Fx, Fy, gamma = cache
    n, N = patch.shape[:2]
    check_array("dwrite", dwrite, (n, Fy.shape[2], Fx.shape[2]))
    inv_gamma = 1 / gamma[:, None, None]
    FxT = _transpose(Fx)
    Fy_d = Fy @ dwrite                                                 # F_Y dwrite, (n, N, W)
    d_FxT = dwrite @ FxT                                               # dwrite F_X^T, (n, H, N)
    dpatch = Fy_d @ FxT * inv_gamma                                    # dw   = F_Y dwrite F_X^T / γ
    dFy = patch @ _transpose(d_FxT) * inv_gamma                        # dF_Y = w F_X dwrite^T / γ
    dFx = _transpose(patch) @ Fy_d * inv_gamma                         # dF_X = w^T F_Y dwrite / γ
    dgamma = -(dpatch * patch).sum(axis=(1, 2)) / gamma                # out ∝ 1/γ
    dh, dW, db = linear_backward(dpatch.reshape(n, -1), linear_cache)
    return dh, dW, db, dFx, dFy, dgamma
