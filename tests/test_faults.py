"""Training survives the faults a long run meets: each test is one failure that was reported.

Resume with changed settings, divergence, kills at awkward moments, full disks, unwritable
folders, crafted checkpoints, early and repeated Ctrl-C. Every case must end in one clear line
(status 2 for a user error), with the last good checkpoint and best model loadable and the log
holding each epoch once.
"""
import json
import math
import os
import signal

import numpy as np
import pytest

from draw_np import cli
from draw_np import train as train_module
from draw_np.checkpoint import load_checkpoint, load_model, save_checkpoint
from draw_np.errors import CheckpointError, TrainingError
from draw_np.evaluate import _with_estimate
from draw_np.model import DRAW
from draw_np.presets import TrainSettings
from draw_np.train import train

from tests.test_train import (CONFIG, DATA, SETTINGS, fake_mnist,  # noqa: F401 (a fixture)
                              interrupt_during_step, quiet)


def log_records(folder):
    return [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines()]


def epochs_logged(folder):
    return [r["epoch"] for r in log_records(folder) if r["kind"] == "epoch"]


def run_cli(argv, capsys):
    """Status, and stderr as a list of lines."""
    status = cli.main([str(a) for a in argv])
    return status, capsys.readouterr().err.strip().splitlines()


class Killed(BaseException):
    """Stands in for SIGKILL: an exception nothing in the package catches."""


def kill_on_save(monkeypatch, when):
    """Make the n-th checkpoint write (counting best.npz) die before it happens."""
    original = train_module.save_checkpoint
    calls = []

    def save(path, *args, **kw):
        calls.append(os.path.basename(path))
        if when(calls):
            raise Killed
        return original(path, *args, **kw)

    monkeypatch.setattr(train_module, "save_checkpoint", save)
    return calls


# ------------------------------------------------------------------ 1. settings on resume
def test_resume_applies_a_new_learning_rate_and_says_so(tmp_path, fake_mnist, capsys):
    out = tmp_path / "run"
    assert run_cli(["train", "--preset", "tiny", "--out", out, "--epochs", "3",
                    "--max-steps", "1"], capsys)[0] == 0
    status, err = run_cli(["train", "--preset", "tiny", "--out", out, "--resume", "--lr", "1e-4",
                           "--max-steps", "2"], capsys)
    assert status == 0
    assert any("lr 0.0001, clip 10.0, seed 0" in line for line in err)  # the start-up line
    assert any("resuming with --lr 0.0001 (the run used 0.003 until now)" in l for l in err)
    ckpt = load_checkpoint(out / "checkpoint.npz")
    assert ckpt.meta["settings"]["lr"] == 1e-4 and ckpt.optim_state["lr"] == 1e-4


@pytest.mark.parametrize("flag, value", [("--batch-size", "25"), ("--seed", "3"),
                                         ("--dynamic-binarization", None),
                                         ("--canvas-init", "data-mean")])
def test_resume_refuses_a_change_that_breaks_the_replay_in_one_line(tmp_path, fake_mnist,
                                                                   capsys, flag, value):
    out = tmp_path / "run"
    assert run_cli(["train", "--preset", "tiny", "--out", out, "--max-steps", "1"], capsys)[0] == 0
    before = (out / "checkpoint.npz").read_bytes()
    status, err = run_cli(["train", "--preset", "tiny", "--out", out, "--resume", flag]
                          + ([value] if value else []), capsys)
    assert status == 2 and len(err) == 1 and f"--resume cannot change {flag}" in err[0]
    assert (out / "checkpoint.npz").read_bytes() == before


def test_resume_needs_no_flag_repeated(tmp_path, fake_mnist, capsys):
    out = tmp_path / "run"
    assert run_cli(["train", "--preset", "tiny", "--out", out, "--T", "3", "--lr", "2e-3",
                    "--max-steps", "1"], capsys)[0] == 0
    status, err = run_cli(["train", "--preset", "tiny", "--out", out, "--resume",
                           "--max-steps", "2"], capsys)
    assert status == 0 and any("T=3" in line and "lr 0.002" in line for line in err)


