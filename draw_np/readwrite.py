"""DRAW's read and write products, with and without attention, for images with C channels.

Without attention (eqs. 17-18) the encoder reads whole images, and the decoder writes a
full-size canvas update. With attention (eqs. 27-29) both act through the Gaussian filterbanks
of :mod:`draw_np.attention`: read extracts one N x N patch from every image plane, write paints
one N x N patch back onto every channel of the canvas. One filterbank (the same F_X, F_Y, γ)
filters every plane (spec, "Images with C channels").

Read takes a tuple of images, each ``(n, C_k, H, W)`` or ``(n, H, W)`` (the grey case, one
plane), and reads their planes in order: DRAW passes ``(x, x̂)``, so r holds all of x's
channels and then all of x̂'s; an attention classifier passes ``(x,)``. Patches are flattened
row-major, the row index coming from F_Y. Images need not be square.

These are the products alone; :mod:`draw_np.heads` bundles them with the attention parameters
and the filterbank into the read and write heads that the models use.
"""
from __future__ import annotations

import math
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


def _per_plane(F, planes: int):
    """The stack ``F`` (n, a, b) repeated for each of ``planes`` planes: (n·planes, a, b).

    Every product with an image then runs as one stack of 3-D products over ``n·planes``
    matrices: NumPy multiplies a 4-D stack that broadcasts the filters over the planes about
    10% more slowly. For one plane this is a view and costs nothing; for C planes a copy of a
    filterbank, which is small.
    """
    n = F.shape[0]
    if planes == 1:
        return F
    return array_module(F).broadcast_to(F[:, None], (n, planes) + F.shape[1:]).reshape(
        (n * planes,) + F.shape[1:])


def _plane_count(shape) -> int:
    """The planes of an image of this shape: 1 for (n, H, W), C for (n, C, H, W)."""
    return 1 if len(shape) == 3 else shape[1]


def _check_images(images, dims: dict) -> tuple:
    """Check a non-empty tuple of (n, C_k, H, W) or (n, H, W) images; return them as 4-D views."""
    if not isinstance(images, (tuple, list)) or not images:
        raise ValueError(f"images must be a non-empty tuple of image arrays, got "
                         f"{type(images).__name__}")
    planes = []
    for k, X in enumerate(images):
        if getattr(X, "ndim", None) == 3:
            check_array(f"images[{k}]", X, ("n", "H", "W"), dims)
            X = X[:, None]
        else:
            check_array(f"images[{k}]", X, ("n", f"C{k}", "H", "W"), dims)
        planes.append(X)
    check_same_dtype(**{f"images[{k}]": X for k, X in enumerate(planes)})
    return tuple(planes)


def _wanted(wrt, count: int) -> tuple:
    """``wrt`` as one bool per image: None means every image."""
    if wrt is None:
        return (True,) * count
    if len(wrt) != count or not all(isinstance(w, bool) for w in wrt):
        raise ValueError(f"wrt must hold one True or False per image ({count}), got {wrt!r}")
    return tuple(wrt)


def _split_planes(d, shapes: tuple, wrt: tuple) -> tuple:
    """Cut ``d`` (n, P, ...) back into one gradient per image, in the image's own shape."""
    out, start = [], 0
    for shape, wanted in zip(shapes, wrt):
        planes = _plane_count(shape)
        out.append(d[:, start:start + planes].reshape(shape) if wanted else None)
        start += planes
    return tuple(out)


# ----------------------------------------------------------------------------- read, eq. 17
class ReadCache(NamedTuple):
    shapes: tuple  # each image's shape, for the gradients


def read_forward(images):
    """``read = [vec(x), vec(x̂)]``, each image flattened row-major over (C, H, W) (eq. 17).

    Args:
        images: tuple of (n, C_k, H, W) or (n, H, W) arrays, e.g. ``(x, x̂)``.
    Returns:
        r: (n, Σ_k C_k H W), and a :class:`ReadCache`.
    """
    planes = _check_images(images, {})
    xp = array_module(planes[0])
    n = planes[0].shape[0]
    r = xp.concatenate([X.reshape(n, -1) for X in planes], axis=1)
    return r, ReadCache(tuple(X.shape for X in images))


