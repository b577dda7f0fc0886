"""The Compare dock: paired runs ("Duplicate with one change…") and what they show.

Both runs' curves overlaid, final metrics side by side, per-class F1 differences, each layer's
gradient norm for both, the matching hashes of their initial weights and batch order, the
seeds table with its verdict, and for the Playground both decision boundaries side by side.
The runs train in the background (app.model.paired_runs); the window stays usable.
"""

from __future__ import annotations

import html

from mlp_studio.app.model.experiment import Experiment
from mlp_studio.app.model.paired_runs import BUSY, MAX_SEEDS, PairedRuns
from mlp_studio.app.panels.compare.pair_boundaries import BoundaryPair
from mlp_studio.app.panels.compare.pair_dialog import PairDialog
from mlp_studio.app.panels.compare.pair_plots import (
    A_COLOR,
    B_COLOR,
    CurvesView,
    F1DifferenceView,
    GradientView,
)
from mlp_studio.app.panels.compare.pair_tables import MetricsTable, SeedsTable
from mlp_studio.core.paired import PairPlan, PairResult
from mlp_studio.core.run_settings import RunSettings
from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

REPEAT_TIP = ("Train the same pair with further seeds (each one higher) to see whether the "
              "difference is larger than seed noise")
EMPTY = ("No comparison yet. <b>Duplicate with one change…</b> trains the current network and "
         "settings twice, once with one setting changed (activation, optimizer, learning rate, "
         "depth, batch norm, dropout, …), from the same seed, initial weights and batch order, "
         "and shows both runs here side by side.")


