"""``python -m draw_np plot KIND``: draw a figure from a checkpoint or a training log.

Every figure is written atomically (:mod:`draw_np.atomic`): a failure never leaves a
half-written file at ``--out``. Bad input is a ``ValueError`` (or a ``CheckpointError``) with one
sentence, which the CLI prints as one line.
"""
from __future__ import annotations

import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..atomic import write_atomically
from ..data.dataset import DATASETS
from .animation import animate_generation, animation_page, check_fps, generation_animation
from .classifier import choose_examples, plot_classifier_glimpses
from .curves import plot_training_curves
from .drawing import plot_generation, plot_reconstruction
from .filterbank import plot_filterbank
from .kl import plot_kl_per_step
from .quality import plot_time_to_quality
from .layout import DPI, check_grid

ASSETS = Path(__file__).parent.parent / "assets"
DEFAULT_CHECKPOINT = ASSETS / "quick.npz"     # a model trained with `train --preset quick`
DEFAULT_CLASSIFIER = ASSETS / "cluttered.npz"  # trained with `train --preset cluttered`
DEFAULT_DATA = ASSETS / "mnist_sample.npz"    # 100 binarised MNIST test digits
#: How many test images of a checkpoint's data set a figure over "all the images" (``plot kl``)
#: takes: as many as the bundled sample holds.
DATASET_SAMPLE = 100


