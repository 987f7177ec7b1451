"""Training any model of :mod:`draw_np.models` on any data set of :mod:`draw_np.data`: the
loop, checkpoints, resume, and the ``train`` command.

One step: a batch (images, and labels for a classifier), the model's ``loss_and_grads`` (forward
and backprop through time), gradient clipping by global norm, an Adam update (skipped for a
gradient spike with ``--skip-spikes``; followed by a step of the weight average with
``--weight-average``). At the end of each epoch the model's validation figure is computed (the
bound for DRAW, the error for the classifier; lower is better), a line goes to
``DIR/log.jsonl``, and two checkpoints are written atomically: ``DIR/best.npz`` (parameters of
the best validation figure so far) and then ``DIR/checkpoint.npz`` (everything needed to
resume). That order means a kill or a full disk between the two never leaves a checkpoint that
claims a better model than ``best.npz`` holds. Nothing here names a model or a data set.

Resuming is exact: a checkpoint holds the parameters, Adam's state (with the weight average and
the spike filter's recent norms), the model's noise generator, the data-order generator as it
was at the start of the epoch, and how many batches of that epoch were done (with their summed
loss). Replaying the epoch's shuffle and skipping those batches puts the run exactly where it
stopped, so an interrupted run resumed ends with the same parameters as an uninterrupted one;
the log is trimmed to what the checkpoint has seen, so each epoch appears in it once.

What stops a run, and what it leaves:

* Ctrl-C or SIGTERM: the current step finishes, a checkpoint is written, exit status 130;
* a time budget (``--hours``, ``--cpu-hours``) or ``--max-steps``: the same, status 0;
* a non-finite loss, gradient, validation figure or parameter (divergence): nothing is written,
  so the last checkpoint is the last good state; resume it with a lower ``--lr``;
* a disk that fills up or a folder that cannot be written: one line; the last checkpoint is
  intact.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import signal
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import backend, models
from .checkpoint import load_checkpoint, save_checkpoint
from .data.dataset import DATASETS, DataSplits, load_dataset, mean_image
from .errors import CheckpointError, TrainingError
from .evaluate import is_cross_entropy
from .grow import at_own_scale, grow_lstms, grow_read, grow_write
from .model import canvas_bias_for_mean
from .optim import Adam, SpikeFilter, WeightAverage, clip_by_global_norm, warmed_up_rate
from .presets import CANVAS_INITS, INIT_SCALES, PRESETS, TrainSettings, preset
from .rundir import RunDir

#: The model's noise in the per-epoch validation (DRAW's ε) is drawn from this seed, so epochs
#: compare fairly.
VALIDATION_SEED = 12345

#: Training images averaged for ``--canvas-init data-mean``: a pixel rate near 0.05 is then
#: known to about ±0.002, its logit to about ±0.05.
CANVAS_INIT_IMAGES = 10_000

#: The settings a resumed run may change; any other change is refused. Changing the batch size,
#: the seed, the data set or the binarisation mid-run would break the replay of the epoch that
#: makes a resume exact.
CHANGEABLE_ON_RESUME = ("epochs", "lr", "clip", "weight_decay", "weight_average", "skip_spikes")


class Progress(NamedTuple):
    """Where a run is: what a checkpoint must hold besides parameters and optimiser state."""
    epoch: int               # epochs completed
    step: int                # optimiser steps taken in total
    step_in_epoch: int       # batches of the current epoch already done
    epoch_rng_state: dict    # the data generator's state at the start of the current epoch
    best_valid: float        # best validation figure so far (inf before the first)
    train_s: float = 0.0     # wall-clock seconds spent training, summed over every session
    cpu_s: float = 0.0       # CPU seconds of the training process, summed over every session
    epoch_loss: float = 0.0  # summed loss of the current epoch's batches done so far

    def to_meta(self) -> dict:
        """JSON-able (strict JSON has no inf: a run with no validation yet records null)."""
        d = self._asdict()
        d["best_valid"] = None if math.isinf(self.best_valid) else self.best_valid
        return d

    @classmethod
    def from_meta(cls, d) -> "Progress":
        """The inverse of :meth:`to_meta`, checked; a ``ValueError`` says what is wrong."""
        if not isinstance(d, dict):
            raise ValueError("progress is not a JSON object")
        fields = {f: d.get(f, default) for f, default in cls._field_defaults.items()}
        for f in ("epoch", "step", "step_in_epoch", "epoch_rng_state"):
            fields[f] = d[f]
        for f in ("epoch", "step", "step_in_epoch"):
            if isinstance(fields[f], bool) or not isinstance(fields[f], int) or fields[f] < 0:
                raise ValueError(f"progress {f} must be an integer >= 0, got {fields[f]!r}")
        if fields["step_in_epoch"] > fields["step"]:
            raise ValueError("progress has more batches in the epoch than steps in all")
        best = d.get("best_valid")
        fields["best_valid"] = math.inf if best is None else best
        for f in ("best_valid", "train_s", "cpu_s", "epoch_loss"):
            value = fields[f]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
                raise ValueError(f"progress {f} must be a number, got {value!r}")
            fields[f] = float(value)
        try:  # the generator itself is the judge of its state
            np.random.default_rng().bit_generator.state = fields["epoch_rng_state"]
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(f"the data generator's state is invalid ({exc})") from None
        return cls(**fields)


class _Halt:
    """Why the loop should stop after the current step: a signal, a time budget, a step limit.

    Ctrl-C (SIGINT) and SIGTERM set a flag rather than raise, so an interrupt never lands in the
    middle of an Adam update and a checkpoint never holds half-updated parameters. A second
    Ctrl-C while the step finishes and the checkpoint is written is ignored (with a note); a
    third stops at once, without saving. Signal handlers can only be installed from the main
    thread; elsewhere only the budgets apply.
    """

    def __init__(self, max_steps=None, budget_s=None, cpu_budget_s=None, print_fn=print):
        self.signalled = 0
        self.max_steps, self.budget_s, self.cpu_budget_s = max_steps, budget_s, cpu_budget_s
        self.started, self.cpu_started = time.perf_counter(), time.process_time()
        self._print = print_fn
        self._previous = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame):
        self.signalled += 1
        if self.signalled == 2:
            self._print("already stopping: finishing the step and saving (again to stop at "
                        "once, without saving)")
        elif self.signalled > 2:
            raise KeyboardInterrupt

    @property
    def interrupted(self) -> bool:
        return self.signalled > 0

    def out_of_budget(self) -> bool:
        return ((self.budget_s is not None
                 and time.perf_counter() - self.started >= self.budget_s)
                or (self.cpu_budget_s is not None
                    and time.process_time() - self.cpu_started >= self.cpu_budget_s))

    def now(self, step: int) -> bool:
        return (self.interrupted or self.out_of_budget()
                or (self.max_steps is not None and step >= self.max_steps))

    def restore(self):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def train(config, settings: TrainSettings, data: DataSplits, out_dir, *,
          resume: bool = False, max_steps: int | None = None, log_every: int = 50,
          save_every_s: float = 600.0, budget_s: float | None = None,
          cpu_budget_s: float | None = None, progress_bar: bool | None = None,
          print_fn=print) -> dict:
    """Train a model and write checkpoints and a log under ``out_dir``.

    Args:
        config, settings: the model (its config's class says which, see :mod:`draw_np.models`)
            and how to train it. When ``resume``, ``config`` must be
            the checkpoint's, and ``settings`` may differ from the checkpoint's only in
            :data:`CHANGEABLE_ON_RESUME` (each change is applied and announced).
        data: a :class:`~draw_np.data.dataset.DataSplits` (see
            :func:`~draw_np.data.dataset.load_dataset`) whose images the model takes.
        out_dir: where ``checkpoint.npz``, ``best.npz`` and ``log.jsonl`` go.
        resume: continue from ``out_dir/checkpoint.npz``.
        max_steps: stop (with a checkpoint) after this many optimiser steps in total.
        log_every: steps between log lines.  save_every_s: seconds between mid-epoch checkpoints.
        budget_s, cpu_budget_s: stop (with a checkpoint) once this session has trained for this
            many wall-clock or CPU seconds; for runs longer than a session, and pilots of equal
            CPU time.
        progress_bar: show a tqdm bar (None: only on a terminal).
    Returns:
        a summary dict (epochs, steps, best validation figure, checkpoint paths, time).
    """
    _check_data(config, settings, data)
    with RunDir(out_dir) as run:
        if resume:
            model, opt, guards, settings, state = _restore(run.checkpoint, config, settings,
                                                            print_fn)
            run.trim_log(state.epoch, state.step)
            print_fn(f"resuming {run.checkpoint}: epoch {state.epoch + 1}, step {state.step}")
        elif run.checkpoint.exists():
            raise TrainingError(f"{run.checkpoint} exists: pass --resume to continue it, or "
                                f"choose another --out directory")
        else:
            model = new_model(config, settings, data, print_fn)
            opt = Adam(model.params, lr=settings.lr, weight_decay=settings.weight_decay)
            guards = _Guards.for_run(model, settings)
            state = Progress(0, 0, 0, _data_rng(settings).bit_generator.state, math.inf)
        halt = _Halt(max_steps, budget_s, cpu_budget_s, print_fn)
        loop = _Loop(model, opt, guards, settings, data, run, halt, state, log_every,
                     save_every_s, progress_bar, print_fn)
        try:
            loop.run()
        except KeyboardInterrupt:
            print_fn("\nstopped at once: " + (f"{run.checkpoint} holds step {loop.saved_step}"
                                              if loop.saved_step is not None else
                                              "nothing was saved"))
            raise
        finally:
            halt.restore()
        state = loop.state
        if halt.interrupted:
            print_fn(f"\ninterrupted: saved {run.checkpoint} at step {state.step}; continue "
                     f"with --resume")
        elif halt.out_of_budget() and state.epoch < settings.epochs:
            print_fn(f"time budget reached: saved {run.checkpoint} at step {state.step}; "
                     f"continue with --resume")
        return dict(epochs=state.epoch, steps=state.step, best_valid=state.best_valid,
                    checkpoint=str(run.checkpoint),
                    best=str(run.best) if run.best.exists() else None,
                    interrupted=halt.interrupted, minutes=(time.perf_counter() - halt.started) / 60,
                    params=model.params)


class _Guards(NamedTuple):
    """What a run keeps beside Adam, each None when its settings ask for none: an average of
    the weights (validated and kept as best.npz) and a filter that skips gradient spikes."""
    average: WeightAverage | None
    spikes: SpikeFilter | None

    @classmethod
    def for_run(cls, model, settings: TrainSettings) -> "_Guards":
        """Both as ``settings`` ask, the average starting from ``model``'s weights as they are
        now and the filter with no history."""
        return cls(WeightAverage(model.params, settings.weight_average)
                   if settings.weight_average else None,
                   SpikeFilter(settings.skip_spikes) if settings.skip_spikes else None)

    def state_dict(self) -> dict:
        """Their arrays, for the checkpoint's optimiser state."""
        return {k: v for guard in self if guard for k, v in guard.state_dict().items()}


def _data_rng(settings: TrainSettings) -> np.random.Generator:
    """The generator of the data order (and of dynamic bits), its own stream of the seed."""
    return np.random.default_rng([settings.seed, 1])


def _model_class(config):
    return models.model_class(models.kind_for_config(config))


def _check_canvas_init(config, settings: TrainSettings) -> None:
    if settings.canvas_init != "zero" and not hasattr(config, "canvas_shape"):
        raise ValueError(f"--canvas-init {settings.canvas_init} applies only to a model with a "
                         f"canvas (DRAW), not to {models.kind_for_config(config)}")


#: The config fields in which an ``--init-from`` checkpoint may differ from the new run's model:
#: the image size; the number of steps T, which no parameter's shape depends on (the same
#: weights are applied at every step, so a model can go on with more or fewer of them); and the
#: read and write glimpses' sides and DRAW's LSTM sizes, which may grow (:mod:`draw_np.grow`).
INIT_FROM_MAY_DIFFER = ("H", "W", "T", "read_n", "write_n", "enc_size", "dec_size")


def inherited_parameters(path, config, seed: int = 0, init_scale: str = "stretch"
                         ) -> tuple[dict, dict]:
    """What ``--init-from PATH`` gives a new run of ``config``: ``(taken, left)``, the
    checkpoint's parameters whose shapes this model shares (name -> array), and this model's
    other parameters (name -> why they keep their fresh initialisation).

    The checkpoint must hold the same kind of model with the same config but for the image
    size, the number of steps, the glimpses' sides and DRAW's LSTM sizes: the same model,
    trained on other images, run for another T, or given a larger read or write glimpse or
    larger LSTMs. A DRAW with attention trained
    on 28 x 28 MNIST then gives a 60 x 60 one everything but its canvas bias c0, the only
    parameter whose shape depends on the image size; one trained with T = 64 gives a T = 96
    one every parameter; one with a 2 x 2 read or a 5 x 5 write gives a 12 x 12 read or a
    9 x 9 write, or LSTMs of 256 units grown to 384, every parameter, grown so that the model
    computes what it computed (:func:`draw_np.grow.grow_read`, :func:`draw_np.grow.grow_write`,
    :func:`draw_np.grow.grow_lstms`, whose new units' outgoing weights are drawn from
    ``seed``). With ``init_scale`` "own", a model of smaller images keeps its glimpses' scale in
    pixels, centred on the larger images, and gives its padded c0 too
    (:func:`draw_np.grow.at_own_scale`; ``--init-scale own``). Anything else raises
    :class:`TrainingError`.
    """
    ckpt = load_checkpoint(path)
    kind = models.kind_for_config(config)
    if ckpt.kind != kind:
        raise TrainingError(f"--init-from {path} holds a {ckpt.kind} model, not a {kind}")
    theirs, ours = ckpt.config.to_dict(), config.to_dict()
    differ = [f"{k} ({theirs[k]} there, {ours[k]} here)" for k in ours
              if k not in INIT_FROM_MAY_DIFFER and theirs.get(k) != ours[k]]
    if differ:
        raise TrainingError(f"--init-from {path} holds another model: it differs in "
                            f"{', '.join(differ)}; only the image size, T, the glimpses' "
                            f"sides and the LSTMs' sizes may differ")
    model_class, params = _model_class(config), ckpt.params
    try:
        if "enc_size" in ours:
            params = grow_lstms(params, ckpt.config, config.enc_size, config.dec_size,
                                np.random.default_rng([seed, 3]))
        if getattr(config, "attention", True):
            params = grow_read(params, ckpt.config, config.read_n, model_class.read_input)
            if "write_n" in ours:
                params = grow_write(params, ckpt.config, config.write_n)
        if init_scale == "own":
            params = at_own_scale(params, ckpt.config, config.H, config.W)
    except ValueError as exc:
        raise TrainingError(f"--init-from {path}: {exc}") from None
    shapes = model_class.param_shapes(config)
    taken = {k: a for k, a in params.items() if shapes[k] == a.shape}
    left = {k: f"shape {params[k].shape} there, {shape} here"
            for k, shape in shapes.items() if k not in taken}
    return taken, left


def new_model(config, settings: TrainSettings, data: DataSplits, print_fn=print):
    """The model a new run starts from: initialised from ``settings.seed``; with
    ``--init-from PATH``, every parameter of that checkpoint's model (the same model trained
    on images of another size) whose shape fits is then taken from it
    (:func:`inherited_parameters`); with ``--canvas-init data-mean``, a DRAW's
    c0 is then set so that σ(c0) is the mean of :data:`CANVAS_INIT_IMAGES` training images.
    They come from a stream of the seed of their own, so the run sees the same batches in the
    same order as with ``--canvas-init zero``."""
    _check_canvas_init(config, settings)
    model = _model_class(config)(config, seed=settings.seed)
    if settings.init_from:
        taken, left = inherited_parameters(settings.init_from, config, settings.seed,
                                           settings.init_scale)
        for k, a in taken.items():
            model.params[k][...] = backend.xp().asarray(a, dtype=model.params[k].dtype)
        print_fn(f"{len(taken)} of {len(model.params)} parameters from {settings.init_from}"
                 + "".join(f"; {k} starts fresh ({why})" for k, why in left.items()))
    if settings.canvas_init == "zero":
        return model
    n = min(CANVAS_INIT_IMAGES, data.train.size)
    mean = mean_image(data.train, n, np.random.default_rng([settings.seed, 2]))
    c0 = model.params["c0"]
    c0[...] = backend.xp().asarray(canvas_bias_for_mean(mean).reshape(c0.shape), dtype=c0.dtype)
    print_fn(f"canvas: c0 set to the logits of the mean of {n} training images (mean ink "
             f"{float(mean.mean()):.3f})")
    return model


def _check_data(config, settings: TrainSettings, data: DataSplits) -> None:
    data.check_fits(config)
    if data.train.size == 0 or len(data.valid[0]) == 0:
        raise ValueError(f"the data set {data.name} has no training or no validation examples")
    if settings.batch_size > data.train.size:
        raise ValueError(f"the batch size (--batch-size {settings.batch_size}) is larger than "
                         f"the {data.train.size} training images")


class _Loop:
    """The epochs of one training session, and the state they leave behind (``state``)."""

    def __init__(self, model, opt, guards, settings, data, run, halt, state, log_every,
                 save_every_s, progress_bar, print_fn):
        self.model, self.opt, self.guards = model, opt, guards   # guards: a _Guards
        self.settings, self.data = settings, data
        self.run_dir, self.halt, self.state = run, halt, state
        self.log_every, self.save_every_s = log_every, save_every_s
        self.progress_bar, self.print = progress_bar, print_fn
        self.base_train_s, self.base_cpu_s = state.train_s, state.cpu_s
        self.saved_step = state.step if run.checkpoint.exists() else None
        self.last_save = time.perf_counter()

    def clocks(self, s: Progress) -> Progress:
        """The progress with this session's wall and CPU time added to the earlier sessions'."""
        return s._replace(
            train_s=self.base_train_s + time.perf_counter() - self.halt.started,
            cpu_s=self.base_cpu_s + time.process_time() - self.halt.cpu_started)

    def run(self) -> None:
        # A diverging run overflows; every loss, gradient norm, bound and saved parameter is
        # checked for that and reported in one line, so NumPy's warnings would only be noise.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            self._epochs()

    def _epochs(self) -> None:
        data_rng = _data_rng(self.settings)
        while not self.halt.now(self.state.step) and self.state.epoch < self.settings.epochs:
            data_rng.bit_generator.state = self.state.epoch_rng_state
            order = data_rng.permutation(self.data.train.size)
            epoch = self.data.train.epoch(data_rng)
            self.batches(epoch, order)
            if self.state.step_in_epoch < len(order) // self.settings.batch_size:
                break  # stopped early: Ctrl-C, a budget, max_steps
            self.end_epoch(data_rng.bit_generator.state)
        if self.state.step_in_epoch:  # stopped mid-epoch: save exactly where we are
            self.save()

    def batches(self, epoch, order) -> None:
        """The rest of the current epoch's batches (the last partial batch is dropped, so every
        step has the same shapes)."""
        from tqdm import tqdm
        model, s, batch = self.model, self.state, self.settings.batch_size
        average, spikes = self.guards
        per_epoch = len(order) // batch
        xp = backend.xp()
        bar = tqdm(total=per_epoch, initial=s.step_in_epoch, leave=False, unit="batch",
                   desc=f"epoch {s.epoch + 1}/{self.settings.epochs}",
                   disable=not self.progress_bar if self.progress_bar is not None else None)
        sums, seen, window_start = {}, 0, time.perf_counter()  # since the last log line
        largest_norm = 0.0  # the largest gradient norm since the last log line: the spikes
        skipped = 0         # steps the spike filter skipped since the last log line
        for b in range(s.step_in_epoch, per_epoch):
            images, *others = epoch.batch(order[b * batch:(b + 1) * batch], b)
            inputs = [xp.asarray(images, dtype=model.dtype)] + [xp.asarray(a) for a in others]
            loss, grads, terms = model.loss_and_grads(*inputs, return_terms=True)
            grads, norm = clip_by_global_norm(grads, self.settings.clip)
            if not (math.isfinite(loss) and math.isfinite(norm)):
                self.diverged(f"non-finite {'loss' if not math.isfinite(loss) else 'gradient'} "
                              f"at epoch {s.epoch + 1}, step {s.step + 1}")
            largest_norm = max(largest_norm, norm)
            if spikes is None or spikes.admits(norm):
                self.opt.lr = warmed_up_rate(self.settings.lr, s.step + 1,
                                             self.settings.warmup_steps)
                self.opt.step(model.params, grads)
                if average:
                    average.update(model.params)
            else:
                skipped += 1   # the batch counts as seen: the data's order stays the run's
            s = self.state = s._replace(step=s.step + 1, step_in_epoch=b + 1,
                                        epoch_loss=s.epoch_loss + loss)
            for k, v in dict(loss=loss, **model.training_metrics(terms)).items():
                sums[k] = sums.get(k, 0.0) + v
            seen += 1
            bar.update(1)
            if s.step % self.log_every == 0 or b + 1 == per_epoch:
                now = time.perf_counter()
                rate = seen * batch / max(now - window_start, 1e-9)
                mean = {k: v / seen for k, v in sums.items()}
                bar.set_postfix_str(", ".join(f"{k} {v:.2f}" for k, v in mean.items())
                                    + f", {rate:.0f} img/s")
                record = dict(kind="step", epoch=s.epoch + 1, step=s.step, **mean,
                              grad_norm=norm, grad_norm_max=largest_norm)
                if spikes:
                    record["skipped"] = skipped
                self.run_dir.append(dict(record, examples_per_s=rate, **self.clock_fields()))
                sums, seen, window_start, largest_norm, skipped = {}, 0, now, 0.0, 0
            if time.perf_counter() - self.last_save > self.save_every_s:
                self.save()
            if self.halt.now(s.step):
                break
        bar.close()

    def validate(self):
        """The model's validation :class:`~draw_np.evaluate.Evaluation`."""
        return self.model.evaluate(*self.data.valid, batch_size=self.settings.batch_size,
                                   seed=VALIDATION_SEED)

    def end_epoch(self, next_epoch_rng_state: dict) -> None:
        """The validation figure, a log line, ``best.npz`` if it improved, then the checkpoint.

        With a weight average both the average and the trained weights are validated: the log
        line's figure is the average's, ``valid_unaveraged`` the trained weights', and
        ``best.npz`` keeps the lower of the two (its ``weights`` says which) when it is lower
        than any before. Why both: while a run still gains quickly the average lags behind the
        weights it averages; once the run levels off it sits below them."""
        s, batch, average = self.state, self.settings.batch_size, self.guards.average
        validated = {"trained": self.validate()}
        if average:
            with average.swapped_into(self.model.params):
                validated["average"] = self.validate()
        if not all(math.isfinite(v.figure) for v in validated.values()):
            self.diverged(f"non-finite validation {self.model.figure_name} after epoch "
                          f"{s.epoch + 1}")
        logged = validated.get("average", validated["trained"])
        kept = min(validated, key=lambda weights: validated[weights].figure)
        best = validated[kept]
        improved = best.figure < s.best_valid
        record = dict(kind="epoch", epoch=s.epoch + 1, step=s.step,
                      train_loss=s.epoch_loss / (self.data.train.size // batch),
                      **{f"valid_{k}": v for k, v in logged.summary().items()})
        if average:
            record["valid_unaveraged"] = validated["trained"].figure
        self.state = s._replace(epoch=s.epoch + 1, step_in_epoch=0, epoch_loss=0.0,
                                epoch_rng_state=next_epoch_rng_state,
                                best_valid=min(best.figure, s.best_valid))
        self.run_dir.append(dict(record, **self.clock_fields()))
        if improved:
            with (average.swapped_into(self.model.params) if kept == "average"
                  else contextlib.nullcontext()):
                self.save(self.run_dir.best, with_optimiser=False, valid_figure=best.figure,
                          valid=best.summary(), weights=kept)
        name = self.model.figure_name
        if is_cross_entropy(self.model, self.data):
            name = "cross-entropy (grey levels: see evaluate)"
        figure, kept_as = f"{logged.figure:.2f} {self.model.figure_unit}", " (best)"
        if average:
            figure = (f"of the weight average {figure} (the trained weights "
                      f"{validated['trained'].figure:.2f})")
            kept_as = f" (best: {'the weight average' if kept == 'average' else 'trained weights'})"
        self.print(f"epoch {self.state.epoch}/{self.settings.epochs}: train loss "
                   f"{record['train_loss']:.2f}, validation {name} {figure}"
                   f"{kept_as if improved else ''}  "
                   f"[{self.clocks(self.state).train_s / 60:.1f} min]")
        self.save()

    def clock_fields(self) -> dict:
        """The time fields of a log line: this run's wall-clock and CPU seconds, all sessions."""
        now = self.clocks(self.state)
        return dict(elapsed_s=now.train_s, cpu_s=now.cpu_s)

    def save(self, path=None, with_optimiser=True, **extra) -> None:
        """Write the state (to the checkpoint unless ``path``); never non-finite parameters."""
        bad = [k for k, v in self.model.params.items() if not bool(backend.xp().isfinite(v).all())]
        if bad:
            self.diverged(f"parameter {bad[0]} became non-finite at step {self.state.step}")
        state = self.clocks(self.state)
        optimiser = None
        if with_optimiser:
            optimiser = dict(self.opt.state_dict(), **self.guards.state_dict())
        save_checkpoint(path or self.run_dir.checkpoint, self.model.params, self.model.config,
                        optimiser,
                        settings=self.settings.to_dict(), progress=state.to_meta(),
                        model_rng_state=self.model.rng.state, **extra)
        if path is None:
            self.saved_step = self.state.step
            self.last_save = time.perf_counter()

    def diverged(self, what: str):
        """Stop without writing anything: the last checkpoint stays the last good state."""
        where = self.run_dir.checkpoint
        if self.saved_step is None:
            advice = "nothing was saved; start again with a lower --lr"
        else:
            advice = (f"nothing was saved, so {where} still holds the last good state (step "
                      f"{self.saved_step}); continue it with --resume and a lower --lr")
        raise TrainingError(f"training diverged: {what}; {advice}")


def _restore(path: Path, config, settings: TrainSettings, print_fn=print):
    """Model, optimiser, settings and progress from a checkpoint, checked against the request."""
    ckpt = load_checkpoint(path)
    if type(ckpt.config) is not type(config):
        raise TrainingError(f"{path} holds a {ckpt.kind} model, not a "
                            f"{models.kind_for_config(config)}")
    if ckpt.config != config:
        diff = {k: (v, getattr(config, k)) for k, v in ckpt.config.to_dict().items()
                if getattr(config, k) != v}
        raise TrainingError(f"the config does not match the checkpoint {path}: "
                            + ", ".join(f"{k} is {a} there, {b} here" for k, (a, b) in diff.items()))
    try:
        saved = TrainSettings.from_dict(ckpt.meta["settings"])
        state = Progress.from_meta(ckpt.meta["progress"])
        model = ckpt.build_model(seed=saved.seed)
        model.rng.set_state(ckpt.meta["model_rng_state"])
        opt = Adam(model.params, lr=saved.lr)
        opt.load_state_dict(ckpt.optim_state)
        guards = _Guards.for_run(model, settings)
        started = [what for what, guard in (("the weight average starts from the checkpoint's "
                                            "weights", guards.average),
                                           ("the spike filter starts with no history of "
                                            "gradient norms", guards.spikes))
                   if guard is not None and not guard.load_state_dict(ckpt.optim_state)]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"{path} has no valid training state to resume from ({exc})") from None
    settings = _changed_on_resume(saved, settings, print_fn)
    for what in started:
        print_fn(what)
    opt.lr, opt.weight_decay = settings.lr, settings.weight_decay
    return model, opt, guards, settings, state


def _changed_on_resume(saved: TrainSettings, requested: TrainSettings, print_fn) -> TrainSettings:
    """The requested settings, if they differ from the saved ones only where a resume may."""
    changed = {f.name: (getattr(saved, f.name), getattr(requested, f.name))
               for f in dataclasses.fields(TrainSettings)
               if getattr(saved, f.name) != getattr(requested, f.name)}
    refused = [f for f in changed if f not in CHANGEABLE_ON_RESUME]
    if refused:
        raise TrainingError(
            "--resume cannot change " + ", ".join(f"{_flag(f)} ({changed[f][0]} in the "
                                                  f"checkpoint, {changed[f][1]} asked)"
                                                  for f in refused)
            + ": an exact resume replays the epoch with the run's own settings; start a new "
              "run (another --out) to train with different ones")
    for f, (old, new) in changed.items():
        print_fn(f"resuming with {_flag(f)} {new} (the run used {old} until now)")
    return requested


def _flag(field: str) -> str:
    return "--" + field.replace("_", "-")


# ------------------------------------------------------------------------------------ CLI
#: Config fields settable from the command line (each model's config has some of them).
CONFIG_FLAGS = {"T": "T", "enc_size": "enc-size", "dec_size": "dec-size", "z_size": "z-size",
                "read_n": "read-n", "write_n": "write-n", "write_window": "write-window",
                "size": "size",
                "attention": "attention"}
SETTING_FLAGS = ("epochs", "batch_size", "lr", "clip", "weight_decay", "seed", "dataset",
                 "dynamic_binarization", "canvas_init", "init_from", "init_scale",
                 "warmup_steps", "weight_average", "skip_spikes")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="train a model (DRAW by default) on a data set (binarised MNIST)",
        description="Train a model from a preset (DRAW on binarised MNIST unless the preset "
                    "says otherwise; data is fetched and cached on first use). Writes "
                    "DIR/checkpoint.npz (latest), DIR/best.npz (best validation figure) and "
                    "DIR/log.jsonl. Presets: " + ", ".join(PRESETS) + ". Flags override preset "
                    "fields; with --resume they override the checkpoint's (only "
                    + ", ".join(map(_flag, CHANGEABLE_ON_RESUME)) + " may change).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--preset", choices=tuple(PRESETS), default="quick")
    p.add_argument("--out", default=None, metavar="DIR", help="output directory (default runs/PRESET)")
    p.add_argument("--resume", action="store_true", help="continue DIR/checkpoint.npz exactly")
    p.add_argument("--attention", action=argparse.BooleanOptionalAction, default=None,
                   help="DRAW: selective attention (eqs. 19-29) or full-image read/write (17-18)")
    helps = {"write_window": "DRAW: side in pixels of the write glimpse's first window "
                             "(default 0: the whole image)"}
    for field, flag in CONFIG_FLAGS.items():
        if field != "attention":
            p.add_argument(f"--{flag}", type=int, default=None, dest=field,
                           help=helps.get(field), metavar="PIXELS" if field in helps else None)
    p.add_argument("--dataset", choices=tuple(DATASETS), default=None,
                   help="the data set (default: the preset's)")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None, help="Adam learning rate")
    p.add_argument("--clip", type=float, default=None, help="clip gradients at this global norm")
    p.add_argument("--weight-decay", type=float, default=None, metavar="LAMBDA",
                   help="decoupled weight decay on the weight matrices: each step shrinks them "
                        "by lr * LAMBDA (default 0: none)")
    p.add_argument("--warmup-steps", type=int, default=None, metavar="STEPS",
                   help="raise the learning rate linearly from lr/STEPS to lr over the run's "
                        "first STEPS steps (default 0: none); for a fresh Adam on a trained "
                        "model, as after --init-from")
    p.add_argument("--weight-average", type=float, default=None, metavar="DECAY",
                   help="keep an average of the weights, each step DECAY times the last plus "
                        "(1 - DECAY) times the new ones (e.g. 0.999: about the last 1,000 steps); "
                        "it is validated beside the weights, best.npz keeps the lower, and "
                        "training never sees it (default 0: none)")
    p.add_argument("--skip-spikes", type=float, default=None, metavar="FACTOR",
                   help="skip the step of a batch whose gradient norm is more than FACTOR times "
                        f"the median of the last {SpikeFilter.WINDOW} batches' (e.g. 20; "
                        "default 0: none)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--dynamic-binarization", action="store_true", default=None,
                   help="draw fresh bits every epoch instead of the fixed binarisation")
    p.add_argument("--canvas-init", choices=CANVAS_INITS, default=None,
                   help="DRAW: the initial canvas bias c0 of a new run: zero (a grey first "
                        "canvas) or data-mean (the logits of the mean training image; default "
                        "zero)")
    p.add_argument("--init-from", default=None, metavar="CHECKPOINT",
                   help="start a new run from the parameters of this checkpoint, the same "
                        "model trained on images of this or another size (the canvas bias c0 "
                        "starts fresh when the size differs), with this or another T, or with "
                        "a smaller read or write glimpse or smaller LSTMs (grown so that it "
                        "computes what it computed)")
    p.add_argument("--init-scale", choices=INIT_SCALES, default=None,
                   help="with --init-from a model of smaller images: stretch its glimpses over "
                        "the new images (its parameters as they are) or keep their own scale in "
                        "pixels, its image centred in the new one and c0 padded (default "
                        "stretch)")
    p.add_argument("--backend", choices=backend.BACKENDS, default=None)
    p.add_argument("--data", default=None, metavar="PATH",
                   help="the data set's files, if not cached (MNIST: mnist.pkl.gz or a "
                        "directory of IDX files)")
    p.add_argument("--cache-dir", default=None, metavar="DIR")
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="use only the first N training and validation images (smoke tests)")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    p.add_argument("--save-every", type=float, default=600.0, metavar="SECONDS",
                   help="seconds between mid-epoch checkpoints (inf: only at epoch ends)")
    p.add_argument("--hours", type=float, default=None, metavar="H",
                   help="stop cleanly, with a checkpoint, after H hours of wall-clock time")
    p.add_argument("--cpu-hours", type=float, default=None, metavar="H",
                   help="stop cleanly after H hours of this process's CPU time (pilots)")
    p.set_defaults(func=run)


