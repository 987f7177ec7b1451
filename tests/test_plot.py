"""Figures: what each shows (frames, glimpse squares in the right place), and the plot command.

The figures are matplotlib ``Figure`` objects made without pyplot, so these tests need no
display. A tiny model with image sides that differ (8 x 9) keeps them fast and exposes a
swapped x and y.
"""
import json
import re
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import Rectangle
from matplotlib.text import Text
from PIL import Image

from draw_np import backend as B
from draw_np import cli, plot
from draw_np.plot import cli as plot_cli
from draw_np.attention import AttentionParams, filterbank
from draw_np.checkpoint import save_checkpoint
from draw_np.model import DRAW, DRAWConfig, Drawing

CONFIG = DRAWConfig(H=8, W=9, T=3, enc_size=8, dec_size=8, z_size=2, read_n=2, write_n=3)
PLAIN = DRAWConfig(H=8, W=9, T=3, enc_size=8, dec_size=8, z_size=2, attention=False)


def tiny_model(config=CONFIG, seed=0):
    """A model whose weights are large enough for the glimpses and canvases to move."""
    model = DRAW(config, seed=seed, dtype="float64")
    rng = np.random.default_rng(seed)
    model.params = B.to_device({k: rng.normal(0, 0.5, v.shape) for k, v in model.params.items()})
    return model


