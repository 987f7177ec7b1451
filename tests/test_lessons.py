"""The lessons run: every ``lessons/NN_*.py`` as a script with ``--fast``, and as a notebook.

Each lesson runs as a learner would run it: as a script in a fresh interpreter, so an import
that only works from the test's process, or a figure that is promised but not written, fails
here; and as a notebook (jupytext turns the script into one, nbclient runs it top to bottom in
a real ``python3`` kernel with no flags), whose figures and animations must show inline. The lessons assert their own claims (each hand-built piece equals the library's), so a
lesson that exits 0 has checked what it teaches. The bundled assets (the MNIST sample and the
trained checkpoint) are part of the project: if one is missing the tests fail, never skip.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import draw_np

LESSONS_DIR = Path(__file__).resolve().parent.parent / "lessons"
ASSETS = Path(draw_np.__file__).parent / "assets"

#: The files each lesson promises to write under --out. A new lesson must be listed here.
FIGURES = {
    "01_data.py": ["01_digits.png", "01_binarisation.png"],
    "02_gradient_checking.py": ["02_step_size.png"],
    "03_linear_and_lstm.py": ["03_lstm_memory.png"],
    "04_filterbank.py": ["04_filterbank.png", "04_paper_figure3.png"],
    "05_read_and_write.py": ["05_read_glimpses.png", "05_write.png"],
    "06_sampling_and_kl.py": ["06_kl_monte_carlo.png"],
    "07_one_draw_step.py": ["07_draw_steps.png"],
    "08_backprop_through_time.py": ["08_gradient_through_time.png"],
    "09_training.py": ["09_training_curve.png", "09_train_log.png"],
    "10_generation_and_glimpses.py": ["10_generation.png", "10_generation.gif",
                                      "10_generation.html", "10_reconstruction.png",
                                      "10_kl_per_step.png"],
    "11_gpu_backend.py": [],
    "12_attention_classifier.py": ["12_gradient_paths.png", "12_training.png", "12_glimpses.png"],
    "13_heads_and_channels.py": [],
}

LESSONS = sorted(p.name for p in LESSONS_DIR.glob("[0-9]*.py"))


def test_every_lesson_is_listed():
    assert LESSONS == sorted(FIGURES), "list each lesson's figures in FIGURES"


@pytest.mark.parametrize("name", ["mnist_sample.npz", "quick.npz"])
def test_bundled_assets_exist(name):
    assert (ASSETS / name).is_file(), f"draw_np/assets/{name} is missing; the lessons need it"


def offline_env(tmp_path) -> dict:
    """The environment of a lesson's run: no network, no cached MNIST, the default backend."""
    env = dict(os.environ,
               # fast must never use the network: send any attempt to a closed port at once
               http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9",
               HTTP_PROXY="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9",
               XDG_CACHE_HOME=str(tmp_path / "cache"))   # ... and never find a cached MNIST
    env.pop("DRAW_NP_BACKEND", None)
    return env


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_runs(lesson, tmp_path):
    env = dict(offline_env(tmp_path), MPLBACKEND="Agg")
    out = tmp_path / "out"
    command = [sys.executable, str(LESSONS_DIR / lesson), "--fast", "--out", str(out)]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, (f"{lesson} failed (exit {result.returncode}):\n"
                                    f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    missing = [f for f in FIGURES[lesson]
               if not (out / f).is_file() or (out / f).stat().st_size == 0]
    assert not missing, f"{lesson} did not write {missing}"


#: What a lesson's notebook must show inline: how many figures (PNG outputs) at least, and
#: whether an animation (HTML with a JavaScript player). Figures a cell makes with pyplot and
#: figures from ``draw_np.plot`` (which pyplot does not track) must both appear.
def shown_inline(lesson: str) -> tuple:
    return len([f for f in FIGURES[lesson] if f.endswith(".png")]), lesson.startswith("10_")


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_runs_as_a_notebook(lesson, tmp_path, monkeypatch):
    import jupytext   # both in the `test` extra, with ipykernel (the python3 kernel)
    import nbclient
    # A copy of the lessons folder: the notebook's folder is its working directory, where it
    # imports _common from and writes its figures (to out/, beside the copy).
    folder = tmp_path / "lessons"
    shutil.copytree(LESSONS_DIR, folder, ignore=shutil.ignore_patterns("out", "__pycache__"))
    for name, value in offline_env(tmp_path).items():
        monkeypatch.setenv(name, value)          # the kernel inherits this process's environment
    monkeypatch.delenv("MPLBACKEND", raising=False)   # the kernel's own inline backend, as in Jupyter
    notebook = jupytext.read(folder / lesson)
    assert any(cell.cell_type == "markdown" for cell in notebook.cells)
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    errors = [o for o in outputs if o.output_type == "error"]
    assert not errors, errors
    figures, animation = shown_inline(lesson)
    pngs = sum("image/png" in o.get("data", {}) for o in outputs)
    assert pngs >= figures, f"{lesson} showed {pngs} figures inline, expected {figures}"
    players = sum("<script" in o.get("data", {}).get("text/html", "") for o in outputs)
    assert players >= animation, f"{lesson} did not play its animation inline"
