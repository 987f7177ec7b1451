"""Training: exact resume, checkpoints, the non-finite guard, interrupts, and the CLI."""
import functools
import json
import os
import signal
from dataclasses import replace

import numpy as np
import pytest

from draw_np import cli
from draw_np.checkpoint import load_checkpoint, save_checkpoint
from draw_np.errors import CheckpointError, TrainingError
from draw_np.activations import sigmoid
from draw_np.model import DRAW, MEAN_RATE_CLIP, DRAWConfig, canvas_bias_for_mean
from draw_np.presets import TrainSettings, preset
from draw_np.data.dataset import DataSplits, RegeneratedTrainingSet, mean_image
from draw_np import train as train_module
from draw_np.optim import SpikeFilter
from draw_np.train import new_model, train

from .helpers import replace_mnist

CONFIG = DRAWConfig(H=10, W=9, T=3, enc_size=12, dec_size=10, z_size=3, read_n=2, write_n=3)
SETTINGS = TrainSettings(epochs=2, batch_size=8, lr=3e-3, seed=5)


def strokes(n, H, W, seed):
    """Made-up binary 'digits': one horizontal and one vertical stroke each."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, H, W), dtype=np.uint8)
    for i in range(n):
        x[i, rng.integers(1, H - 1), 1:W - 1] = 1
        x[i, 1:H - 1, rng.integers(1, W - 1)] = 1
    return x


DATA = DataSplits.of_arrays(strokes(40, 10, 9, 0), strokes(16, 10, 9, 1))


def quiet(**kw):
    return dict(progress_bar=False, print_fn=lambda s: None, **kw)


def test_training_writes_checkpoints_and_a_log(tmp_path):
    summary = train(CONFIG, SETTINGS, DATA, tmp_path, **quiet(log_every=2))
    assert summary["epochs"] == 2 and summary["steps"] == 2 * (40 // 8)
    latest = load_checkpoint(tmp_path / "checkpoint.npz")
    best = load_checkpoint(tmp_path / "best.npz")
    assert latest.config == CONFIG and latest.meta["progress"]["epoch"] == 2
    assert best.meta["valid_figure"] == pytest.approx(summary["best_valid"])
    assert best.meta["valid"]["bound"] == best.meta["valid_figure"] and not best.optim_state
    assert {"m/enc.W", "v/c0", "t"} <= set(latest.optim_state)
    lines = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    epochs = [r for r in lines if r["kind"] == "epoch"]
    assert [r["epoch"] for r in epochs] == [1, 2]
    assert all(np.isfinite(r["valid_bound"]) for r in epochs)
    assert [r["step"] for r in lines if r["kind"] == "step"][:2] == [2, 4]
    # each step line: the last step's gradient norm and the largest since the line before
    assert all(r["grad_norm_max"] >= r["grad_norm"] > 0 for r in lines if r["kind"] == "step")


def judging_spikes_after(monkeypatch, least: int) -> None:
    """Make training's spike filter judge from ``least`` norms on (the runs here are short)."""
    monkeypatch.setattr(train_module, "SpikeFilter", functools.partial(SpikeFilter, least=least))