# ---------------------------------------------------------------------------- 2. divergence
def test_divergence_never_overwrites_the_last_good_checkpoint(tmp_path, fake_mnist, capsys):
    out = tmp_path / "run"
    status, err = run_cli(["train", "--preset", "tiny", "--limit", "50", "--epochs", "3",
                           "--lr", "1e39", "--out", out], capsys)
    assert status == 2 and len(err) == 2 and "training diverged" in err[-1]  # start-up + error
    for line in (out / "log.jsonl").read_text().splitlines():  # strict JSON even when diverged
        json.loads(line, parse_constant=lambda c: pytest.fail(f"{c} in the log"))
    if (out / "checkpoint.npz").exists():  # whatever was saved is finite and resumable
        load_checkpoint(out / "checkpoint.npz")
        status, err = run_cli(["train", "--preset", "tiny", "--limit", "50", "--out", out,
                               "--resume", "--lr", "1e-3"], capsys)
        assert status == 0, err


def test_non_finite_parameters_are_never_saved(tmp_path, monkeypatch):
    train(CONFIG, TrainSettings(epochs=1, batch_size=8, seed=5), DATA, tmp_path, **quiet())
    before = (tmp_path / "checkpoint.npz").read_bytes()
    original = train_module.Adam.step

    def poisoning(self, params, grads):
        original(self, params, grads)
        params["c0"][0, 0] = np.inf  # the loss of this step was finite

    monkeypatch.setattr(train_module.Adam, "step", poisoning)
    with pytest.raises(TrainingError, match=r"parameter c0 became non-finite at step 6.*still "
                                            r"holds the last good state \(step 5\)"):
        train(CONFIG, SETTINGS, DATA, tmp_path, **quiet(resume=True, save_every_s=0))
    assert (tmp_path / "checkpoint.npz").read_bytes() == before
    model = DRAW(CONFIG)
    model.params["c0"][0, 0] = np.nan
    with pytest.raises(CheckpointError, match="refusing to write .* parameter c0 holds NaN"):
        save_checkpoint(tmp_path / "x.npz", model.params, model.config)
    assert not (tmp_path / "x.npz").exists()


def test_a_non_finite_validation_bound_stops_without_saving(tmp_path, monkeypatch):
    monkeypatch.setattr(DRAW, "evaluate", lambda *a, **k: type(
        "R", (), dict(figure=math.nan, summary=lambda self: {}))())
    with pytest.raises(TrainingError, match="non-finite validation bound after epoch 1; "
                                            "nothing was saved; start again"):
        train(CONFIG, SETTINGS, DATA, tmp_path, **quiet())
    assert not (tmp_path / "checkpoint.npz").exists() and not (tmp_path / "best.npz").exists()


@pytest.mark.parametrize("value", ["inf", "nan", "0", "-1e-3"])
def test_impossible_learning_rates_and_clips_are_refused(fake_mnist, capsys, value):
    for flag in ("--lr", "--clip"):
        status, err = run_cli(["train", "--preset", "tiny", f"{flag}={value}"], capsys)
        assert status == 2 and err == [f"draw_np: error: {flag} must be a positive finite "
                                       f"number, got {float(value)!r}"]


# ----------------------------------------------------- 3, 4. kills between the writes
def test_a_kill_between_best_and_checkpoint_loses_nothing(tmp_path, monkeypatch):
    uninterrupted = train(CONFIG, SETTINGS, DATA, tmp_path / "a", **quiet())
    # Epoch 1 writes best then checkpoint; die just before epoch 2's checkpoint.
    calls = kill_on_save(monkeypatch, lambda calls: calls[-1] == "checkpoint.npz" and
                         calls.count("checkpoint.npz") == 2)
    with pytest.raises(Killed):
        train(CONFIG, SETTINGS, DATA, tmp_path / "b", **quiet(save_every_s=math.inf))
    assert calls == ["best.npz", "checkpoint.npz", "best.npz", "checkpoint.npz"]
    monkeypatch.undo()
    ckpt = load_checkpoint(tmp_path / "b" / "checkpoint.npz")
    best = load_checkpoint(tmp_path / "b" / "best.npz")
    # best.npz is never behind what the checkpoint claims
    assert best.meta["valid_figure"] <= ckpt.meta["progress"]["best_valid"]
    resumed = train(CONFIG, SETTINGS, DATA, tmp_path / "b", **quiet(resume=True))
    assert resumed["best_valid"] == uninterrupted["best_valid"]
    assert (load_checkpoint(tmp_path / "b" / "best.npz").meta["valid_figure"]
            == resumed["best_valid"])
    assert epochs_logged(tmp_path / "b") == [1, 2]


