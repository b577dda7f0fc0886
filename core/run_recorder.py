"""Checkpoints of a run trained in this process (the command line), kept in a run tree exactly
as the app keeps those of its training process (app.model.checkpoint_view): a "start"
checkpoint before the first epoch, one at every epoch's end with the optimizer's state, one on
a Stop mid-epoch, the best epoch marked, all within the tree's memory budget.

A session saved with the tree opens in the app with every epoch to scrub back to and branch
from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from mlp_studio.core.checkpoints import Checkpoint, finite, weights_of
from mlp_studio.core.epoch_weights import epoch_weights, stop_weights
from mlp_studio.core.lineage import Lineage
from mlp_studio.core.run_tree import RunTree, optimizer_arrays
from mlp_studio.core.training_events import EpochEnd, Event


class RunRecorder:
    """A Trainer's `on_event` that keeps its checkpoints in `tree`'s current run, then hands
    every event on to `forward` (a progress bar)."""

    def __init__(self, tree: RunTree, forward: Callable[[Event], None] | None = None):
        self.tree = tree
        self.forward = forward
        self.trainer = None
        self._step_offset = 0

    def begin(self, trainer, lineage: Lineage | None = None) -> None:
        """Before `trainer` runs from the weights it holds, continuing `lineage` (None: a new
        model): the run's first checkpoint (if it has none yet) and its settings."""
        self.trainer = trainer
        lineage = lineage or Lineage()
        run = self.tree.runs[self.tree.current]
        self._step_offset = len(lineage.history.batch_losses)
        if not self.tree.checkpoints.of_run(run.id):
            self.tree.checkpoints.add(Checkpoint(
                run.id, lineage.epochs_done, weights_of(trainer.model.state_dict()),
                optimizer_arrays(lineage.optimizer_state), kind="start",
                step=self._step_offset))
        run.config = trainer.config.to_dict()

    def __call__(self, event: Event) -> None:
        if isinstance(event, EpochEnd) and self.trainer is not None:
            sent = epoch_weights(self.trainer, event)
            self._keep(sent.checkpoint("epoch"), sent.best)
        if self.forward is not None:
            self.forward(event)

    def end(self, best_epoch: int | None) -> None:
        """After the run: a Stop's weights, and the best epoch of the lineage it left (kept
        whatever the thinning)."""
        stopped = None if self.trainer is None else stop_weights(self.trainer)
        if stopped is not None:
            self._keep(stopped.checkpoint("stop"), False)
        self.tree.checkpoints.mark_best(self.tree.current, best_epoch)

    def _keep(self, checkpoint: Checkpoint, best: bool) -> None:
        if finite(checkpoint.weights):  # a diverged epoch's weights are nothing to go back to
            self.tree.checkpoints.add(replace(checkpoint, run=self.tree.current,
                                              step=checkpoint.step + self._step_offset), best)
