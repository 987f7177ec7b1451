"""The ``evaluate`` command, and DRAW's figure of merit: the negative log-likelihood bound.

The command evaluates any checkpoint on the data set it was trained on, through its model's
``evaluate`` (the classifier's error is in :mod:`draw_np.classifier`). DRAW's is here. For each
image, ``L = L^x + L^z`` (eqs. 9-12) is an upper bound on ``−log p(x)``; the paper's
Table 2 reports its mean over the 10,000 test images (DRAW with attention: ≤ 80.97). With
``--samples K`` each image's bound is averaged over K draws of ε, which lowers its variance but
not its expectation.

The same K draws also give the importance-weighted estimate (Burda et al., 2016), a tighter
bound the paper did not report::

    −log p(x) ≤ −log (1/K) Σ_k w_k,   log w_k = −L^x_k − Σ_t [log q(z_t|x) − log p(z_t)]

computed with log-sum-exp. It equals the plain bound in expectation for K = 1 and tightens as K
grows.

On a data set whose images each hold a known number of objects (two-digit MNIST: its
``count_objects``), the command also counts them in 1,000 of the model's samples and in as many
of the split's images (:func:`object_census`): does the model draw two separate digits as often
as the data shows them?
"""
from __future__ import annotations

import json
import math
import numbers
import sys
import time
from typing import NamedTuple

import numpy as np

from . import backend


#: What L^x + L^z means on a data set of grey levels (colour images; spec, "Images with C
#: channels"): printed wherever the figure is.
GREY_LEVELS_NOTE = ("note: this data set holds grey levels, not bits, so L^x + L^z is the "
                    "cross-entropy of eq. 9 against them (as the paper reports for colour "
                    "images), not a bound on a likelihood")


def is_cross_entropy(model, data) -> bool:
    """Whether ``model``'s figure on ``data`` is eq. 9's cross-entropy against grey levels
    rather than a bound: DRAW on images that are not bits (:data:`GREY_LEVELS_NOTE`)."""
    return model.figure_name == "bound" and not data.binary


class EvalResult(NamedTuple):
    """DRAW's figures on a set of images (what ``DRAW.evaluate`` returns)."""
    n: int                 # images evaluated
    samples: int           # K draws of ε per image
    bound: float           # mean over images of L = L^x + L^z (the paper's figure), nats
    bound_stderr: float    # its standard error over images
    Lx: float              # mean reconstruction term
    Lz: float              # mean latent (KL) term
    iw_nll: float          # mean importance-weighted estimate of −log p(x) with K samples
    iw_nll_stderr: float

    def to_dict(self) -> dict:
        return self._asdict()

    @property
    def figure(self) -> float:
        """The number training minimises on the validation set: the bound."""
        return self.bound

    def summary(self) -> dict:
        """The figures a training log records each epoch."""
        return dict(bound=self.bound, Lx=self.Lx, Lz=self.Lz)

    def format(self, split: str = "test", grey_levels: bool = False) -> str:
        """A few human-readable lines. ``grey_levels``: the images are not bits, so the figure
        is named a cross-entropy and not a bound (see :data:`GREY_LEVELS_NOTE`)."""
        k = self.samples
        if grey_levels:
            name, what, estimate = ("cross-entropy", "eq. 9 against grey levels",
                                    "importance-weighted estimate")
        else:
            name, what, estimate = ("bound", "a bound on −log p(x), Table 2's figure on MNIST",
                                    "importance-weighted −log p(x)")
        return "\n".join([
            f"{split} images: {self.n}, samples per image: {k}",
            f"{split} {name} L^x + L^z: {self.bound:8.2f} ± {self.bound_stderr:.2f} nats"
            f"   (L^x {self.Lx:.2f}, L^z {self.Lz:.2f}; {what})",
            f"{estimate}, K={k}: {self.iw_nll:8.2f} ± {self.iw_nll_stderr:.2f} nats"
            + ("   (K = 1 equals the figure above in expectation)" if k == 1 else ""),
        ])


def mean_entropy(images, batch_size: int = 1000) -> float:
    """The mean over ``images`` (values in [0, 1]) of their own Bernoulli entropy: the least
    mean ``L^x`` any model can reach on them (0 for bits; the floor under the cross-entropy on
    grey levels, :func:`draw_np.bernoulli.bernoulli_entropy`)."""
    from .bernoulli import bernoulli_entropy
    total = sum(float(bernoulli_entropy(np.asarray(images[start:start + batch_size],
                                                   dtype=np.float64)).sum())
                for start in range(0, len(images), batch_size))
    return total / len(images)


