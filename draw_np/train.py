"""Training DRAW on binarised MNIST: the loop, checkpoints, resume, and the ``train`` command.

One step: a batch of binarised images, ``loss_and_grads`` (forward and backprop through time),
gradient clipping by global norm, an Adam update. At the end of each epoch the validation bound
is computed and two checkpoints are written atomically: ``DIR/checkpoint.npz`` (the latest) and
``DIR/best.npz`` (the best validation bound so far). A log of the curves goes to
``DIR/log.jsonl``, one JSON object per line.

Resuming is exact: a checkpoint holds the parameters, Adam's state, the model's noise generator,
the data-order generator as it was at the start of the epoch, and how many batches of that epoch
were done. Replaying the epoch's shuffle and skipping those batches puts the run exactly where
it stopped, so an interrupted run resumed ends with the same parameters as an uninterrupted one.
"""
from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import backend
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .errors import TrainingError
from .evaluate import evaluate_bound
from .model import DRAW, DRAWConfig
from .optim import Adam, clip_by_global_norm
from .presets import PRESETS, TrainSettings, preset

#: ε of the per-epoch validation bound is drawn from this seed, so epochs compare fairly.
VALIDATION_SEED = 12345


class Dataset(NamedTuple):
    """Training and validation images, host arrays of shape (N, H, W).

    ``train`` holds bits {0, 1} for fixed binarisation, or grey levels in [0, 1] when
    ``dynamic`` is set, in which case fresh bits are drawn every epoch.
    """
    train: np.ndarray
    valid: np.ndarray
    dynamic: bool = False


def load_data(settings: TrainSettings, source=None, cache_dir=None, limit=None) -> Dataset:
    """Binarised MNIST for training: the fixed bits, or grey levels for dynamic binarisation."""
    from .data import load_binarized_mnist, load_mnist
    fixed = load_binarized_mnist(cache_dir=cache_dir, source=source)
    train = (load_mnist(cache_dir=cache_dir, source=source)["train"]
             if settings.dynamic_binarization else fixed["train"])
    return Dataset(train[:limit], fixed["valid"][:limit], settings.dynamic_binarization)


class Progress(NamedTuple):
    """Where a run is: what a checkpoint must hold besides parameters and optimiser state."""
    epoch: int               # epochs completed
    step: int                # optimiser steps taken in total
    step_in_epoch: int       # batches of the current epoch already done
    epoch_rng_state: dict    # the data generator's state at the start of the current epoch
    best_valid: float        # best validation bound so far (inf before the first)
    train_s: float = 0.0     # wall-clock seconds spent training, summed over every session
    cpu_s: float = 0.0       # CPU seconds of the training process, summed over every session


def _save(path, model, opt, settings, progress: Progress, **extra):
    save_checkpoint(path, model.params, model.config, opt.state_dict(),
                    settings=settings.to_dict(), progress=progress._asdict(),
                    model_rng_state=model.rng.state, **extra)


def _clock_fields(progress: Progress) -> dict:
    """The time fields of a log line: this run's wall-clock and CPU seconds over all sessions."""
    return dict(elapsed_s=progress.train_s, cpu_s=progress.cpu_s)


