"""Train > Sweep…: vary some settings of the studio's run over many short trials and see which
mattered.

Left: the settings to vary, each written as on the command line (`1e-4..1e-1:log`, `relu,tanh`),
the number of trials, epochs per trial, the metric, the sampler and the worker processes.
Right: a parallel-coordinates plot (drag along an axis to keep only the trials there), what
mattered most, and the trials as a sortable table; "Open as run" puts a trial's settings in the
studio as one undoable edit, on the data the trials trained on. Trials run in child processes
(core.sweep through SweepRunner): the studio stays usable, and Cancel stops them. Everything
else fixed comes from the studio's current network, training and data settings, and the trials
train on the Data panel's data (MNIST, an image folder or a table): the metrics offered are those
of its task (no accuracy for a regression).
"""

from __future__ import annotations

import os
import time

from mlp_studio.app.dialogs.sweep_plots import ImportanceChart, ParallelCoordinates
from mlp_studio.app.dialogs.sweep_runner import SweepRunner
from mlp_studio.app.dialogs.sweep_table import TrialTable
from mlp_studio.app.widgets.banner import Banner, Level
from mlp_studio.app.widgets.combo_fit import fit_to_items
from mlp_studio.core.errors import StudioError
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

# (train option, label, range or choices offered, varied at first)
ROWS = [
    ("lr", "Learning rate", "1e-4..1e-1:log", True),
    ("hidden", "Units per layer", "32..512:log", True),
    ("activation", "Activation", "relu,tanh,gelu", True),
    ("optimizer", "Optimizer", "adam,sgd,rmsprop", False),
    ("dropout", "Dropout", "0..0.5", False),
    ("batch-size", "Batch size", "32,64,128,256", False),
    ("weight-decay", "Weight decay", "1e-6..1e-2:log", False),
    ("momentum", "Momentum", "0.5..0.99", False),
]
SAMPLERS = [("tpe", "TPE (learns from earlier trials)"), ("random", "Random"),
            ("grid", "Grid (every combination of choices)")]


def default_storage() -> str:
    """The app's sweep database, beside its other data."""
    from platformdirs import user_data_path

    folder = user_data_path("mlp-studio", appauthor=False)
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / "sweeps.db")


