"""The lessons run: every ``lessons/NN_*.py`` with ``--fast`` exits 0 and writes its figures.

Each lesson runs as a learner would run it, as a script in a fresh interpreter, so an import
that only works from the test's process, or a figure that is promised but not written, fails
here. The lessons assert their own claims (each hand-built piece equals the library's), so a
lesson that exits 0 has checked what it teaches. The bundled assets (the MNIST sample and the
trained checkpoint) are part of the project: if one is missing the tests fail, never skip.
"""
import os
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
                                      "10_reconstruction.png", "10_kl_per_step.png"],
    "11_gpu_backend.py": [],
    "12_attention_classifier.py": ["12_gradient_paths.png", "12_training.png", "12_glimpses.png"],
}

LESSONS = sorted(p.name for p in LESSONS_DIR.glob("[0-9]*.py"))


def test_every_lesson_is_listed():
    assert LESSONS == sorted(FIGURES), "list each lesson's figures in FIGURES"


@pytest.mark.parametrize("name", ["mnist_sample.npz", "quick.npz"])
def test_bundled_assets_exist(name):
    assert (ASSETS / name).is_file(), f"draw_np/assets/{name} is missing; the lessons need it"


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_runs(lesson, tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg",
               # --fast must never use the network: send any attempt to a closed port at once
               http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9",
               HTTP_PROXY="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9",
               XDG_CACHE_HOME=str(tmp_path / "cache"))   # ... and never find a cached MNIST
    env.pop("DRAW_NP_BACKEND", None)
    out = tmp_path / "out"
    command = [sys.executable, str(LESSONS_DIR / lesson), "--fast", "--out", str(out)]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, (f"{lesson} failed (exit {result.returncode}):\n"
                                    f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    missing = [f for f in FIGURES[lesson]
               if not (out / f).is_file() or (out / f).stat().st_size == 0]
    assert not missing, f"{lesson} did not write {missing}"