def test_resumed_run_ends_exactly_where_an_uninterrupted_one_does(tmp_path, monkeypatch):
    judging_spikes_after(monkeypatch, 2)   # a factor of 1.01 then skips about every other step
    settings = TrainSettings(epochs=2, batch_size=8, lr=3e-3, seed=5, dynamic_binarization=True,
                             weight_decay=2.0, warmup_steps=9,  # stopped, and resumed, in it
                             weight_average=0.7, skip_spikes=1.01)
    grey = DataSplits.of_arrays(strokes(40, 10, 9, 0) * 0.8, strokes(16, 10, 9, 1), dynamic=True)
    whole = train(CONFIG, settings, grey, tmp_path / "a", **quiet())
    part = train(CONFIG, settings, grey, tmp_path / "b", **quiet(max_steps=7))  # mid-epoch 2
    assert part["steps"] == 7
    rest = train(CONFIG, settings, grey, tmp_path / "b", **quiet(resume=True))
    assert rest["steps"] == whole["steps"]
    for name, value in whole["params"].items():
        np.testing.assert_array_equal(rest["params"][name], value, err_msg=name)
    for run in ("checkpoint", "best"):    # the weight average and the spike filter too
        a, b = (load_checkpoint(tmp_path / d / f"{run}.npz") for d in "ab")
        for name, value in a.params.items():
            np.testing.assert_array_equal(b.params[name], value, err_msg=f"{run} {name}")
        for name, value in a.optim_state.items():
            np.testing.assert_array_equal(b.optim_state[name], value, err_msg=name)
    log = [json.loads(line) for line in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in log if r["kind"] == "step"]
    assert steps == sorted(set(steps))  # no duplicated lines after the resume


def test_a_warm_up_makes_the_first_step_that_fraction_of_the_rate(tmp_path):
    """Adam's first step moves each parameter by about lr (its gradient's sign); under a
    warm-up of W steps it is lr / W, and the rate is back to lr once the warm-up is over."""
    start = new_model(CONFIG, SETTINGS, DATA, lambda s: None).params
    moved = {}
    for warmup in (0, 4):
        out = tmp_path / f"warmup-{warmup}"
        run = train(CONFIG, replace(SETTINGS, warmup_steps=warmup), DATA, out,
                    **quiet(max_steps=1))
        moved[warmup] = np.abs(run["params"]["enc.W"] - start["enc.W"])
        assert load_checkpoint(out / "checkpoint.npz").meta["settings"]["warmup_steps"] == warmup
    assert np.median(moved[0]) == pytest.approx(SETTINGS.lr, rel=1e-2)
    np.testing.assert_allclose(moved[4], moved[0] / 4, rtol=1e-3, atol=1e-9)
    later = train(CONFIG, replace(SETTINGS, warmup_steps=4), DATA, tmp_path / "warmup-4",
                  **quiet(resume=True, max_steps=6))
    assert later["steps"] == 6
    resumed = load_checkpoint(tmp_path / "warmup-4" / "checkpoint.npz")
    assert resumed.optim_state["lr"] == SETTINGS.lr


def best_of(out):
    """``out/best.npz``'s figure re-evaluated on the validation set, and its meta."""
    best = load_checkpoint(out / "best.npz")
    model = best.build_model()
    return model.evaluate(*DATA.valid, batch_size=SETTINGS.batch_size, seed=12345).figure, best.meta


def test_a_weight_average_is_validated_beside_the_weights_and_leaves_training_alone(tmp_path):
    plain = train(CONFIG, SETTINGS, DATA, tmp_path / "plain", **quiet())
    averaged = train(CONFIG, replace(SETTINGS, weight_average=0.8), DATA, tmp_path / "avg",
                     **quiet())
    for name, value in plain["params"].items():   # the same steps: training never sees it
        np.testing.assert_array_equal(averaged["params"][name], value, err_msg=name)
    log = [json.loads(line) for line in (tmp_path / "avg" / "log.jsonl").read_text().splitlines()]
    epochs = [r for r in log if r["kind"] == "epoch"]
    plain_log = (tmp_path / "plain" / "log.jsonl").read_text().splitlines()
    plain_epochs = [r for r in map(json.loads, plain_log) if r["kind"] == "epoch"]
    assert [r["valid_unaveraged"] for r in epochs] == [r["valid_bound"] for r in plain_epochs]
    assert all(r["valid_bound"] != r["valid_unaveraged"] for r in epochs)
    # best.npz holds the lower of the two, and says which: its own figure is that one
    figure, meta = best_of(tmp_path / "avg")
    lowest = min(min(r["valid_bound"], r["valid_unaveraged"]) for r in epochs)
    assert figure == pytest.approx(meta["valid_figure"], rel=1e-6)
    assert figure == pytest.approx(lowest, rel=1e-6)
    assert meta["weights"] == ("average" if lowest in [r["valid_bound"] for r in epochs]
                               else "trained")


