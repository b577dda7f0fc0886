"""Time travel in the experiment: the run tree of the current weights (core.run_tree), the
checkpoint the views show, "branch from here" and going to another run.

Showing a checkpoint loads its weights into the experiment's model and emits modelChanged, so
every view that follows the model (diagram, weights, activations, Draw, Playground) shows it
without knowing about checkpoints; the latest weights wait aside and come back with
`return_to_latest()`, before any run starts (`before_run`) and in saved sessions
(`latest_weights`). Only while no run trains: a run owns the model's weights.
"""

from __future__ import annotations

import weakref
from dataclasses import replace

import torch
from mlp_studio.core.checkpoints import Checkpoint, weights_of
from mlp_studio.core.errors import SpecError
from mlp_studio.core.run_tree import RunTree, optimizer_arrays, start_from
from mlp_studio.core.train_config import TrainConfig
from PySide6.QtCore import QObject, Signal


class Timeline(QObject):
    viewChanged = Signal(object)  # Checkpoint | None: the checkpoint shown (None: the latest)
    checkpointsChanged = Signal()  # checkpoints added or thinned, or the budget changed
    treeChanged = Signal()  # runs added, trained or gone to

    def __init__(self, state) -> None:  # state: app.model.experiment.Experiment
        super().__init__(state)
        self.state = state
        self.tree = RunTree.new()
        self._viewed: Checkpoint | None = None
        self._latest: dict[str, torch.Tensor] | None = None  # the weights while one is shown
        self._model: weakref.ref | None = None  # the model the tree is of
        self._own_change = False
        # Showing a checkpoint (or the latest again) changes what the views show, not the
        # experiment: a session is no more modified by it (see FileActions).
        self.switching = False
        self._step_offset = 0  # batches the lineage had trained when the run started
        self._replaced = False  # other weights' history came: the model follows
        state.historyReplaced.connect(self._on_history_replaced)
        state.modelChanged.connect(self._on_model_changed)
        state.trainingChanged.connect(self._on_training)

    # ---- what is shown ----

    @property
    def viewed(self) -> Checkpoint | None:
        """The checkpoint the views show, None for the latest weights."""
        return self._viewed

    def checkpoints(self) -> list[Checkpoint]:
        """The current run's checkpoints with those of the runs it branched from, oldest first."""
        return self.tree.path()

    def show(self, checkpoint: Checkpoint | None) -> bool:
        """Show `checkpoint` in every view (None: the latest weights); False while training."""
        state, model = self.state, self.state.model
        if state.training or model is None:
            return False
        if checkpoint is None:
            return self.return_to_latest()
        if self._latest is None:
            self._latest = {k: v.detach().clone() for k, v in model.state_dict().items()}
        with torch.no_grad():
            model.load_state_dict({k: torch.from_numpy(v) for k, v in
                                   checkpoint.weights.items()})  # fmt: skip
        self._viewed = checkpoint
        self._tell_views()
        self.viewChanged.emit(checkpoint)
        return True

    def return_to_latest(self) -> bool:
        model = self.state.model
        if self._latest is None or model is None:
            return False
        latest, self._latest, self._viewed = self._latest, None, None
        with torch.no_grad():
            model.load_state_dict(latest)
        self._tell_views()
        self.viewChanged.emit(None)
        return True

    def _tell_views(self) -> None:
        self.switching = True
        try:
            self.state.set_model(self.state.model)  # the same model: views re-read it
        finally:
            self.switching = False

    def latest_weights(self) -> dict[str, torch.Tensor] | None:
        """The current weights while a checkpoint is shown (what a session saves), else None."""
        return None if self._latest is None else {k: v.clone() for k, v in self._latest.items()}

    # ---- budget ----

    @property
    def budget_mb(self) -> float:
        return self.tree.checkpoints.budget_mb

    def set_budget(self, megabytes: float) -> None:
        """SpecError (with what to give) for a budget that keeps nothing."""
        self.tree.checkpoints.set_budget(megabytes)
        self.checkpointsChanged.emit()

    # ---- runs ----

    def before_run(self) -> None:
        """A run is about to start from the model's weights (the controller calls this): the
        latest weights come back, and a run's first training records where it started."""
        self.return_to_latest()
        state = self.state
        model = state.model
        if model is None:
            return
        self._adopt(model)
        run = self.tree.runs[self.tree.current]
        lineage = state.lineage
        if not self.tree.checkpoints.of_run(run.id):
            self.tree.checkpoints.add(Checkpoint(
                run.id, lineage.epochs_done, weights_of(model.state_dict()),
                optimizer_arrays(lineage.optimizer_state), kind="start",
                step=len(lineage.history.batch_losses)))
        run.config = state.train_config.to_dict()
        self._step_offset = len(lineage.history.batch_losses)
        self.checkpointsChanged.emit()

    def record(self, checkpoint: Checkpoint, best: bool) -> None:
        """A checkpoint from the training process (core.training_process.on_checkpoint)."""
        self.tree.checkpoints.add(replace(checkpoint, run=self.tree.current,
                                          step=checkpoint.step + self._step_offset), best)
        self.checkpointsChanged.emit()

    def branch(self, checkpoint: Checkpoint | None = None) -> bool:
        """A new run from `checkpoint` (the one shown by default) with the settings as they are
        now: its weights and optimizer state (a fresh optimizer if that was not kept, said in a
        notice), the history up to there. False while training or with nothing to branch from."""
        checkpoint = checkpoint or self._viewed
        state, model = self.state, self.state.model
        if checkpoint is None or model is None or state.training:
            return False
        tree = self.tree
        source = tree.runs[checkpoint.run]
        lineage = state.lineage if source.id == tree.current else source.lineage
        if lineage is None:
            return False
        by = "loss" if state.data is not None and state.data.task == "regression" else (
            state.train_config.best_by)
        weights, branched = start_from(checkpoint, lineage, tree.path(source.id), by)
        self._leave()
        run = tree.branch(checkpoint, source.config or state.train_config.to_dict())
        tree.current = run.id
        self._enter(weights, branched)
        if checkpoint.optimizer is None:
            state.notice.emit(
                f"{run.name} starts from {checkpoint.label()} of {source.name}, whose optimizer "
                "state was not kept: its optimizer starts afresh.")
        self.treeChanged.emit()
        return True

    def go_to(self, run_id: int) -> bool:
        """Make another run of the tree the current one: its latest weights, lineage and
        training settings. False while training or for an unknown run."""
        tree, state = self.tree, self.state
        if state.training or run_id not in tree.runs or state.model is None:
            return False
        if run_id == tree.current:
            self.return_to_latest()
            return True
        target = tree.runs[run_id]
        if target.lineage is None or target.weights is None:
            return False
        self._leave()
        tree.current = run_id
        weights = {k: torch.from_numpy(v.copy()) for k, v in target.weights.items()}
        lineage, target.lineage, target.weights = target.lineage, None, None
        self._enter(weights, lineage)
        if target.config:
            try:
                state.set_train_config(TrainConfig.from_dict(target.config))
            except SpecError:
                pass  # settings of another version: the current ones stay
        self.treeChanged.emit()
        return True

    def run_lineage(self, run_id: int):
        """The lineage of a run of the tree (the experiment's for the current one)."""
        if run_id == self.tree.current:
            return self.state.lineage
        return self.tree.runs[run_id].lineage

    def _leave(self) -> None:
        """Keep where the current run is (its latest weights, lineage) before another's."""
        self.return_to_latest()
        run = self.tree.runs[self.tree.current]
        run.lineage = self.state.lineage
        run.weights = weights_of(self.state.model.state_dict())
        run.config = run.config or self.state.train_config.to_dict()

    def _enter(self, weights: dict[str, torch.Tensor], lineage) -> None:
        state, model = self.state, self.state.model
        with torch.no_grad():
            model.load_state_dict(weights)
        self._viewed, self._latest = None, None
        self._own_change = True
        try:
            state.set_model(model, state.model_normalization, lineage,
                            state.class_names(model.spec.output_size))
        finally:
            self._own_change = False
        self.viewChanged.emit(None)
        self.checkpointsChanged.emit()

    # ---- sessions ----

    def saved_tree(self) -> RunTree:
        """A copy of the tree to save (the current run's own weights and lineage are the
        session's; checkpoints are shared, never changed)."""
        return self.tree.snapshot()

    def restore(self, tree: RunTree | None) -> None:
        """An opened session's tree (None: a session without one keeps the fresh tree)."""
        if tree is None:
            return
        self._viewed, self._latest = None, None
        self.tree = tree
        self._model = None if self.state.model is None else weakref.ref(self.state.model)
        self.treeChanged.emit()
        self.checkpointsChanged.emit()
        self.viewChanged.emit(None)

    # ---- following the experiment ----

    def _adopt(self, model) -> None:
        if self._model is None or self._model() is not model:
            self._model = weakref.ref(model)

    def _on_history_replaced(self, _history) -> None:
        # The experiment replaces the lineage before it takes the model: wait for that.
        self._replaced = not self._own_change

    def _on_model_changed(self, model) -> None:
        """Other weights (new, opened, imported): a new tree starting from them. The same
        model going back to earlier weights keeps its tree."""
        if not self._replaced:
            return
        self._replaced = False
        same = model is not None and self._model is not None and self._model() is model
        self._viewed, self._latest = None, None
        if not same:
            self.tree = RunTree.new(self.tree.checkpoints.budget_mb)
            self._model = None if model is None else weakref.ref(model)
            if model is not None:
                lineage = self.state.lineage
                self.tree.checkpoints.add(Checkpoint(
                    1, lineage.epochs_done, weights_of(model.state_dict()),
                    optimizer_arrays(lineage.optimizer_state), kind="start",
                    step=len(lineage.history.batch_losses)))
            self.treeChanged.emit()
        self.checkpointsChanged.emit()
        self.viewChanged.emit(None)

    def _on_training(self, active: bool) -> None:
        if not active:
            self.tree.checkpoints.mark_best(self.tree.current, self.state.lineage.best_epoch)
            self.treeChanged.emit()
            self.checkpointsChanged.emit()
