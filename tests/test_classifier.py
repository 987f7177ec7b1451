"""The attention classifier: gradients (finite differences, the torch oracle), meaning, bad
input, checkpoints, and training and evaluation through the CLI."""
import json
import math

import numpy as np
import pytest

from draw_np import backend as B
from draw_np import cli
from draw_np.checkpoint import load_model, save_checkpoint
from draw_np.classifier import AttentionClassifier, ClassifierConfig
from draw_np.errors import CheckpointError
from draw_np.gradcheck import check_gradients, rel_error
from tests.test_cluttered import fake_mnist  # noqa: F401 (a fixture)

GREY = ClassifierConfig(H=7, W=9, T=3, size=5, read_n=3, classes=4)
CONFIGS = [
    GREY,
    ClassifierConfig(H=6, W=5, channels=3, T=2, size=4, read_n=2, classes=3),   # colour
    ClassifierConfig(H=5, W=8, T=2, size=3, read_n=1, classes=2),               # N = 1
]


def randomised(config, seed=0, scale=0.5):
    """A float64 model on the current backend with every parameter random, biases and h0 too."""
    model = AttentionClassifier(config, dtype="float64")
    rng = np.random.default_rng(seed)
    for name, value in model.params.items():
        model.params[name] = B.xp().asarray(scale * rng.standard_normal(value.shape))
    return model


def batch(config, n=4, seed=1):
    rng = np.random.default_rng(seed)
    return rng.random((n,) + config.image_shape), rng.integers(0, config.classes, n)


# ----------------------------------------------------------------------------- the config
def test_config_round_trips_and_names_its_image():
    c = ClassifierConfig(H=np.int64(10), W=12, channels=3)
    assert ClassifierConfig.from_dict(c.to_dict()) == c and type(c.H) is int
    assert c.image_shape == (3, 10, 12) and GREY.image_shape == (7, 9)
    assert c.read_size == 3 * 12 * 12
    assert ClassifierConfig() == ClassifierConfig(H=100, W=100, T=8, size=256, read_n=12,
                                                  classes=10)


@pytest.mark.parametrize("fields, message", [
    (dict(T=0), "T must be an integer >= 1"),
    (dict(size=2.5), "size must be an integer >= 1"),
    (dict(classes=1), "classes must be an integer >= 2"),
    (dict(channels=True), "channels must be an integer"),
    (dict(H=5, W=6, read_n=7), "read_n = 7 is larger than the image"),
])
def test_impossible_configs_are_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        ClassifierConfig(**fields)


def test_unknown_config_fields_are_refused():
    with pytest.raises(ValueError, match=r"unknown ClassifierConfig fields: \['z_size'\]"):
        ClassifierConfig.from_dict(dict(ClassifierConfig().to_dict(), z_size=3))


def test_parameters_have_the_spec_names_and_shapes():
    c = ClassifierConfig(H=10, W=12, channels=3, size=7, read_n=4, classes=5)
    assert AttentionClassifier.param_shapes(c) == {
        "lstm.W": (3 * 16 + 7, 28), "lstm.b": (28,), "read_attn.W": (7, 5), "read_attn.b": (5,),
        "out.W": (7, 5), "out.b": (5,), "h0": (7,)}
    model = AttentionClassifier(c)
    assert {k: v.shape for k, v in model.params.items()} == AttentionClassifier.param_shapes(c)
    assert all(v.dtype == np.float32 for v in model.params.values())


def test_the_first_glimpse_sees_the_whole_image():
    c = ClassifierConfig(H=30, W=40, T=2, size=6, read_n=5)
    g = AttentionClassifier(c).glimpses(np.zeros((2, 30, 40))).attention
    np.testing.assert_allclose(g.gx[0], (40 + 1) / 2, rtol=1e-6)   # centred
    np.testing.assert_allclose(g.gy[0], (30 + 1) / 2, rtol=1e-6)
    np.testing.assert_allclose(5 * g.delta[0], 40, rtol=1e-5)     # N δ spans the larger side
    np.testing.assert_allclose(g.gamma[0], 1, rtol=1e-6)