@pytest.mark.parametrize("trained, average, kept", [(5.0, 3.0, "average"), (3.0, 5.0, "trained")])
def test_best_keeps_the_average_or_the_trained_weights_whichever_validates_lower(
        tmp_path, monkeypatch, trained, average, kept):
    """The validation figures are made up (trained weights first, then the average), so that
    each case is certain; best.npz must then hold the arrays of the one with the lower."""
    from draw_np.evaluate import EvalResult
    figures = iter([trained, average])
    monkeypatch.setattr(train_module._Loop, "validate",
                        lambda loop: EvalResult(1, 1, next(figures), 0.0, 0.0, 0.0, 0.0, 0.0))
    train(CONFIG, replace(SETTINGS, epochs=1, weight_average=0.5), DATA, tmp_path, **quiet())
    best, last = (load_checkpoint(tmp_path / f"{f}.npz") for f in ("best", "checkpoint"))
    assert best.meta["weights"] == kept and best.meta["valid_figure"] == min(trained, average)
    for name, value in best.params.items():
        held = last.optim_state[f"average/{name}"] if kept == "average" else last.params[name]
        np.testing.assert_array_equal(value, held, err_msg=name)
    record = json.loads((tmp_path / "log.jsonl").read_text().splitlines()[-1])
    assert (record["valid_bound"], record["valid_unaveraged"]) == (average, trained)


def test_a_weight_average_may_start_on_resume_from_the_checkpoint(tmp_path):
    said = []
    train(CONFIG, SETTINGS, DATA, tmp_path, **quiet(max_steps=3))
    train(CONFIG, replace(SETTINGS, weight_average=0.9), DATA, tmp_path,
          resume=True, max_steps=4, progress_bar=False, print_fn=said.append)
    assert "the weight average starts from the checkpoint's weights" in said
    state = load_checkpoint(tmp_path / "checkpoint.npz").optim_state
    assert "average/enc.W" in state


def test_the_spike_filter_skips_steps_and_may_start_on_resume(tmp_path, monkeypatch):
    plain = train(CONFIG, SETTINGS, DATA, tmp_path / "plain", **quiet())
    never = train(CONFIG, replace(SETTINGS, skip_spikes=1e12), DATA, tmp_path / "never", **quiet())
    for name, value in plain["params"].items():   # no spike, no change: the same steps
        np.testing.assert_array_equal(never["params"][name], value, err_msg=name)
    judging_spikes_after(monkeypatch, 2)
    out = tmp_path / "skips"
    run = train(CONFIG, replace(SETTINGS, skip_spikes=1.01), DATA, out, **quiet(log_every=1))
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    skipped = sum(r["skipped"] for r in log if r["kind"] == "step")
    state = load_checkpoint(out / "checkpoint.npz").optim_state
    assert 0 < skipped < run["steps"] == 10
    assert state["t"] == run["steps"] - skipped       # Adam took only the other steps
    assert len(state["spikes/norms"]) == run["steps"]
    for r in log[2:]:   # from the third step on a norm over 1.01 times the median is skipped
        if r["kind"] == "step":
            history = [q["grad_norm"] for q in log if q["kind"] == "step" and q["step"] < r["step"]]
            assert r["skipped"] == (r["grad_norm"] > 1.01 * np.median(history[-200:]))
    said = []
    train(CONFIG, replace(SETTINGS, epochs=3, skip_spikes=50.0), DATA, tmp_path / "plain",
          resume=True, max_steps=11, progress_bar=False, print_fn=said.append)
    assert "the spike filter starts with no history of gradient norms" in said
    assert "resuming with --skip-spikes 50.0 (the run used 0.0 until now)" in said


