"""A session's training history: to and from JSON (every value checked on the way in), and
runs merged into one history."""

import math
from dataclasses import MISSING, fields, replace
from typing import Any

from mlp_studio.core.errors import SessionError
from mlp_studio.core.training import EpochRecord, History


def history_to_json(history: History) -> dict[str, Any]:
    """History.to_dict() without dataclasses.asdict's deep copies (10x faster on long runs)."""
    names = [f.name for f in fields(EpochRecord)]
    return {
        "epochs": [{n: getattr(r, n) for n in names} for r in history.epochs],
        "batch_losses": list(history.batch_losses),
        "grad_norms": [[step, list(norms)] for step, norms in history.grad_norms],
    }


def history_from_json(doc: dict[str, Any]) -> History:
    """The history, every value of the type the plots and the trainer expect: a file with
    `"epoch": "one"` is refused here rather than breaking the next run."""
    names = {f.name: f.type for f in fields(EpochRecord)}
    # Fields with a default came later: older sessions' records may lack them.
    required = {f.name for f in fields(EpochRecord) if f.default is MISSING}
    epochs, last = [], 0
    for i, record in enumerate(_list(doc.get("epochs", []), "its training history's epochs")):
        where = f"its training history's record {i + 1}"
        if not isinstance(record, dict) or not required <= set(record) <= set(names):
            raise SessionError(f"{where} does not have the fields {', '.join(names)}")
        epoch = record["epoch"]
        if not is_count(epoch) or epoch <= last:
            raise SessionError(f"{where} has epoch {epoch!r}: epochs are whole numbers counting up")
        last = epoch
        for name, kind in names.items():
            value = record.get(name)
            if value is None and kind in (float | None, "float | None"):
                continue  # no such figure (a classifier's RMSE) or an older session's record
            if kind in (float, "float", float | None, "float | None") and not _number(value):
                raise SessionError(f"{where} has {name} {value!r}, which is not a number")
        confusion = _list(record["val_confusion"], f"{where}'s val_confusion")
        if not all(isinstance(row, list) and all(map(is_count, row)) for row in confusion):
            raise SessionError(f"{where}'s val_confusion is not a table of whole numbers")
        epochs.append(EpochRecord(**record))
    losses = _list(doc.get("batch_losses", []), "its training history's batch_losses")
    if not all(map(_number, losses)):
        raise SessionError("its training history's batch_losses are not all numbers")
    norms = _list(doc.get("grad_norms", []), "its training history's grad_norms")
    if not all(
        isinstance(item, list) and len(item) == 2 and is_count(item[0])
        and isinstance(item[1], list) and all(map(_number, item[1]))
        for item in norms
    ):  # fmt: skip
        raise SessionError("its training history's grad_norms are not [step, [numbers]] pairs")
    return History(epochs, [float(v) for v in losses], [(s, list(map(float, g))) for s, g in norms])


def _list(value: object, what: str) -> list:
    if not isinstance(value, list):
        raise SessionError(f"{what} is not a list")
    return value


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0



def best_val_loss(history: History, epoch: int | None) -> float:
    """The validation loss recorded for `epoch` (inf if there is none)."""
    for record in history.epochs:
        if record.epoch == epoch and math.isfinite(record.val_loss):
            return record.val_loss
    return math.inf


def merge_history(base: History, run: History) -> History:
    """`run` appended to `base`: epochs renumbered to follow base's, grad-norm steps offset.

    A trainer numbers its epochs from its start_epoch; runs that started from 0 on a model
    that had already trained are renumbered so the epochs of a session never repeat.
    """
    last = base.epochs[-1].epoch if base.epochs else 0
    shift = last + 1 - run.epochs[0].epoch if run.epochs else 0
    steps = len(base.batch_losses)
    return History(
        epochs=[*base.epochs, *(replace(r, epoch=r.epoch + shift) for r in run.epochs)],
        batch_losses=[*base.batch_losses, *run.batch_losses],
        grad_norms=[*base.grad_norms, *((s + steps, list(g)) for s, g in run.grad_norms)],
    )