# ----------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("config", CONFIGS, ids=["grey", "colour", "N=1"])
def test_finite_differences_of_every_parameter(backend, config):
    model = randomised(config)
    x, labels = batch(config)
    _, grads = model.loss_and_grads(x, labels)
    errors = check_gradients(lambda: model.loss_and_grads(x, labels)[0], model.params, grads, 1.0)
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("config", CONFIGS + [ClassifierConfig(H=11, W=8, T=4, size=6,
                                                               read_n=4, classes=5)])
def test_agrees_with_the_torch_oracle(config):
    pytest.importorskip("torch")  # an optional oracle: draw_np.torch_reference needs it
    from draw_np import torch_reference as reference
    model = randomised(config, seed=3)
    x, labels = batch(config, n=5, seed=4)
    loss, grads = model.loss_and_grads(x, labels)
    oracle_loss, oracle = reference.classifier_loss_and_grads(config, model.params, x, labels)
    assert loss == pytest.approx(oracle_loss, rel=1e-12)
    errors = {k: rel_error(grads[k], oracle[k]) for k in grads}
    assert max(errors.values()) < 1e-6, errors


def test_a_batch_is_its_examples_one_at_a_time(backend):
    """Examples do not interact: the batch's loss and gradients are the means of each one's."""
    model = randomised(CONFIGS[1])
    x, labels = batch(CONFIGS[1], n=3)
    loss, grads = model.loss_and_grads(x, labels)
    alone = [model.loss_and_grads(x[i:i + 1], labels[i:i + 1]) for i in range(3)]
    assert loss == pytest.approx(np.mean([a[0] for a in alone]), rel=1e-12)
    for name, grad in grads.items():
        np.testing.assert_allclose(B.to_numpy(grad), np.mean([B.to_numpy(a[1][name])
                                                              for a in alone], axis=0),
                                   rtol=1e-10, atol=1e-14, err_msg=name)


def test_grey_images_may_carry_their_one_channel():
    model = randomised(GREY)
    x, labels = batch(GREY)
    loss, grads = model.loss_and_grads(x, labels)
    loss1, grads1 = model.loss_and_grads(x[:, None], labels)
    assert loss == loss1 and all(np.array_equal(grads[k], grads1[k]) for k in grads)


# ----------------------------------------------------------------------------- meaning
def test_with_zero_output_weights_the_loss_is_log_k_and_nothing_else_learns():
    model = randomised(GREY)
    model.params["out.W"][...] = 0
    model.params["out.b"][...] = 0
    x, labels = batch(GREY, n=6)
    loss, grads = model.loss_and_grads(x, labels)
    assert loss == pytest.approx(math.log(GREY.classes), rel=1e-12)
    for name in ("lstm.W", "lstm.b", "read_attn.W", "read_attn.b", "h0"):
        assert not grads[name].any(), name     # the logits do not depend on them
    assert grads["out.b"].sum() == pytest.approx(0, abs=1e-12)   # softmax minus one-hot


def test_predict_is_the_argmax_and_evaluate_counts_its_mistakes():
    model = randomised(GREY)
    x, labels = batch(GREY, n=23, seed=5)
    predicted = model.predict(x)
    assert predicted.dtype == np.int64
    np.testing.assert_array_equal(predicted, model.logits(x).argmax(axis=1))
    result = model.evaluate(x, labels, batch_size=5)
    wrong = predicted != labels
    assert result.n == 23 and result.figure == result.error
    assert result.error == pytest.approx(100 * wrong.mean())
    assert result.error_stderr == pytest.approx(100 * wrong.std(ddof=1) / math.sqrt(23))
    assert result.cross_entropy == pytest.approx(model.loss_and_grads(x, labels)[0], rel=1e-12)
    assert result.summary() == dict(error=result.error, cross_entropy=result.cross_entropy)
    assert json.dumps(result.to_dict()) and "test error" in result.format("test")


def test_a_model_that_always_says_three():
    model = randomised(GREY, scale=0.1)
    model.params["out.b"][3] = 50.0
    x, labels = batch(GREY, n=40, seed=6)
    assert (model.predict(x) == 3).all()
    assert model.evaluate(x, labels).error == pytest.approx(100 * np.mean(labels != 3))


