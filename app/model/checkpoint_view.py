"""Time travel in the experiment: the run tree of the current weights (core.run_tree), the
checkpoint the views show, "branch from here" and going to another run.

Showing a checkpoint loads its weights into the experiment's model and emits modelChanged, so
every view that follows the model (diagram, weights, activations, Draw, Playground) shows it
without knowing about checkpoints; the latest weights wait aside and come back with
`return_to_latest()`, before any run starts (`before_run`) and in saved sessions
(`latest_weights`). Between runs, or while a run is paused: a running run owns the model's
weights, so Resume, Step and Stop return to the latest first (the controller calls
`leave_the_past`). Branching while paused stops the paused run first (`branch_after_stop`):
it stays in the tree, where the user can go back to it and train on.
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
    stopRequested = Signal()  # branching while paused: the controller stops the run

    def __init__(self, state) -> None:  # state: app.model.experiment.Experiment
        super().__init__(state)
        self.state = state
        self.tree = RunTree.new()
        self._budget_mb = self.tree.checkpoints.budget_mb  # the user's, for new trees
        self._viewed: Checkpoint | None = None
        self._latest: dict[str, torch.Tensor] | None = None  # the weights while one is shown
        self._model: weakref.ref | None = None  # the model the tree is of
        self._own_change = False
        # Showing a checkpoint (or the latest again) changes what the views show, not the
        # experiment: a session is no more modified by it (see FileActions).
        self.switching = False
        self._step_offset = 0  # batches the lineage had trained when the run started
        self._replaced = False  # other weights' history came: the model follows
        self._branch_after: Checkpoint | None = None  # branch once the paused run has stopped
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

    @property
    def can_show(self) -> bool:
        """Checkpoints can be shown: between runs, or while a run is paused."""
        state = self.state
        return state.model is not None and not state.run_owns_model and (
            state.run_state != "stopping")

    def show(self, checkpoint: Checkpoint | None) -> bool:
        """Show `checkpoint` in every view (None: the latest weights); False while a run
        trains (see can_show)."""
        model = self.state.model
        if not self.can_show:
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
        """The latest weights in every view again; False if they were shown already."""
        model = self.state.model
        if self._latest is None or model is None:
            return False
        latest, self._latest, self._viewed = self._latest, None, None
        with torch.no_grad():
            model.load_state_dict(latest)
        self._tell_views()
        self.viewChanged.emit(None)
        return True

    def leave_the_past(self, why: str) -> None:
        """Resume, Step or Stop of a paused run (`why`: what the user did): the views follow
        the live run again, and the user is told so when they showed a checkpoint."""
        viewed = self._viewed
        if viewed is None or not self.return_to_latest():
            return
        run = self.tree.runs[self.tree.current].name
        self.state.notice.emit(f"{why}: every view follows {run} live again (it showed "
                               f"{viewed.label()}).")

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
        """SpecError (with what to give) for a budget that keeps nothing. New trees (other
        weights) get it too; an opened session's tree keeps its own until this is called."""
        self.tree.checkpoints.set_budget(megabytes)
        self._budget_mb = self.tree.checkpoints.budget_mb
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
        notice), the history up to there. False while training or with nothing to branch from
        (a paused run: branch_after_stop)."""
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

    def branch_after_stop(self, checkpoint: Checkpoint | None = None) -> bool:
        """Branch from `checkpoint` (the one shown by default) while the run is paused: the
        paused run is stopped first (stopRequested; it lands in the tree as any stopped run,
        and the user can go back to it), then `after_run` branches. False if not paused."""
        checkpoint = checkpoint or self._viewed
        if checkpoint is None or self.state.run_state != "paused":
            return False
        self._branch_after = checkpoint
        self.stopRequested.emit()
        return True

    @property
    def branch_pending(self) -> bool:
        return self._branch_after is not None

    def after_run(self, stopped: bool) -> None:
        """A run has ended and the views have its end (the controller calls this last); a
        branch asked for while it was paused starts now (`stopped`: the run landed in the
        tree; else it could not be kept, and neither can the branch)."""
        checkpoint, self._branch_after = self._branch_after, None
        if checkpoint is None:
            return
        stopped_run = self.tree.runs[self.tree.current]
        if not stopped:
            self.state.notice.emit(f"{stopped_run.name} did not stop cleanly, so no branch "
                                   f"was made from {checkpoint.label()}.")
            self.checkpointsChanged.emit()  # the scrubber no longer waits for it
            return
        own = self.tree.checkpoints.of_run(stopped_run.id)
        where = f" at {own[-1].label()}" if own else ""
        if self.branch(checkpoint):
            run = self.tree.runs[self.tree.current].name
            self.state.notice.emit(
                f"{stopped_run.name} was stopped{where} and is kept in the Runs tab (go to it "
                f"there to train on); {run} starts from {checkpoint.label()} of "
                f"{self.tree.runs[checkpoint.run].name}: press Train.")

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
            self.tree = RunTree.new(self._budget_mb)
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