#: Images of each kind that ``evaluate`` counts objects in (data sets with ``count_objects``).
CENSUS_IMAGES = 1000


def object_census(count_objects, images) -> dict[str, float]:
    """The fractions of ``images`` in which ``count_objects`` sees 0, 1, 2 and 3 or more objects
    (e.g. separate digits: :func:`draw_np.data.two_digit.count_separate_digits`)."""
    counts = np.minimum(np.asarray(count_objects(images)), 3)
    return {label: float(np.mean(counts == k)) for k, label in enumerate(("0", "1", "2", "3+"))}


def prior_samples(model, n: int, seed: int = 0, batch_size: int = 100) -> np.ndarray:
    """``n`` images DRAW draws from its prior (eqs. 13-16), with the noise seeded: the final
    canvases σ(c_T), a host array (n, *image_shape)."""
    rng, c = backend.Random(seed), model.config
    finals = []
    for start in range(0, n, batch_size):
        b = min(batch_size, n - start)
        finals.append(model.generate(b, eps=rng.normal((c.T, b, c.z_size), model.dtype))
                      .canvases[-1])
    return np.concatenate(finals)


def _format_census(census: dict[str, float]) -> str:
    return ", ".join(f"{label}: {100 * share:.1f} %" for label, share in census.items())


def _logmeanexp(a, axis=0):
    """``log mean exp(a)`` along ``axis``, without overflow."""
    xp = backend.array_module(a)
    top = a.max(axis=axis, keepdims=True)
    return (top + xp.log(xp.exp(a - top).mean(axis=axis, keepdims=True))).squeeze(axis)