def test_a_sharp_glimpse_reads_the_pixels_it_is_placed_on():
    """With W_a = 0 and a bias for a grid of stride 1, tiny σ and γ = 1 centred on pixel
    (row 6, col 8), 1-based, the 3 x 3 patch is the image's 3 x 3 block around it."""
    c = ClassifierConfig(H=12, W=15, T=1, size=4, read_n=3)
    model = AttentionClassifier(c, dtype="float64")
    model.params["read_attn.W"][...] = 0
    gx_tilde, gy_tilde = 8 / ((15 + 1) / 2) - 1, 6 / ((12 + 1) / 2) - 1    # eqs. 22-23
    log_delta_tilde = math.log(1 / ((15 - 1) / (3 - 1)))                  # δ = 1, eq. 24
    model.params["read_attn.b"][...] = [gx_tilde, gy_tilde, math.log(0.01), log_delta_tilde, 0]
    x = np.random.default_rng(7).random((2, 12, 15))
    patches = model.glimpses(x).patches
    assert patches.shape == (1, 2, 1, 3, 3)
    np.testing.assert_allclose(patches[0, :, 0], x[:, 4:7, 6:9], atol=1e-9)


def test_matmul_shapes_follow_the_steps():
    c = ClassifierConfig(H=20, W=24, channels=3, T=4, size=6, read_n=5, classes=7)
    shapes = AttentionClassifier(c).matmul_shapes(9)
    assert all(len(s) == 5 and all(isinstance(v, int) and v >= 1 for v in s[1:]) for s in shapes)
    by_label = {label: (rows, inner, cols, count) for label, rows, inner, cols, count in shapes}
    assert by_label["lstm.forward"] == (9, 3 * 25 + 6, 4 * 6, 4)
    assert by_label["lstm.grad_weight"] == (3 * 25 + 6, 9, 4 * 6, 4)
    assert by_label["out.forward"] == (9, 6, 7, 1)
    doubled = AttentionClassifier(ClassifierConfig(**dict(c.to_dict(), T=8))).matmul_shapes(9)
    assert [s[4] for s in doubled if not s[0].startswith("out")] == \
           [2 * s[4] for s in shapes if not s[0].startswith("out")]
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        AttentionClassifier(c).matmul_shapes(0)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("labels, message", [
    (np.array([0, 1, 4, 2]), r"labels must lie in \[0, 3\]"),
    (np.array([0, 1, -1, 2]), r"labels must lie in \[0, 3\]"),
    (np.array([0.0, 1, 2, 3]), "labels must be integers"),
    (np.array([0, 1, 2]), r"labels must have shape \(4,\)"),
    ([0, 1, 2, 3], "labels must be an integer array"),
])
def test_bad_labels_are_refused(labels, message):
    x, _ = batch(GREY)
    with pytest.raises(ValueError, match=message):
        AttentionClassifier(GREY).loss_and_grads(x, labels)


@pytest.mark.parametrize("x, message", [
    (np.zeros((4, 9, 7)), r"x must have shape \(n, 7, 9\) or \(n, 1, 7, 9\), got \(4, 9, 7\)"),
    (np.zeros((0, 7, 9)), "at least one image"),
    (np.full((4, 7, 9), 1.5), r"values in \[0, 1\]"),
    (np.full((4, 7, 9), np.nan), "contains NaN"),
    (np.zeros((4, 7, 9), dtype=complex), "real numbers"),
    ("images", "x must have shape"),
])
def test_bad_images_are_refused(x, message):
    with pytest.raises(ValueError, match=message):
        AttentionClassifier(GREY).loss_and_grads(x, np.zeros(4, dtype=int))


def test_evaluate_refuses_samples_and_misaligned_labels():
    model = AttentionClassifier(GREY)
    x, labels = batch(GREY)
    with pytest.raises(ValueError, match="samples must be 1 .* deterministic"):
        model.evaluate(x, labels, samples=2)
    with pytest.raises(ValueError, match="one label per image"):
        model.evaluate(x, labels[:3])
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        model.evaluate(x, labels, batch_size=0)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="config must be a ClassifierConfig"):
        AttentionClassifier(dict(H=3))
    with pytest.raises(ValueError, match="dtype must be"):
        AttentionClassifier(GREY, dtype="float16")
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        AttentionClassifier(GREY, seed=-1)