def add_parser(subparsers) -> None:
    """Register ``plot KIND [options] --out FILE`` with the ``python -m draw_np`` parser."""
    p = subparsers.add_parser(
        "plot", help="draw figures: generation, reconstruction, attention, curves",
        description="Draw a figure from a checkpoint (default: the bundled quick model) or a "
                    "training log, and write it to --out. Kinds: generation (the paper's "
                    "Figure 1), reconstruction, filterbank (Figure 3), animation (a GIF, or an "
                    "HTML page that plays in a browser), curves (DIR/log.jsonl), quality (time "
                    "to quality from logs), kl (the KL of each step), classifier (the attention "
                    "classifier's glimpses).")
    kinds = p.add_subparsers(dest="kind", required=True, metavar="KIND", parser_class=type(p))

    def kind(name, help, func, out_suffixes=(".png",)):
        k = kinds.add_parser(name, help=help, description=help[0].upper() + help[1:] + ".")
        k.add_argument("--out", type=Path, required=True, metavar="FILE",
                       help=f"where to write the figure (a {_suffixes(out_suffixes)} file)")
        k.set_defaults(func=func, out_suffixes=out_suffixes)
        return k

    def checkpoint(k):
        k.add_argument("--checkpoint", type=Path, default=None, metavar="PATH",
                       help="a checkpoint .npz (default: the bundled quick-preset model)")

    def data(k):
        k.add_argument("--data", type=Path, default=None, metavar="PATH",
                       help="an .npz with 'images' (n, H, W) or (n, C, H, W) in [0, 1] (default: "
                            "the bundled 100 binarised MNIST test digits)")

    def dataset_images(k):
        k.add_argument("--data", type=Path, default=None, metavar="PATH",
                       help="an .npz with 'images' (n, H, W) or (n, C, H, W) in [0, 1] (default: "
                            "the test images of the checkpoint's data set; for the bundled "
                            "checkpoint, the bundled 100 binarised MNIST test digits)")
        k.add_argument("--source", default=None, metavar="PATH",
                       help="the files of the checkpoint's data set, as `train --data` takes "
                            "them (needed for CIFAR-10 and SVHN, which are not cached)")
        k.add_argument("--cache-dir", default=None, metavar="DIR",
                       help="where decoded data is cached (default ~/.cache/draw_np)")

    def seed(k):
        k.add_argument("--seed", type=int, default=0, help="seed of the noise ε (default 0)")

    def steps(k):
        k.add_argument("--steps", type=int, default=None, metavar="K",
                       help="show K evenly spaced steps ending with T (default: all)")

    k = kind("generation", "digits drawn from the prior, step by step (the paper's Figure 1)",
             _run_generation)
    checkpoint(k)
    k.add_argument("--rows", type=int, default=8, help="digits to draw (default 8)")
    steps(k)
    seed(k)
    k = kind("reconstruction", "test digits reconstructed step by step, with the read and "
             "write glimpses", _run_reconstruction)
    checkpoint(k)
    dataset_images(k)
    k.add_argument("--rows", type=int, default=4,
                   help="show the first ROWS images of the data (default 4)")
    steps(k)
    seed(k)
    k = kind("filterbank", "patches read through N x N Gaussian filters (the paper's Figure 3)",
             _run_filterbank)
    data(k)
    k.add_argument("--index", type=int, default=0, help="which image of the data (default 0)")
    k.add_argument("--n", type=int, default=12, dest="N", help="grid side N (default 12)")
    k = kind("animation", "a GIF of a grid of digits being drawn (or, with --out PAGE.html, a "
             "web page that plays it)", _run_animation, (".gif", ".html"))
    checkpoint(k)
    k.add_argument("--rows", type=int, default=4, help="rows of digits (default 4)")
    k.add_argument("--cols", type=int, default=4, help="columns of digits (default 4)")
    k.add_argument("--fps", type=float, default=8, help="steps per second (default 8)")
    seed(k)
    k = kind("curves", "training curves from a log.jsonl written by train", _run_curves)
    k.add_argument("--log", type=Path, required=True, metavar="PATH",
                   help="the training log, e.g. runs/quick/log.jsonl")
    k = kind("quality", "validation bound (a classifier's: error) against CPU hours and "
             "epochs, with the paper's figures marked", _run_quality)
    k.add_argument("--log", type=Path, required=True, action="append", metavar="PATH",
                   help="a training log (repeat to compare runs, e.g. pilots)")
    k.add_argument("--label", action="append", default=None, metavar="TEXT",
                   help="a legend label per --log (default: the log's folder name)")
    k.add_argument("--dataset", choices=tuple(DATASETS), default=None,
                   help="the runs' data set: the paper's anchors are drawn for mnist only "
                        "(default mnist, or cluttered for classifier logs)")
    k.add_argument("--steps", action="store_true",
                   help="also draw the training loss logged every few steps (for pilots)")
    k = kind("kl", "the KL of each step, averaged over images", _run_kl)
    checkpoint(k)
    dataset_images(k)
    seed(k)
    k = kind("classifier", "the attention classifier's glimpses on test images, right and "
             "wrong, with the patch each glimpse read", _run_classifier)
    k.add_argument("--checkpoint", type=Path, default=None, metavar="PATH",
                   help="a checkpoint of the attention classifier (train --preset cluttered; "
                        "default: the bundled 8-glimpse model)")
    k.add_argument("--rows", type=int, default=6,
                   help="images to show, up to half of them mistakes (default 6)")
    k.add_argument("--split", choices=("test", "valid"), default="test")
    k.add_argument("--search", type=int, default=200, metavar="N",
                   help="look for right and wrong predictions among the first N images of the "
                        "split (default 200)")
    k.add_argument("--data", default=None, metavar="PATH",
                   help="the data set's files, if not cached (as for train and evaluate)")
    k.add_argument("--cache-dir", default=None, metavar="DIR",
                   help="where decoded data is cached (default ~/.cache/draw_np)")


def _suffixes(suffixes: tuple) -> str:
    """``.png``, or ``.gif or .html``: the kinds of file a figure can be written as."""
    return " or ".join(suffixes)


def _check_out(args) -> Path:
    out, wanted = args.out, _suffixes(args.out_suffixes)
    if out.suffix.lower() not in args.out_suffixes:
        raise ValueError(f"--out must name a {wanted} file for `plot {args.kind}`, got {out}")
    if out.is_dir():
        raise ValueError(f"--out {out} is a folder; name a {wanted} file (in it)")
    blocking = next((folder for folder in out.parents if folder.exists() and not folder.is_dir()),
                    None)
    if blocking is not None:
        raise ValueError(f"cannot write --out {out}: {blocking} is a file, not a folder")
    return out


