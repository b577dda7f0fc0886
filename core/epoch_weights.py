"""What the training process sends of its weights: each epoch's end (and a Stop mid-epoch) as
plain float32 arrays, once per epoch. The parent keeps them as checkpoints (core.checkpoints)
and loads the latest into the window's model.

Plain arrays, not tensors: a tensor would travel as a shared-memory handle that the parent can
only open while the child, which may be about to end, still runs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from mlp_studio.core.checkpoints import Checkpoint
from mlp_studio.core.optimizers import OptimizerState, optimizer_state_of


@dataclass(frozen=True)
class EpochWeights:
    """Sent just before each EpochEnd: the weights at that epoch's end (what a recovery file
    saves and a checkpoint keeps), which are the best so far when `best`, with the optimizer's
    state then. `step`: the run's batches so far; `batch`: into the next epoch (a Stop)."""

    weights: dict[str, np.ndarray]
    best: bool
    epoch: int = 0
    step: int = 0
    optimizer: OptimizerState | None = None  # arrays for tensors (see portable)
    batch: int = 0

    def checkpoint(self, kind: str) -> Checkpoint:
        """As a checkpoint of run 0 (the receiver knows which run it is)."""
        return Checkpoint(0, self.epoch, self.weights, self.optimizer, self.batch, self.step,
                          kind)


def epoch_weights(trainer, event) -> EpochWeights:
    """At `trainer`'s EpochEnd `event` (core.training.Trainer, during its run)."""
    optimizer = None
    if trainer.optimizer is not None:
        optimizer = portable(optimizer_state_of(trainer.optimizer, trainer.config), np.asarray)
    return EpochWeights(state_arrays(trainer.model.state_dict()), event.best, event.epoch,
                        len(trainer.history.batch_losses), optimizer)


def stop_weights(trainer) -> EpochWeights | None:
    """The weights a Stop mid-epoch left, before the best epoch's were restored (None if the
    Stop came between epochs: the last epoch's weights are those)."""
    if trainer.stop_state is None or trainer.stopped_at is None or not trainer.stopped_at[1]:
        return None
    epoch, batch = trainer.stopped_at
    return EpochWeights(state_arrays(trainer.stop_state), False, epoch,
                        len(trainer.history.batch_losses),
                        portable(trainer.optimizer_state, np.asarray), batch)


def portable(saved: OptimizerState | None, convert) -> OptimizerState | None:
    """`saved` with `convert` applied to its tensors (np.asarray) or arrays (torch.from_numpy):
    arrays travel by value, tensors would need the sender alive."""
    if saved is None:
        return None
    kind = np.ndarray if convert is torch.from_numpy else torch.Tensor
    state = {i: {k: convert(v) if isinstance(v, kind) else v for k, v in values.items()}
             for i, values in saved.state_dict["state"].items()}  # fmt: skip
    return replace(saved, state_dict={**saved.state_dict, "state": state})


def state_arrays(state: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy().copy() for k, v in state.items()}


def state_tensors(state: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(v) for k, v in state.items()}