def read_backward(dr, cache: ReadCache, wrt=None) -> tuple:
    """Gradients of :func:`read_forward`: one per image, in its shape (None where ``wrt`` is False).

    Args:
        dr: (n, Σ_k C_k H W).  wrt: one bool per image, whether to return its gradient (all if None).
    """
    shapes = cache.shapes
    n = shapes[0][0]
    check_array("dr", dr, (n, sum(math.prod(s[1:]) for s in shapes)))
    return _split_planes(dr.reshape(n, -1, *shapes[0][-2:]), shapes, _wanted(wrt, len(shapes)))


# ----------------------------------------------------------------------------- read, eq. 27
class ReadAttentionCache(NamedTuple):
    # Not the images themselves: the backward pass needs them only through these two products,
    # which are H/N and W/N times smaller (14 times for the paper's 2 x 2 read).
    rows: object     # (n, P, N, W) F_Y X for every plane X: the filters' rows applied first
    cols: object     # (n, P, H, N) X F_X^T: the filters' columns applied first
    Fx: object       # (n, N, W)
    Fy: object       # (n, N, H)
    gamma: object    # (n,)
    patches: object  # (n, P, N, N) F_Y X F_X^T for every plane, before γ, for dγ
    shapes: tuple    # each image's shape, for the gradients


def read_attention_forward(images, Fx, Fy, gamma):
    """``read = γ [F_Y X⁽¹⁾ F_X^T, …, F_Y X⁽ᴾ⁾ F_X^T]`` over the P planes of the images (eq. 27).

    Args:
        images: tuple of (n, C_k, H, W) or (n, H, W) arrays, e.g. ``(x, x̂)``.
        Fx: (n, N, W), Fy: (n, N, H) filterbanks.  gamma: (n,) intensity.
    Returns:
        r: (n, P N²), one patch per plane flattened row-major, in the images' order; the cache.
    """
    dims = {}
    planes = _check_images(images, dims)
    check_array("Fx", Fx, ("n", "N", "W"), dims)
    check_array("Fy", Fy, ("n", "N", "H"), dims)
    check_array("gamma", gamma, ("n",), dims)
    check_same_dtype(image=planes[0], Fx=Fx, Fy=Fy, gamma=gamma)
    xp = array_module(Fx)
    (n, N, W), H = Fx.shape, Fy.shape[2]
    FxT = _transpose(Fx)                                                    # (n, W, N)
    # Each image separately: stacking the images first would copy them, at greater cost.
    rows, cols = [], []
    for X in planes:
        C = X.shape[1]
        X = X.reshape(n * C, H, W)
        rows.append((_per_plane(Fy, C) @ X).reshape(n, C, N, W))           # F_Y X
        cols.append((X @ _per_plane(FxT, C)).reshape(n, C, H, N))          # X F_X^T
    rows, cols = xp.concatenate(rows, axis=1), xp.concatenate(cols, axis=1)
    patches = rows @ FxT[:, None]                                           # F_Y X F_X^T
    r = gamma[:, None] * patches.reshape(n, -1)
    return r, ReadAttentionCache(rows, cols, Fx, Fy, gamma, patches,
                                 tuple(X.shape for X in images))


def read_attention_backward(dr, cache: ReadAttentionCache, wrt=None):
    """Gradients of :func:`read_attention_forward`.

    Args:
        dr: (n, P N²).
        wrt: one bool per image: whether to compute its gradient (all if None). In DRAW x is
            the data, so the model passes ``(False, True)`` and skips an image-sized product per
            step; a classifier passes ``(False,)``. A skipped gradient is None.
    Returns:
        dimages (a tuple, one per image, in its shape);  dFx: (n, N, W);  dFy: (n, N, H);
        dgamma: (n,).
    """
    rows, cols, Fx, Fy, gamma, patches, shapes = cache
    check_array("dr", dr, (patches.shape[0], patches[0].size))
    wrt = _wanted(wrt, len(shapes))
    dpatches = dr.reshape(patches.shape)
    dgamma = (dpatches * patches).sum(axis=(1, 2, 3))                  # r = γ P
    G = gamma[:, None, None, None] * dpatches                          # dP, (n, P, N, N)
    # P = F_Y X F_X^T, summed over the planes X:
    dFy = (G @ _transpose(cols)).sum(axis=1)                           # dF_Y = dP (X F_X^T)^T
    dFx = (_transpose(G) @ rows).sum(axis=1)                           # dF_X = dP^T (F_Y X)
    n, _, N = G.shape[:3]
    dimages, start = [], 0
    for shape, wanted in zip(shapes, wrt):                             # dX = F_Y^T dP F_X
        C = _plane_count(shape)
        if wanted:
            g = G[:, start:start + C].reshape(n * C, N, N)
            dX = _per_plane(_transpose(Fy), C) @ (g @ _per_plane(Fx, C))
            dimages.append(dX.reshape(shape))
        else:
            dimages.append(None)
        start += C
    return tuple(dimages), dFx, dFy, dgamma