def test_a_full_disk_while_writing_best_leaves_a_consistent_run(tmp_path, monkeypatch):
    original = train_module.save_checkpoint

    def full_disk(path, *args, **kw):
        if path.name == "best.npz" and load_checkpoint(path.parent / "checkpoint.npz"):
            raise CheckpointError(f"cannot write {path}: No space left on device")
        return original(path, *args, **kw)

    train(CONFIG, TrainSettings(epochs=1, batch_size=8, lr=3e-3, seed=5), DATA, tmp_path,
          **quiet())
    monkeypatch.setattr(train_module, "save_checkpoint", full_disk)
    with pytest.raises(CheckpointError, match="No space left"):
        train(CONFIG, SETTINGS, DATA, tmp_path, **quiet(resume=True, save_every_s=math.inf))
    monkeypatch.undo()
    ckpt = load_checkpoint(tmp_path / "checkpoint.npz")
    assert ckpt.meta["progress"]["epoch"] == 1  # the checkpoint did not run ahead of best.npz
    train(CONFIG, SETTINGS, DATA, tmp_path, **quiet(resume=True))
    assert epochs_logged(tmp_path) == [1, 2]


def test_a_kill_after_the_epoch_line_does_not_log_the_epoch_twice(tmp_path, monkeypatch):
    # save_every_s=0 saves after every batch, the epoch's last one included; the kill lands
    # after the epoch's log line, before its checkpoint.
    kill_on_save(monkeypatch, lambda calls: calls.count("best.npz") == 1)
    with pytest.raises(Killed):
        train(CONFIG, SETTINGS, DATA, tmp_path, **quiet(save_every_s=0))
    assert epochs_logged(tmp_path) == [1]
    monkeypatch.undo()
    train(CONFIG, SETTINGS, DATA, tmp_path, **quiet(resume=True))
    assert epochs_logged(tmp_path) == [1, 2]
    steps = [r["step"] for r in log_records(tmp_path) if r["kind"] == "step"]
    assert steps == sorted(set(steps))


# ------------------------------------------------------------ 5. train_loss after resume
@pytest.mark.parametrize("stop_at", [2, 5])  # mid-epoch, and exactly at an epoch's end
def test_train_loss_after_a_mid_epoch_resume_is_the_whole_epochs(tmp_path, stop_at):
    train(CONFIG, SETTINGS, DATA, tmp_path / "a", **quiet())
    train(CONFIG, SETTINGS, DATA, tmp_path / "b", **quiet(max_steps=stop_at, save_every_s=0))
    train(CONFIG, SETTINGS, DATA, tmp_path / "b", **quiet(resume=True))
    loss = lambda d: [r["train_loss"] for r in log_records(d) if r["kind"] == "epoch"]
    assert loss(tmp_path / "b") == pytest.approx(loss(tmp_path / "a"), rel=1e-12)


# ------------------------------------------------------------ 6, 7. log rewrite, orphans
def test_the_log_is_rewritten_atomically_on_resume(tmp_path, monkeypatch):
    train(CONFIG, SETTINGS, DATA, tmp_path, **quiet(max_steps=3, save_every_s=math.inf,
                                                   log_every=1))
    log = tmp_path / "log.jsonl"
    log.write_text(log.read_text() + '{"kind": "step", "epoch": 1, "step": 99}\n')
    before = log.read_text()
    import draw_np.atomic

    def dying_replace(src, dst):
        raise Killed

    monkeypatch.setattr(draw_np.atomic.os, "replace", dying_replace)
    with pytest.raises(Killed):
        train(CONFIG, SETTINGS, DATA, tmp_path, **quiet(resume=True))
    assert log.read_text() == before  # the old log survives a kill during the rewrite
    assert not list(tmp_path.glob("*.tmp"))


def test_temporary_files_left_by_a_kill_are_removed(tmp_path):
    train(CONFIG, SETTINGS, DATA, tmp_path, **quiet(max_steps=2, log_every=1))
    orphan = tmp_path / "checkpoint.npz.k1ll3d00.tmp"  # what mkstemp leaves after a SIGKILL
    orphan.write_bytes(b"x" * 1000)
    train(CONFIG, SETTINGS, DATA, tmp_path, **quiet(resume=True, max_steps=3))
    assert not orphan.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", "checkpoint.npz", "log.jsonl"]