# ----------------------------------------------------------------------------- checkpoints
def test_a_checkpoint_round_trips_to_an_attention_classifier(tmp_path):
    model = randomised(GREY)
    save_checkpoint(tmp_path / "c.npz", model.params, model.config)
    loaded = load_model(tmp_path / "c.npz", dtype="float64")
    assert type(loaded) is AttentionClassifier and loaded.config == GREY
    x, labels = batch(GREY)
    assert loaded.loss_and_grads(x, labels)[0] == model.loss_and_grads(x, labels)[0]


def _crafted(tmp_path, params, config_dict):
    """A classifier checkpoint with the given parameters and config, written by hand."""
    arrays = {f"param/{k}": np.asarray(v) for k, v in params.items()}
    arrays["meta"] = np.array(json.dumps(dict(format="draw_np-checkpoint-1", kind="classifier",
                                              config=config_dict)))
    np.savez(tmp_path / "crafted.npz", **arrays)
    return tmp_path / "crafted.npz"


def test_crafted_checkpoints_are_refused_in_one_line(tmp_path):
    model = AttentionClassifier(GREY)
    params = dict(model.params, **{"out.W": np.zeros((5, 3), np.float32)})
    with pytest.raises(CheckpointError, match=r"parameter out.W has shape \(5, 3\), its config "
                                              r"needs \(5, 4\)") as info:
        load_model(_crafted(tmp_path, params, GREY.to_dict()))
    assert "\n" not in str(info.value)
    with pytest.raises(CheckpointError, match="impossible model config: unknown "
                                              "ClassifierConfig fields"):
        load_model(_crafted(tmp_path, model.params, dict(GREY.to_dict(), enc_size=3)))
    with pytest.raises(CheckpointError, match="impossible model config: classes must be"):
        load_model(_crafted(tmp_path, model.params, dict(GREY.to_dict(), classes=1)))


# ----------------------------------------------------------------------------- the CLI
SMALL = ["--size", "8", "--T", "2", "--read-n", "4", "--batch-size", "10"]