def _with_flags(base, args, flags: dict):
    """``base`` (a config or settings) with the fields given on the command line; a flag the
    model has no field for, or an impossible value, is reported under the flag's name."""
    changes = {f: getattr(args, f) for f in flags if getattr(args, f, None) is not None}
    fields = {f.name for f in dataclasses.fields(base)}
    for f in changes:
        if f not in fields:
            raise ValueError(f"--{flags[f]} does not apply to this model ({type(base).__name__})")
    try:
        return replace(base, **changes)
    except ValueError as exc:
        message = str(exc)
        for f in changes:
            if message.startswith(f + " "):
                message = "--" + flags[f] + message[len(f):]
        raise ValueError(message) from None


def _settings_from_args(args, out: Path) -> tuple:
    """The preset with the flags applied, or with --resume the checkpoint's config and settings
    with the flags applied (so a resume needs no flag repeated)."""
    if args.resume:
        ckpt = load_checkpoint(out / "checkpoint.npz")
        try:
            config, settings = ckpt.config, TrainSettings.from_dict(ckpt.meta["settings"])
        except (KeyError, ValueError) as exc:
            raise CheckpointError(f"{out / 'checkpoint.npz'} has no valid training settings "
                                  f"({exc})") from None
    else:
        config, settings = preset(args.preset)
    return (_with_flags(config, args, CONFIG_FLAGS),
            _with_flags(settings, args, {f: f.replace("_", "-") for f in SETTING_FLAGS}))