def read_attention_matmul_shapes(label: str, n: int, N: int, planes: int, grad_planes: int,
                                 H: int, W: int) -> list:
    """The products of :func:`read_attention_forward` and its backward, as ``(label, rows,
    inner, cols, count)``, for ``planes`` image planes of which ``grad_planes`` get gradients."""
    P, G = n * planes, n * grad_planes
    return [(f"{label}.F_Y X", N, H, W, P), (f"{label}.X F_X^T", H, W, N, P),
            (f"{label}.patch", N, W, N, P),
            (f"{label}.grad_Fy", N, N, H, P), (f"{label}.grad_Fx", N, N, W, P),
            (f"{label}.grad_image", N, N, W, G), (f"{label}.grad_image", H, N, W, G)]


# ---------------------------------------------------------------------------- write, eq. 18
def write_forward(h, W, b, image_shape):
    """``write(h) = h W + b`` reshaped to the image (eq. 18), row-major over (C, H, W).

    Args:
        h: (n, size) decoder state.  W: (size, C H W), b: (C H W,).
        image_shape: (C, H, W), or (H, W) for a grey canvas.
    Returns:
        (n, *image_shape) canvas update, and the linear map's cache.
    """
    check_array("W", W, ("size", math.prod(image_shape)))
    flat, cache = linear_forward(h, W, b)
    return flat.reshape((h.shape[0],) + tuple(image_shape)), cache


def write_backward(dwrite, cache: LinearCache):
    """Gradients of :func:`write_forward`: dwrite (n, *image_shape) -> dh, dW, db."""
    n = cache.x.shape[0]
    if not hasattr(dwrite, "shape") or dwrite.ndim < 3:
        raise ValueError(f"dwrite must have shape (n, C, H, W) or (n, H, W), got "
                         f"{getattr(dwrite, 'shape', type(dwrite).__name__)}")
    check_array("dwrite", dwrite, (n,) + tuple(f"d{i}" for i in range(dwrite.ndim - 1)))
    return linear_backward(dwrite.reshape(n, -1), cache)


# ------------------------------------------------------------------------ write, eqs. 28-29
class WriteAttentionCache(NamedTuple):
    linear: LinearCache  # w = h W + b (eq. 28)
    patch: object        # (n, C, N, N) w reshaped, one patch per channel
    Fx: object           # (n, N, W)
    Fy: object           # (n, N, H)
    gamma: object        # (n,)
    grey: bool           # the canvas update is (n, H, W) rather than (n, C, H, W)


def write_attention_forward(h, W, b, Fx, Fy, gamma, channels: int | None = None):
    """``w = h W + b`` reshaped to (C, N, N) (eq. 28); ``write = (1/γ̂) F̂_Y^T w⁽ᶜ⁾ F̂_X`` (eq. 29).

    Args:
        h: (n, size) decoder state.  W: (size, C N²), b: (C N²,) the write head.
        Fx: (n, N, W), Fy: (n, N, H) the write filterbanks.  gamma: (n,) the write intensity.
        channels: C, giving an (n, C, H, W) update; None for a grey (n, H, W) update (C = 1).
    Returns:
        the canvas update, and the cache.
    """
    dims = {}
    check_array("Fx", Fx, ("n", "N", "W"), dims)
    check_array("Fy", Fy, ("n", "N", "H"), dims)
    check_array("gamma", gamma, ("n",), dims)
    check_array("h", h, ("n", "size"), dims)
    N = Fx.shape[1]
    C = 1 if channels is None else channels
    check_array("W", W, ("size", C * N * N), dims)
    check_same_dtype(h=h, Fx=Fx, Fy=Fy, gamma=gamma)
    flat, linear_cache = linear_forward(h, W, b)
    n = h.shape[0]
    patch = flat.reshape(n, C, N, N)
    scaled = (patch / gamma[:, None, None, None]).reshape(n * C, N, N)  # γ divides the small patch
    out = _per_plane(_transpose(Fy), C) @ (scaled @ _per_plane(Fx, C))
    grey = channels is None
    H, W_image = Fy.shape[2], Fx.shape[2]
    out = out.reshape((n, H, W_image) if grey else (n, C, H, W_image))
    return out, WriteAttentionCache(linear_cache, patch, Fx, Fy, gamma, grey)