def evaluate_bound(model, images, samples: int = 1, batch_size: int = 100,
                   seed: int = 0, progress=None) -> EvalResult:
    """The bound and the importance-weighted estimate over ``images``.

    Args:
        model: a trained :class:`DRAW`.
        images: (N, *image_shape) host array with values in [0, 1] (e.g. the fixed binarised
            test set, (N, 28, 28)).
        samples: K draws of ε per image.  batch_size: images per forward pass.
        seed: seeds the ε of the evaluation, so the same model always gets the same figure.
        progress: optional callable ``progress(images_done)`` for a progress bar.
    """
    for name, value in (("samples", samples), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    shape = tuple(model.config.image_shape)
    if not hasattr(images, "shape") or tuple(images.shape[1:]) != shape or len(images) == 0:
        raise ValueError(f"images must have shape (N, {', '.join(map(str, shape))}) with "
                         f"N >= 1, got {getattr(images, 'shape', type(images).__name__)}")
    xp = backend.xp()
    rng = backend.Random(seed)
    bounds, Lxs, Lzs, iw = [], [], [], []
    for start in range(0, len(images), batch_size):
        x = xp.asarray(images[start:start + batch_size], dtype=model.dtype)
        per_sample_L, per_sample_Lx, per_sample_Lz, log_w = [], [], [], []
        for _ in range(samples):
            eps = rng.normal((model.config.T, len(x), model.config.z_size), model.dtype)
            terms = model.loss_terms(x, eps)
            per_sample_L.append(terms.Lx + terms.Lz)
            per_sample_Lx.append(terms.Lx)
            per_sample_Lz.append(terms.Lz)
            log_w.append(-(terms.Lx + terms.log_ratio))
        # Average in float64: 10,000 images x ~100 nats loses digits in float32.
        as64 = lambda arrays: xp.stack(arrays).astype("float64")
        bounds.append(as64(per_sample_L).mean(axis=0))
        Lxs.append(as64(per_sample_Lx).mean(axis=0))
        Lzs.append(as64(per_sample_Lz).mean(axis=0))
        iw.append(-_logmeanexp(as64(log_w), axis=0))
        if progress is not None:
            progress(len(x))
    bound, Lx, Lz, iw = (backend.to_numpy(xp.concatenate(a)) for a in (bounds, Lxs, Lzs, iw))
    n = len(bound)
    stderr = lambda a: float(a.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    return EvalResult(n, samples, float(bound.mean()), stderr(bound), float(Lx.mean()),
                      float(Lz.mean()), float(iw.mean()), stderr(iw))


# ------------------------------------------------------------------------------------ CLI
def _with_estimate(update, total: int, samples: int, print_fn=None, clock=time.perf_counter):
    """A progress callback that also says, after the first batch, how long the whole
    evaluation will take when that is more than a minute (``--samples`` multiplies it)."""
    print_fn = print_fn or (lambda s: print(s, file=sys.stderr))
    started, told = clock(), []

    def progress(batch_images: int) -> None:  # called after each batch with its size
        update(batch_images)
        if not told:
            told.append(True)
            seconds = (clock() - started) * total / batch_images
            if seconds > 60:
                print_fn(f"evaluating {total} images x {samples} samples will take about "
                         f"{_duration(seconds)} (Ctrl-C to stop)")
    return progress


def _duration(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} days"


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate", help="a checkpoint's figure on the test set of its data set",
        description="Report a checkpoint's figure on the test (or validation) set of the data "
                    "set it was trained on, with its standard error. DRAW: the mean of "
                    "L^x + L^z (the paper's Table 2 figure, nats) and an importance-weighted "
                    "estimate of -log p(x); the attention classifier: the error in % (Table 1).")
    p.add_argument("checkpoint", help="a checkpoint .npz written by `train` (e.g. runs/quick/best.npz)")
    p.add_argument("--split", choices=("test", "valid"), default="test")
    p.add_argument("--samples", type=int, default=1, metavar="K",
                   help="DRAW: draws of ε per image (default 1)")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--seed", type=int, default=0, help="seed of the evaluation noise")
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="evaluate only the first N images (quick checks)")
    p.add_argument("--backend", choices=backend.BACKENDS, default=None)
    p.add_argument("--data", default=None, metavar="PATH",
                   help="the data set's files, if not cached (MNIST: mnist.pkl.gz or a "
                        "directory of IDX files)")
    p.add_argument("--cache-dir", default=None, metavar="DIR",
                   help="where decoded data is cached (default ~/.cache/draw_np)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    from .checkpoint import load_checkpoint
    from .data.dataset import load_dataset
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be >= 1, got {args.limit}")
    if args.seed < 0:
        raise ValueError(f"--seed must be an integer >= 0, got {args.seed}")
    for flag, value in (("--samples", args.samples), ("--batch-size", args.batch_size)):
        if value < 1:
            raise ValueError(f"{flag} must be an integer >= 1, got {value}")
    checkpoint = load_checkpoint(args.checkpoint)
    model = checkpoint.build_model()
    data = load_dataset(checkpoint.dataset, source=args.data, cache_dir=args.cache_dir,
                        limit=args.limit)
    data.check_fits(model.config)
    arrays = data.split(args.split)
    from tqdm import tqdm
    with tqdm(total=len(arrays[0]), unit="img", desc=f"evaluating {args.split}", disable=None,
              leave=False) as bar:
        result = model.evaluate(*arrays, samples=args.samples, batch_size=args.batch_size,
                                seed=args.seed, progress=_with_estimate(bar.update,
                                                                        len(arrays[0]),
                                                                        args.samples))
    grey_levels = is_cross_entropy(model, data)
    floor = mean_entropy(arrays[0]) if grey_levels else None
    extra = {} if floor is None else dict(images_entropy=floor)
    if data.count_objects is not None and model.figure_name == "bound":
        n = min(CENSUS_IMAGES, len(arrays[0]))
        extra["objects"] = {
            "samples": object_census(data.count_objects, prior_samples(model, n, args.seed)),
            f"{args.split}_images": object_census(data.count_objects, arrays[0][:n]),
            "images": n}
    if args.json:
        print(json.dumps(dict(result.to_dict(), split=args.split, dataset=data.name,
                              checkpoint=str(args.checkpoint), **extra)))
    elif grey_levels:
        print(result.format(args.split, grey_levels=True))
        print(f"the images' own entropy, the least L^x can be: {floor:.2f} nats; the model's "
              f"L^x is {result.Lx - floor:.2f} above it")
        print(GREY_LEVELS_NOTE)
    else:
        print(result.format(args.split))
    if "objects" in extra and not args.json:
        objects = extra["objects"]
        print(f"separate objects in {objects['images']} of the model's samples: "
              f"{_format_census(objects['samples'])}")
        print(f"separate objects in {objects['images']} {args.split} images:      "
              f"{_format_census(objects[f'{args.split}_images'])}")
    return 0