def _checkpoint_path(args, default: Path | None = None) -> Path:
    """--checkpoint, or the bundled ``default`` (:data:`DEFAULT_CHECKPOINT` unless given) when
    it is not given."""
    from ..checkpoint import CheckpointError
    if args.checkpoint is not None:
        return args.checkpoint
    default = default or DEFAULT_CHECKPOINT
    if not default.is_file():
        raise CheckpointError(f"the bundled checkpoint {default} is not installed; pass "
                              f"--checkpoint PATH (e.g. runs/quick/best.npz)")
    return default


def _load_model(args):
    from ..checkpoint import load_model
    return load_model(_checkpoint_path(args))


def _images_for(args, model, n: int | None = None) -> np.ndarray:
    """The first ``n`` images for ``model`` (all if None): those of --data, else the bundled
    sample for the bundled checkpoint, else the test images of the data set the checkpoint was
    trained on (:data:`DATASET_SAMPLE` of them if ``n`` is None)."""
    if args.data is not None or args.checkpoint is None:
        images = _load_images(args)
        _check_sizes(model, images, args.data)
        return images[:n]
    from ..checkpoint import load_checkpoint
    from ..data.dataset import load_dataset
    data = load_dataset(load_checkpoint(args.checkpoint).dataset, source=args.source,
                        cache_dir=args.cache_dir, limit=DATASET_SAMPLE if n is None else n)
    data.check_fits(model.config)
    return np.asarray(data.test[0], dtype=np.float64)


def _load_images(args) -> np.ndarray:
    """The (n, H, W) or (n, C, H, W) float images of --data, or of the bundled sample."""
    path = args.data
    if path is None:
        if not DEFAULT_DATA.is_file():
            raise ValueError(f"the bundled sample {DEFAULT_DATA} is not installed; pass "
                             f"--data PATH (an .npz with 'images' of shape (n, H, W))")
        path = DEFAULT_DATA
    if not Path(path).is_file():
        raise ValueError(f"no data file at {path}")
    try:
        contents = np.load(path, allow_pickle=False)
        if not isinstance(contents, np.lib.npyio.NpzFile):   # a bare .npy array
            raise ValueError("it holds one array, not named arrays")
        with contents:
            if "images" not in contents.files:
                raise ValueError(f"it has no array named 'images', only {contents.files}")
            images = contents["images"]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path} is not a readable .npz file of images ({exc})") from None
    if images.ndim not in (3, 4) or len(images) == 0 \
            or not (np.issubdtype(images.dtype, np.integer)
                    or np.issubdtype(images.dtype, np.floating)):
        raise ValueError(f"{path}: 'images' must be numbers of shape (n, H, W) or (n, C, H, W) "
                         f"with n >= 1, got {images.dtype} {images.shape}")
    images = images.astype(np.float64)
    if not (np.isfinite(images).all() and images.min() >= 0 and images.max() <= 1):
        raise ValueError(f"{path}: 'images' must have values in [0, 1] (bits, or grey levels "
                         f"divided by 255)")
    return images


def _check_sizes(model, images, where) -> None:
    wanted = tuple(model.config.image_shape)
    if images.shape[1:] != wanted:
        size = lambda shape: "x".join(map(str, shape))
        raise ValueError(f"the checkpoint's model draws {size(wanted)} images but "
                         f"{where or DEFAULT_DATA} holds {size(images.shape[1:])} images")


def _eps(model, n: int, seed: int):
    from .. import backend
    c = model.config
    return backend.Random(seed).normal((c.T, n, c.z_size), model.dtype)


def _positive(name: str, value) -> None:
    if value is not None and value < 1:
        raise ValueError(f"--{name} must be >= 1, got {value}")