class SweepDialog(QDialog):
    def __init__(self, state, parent: QWidget | None = None, storage: str | None = None):
        super().__init__(parent)
        self.state = state
        self.storage = storage
        self.setWindowTitle("Sweep: which settings matter?")
        self.setModal(False)
        self.runner = SweepRunner(self)
        self.sweep = None
        self.results = None
        # What the running (last) sweep trains on, for "Open as run": the studio's data source,
        # data settings and the network's input and output sizes when it started.
        self.trained_on = None
        self.banner = Banner(self)
        self._build()
        self.runner.resultsChanged.connect(self._show_results)
        self.runner.runningChanged.connect(self._on_running)
        self.runner.failed.connect(lambda text: self.banner.show_message(text, Level.ERROR))
        self._on_running(False)
        for signal in (state.dataChanged, state.dataSourceChanged, state.sourceChanged):
            signal.connect(self._show_data)
        self._show_data()

    # ---- layout

    def _build(self) -> None:
        from mlp_studio.core.sweep_space import train_options

        self._options = train_options(_train_parser())
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        vary = QGroupBox("Settings to vary")
        grid = QGridLayout(vary)
        hint = QLabel("A range LOW..HIGH (add :log for rates), or choices A,B,C. For units "
                      "per layer, 256/128 is one choice of two layers.")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: palette(mid);")
        grid.addWidget(hint, 0, 0, 1, 2)
        self.rows: dict[str, tuple[QCheckBox, QLineEdit]] = {}
        for r, (name, label, spec, on) in enumerate(ROWS, start=1):
            check = QCheckBox(label)
            check.setChecked(on)
            edit = QLineEdit(spec)
            edit.setToolTip(f"--param {name}=…")
            edit.textChanged.connect(lambda _t, n=name: self._check_row(n))
            check.toggled.connect(lambda _on, n=name: self._check_row(n))
            grid.addWidget(check, r, 0)
            grid.addWidget(edit, r, 1)
            self.rows[name] = (check, edit)
        column.addWidget(vary)

        run = QGroupBox("Trials")
        form = QFormLayout(run)
        self.trials = QSpinBox(minimum=1, maximum=1000, value=20)
        self.epochs = QSpinBox(minimum=1, maximum=1000,
                               value=max(1, min(3, self.state.train_config.epochs)))
        self.epochs.setToolTip("Each trial trains this many epochs; poor trials stop earlier "
                               "when pruning is on.")
        self.metric_box = QComboBox()
        self.sampler = QComboBox()
        for key, text in SAMPLERS:
            self.sampler.addItem(text, key)
        fit_to_items(self.sampler)
        self.workers = QSpinBox(minimum=1, maximum=max(1, os.cpu_count() or 1),
                                value=min(2, os.cpu_count() or 1))
        self.workers.setToolTip("Child processes of one thread each working on the sweep.")
        self.prune = QCheckBox("Stop poor trials early (median pruning)")
        self.prune.setChecked(True)
        self.data_label = QLabel()
        self.data_label.setWordWrap(True)
        form.addRow("Data", self.data_label)
        form.addRow("Trials", self.trials)
        form.addRow("Epochs per trial", self.epochs)
        form.addRow("Rank by", self.metric_box)
        form.addRow("Sampler", self.sampler)
        form.addRow("Worker processes", self.workers)
        form.addRow(self.prune)
        column.addWidget(run)

        buttons = QHBoxLayout()
        self.run_button = QPushButton("Run sweep")
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.runner.cancel)
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        column.addLayout(buttons)
        self.status = QLabel("The other settings come from the studio's current run.")
        self.status.setWordWrap(True)
        column.addWidget(self.status)
        column.addStretch(1)

        self.plot = ParallelCoordinates()
        self.importance = ImportanceChart()
        self.table = TrialTable()
        self.open_button = QPushButton("Open as run")
        self.open_button.setToolTip("Put the chosen trial's settings in the studio (Edit > "
                                    "Undo takes them back); then press Train.")
        self.open_button.clicked.connect(self.open_trial)
        self.table.trialChosen.connect(lambda n: self.open_button.setEnabled(n >= 0))
        self.table.doubleClicked.connect(lambda _i: self.open_trial())
        self.plot.selectionChanged.connect(self._on_brush)
        self.shown = QLabel("")
        mattered = QWidget()
        mattered_layout = QVBoxLayout(mattered)
        mattered_layout.setContentsMargins(0, 0, 0, 0)
        mattered_title = QLabel("What mattered")
        mattered_title.setToolTip("Optuna's importance (fANOVA): the share of the metric's "
                                  "variation each setting explains, over the finished trials.")
        mattered_layout.addWidget(mattered_title)
        mattered_layout.addWidget(self.importance, 1)
        plots = QSplitter(Qt.Orientation.Horizontal)
        plots.addWidget(self.plot)
        plots.addWidget(mattered)
        plots.setStretchFactor(0, 4)
        plots.setStretchFactor(1, 1)
        plots.setSizes([760, 240])
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addWidget(self.table)
        bar = QHBoxLayout()
        bar.addWidget(self.shown, 1)
        bar.addWidget(self.open_button)
        lower_layout.addLayout(bar)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(plots)
        right.addWidget(lower)
        right.setStretchFactor(0, 1)
        right.setStretchFactor(1, 1)

        body = QSplitter(Qt.Orientation.Horizontal)
        body.addWidget(left)
        body.addWidget(right)
        body.setStretchFactor(1, 1)
        body.setSizes([380, 900])
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(body, 1)
        self.resize(1280, 720)
        self.open_button.setEnabled(False)

    # ---- settings

    def _check_row(self, name: str) -> str | None:
        """The row's problem (also shown on it), or None."""
        from mlp_studio.core.sweep_space import parse_param

        check, edit = self.rows[name]
        problem = None
        if check.isChecked():
            try:
                parse_param(f"{name}={edit.text()}", self._options)
            except StudioError as err:
                problem = str(err).removeprefix("--param ")
        edit.setStyleSheet("border: 1px solid #d03030;" if problem else "")
        edit.setToolTip(problem or f"--param {name}=…")
        return problem

    def _studio_data(self):
        """What trials train on: the Data panel's (DataSource, task, input size, output size),
        or a StudioError saying what to do first."""
        from mlp_studio.core.data_source import DataSource

        state = self.state
        if state.source != "mnist":
            raise StudioError("Sweeps train on the Data panel's data (MNIST, an image folder or "
                              "a table), not on the Playground's points: choose it under "
                              "Train on in the Data panel.")
        source = state.data_source or DataSource(path=state.data_location)
        data = state.data
        if data is not None:
            return source, data.task, int(data.x_train.shape[1]), data.num_classes
        if source.kind == "table":
            raise StudioError("The table is not read yet: wait until the Data panel shows it.")
        return source, "classification", state.spec.input_size, state.spec.output_size

    @Slot()
    def _show_data(self, *_args) -> None:
        """The data the trials would train on, and the metrics that can rank them on it."""
        from mlp_studio.core.sweep_data import METRICS, metrics_for

        try:
            source, task, _inputs, _outputs = self._studio_data()
        except StudioError as err:
            self.data_label.setText("—")
            self.data_label.setToolTip(str(err))
            task = "classification"
        else:
            self.data_label.setText(f"{source.describe()} ({task})")
            self.data_label.setToolTip("The Data panel's data and settings: every trial "
                                       "trains on them.")
        keys = metrics_for(task)
        if [self.metric_box.itemData(i) for i in range(self.metric_box.count())] == keys:
            return
        chosen = self.metric_box.currentData()
        self.metric_box.clear()
        for key in keys:
            direction, _tasks, text = METRICS[key]
            better = "higher" if direction == "maximize" else "lower"
            self.metric_box.addItem(f"{text[0].upper()}{text[1:]} ({better} is better)", key)
        fit_to_items(self.metric_box)
        self.metric_box.setCurrentIndex(max(0, self.metric_box.findData(chosen)))

    def build_sweep(self):
        """The sweep the form describes (StudioError saying what to fix)."""
        import copy

        from mlp_studio.core.sweep import Sweep, check_sweep
        from mlp_studio.core.sweep_data import fit_to_task, source_options
        from mlp_studio.core.sweep_runs import options_from_settings
        from mlp_studio.core.sweep_space import parse_param
        from mlp_studio.core.sweep_storage import storage_url

        source, task, inputs, outputs = self._studio_data()
        params = []
        for name, (check, edit) in self.rows.items():
            if check.isChecked():
                try:
                    params.append(parse_param(f"{name}={edit.text()}", self._options))
                except StudioError as err:
                    raise StudioError(str(err).removeprefix("--param ")) from None
        if not params:
            raise StudioError("Tick at least one setting to vary.")
        base = options_from_settings(self.state.spec, self.state.train_config,
                                     self.state.data_config, self.state.data_location or None)
        base = source_options(base, source, task)
        base.epochs = self.epochs.value()
        sweep = Sweep(base, params, self.trials.value(),
                      storage_url(self.storage or default_storage()),
                      f"studio-{time.strftime('%Y%m%d-%H%M%S')}",
                      self.metric_box.currentData(), self.sampler.currentData(),
                      self.prune.isChecked())
        sweep = fit_to_task(sweep, task, source.describe())
        check_sweep(sweep)
        self.trained_on = (source, copy.deepcopy(self.state.data_config), inputs, outputs)
        return sweep

    # ---- running

    @Slot()
    def run(self) -> None:
        if self.runner.running:
            return
        try:
            sweep = self.build_sweep()
        except StudioError as err:
            self.banner.show_message(str(err), Level.ERROR)
            return
        self.banner.clear()
        self.sweep, self.results = sweep, None
        self.plot.set_axes(sweep.params, sweep.metric)
        self.table.set_columns([p.name for p in sweep.params], sweep.metric)
        self.importance.set_importance({})
        self.status.setText("Starting the workers…")
        self.runner.start(sweep, self.workers.value())

    @Slot(bool)
    def _on_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        for check, edit in self.rows.values():
            check.setEnabled(not running)
            edit.setEnabled(not running)
        for widget in (self.trials, self.epochs, self.metric_box, self.sampler, self.workers,
                       self.prune):
            widget.setEnabled(not running)
        if not running and self.results is not None:
            self._update_status()

    @Slot(object)
    def _show_results(self, results) -> None:
        if self.sweep is None or results.study != self.sweep.study:
            return  # a late read of an earlier sweep
        self.results = results
        self.plot.set_trials(results.trials)
        self.table.set_trials(results.trials)
        self.importance.set_importance(results.importance)
        self._update_status()
        self._on_brush(self.plot.selection())

    def _update_status(self) -> None:
        from mlp_studio.core.sweep import all_failed, count_results, failures

        results = self.results
        done, running = count_results(results)
        text = f"{done} of {self.sweep.trials} trials finished"
        if running:
            text += f", {running} running"
        failed = failures(results)
        if failed is not None:
            text += f", {failed[0]} failed (point at 'failed' in the table for why)"
        if results.best is not None:
            metric = self.sweep.metric.replace("-", " ")
            text += f". Best {metric}: {results.best.value:.4f} (trial {results.best.number})"
        if not self.runner.running and done < self.sweep.trials:
            text += ". Stopped."
        self.status.setText(text + ".")
        if failed is not None and all_failed(results) and not self.runner.running:
            self.banner.show_message(
                f"All {failed[0]} trials failed, so there is nothing to rank; {failed[1]} "
                "Change the ranges or the studio's settings that cause it, then run the sweep "
                "again.", Level.ERROR)

    @Slot(object)
    def _on_brush(self, selection) -> None:
        self.table.set_allowed(selection)
        total = self.table.source.rowCount()
        shown = len(self.table.visible_trials())
        self.shown.setText(
            "Drag along an axis to keep the trials there; click the axis to clear." if
            selection is None else f"{shown} of {total} trials inside the brushed ranges.")

    @Slot()
    def open_trial(self) -> None:
        """The chosen trial's settings in the studio (one undoable edit), on the data the
        trials trained on: the Data panel loads that source again if another is shown now."""
        from mlp_studio.core.sweep_runs import trial_settings

        number = self.table.current_trial()
        if number is None or self.results is None or self.trained_on is None:
            return
        trial = next(t for t in self.results.trials if t.number == number)
        state = self.state
        if state.training:
            self.banner.show_message("Stop training first: a run is using the network.",
                                     Level.WARNING)
            return
        source, data_config, inputs, outputs = self.trained_on
        try:
            spec, config = trial_settings(self.sweep, trial.params, inputs, outputs)
        except StudioError as err:
            self.banner.show_message(str(err), Level.ERROR)
            return
        state.apply_settings(spec, config, data_config, f"Open sweep trial {number}")
        text = (f"Trial {number}'s settings are in the studio (Edit > Undo takes them back): "
                "press Train to run them.")
        if state.source != "mnist" or (state.data_source or source) != source:
            state.set_data_source(source)  # the Data panel reads it again
            state.set_source("mnist")
            text += f" The Data panel loads {source.describe()} again, the trials' data."
        self.banner.show_message(text, Level.INFO)

    def shutdown(self) -> None:
        """Stop the workers (the window is closing); closing the dialog alone does not."""
        self.runner.shutdown()


def _train_parser():
    from mlp_studio.core.cli.arguments import _add_train_arguments, _Parser

    parser = _Parser(prog="mlp-studio train")
    _add_train_arguments(parser, outputs=False)
    return parser