def test_a_log_replaced_during_a_run_gets_the_next_lines(tmp_path):
    """As a git checkout of the run's folder does: a new file at the log's path, by rename."""
    from draw_np.rundir import RunDir
    with RunDir(tmp_path) as run:
        run.append(dict(kind="step", epoch=1, step=1))
        replacement = tmp_path / "log.jsonl.new"
        replacement.write_text(run.log_path.read_text())
        os.replace(replacement, run.log_path)
        run.append(dict(kind="step", epoch=1, step=2))
    lines = [json.loads(line) for line in run.log_path.read_text().splitlines()]
    assert [r["step"] for r in lines] == [1, 2]


def test_a_second_training_into_the_same_folder_is_refused(tmp_path):
    from draw_np.rundir import RunDir
    with RunDir(tmp_path):
        with pytest.raises(TrainingError, match="another process is training into"):
            train(CONFIG, SETTINGS, DATA, tmp_path, **quiet())


# ------------------------------------------------------------------ 8. unwritable output
def test_an_out_that_is_a_file_or_under_a_file_is_one_line(tmp_path, fake_mnist, capsys):
    (tmp_path / "f").write_text("not a folder")
    for out, message in ((tmp_path / "f", "is a file, not a folder"),
                         (tmp_path / "f" / "sub", "cannot create the output folder")):
        status, err = run_cli(["train", "--preset", "tiny", "--out", out], capsys)
        assert status == 2 and message in err[-1] and len(err) == 2, err


def test_a_read_only_out_is_one_line(tmp_path, fake_mnist, capsys, monkeypatch):
    import pathlib

    def no_permission(self, *args, **kw):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(pathlib.Path, "mkdir", no_permission)  # tests may run as root
    status, err = run_cli(["train", "--preset", "tiny", "--out", tmp_path / "ro"], capsys)
    assert status == 2 and err[-1].endswith("Permission denied")


def test_a_full_disk_is_one_line_and_leaves_the_checkpoint_intact(tmp_path, fake_mnist,
                                                                  capsys, monkeypatch):
    out = tmp_path / "run"
    assert run_cli(["train", "--preset", "tiny", "--out", out, "--epochs", "3",
                    "--max-steps", "1"], capsys)[0] == 0
    before = (out / "checkpoint.npz").read_bytes()

    def enospc(f, **arrays):
        f.write(b"part of a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", enospc)
    status, err = run_cli(["train", "--preset", "tiny", "--out", out, "--resume"], capsys)
    assert status == 2 and "No space left on device" in err[-1]
    assert not any("Traceback" in line for line in err)
    assert (out / "checkpoint.npz").read_bytes() == before
    assert not list(out.glob("*.tmp"))


# ---------------------------------------------------------------- 9. crafted checkpoints
def crafted(path, meta=None, params=None, **arrays):
    """A checkpoint file with a given header and parameters, written by hand."""
    model = DRAW(CONFIG)
    p = dict(model.params, **(params or {}))
    header = meta if meta is not None else json.dumps(dict(format="draw_np-checkpoint-1",
                                                          config=CONFIG.to_dict()))
    np.savez(path, meta=np.array(header), **{f"param/{k}": v for k, v in p.items()}, **arrays)
    return path


@pytest.mark.parametrize("meta, params, message", [
    ("42", None, "the header is a JSON int, not an object"),
    ("[1, 2]", None, "the header is a JSON list"),
    ("not json", None, "bad header"),
    ('{"format": "draw_np-checkpoint-1", "config": 7}', None, "the config is not a JSON object"),
    ('{"format": "draw_np-checkpoint-1", "kind": "gan", "config": {}}', None,
     "unknown model kind 'gan'"),
    (None, {"c0": np.full((10, 9), "x")}, "parameter c0 has dtype <U1, not a real floating"),
    (None, {"c0": np.zeros((10, 9), complex)}, "parameter c0 has dtype complex128"),
    (None, {"c0": np.zeros((10, 9), object)}, "is not a readable checkpoint"),
])
def test_crafted_checkpoints_are_refused_in_one_line(tmp_path, capsys, meta, params, message):
    path = crafted(tmp_path / "c.npz", meta, params)
    with pytest.raises(CheckpointError, match=message):
        load_model(path)
    status, err = run_cli(["evaluate", path], capsys)
    assert status == 2 and len(err) == 1 and message.split(" '")[0] in err[0]


