"""Runs as a tree: "branch from here" starts a new run from a checkpoint of another, with any
training settings changed. Every run keeps its lineage (core.lineage) and its checkpoints (in
the tree's one CheckpointStore, under one memory budget).

`start_from(checkpoint, lineage, ...)` is the whole branching API: the weights to load and the
lineage the new run continues (history up to the checkpoint, its optimizer state). Nothing here
knows about Qt; the GUI's app.model.checkpoint_view drives it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from mlp_studio.core.best_epoch import NO_SCORE, recorded_score
from mlp_studio.core.checkpoints import DEFAULT_BUDGET_MB, Checkpoint, CheckpointStore
from mlp_studio.core.lineage import Lineage
from mlp_studio.core.optimizers import OptimizerState
from mlp_studio.core.training_events import History

# Training settings whose change a run-tree view names ("lr 0.001 → 0.01"); the others
# (device, statistics interval) change how a run is watched, not what it learns.
SHOWN_SETTINGS = ("optimizer", "lr", "momentum", "weight_decay", "l1", "schedule",
                  "step_epochs", "gamma", "batch_size", "seed", "loss", "restore_best",
                  "best_by", "epochs")


@dataclass
class Run:
    """One run of the tree. `fork` is the (epoch, batch) of the parent's checkpoint it started
    from; `base_config` the parent's settings then, `config` its own (of its latest training).
    While another run is current, `lineage` and `weights` hold where this one was left."""

    id: int
    parent: int | None = None
    fork: tuple[int, int] | None = None
    base_config: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    lineage: Lineage | None = None
    weights: dict[str, np.ndarray] | None = None

    @property
    def name(self) -> str:
        return f"Run {self.id}"

    def changes(self) -> list[str]:
        """The training settings it changed from its parent's, as 'lr 0.001 → 0.01'."""
        if self.parent is None or not self.config:
            return []
        out = []
        for key in SHOWN_SETTINGS:
            old, new = self.base_config.get(key), self.config.get(key)
            if old != new and key != "epochs":
                out.append(f"{key.replace('_', ' ')} {_short(old)} → {_short(new)}")
        return out


@dataclass
class RunTree:
    runs: dict[int, Run]
    current: int
    checkpoints: CheckpointStore

    @classmethod
    def new(cls, budget_mb: float = DEFAULT_BUDGET_MB) -> RunTree:
        return cls({1: Run(1)}, 1, CheckpointStore(budget_mb))

    def path(self, run_id: int | None = None) -> list[Checkpoint]:
        """The checkpoints that led to `run_id` (the current run by default), oldest first: its
        ancestors' up to where each branched (not the fork itself: the branch's first
        checkpoint is a copy of it), then its own."""
        run = self.runs[self.current if run_id is None else run_id]
        own = self.checkpoints.of_run(run.id)
        if run.parent is None or run.fork is None:
            return own
        before = [c for c in self.path(run.parent)
                  if c.run != run.parent or (c.epoch, c.batch) < run.fork]
        return before + own

    def children(self, run_id: int) -> list[Run]:
        return [r for r in self.runs.values() if r.parent == run_id]

    def branch(self, checkpoint: Checkpoint, config: dict) -> Run:
        """A new run starting from `checkpoint` (its first checkpoint is a copy of it); `config`:
        the settings of the run it branches from, which the new one starts with."""
        run = Run(max(self.runs) + 1, checkpoint.run, (checkpoint.epoch, checkpoint.batch),
                  dict(config), dict(config))
        self.runs[run.id] = run
        self.checkpoints.add(replace(
            checkpoint, run=run.id, kind="start",
            weights={k: v.copy() for k, v in checkpoint.weights.items()},
            optimizer=copy.deepcopy(checkpoint.optimizer)))
        return run

    def snapshot(self) -> RunTree:
        """A copy to save in the background while this one grows (checkpoints are never
        changed once made, so they are shared)."""
        store = self.checkpoints
        return RunTree({i: replace(r) for i, r in self.runs.items()}, self.current,
                       CheckpointStore(store.budget_mb, list(store.items), store.stride,
                                       dict(store.best)))


def start_from(checkpoint: Checkpoint, lineage: Lineage, kept: list[Checkpoint] | None = None,
               best_by: str = "accuracy") -> tuple[dict[str, torch.Tensor], Lineage]:
    """What a run started from `checkpoint` begins with: its weights (copies, bit for bit) and
    the lineage it continues. `lineage` is that of the run the checkpoint belongs to; it is cut
    at the checkpoint (history, batch losses) and takes the checkpoint's optimizer state (None:
    the optimizer starts afresh). The best weights are the best of the `kept` checkpoints up to
    there, by the history's records."""
    weights = {k: torch.from_numpy(v.copy()) for k, v in checkpoint.weights.items()}
    history = lineage.history
    cut = History(
        [r for r in history.epochs if r.epoch <= checkpoint.epoch],
        list(history.batch_losses[: checkpoint.step]),
        [(s, list(g)) for s, g in history.grad_norms if s <= checkpoint.step],
    )
    best, best_epoch, score = None, None, NO_SCORE
    for c in kept or []:
        if c.batch == 0 and 1 <= c.epoch <= checkpoint.epoch:
            s = recorded_score(cut, c.epoch, best_by)
            if s > score:
                best, best_epoch, score = c, c.epoch, s
    best_state = None if best is None else {k: torch.from_numpy(v.copy())
                                            for k, v in best.weights.items()}  # fmt: skip
    return weights, Lineage(cut, checkpoint.epoch, best_state, best_epoch,
                            optimizer_tensors(checkpoint.optimizer))


def optimizer_tensors(saved: OptimizerState | None) -> OptimizerState | None:
    """A checkpoint's optimizer state (arrays) as the trainer takes it (tensors, copied)."""
    if saved is None:
        return None
    state = {i: {k: torch.from_numpy(v.copy()) if isinstance(v, np.ndarray) else v
                 for k, v in values.items()}
             for i, values in saved.state_dict["state"].items()}  # fmt: skip
    return OptimizerState(saved.optimizer, {**copy.deepcopy(
        {k: v for k, v in saved.state_dict.items() if k != "state"}), "state": state})


def optimizer_arrays(saved: OptimizerState | None) -> OptimizerState | None:
    """The other way: tensors to array copies (what a checkpoint keeps)."""
    if saved is None:
        return None
    state = {i: {k: v.detach().cpu().numpy().copy() if isinstance(v, torch.Tensor) else v
                 for k, v in values.items()}
             for i, values in saved.state_dict["state"].items()}  # fmt: skip
    return OptimizerState(saved.optimizer, {**copy.deepcopy(
        {k: v for k, v in saved.state_dict.items() if k != "state"}), "state": state})


def final_metric(lineage: Lineage) -> str:
    """The run's last validation figure, for a tree view: 'val 97.3%' or 'val loss 0.081'."""
    epochs = lineage.history.epochs
    if not epochs:
        return "not trained"
    last = epochs[-1]
    if last.val_accuracy == last.val_accuracy:  # not NaN: classification
        return f"val {last.val_accuracy:.1%}"
    return f"val loss {last.val_loss:.3g}"


def _short(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