class ComparePanel(QWidget):
    def __init__(self, state: Experiment, parent=None):
        super().__init__(parent)
        self.state = state
        self.runs: PairedRuns = state.paired  # the experiment's: sessions keep its pairs
        self._dialog: PairDialog | None = None

        self.duplicate_button = QPushButton("Duplicate with one change…")
        self.duplicate_button.clicked.connect(self.duplicate_with_one_change)
        self.seeds_box = QSpinBox()
        self.seeds_box.setRange(2, MAX_SEEDS)
        self.seeds_box.setValue(3)
        self.seeds_box.setSuffix(" seeds")
        self.repeat_button = QPushButton("Repeat over")
        self.repeat_button.clicked.connect(self.repeat)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.runs.stop)
        self.shown_box = QComboBox()  # which seed's pair the views show
        self.shown_box.setToolTip("The seed whose pair of runs the curves, tables, bars and "
                                  "boundaries show (the seeds table lists them all)")
        self.shown_box.currentIndexChanged.connect(self._on_shown)
        buttons = QHBoxLayout()
        for widget in (self.duplicate_button, self.repeat_button, self.seeds_box,
                       self.stop_button):
            buttons.addWidget(widget)
        buttons.addStretch(1)
        self.shown_label = QLabel("Show")
        buttons.addWidget(self.shown_label)
        buttons.addWidget(self.shown_box)
        self._update_shown_box()

        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.RichText)  # labels are the user's values: escaped
        self.title.setStyleSheet("font-weight: bold;")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.hashes = QLabel()
        self.hashes.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.hashes.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.hashes.setToolTip("Short SHA-256 of each run's initial weights and of its first "
                               "epoch's batch order: equal hashes, equal bytes")
        self.notes = QLabel()
        self.notes.setWordWrap(True)
        self.empty = QLabel(EMPTY)
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignTop)

        self.curves = CurvesView()
        self.metrics = MetricsTable()
        self.f1 = F1DifferenceView()
        self.gradients = GradientView()
        self.seeds = SeedsTable()
        self.boundaries = BoundaryPair()
        self.body = QWidget()
        grid = QGridLayout(self.body)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.curves, 0, 0, 1, 2)
        grid.addWidget(self.metrics, 1, 0)
        grid.addWidget(self.f1, 1, 1)
        grid.addWidget(self.gradients, 2, 0)
        grid.addWidget(self.seeds, 2, 1)
        grid.addWidget(self.boundaries, 3, 0, 1, 2)
        for row, stretch in enumerate((4, 3, 3, 4)):
            grid.setRowStretch(row, stretch)

        heading = QHBoxLayout()
        heading.addWidget(self.title)
        heading.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.setSpacing(4)
        layout.addLayout(buttons)
        layout.addLayout(heading)
        for widget in (self.hashes, self.notes, self.empty, self.body):
            layout.addWidget(widget)
        layout.addStretch(0)

        self.runs.planChanged.connect(self._on_plan)
        self.runs.runStarted.connect(lambda _side: self._show_live())
        self.runs.epochEnded.connect(lambda _side, _record: self._show_live())
        self.runs.progress.connect(self.status.setText)
        self.runs.pairFinished.connect(self._on_pair)
        self.runs.stateChanged.connect(self._update_buttons)
        self.runs.failed.connect(self._on_failed)
        state.trainingChanged.connect(self._on_training)
        self._on_plan(None)
        self._update_buttons()

    # ---- actions

    def base_settings(self) -> RunSettings:
        """Run A: the experiment's network and training settings as they are now."""
        return RunSettings(self.state.spec, self.state.train_config)

    @Slot()
    def duplicate_with_one_change(self) -> None:
        """Ask for the one change, then train both runs."""
        if self.runs.running:
            return
        if self.state.training:
            self._on_failed(BUSY)
            return
        if self.state.data is None:
            self._on_failed("Load data first (the Data panel, or Playground points): a pair "
                            "trains on the loaded data.")
            return
        self._dialog = PairDialog(self.base_settings(), 1, self)
        self._dialog.accepted.connect(self._on_dialog_accepted)
        self._dialog.open()

    def _on_dialog_accepted(self) -> None:
        dialog, self._dialog = self._dialog, None
        if dialog is not None and dialog.plan() is not None:
            self.start_pair(dialog.plan(), dialog.seeds())

    def start_pair(self, plan: PairPlan, seeds: int = 1) -> bool:
        """Train `plan` (core.paired.plan_pair of base_settings()) over `seeds` seeds."""
        if self.state.data is None:
            self._on_failed("Load data first: a pair trains on the loaded data.")
            return False
        return self.runs.start(plan, self.state.data, seeds)

    @Slot()
    def repeat(self) -> None:
        self.runs.repeat(self.seeds_box.value(), self.state.data)

    def shutdown(self) -> None:
        self.runs.shutdown()

    # ---- showing

    @Slot(bool)
    def _on_training(self, _active: bool) -> None:
        self._update_buttons()

    def _update_buttons(self, run_state: str | None = None) -> None:
        run_state = run_state or self.runs.state
        # The studio's own run and a pair never train at once (app.model.paired_runs).
        free = not self.state.training
        idle = run_state == "idle" and free
        self.duplicate_button.setEnabled(idle)
        self.repeat_button.setEnabled(idle and self.runs.plan is not None)
        self.seeds_box.setEnabled(idle and self.runs.plan is not None)
        self.stop_button.setEnabled(run_state == "running")
        self.duplicate_button.setToolTip("" if free else BUSY)
        self.repeat_button.setToolTip(REPEAT_TIP if free else BUSY)

    def _on_failed(self, message: str) -> None:
        self.status.setText(message)
        self.state.notice.emit(message)

    def _on_plan(self, plan: PairPlan | None) -> None:
        self.empty.setVisible(plan is None)
        self.body.setVisible(plan is not None)
        for widget in (self.title, self.hashes, self.notes):
            widget.setVisible(plan is not None)
        if plan is None:
            return
        # The heading is the plots' legend: each run's name in its colour.
        a, b = html.escape(plan.label_a), html.escape(plan.label_b)
        self.title.setText(f'<span style="color:{A_COLOR}">■ {a}</span>&nbsp;&nbsp;vs&nbsp;&nbsp;'
                           f'<span style="color:{B_COLOR}">■ {b}</span>')
        self.notes.setText("\n".join(plan.notes()))
        self.notes.setVisible(bool(plan.notes()))
        self.hashes.setText("")
        self.metrics.show_result(None)
        self.f1.show_difference(None, [])
        self.gradients.show_norms(None, None)
        self.seeds.show_summary(None)
        self.boundaries.setVisible(False)
        self.shown_box.clear()
        self._update_shown_box()

    def _show_live(self) -> None:
        """The pair in training, unless the user looks at an earlier seed's."""
        if self.shown_box.currentIndex() == self.shown_box.count() - 1:
            self.curves.show_runs(self.runs.live["A"], self.runs.live["B"])

    def _on_pair(self, result: PairResult) -> None:
        self.seeds.show_summary(self.runs.summary())
        self.shown_box.addItem(f"seed {result.plan.base.spec.seed}")
        self.shown_box.setCurrentIndex(self.shown_box.count() - 1)  # shows it (_on_shown)
        self._update_shown_box()

    def _update_shown_box(self) -> None:
        """A choice of seeds only once there are two to choose from."""
        several = self.shown_box.count() > 1
        self.shown_label.setVisible(several)
        self.shown_box.setVisible(several)

    def _on_shown(self, index: int) -> None:
        if 0 <= index < len(self.runs.results):
            self._show_pair(index)

    def _show_pair(self, index: int) -> None:
        result = self.runs.results[index]
        a, b = result.a, result.b
        self.curves.show_runs(a.history.epochs, b.history.epochs)
        self.metrics.show_result(result)
        self.f1.show_difference(result.f1_difference(), self.state.class_names(
            result.plan.base.spec.output_size))
        self.gradients.show_norms(a.grad_norms(), b.grad_norms())
        mark = {True: "identical", False: "different"}
        self.hashes.setText(
            f"seed {result.plan.base.spec.seed}  initial weights  A {a.fingerprint.weights}  "
            f"B {b.fingerprint.weights}  ({mark[result.same_start]})\n"
            f"{' ' * len(f'seed {result.plan.base.spec.seed}')}  epoch-1 batch order  "
            f"A {a.fingerprint.order}  B {b.fingerprint.order}  ({mark[result.same_order]})")
        self._show_boundaries(result, self.runs.models[index])

    def _show_boundaries(self, result: PairResult, models) -> None:
        state, data = self.state, self.runs.data or self.state.data  # reopened: the loaded
        names = state.feature_names
        show = (models is not None and state.source == "playground" and data is not None
                and bool(names) and data.x_train.shape[1] == result.plan.base.spec.input_size)
        self.boundaries.setVisible(show)
        if show:
            self.boundaries.show_models(models, (result.a.label, result.b.label), names,
                                        data.normalization, result.plan.base.train.loss,
                                        data.task)