def resumable(tmp_path):
    train(CONFIG, SETTINGS, DATA, tmp_path, **quiet(max_steps=2, save_every_s=math.inf))
    with np.load(tmp_path / "checkpoint.npz") as f:
        return {k: f[k] for k in f.files}


@pytest.mark.parametrize("damage, message", [
    (lambda a, m: a.pop("optim/m/enc.W"), "no m for enc.W"),
    (lambda a, m: a.__setitem__("optim/t", np.array("soon")), "no valid training state"),
    (lambda a, m: m["progress"].__setitem__("step", -3), "progress step must be an integer"),
    (lambda a, m: m["progress"].__setitem__("epoch", "one"), "progress epoch must be an integer"),
    (lambda a, m: m["progress"].pop("step_in_epoch"), "no valid training state"),
    (lambda a, m: m["progress"].__setitem__("epoch_rng_state", {"bit_generator": "MT"}),
     "data generator's state is invalid"),
    (lambda a, m: m.__setitem__("model_rng_state", 5), "no valid training state"),
    (lambda a, m: m.__setitem__("settings", {"lr": "fast"}), "no valid training state"),
    (lambda a, m: m.__setitem__("settings", {"momentum": 0.9}), "unknown training settings"),
])
def test_crafted_training_state_is_refused_on_resume(tmp_path, damage, message):
    arrays = resumable(tmp_path)
    meta = json.loads(str(arrays["meta"]))
    damage(arrays, meta)
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "checkpoint.npz", **arrays)
    with pytest.raises(CheckpointError, match=message):
        train(CONFIG, SETTINGS, DATA, tmp_path, **quiet(resume=True))


# ------------------------------------------------------------------------- 11. Ctrl-C
def test_ctrl_c_before_the_handler_is_installed_is_one_line(monkeypatch, capsys):
    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    status, err = run_cli(["train"], capsys)
    assert status == 130 and err == ["draw_np: interrupted"]


def test_a_second_ctrl_c_still_saves_and_a_third_stops_at_once(tmp_path, monkeypatch):
    whole = train(CONFIG, SETTINGS, DATA, tmp_path / "a", **quiet())
    interrupt_during_step(monkeypatch, 3, signals=2)
    lines = []
    stopped = train(CONFIG, SETTINGS, DATA, tmp_path / "b",
                    **dict(quiet(), print_fn=lines.append))
    assert stopped["interrupted"] and stopped["steps"] == 3
    assert any("already stopping" in line for line in lines)
    monkeypatch.undo()
    rest = train(CONFIG, SETTINGS, DATA, tmp_path / "b", **quiet(resume=True))
    for name, value in whole["params"].items():
        np.testing.assert_array_equal(rest["params"][name], value, err_msg=name)
    interrupt_during_step(monkeypatch, 1, signals=3)
    # What was there before, not default_int_handler: a runner started in the background
    # (nohup, `&` without job control) gives Python an ignored SIGINT.
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        train(CONFIG, SETTINGS, DATA, tmp_path / "c", **quiet())
    assert signal.getsignal(signal.SIGINT) is before  # handler restored


# ------------------------------------------------------------------------------- minor
@pytest.mark.parametrize("argv, message", [
    (["--save-every", "nan"], "--save-every must be a positive number of seconds, got nan"),
    (["--save-every", "0"], "--save-every must be a positive number"),
    (["--hours", "inf"], "--hours must be a positive number of hours"),
    (["--cpu-hours", "-1"], "--cpu-hours must be a positive number of hours"),
    (["--batch-size", "1000000000"],
     "the batch size (--batch-size 1000000000) is larger than the 60 training images"),
    (["--seed", "-1"], "--seed must be an integer >= 0, got -1"),
    (["--epochs", "0"], "--epochs must be an integer >= 1, got 0"),
])
def test_impossible_training_flags_are_one_line_naming_the_flag(tmp_path, fake_mnist, capsys,
                                                                argv, message):
    status, err = run_cli(["train", "--preset", "tiny", "--out", tmp_path / "r"] + argv, capsys)
    assert status == 2 and message in err[-1] and not any("Traceback" in l for l in err), err


