"""The training view: settings on the side, live plots in tabs.

The shell wires the controller's signals to the slots on_progress, on_layer_stats, on_snapshot,
on_epoch_end, on_diverged and on_finished; the experiment tells it when the weights' history is
replaced and when the test set was evaluated. The slots only append (events may arrive at
20-50 Hz); a single-shot timer redraws the visible tab at most ~20 times a second, and other tabs
when they are shown.
"""

from __future__ import annotations

import math
import time

import numpy as np
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.app.panels.training.activations_view import ActivationsView
from mlp_studio.app.panels.training.confusion_view import ConfusionView
from mlp_studio.app.panels.training.gradients_panel import GradientsPanel
from mlp_studio.app.panels.training.hyperparameters import HyperparametersForm
from mlp_studio.app.panels.training.live_plots import CurvesPanel, batches_per_epoch
from mlp_studio.app.panels.training.plot_export import ExportButton
from mlp_studio.app.panels.training.regression_view import RegressionView
from mlp_studio.app.panels.training.run_tree_view import RunTreeView
from mlp_studio.app.panels.training.scrubber import CheckpointMarker, CheckpointMetrics, Scrubber
from mlp_studio.app.panels.training.weights_grid import WeightsGrid
from mlp_studio.app.widgets.formatting import format_rate, format_scores
from mlp_studio.app.widgets.on_screen import WhenOnScreen
from mlp_studio.core.metrics import metrics_from_confusion
from mlp_studio.core.target_scaling import loss_units
from mlp_studio.core.training import (
    BatchProgress,
    Diverged,
    EpochEnd,
    Finished,
    History,
    LayerStats,
    Snapshot,
)
from PySide6.QtCore import QSettings, Qt, QTimer, Slot
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

REDRAW_MS = 50  # ~20 frames a second at most
MAX_REDRAW_MS = 1000


