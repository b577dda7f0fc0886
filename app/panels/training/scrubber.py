"""The checkpoint scrubber under the training plots: a slider over the current run's
checkpoints (with those of the runs it branched from), the last position being the latest
weights; "Branch from here" and "Return to latest" while the past is shown; the memory budget.

It writes to the experiment's timeline (app.model.checkpoint_view) and follows it; every view
shows the chosen checkpoint through the experiment's modelChanged.
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.core.checkpoints import Checkpoint, budget_problem
from mlp_studio.core.errors import SpecError
from mlp_studio.core.metrics import Metrics, metrics_from_confusion
from mlp_studio.core.training import evaluate_validation
from PySide6.QtCore import QSettings, QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

PAST_STYLE = ("QLabel { background: #fff3cd; color: #664d03; border: 1px solid #e0c36a;"
              " border-radius: 3px; padding: 3px 6px; }")


SCRUB_TIP = ("Drag to show the network as it was at any checkpoint: every view (diagram, "
             "weights, activations, confusion, Draw, Playground) follows. The right end is the "
             "latest weights. Works between runs and while a run is paused.")
BRANCH_TIP = ("Start a new run from the checkpoint shown (its weights and optimizer state), "
              "with the training settings as they are now; the runs form a tree (Runs tab)")
PAUSED_BRANCH_TIP = ("Stop the paused run (it stays in the Runs tab, where you can go back to "
                     "it and train on), then start a new run from the checkpoint shown, with "
                     "the training settings as they are now")


BUDGET_KEY = "checkpoints/budget_mb"


class Scrubber(QWidget):
    shown = Signal(object)  # Checkpoint | None, after the views were told (for timing)

    def __init__(self, state: Experiment, parent: QWidget | None = None,
                 settings: QSettings | None = None):
        super().__init__(parent)
        self.state = state
        self.timeline = state.timeline
        self.settings = settings if settings is not None else QSettings()
        saved_problem = self._apply_saved_budget()
        self._items: list[Checkpoint] = []
        self._target: int | None = None

        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip(SCRUB_TIP)
        self.slider.setPageStep(1)
        self.position = QLabel()
        self.position.setMinimumWidth(150)
        self.latest_button = QPushButton("Return to latest")
        self.latest_button.setToolTip("Show the latest weights again")
        self.branch_button = QPushButton("Branch from here")
        self.branch_button.setToolTip(BRANCH_TIP)
        self.past = QLabel()
        self.past.setStyleSheet(PAST_STYLE)
        self.past.setWordWrap(True)
        self.past.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.past.hide()
        self.usage = QLabel()
        self.usage.setWordWrap(True)  # a budget problem is a sentence or two
        self.usage.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.budget = QSpinBox()
        self.budget.setRange(0, 1 << 20)
        self.budget.setSuffix(" MB")
        self.budget.setKeyboardTracking(False)
        self.budget.setToolTip("Memory the checkpoints may take; when they fill it, only "
                               "every 2nd, then 4th... epoch is kept (each run's first, best "
                               "and last always)")
        self.budget.setValue(round(self.timeline.budget_mb))
        self._shown_budget = self.budget.value()

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(QLabel("Checkpoints"))
        top.addWidget(self.slider, 1)
        top.addWidget(self.position)
        top.addWidget(self.latest_button)
        top.addWidget(self.branch_button)
        bottom = QHBoxLayout()
        bottom.setContentsMargins(0, 0, 0, 0)
        bottom.addWidget(self.usage, 1)
        bottom.addWidget(QLabel("Budget"))
        bottom.addWidget(self.budget)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 4)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.past)
        layout.addLayout(bottom)

        # Dragging shows the newest position asked for once the views have drawn the last
        # one: positions never queue up behind a slow view.
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._show_target)
        self.slider.valueChanged.connect(self._on_slider)
        self.latest_button.clicked.connect(self.timeline.return_to_latest)
        self.branch_button.clicked.connect(self._branch)
        self.budget.valueChanged.connect(self._on_budget)
        # While a run trains, its checkpoints (hundreds a second on the Playground) update the
        # slider a few times a second at most.
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(250)
        self._refresh_timer.timeout.connect(self.refresh)
        self.timeline.checkpointsChanged.connect(self._on_checkpoints)
        self.timeline.viewChanged.connect(self._on_view)
        state.trainingChanged.connect(lambda _active: self.refresh())
        state.runStateChanged.connect(lambda _run_state: self.refresh())
        self.refresh()
        if saved_problem:
            self._say_budget_problem(saved_problem)

    # ---- following the timeline ----

    def refresh(self) -> None:
        self._items = self.timeline.checkpoints()
        slider = self.slider
        slider.blockSignals(True)
        slider.setRange(0, len(self._items))  # the last position: the latest weights
        viewed = self.timeline.viewed
        index = next((i for i, c in enumerate(self._items) if viewed is not None
                      and c.key == viewed.key), len(self._items))  # fmt: skip
        slider.setValue(index)
        slider.blockSignals(False)
        can = self.timeline.can_show and not self.timeline.branch_pending
        slider.setEnabled(can and bool(self._items))
        if self.state.run_owns_model:
            slider.setToolTip("The run is training: its checkpoints are kept as it goes. "
                              "Pause it (or wait until it ends) to scrub back through them.")
        elif self.state.training:
            slider.setToolTip("The run is paused: drag to show any of its checkpoints (or "
                              "earlier runs') in every view. Resume returns every view to the "
                              "live run.")
        else:
            slider.setToolTip(SCRUB_TIP)
        self._update_labels()

    def _on_checkpoints(self) -> None:
        if not self.state.run_owns_model:
            self.refresh()
        elif not self._refresh_timer.isActive():
            self._refresh_timer.start()

    def _on_view(self, _checkpoint) -> None:
        self.refresh()

    def _update_labels(self) -> None:
        viewed = self.timeline.viewed
        many = len(self.timeline.tree.runs) > 1
        if viewed is None:
            done = self.state.epochs_done
            paused = ", paused" if self.state.training else ""
            self.position.setText(f"latest ({done} epoch{'s' if done != 1 else ''}{paused})")
        else:
            run = self.timeline.tree.runs[viewed.run].name
            self.position.setText(f"<b>{viewed.label()}</b>" + (f" · {run}" if many else ""))
        past = viewed is not None
        paused = self.state.training
        pending = self.timeline.branch_pending
        self.latest_button.setEnabled(past and not pending)
        self.branch_button.setEnabled(past and self.timeline.can_show and not pending)
        self.branch_button.setToolTip(PAUSED_BRANCH_TIP if paused else BRANCH_TIP)
        self.past.setVisible(past or pending)
        if pending:
            self.past.setText("Stopping the paused run, then branching from the checkpoint "
                              "chosen…")
        elif past and paused:
            self.past.setText(
                f"Showing the past: {viewed.label()} of "
                f"{self.timeline.tree.runs[viewed.run].name}, in every view, while the run is "
                "paused. Resume (or Step) returns every view to the live run; Branch from "
                "here stops the paused run (kept in the Runs tab) and starts a new one here.")
        elif past:
            self.past.setText(
                f"Showing the past: {viewed.label()} of "
                f"{self.timeline.tree.runs[viewed.run].name}, in every view. Train offers to "
                "branch a new run from here or to return to the latest weights.")
        store = self.timeline.tree.checkpoints
        self.usage.setText(store.describe())
        self.usage.setStyleSheet("")
        if round(store.budget_mb) != self._shown_budget:  # an opened session's own budget
            self._shown_budget = round(store.budget_mb)
            with QSignalBlocker(self.budget):
                self.budget.setValue(self._shown_budget)

    # ---- the user's input ----

    def _on_slider(self, value: int) -> None:
        self._target = value
        if not self._timer.isActive():
            self._timer.start(0)

    def _branch(self) -> None:
        if self.state.training:
            self.timeline.branch_after_stop()  # the paused run stops first, then it branches
            self.refresh()
        else:
            self.timeline.branch()

    def _show_target(self) -> None:
        value, self._target = self._target, None
        if value is None:
            return
        checkpoint = self._items[value] if value < len(self._items) else None
        self.timeline.show(checkpoint)
        self.shown.emit(checkpoint)

    def _on_budget(self, value: int) -> None:
        problem = budget_problem(value)
        if problem is None:
            try:
                self._shown_budget = value
                self.timeline.set_budget(value)
                self.settings.setValue(BUDGET_KEY, value)  # kept across restarts
                return
            except SpecError as err:
                problem = str(err)
        self._say_budget_problem(problem + f" The budget stays {self.timeline.budget_mb:g} MB.")

    def _say_budget_problem(self, problem: str) -> None:
        self.usage.setText(problem)
        self.usage.setStyleSheet("color: #b02a37;")

    def _apply_saved_budget(self) -> str | None:
        """The budget the user set last time (QSettings), or what is wrong with the saved
        value (then the default stays)."""
        saved = self.settings.value(BUDGET_KEY)
        if saved is None:
            return None
        try:
            megabytes = float(saved)
        except (TypeError, ValueError):
            megabytes = saved
        problem = budget_problem(megabytes)
        if problem is None:
            self.timeline.set_budget(megabytes)
            return None
        return (f"Saved setting ignored: {problem[0].lower()}{problem[1:]} The budget stays "
                f"{self.timeline.budget_mb:g} MB until you set another.")


class CheckpointMetrics:
    """The validation figures of a checkpoint: its epoch's record when it has one (the weights
    were validated then), else measured on the model, which holds its weights, once: that is
    a pass over the validation set (~60 ms for 784-256-128-10 on MNIST), kept until the data,
    the settings (the loss) or the tree change."""

    def __init__(self, state: Experiment) -> None:
        self.state = state
        self._measured: dict[tuple[int, int, int], Metrics | None] = {}
        state.dataChanged.connect(self.clear)
        state.trainConfigChanged.connect(self.clear)
        state.timeline.treeChanged.connect(self.clear)

    def clear(self, *_args) -> None:
        self._measured.clear()

    def of(self, checkpoint: Checkpoint) -> Metrics | None:
        state = self.state
        if checkpoint.kind == "epoch" and checkpoint.batch == 0:
            for record in state.history.epochs:
                if record.epoch == checkpoint.epoch:
                    scores = [math.nan if v is None else v
                              for v in (record.val_rmse, record.val_mae, record.val_r2)]
                    return metrics_from_confusion(record.val_confusion, record.val_loss,
                                                  *scores)  # fmt: skip
        if checkpoint.key not in self._measured:
            data, model = state.data, state.model
            fits = (data is not None and model is not None
                    and model.spec.input_size == data.x_val.shape[1])  # fmt: skip
            self._measured[checkpoint.key] = (evaluate_validation(
                model, data, state.train_config.loss) if fits else None)
        return self._measured[checkpoint.key]


class CheckpointMarker:
    """A vertical line on the loss and accuracy plots where the checkpoint shown was taken."""

    def __init__(self, plots: list) -> None:
        self._plots = plots
        self._lines = []
        for plot in plots:
            line = pg.InfiniteLine(0, angle=90, pen=pg.mkPen("#d08000", width=2))
            line.setZValue(50)
            line.hide()
            plot.addItem(line, ignoreBounds=True)  # moving it must not re-range the plot
            self._lines.append(line)

    def show(self, checkpoint: Checkpoint | None, batches_per_epoch: int | None) -> None:
        for line in self._lines:
            line.setVisible(checkpoint is not None)
            if checkpoint is not None:
                share = checkpoint.batch / batches_per_epoch if batches_per_epoch else 0.0
                line.setValue(checkpoint.epoch + share)
