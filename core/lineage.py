"""What one model has been through: every run's history, the epochs done, the best weights
seen and where the optimizer left off. Kept once, and used alike by the GUI's experiment
model, sessions and the command line.

A run that leaves the model worse than it found it (a higher validation loss; see
Finished.ended_worse) never silently replaces the better model: the lineage after it keeps the
weights the run started from, with their lineage (`earlier`), so the user can go back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import torch
from mlp_studio.core.best_epoch import recorded_score
from mlp_studio.core.session_history import best_val_loss, merge_history
from mlp_studio.core.training import EpochEnd, EpochRecord, Finished, History, OptimizerState


@dataclass
class Lineage:
    """Every run of one model so far (the next run continues from here)."""

    history: History = field(default_factory=History)
    epochs_done: int = 0
    best_state: dict[str, torch.Tensor] | None = None
    best_epoch: int | None = None
    optimizer_state: OptimizerState | None = None
    # The model the last run started from, when that run left it worse (else None).
    earlier: EarlierModel | None = None

    def extended(self, trainer, result: Finished,
                 start_weights: dict[str, torch.Tensor] | None = None) -> Lineage:
        """This lineage after `trainer`'s run (a Trainer or TrainingProcess that has ended:
        best_state, best_epoch, best_val_loss, optimizer_state) that finished with `result`.
        `start_weights`: the model's state_dict when the run started, kept as `earlier` if the
        run ended worse."""
        earlier = None
        if start_weights is not None and result.ended_worse:
            earlier = EarlierModel(
                {k: v.detach().cpu().clone() for k, v in start_weights.items()},
                replace(self, earlier=None), result.start_val_loss, result.end_val_loss)
        best, best_epoch = self.best_state, self.best_epoch
        by = "loss" if trainer.data.task == "regression" else trainer.config.best_by
        if trainer.best_state is not None and (
            best is None or recorded_score(result.history, trainer.best_epoch, by)
            > recorded_score(self.history, best_epoch, by)
        ):
            best = {k: v.detach().cpu().clone() for k, v in trainer.best_state.items()}
            best_epoch = trainer.best_epoch
        return Lineage(
            merge_history(self.history, result.history),
            self.epochs_done + len(result.history.epochs),
            best,
            best_epoch,
            trainer.optimizer_state,
            earlier,
        )

    @property
    def best_val_loss(self) -> float:
        return best_val_loss(self.history, self.best_epoch)

    @classmethod
    def of_session(cls, session) -> Lineage:
        """What a saved session's weights have been through (core.session.Session)."""
        return cls(session.history, session.epochs_done, session.best_weights,
                   session.best_epoch, session.optimizer_state)


@dataclass(frozen=True)
class EarlierModel:
    """The model a run started from, kept because the run left it worse: going back means
    loading `weights` and taking `lineage` again (the history, best weights and optimizer
    state from before the run)."""

    weights: dict[str, torch.Tensor]  # state_dict, on the CPU
    lineage: Lineage
    val_loss: float  # its validation loss, measured when the run started
    run_val_loss: float  # the validation loss the run ended with (NaN: not finite)

    def describe(self) -> str:
        """One sentence for the user."""
        ended = f"{self.run_val_loss:.4g}" if math.isfinite(self.run_val_loss) else "not finite"
        return (f"This run left the model worse than it found it: validation loss {ended} "
                f"(it was {self.val_loss:.4g} before the run).")



def epoch_record(event: EpochEnd) -> EpochRecord:
    """What the history keeps of an epoch's end (the Trainer's own record of it)."""
    return EpochRecord.of(event.epoch, event.train_loss, event.train_accuracy, event.val,
                          event.seconds, event.lr)