@contextmanager
def _writing(out: Path):
    """Make the folder of ``out``; an OSError while writing it becomes one sentence."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        yield
    except OSError as exc:
        raise ValueError(f"cannot write {out} ({exc.strerror or exc})") from None


def _save(fig, out: Path) -> None:
    """Write a figure as a PNG file, atomically, and print its path."""
    with _writing(out):
        write_atomically(out, lambda f: fig.savefig(f, format="png", dpi=DPI,
                                                    facecolor=fig.get_facecolor()))
    print(out)


def _check_steps(args, model) -> None:
    if args.steps is not None and args.steps > model.config.T:
        raise ValueError(f"--steps must be at most T = {model.config.T} for this checkpoint, "
                         f"got {args.steps}")


def _run_generation(args) -> int:
    out = _check_out(args)
    _positive("rows", args.rows)
    _positive("steps", args.steps)
    model = _load_model(args)
    _check_steps(args, model)
    check_grid(args.rows, args.steps or model.config.T)
    drawing = model.generate(args.rows, eps=_eps(model, args.rows, args.seed))
    _save(plot_generation(drawing, model.config, steps=args.steps), out)
    return 0


def _run_reconstruction(args) -> int:
    out = _check_out(args)
    _positive("rows", args.rows)
    _positive("steps", args.steps)
    model = _load_model(args)
    _check_steps(args, model)
    check_grid(args.rows, args.steps or model.config.T)   # before reconstructing that many
    x = _images_for(args, model, args.rows)
    drawing = model.reconstruct(x, eps=_eps(model, len(x), args.seed))
    _save(plot_reconstruction(x, drawing, model.config, steps=args.steps), out)
    return 0


def _run_filterbank(args) -> int:
    out = _check_out(args)
    images = _load_images(args)
    if not 0 <= args.index < len(images):
        raise ValueError(f"--index must be from 0 to {len(images) - 1}, got {args.index}")
    _positive("n", args.N)
    _save(plot_filterbank(images[args.index], N=args.N), out)
    return 0


def _run_animation(args) -> int:
    out = _check_out(args)
    _positive("rows", args.rows)
    _positive("cols", args.cols)
    check_fps(args.fps, "--fps")
    check_grid(args.rows, args.cols)   # before drawing that many digits
    model = _load_model(args)
    n = args.rows * args.cols
    drawing = model.generate(n, eps=_eps(model, n, args.seed))
    with _writing(out):
        if out.suffix.lower() == ".html":
            animation = generation_animation(drawing, model.config, args.rows, args.cols,
                                             args.fps)
            page = animation_page(animation, f"DRAW drawing {n} digits")
            write_atomically(out, lambda f: f.write(page.encode("utf-8")))
        else:
            animate_generation(drawing, model.config, out, args.rows, args.cols, args.fps)
    print(out)
    return 0


def _run_curves(args) -> int:
    out = _check_out(args)
    _save(plot_training_curves(args.log), out)
    return 0


def _run_quality(args) -> int:
    out = _check_out(args)
    labels = args.label or [path.parent.name for path in args.log]
    if len(labels) != len(args.log):
        raise ValueError(f"give one --label per --log ({len(args.log)}), got {len(labels)}")
    _save(plot_time_to_quality(dict(zip(labels, args.log)), dataset=args.dataset,
                               steps=args.steps), out)
    return 0


def _run_kl(args) -> int:
    out = _check_out(args)
    model = _load_model(args)
    images = _images_for(args, model)
    terms = model.loss_terms(images, eps=_eps(model, len(images), args.seed))
    _save(plot_kl_per_step(terms.kl_per_step), out)
    return 0


def _run_classifier(args) -> int:
    from ..checkpoint import load_checkpoint
    from ..data.dataset import load_dataset
    out = _check_out(args)
    _positive("rows", args.rows)
    _positive("search", args.search)
    if args.rows > args.search:
        raise ValueError(f"--rows ({args.rows}) must be at most --search ({args.search})")
    path = _checkpoint_path(args, DEFAULT_CLASSIFIER)
    checkpoint = load_checkpoint(path)
    model = checkpoint.build_model()
    if model.kind != "classifier":
        raise ValueError(f"`plot classifier` needs a checkpoint of the attention classifier; "
                         f"{path} holds a {model.kind} model")
    check_grid(args.rows, 1 + model.config.T)   # before loading and classifying the images
    data = load_dataset(checkpoint.dataset, source=args.data,
                        cache_dir=args.cache_dir, limit=args.search)
    data.check_fits(model.config)
    images, labels = data.split(args.split)
    if args.rows > len(images):
        raise ValueError(f"--rows must be at most the {len(images)} images of the {args.split} "
                         f"split, got {args.rows}")
    chosen = choose_examples(model.predict(images), labels, args.rows)
    x, y = images[chosen], labels[chosen]
    _save(plot_classifier_glimpses(x, y, model.predict(x), model.glimpses(x), model.config), out)
    return 0