def test_numpy_integers_are_accepted_as_settings():
    settings = TrainSettings(epochs=np.int64(3), batch_size=np.int32(8), seed=np.uint8(2))
    assert settings == TrainSettings(epochs=3, batch_size=8, seed=2)
    assert type(settings.epochs) is int
    with pytest.raises(ValueError, match="epochs must be an integer"):
        TrainSettings(epochs=True)


def test_a_long_evaluation_says_how_long_it_will_take():
    told, clock = [], iter([0.0, 2.0]).__next__
    progress = _with_estimate(lambda n: None, total=10_000, samples=10_000_000,
                              print_fn=told.append, clock=clock)
    progress(100)  # the first batch of 100 took 2 s: 10,000 images take 200 s
    progress(100)
    assert told == ["evaluating 10000 images x 10000000 samples will take about 3 min "
                    "(Ctrl-C to stop)"]
    quick, clock = [], iter([0.0, 0.1]).__next__
    _with_estimate(lambda n: None, 10_000, 1, print_fn=quick.append, clock=clock)(100)
    assert quick == []


def test_a_checkpoint_with_an_absurd_config_is_refused_before_it_runs(tmp_path, capsys):
    config = dict(CONFIG.to_dict(), T=10 ** 9)
    path = crafted(tmp_path / "c.npz", json.dumps(dict(format="draw_np-checkpoint-1",
                                                       config=config)))
    status, err = run_cli(["evaluate", path], capsys)
    assert status == 2 and err == [f"draw_np: error: {path} holds an impossible model config: "
                                   f"T = 1000000000 is larger than draw_np supports (at most "
                                   f"1024)"]


def test_running_out_of_memory_is_one_line(monkeypatch, capsys):
    def too_big(args):
        raise MemoryError

    monkeypatch.setattr(train_module, "run", too_big)
    status, err = run_cli(["train", "--preset", "tiny"], capsys)
    assert status == 2 and len(err) == 1 and "not enough memory" in err[0]


def test_a_log_that_cannot_be_written_or_read_is_one_line(tmp_path, fake_mnist, capsys,
                                                          monkeypatch):
    out = tmp_path / "run"
    assert run_cli(["train", "--preset", "tiny", "--out", out, "--epochs", "3",
                    "--max-steps", "1"], capsys)[0] == 0
    (out / "log.jsonl").unlink()
    (out / "log.jsonl").mkdir()  # a log that is a folder
    status, err = run_cli(["train", "--preset", "tiny", "--out", out, "--resume"], capsys)
    assert status == 2 and len(err) == 2 and "cannot read the log" in err[-1]
    (out / "log.jsonl").rmdir()
    import pathlib
    real_open = pathlib.Path.open

    def full_disk_for_logs(self, mode="r", *args, **kw):
        if self.name == "log.jsonl" and "a" in mode:
            raise OSError(28, "No space left on device")
        return real_open(self, mode, *args, **kw)

    monkeypatch.setattr(pathlib.Path, "open", full_disk_for_logs)
    status, err = run_cli(["train", "--preset", "tiny", "--out", out, "--resume"], capsys)
    assert status == 2 and "cannot write" in err[-1] and "No space left" in err[-1]
    load_checkpoint(out / "checkpoint.npz")  # still loadable


@pytest.mark.parametrize("flag", ["--samples", "--batch-size"])
def test_evaluate_flags_below_one_are_named(tmp_path, capsys, flag):
    model = DRAW(CONFIG)
    save_checkpoint(tmp_path / "c.npz", model.params, model.config)
    status, err = run_cli(["evaluate", tmp_path / "c.npz", flag, "0"], capsys)
    assert status == 2 and err == [f"draw_np: error: {flag} must be an integer >= 1, got 0"]


def test_an_absurd_classifier_config_is_refused_in_one_line():
    from draw_np.classifier import ClassifierConfig
    with pytest.raises(ValueError, match=r"T = 1000000000 is larger than draw_np supports"):
        ClassifierConfig(T=10 ** 9)