def test_cli_trains_the_cluttered_preset_and_evaluates_its_error(tmp_path, fake_mnist, capsys):
    out, cache = tmp_path / "run", str(tmp_path / "cache")
    argv = ["train", "--preset", "cluttered", "--out", str(out), "--epochs", "2",
            "--cache-dir", cache] + SMALL
    assert cli.main(argv) == 0
    printed = capsys.readouterr()
    assert "best validation error" in printed.out and "training classifier (" in printed.err
    model = load_model(out / "best.npz")
    assert type(model) is AttentionClassifier and model.config.T == 2
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    epochs = [r for r in log if r["kind"] == "epoch"]
    assert len(epochs) == 2 and all(0 <= r["valid_error"] <= 100 for r in epochs)
    assert cli.main(["evaluate", str(out / "best.npz"), "--json", "--cache-dir", cache]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 10 and result["dataset"] == "cluttered"   # the fake test split
    assert 0 <= result["error"] <= 100 and result["error_stderr"] >= 0
    assert cli.main(["evaluate", str(out / "best.npz"), "--cache-dir", cache]) == 0
    assert "test error" in capsys.readouterr().out
    assert cli.main(["evaluate", str(out / "best.npz"), "--samples", "2",
                     "--cache-dir", cache]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "deterministic" in err


def test_cli_refuses_draw_flags_for_the_classifier(tmp_path, fake_mnist, capsys):
    argv = ["train", "--preset", "cluttered", "--out", str(tmp_path), "--z-size", "3"]
    assert cli.main(argv) == 2
    assert "--z-size does not apply to this model (ClassifierConfig)" in capsys.readouterr().err


def test_a_resumed_classifier_run_ends_exactly_where_an_uninterrupted_one_does(tmp_path,
                                                                             fake_mnist):
    from draw_np.data.dataset import load_dataset
    from draw_np.presets import TrainSettings
    from draw_np.train import train
    data = load_dataset("cluttered", cache_dir=tmp_path / "cache", log=lambda s: None)
    config = ClassifierConfig(T=2, size=6, read_n=3)
    settings = TrainSettings(epochs=2, batch_size=10, lr=3e-3, seed=2, dataset="cluttered")
    quiet = dict(progress_bar=False, print_fn=lambda s: None)
    whole = train(config, settings, data, tmp_path / "a", **quiet)
    part = train(config, settings, data, tmp_path / "b", max_steps=4, **quiet)  # mid-epoch 2
    assert part["steps"] == 4
    rest = train(config, settings, data, tmp_path / "b", resume=True, **quiet)
    assert rest["steps"] == whole["steps"] == 6
    for name, value in whole["params"].items():
        np.testing.assert_array_equal(rest["params"][name], value, err_msg=name)


def test_the_bundled_classifier_is_the_table_1_model():
    """draw_np/assets/cluttered.npz (the `plot classifier` default) loads as the 8-glimpse model
    of Table 1, trained on cluttered MNIST, and classifies a batch."""
    from draw_np.plot.cli import DEFAULT_CLASSIFIER
    from draw_np.checkpoint import load_checkpoint
    model = load_model(DEFAULT_CLASSIFIER)
    assert model.kind == "classifier" and model.config == ClassifierConfig()
    assert load_checkpoint(DEFAULT_CLASSIFIER).dataset == "cluttered"
    assert not load_checkpoint(DEFAULT_CLASSIFIER).optim_state   # parameters only
    predicted = model.predict(np.zeros((3, 100, 100), dtype=np.float32))
    assert predicted.shape == (3,) and predicted.dtype.kind == "i"


def test_a_classifier_log_plots_as_error_curves_and_time_to_quality(tmp_path, fake_mnist):
    """`plot curves` and `plot quality` read the log a classifier run writes: its figures are
    the cross-entropy and the error in %, not a bound; mixing it with a DRAW log is refused."""
    from draw_np.data.dataset import load_dataset
    from draw_np.plot.curves import plot_training_curves
    from draw_np.plot.quality import plot_time_to_quality
    from draw_np.presets import TrainSettings
    from draw_np.train import train
    data = load_dataset("cluttered", cache_dir=tmp_path / "cache", log=lambda s: None)
    settings = TrainSettings(epochs=2, batch_size=10, lr=3e-3, seed=2, dataset="cluttered")
    train(ClassifierConfig(T=2, size=6, read_n=3), settings, data, tmp_path / "run",
          progress_bar=False, print_fn=lambda s: None)
    log = tmp_path / "run" / "log.jsonl"
    records = [json.loads(line) for line in log.read_text().splitlines()]
    valid_errors = [r["valid_error"] for r in records if r["kind"] == "epoch"]

    curves = plot_training_curves(log)
    assert [ax.get_title() for ax in curves.axes] == ["cross-entropy", "error (%)"]
    np.testing.assert_allclose(curves.axes[1].get_lines()[-1].get_ydata(), valid_errors)
    assert f"validation error {valid_errors[-1]:.2f} %" in curves.texts[0].get_text()

    quality = plot_time_to_quality({"tiny": log}, steps=True)   # the data set is implied
    by_time, by_epoch = quality.axes
    np.testing.assert_allclose(by_epoch.get_lines()[0].get_ydata(), valid_errors)
    assert by_time.get_ylabel() == "validation error (%)"
    assert "attention classifier on cluttered" in quality.texts[0].get_text()

    draw_log = tmp_path / "draw.jsonl"
    draw_log.write_text(json.dumps(dict(kind="epoch", epoch=1, step=5, train_loss=100.0,
                                        valid_bound=99.0)) + "\n")
    with pytest.raises(ValueError, match="mix DRAW and classifier runs"):
        plot_time_to_quality({"tiny": log, "draw": draw_log})
    out = tmp_path / "curves.png"
    assert cli.main(["plot", "curves", "--log", str(log), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
