"""Find learning rate…: the range test (core.lr_finder) on a copy of the current weights, in the
background, its smoothed loss plotted against the rate (log axis) with the suggestion marked.
"Use this rate" writes it into the training settings as one undoable edit, with the cosine
schedule when the settings hold the rate constant (the box under the plot; core.lr_finder says
why).

The test runs on a copy, so the views never see the weights while they wander; the engine puts
even the copy back as it was.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pyqtgraph as pg
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.app.widgets.background import Background, Task, error_message
from mlp_studio.core.lr_finder import (
    DECAY_SCHEDULE,
    RULE,
    RULE_NAME,
    LrFinding,
    RangeTest,
    find_lr,
)
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

SUGGESTION_COLOR = "#d9453a"


def unavailable_reason(state: Experiment) -> str | None:
    """Why the test cannot run now (the button's tooltip), or None."""
    if state.training:
        return "A run is training: find a rate when it has stopped."
    if state.data is None:
        return "Load data first: the test trains on it for up to 100 batches."
    return None


class LrFinderDialog(QDialog):
    def __init__(self, state: Experiment, parent: QWidget | None = None,
                 test: RangeTest | None = None):
        super().__init__(parent)
        self.setWindowTitle("Find learning rate")
        self.state = state
        self.test = test or RangeTest()
        self.finding: LrFinding | None = None
        self._background = Background(self)
        self._task: Task | None = None
        self.running = False

        config = state.train_config
        self.intro = QLabel(
            f"Trains the current weights for up to {self.test.steps} batches of "
            f"{config.batch_size} with {config.optimizer}, the learning rate growing from "
            f"{self.test.start_lr:g} to {self.test.end_lr:g}, and records the loss: it falls "
            "once the rate is large enough to learn and blows up once it is too large. The "
            f"suggestion is the {RULE}: a rate to start from and decay. The weights are put "
            "back afterwards.")
        self.intro.setWordWrap(True)
        self.plot = pg.PlotWidget()
        self.plot.setLogMode(x=True, y=False)
        self.plot.setLabel("bottom", "learning rate")
        self.plot.setLabel("left", "loss")
        for axis in ("left", "bottom"):  # "loss (x0.001)" misleads, and so did a rate axis
            self.plot.getAxis(axis).enableAutoSIPrefix(False)  # whose "1" meant 0.001
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.addLegend(offset=(10, -10))  # bottom left: the curve starts high
        self.plot.setMinimumSize(360, 220)
        self.raw_curve = self.plot.plot([], [], pen=pg.mkPen((150, 150, 150, 110), width=1),
                                        name="each batch")
        self.curve = self.plot.plot([], [], pen=pg.mkPen("#2f7ed8", width=2), name="smoothed")
        self.marker = pg.InfiniteLine(angle=90, movable=False,
                                      pen=pg.mkPen(SUGGESTION_COLOR, width=2,
                                                   style=Qt.PenStyle.DashLine))
        self.marker_label = pg.TextItem("", color=SUGGESTION_COLOR, anchor=(0, 0))
        self.point = pg.PlotDataItem([], [], pen=None, symbol="o", symbolSize=9,
                                      symbolPen=None, symbolBrush=SUGGESTION_COLOR)
        for item in (self.marker, self.marker_label, self.point):
            item.setVisible(False)
            self.plot.addItem(item)
        self.progress = QProgressBar()
        self.progress.setRange(0, self.test.steps)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(10)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.decay = QCheckBox(f"Decay from it over the run ({DECAY_SCHEDULE} schedule)")
        self.decay.setToolTip(
            "Held constant, the suggested rate's steps stay as large in the last epoch as in "
            "the first; decaying it settles the weights (MNIST, Adam, 3 epochs: 97.4-97.8% "
            "instead of 96.7-97.4%). A run still far from settled, such as 3 epochs of plain "
            "SGD, does better without.")
        self.decay.setChecked(True)
        self.buttons = QDialogButtonBox()
        self.run_button = self.buttons.addButton("Run again",
                                                 QDialogButtonBox.ButtonRole.ActionRole)
        self.use_button = self.buttons.addButton("Use this rate",
                                                 QDialogButtonBox.ButtonRole.AcceptRole)
        self.close_button: QPushButton = self.buttons.addButton(
            QDialogButtonBox.StandardButton.Close)
        self.run_button.clicked.connect(self.start)
        self.use_button.clicked.connect(self.use_rate)
        self.close_button.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.decay)
        layout.addWidget(self.buttons)
        state.trainingChanged.connect(self._update_buttons)
        self.resize(720, 520)
        self.start()

    # ---- running ----

    def start(self) -> None:
        reason = unavailable_reason(self.state)
        self.finding = None
        self.curve.setData([], [])
        self.raw_curve.setData([], [])
        for item in (self.marker, self.marker_label, self.point):
            item.setVisible(False)
        self.decay.setVisible(self.state.train_config.schedule == "constant")  # else kept
        self.plot.enableAutoRange(axis="y")
        if reason:
            self.status.setText(reason)
            self._update_buttons()
            return
        model = copy.deepcopy(self.state.ensure_model())
        data, config = self.state.data, self.state.train_config
        saved = self.state.lineage.optimizer_state
        test = self.test
        lrs: list[float] = []
        losses: list[float] = []

        def work(task: Task) -> LrFinding:
            def step(i: int, lr: float, loss: float) -> None:
                lrs.append(lr)
                losses.append(loss)
                task.progress(i + 1, list(lrs), list(losses))

            return find_lr(model, data, config, test, optimizer_state=saved, on_step=step,
                           should_stop=lambda: task.cancelled)

        self.status.setText("Trying rates…")
        self.progress.setValue(0)
        self.running = True
        self._task = self._background.run(work, on_done=self._done, on_error=self._failed,
                                          on_progress=self._progressed, lane="find",
                                          latest=True)
        self._update_buttons()

    def _progressed(self, done: int, lrs: list[float], losses: list[float]) -> None:
        self.progress.setValue(done)
        self.curve.setData(lrs, losses)

    def _done(self, finding: LrFinding) -> None:
        self.running = False
        self.finding = finding
        self.progress.setValue(self.progress.maximum())
        self.curve.setData(finding.lrs, finding.losses)
        self.raw_curve.setData(finding.lrs, finding.raw_losses)
        self._show_suggestion(finding)
        note = finding.note
        if finding.suggested_lr is None and self.state.epochs_done:
            # "Try a lower start rate" does not help there: trained weights leave the loss
            # nothing to fall from.
            note += (f" These weights are trained already ({self.state.epochs_done} epoch"
                     f"{'s' if self.state.epochs_done != 1 else ''}): the test is meant for "
                     "the weights a run starts from, so press Reset weights first.")
        self.status.setText(note)
        self._update_buttons()

    def _show_suggestion(self, finding: LrFinding) -> None:
        rate, pick, low = finding.suggested_lr, finding.suggested_index, finding.lowest_index
        if rate is None or pick is None or low is None:
            return
        # The blow-up at the end would squash the curve: show from below the lowest loss up to
        # a little above where it started.
        losses = np.asarray(finding.losses)
        bottom = float(min(losses.min(), min(finding.raw_losses[:low + 1])))
        top = float(losses[:low + 1].max())
        margin = 0.15 * (top - bottom) or 0.1
        self.plot.setYRange(bottom - margin, top + 3 * margin, padding=0)
        x = math.log10(rate)  # the plot's x is log10 in log mode
        self.marker.setPos(x)
        self.marker_label.setText(f" suggested {rate:.3g} \n ({RULE_NAME}) ")
        self.marker_label.setPos(x, top + 3 * margin)
        # Right of the line, or left of it near the right edge, so that it is not cut off.
        span = math.log10(finding.lrs[-1] / finding.lrs[0]) or 1.0
        right_half = (x - math.log10(finding.lrs[0])) / span > 0.6
        self.marker_label.setAnchor((1, 0) if right_half else (0, 0))
        self.point.setData([rate], [float(losses[pick])])
        for item in (self.marker, self.marker_label, self.point):
            item.setVisible(True)

    def _failed(self, err: BaseException) -> None:
        self.running = False
        self.status.setText(error_message(err))
        self._update_buttons()

    def _update_buttons(self, *_args) -> None:
        busy = self.running
        self.run_button.setEnabled(not busy and unavailable_reason(self.state) is None)
        usable = (self.finding is not None and self.finding.suggested_lr is not None
                  and not self.state.training)
        self.use_button.setEnabled(usable and not busy)

    # ---- results ----

    def use_rate(self) -> None:
        if self.finding is None or self.finding.suggested_lr is None:
            return
        config = self.state.train_config
        config.lr = float(f"{self.finding.suggested_lr:.3g}")  # as shown: 0.00486
        what = f"Learning rate {config.lr:g}"
        if config.schedule == "constant" and self.decay.isChecked():
            config.schedule = DECAY_SCHEDULE
            what += f" with {DECAY_SCHEDULE} decay"
        self.state.edit_train_config(config, f"{what} (found)")
        self.accept()

    def done(self, result: int) -> None:  # every way of closing: stop the test first
        if self._task is not None:
            self._task.cancel()
        self._background.shutdown(timeout=5)
        super().done(result)
