"""What one model has been through: every run's history, the epochs done, the best weights
seen and where the optimizer left off. Kept once, and used alike by the GUI's experiment
model, sessions and the command line."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from mlp_studio.core.session import best_val_loss, merge_history
from mlp_studio.core.training import EpochEnd, EpochRecord, Finished, History, OptimizerState


@dataclass
class Lineage:
    """Every run of one model so far (the next run continues from here)."""

    history: History = field(default_factory=History)
    epochs_done: int = 0
    best_state: dict[str, torch.Tensor] | None = None
    best_epoch: int | None = None
    optimizer_state: OptimizerState | None = None

    def extended(self, trainer, result: Finished) -> Lineage:
        """This lineage after `trainer`'s run (a Trainer or TrainingProcess that has ended:
        best_state, best_epoch, best_val_loss, optimizer_state) that finished with `result`."""
        best, best_epoch = self.best_state, self.best_epoch
        if trainer.best_state is not None and (
            best is None or trainer.best_val_loss < best_val_loss(self.history, best_epoch)
        ):
            best = {k: v.detach().cpu().clone() for k, v in trainer.best_state.items()}
            best_epoch = trainer.best_epoch
        return Lineage(
            merge_history(self.history, result.history),
            self.epochs_done + len(result.history.epochs),
            best,
            best_epoch,
            trainer.optimizer_state,
        )

    @property
    def best_val_loss(self) -> float:
        return best_val_loss(self.history, self.best_epoch)



def epoch_record(event: EpochEnd) -> EpochRecord:
    """What the history keeps of an epoch's end (the Trainer's own record of it)."""
    return EpochRecord(event.epoch, event.train_loss, event.train_accuracy, event.val.loss,
                       event.val.accuracy, event.seconds, event.lr,
                       np.asarray(event.val.confusion).tolist())