def test_weight_decay_keeps_the_weight_matrices_smaller_and_may_change_on_resume(tmp_path):
    plain = train(CONFIG, SETTINGS, DATA, tmp_path / "plain", **quiet())
    decayed = train(CONFIG, replace(SETTINGS, weight_decay=30.0), DATA, tmp_path / "wd",
                    **quiet())
    for name in ("enc.W", "dec.W", "read_attn.W"):
        assert np.linalg.norm(decayed["params"][name]) < 0.8 * np.linalg.norm(plain["params"][name])
    more = train(CONFIG, replace(SETTINGS, epochs=3, weight_decay=0.0), DATA, tmp_path / "wd",
                 **quiet(resume=True))
    assert more["epochs"] == 3
    assert load_checkpoint(tmp_path / "wd" / "checkpoint.npz").optim_state["weight_decay"] == 0.0


def interrupt_during_step(monkeypatch, step: int, signals: int = 1) -> None:
    """Send SIGINT ``signals`` times in the middle of training step ``step`` (in its
    ``loss_and_grads``, where an interrupt must not cut the step)."""
    original = DRAW.loss_and_grads
    calls = {"n": 0}

    def interrupting(self, *args, **kw):
        calls["n"] += 1
        if calls["n"] == step:
            for _ in range(signals):
                os.kill(os.getpid(), signal.SIGINT)
        return original(self, *args, **kw)

    monkeypatch.setattr(DRAW, "loss_and_grads", interrupting)


def test_ctrl_c_stops_after_the_step_saves_and_resumes_exactly(tmp_path, monkeypatch):
    whole = train(CONFIG, SETTINGS, DATA, tmp_path / "a", **quiet())
    interrupt_during_step(monkeypatch, 3)
    stopped = train(CONFIG, SETTINGS, DATA, tmp_path / "b", **quiet())
    monkeypatch.undo()
    assert stopped["interrupted"] and stopped["steps"] == 3
    assert load_checkpoint(tmp_path / "b" / "checkpoint.npz").meta["progress"]["step"] == 3
    rest = train(CONFIG, SETTINGS, DATA, tmp_path / "b", **quiet(resume=True))
    for name, value in whole["params"].items():
        np.testing.assert_array_equal(rest["params"][name], value, err_msg=name)


def test_non_finite_loss_stops_and_leaves_the_last_checkpoint_untouched(tmp_path, monkeypatch):
    train(CONFIG, TrainSettings(epochs=1, batch_size=8, seed=5), DATA, tmp_path, **quiet())
    before = (tmp_path / "checkpoint.npz").read_bytes()

    def exploding(self, x, eps=None, return_terms=False):
        loss, grads, terms = DRAW.__dict__["_orig"](self, x, eps, True)
        return float("nan"), grads, terms

    monkeypatch.setattr(DRAW, "_orig", DRAW.loss_and_grads, raising=False)
    monkeypatch.setattr(DRAW, "loss_and_grads", exploding)
    with pytest.raises(TrainingError, match="non-finite loss at epoch 2, step 6"):
        train(CONFIG, SETTINGS, DATA, tmp_path, **quiet(resume=True, save_every_s=0))
    assert (tmp_path / "checkpoint.npz").read_bytes() == before


def test_refuses_to_overwrite_a_run_or_resume_a_different_model(tmp_path):
    train(CONFIG, TrainSettings(epochs=1, batch_size=8), DATA, tmp_path, **quiet())
    with pytest.raises(TrainingError, match="exists: pass --resume"):
        train(CONFIG, SETTINGS, DATA, tmp_path, **quiet())
    other = DRAWConfig(**{**CONFIG.to_dict(), "z_size": 4})
    with pytest.raises(TrainingError, match="z_size is 3 there, 4 here"):
        train(other, SETTINGS, DATA, tmp_path, **quiet(resume=True))


