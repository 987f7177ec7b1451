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
    images: object   # (n, 2, H, W) x and x̂ stacked, for dFx and dFy
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
    images = xp.stack([x, x_hat], axis=1)                                   # (n, 2, H, W)
    patches = Fy[:, None] @ images @ Fx[:, None].transpose(0, 1, 3, 2)      # (n, 2, N, N)
    r = gamma[:, None] * patches.reshape(n, -1)
    return r, ReadAttentionCache(images, Fx, Fy, gamma, patches)


def read_attention_backward(dr, cache: ReadAttentionCache):
    """Gradients of :func:`read_attention_forward`.

    Args:
        dr: (n, 2 N²).
    Returns:
        dx, dx_hat: (n, H, W);  dFx: (n, N, W);  dFy: (n, N, H);  dgamma: (n,).
    """
    images, Fx, Fy, gamma, patches = cache
    check_array("dr", dr, (patches.shape[0], patches[0].size))
    dpatches = dr.reshape(patches.shape)
    dgamma = (dpatches * patches).sum(axis=(1, 2, 3))                  # r = γ P
    G = gamma[:, None, None, None] * dpatches                          # dP, (n, 2, N, N)
    Fx4, Fy4 = Fx[:, None], Fy[:, None]
    dimages = Fy4.transpose(0, 1, 3, 2) @ G @ Fx4                      # P = F_Y X F_X^T
    dFy = (G @ Fx4 @ images.transpose(0, 1, 3, 2)).sum(axis=1)         # dF_Y = dP F_X X^T
    dFx = (G.transpose(0, 1, 3, 2) @ Fy4 @ images).sum(axis=1)         # dF_X = dP^T F_Y X
    return dimages[:, 0], dimages[:, 1], dFx, dFy, dgamma


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
    out: object          # (n, H, W) the canvas update, for dγ


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
    out = (Fy.transpose(0, 2, 1) @ patch @ Fx) / gamma[:, None, None]
    return out, WriteAttentionCache(linear_cache, patch, Fx, Fy, gamma, out)


def write_attention_backward(dwrite, cache: WriteAttentionCache):
    """Gradients of :func:`write_attention_forward`.

    Args:
        dwrite: (n, H, W).
    Returns:
        dh: (n, size);  dW: (size, N²);  db: (N²,);  dFx: (n, N, W);  dFy: (n, N, H);
        dgamma: (n,).
    """
    linear_cache, patch, Fx, Fy, gamma, out = cache
    check_array("dwrite", dwrite, out.shape)
    n = patch.shape[0]
    dgamma = -(dwrite * out).sum(axis=(1, 2)) / gamma                  # out ∝ 1/γ
    G = dwrite / gamma[:, None, None]                                  # out = F_Y^T w F_X / γ
    dpatch = Fy @ G @ Fx.transpose(0, 2, 1)                            # dw   = F_Y G F_X^T
    dFy = patch @ Fx @ G.transpose(0, 2, 1)                            # dF_Y = w F_X G^T
    dFx = patch.transpose(0, 2, 1) @ Fy @ G                            # dF_X = w^T F_Y G
    dh, dW, db = linear_backward(dpatch.reshape(n, -1), linear_cache)
    return dh, dW, db, dFx, dFy, dgamma
