"""Reading the ``log.jsonl`` that ``train`` writes: its step and epoch records, checked.

A DRAW run logs its bound and the bound's two terms; an attention classifier's run logs its
cross-entropy and its error in %. Which of the two a log is, its first record says."""
from __future__ import annotations

import json
from pathlib import Path

#: model kind -> the numbers each "step" record of its log must hold.
STEP_FIELDS = {"draw": ("epoch", "step", "loss", "Lx", "Lz"),
               "classifier": ("epoch", "step", "loss", "error")}
#: model kind -> the numbers each "epoch" record of its log must hold.
EPOCH_FIELDS = {"draw": ("epoch", "step", "train_loss", "valid_bound"),
                "classifier": ("epoch", "step", "train_loss", "valid_error")}


#: model kind -> its name in figure titles.
MODEL_NAMES = {"draw": "DRAW", "classifier": "attention classifier"}


def _record_kind(record: dict) -> str:
    """"classifier" for a record of an attention classifier's run (it carries an error in %),
    else "draw"."""
    return "classifier" if "error" in record or "valid_error" in record else "draw"


def log_kind(steps: list[dict], epochs: list[dict]) -> str:
    """The model kind of a log, from the records :func:`read_training_log` returned."""
    return _record_kind((steps or epochs)[0])


def read_training_log(log_path) -> tuple[list[dict], list[dict]]:
    """The ``"step"`` and ``"epoch"`` records of a ``log.jsonl`` written by ``train``.

    Blank lines and records of other kinds are skipped; anything else that is not a JSON object
    with the fields the plots need (those of the model kind of the log's first record) raises
    ValueError naming the file and line.
    """
    log_path = Path(log_path)
    if not log_path.is_file():
        raise ValueError(f"no training log at {log_path} (train writes DIR/log.jsonl)")
    steps, epochs, model_kind = [], [], None
    try:
        lines = log_path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise ValueError(f"{log_path} is not a text file; is it a log.jsonl written by "
                         f"train?") from None
    except OSError as exc:
        raise ValueError(f"cannot read the training log {log_path} ({exc})") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{log_path} line {number} is not JSON ({exc.msg}); is this a "
                             f"log.jsonl written by train?") from None
        kind = record.get("kind") if isinstance(record, dict) else None
        if kind not in ("step", "epoch"):
            if not isinstance(record, dict):
                raise ValueError(f"{log_path} line {number} is not a JSON object")
            continue
        model_kind = model_kind or _record_kind(record)
        needed = (STEP_FIELDS if kind == "step" else EPOCH_FIELDS)[model_kind]
        missing = [f for f in needed if not isinstance(record.get(f), (int, float))]
        if missing:
            raise ValueError(f"{log_path} line {number}: a {kind!r} record lacks the numbers "
                             f"{', '.join(missing)}")
        (steps if kind == "step" else epochs).append(record)
    if not steps and not epochs:
        raise ValueError(f"{log_path} holds no training records (no lines with kind "
                         f"'step' or 'epoch')")
    return steps, epochs