def describe(config) -> str:
    """One line naming a model and its config: ``draw (H=28, W=28, T=64, ...)``."""
    fields = ", ".join(f"{k}={v}" for k, v in config.to_dict().items())
    return f"{models.kind_for_config(config)} ({fields})"


def run(args) -> int:
    for name in ("hours", "cpu_hours"):
        value = getattr(args, name)
        if value is not None and not 0 < value < math.inf:
            raise ValueError(f"{_flag(name)} must be a positive number of hours, got {value}")
    if not args.save_every > 0:
        raise ValueError(f"--save-every must be a positive number of seconds, got "
                         f"{args.save_every}")
    for name in ("limit", "max_steps"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"{_flag(name)} must be >= 1, got {value}")
    out = Path(args.out or Path("runs") / args.preset)
    config, settings = _settings_from_args(args, out)
    _check_canvas_init(config, settings)
    # A refused change or a bad --init-from fails here, before a possibly long data load.
    if args.resume:
        _restore(out / "checkpoint.npz", config, settings, print_fn=lambda s: None)
    elif settings.init_from:
        inherited_parameters(settings.init_from, config, init_scale=settings.init_scale)
    data = load_dataset(settings.dataset, source=args.data, cache_dir=args.cache_dir,
                        dynamic=settings.dynamic_binarization, limit=args.limit)
    print(f"training {describe(config)} on {data.name} ({data.train.size} examples) for "
          f"{settings.epochs} epochs, batch {settings.batch_size}, lr {settings.lr}, clip "
          f"{settings.clip}, seed {settings.seed}, backend {backend.get_backend()}; writing to "
          f"{out}/", file=sys.stderr)
    summary = train(config, settings, data, out, resume=args.resume, max_steps=args.max_steps,
                    save_every_s=args.save_every,
                    budget_s=None if args.hours is None else args.hours * 3600,
                    cpu_budget_s=None if args.cpu_hours is None else args.cpu_hours * 3600,
                    print_fn=lambda s: print(s, file=sys.stderr))
    cls = _model_class(config)
    best = ("none yet" if math.isinf(summary["best_valid"])
            else f"{summary['best_valid']:.2f} {cls.figure_unit}")
    print(f"done: {summary['epochs']} epochs, {summary['steps']} steps in "
          f"{summary['minutes']:.1f} min; best validation {cls.figure_name} {best}"
          f"; checkpoints {summary['checkpoint']}" + (f", {summary['best']}" if summary['best'] else ""))
    if summary["best"]:
        print(f"test {cls.figure_name}: python -m draw_np evaluate {summary['best']}")
    return 130 if summary["interrupted"] else 0