class TrainingPanel(QWidget):

    def __init__(self, state: Experiment, parent: QWidget | None = None,
                 settings: QSettings | None = None):
        super().__init__(parent)
        self.state = state
        self.hyperparameters = HyperparametersForm(state)
        self.curves = CurvesPanel()
        self.gradients = GradientsPanel()
        self.weights = WeightsGrid()
        self.activations = ActivationsView(state)
        self.confusion = ConfusionView()
        self.regression = RegressionView()  # in the confusion matrix's place for regression
        self.runs = RunTreeView(state)
        self.scrubber = Scrubber(state, settings=settings)  # the budget is a user setting
        self.marker = CheckpointMarker([self.curves.loss_plot, self.curves.acc_plot])
        self.checkpoint_metrics = CheckpointMetrics(state)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        for page, title in ((self.curves, "Curves"), (self.gradients, "Gradients"),
                            (self.weights, "Weights"), (self.activations, "Activations"),
                            (self.confusion, "Confusion"),
                            (self.regression, "Predictions"), (self.runs, "Runs")):  # fmt: skip
            self.tabs.addTab(page, title)
        self.export_button = ExportButton(lambda: self.tabs.currentWidget().export_targets())
        self.export_button.setAutoRaise(True)
        self.tabs.setCornerWidget(self.export_button, Qt.Corner.TopRightCorner)

        self.status = QLabel("Not trained yet.")
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.best = QLabel("")
        self.best.setTextFormat(Qt.TextFormat.RichText)
        self.status.setWordWrap(True)  # wrap rather than widen the view
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setFixedWidth(140)
        self.progress.setMaximumHeight(10)
        header = QHBoxLayout()
        header.setContentsMargins(6, 4, 6, 0)
        header.addWidget(self.status, 1)
        header.addWidget(self.best)
        header.addWidget(self.progress)

        scroll = QScrollArea()
        scroll.setWidget(self.hyperparameters)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(self.hyperparameters.minimumSizeHint().width() + 16)
        self.settings_scroll = scroll
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addLayout(header)
        right_layout.addWidget(self.tabs, 1)
        right_layout.addWidget(self.scrubber)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(scroll)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([scroll.minimumWidth(), 10_000])  # the plots get the rest
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REDRAW_MS)
        # Behind another dock's tab (Draw or Playground in front while training) it draws
        # nothing, and catches up when brought to the front: the GUI thread's time goes to
        # what is seen, and to the training process on a busy machine.
        self._on_screen = WhenOnScreen(self, self.redraw_visible)
        self._timer.timeout.connect(self._on_screen)
        self.tabs.currentChanged.connect(lambda _i: self._on_screen())
        self.tabs.currentChanged.connect(lambda _i: self.export_button.setVisible(
            bool(self.tabs.currentWidget().export_targets())))
        state.timeline.viewChanged.connect(self._on_viewed)
        state.evaluationChanged.connect(self.show_evaluation)
        state.modelChanged.connect(self._on_model)
        state.historyReplaced.connect(self.show_history)
        state.dataChanged.connect(self._on_data)
        state.trainingChanged.connect(self._on_training)
        state.runStateChanged.connect(self._on_run_state)
        self._last: BatchProgress | None = None
        self._viewing = False  # a past checkpoint is shown (see _on_viewed)
        self._total_epochs = state.train_config.epochs
        self._best_text = ""
        self._status_dirty = False
        self._show_results_tab()
        self.show_history(state.history)
        self._on_model(state.model)

    # ---- the slots the shell wires to TrainingController ----

    @Slot()
    def reset(self) -> None:
        """Forget the previous run's history (a new run starts from scratch)."""
        self.curves.clear()
        self.curves.show_accuracy(not self._regression())
        self.gradients.clear()
        self.gradients.set_layers([h.activation.name for h in self.state.spec.hidden])
        self.confusion.clear()
        self.regression.clear()
        self.weights.clear()
        self._last = None
        self._total_epochs = self.state.train_config.epochs
        self._best_text = ""
        self.status.setText("Ready to train.")
        self.status.setToolTip("")
        self.best.setText("")
        self.progress.setValue(0)
        self._schedule()

    @Slot(object)
    def show_history(self, history: History) -> None:
        """Other weights: show their own past (an opened or restored session's curves,
        gradients and last confusion matrix), or nothing for fresh weights."""
        self.reset()
        if not history.epochs:
            self.status.setText("Not trained yet.")
            return
        self.curves.show_history(history)
        self.gradients.show_history(history)
        self._total_epochs = history.epochs[-1].epoch
        self._show_latest_results(history)
        self.progress.setValue(1000)
        self._schedule()

    def _show_latest_results(self, history: History) -> None:
        """The last epoch's validation results and the status of the latest weights (after a
        run, or a checkpoint shown and left); a paused run's header shows where it is."""
        if history.epochs:
            last = history.epochs[-1]
            scores = [math.nan if v is None else v
                      for v in (last.val_rmse, last.val_mae, last.val_r2)]  # fmt: skip
            metrics = metrics_from_confusion(last.val_confusion, last.val_loss, *scores)
            self._set_results("validation", metrics, f"epoch {last.epoch}")
        if self.state.training and self._last is not None:
            self._status_dirty = True
            self._draw_status()
        elif history.epochs:
            n = len(history.epochs)
            self.status.setText(f"<b>Trained</b> {n} epoch{'s' if n != 1 else ''}; last "
                                f"validation {format_scores(metrics)}.")
        else:
            self.status.setText("Not trained yet.")

    @Slot(object)
    def on_progress(self, event: BatchProgress) -> None:
        self.curves.add_progress(event)
        self.gradients.add_progress(event)
        self._last = event
        self._total_epochs = max(self._total_epochs, event.epoch)
        self._status_dirty = True
        self._schedule()

    @Slot(object)
    def on_layer_stats(self, event: LayerStats) -> None:
        hidden = [h.activation.name for h in self.state.spec.hidden]
        if self.gradients.grads is None or self.gradients.grads.columns != 1 + len(
            event.grad_norms
        ):
            # A run without reset() and with another depth: name the layers from the spec.
            if len(hidden) + 1 == len(event.grad_norms):
                self.gradients.set_layers(hidden)
        self.gradients.add_stats(event)
        self._schedule()

    @Slot(object)
    def on_snapshot(self, event: Snapshot) -> None:
        if event.weights:
            self.weights.set_weights(event.weights[0])
        self.activations.show_activations(event.activations)
        self._schedule()

    @Slot(object)
    def on_epoch_end(self, event: EpochEnd) -> None:
        self.curves.add_epoch(event)
        self.runs.dirty = True  # the current run's row: its epochs and result
        self._set_results("validation", event.val, f"epoch {event.epoch}", show=False)
        self._total_epochs = event.epochs
        if event.best and event.val.regression:  # no accuracy: the loss picks the best
            score = (f"RMSE <b>{event.val.rmse:.4g}</b>" if event.val.rmse == event.val.rmse
                     else f"loss <b>{event.val.loss:.4g}</b>")  # fmt: skip
            self._best_text = f"best val. {score} (epoch {event.epoch})"  # short: narrow header
            self.best.setToolTip("The epoch of lowest validation loss so far")
        elif event.best:
            # "val.": beside the test accuracy, a bare "best" read as a better test figure
            self._best_text = f"best val. <b>{event.val.accuracy:.2%}</b> (epoch {event.epoch})"
            self.best.setToolTip("Best validation accuracy so far")
        self._status_dirty = True
        self._schedule()

    @Slot(object)
    def on_diverged(self, event: Diverged) -> None:
        self._mark_divergence(event)
        where = f"batch {event.batch}" if event.batch else "its end"  # 0: found at the end
        self.status.setText(f"<b>Diverged</b> at epoch {event.epoch}, {where}.")
        self.status.setToolTip(event.message)

    @Slot(object)
    def show_evaluation(self, metrics, note: str) -> None:
        """Test-set metrics of a model evaluated outside training (e.g. an imported one)."""
        page = self._set_results("test", metrics, note)
        self.status.setText(f"<b>Evaluated</b> on the test set: {format_scores(metrics)}.")
        self.tabs.setCurrentWidget(page)
        self._status_dirty = False
        self.flush()

    def on_finished(self, event: Finished) -> None:
        self.gradients.flush_pending()
        if event.test is not None:
            restored = event.best_epoch is not None and self.state.train_config.restore_best
            note = f"best epoch {event.best_epoch}" if restored else "final model"
            self._set_results("test", event.test, note)
        if event.diverged is not None:
            self._mark_divergence(event.diverged)
            fix = ("check the activation formula or the learning rate"
                   if event.diverged.cause == "gradients" else "lower the learning rate")
            text = f"<b>Diverged</b> at epoch {event.diverged.epoch}: {fix}."
            self.status.setToolTip(event.diverged.message)
        elif event.stopped:
            text = "<b>Stopped.</b>"
        else:
            text = "<b>Finished.</b>"
        if event.test is not None:
            text += f" Test {format_scores(event.test)}."
        self.status.setText(text)
        self.best.setText(self._best_text)  # the last epoch's may not be drawn yet
        self._status_dirty = False
        self.flush()

    # ---- drawing ----

    def _schedule(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def _pages(self) -> list[QWidget]:
        return [self.tabs.widget(i) for i in range(self.tabs.count())]

    def redraw_visible(self) -> None:
        """Draw the tab in front if it changed (other tabs wait until they are shown)."""
        page = self.tabs.currentWidget()
        start = time.perf_counter()
        if getattr(page, "dirty", False):
            page.redraw()
            if hasattr(page, "paint_in_turns"):
                page.paint_in_turns()
        self._draw_status()
        # Slow machine or a huge history: space frames out so drawing takes at most about a
        # third of the GUI thread, and the window stays responsive. The paint itself comes
        # after this returns (a forced repaint() here made the plots paint twice): count the
        # page's latest paint instead.
        cost_ms = 1000 * (time.perf_counter() - start) + getattr(page, "paint_ms", 0.0)
        self._timer.setInterval(int(min(MAX_REDRAW_MS, max(REDRAW_MS, 3 * cost_ms))))

    def flush(self) -> None:
        """Redraw everything that changed, visible or not (tests, screenshots, end of run)."""
        for page in self._pages():
            if hasattr(page, "release_held"):
                page.release_held()  # a grab may follow: nothing waits for its turn
            if page.dirty:
                page.redraw()
        self._draw_status()

    def _draw_status(self) -> None:
        if not self._status_dirty or self._last is None:
            return
        self._status_dirty = False
        e = self._last
        self.status.setText(
            f"Epoch <b>{e.epoch}</b>/{self._total_epochs} · batch {e.batch}/{e.batches_per_epoch}"
            f"{' · ' + rate if (rate := format_rate(self.state.rate)) else ''} · lr {e.lr:.3g}"
        )
        self.best.setText(self._best_text)
        done = (e.epoch - 1 + e.batch / e.batches_per_epoch) / max(self._total_epochs, 1)
        self.progress.setValue(int(1000 * min(done, 1.0)))

    def _batches_per_epoch(self) -> int:
        """Of the run: as the trainer counts them (a run can diverge before its first report)."""
        data, batch = self.state.data, self.state.train_config.batch_size
        if data is not None and len(data.x_train) and batch >= 1:
            n = len(data.x_train)
            return math.ceil(n / min(batch, n))
        return self._last.batches_per_epoch if self._last is not None else 1

    def _mark_divergence(self, event: Diverged) -> None:
        bpe = self._batches_per_epoch()
        x = event.epoch - 1 + (event.batch / bpe if event.batch else 1.0)  # 0: at its end
        if not any(abs(line.value() - x) < 1e-9 for line in self.curves.markers):
            self.curves.mark(x, "diverged")
            self.curves.dirty = True
            self._schedule()

    def _on_data(self, _data) -> None:
        if not len(self.curves.epochs):  # a finished run keeps its plots as they are
            self.curves.show_accuracy(not self._regression())
            self._show_results_tab()
            self._show_loss_units()

    def _show_loss_units(self) -> None:
        """The loss curve says what its losses are on: the model's target scaling (a run
        gives the model the data's when it starts)."""
        model = self.state.model
        self.curves.set_loss_units(loss_units(model.target_scaling if model is not None
                                              else None))

    def _set_results(self, split: str, metrics, note: str, show: bool = True) -> QWidget:
        """Give a split's metrics to the page for them (the confusion matrix, or a
        regression's predictions) and return that page; `show`: switch it to that split."""
        page = self.regression if metrics.regression else self.confusion
        page.set_metrics(split, metrics, self.state.data, note, self.state.feature_names)
        if show:
            page.show_split(split)
        self._show_results_tab(metrics.regression)
        return page

    def _show_results_tab(self, regression: bool | None = None) -> None:
        """One of the two result pages has a tab: the regression's or the classifier's."""
        regression = self._regression() if regression is None else regression
        current = self.tabs.currentWidget()
        self.tabs.setTabVisible(self.tabs.indexOf(self.regression), regression)
        self.tabs.setTabVisible(self.tabs.indexOf(self.confusion), not regression)
        if current in (self.confusion, self.regression):  # stay on the results
            self.tabs.setCurrentWidget(self.regression if regression else self.confusion)

    def _regression(self) -> bool:
        return self.state.data is not None and self.state.data.task == "regression"

    # ---- the model outside training ----

    def _on_model(self, model) -> None:
        self._show_loss_units()
        if self.state.run_owns_model:
            return  # the worker owns it; snapshots bring its weights
        if model is None:
            self.weights.clear()
        else:
            first = model.linears[0].weight.detach().cpu().numpy()
            self.weights.set_weights(np.array(first))
        self._schedule()

    def _on_run_state(self, _run_state: str) -> None:
        """Paused or stopping: the header drops its speed (the experiment's is 0 then)."""
        self._status_dirty = True
        self._schedule()

    def _on_training(self, active: bool) -> None:
        self._show_loss_units()
        if not active:
            self._on_model(self.state.model)

    @Slot(object)
    def _on_viewed(self, checkpoint) -> None:
        """A checkpoint is shown (None: the latest weights again): its confusion matrix, a
        marker on the curves, and a status that says it is the past."""
        history = self.state.history
        self.marker.show(checkpoint, batches_per_epoch(history) if history.epochs else None)
        was, self._viewing = self._viewing, checkpoint is not None
        if checkpoint is None:
            if was:  # the latest weights' own readouts again (the curves never changed)
                self._show_latest_results(history)
                self._on_model(self.state.model)
                self._schedule()
            return
        metrics = self.checkpoint_metrics.of(checkpoint)
        if metrics is not None:  # the confusion matrix, or a regression's predictions
            self._set_results("validation", metrics, checkpoint.label())
        self.status.setText(f"<b>Showing {checkpoint.label()}</b> (the past).")
        self._status_dirty = False
        self._schedule()

    def probe(self) -> np.ndarray | None:
        """The activations sample, normalized, [1, D]: pass it to set_probe when starting."""
        return self.activations.probe()
