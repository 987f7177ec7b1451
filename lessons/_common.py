"""The small plumbing every lesson shares: flags, progress lines, figures, bundled data.

A lesson is a jupytext "percent" script: ``# %% [markdown]`` cells hold its explanations (maths
in LaTeX), ``# %%`` cells its code. Run as a script it prints short progress lines and the
numbers it checks; opened as a notebook it shows the Markdown, the figures and the animations.
It starts with ``lesson = Lesson("Lesson N: title")``, which reads the flags

    --pause     wait for Enter before each new step
    --fast      small sizes, bundled data only, no network (what CI runs)
    --out DIR   where figures go (default lessons/out/, which git ignores)
    --show      open the figures in a window as well (otherwise: files only, Agg backend)

and then calls ``lesson.step(title)`` at each step, ``lesson.save(fig, name)`` for each figure
and ``lesson.animation(anim, name)`` for each animation. In a notebook there are no flags:
``fast`` is on (bundled data, small sizes, no network), figures and animations show inline,
and figures are saved to lessons/out/ as well. Nothing here is part of DRAW; the lessons import
``draw_np`` for that.
"""
from __future__ import annotations

import argparse
import inspect
import sys
import textwrap
from pathlib import Path

import numpy as np

import draw_np

ASSETS = Path(draw_np.__file__).parent / "assets"
SAMPLE_PATH = ASSETS / "mnist_sample.npz"   # 100 binarised test digits, shipped with draw_np
CHECKPOINT_PATH = ASSETS / "quick.npz"      # a model trained with `--preset quick`
DEFAULT_OUT = Path(__file__).resolve().parent / "out"


def in_notebook() -> bool:
    """True when run as a notebook (Jupyter, VS Code): figures then show inline."""
    return "ipykernel" in sys.modules


class Lesson:
    """Flags, progress lines, figures and animations for one lesson."""

    def __init__(self, doc: str, add_arguments=None):
        # The title is the first line; in a notebook the Markdown cells show it instead (and
        # __doc__ there is IPython's, for lessons that pass it).
        title = "" if in_notebook() else doc.strip().splitlines()[0]
        parser = argparse.ArgumentParser(description=title)
        parser.add_argument("--pause", action="store_true", help="wait for Enter between steps")
        parser.add_argument("--fast", action="store_true",
                            help="tiny sizes and bundled data only (CI); never uses the network")
        parser.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                            help="where figures are saved (default: lessons/out/)")
        parser.add_argument("--show", action="store_true", help="also show figures on screen")
        if add_arguments is not None:
            add_arguments(parser)
        if in_notebook():   # a kernel's own arguments are not ours; a notebook runs fast
            self.args = parser.parse_args(["--fast"])
        else:
            self.args = parser.parse_args()
        self.fast, self.out = self.args.fast, self.args.out
        import matplotlib
        if not (self.args.show or in_notebook()):
            matplotlib.use("Agg")  # draw to files only; no window, works without a display
        self.out.mkdir(parents=True, exist_ok=True)
        self._steps = 0
        self._saved = 0
        if title:
            print(f"{title}{'  [--fast]' if self.fast else ''}")

    def step(self, title: str, text: str = "") -> None:
        """Start a new step: wait for Enter if --pause, print a heading (not in a notebook,
        whose Markdown cell is the heading) and ``text``, if any."""
        if self.args.pause and self._steps and not in_notebook():
            input("\n  ... press Enter for the next step ")
        self._steps += 1
        if not in_notebook():
            print(f"\n--- {self._steps}. {title} " + "-" * max(3, 70 - len(title)))
        if text:
            self.say(text)

    @staticmethod
    def say(text: str) -> None:
        """Print a paragraph written as an indented triple-quoted string."""
        print(textwrap.dedent(text).strip("\n"))

    def save(self, fig, name: str) -> None:
        """Save a matplotlib figure as ``out/name``; show it in a notebook or with --show."""
        import matplotlib.pyplot as plt
        path = self.out / name
        fig.savefig(path, dpi=110, bbox_inches="tight")
        self._saved += 1
        in_pyplot = fig.canvas.manager is not None   # draw_np.plot makes Figures pyplot lacks
        if in_notebook():
            if not in_pyplot:                 # pyplot's own figures show at the cell's end
                from IPython.display import display
                display(fig)
        else:
            print(f"  [figure saved: {path}]")
            if self.args.show:
                if not in_pyplot:             # a window needs pyplot: show the saved file
                    plt.figure(figsize=fig.get_size_inches())
                    plt.imshow(plt.imread(path))
                    plt.axis("off")
                plt.show()
            elif in_pyplot:
                plt.close(fig)

    def animation(self, animation, name: str) -> None:
        """Play a matplotlib ``Animation`` inline in a notebook (HTML with a JavaScript player);
        as a script, write it to ``out/name`` as a web page that plays in a browser."""
        from draw_np.plot import animation_page
        if in_notebook():
            from IPython.display import HTML, display
            display(HTML(animation.to_jshtml()))
        else:
            path = self.out / name
            path.write_text(animation_page(animation), encoding="utf-8")
            print(f"  [animation saved: {path}  (open it in a browser)]")
        self._saved += 1

    def code(self, function) -> None:
        """Show a function's source: in a notebook as a code block, as a script by its place."""
        if in_notebook():
            from IPython.display import Markdown, display
            display(Markdown(f"```python\n{inspect.getsource(function)}```"))
        else:
            path = Path(inspect.getsourcefile(function)).name
            print(f"  (the code: lessons/{path}, {function.__name__})")

    def done(self) -> None:
        where = f" Figures are in {self.out}/" if self._saved else ""
        print(f"\nDone: every assert passed.{where}")


def load_sample_digits():
    """The bundled sample: ``(images, labels)``, uint8 (100, 28, 28) in {0, 1} and (100,).

    It ships inside the package (``draw_np/assets/mnist_sample.npz``), so the lessons run
    offline and in CI. It is part of the project: a missing file is an error, not a skip.
    """
    if not SAMPLE_PATH.is_file():
        raise FileNotFoundError(f"the bundled sample {SAMPLE_PATH} is missing; it is part of "
                                "draw_np (reinstall the package, or restore the file from git)")
    with np.load(SAMPLE_PATH) as f:
        return f["images"], f["labels"]


def load_digits(fast: bool, split: str = "train"):
    """Binarised MNIST ``split`` from ``draw_np.data``, or the bundled sample.

    With ``fast`` (or when MNIST is not cached and cannot be fetched) this returns the 100
    bundled digits, so a lesson always has real digits to work on. Returns ``(images, source)``.
    """
    if not fast:
        from draw_np.data import DataError, load_binarized_mnist
        try:
            return load_binarized_mnist()[split], f"binarised MNIST, {split} split"
        except DataError as exc:
            print(f"  (MNIST is not available here: {exc}\n   so we use the bundled sample.)")
    return load_sample_digits()[0], "the 100 bundled sample digits"
