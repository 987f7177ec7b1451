"""A training run's folder: ``checkpoint.npz``, ``best.npz``, ``log.jsonl`` and a lock.

What a long run needs from its folder, so that no kill, full disk or second process ever loses
work:

* **one writer**: :class:`RunDir` holds an exclusive lock (``flock`` on ``DIR/.lock``) for as
  long as it is open, so a second ``train`` into the same folder stops with one line instead of
  interleaving checkpoints;
* **no orphans**: a kill during an atomic checkpoint write leaves a temporary file beside the
  checkpoint; opening the folder removes them (safe, since the lock says nobody else writes);
* **a log that agrees with the checkpoint**: on resume, :meth:`RunDir.trim_log` keeps exactly
  the lines the checkpoint has seen (each epoch once) and rewrites the log atomically;
* **strict JSON**: a diverged value (NaN, inf) is written as ``null``, never as the
  non-JSON ``NaN`` or ``Infinity``.
"""
from __future__ import annotations

import fcntl
import json
import math
from pathlib import Path

from .atomic import remove_orphans, write_atomically
from .errors import TrainingError

CHECKPOINT, BEST, LOG, LOCK = "checkpoint.npz", "best.npz", "log.jsonl", ".lock"


def json_line(record: dict) -> str:
    """One strict JSON line; non-finite floats become ``null``."""
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
             for k, v in record.items()}
    return json.dumps(clean, allow_nan=False) + "\n"


def _describe(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


class RunDir:
    """The folder of one training run, locked while open. Use as a context manager.

    Raises :class:`TrainingError` (one line) if the folder cannot be made or written, or if
    another process is training into it.
    """

    def __init__(self, path):
        self.path = Path(path)
        self.checkpoint = self.path / CHECKPOINT
        self.best = self.path / BEST
        self.log_path = self.path / LOG
        self._lock = None

    def __enter__(self) -> "RunDir":
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise TrainingError(f"--out {self.path} is a file, not a folder") from None
        except OSError as exc:
            raise TrainingError(f"cannot create the output folder {self.path}: "
                                f"{_describe(exc)}") from None
        if not self.path.is_dir():
            raise TrainingError(f"--out {self.path} is not a folder")
        try:
            self._lock = open(self.path / LOCK, "a")
        except OSError as exc:
            raise TrainingError(f"cannot write to the output folder {self.path}: "
                                f"{_describe(exc)}") from None
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise TrainingError(f"another process is training into {self.path}; wait for it "
                                f"or choose another --out") from None
        self._remove_orphans()
        return self

    def __exit__(self, *exc_info):
        if self._lock is not None:
            self._lock.close()  # closing the file releases the lock

    def _remove_orphans(self) -> None:
        """Temporary files of atomic writes that a kill interrupted (see atomic.py)."""
        for path in (self.checkpoint, self.best, self.log_path):
            remove_orphans(path)

    # ------------------------------------------------------------------------------ the log
    def append(self, record: dict) -> None:
        """Append one record to ``log.jsonl``. The file is opened for each record (one every
        ``log_every`` steps), so a log that something else replaces during the run (a ``git
        checkout`` or ``git stash`` of the run's folder) gets the next lines, instead of a
        handle to the replaced file taking them where nobody can read them."""
        try:
            with self.log_path.open("a") as log:
                log.write(json_line(record))
        except OSError as exc:
            raise TrainingError(f"cannot write {self.log_path}: {_describe(exc)}; the last "
                                f"checkpoint is intact, continue with --resume once it can be "
                                f"written") from None

    def trim_log(self, epochs_done: int, steps_done: int) -> None:
        """Keep the log lines a checkpoint has seen: steps up to ``steps_done``, epochs up to
        ``epochs_done``, each epoch once. Lines written after the checkpoint (and lines cut short
        by a kill) go; they will be written again. The rewrite is atomic."""
        if not self.log_path.exists():
            return
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as exc:
            raise TrainingError(f"cannot read the log {self.log_path}: {_describe(exc)}") from None
        kept, epochs_seen = [], set()
        for line in text.splitlines():
            try:
                record = json.loads(line)
                kind, step = record["kind"], int(record["step"])
                epoch = int(record["epoch"])
            except (ValueError, KeyError, TypeError):
                continue
            if kind == "epoch":
                if epoch > epochs_done or epoch in epochs_seen:
                    continue
                epochs_seen.add(epoch)
            elif step > steps_done:
                continue
            kept.append(line + "\n")
        new_text = "".join(kept)
        if new_text == text:
            return
        try:
            write_atomically(self.log_path, lambda f: f.write(new_text.encode()))
        except OSError as exc:
            raise TrainingError(f"cannot rewrite {self.log_path}: {_describe(exc)}") from None
