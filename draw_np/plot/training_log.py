"""Reading the ``log.jsonl`` that ``train`` writes: its step and epoch records, checked."""
from __future__ import annotations

import json
from pathlib import Path

STEP_FIELDS = ("epoch", "step", "loss", "Lx", "Lz")
EPOCH_FIELDS = ("epoch", "step", "train_loss", "valid_bound")


def read_training_log(log_path) -> tuple[list[dict], list[dict]]:
    """The ``"step"`` and ``"epoch"`` records of a ``log.jsonl`` written by ``train``.

    Blank lines and records of other kinds are skipped; anything else that is not a JSON object
    with the fields the plots need raises ValueError naming the file and line.
    """
    log_path = Path(log_path)
    if not log_path.is_file():
        raise ValueError(f"no training log at {log_path} (train writes DIR/log.jsonl)")
    steps, epochs = [], []
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
        needed = {"step": STEP_FIELDS, "epoch": EPOCH_FIELDS}.get(kind)
        if needed is None:
            if not isinstance(record, dict):
                raise ValueError(f"{log_path} line {number} is not a JSON object")
            continue
        missing = [f for f in needed if not isinstance(record.get(f), (int, float))]
        if missing:
            raise ValueError(f"{log_path} line {number}: a {kind!r} record lacks the numbers "
                             f"{', '.join(missing)}")
        (steps if kind == "step" else epochs).append(record)
    if not steps and not epochs:
        raise ValueError(f"{log_path} holds no training records (no lines with kind "
                         f"'step' or 'epoch')")
    return steps, epochs