def write_attention_backward(dwrite, cache: WriteAttentionCache):
    """Gradients of :func:`write_attention_forward`.

    With ``out = F_Y^T w F_X / γ`` per channel, every gradient meets ``dwrite`` (image-sized)
    through one of two products, ``F_Y dwrite`` and ``dwrite F_X^T``; both are made once and
    the rest is N x N work. ``dγ = −<dwrite, out>/γ = −<F_Y dwrite F_X^T, w>/γ²`` is taken on
    the patch, so the image-sized output need not be kept. The filters serve every channel, so
    their gradients sum over channels.

    Args:
        dwrite: (n, C, H, W), or (n, H, W) for a grey update.
    Returns:
        dh: (n, size);  dW: (size, C N²);  db: (C N²,);  dFx: (n, N, W);  dFy: (n, N, H);
        dgamma: (n,).
    """
    linear_cache, patch, Fx, Fy, gamma, grey = cache
    n, C, N = patch.shape[:3]
    H, W = Fy.shape[2], Fx.shape[2]
    check_array("dwrite", dwrite, (n, H, W) if grey else (n, C, H, W))
    dwrite = dwrite.reshape(n * C, H, W)
    inv_gamma = 1 / gamma[:, None, None]
    FxT = _per_plane(_transpose(Fx), C)
    Fy_d = _per_plane(Fy, C) @ dwrite                                  # F_Y dwrite, (n C, N, W)
    d_FxT = dwrite @ FxT                                               # dwrite F_X^T, (n C, H, N)
    dpatch = (Fy_d @ FxT).reshape(n, C, N, N) * inv_gamma[:, None]     # dw = F_Y dwrite F_X^T / γ
    # dF_Y = Σ_c w⁽ᶜ⁾ (dwrite⁽ᶜ⁾ F_X^T)^T / γ and dF_X = Σ_c w⁽ᶜ⁾^T (F_Y dwrite⁽ᶜ⁾) / γ, each as
    # one product: the patches side by side, (N, C N), times the other factors stacked, (C N, ·).
    # For C = 1 these are views, and the products those of a grey write.
    side_by_side = lambda a: a.transpose(0, 2, 1, 3).reshape(n, N, C * N)
    dFy = side_by_side(patch) @ _transpose(d_FxT).reshape(n, C * N, H) * inv_gamma
    dFx = side_by_side(_transpose(patch)) @ Fy_d.reshape(n, C * N, W) * inv_gamma
    dgamma = -(dpatch * patch).sum(axis=(1, 2, 3)) / gamma             # out ∝ 1/γ
    dh, dW, db = linear_backward(dpatch.reshape(n, -1), linear_cache)
    return dh, dW, db, dFx, dFy, dgamma


def write_attention_matmul_shapes(label: str, n: int, N: int, channels: int, H: int, W: int):
    """The filterbank products of :func:`write_attention_forward` and its backward (the linear
    map of eq. 28 not included), as ``(label, rows, inner, cols, count)``."""
    P = n * channels
    return [(f"{label}.w F_X", N, N, W, P), (f"{label}.F_Y^T w F_X", H, N, W, P),
            (f"{label}.F_Y dwrite", N, H, W, P), (f"{label}.dwrite F_X^T", H, W, N, P),
            (f"{label}.grad_patch", N, W, N, P), (f"{label}.grad_Fy", N, channels * N, H, n),
            (f"{label}.grad_Fx", N, channels * N, W, n)]