# ----------------------------------------------------------------------------------- CLI
@pytest.fixture
def fake_mnist(monkeypatch):
    """Replace the MNIST loaders with small made-up 28 x 28 data (tests never use the network)."""
    bits = {"train": strokes(60, 28, 28, 0), "valid": strokes(20, 28, 28, 1),
            "test": strokes(30, 28, 28, 2)}
    replace_mnist(monkeypatch, {split: b * 255 for split, b in bits.items()})
    return bits


def test_cli_trains_the_tiny_preset_and_evaluates_it(tmp_path, fake_mnist, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "--preset", "tiny", "--out", str(out), "--epochs", "2"]) == 0
    assert (out / "checkpoint.npz").exists() and (out / "best.npz").exists()
    assert "best validation bound" in capsys.readouterr().out
    assert cli.main(["evaluate", str(out / "best.npz"), "--samples", "3", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 30 and result["samples"] == 3
    assert result["iw_nll"] <= result["bound"] + 3 * result["bound_stderr"]
    assert cli.main(["evaluate", str(out / "best.npz")]) == 0
    assert "test bound" in capsys.readouterr().out


def test_cli_resume_with_a_different_config_is_one_line_and_status_2(tmp_path, fake_mnist, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "--preset", "tiny", "--out", str(out), "--max-steps", "1"]) == 0
    capsys.readouterr()
    assert cli.main(["train", "--preset", "tiny", "--out", str(out), "--resume", "--T", "5"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "T is 4 there, 5 here" in err


@pytest.mark.parametrize("argv, message", [
    (["train", "--lr", "-1"], "--lr must be a positive finite number"),
    (["train", "--T", "0"], "--T must be an integer >= 1"),
    (["train", "--weight-decay", "nan"], "--weight-decay must be a finite number >= 0"),
    (["train", "--weight-average", "1"], "--weight-average must be a decay in [0, 1)"),
    (["train", "--warmup-steps", "-3"], "--warmup-steps must be an integer >= 0, got -3"),
    (["train", "--skip-spikes", "1"], "--skip-spikes must be a factor > 1 (0: none), got 1.0"),
    (["train", "--preset", "huge"], "invalid choice: 'huge'"),
    (["train", "--epochs", "many"], "invalid int value"),
    (["evaluate", "does/not/exist.npz"], "no checkpoint at does/not/exist.npz"),
    (["evaluate", "CORRUPT", "--samples", "2"], "is not a readable checkpoint"),
    (["train", "--resume", "--out", "EMPTY"], "no checkpoint at"),
    (["frobnicate"], "invalid choice"),
])
def test_cli_errors_are_one_line_and_status_2(tmp_path, fake_mnist, capsys, argv, message):
    (tmp_path / "corrupt.npz").write_bytes(b"PK\x03\x04 this is not a zip file")
    argv = [a.replace("CORRUPT", str(tmp_path / "corrupt.npz")).replace("EMPTY", str(tmp_path))
            for a in argv]
    with pytest.raises(SystemExit) as exit_info:
        raise SystemExit(cli.main(argv))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err, err


def test_evaluate_refuses_a_model_for_other_image_sizes(tmp_path, fake_mnist, capsys):
    model = DRAW(CONFIG)
    save_checkpoint(tmp_path / "small.npz", model.params, model.config)
    assert cli.main(["evaluate", str(tmp_path / "small.npz")]) == 2
    assert "takes 10x9 images, the data set mnist has 28x28" in capsys.readouterr().err


def test_checkpoint_is_written_atomically_and_readable_by_others(tmp_path, monkeypatch):
    model = DRAW(CONFIG)
    path = tmp_path / "c.npz"
    previous = os.umask(0o022)
    try:
        save_checkpoint(path, model.params, model.config, epoch=1)
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == 0o644

    def failing_savez(f, **arrays):
        f.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(CheckpointError, match="cannot write .*c.npz: disk full; the previous"):
        save_checkpoint(path, model.params, model.config, epoch=2)
    assert load_checkpoint(path).meta["epoch"] == 1        # the old checkpoint is intact
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]  # no temporary file left behind


def test_cli_backend_cupy_without_a_gpu_is_one_line_and_status_2(capsys):
    from draw_np import backend
    if backend.gpu_available():
        pytest.skip("this machine has a GPU")
    assert cli.main(["bench", "--preset", "tiny", "--backend", "cupy"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "cupy backend needs" in err
    assert backend.get_backend() == "numpy"


# ------------------------------------------------------------------ the initial canvas
def test_canvas_bias_for_mean_is_the_inverse_of_the_sigmoid():
    rates = np.array([[0.05, 0.5, 0.9], [0.0, 1.0, 0.3]])
    c0 = canvas_bias_for_mean(rates)
    np.testing.assert_allclose(sigmoid(c0), np.clip(rates, MEAN_RATE_CLIP, 1 - MEAN_RATE_CLIP),
                               rtol=1e-12)
    assert np.all(np.isfinite(c0)) and c0[1, 0] < -6.5 < 6.5 < c0[1, 1]  # clipped, not ±inf


def test_canvas_init_data_mean_starts_from_the_mean_image():
    settings = TrainSettings(epochs=1, batch_size=8, lr=3e-3, seed=5, canvas_init="data-mean")
    quiet_print = lambda s: None
    zero = new_model(CONFIG, replace(settings, canvas_init="zero"), DATA, quiet_print).params
    mean = new_model(CONFIG, settings, DATA, quiet_print).params
    images = DATA.train.arrays[0]
    sigma_c0 = sigmoid(mean["c0"].astype(np.float64))
    # the strokes leave the border empty: those pixels start at the clipped rate
    ink = np.clip(images.mean(axis=0), MEAN_RATE_CLIP, 1 - MEAN_RATE_CLIP)
    np.testing.assert_allclose(sigma_c0, ink, rtol=1e-5)
    assert np.all(zero["c0"] == 0)
    for name in zero:  # nothing but c0 differs: the same seed, the same weights
        if name != "c0":
            np.testing.assert_array_equal(mean[name], zero[name], err_msg=name)
    np.testing.assert_allclose(mean_image(DATA.train, 100, np.random.default_rng(0)),
                               images.mean(axis=0))


def test_canvas_init_leaves_the_runs_batches_as_they_were(tmp_path):
    """The mean image is drawn from a stream of its own: two runs that differ only in
    --canvas-init train on the same batches (a regenerated set: new images every epoch)."""
    def make_recording(batches):
        def make(indices, rng):
            batches.append(rng.random((len(indices), 10, 9)) < 0.2)
            return (batches[-1],)
        return make

    seen = {"zero": [], "data-mean": []}
    for init, batches in seen.items():
        data = DATA._replace(train=RegeneratedTrainingSet(make_recording(batches), 40))
        train(CONFIG, TrainSettings(epochs=1, batch_size=8, seed=5, canvas_init=init), data,
              tmp_path / init, **quiet(max_steps=3))
    assert len(seen["zero"]) == 3 and len(seen["data-mean"]) == 4  # the mean's batch, then 3
    for a, b in zip(seen["zero"], seen["data-mean"][1:]):
        np.testing.assert_array_equal(a, b)


def test_canvas_init_data_mean_lowers_the_first_reconstruction_loss():
    """Meaning: on images that are mostly background, a canvas that starts at the mean image
    costs far fewer nats than a grey one before any training (L^x at step 0)."""
    settings = TrainSettings(epochs=1, batch_size=8, lr=3e-3, seed=5)
    x = DATA.valid[0].astype(np.float32)
    Lx = {init: new_model(CONFIG, replace(settings, canvas_init=init), DATA, lambda s: None)
          .loss_and_grads(x, return_terms=True)[2].Lx.mean() for init in ("zero", "data-mean")}
    assert Lx["data-mean"] < 0.7 * Lx["zero"], Lx


def test_canvas_init_is_refused_for_the_classifier_in_one_line(tmp_path, fake_mnist, capsys):
    status = cli.main(["train", "--preset", "cluttered", "--canvas-init", "data-mean",
                       "--out", str(tmp_path / "c")])
    err = capsys.readouterr().err.strip()
    assert status == 2 and err.count("\n") == 0
    assert "--canvas-init data-mean applies only to a model with a canvas (DRAW)" in err


def test_init_from_takes_every_parameter_that_fits_and_leaves_the_rest_fresh(tmp_path):
    """A DRAW trained on 10 x 9 images starts a 12 x 12 one: all but the canvas bias c0 (the
    only parameter whose shape depends on the image size) come from the checkpoint."""
    source = DRAW(CONFIG, seed=3)
    save_checkpoint(tmp_path / "small.npz", source.params, source.config)
    bigger = replace(CONFIG, H=12, W=12)
    said = []
    settings = replace(SETTINGS, init_from=str(tmp_path / "small.npz"))
    model = new_model(bigger, settings, DATA, said.append)
    fresh = new_model(bigger, SETTINGS, DATA, lambda s: None)
    for name, value in model.params.items():
        np.testing.assert_array_equal(value, (fresh if name == "c0" else source).params[name],
                                      err_msg=name)
    assert len(said) == 1 and "c0 starts fresh (shape (10, 9) there, (12, 12) here)" in said[0]


def test_init_from_at_own_scale_takes_every_parameter_and_keeps_the_glimpses_in_pixels(tmp_path):
    """``--init-scale own``: the 10 x 9 model's c0 comes too, padded, and its attention heads
    are those of :func:`draw_np.grow.at_own_scale` (its own tests say what they compute)."""
    from draw_np.grow import at_own_scale
    source = DRAW(CONFIG, seed=3)
    save_checkpoint(tmp_path / "small.npz", source.params, source.config)
    said = []
    settings = replace(SETTINGS, init_from=str(tmp_path / "small.npz"), init_scale="own")
    model = new_model(replace(CONFIG, H=12, W=13), settings, DATA, said.append)
    expected = at_own_scale(source.params, CONFIG, 12, 13)
    for name, value in model.params.items():
        np.testing.assert_allclose(value, expected[name], rtol=1e-6, err_msg=name)
    assert said == [f"{len(source.params)} of {len(source.params)} parameters from "
                    f"{tmp_path / 'small.npz'}"]


def test_init_scale_own_without_init_from_is_one_line_and_status_2(tmp_path, fake_mnist, capsys):
    assert cli.main(["train", "--preset", "tiny", "--init-scale", "own",
                     "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "applies only to a run started with init_from" in err, err


def started_from_a_checkpoint_of_config(tmp_path, config):
    """A DRAW of ``CONFIG`` saved as a checkpoint, a new run's model of ``config`` started
    from it with ``--init-from``, and what ``new_model`` said, asserted to be that every
    parameter came from the checkpoint."""
    source = DRAW(CONFIG, seed=3)
    save_checkpoint(tmp_path / "source.npz", source.params, source.config)
    said = []
    model = new_model(config, replace(SETTINGS, init_from=str(tmp_path / "source.npz")), DATA,
                      said.append)
    assert said == [f"{len(source.params)} of {len(source.params)} parameters from "
                    f"{tmp_path / 'source.npz'}"]
    return source, model


def test_init_from_a_model_with_another_number_of_steps_takes_every_parameter(tmp_path):
    """T enters no parameter's shape: a run with more steps starts from all of the weights."""
    source, model = started_from_a_checkpoint_of_config(tmp_path, replace(CONFIG, T=CONFIG.T + 2))
    assert model.config.T == CONFIG.T + 2
    for name, value in model.params.items():
        np.testing.assert_array_equal(value, source.params[name], err_msg=name)


@pytest.mark.parametrize("larger, grown_weight, axis, added", [
    (dict(read_n=4), "enc.W", 0, 2 * (16 - 4)),    # 2 x 2 read to 4 x 4: two planes (x, x̂)
    (dict(write_n=5), "write.W", 1, 25 - 9),       # 3 x 3 write to 5 x 5
    (dict(read_n=4, write_n=5), "write.W", 1, 25 - 9),
    (dict(enc_size=CONFIG.enc_size + 4), "enc.W", 1, 4 * 4),   # four gates of four new units
    (dict(dec_size=CONFIG.dec_size + 3, read_n=4), "dec.W", 0, 3),
])
def test_init_from_a_smaller_model_grows_it_and_draws_the_same(tmp_path, larger, grown_weight,
                                                               axis, added):
    """A smaller read, write or LSTM becomes a larger one (draw_np.grow): every parameter is
    taken, and the new run's model starts with exactly the loss that the checkpoint's has."""
    source, model = started_from_a_checkpoint_of_config(tmp_path, replace(CONFIG, **larger))
    assert (model.params[grown_weight].shape[axis]
            == source.params[grown_weight].shape[axis] + added)
    x = DATA.valid[0][:8].astype(np.float32)
    eps = np.random.default_rng(0).standard_normal((CONFIG.T, 8, CONFIG.z_size))
    assert model.loss_and_grads(x, eps)[0] == pytest.approx(source.loss_and_grads(x, eps)[0],
                                                            rel=1e-5)


def test_init_from_a_run_trains_and_is_kept_in_its_settings(tmp_path):
    first = train(CONFIG, SETTINGS, DATA, tmp_path / "a", **quiet())
    settings = replace(SETTINGS, init_from=str(tmp_path / "a" / "best.npz"), epochs=1)
    second = train(CONFIG, settings, DATA, tmp_path / "b", **quiet(max_steps=1))
    assert second["steps"] == 1 and np.isfinite(first["best_valid"])
    saved = load_checkpoint(tmp_path / "b" / "checkpoint.npz").meta["settings"]
    assert saved["init_from"] == settings.init_from


@pytest.mark.parametrize("source, message", [
    ("missing", "no checkpoint at"),
    ("classifier", "holds a classifier model, not a draw"),
    ("unrelated", "it differs in z_size (2 there, 4 here)"),
    ("larger-lstm", "the decoder LSTM can grow but not shrink: 40 units there, 32 here"),
    ("wider-read", "the read glimpse can grow but not shrink: 4 x 4 there, 2 x 2 here"),
    ("write-by-one", "a 2 x 2 write grows only by an even number of points"),
])
def test_cli_init_from_a_bad_checkpoint_is_one_line_and_status_2(tmp_path, fake_mnist, capsys,
                                                                 source, message):
    from draw_np.classifier import AttentionClassifier, ClassifierConfig
    classifier = AttentionClassifier(ClassifierConfig(H=12, W=12, T=2, size=4, read_n=2))
    save_checkpoint(tmp_path / "classifier.npz", classifier.params, classifier.config)
    other = DRAW(DRAWConfig(H=5, W=5, T=2, enc_size=3, dec_size=3, z_size=2, read_n=2,
                            write_n=2))
    save_checkpoint(tmp_path / "unrelated.npz", other.params, other.config)
    wider = DRAW(replace(preset("tiny")[0], read_n=4))
    save_checkpoint(tmp_path / "wider-read.npz", wider.params, wider.config)
    larger_lstm = DRAW(replace(preset("tiny")[0], dec_size=40))
    save_checkpoint(tmp_path / "larger-lstm.npz", larger_lstm.params, larger_lstm.config)
    write_by_one = DRAW(replace(preset("tiny")[0], write_n=2))
    save_checkpoint(tmp_path / "write-by-one.npz", write_by_one.params, write_by_one.config)
    path = tmp_path / f"{source}.npz"
    assert cli.main(["train", "--preset", "tiny", "--out", str(tmp_path / "run"),
                     "--init-from", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err, err
