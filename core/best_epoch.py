"""Which epoch is the best: the one whose weights a run ends with when it keeps the best.

For classification, the highest validation accuracy (ties by the lower loss), the figure Keras'
examples report: with RMSprop the lowest validation loss came as early as epoch 4 of 20 while
the accuracy kept rising (issue 14). By the lowest validation loss on request, and always for
regression, whose accuracy is undefined.
"""

import math

from mlp_studio.core.train_config import TrainConfig
from mlp_studio.core.training_events import History

Score = tuple[float, float]  # higher is better
NO_SCORE: Score = (-math.inf, -math.inf)

WHY = {"accuracy": "the highest validation accuracy", "loss": "the lowest validation loss"}


def epoch_score(val_loss: float, val_accuracy: float, best_by: str) -> Score:
    """How good an epoch's validation figures are under `best_by` ("accuracy" or "loss")."""
    if not math.isfinite(val_loss):
        return NO_SCORE
    if best_by == "accuracy" and math.isfinite(val_accuracy):
        return val_accuracy, -val_loss
    return -val_loss, 0.0


def recorded_score(history: History, epoch: int | None, best_by: str) -> Score:
    """The score of `epoch` as `history` recorded it (NO_SCORE if it has none)."""
    for record in history.epochs:
        if record.epoch == epoch:
            return epoch_score(record.val_loss, record.val_accuracy, best_by)
    return NO_SCORE


def kept_weights(config: TrainConfig, best_epoch: int | None, last_epoch: int | None,
                 regression: bool = False) -> str:
    """Which epoch's weights a run ended with, and why, as a phrase: 'the weights of epoch 14,
    the highest validation accuracy' or 'the weights of the last epoch (20)'."""
    if config.restore_best and best_epoch is not None:
        why = WHY["loss" if regression else config.best_by]
        if best_epoch == last_epoch:
            return f"the weights of the last epoch ({best_epoch}), also {why}"
        return f"the weights of epoch {best_epoch}, {why}"
    if last_epoch is None:
        return "the weights it started with"
    return f"the weights of the last epoch ({last_epoch})"
