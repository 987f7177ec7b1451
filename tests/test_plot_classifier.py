"""The attention classifier's glimpses: the figure, the choice of examples and `plot classifier`."""
import numpy as np
import pytest

from draw_np import cli
from draw_np.checkpoint import save_checkpoint
from draw_np.classifier import AttentionClassifier, ClassifierConfig
from draw_np.model import DRAW, DRAWConfig
from draw_np.plot import choose_examples, plot_classifier_glimpses
from draw_np.presets import TrainSettings
from tests.test_cluttered import fake_mnist  # noqa: F401 (a fixture)


@pytest.mark.parametrize("channels", [1, 3])
def test_a_row_per_image_the_glimpses_and_their_patches(channels):
    c = ClassifierConfig(H=20, W=24, channels=channels, T=3, size=6, read_n=4, classes=5)
    model = AttentionClassifier(c)
    x = np.random.default_rng(0).random((4,) + c.image_shape)
    labels = np.array([0, 1, 2, 3])
    predicted = model.predict(x)
    fig = plot_classifier_glimpses(x, labels, predicted, model.glimpses(x), c)
    assert len(fig.axes) == 4 * (1 + c.T)
    image_axes = fig.axes[::1 + c.T]
    assert all(len(ax.patches) == c.T for ax in image_axes)         # one square per glimpse
    said = [ax.get_ylabel() for ax in image_axes]
    assert said == [f"true {y}\nsaid {p}" for y, p in zip(labels, predicted)]


def test_the_figure_refuses_glimpses_of_other_images():
    c = ClassifierConfig(H=20, W=24, T=2, size=6, read_n=4)
    model = AttentionClassifier(c)
    x = np.zeros((3, 20, 24))
    with pytest.raises(ValueError, match="glimpses must hold"):
        plot_classifier_glimpses(x, np.zeros(3, int), np.zeros(3, int), model.glimpses(x[:2]), c)


def test_examples_show_mistakes_and_right_answers():
    labels = np.array([0, 1, 2, 3, 4, 5, 6, 7])
    predicted = np.array([0, 9, 2, 9, 4, 5, 9, 7])                  # wrong at 1, 3, 6
    np.testing.assert_array_equal(choose_examples(predicted, labels, 4), [0, 1, 2, 3])
    np.testing.assert_array_equal(choose_examples(predicted, labels, 7), [0, 1, 2, 3, 4, 5, 6])
    all_right = choose_examples(labels, labels, 3)
    np.testing.assert_array_equal(all_right, [0, 1, 2])
    all_wrong = choose_examples(labels + 1, labels, 3)                # too few right: mistakes
    np.testing.assert_array_equal(all_wrong, [0, 1, 2])
    with pytest.raises(ValueError, match="rows must be an integer from 1 to 8"):
        choose_examples(predicted, labels, 9)


@pytest.fixture
def classifier_checkpoint(tmp_path):
    model = AttentionClassifier(ClassifierConfig(T=2, size=6, read_n=5))
    path = tmp_path / "classifier.npz"
    save_checkpoint(path, model.params, model.config,
                    settings=TrainSettings(dataset="cluttered").to_dict())
    return path


def test_cli_plots_the_glimpses_of_a_checkpoint(tmp_path, fake_mnist, classifier_checkpoint,
                                                capsys):
    out = tmp_path / "figs" / "glimpses.png"
    argv = ["plot", "classifier", "--checkpoint", str(classifier_checkpoint), "--rows", "4",
            "--out", str(out), "--cache-dir", str(tmp_path / "cache")]
    assert cli.main(argv) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert capsys.readouterr().out.strip() == str(out)


@pytest.mark.parametrize("change, message", [
    (["--rows", "0"], "--rows must be >= 1"),
    (["--out", "OUT.gif"], "--out must name a .png file"),
    (["--rows", "30", "--search", "20"], "--rows (30) must be at most --search (20)"),
    (["--rows", "11", "--search", "20"], "--rows must be at most the 10 images of the test split"),
    (["--checkpoint", "DRAW"], "needs a checkpoint of the attention classifier"),
    (["--checkpoint", "MISSING"], "no checkpoint at"),
])
def test_cli_bad_input_is_one_line_and_status_2(tmp_path, fake_mnist, classifier_checkpoint,
                                                capsys, change, message):
    draw = DRAW(DRAWConfig(T=2, enc_size=4, dec_size=4, z_size=2))
    save_checkpoint(tmp_path / "draw.npz", draw.params, draw.config)
    args = {"--checkpoint": str(classifier_checkpoint), "--out": str(tmp_path / "f.png"),
            "--cache-dir": str(tmp_path / "cache")}
    for flag, value in zip(change[::2], change[1::2]):
        args[flag] = (value.replace("OUT", str(tmp_path / "f")).replace("DRAW", str(tmp_path / "draw.npz"))
                      .replace("MISSING", str(tmp_path / "none.npz")))
    argv = ["plot", "classifier"] + [a for pair in args.items() for a in pair]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()   # progress lines, then the error
    assert err[-1].startswith("draw_np: error: ") and message in err[-1], err
    assert not any("Traceback" in line for line in err)
    assert not (tmp_path / "f.png").exists()