def _trim_log(log_path: Path, step: int) -> None:
    """On resume, drop log lines written after the checkpoint (they will be written again)."""
    if not log_path.exists():
        return
    kept = []
    for line in log_path.read_text().splitlines():
        try:
            if json.loads(line).get("step", 0) <= step:
                kept.append(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a crash
    log_path.write_text("".join(line + "\n" for line in kept))


def train(config: DRAWConfig, settings: TrainSettings, data: Dataset, out_dir, *,
          resume: bool = False, max_steps: int | None = None, log_every: int = 50,
          save_every_s: float = 600.0, budget_s: float | None = None,
          cpu_budget_s: float | None = None, progress_bar: bool | None = None,
          print_fn=print) -> dict:
    """Train a DRAW model and write checkpoints and a log under ``out_dir``.

    Args:
        config, settings: the model and how to train it (ignored in favour of the checkpoint's
            when ``resume``, except ``settings.epochs``, which may be raised to train longer).
        data: a :class:`Dataset`.
        out_dir: where ``checkpoint.npz``, ``best.npz`` and ``log.jsonl`` go.
        resume: continue from ``out_dir/checkpoint.npz``.
        max_steps: stop (with a checkpoint) after this many optimiser steps in total.
        log_every: steps between log lines.  save_every_s: seconds between mid-epoch checkpoints.
        budget_s, cpu_budget_s: stop (with a checkpoint) once this session has trained for this
            many wall-clock or CPU seconds; for runs longer than a session, and pilots of equal
            CPU time.
        progress_bar: show a tqdm bar (None: only on a terminal).
    Returns:
        a summary dict (epochs, steps, best validation bound, checkpoint paths, time).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    latest, best, log_path = out / "checkpoint.npz", out / "best.npz", out / "log.jsonl"
    model = DRAW(config, seed=settings.seed)
    opt = Adam(model.params, lr=settings.lr)
    data_rng = np.random.default_rng([settings.seed, 1])  # data order and dynamic bits
    state = Progress(0, 0, 0, data_rng.bit_generator.state, math.inf)
    if resume:
        model, opt, settings, state = _restore(latest, config, settings)
        _trim_log(log_path, state.step)
        print_fn(f"resuming {latest}: epoch {state.epoch + 1}, step {state.step}")
    elif latest.exists():
        raise TrainingError(f"{latest} exists: pass --resume to continue it, or choose another "
                            f"--out directory")
    if data.train.shape[1:] != (config.H, config.W) or data.valid.shape[1:] != (config.H, config.W):
        raise ValueError(f"the model takes {config.H}x{config.W} images, the data has "
                         f"{data.train.shape[1]}x{data.train.shape[2]}")
    n_train = len(data.train)
    batch = min(settings.batch_size, n_train)
    batches_per_epoch = n_train // batch  # the last partial batch is dropped: constant shapes
    xp = backend.xp()
    started = time.perf_counter()
    cpu_started = time.process_time()
    base_train_s, base_cpu_s = state.train_s, state.cpu_s
    last_save = started

    def clocks(s: Progress) -> Progress:
        """The progress with this session's wall and CPU time added to the earlier sessions'."""
        return s._replace(train_s=base_train_s + time.perf_counter() - started,
                          cpu_s=base_cpu_s + time.process_time() - cpu_started)

    def out_of_budget() -> bool:
        return ((budget_s is not None and time.perf_counter() - started >= budget_s)
                or (cpu_budget_s is not None and time.process_time() - cpu_started >= cpu_budget_s))
    log = log_path.open("a")
    stop = _StopRequest()
    from tqdm import tqdm
    try:
        def halted() -> bool:
            return (stop.requested or out_of_budget()
                    or (max_steps is not None and state.step >= max_steps))

        while not halted() and state.epoch < settings.epochs:
            data_rng.bit_generator.state = state.epoch_rng_state
            order = data_rng.permutation(n_train)
            if data.dynamic:  # fresh bits each epoch: pixel on with probability = grey level
                images = (data_rng.random(data.train.shape, dtype=np.float32) < data.train)
            else:
                images = data.train
            bar = tqdm(total=batches_per_epoch, initial=state.step_in_epoch, disable=(
                not progress_bar if progress_bar is not None else None),
                desc=f"epoch {state.epoch + 1}/{settings.epochs}", unit="batch", leave=False)
            sums = np.zeros(3)  # running loss, Lx, Lz since the last log line
            seen, window_start = 0, time.perf_counter()
            epoch_loss, epoch_batches = 0.0, 0
            for b in range(state.step_in_epoch, batches_per_epoch):
                x = xp.asarray(images[order[b * batch:(b + 1) * batch]], dtype=model.dtype)
                loss, grads, terms = model.loss_and_grads(x, return_terms=True)
                grads, norm = clip_by_global_norm(grads, settings.clip)
                if not (math.isfinite(loss) and math.isfinite(norm)):
                    raise TrainingError(
                        f"non-finite {'loss' if not math.isfinite(loss) else 'gradient'} at "
                        f"epoch {state.epoch + 1}, step {state.step + 1}; stopped without saving, "
                        f"so {latest} still holds the last good state (try a lower --lr)")
                opt.step(model.params, grads)
                state = state._replace(step=state.step + 1, step_in_epoch=b + 1)
                sums += (loss, float(terms.Lx.mean()), float(terms.Lz.mean()))
                seen += 1
                epoch_loss += loss
                epoch_batches += 1
                bar.update(1)
                if state.step % log_every == 0 or b + 1 == batches_per_epoch:
                    now = time.perf_counter()
                    rate = seen * batch / max(now - window_start, 1e-9)
                    mean = sums / seen
                    bar.set_postfix_str(f"L {mean[0]:.2f} (Lx {mean[1]:.2f}, Lz {mean[2]:.2f}), "
                                        f"{rate:.0f} img/s")
                    log.write(json.dumps(dict(kind="step", epoch=state.epoch + 1, step=state.step,
                                              loss=mean[0], Lx=mean[1], Lz=mean[2],
                                              grad_norm=norm, examples_per_s=rate,
                                              **_clock_fields(clocks(state)))) + "\n")
                    log.flush()
                    sums[:], seen, window_start = 0, 0, now
                if time.perf_counter() - last_save > save_every_s:
                    _save(latest, model, opt, settings, clocks(state))
                    last_save = time.perf_counter()
                if halted():
                    break
            bar.close()
            if state.step_in_epoch < batches_per_epoch:  # stopped early: Ctrl-C, budget, max_steps
                break
            # End of epoch: validation bound, checkpoints, a log line.
            valid = evaluate_bound(model, data.valid, batch_size=batch, seed=VALIDATION_SEED)
            improved = valid.bound < state.best_valid
            state = clocks(state._replace(epoch=state.epoch + 1, step_in_epoch=0,
                                          epoch_rng_state=data_rng.bit_generator.state,
                                          best_valid=min(valid.bound, state.best_valid)))
            elapsed = time.perf_counter() - started
            record = dict(kind="epoch", epoch=state.epoch, step=state.step,
                          train_loss=epoch_loss / max(epoch_batches, 1), valid_bound=valid.bound,
                          valid_Lx=valid.Lx, valid_Lz=valid.Lz, **_clock_fields(state))
            log.write(json.dumps(record) + "\n")
            log.flush()
            _save(latest, model, opt, settings, state)
            if improved:
                _save(best, model, opt, settings, state, valid_bound=valid.bound)
            last_save = time.perf_counter()
            print_fn(f"epoch {state.epoch}/{settings.epochs}: train loss "
                     f"{record['train_loss']:.2f}, validation bound {valid.bound:.2f} nats"
                     f"{' (best)' if improved else ''}  [{elapsed / 60:.1f} min]")
        if state.step_in_epoch:  # stopped mid-epoch: save exactly where we are
            _save(latest, model, opt, settings, clocks(state))
        if stop.requested:
            print_fn(f"\ninterrupted: saved {latest} at step {state.step}; continue with --resume")
        elif out_of_budget() and state.epoch < settings.epochs:
            print_fn(f"time budget reached: saved {latest} at step {state.step}; continue with "
                     f"--resume")
    finally:
        log.close()
        stop.restore()
    return dict(epochs=state.epoch, steps=state.step, best_valid=state.best_valid,
                checkpoint=str(latest), best=str(best) if best.exists() else None,
                interrupted=stop.requested, minutes=(time.perf_counter() - started) / 60,
                params=model.params)


class _StopRequest:
    """Ctrl-C (SIGINT) or SIGTERM asks the loop to stop after the current step and save.

    A flag rather than an exception, so an interrupt never lands in the middle of an Adam
    update and a checkpoint never holds half-updated parameters. A second Ctrl-C stops at once.
    Signal handlers can only be installed from the main thread; elsewhere this does nothing.
    """

    def __init__(self):
        self.requested = False
        self._previous = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame):
        if self.requested:  # asked twice: give up on the clean stop
            raise KeyboardInterrupt
        self.requested = True

    def restore(self):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _restore(path: Path, config: DRAWConfig, settings: TrainSettings):
    """Model, optimiser, settings and progress from a checkpoint, checked against the request."""
    ckpt = load_checkpoint(path)
    if ckpt.config != config:
        diff = {k: (v, getattr(config, k)) for k, v in ckpt.config.to_dict().items()
                if getattr(config, k) != v}
        raise TrainingError(f"the config does not match the checkpoint {path}: "
                            + ", ".join(f"{k} is {a} there, {b} here" for k, (a, b) in diff.items()))
    try:
        saved = TrainSettings(**ckpt.meta["settings"])
        prog = ckpt.meta["progress"]
        state = Progress(prog["epoch"], prog["step"], prog["step_in_epoch"],
                         prog["epoch_rng_state"], prog["best_valid"],
                         prog.get("train_s", 0.0), prog.get("cpu_s", 0.0))
        rng_state = ckpt.meta["model_rng_state"]
    except (KeyError, TypeError) as exc:
        raise CheckpointError(f"{path} has no training state to resume from ({exc})") from None
    saved = replace(saved, epochs=settings.epochs)  # training longer is the one allowed change
    model = DRAW(ckpt.config, seed=saved.seed)
    model.params = {k: backend.xp().asarray(v, dtype=model.dtype) for k, v in ckpt.params.items()}
    model.rng.set_state(rng_state)
    opt = Adam(model.params, lr=saved.lr)
    opt.load_state_dict(ckpt.optim_state)
    return model, opt, saved, state


# ------------------------------------------------------------------------------------ CLI
CONFIG_FLAGS = {"T": "T", "enc_size": "enc-size", "dec_size": "dec-size", "z_size": "z-size",
                "read_n": "read-n", "write_n": "write-n"}
SETTING_FLAGS = {"batch_size": int, "lr": float, "clip": float, "seed": int}


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="train DRAW on binarised MNIST",
        description="Train DRAW on binarised MNIST (fetched and cached on first use). Writes "
                    "DIR/checkpoint.npz (latest), DIR/best.npz (best validation bound) and "
                    "DIR/log.jsonl. Presets: tiny (seconds), quick (about six minutes on 2 CPU "
                    "cores), paper (the paper's MNIST model). Flags override preset fields.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--preset", choices=tuple(PRESETS), default="quick")
    p.add_argument("--out", default=None, metavar="DIR", help="output directory (default runs/PRESET)")
    p.add_argument("--resume", action="store_true", help="continue DIR/checkpoint.npz exactly")
    p.add_argument("--attention", action=argparse.BooleanOptionalAction, default=None,
                   help="selective attention (eqs. 19-29) or full-image read/write (17-18)")
    for field, flag in CONFIG_FLAGS.items():
        p.add_argument(f"--{flag}", type=int, default=None, dest=field)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None, help="Adam learning rate")
    p.add_argument("--clip", type=float, default=None, help="clip gradients at this global norm")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--dynamic-binarization", action="store_true", default=None,
                   help="draw fresh bits every epoch instead of the fixed binarisation")
    p.add_argument("--backend", choices=backend.BACKENDS, default=None)
    p.add_argument("--data", default=None, metavar="PATH",
                   help="mnist.pkl.gz or a directory of MNIST IDX files, if not cached")
    p.add_argument("--cache-dir", default=None, metavar="DIR")
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="use only the first N training and validation images (smoke tests)")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    p.add_argument("--save-every", type=float, default=600.0, metavar="SECONDS",
                   help="seconds between mid-epoch checkpoints")
    p.add_argument("--hours", type=float, default=None, metavar="H",
                   help="stop cleanly, with a checkpoint, after H hours of wall-clock time")
    p.add_argument("--cpu-hours", type=float, default=None, metavar="H",
                   help="stop cleanly after H hours of this process's CPU time (pilots)")
    p.set_defaults(func=run)


def _settings_from_args(args) -> tuple[DRAWConfig, TrainSettings]:
    config, settings = preset(args.preset)
    config_changes = {f: getattr(args, f) for f in list(CONFIG_FLAGS) + ["attention"]
                      if getattr(args, f) is not None}
    setting_changes = {f: getattr(args, f) for f in list(SETTING_FLAGS) + ["epochs",
                       "dynamic_binarization"] if getattr(args, f) is not None}
    return replace(config, **config_changes), replace(settings, **setting_changes)


def run(args) -> int:
    for name in ("hours", "cpu_hours"):
        value = getattr(args, name)
        if value is not None and not (0 < value < math.inf):
            raise ValueError(f"--{name.replace('_', '-')} must be a positive number of hours, "
                             f"got {value}")
    for name in ("limit", "max_steps"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    config, settings = _settings_from_args(args)
    out = Path(args.out or Path("runs") / args.preset)
    if args.resume:  # the checkpoint's settings win; a mismatched model config is an error
        _restore(out / "checkpoint.npz", config, settings)
    data = load_data(settings, source=args.data, cache_dir=args.cache_dir, limit=args.limit)
    print(f"training DRAW ({'attention' if config.attention else 'no attention'}, T={config.T}, "
          f"LSTM {config.enc_size}/{config.dec_size}, z={config.z_size}"
          + (f", read {config.read_n}x{config.read_n}, write {config.write_n}x{config.write_n}"
             if config.attention else "")
          + f") on {len(data.train)} images for {settings.epochs} epochs, batch "
          f"{settings.batch_size}, lr {settings.lr}, backend {backend.get_backend()}; "
          f"writing to {out}/", file=sys.stderr)
    summary = train(config, settings, data, out, resume=args.resume, max_steps=args.max_steps,
                    save_every_s=args.save_every,
                    budget_s=None if args.hours is None else args.hours * 3600,
                    cpu_budget_s=None if args.cpu_hours is None else args.cpu_hours * 3600,
                    print_fn=lambda s: print(s, file=sys.stderr))
    print(f"done: {summary['epochs']} epochs, {summary['steps']} steps in "
          f"{summary['minutes']:.1f} min; best validation bound {summary['best_valid']:.2f} nats"
          f"; checkpoints {summary['checkpoint']}" + (f", {summary['best']}" if summary['best'] else ""))
    if summary["best"]:
        print(f"test bound: python -m draw_np evaluate {summary['best']}")
    return 130 if summary["interrupted"] else 0