def rectangles(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def images(ax):
    return [a for a in ax.get_children() if isinstance(a, AxesImage)]


def params(T, n, gx, gy, sigma2, delta):
    """AttentionParams of (T, n) arrays, every step and example alike."""
    full = lambda v: np.full((T, n), float(v))
    return AttentionParams(full(gx), full(gy), full(sigma2), full(delta), full(1.0))


# ------------------------------------------------------------------------------ geometry
def test_glimpse_box_converts_one_based_centre_to_imshow_coordinates():
    # centre (5, 4) in 1-based pixels, side N δ = 3 x 2 = 6: spans [2, 8] x [1, 7] 1-based,
    # so [1, 7] x [0, 6] on imshow's axes, where 1-based pixel a sits at a − 1
    assert plot.glimpse_box(gx=5, gy=4, delta=2, N=3) == plot.Box(1.0, 0.0, 6.0, 6.0)


def test_glimpse_box_is_centred_on_the_middle_filter_of_the_filterbank():
    # Ties the drawing to the maths: the middle filter of an odd grid peaks at the pixel under
    # the square's centre, for x (columns) and y (rows) separately.
    gx, gy, delta, N, H, W = 6.0, 3.0, 1.5, 3, 8, 9
    Fx, Fy = filterbank(*(np.array([v]) for v in (gx, gy, 0.5, delta)), N, H, W)
    box = plot.glimpse_box(gx, gy, delta, N)
    assert box.x + box.width / 2 == np.argmax(Fx[0, N // 2])
    assert box.y + box.height / 2 == np.argmax(Fy[0, N // 2])


def test_sharper_filters_get_thicker_borders_within_the_range():
    widths = [plot.glimpse_line_width(s2) for s2 in (1e-6, 0.25, 1.0, 4.0, 1e6)]
    assert widths == sorted(widths, reverse=True)
    assert widths[0] == plot.LINE_WIDTH_RANGE[1] and widths[-1] == plot.LINE_WIDTH_RANGE[0]
    assert widths[2] == pytest.approx(plot.LINE_WIDTH_AT_UNIT_SIGMA)


@pytest.mark.parametrize("T, steps, expected", [
    (3, None, [1, 2, 3]), (10, 5, [2, 4, 6, 8, 10]), (64, 8, [8, 16, 24, 32, 40, 48, 56, 64]),
    (10, 3, [4, 7, 10]), (5, 5, [1, 2, 3, 4, 5]), (7, 1, [7])])
def test_choose_steps_is_evenly_spaced_and_ends_with_T(T, steps, expected):
    assert plot.choose_steps(T, steps) == expected


@pytest.mark.parametrize("steps", [0, 4, -1, 2.5, True])
def test_choose_steps_rejects_impossible_counts(steps):
    with pytest.raises(ValueError, match="steps"):
        plot.choose_steps(3, steps)


# ---------------------------------------------------------------------------- generation
def test_generation_has_a_frame_and_a_red_square_per_digit_and_step(backend):
    model = tiny_model()
    drawing = model.generate(4)
    fig = plot.plot_generation(drawing, CONFIG)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 4 * CONFIG.T
    for k, ax in enumerate(fig.axes):
        t, i = k % CONFIG.T, k // CONFIG.T           # axes run along rows
        [image] = images(ax)
        np.testing.assert_array_equal(image.get_array(), drawing.canvases[t, i])
        [rect] = rectangles(ax)
        assert rect.get_edgecolor()[:3] == pytest.approx((1.0, 59 / 255, 48 / 255))
        box = plot.glimpse_box(*(f[t, i] for f in (drawing.write_attention.gx,
                                                  drawing.write_attention.gy,
                                                  drawing.write_attention.delta)), CONFIG.write_n)
        assert rect.get_xy() == pytest.approx((box.x, box.y))
        assert rect.get_width() == pytest.approx(box.width)
    assert [ax.get_title() for ax in fig.axes[:CONFIG.T]] == ["t=1", "t=2", "t=3"]


def test_generation_square_geometry_from_a_hand_made_drawing():
    T, n = 2, 1
    drawing = Drawing(np.zeros((T, n, 8, 9)), params(T, n, gx=5, gy=4, sigma2=1.0, delta=2.0),
                      None)
    fig = plot.plot_generation(drawing, CONFIG)
    for ax in fig.axes:
        [rect] = rectangles(ax)
        assert rect.get_xy() == (1.0, 0.0)       # as in test_glimpse_box_converts...
        assert (rect.get_width(), rect.get_height()) == (6.0, 6.0)   # N δ = 3 x 2
        assert rect.get_linewidth() == pytest.approx(plot.LINE_WIDTH_AT_UNIT_SIGMA)


def test_generation_shows_chosen_rows_and_steps():
    drawing = tiny_model().generate(5)
    fig = plot.plot_generation(drawing, CONFIG, rows=2, steps=2)
    assert len(fig.axes) == 2 * 2
    assert [ax.get_title() for ax in fig.axes[:2]] == ["t=2", "t=3"]
    np.testing.assert_array_equal(images(fig.axes[3])[0].get_array(), drawing.canvases[2, 1])


def test_generation_without_attention_has_no_squares():
    drawing = tiny_model(PLAIN).generate(3)
    fig = plot.plot_generation(drawing, PLAIN)
    assert len(fig.axes) == 3 * PLAIN.T
    assert all(len(images(ax)) == 1 and not rectangles(ax) for ax in fig.axes)


def test_generation_rejects_bad_arguments():
    drawing = tiny_model().generate(2)
    with pytest.raises(ValueError, match="rows"):
        plot.plot_generation(drawing, CONFIG, rows=3)
    with pytest.raises(ValueError, match="steps"):
        plot.plot_generation(drawing, CONFIG, steps=4)
    with pytest.raises(ValueError, match="canvases"):
        plot.plot_generation(drawing, DRAWConfig(H=9, W=8, T=3, read_n=2, write_n=3))
    with pytest.raises(ValueError, match="attention"):
        plot.plot_generation(drawing._replace(write_attention=None), CONFIG)


# ------------------------------------------------------------------------ reconstruction
def test_reconstruction_reads_in_green_on_the_input_and_writes_in_red_on_the_canvas(backend):
    model = tiny_model()
    x = (np.random.default_rng(1).random((3, 8, 9)) > 0.5).astype(float)
    drawing = model.reconstruct(x)
    fig = plot.plot_reconstruction(x, drawing, CONFIG, rows=2)
    assert len(fig.axes) == 2 * 2 * CONFIG.T          # two rows per image
    grid = np.array(fig.axes).reshape(4, CONFIG.T)
    for i in range(2):
        for t in range(CONFIG.T):
            read_ax, write_ax = grid[2 * i, t], grid[2 * i + 1, t]
            np.testing.assert_array_equal(images(read_ax)[0].get_array(), x[i])
            np.testing.assert_array_equal(images(write_ax)[0].get_array(), drawing.canvases[t, i])
            [read], [write] = rectangles(read_ax), rectangles(write_ax)
            assert read.get_edgecolor()[1] > 0.8 > read.get_edgecolor()[0]    # green
            assert write.get_edgecolor()[0] > 0.8 > write.get_edgecolor()[1]  # red
            ra = drawing.read_attention
            assert read.get_width() == pytest.approx(CONFIG.read_n * ra.delta[t, i])
            assert read.get_xy()[0] == pytest.approx(ra.gx[t, i] - read.get_width() / 2 - 1)


def test_reconstruction_without_attention_shows_the_input_then_the_canvases():
    model = tiny_model(PLAIN)
    x = np.random.default_rng(2).random((2, 8, 9))
    drawing = model.reconstruct(x)
    fig = plot.plot_reconstruction(x, drawing, PLAIN, steps=2)
    assert len(fig.axes) == 2 * (1 + 2)
    assert not any(rectangles(ax) for ax in fig.axes)
    np.testing.assert_array_equal(images(fig.axes[3])[0].get_array(), x[1])
    np.testing.assert_array_equal(images(fig.axes[5])[0].get_array(), drawing.canvases[2, 1])


def test_reconstruction_checks_that_x_matches_the_drawing():
    model = tiny_model()
    x = np.zeros((2, 8, 9))
    with pytest.raises(ValueError, match="x must have shape"):
        plot.plot_reconstruction(x[:1], model.reconstruct(x), CONFIG)


# ---------------------------------------------------------------------------- filterbank
def test_read_patch_with_one_sharp_filter_per_pixel_is_the_image():
    image = np.random.default_rng(3).random((7, 7))
    patch = plot.read_patch(image, gx=4, gy=4, sigma2=1e-3, delta=1, N=7)
    np.testing.assert_allclose(patch, image, atol=1e-12)


def test_read_patch_is_Fy_x_FxT_on_a_non_square_image():
    image = np.random.default_rng(4).random((8, 9))
    Fx, Fy = filterbank(*(np.array([v]) for v in (3.5, 6.0, 2.0, 1.5)), 3, 8, 9)
    np.testing.assert_allclose(plot.read_patch(image, 3.5, 6.0, 2.0, 1.5, 3),
                               Fy[0] @ image @ Fx[0].T)


def test_filterbank_figure_shows_each_glimpse_and_its_patch():
    image = np.random.default_rng(5).random((8, 9))
    settings = [(5, 4.5, 0.5, 2.0), (3, 3, 4.0, 0.5)]
    fig = plot.plot_filterbank(image, settings, N=4)
    assert len(fig.axes) == 1 + 2 * len(settings)
    big, rows = fig.axes[0], np.array(fig.axes[1:]).reshape(len(settings), 2)
    assert len(rectangles(big)) == 1
    [dots] = [line for line in big.get_lines() if len(line.get_xdata()) == 4 * 4]
    # centres g + (i0 − (N − 1)/2) δ = 5 + (−3, −1, 1, 3) in 1-based pixels, minus 1 on the axes
    assert sorted(set(dots.get_xdata())) == [1.0, 3.0, 5.0, 7.0]
    assert sorted(set(dots.get_ydata())) == [0.5, 2.5, 4.5, 6.5]
    for (on_image, patch_ax), s in zip(rows, settings):
        [rect] = rectangles(on_image)
        assert rect.get_width() == pytest.approx(4 * s[3])
        np.testing.assert_allclose(images(patch_ax)[0].get_array(), plot.read_patch(image, *s, 4))


def test_filterbank_figure_defaults_to_the_papers_three_glimpses():
    fig = plot.plot_filterbank(np.zeros((28, 28)))
    assert len(fig.axes) == 1 + 2 * 3
    assert images(fig.axes[2])[0].get_array().shape == (12, 12)


# ----------------------------------------------------------------------------- animation
def test_animation_writes_a_gif_with_one_frame_per_step(tmp_path):
    drawing = tiny_model().generate(6)
    path = plot.animate_generation(drawing, CONFIG, tmp_path / "a.gif", rows=2, cols=3, fps=10)
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.n_frames == CONFIG.T
        durations = []
        for k in range(gif.n_frames):
            gif.seek(k)
            durations.append(gif.info["duration"])
    assert durations[:-1] == [100] * (CONFIG.T - 1)
    assert durations[-1] == 100 + 1000 * plot.HOLD_LAST_FRAME_S      # the finished digits stay


def test_animation_needs_enough_digits(tmp_path):
    with pytest.raises(ValueError, match="needs 16 digits"):
        plot.animate_generation(tiny_model().generate(4), CONFIG, tmp_path / "a.gif")


def embedded_frames(html: str) -> list:
    """The PNG frames (base64) that matplotlib's JavaScript player embeds, in order."""
    return re.findall(r'"data:image/png;base64,([^"]*)"', html)


def test_html_animation_plays_every_step_then_holds_the_last():
    fps = 10
    animation = plot.generation_animation(tiny_model().generate(6), CONFIG, rows=2, cols=3,
                                          fps=fps)
    html = animation.to_jshtml()
    assert "<script" in html
    frames = embedded_frames(html)
    held = fps * plot.HOLD_LAST_FRAME_S
    assert len(frames) == CONFIG.T + held
    assert len(set(frames[:CONFIG.T])) == CONFIG.T          # every step shows something new
    assert set(frames[CONFIG.T - 1:]) == {frames[-1]}       # ... and the last one is held


def test_html_animation_checks_its_grid():
    with pytest.raises(ValueError, match="needs 16 digits"):
        plot.generation_animation(tiny_model().generate(4), CONFIG)


def test_library_figures_show_inline_in_jupyter():
    """IPython shows an object with ``_repr_png_`` as that PNG: a cell ending in a figure."""
    fig = plot.plot_generation(tiny_model().generate(2), CONFIG)
    assert isinstance(fig, Figure) and fig._repr_png_()[:8] == PNG_MAGIC


# ----------------------------------------------------------------------- curves and KL
def write_log(path, lines):
    path.write_text("\n".join(l if isinstance(l, str) else json.dumps(l) for l in lines) + "\n")
    return path


def step_record(step, loss):
    return dict(kind="step", epoch=1 + step // 4, step=step, loss=loss, Lx=loss - 10, Lz=10.0,
                grad_norm=5.0, examples_per_s=100.0, elapsed_s=step / 10)


def epoch_record(epoch, step, bound):
    return dict(kind="epoch", epoch=epoch, step=step, train_loss=bound - 1, valid_bound=bound,
                elapsed_s=step / 10)


def test_training_curves_plot_steps_and_validation(tmp_path):
    log = write_log(tmp_path / "log.jsonl", [
        step_record(2, 200.0), "", step_record(4, 150.0), epoch_record(1, 4, 140.0),
        "   ", step_record(6, 120.0), step_record(8, 110.0), epoch_record(2, 8, 108.0),
        dict(kind="note", text="other kinds are skipped")])
    fig = plot.plot_training_curves(log)
    assert len(fig.axes) == 3
    train_line, valid_line = fig.axes[0].get_lines()
    np.testing.assert_array_equal(train_line.get_xdata(), [2, 4, 6, 8])
    np.testing.assert_array_equal(train_line.get_ydata(), [200, 150, 120, 110])
    np.testing.assert_array_equal(valid_line.get_ydata(), [140, 108])
    np.testing.assert_array_equal(fig.axes[2].get_lines()[0].get_ydata(), [10.0] * 4)
    assert any("validation bound 108.00" in text.get_text() for text in fig.findobj(Text))


def test_training_curves_from_a_log_without_epochs(tmp_path):
    fig = plot.plot_training_curves(write_log(tmp_path / "log.jsonl", [step_record(1, 300.0)]))
    assert [len(ax.get_lines()) for ax in fig.axes] == [1, 1, 1]


@pytest.mark.parametrize("lines, message", [
    (["{not json"], "line 1 is not JSON"),
    ([step_record(1, 2.0), "[1, 2]"], "line 2 is not a JSON object"),
    ([dict(kind="step", step=3)], "line 1: a 'step' record lacks"),
    ([dict(kind="epoch", epoch=1, step=3, train_loss="x", valid_bound=1)], "train_loss"),
    (["", dict(kind="other")], "no training records"),
])
def test_a_bad_training_log_is_a_clear_error(tmp_path, lines, message):
    with pytest.raises(ValueError, match=message):
        plot.plot_training_curves(write_log(tmp_path / "log.jsonl", lines))


def test_a_missing_training_log_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no training log at"):
        plot.plot_training_curves(tmp_path / "nothing.jsonl")


def test_kl_bars_are_the_mean_over_examples_and_add_up_to_Lz(backend):
    model = tiny_model()
    x = (np.random.default_rng(6).random((5, 8, 9)) > 0.5).astype(float)
    terms = model.loss_terms(x)
    fig = plot.plot_kl_per_step(terms.kl_per_step)    # an array on the backend's device
    terms = B.to_numpy(terms)
    [ax] = fig.axes
    heights = [bar.get_height() for bar in ax.patches if isinstance(bar, Rectangle)]
    np.testing.assert_allclose(heights, terms.kl_per_step.mean(axis=1))
    assert f"{terms.Lz.mean():.2f}" in ax.get_title()


def test_kl_needs_a_T_by_n_array():
    with pytest.raises(ValueError, match=r"\(T, n\)"):
        plot.plot_kl_per_step(np.zeros(3))


# ---------------------------------------------------------------------------------- CLI
@pytest.fixture
def files(tmp_path):
    """A checkpoint of the tiny model and a data file of 8 x 9 images, in tmp_path."""
    model = tiny_model()
    checkpoint = tmp_path / "model.npz"
    save_checkpoint(checkpoint, model.params, model.config)
    data = tmp_path / "data.npz"
    rng = np.random.default_rng(7)
    np.savez(data, images=(rng.random((5, 8, 9)) > 0.5).astype(np.uint8),
             labels=np.arange(5, dtype=np.int64))
    log = write_log(tmp_path / "log.jsonl", [step_record(1, 200.0), epoch_record(1, 1, 190.0)])
    return dict(checkpoint=str(checkpoint), data=str(data), log=str(log), dir=tmp_path)


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("kind, options", [
    ("generation", ["--checkpoint", "{checkpoint}", "--rows", "2", "--steps", "2"]),
    ("reconstruction", ["--checkpoint", "{checkpoint}", "--data", "{data}", "--rows", "2"]),
    ("filterbank", ["--data", "{data}", "--index", "1", "--n", "3"]),
    ("curves", ["--log", "{log}"]),
    ("kl", ["--checkpoint", "{checkpoint}", "--data", "{data}", "--seed", "3"]),
])
def test_plot_command_writes_a_png(files, capsys, kind, options):
    out = files["dir"] / "figures" / f"{kind}.png"
    argv = ["plot", kind, *(o.format(**files) for o in options), "--out", str(out)]
    assert cli.main(argv) == 0
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert capsys.readouterr().out.strip() == str(out)


def test_plot_command_writes_a_gif_with_T_frames(files, capsys):
    out = files["dir"] / "drawing.gif"
    assert cli.main(["plot", "animation", "--checkpoint", files["checkpoint"], "--rows", "1",
                     "--cols", "2", "--out", str(out)]) == 0
    assert out.read_bytes()[:6] == b"GIF89a"
    with Image.open(out) as gif:
        assert gif.n_frames == CONFIG.T
    assert capsys.readouterr().out.strip() == str(out)


def test_plot_command_writes_an_html_page_that_plays_the_drawing(files, capsys):
    out = files["dir"] / "drawing.html"
    assert cli.main(["plot", "animation", "--checkpoint", files["checkpoint"], "--rows", "1",
                     "--cols", "2", "--fps", "4", "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<script" in page
    assert len(embedded_frames(page)) == CONFIG.T + 4 * plot.HOLD_LAST_FRAME_S
    assert capsys.readouterr().out.strip() == str(out)


def test_plot_command_is_reproducible_with_a_seed(files):
    outs = [files["dir"] / f"{k}.png" for k in "abc"]
    for out, seed in zip(outs, ("1", "1", "2")):
        cli.main(["plot", "generation", "--checkpoint", files["checkpoint"], "--rows", "2",
                  "--seed", seed, "--out", str(out)])
    a, b, c = (out.read_bytes() for out in outs)
    assert a == b != c


def assert_one_line_error(capsys, *words):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("draw_np: error: ")
    for word in words:
        assert word in err


@pytest.mark.parametrize("kind, options, words", [
    ("generation", ["--checkpoint", "{dir}/absent.npz"], ["no checkpoint at"]),
    ("generation", ["--checkpoint", "{data}"], ["not a draw_np checkpoint"]),
    ("generation", ["--checkpoint", "{checkpoint}", "--steps", "4"], ["--steps", "T = 3"]),
    ("generation", ["--checkpoint", "{checkpoint}", "--rows", "0"], ["--rows"]),
    ("reconstruction", ["--checkpoint", "{checkpoint}", "--data", "{dir}/absent.npz"],
     ["no data file"]),
    ("reconstruction", ["--checkpoint", "{checkpoint}", "--data", "{log}"], ["not a readable"]),
    ("kl", ["--checkpoint", "{checkpoint}", "--data", "{dir}/big.npz"], ["8x9", "28x28"]),
    ("kl", ["--checkpoint", "{checkpoint}", "--data", "{dir}/bare.npy"], ["not a readable"]),
    ("filterbank", ["--data", "{dir}/unnamed.npz"], ["no array named 'images'"]),
    ("filterbank", ["--data", "{dir}/grey.npz"], ["[0, 1]"]),
    ("filterbank", ["--data", "{data}", "--index", "5"], ["--index"]),
    ("curves", ["--log", "{dir}/absent.jsonl"], ["no training log"]),
    ("curves", ["--log", "{data}"], ["not a text file"]),
    ("curves", ["--log", "{dir}/text.jsonl"], ["line 2 is not JSON"]),
])
def test_plot_command_reports_user_errors_in_one_line(files, capsys, kind, options, words):
    np.savez(files["dir"] / "big.npz", images=np.zeros((2, 28, 28), np.uint8))
    np.savez(files["dir"] / "grey.npz", images=np.full((2, 8, 9), 255, np.uint8))
    write_log(files["dir"] / "text.jsonl", [step_record(1, 2.0), "step 2: loss 1.5"])
    np.save(files["dir"] / "bare.npy", np.zeros((2, 8, 9)))
    np.savez(files["dir"] / "unnamed.npz", np.zeros((2, 8, 9)))
    out = files["dir"] / "out.png"
    argv = ["plot", kind, *(o.format(**files) for o in options), "--out", str(out)]
    assert cli.main(argv) == 2
    assert_one_line_error(capsys, *words)
    assert not out.exists()


def test_an_unwritable_out_is_one_line(files, capsys):
    blocker = files["dir"] / "file"
    blocker.write_text("a file, not a folder")
    for kind, name in (("curves", "out.png"), ("animation", "out.gif")):
        options = ["--log", files["log"]] if kind == "curves" else ["--checkpoint",
                                                                     files["checkpoint"]]
        assert cli.main(["plot", kind, *options, "--out", str(blocker / name)]) == 2
        assert_one_line_error(capsys, "cannot write")


@pytest.mark.parametrize("kind, name", [("generation", "out.gif"), ("animation", "out.png"),
                                        ("curves", "out")])
def test_plot_command_wants_the_right_suffix(files, capsys, kind, name):
    options = ["--log", files["log"]] if kind == "curves" else ["--checkpoint", files["checkpoint"]]
    assert cli.main(["plot", kind, *options, "--out", str(files["dir"] / name)]) == 2
    assert_one_line_error(capsys, "--out", ".gif" if kind == "animation" else ".png")


def test_bundled_files_are_the_defaults(files, capsys, monkeypatch):
    monkeypatch.setattr(plot_cli, "DEFAULT_CHECKPOINT", files["dir"] / "model.npz")
    monkeypatch.setattr(plot_cli, "DEFAULT_DATA", files["dir"] / "data.npz")
    out = files["dir"] / "out.png"
    assert cli.main(["plot", "reconstruction", "--rows", "1", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == PNG_MAGIC


def test_missing_bundled_files_say_which_option_to_pass(files, capsys, monkeypatch):
    monkeypatch.setattr(plot_cli, "DEFAULT_CHECKPOINT", files["dir"] / "absent" / "quick.npz")
    monkeypatch.setattr(plot_cli, "DEFAULT_DATA", files["dir"] / "absent" / "mnist_sample.npz")
    out = str(files["dir"] / "out.png")
    assert cli.main(["plot", "generation", "--out", out]) == 2
    assert_one_line_error(capsys, "--checkpoint")
    assert cli.main(["plot", "filterbank", "--out", out]) == 2
    assert_one_line_error(capsys, "--data")


def test_bad_arguments_are_one_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["plot", "generation", "--rows", "many", "--out", "x.png"])
    assert exit_.value.code == 2
    assert_one_line_error(capsys, "--rows")
    with pytest.raises(SystemExit):
        cli.main(["plot", "portrait", "--out", "x.png"])
    assert_one_line_error(capsys, "portrait")


def test_importing_plot_picks_no_matplotlib_backend():
    code = ("import sys, draw_np.plot, draw_np.cli; "
            "print(any(m.startswith('matplotlib') for m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"


# ------------------------------------------------------------------- sizes and inputs refused
@pytest.fixture
def no_drawing(monkeypatch):
    """Fails the test if the command makes digits: a refusal must come before that."""
    def refuse(self, n, *args, **kwargs):
        raise AssertionError(f"asked the model for {n} digits")
    monkeypatch.setattr(DRAW, "generate", refuse)
    monkeypatch.setattr(DRAW, "reconstruct", refuse)


@pytest.mark.parametrize("kind, options, words", [
    ("generation", ["--rows", "1000000"], ["1000000 x 3 frames", "too large"]),
    ("reconstruction", ["--rows", "1000000", "--data", "{data}"], ["too large"]),
    ("animation", ["--rows", "1000", "--cols", "1000"], ["1000 x 1000 frames"]),
    ("animation", ["--fps", "inf"], ["--fps", "inf"]),
    ("animation", ["--fps", "nan"], ["--fps", "nan"]),
    ("animation", ["--fps", "0"], ["--fps"]),
    ("animation", ["--fps", "-2"], ["--fps"]),
    ("animation", ["--fps", "1000"], ["--fps", "at most 50"]),
])
def test_sizes_and_rates_that_cannot_be_drawn_are_refused_first(files, capsys, no_drawing, kind,
                                                                 options, words):
    out = files["dir"] / ("out.gif" if kind == "animation" else "out.png")
    argv = ["plot", kind, "--checkpoint", files["checkpoint"],
            *(o.format(**files) for o in options), "--out", str(out)]
    assert cli.main(argv) == 2
    assert_one_line_error(capsys, *words)
    assert not out.exists()


def test_filterbank_n_beyond_the_image_is_refused(files, capsys):
    out = files["dir"] / "out.png"
    assert cli.main(["plot", "filterbank", "--data", files["data"], "--n", "1000000",
                     "--out", str(out)]) == 2
    assert_one_line_error(capsys, "N must be", "9")          # the 8 x 9 image's longer side
    with pytest.raises(ValueError, match="longer side 9"):
        plot.plot_filterbank(np.zeros((8, 9)), N=10)
    plot.plot_filterbank(np.zeros((8, 9)), N=9)              # the largest allowed is drawn


def test_figures_refuse_too_many_frames_or_pixels_before_making_axes(monkeypatch):
    from draw_np.plot import layout
    drawing = tiny_model().generate(3)
    monkeypatch.setattr(layout, "MAX_FRAMES", 8)             # 3 digits x 3 steps = 9 frames
    with pytest.raises(ValueError, match="3 x 3 frames"):
        plot.plot_generation(drawing, CONFIG)
    plot.plot_generation(drawing, CONFIG, steps=2)          # 6 frames are fine
    monkeypatch.setattr(layout, "MAX_SIDE_PIXELS", 100)
    with pytest.raises(ValueError, match="pixels is too large"):
        plot.plot_generation(drawing, CONFIG, steps=2)
    with pytest.raises(ValueError, match="fps"):
        plot.animate_generation(drawing, CONFIG, "never.gif", 1, 1, fps=float("inf"))


@pytest.mark.parametrize("out", ["{dir}/folder.png", "{log}/out.png"])
def test_an_out_that_is_a_folder_or_under_a_file_is_one_line(files, capsys, out):
    (files["dir"] / "folder.png").mkdir()
    assert cli.main(["plot", "curves", "--log", files["log"], "--out", out.format(**files)]) == 2
    assert_one_line_error(capsys, "--out")


def test_a_failed_write_leaves_no_partial_figure(files, capsys, monkeypatch):
    out = files["dir"] / "figures" / "curves.png"
    out.parent.mkdir()
    out.write_bytes(b"the previous figure")

    def half_then_fail(self, f, **kwargs):
        f.write(b"\x89PNG half a figure")
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(Figure, "savefig", half_then_fail)
    assert cli.main(["plot", "curves", "--log", files["log"], "--out", str(out)]) == 2
    assert_one_line_error(capsys, "cannot write", "No space left")
    assert out.read_bytes() == b"the previous figure"       # untouched
    assert [p.name for p in out.parent.iterdir()] == ["curves.png"]   # no temporary file left


# ------------------------------------------------------------- colour and larger images
COLOUR = DRAWConfig(H=8, W=9, T=3, enc_size=8, dec_size=8, z_size=2, read_n=2, write_n=3,
                    channels=3)
LARGE = DRAWConfig(H=60, W=60, T=2, enc_size=8, dec_size=8, z_size=2, read_n=2, write_n=5)


def rgb(image):
    """A (3, H, W) canvas as imshow shows it: (H, W, 3)."""
    return np.moveaxis(image, 0, -1)


def test_generation_shows_colour_canvases_in_rgb_with_the_write_glimpses():
    drawing = tiny_model(COLOUR).generate(2)
    assert drawing.canvases.shape == (COLOUR.T, 2, 3, 8, 9)
    fig = plot.plot_generation(drawing, COLOUR)
    assert len(fig.axes) == 2 * COLOUR.T
    for k, ax in enumerate(fig.axes):
        t, i = k % COLOUR.T, k // COLOUR.T
        [image] = images(ax)
        np.testing.assert_array_equal(image.get_array(), rgb(drawing.canvases[t, i]))
        [rect] = rectangles(ax)
        box = plot.glimpse_box(drawing.write_attention.gx[t, i], drawing.write_attention.gy[t, i],
                               drawing.write_attention.delta[t, i], COLOUR.write_n)
        assert rect.get_xy() == pytest.approx((box.x, box.y))


def test_reconstruction_of_colour_images_shows_input_and_canvas_in_rgb():
    model = tiny_model(COLOUR)
    x = np.random.default_rng(8).random((2, 3, 8, 9))
    drawing = model.reconstruct(x)
    fig = plot.plot_reconstruction(x, drawing, COLOUR)
    grid = np.array(fig.axes).reshape(4, COLOUR.T)
    for i in range(2):
        for t in range(COLOUR.T):
            np.testing.assert_array_equal(images(grid[2 * i, t])[0].get_array(), rgb(x[i]))
            np.testing.assert_array_equal(images(grid[2 * i + 1, t])[0].get_array(),
                                          rgb(drawing.canvases[t, i]))
            [read] = rectangles(grid[2 * i, t])
            ra = drawing.read_attention
            assert read.get_xy()[1] == pytest.approx(
                ra.gy[t, i] - COLOUR.read_n * ra.delta[t, i] / 2 - 1)
    with pytest.raises(ValueError, match=r"x must have shape \(2, 3, 8, 9\)"):
        plot.plot_reconstruction(x[:, 0], drawing, COLOUR)


def test_a_canvas_of_other_channels_is_refused_in_one_sentence():
    with pytest.raises(ValueError, match=r"\(H, W\) grey or \(3, H, W\) colour"):
        plot.plot_generation(Drawing(np.zeros((1, 1, 2, 8, 9)), None, None),
                             DRAWConfig(H=8, W=9, T=1, channels=2, attention=False))


def test_large_images_get_frames_with_enough_pixels_per_pixel():
    drawing = tiny_model(LARGE).generate(2)
    fig = plot.plot_generation(drawing, LARGE)
    for ax in fig.axes:
        width_px = ax.get_position().width * fig.get_size_inches()[0] * plot.DPI
        assert width_px >= plot.MIN_ZOOM * 60 - 1e-6
    # many steps do not shrink a 60 x 60 frame below that either, while 28 x 28 ones may
    assert plot.layout.frame_size(64, 60) == pytest.approx(plot.MIN_ZOOM * 60 / plot.DPI)
    assert plot.layout.frame_size(64, 28) == pytest.approx(0.38)
    assert plot.layout.frame_size(3, 28) == pytest.approx(0.9)


def test_large_image_glimpses_sit_where_the_attention_says():
    drawing = Drawing(np.zeros((1, 1, 60, 60)), params(1, 1, gx=40, gy=20, sigma2=1.0, delta=3.0),
                      None)
    [ax] = plot.plot_generation(drawing, DRAWConfig(H=60, W=60, T=1, write_n=5)).axes
    [rect] = rectangles(ax)
    # side N δ = 15 centred on (40, 20) 1-based: corner (32.5 − 1, 12.5 − 1) on imshow's axes
    assert rect.get_xy() == (31.5, 11.5) and rect.get_width() == 15.0


@pytest.mark.parametrize("config", [COLOUR, LARGE], ids=["colour", "60x60"])
def test_animation_of_colour_and_large_images(tmp_path, config):
    drawing = tiny_model(config).generate(4)
    path = plot.animate_generation(drawing, config, tmp_path / "a.gif", rows=2, cols=2)
    with Image.open(path) as gif:
        assert gif.n_frames == config.T
        width = gif.size[0]
    assert width >= 2 * plot.MIN_ZOOM * max(config.H, config.W)
    if config.channels == 3:   # the frames are in colour: some pixel is neither grey nor red
        with Image.open(path) as gif:
            frame = np.asarray(gif.convert("RGB")).astype(int)
        r, g, b = frame[..., 0], frame[..., 1], frame[..., 2]
        assert np.any((np.abs(r - g) > 20) & (np.abs(g - b) > 20) & (g > r))


def test_plot_reconstruction_takes_the_checkpoints_data_set(tmp_path, monkeypatch, capsys):
    """Without --data, a colour-MNIST checkpoint is shown its data set's test images."""
    from draw_np.data import mnist
    bits = {s: (np.random.default_rng(k).random((n, 28, 28)) > 0.7).astype(np.uint8)
            for k, (s, n) in enumerate({"train": 10, "valid": 4, "test": 5}.items())}
    monkeypatch.setattr(mnist, "load_mnist",
                        lambda **kw: {k: v.astype(np.float32) for k, v in bits.items()})
    config = DRAWConfig(T=2, enc_size=8, dec_size=8, z_size=2, read_n=2, write_n=3, channels=3)
    model = tiny_model(config)
    checkpoint = tmp_path / "colour.npz"
    save_checkpoint(checkpoint, model.params, model.config,
                    settings={"dataset": "colour-mnist"})
    out = tmp_path / "r.png"
    assert cli.main(["plot", "reconstruction", "--checkpoint", str(checkpoint), "--rows", "2",
                     "--cache-dir", str(tmp_path / "cache"), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert (tmp_path / "cache" / "colour_mnist_seed0.npz").exists()
    assert cli.main(["plot", "kl", "--checkpoint", str(checkpoint), "--cache-dir",
                     str(tmp_path / "cache"), "--out", str(tmp_path / "kl.png")]) == 0
    # a grey MNIST sample does not fit it: one line naming both shapes
    capsys.readouterr()
    assert cli.main(["plot", "reconstruction", "--checkpoint", str(checkpoint), "--data",
                     str(plot_cli.DEFAULT_DATA), "--out", str(out)]) == 2
    assert_one_line_error(capsys, "3x28x28", "28x28")
