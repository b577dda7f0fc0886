"""The dataset dock: what the data is (an MNIST-format family, an image folder, a CSV table),
how it is split, balanced and normalized.

Loading (core.dataset.load_data, or a download) and preparation (core.data.prepare_dataset) run
off the GUI thread (app.widgets.background);
every finished preparation goes to the state (set_data_config, then set_data). The panel's
views (gallery, balance chart, histograms, counts) follow `state.dataChanged`, so they always
show what training will use.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from mlp_studio.app.model.experiment import SOURCES, Experiment
from mlp_studio.app.panels.data.data_jobs import (
    Prepared,
    describe_normalization,
    prepare,
    user_message,
)
from mlp_studio.app.panels.data.data_sections import DataSections, Section
from mlp_studio.app.panels.data.dataset_source import DatasetSource
from mlp_studio.app.panels.data.dataset_view import DatasetView
from mlp_studio.app.widgets.background import Background, Task
from mlp_studio.app.widgets.banner import Banner, Level
from mlp_studio.app.widgets.suggestion_bar import SuggestionBar
from mlp_studio.core.data import DataConfig, PreparedData
from mlp_studio.core.data_source import FAMILIES, DataSource
from mlp_studio.core.dataset import Dataset
from mlp_studio.core.download import DEFAULT_LIMITS, Limits
from mlp_studio.core.mnist import MNIST_MD5
from PySide6.QtCore import QSignalBlocker, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

DEBOUNCE_MS = 300  # pause after an edit before preparing again
GRADUAL_DEBOUNCE_MS = 1000  # after slider/spin edits on full MNIST, where preparing takes ~1-4 s
LARGE_DATASET = 20_000  # images; above this, gradual edits wait GRADUAL_DEBOUNCE_MS


class DataPanel(DataSections, DatasetSource, DatasetView, QWidget):
    """Dock panel: data source, sample gallery, task, split, class balance, normalization.

    The shell calls `shutdown()` on close; `load_folder(path)` loads a folder (e.g. from --data).
    """

    statusMessage = Signal(str)  # one-line news for the status bar
    downloadProgress = Signal(int, int)  # bytes done, bytes total (throttled to ~200 a download)

    def __init__(self, state: Experiment, parent: QWidget | None = None, *, autoload: bool = True):
        super().__init__(parent)
        self.state = state
        self._config = state.data_config  # the settings the widgets show (a private copy)
        self._dataset: Dataset | None = None  # what is loaded
        self._source: DataSource | None = None  # where it came from
        self._family_folders: dict[str, str] = {}  # where each family was last read from
        self._tasks = Background(self)
        self._loader: Task | None = None  # the load or download running
        self._loading = ""  # which: "load" or "download"
        self._deferred: Prepared | None = None  # finished during training; applied after it
        self._current: Prepared | None = None  # the preparation the state holds
        self._closing = False
        # Where downloads come from and go to; tests point these at a loopback mirror.
        self.mirrors: tuple[str, ...] | None = None  # None: $MLP_STUDIO_MIRRORS or the defaults
        self.download_limits: Limits = DEFAULT_LIMITS
        self.checksums: dict[str, str] = dict(MNIST_MD5)
        self.cache_dir: Path | None = None  # None: core.mnist.default_cache_dir()

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.timeout.connect(self._start_prepare)

        self._build()
        self._show_config(self._config)
        self._update_hint()

        state.dataConfigChanged.connect(self._on_state_config)
        state.dataChanged.connect(self._on_data_changed)
        state.trainingChanged.connect(self._on_training_changed)
        state.sourceChanged.connect(self._on_source_changed)
        state.dataLocationChanged.connect(self._on_data_location)
        state.dataSourceChanged.connect(self._on_state_source)
        self._on_source_changed(state.source)
        self._on_training_changed(state.training)
        if autoload:
            QTimer.singleShot(0, self.load_default)

    def sizeHint(self) -> QSize:
        return QSize(420, 900)

    # ------------------------------------------------------------------ building

    def _build(self) -> None:
        self.banner = Banner()
        self._banner_origin = ""  # "source" or "settings": which kind of success clears it
        sections = QWidget()
        column = QVBoxLayout(sections)
        column.setContentsMargins(6, 4, 6, 6)
        column.setSpacing(6)
        self.sections = {
            "source": Section("Source", self._build_source()),
            "samples": Section("Samples", self._build_samples()),
            "task": Section("Task", self._build_task()),
            "split": Section("Split", self._build_split()),
            "balance": Section("Class balance", self._build_balance()),
            "normalization": Section("Normalization", self._build_normalization()),
        }
        for section in self.sections.values():
            column.addWidget(section)
        column.addStretch(1)

        self.scroll = QScrollArea()
        self.scroll.setWidget(sections)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # What trains: explicit, not a side effect of which tab is in front.
        self.source_combo = QComboBox()
        for key, text in SOURCES.items():
            self.source_combo.addItem(text, key)
        self.source_combo.setToolTip("The data the network trains on. The Playground panel "
                                     "prepares its 2-D points; this panel prepares the data "
                                     "chosen under Source.")
        self.source_combo.currentIndexChanged.connect(
            lambda i: self.state.set_source(self.source_combo.itemData(i)))
        source_row = QHBoxLayout()
        source_row.setContentsMargins(6, 4, 6, 0)
        source_row.addWidget(QLabel("<b>Train on</b>"))
        source_row.addWidget(self.source_combo, 1)
        self.suggestion = SuggestionBar(self.state, "mnist")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(source_row)
        layout.addWidget(self.suggestion)
        layout.addWidget(self.banner)
        layout.addWidget(self.scroll, 1)
        # Everything that changes the data; disabled while a training run uses it.
        self._settings_widgets: list[QWidget] = [
            self.task_combo,
            self.sections["split"].content,
            self.balance_controls,
            self.normalization_combo,
            self.target_scaling_box,
        ]

    # ------------------------------------------------------------------ loading

    def _show_banner(self, text: str, origin: str, level: Level) -> None:
        self.banner.show_message(text, level)
        self._banner_origin = origin

    def _clear_banner(self, origin: str) -> None:
        if origin == self._banner_origin:
            self.banner.clear()
            self._banner_origin = ""

    def _on_download_progress(self, done: int, total: int) -> None:
        if self._loader is None or self._loader.cancelled:
            return
        self.downloadProgress.emit(done, total)
        kb_total = max(total // 1024, 1)
        self.progress_bar.setRange(0, kb_total)
        self.progress_bar.setValue(min(done // 1024, kb_total))
        self.progress_bar.setFormat(f"{done / 1e6:.1f} of {total / 1e6:.1f} MB")

    # ------------------------------------------------------------------ preparing

    def _schedule_prepare(self, gradual: bool = False) -> None:
        """Settings changed: prepare again after a pause in the edits (or store them if no data).

        gradual: the edit comes in steps (slider drag, spin arrows, typing a number); on full
        MNIST wait longer so a drag does not start a preparation per step.
        """
        self._update_hint()
        if self._dataset is None:
            if not self.state.training:
                self.state.set_data_config(self._config)
            return
        self.split_counts.setText("Preparing…")
        large = self._dataset.num_samples > LARGE_DATASET
        self._debounce.start(GRADUAL_DEBOUNCE_MS if gradual and large else DEBOUNCE_MS)

    @Slot()
    def _start_prepare(self) -> None:
        if self._dataset is None or self._closing:
            return
        dataset, config = self._dataset, copy.deepcopy(self._config)
        # One at a time (a full MNIST copy is ~220 MB), the latest settings win: a waiting
        # preparation is replaced, a running one finishes unseen.
        self._tasks.run(
            lambda _task: prepare(dataset, config), lane="prepare", latest=True,
            on_done=lambda result: self._on_prepared(True, result, config, dataset),
            on_error=lambda err: self._on_prepared(False, err, config, dataset),
        )
        self.split_counts.setText("Preparing…")
        self.statusMessage.emit("Preparing data…")

    def _on_prepared(self, ok: bool, result: Any, config: DataConfig, dataset: Dataset) -> None:
        if self._closing:
            return
        if config != self._config or dataset is not self._dataset:
            # stale: the settings (or the loaded data) moved on while it ran
            if not self._debounce.isActive():
                self._start_prepare()
            return
        if not ok:
            self._show_banner(user_message(result), "settings", Level.ERROR)
            self.split_counts.setText("These settings give no data (see the message above).")
            self.statusMessage.emit("Data settings rejected")
            return
        if self.state.training:  # never swap data under a running training
            self._deferred = result
            return
        self._apply(result)

    def activate(self) -> None:
        """Publish the prepared data to the experiment, if this panel's data is what trains. A
        preparation of older settings is not: it would put them back (a lesson set new ones just
        before), and the one of the new settings publishes itself when it is ready."""
        current = self._current
        if (current is not None and current.config == self._config
                and self.state.source == "mnist"
                and self.state.data is not current.data and not self.state.training):
            self._apply(current)

    @Slot(str)
    def _on_data_location(self, folder: str) -> None:
        """An older session names the MNIST folder it trained on: load it if none is loaded."""
        if (self._dataset is None and self._loader is None and self.state.data_source is None
                and folder and Path(folder).is_dir()):  # fmt: skip
            self.load_folder(folder, remember=False)

    @Slot(object)
    def _on_state_source(self, source: DataSource | None) -> None:
        """An opened session names its data: load it, unless it is what is loaded. The
        Train-on entry of this panel's data says what it is."""
        index = self.source_combo.findData("mnist")
        self.source_combo.setItemText(index, source.describe() if source else "MNIST digits")
        if source is not None and source != self._source and not self.state.training:
            self.load_source(source, remember=False)

    @Slot(str)
    def _on_kind_chosen(self, kind: str) -> None:
        self.family_buttons.setVisible(kind in FAMILIES)
        if kind != "table":
            self._show_table(None)

    @Slot(str)
    def _on_source_changed(self, source: str) -> None:
        index = self.source_combo.findData(source)
        if index != self.source_combo.currentIndex():
            with QSignalBlocker(self.source_combo):
                self.source_combo.setCurrentIndex(index)
        self.activate()

    def _apply(self, result: Prepared) -> None:
        self._clear_banner("settings")
        self._current = result
        self.state.set_data_config(result.config)  # equal to self._config: no echo
        if self.state.source != "mnist":  # prepared, shown here, trained once chosen
            self._on_data_changed(self.state.data)
            return
        previous = self.state.data.task if self.state.data is not None else None
        dataset = self._dataset
        self.state.set_feature_names(dataset.feature_names if dataset else [],
                                     dataset.table if dataset else None)
        self.state.set_data(result.data)
        loss = self.state.fit_loss_to_task(result.data.task, previous)
        if loss:
            self.statusMessage.emit(loss)
        n = len(result.data.y_train)
        self.statusMessage.emit(f"Data ready: {n:,} training {self._unit()}")

    # ------------------------------------------------------------------ background

    def is_busy(self) -> bool:
        """A load, download or preparation is running (or about to)."""
        return self._tasks.busy or self._debounce.isActive()

    def shutdown(self) -> None:
        """Stop background work: cancel downloads and wait, bounded, for the rest. Call on
        close: a download stops within core.download.POLL (0.1 s), a preparation in seconds."""
        self._closing = True
        self._debounce.stop()
        self._tasks.shutdown()

    # ------------------------------------------------------------------ settings <-> widgets

    def _show_config(self, config: DataConfig) -> None:
        """Put `config` into the widgets without triggering their handlers."""
        widgets = [
            self.task_combo, self.official_radio, self.pooled_radio, self.test_val_radio,
            self.mode_group, self.val_unit, self.val_pct,
            self.val_count, *self.pooled_spins, self.stratified_check, self.seed_spin,
            self.subset_check, self.subset_spin, self.remedy_combo, self.normalization_combo,
        ]  # fmt: skip
        for w in widgets:
            w.blockSignals(True)
        split = config.split
        self.task_combo.setCurrentIndex(self.task_combo.findData(config.target_digit))
        self._mode_radios()[split.mode].setChecked(True)
        self.mode_stack.setCurrentIndex(list(self._mode_radios()).index(split.mode))
        self.val_unit.setCurrentIndex(0 if split.val_count is None else 1)
        self.val_stack.setCurrentIndex(self.val_unit.currentIndex())
        self.val_pct.setValue(100.0 * split.val_fraction)
        if split.val_count is not None:
            self.val_count.setValue(split.val_count)
        for spin, p in zip(self.pooled_spins, split.percentages, strict=True):
            spin.setValue(round(p))
        self.stratified_check.setChecked(split.stratified)
        self.seed_spin.setValue(split.seed)
        self.subset_check.setChecked(split.subset is not None)
        self.subset_spin.setEnabled(split.subset is not None)
        if split.subset is not None:
            self.subset_spin.setValue(split.subset)
        self.remedy_combo.setCurrentIndex(self.remedy_combo.findData(config.balance.remedy))
        self.normalization_combo.setCurrentIndex(
            self.normalization_combo.findData(config.normalization)
        )
        self.target_scaling_box.show_kind(config.target_scaling)
        for w in widgets:
            w.blockSignals(False)
        self._show_stratified()
        self.keep_sliders.set_fractions_silently(config.balance.keep_fractions)

    def config(self) -> DataConfig:
        """The settings the widgets show (a copy); the state gets them once they are prepared."""
        return copy.deepcopy(self._config)

    def _on_task(self) -> None:
        self._config.target_digit = self.task_combo.currentData()
        self._edit("Change the task")

    def _mode_radios(self) -> dict:
        """Each split mode's radio button, in the order of the pages of mode_stack."""
        return {"official": self.official_radio, "pooled": self.pooled_radio,
                "test_as_val": self.test_val_radio}

    def _on_mode(self) -> None:
        modes = self._mode_radios()
        mode = next(m for m, radio in modes.items() if radio.isChecked())
        self._config.split.mode = mode
        self.mode_stack.setCurrentIndex(list(modes).index(mode))
        self._edit("Change the split")

    def _on_val(self) -> None:
        by_count = self.val_unit.currentData() == "count"
        self.val_stack.setCurrentIndex(1 if by_count else 0)
        self._config.split.val_fraction = self.val_pct.value() / 100.0
        self._config.split.val_count = self.val_count.value() if by_count else None
        self._edit("Change the validation share", "validation", gradual=True)

    def _on_pooled(self, index: int) -> None:
        """Spin `index` changed: the next spin (then the one after) absorbs the difference."""
        values = [s.value() for s in self.pooled_spins]
        excess = sum(values) - 100
        for j in ((index + 1) % 3, (index + 2) % 3):
            low, high = self.pooled_spins[j].minimum(), self.pooled_spins[j].maximum()
            new = min(max(values[j] - excess, low), high)
            excess -= values[j] - new
            values[j] = new
        for spin, value in zip(self.pooled_spins, values, strict=True):
            spin.blockSignals(True)
            spin.setValue(value)
            spin.blockSignals(False)
        self._config.split.percentages = tuple(float(v) for v in values)
        self._edit("Change the split percentages", f"percent-{index}", gradual=True)

    def _on_split_misc(self) -> None:
        split = self._config.split
        if self.stratified_check.isEnabled():  # shown off for a regression, setting kept
            split.stratified = self.stratified_check.isChecked()
        split.seed = self.seed_spin.value()
        self.subset_spin.setEnabled(self.subset_check.isChecked())
        split.subset = self.subset_spin.value() if self.subset_check.isChecked() else None
        old = self.state.data_config.split
        key = "seed" if old.seed != split.seed else "subset" if old.subset != split.subset else ""
        self._edit("Change the split", key, gradual=True)

    def _on_keep(self, fractions: tuple[float, ...]) -> None:
        old = self.state.data_config.balance.keep_fractions
        moved = [d for d, (a, b) in enumerate(zip(old, fractions, strict=False)) if a != b]
        self._config.balance.keep_fractions = tuple(fractions)
        if len(moved) == 1:  # one slider: a drag is one undo entry
            self._edit(f"Keep {fractions[moved[0]]:.0%} of the {moved[0]}s", f"keep-{moved[0]}",
                       gradual=True)  # fmt: skip
        else:  # Long tail, Balanced
            self._edit("Change the class balance", gradual=True)

    def _on_remedy(self) -> None:
        self._config.balance.remedy = self.remedy_combo.currentData()
        self._edit("Change the imbalance remedy")

    def _on_normalization(self) -> None:
        self._config.normalization = self.normalization_combo.currentData()
        self._edit("Change the normalization")

    def _on_target_scaling(self, kind: str) -> None:
        self._config.target_scaling = kind
        self._edit("Change the target scaling")

    def _edit(self, text: str, merge: str = "", gradual: bool = False) -> None:
        """The user changed a setting: an undo entry (Edit > Undo shows `text`; edits with the
        same `merge` key in a row are one), then prepare the data again."""
        if not self.state.training:
            self.state.edit_data_config(self._config, text, merge)
        self._schedule_prepare(gradual)

    # ------------------------------------------------------------------ state signals

    @Slot(object)
    def _on_state_config(self, config: DataConfig) -> None:
        """Someone else set the data settings (a session was opened): show and prepare them."""
        if config == self._config:
            return  # our own echo
        self._config = copy.deepcopy(config)
        self._show_config(self._config)
        if self._dataset is not None:
            self._schedule_prepare()
        else:
            self._update_hint()

    @Slot(bool)
    def _on_training_changed(self, active: bool) -> None:
        for w in self._settings_widgets:
            w.setEnabled(not active)
        self._show_stratified()
        self._set_loading_enabled(not active)
        if active:
            self.statusMessage.emit("Data settings are locked while training runs")
        elif self._deferred is not None:
            result, self._deferred = self._deferred, None
            if result.config == self._config:
                self._apply(result)
            else:
                self._schedule_prepare()

    @Slot(object)
    def _on_data_changed(self, _data: PreparedData | None) -> None:
        # The panel shows its own preparation of MNIST, trained on or not (see Train on).
        current = self._current
        data = current.data if current is not None else None
        if data is None:
            self.balance_chart.set_counts(None, [])
            self.split_counts.setText("")
        else:
            counts = data.class_counts()
            distinct = current.distinct_train if current is not None else None
            self.balance_chart.set_counts(counts, data.class_names, distinct)
            if data.task == "regression":
                counts = {k: v[:1] for k, v in counts.items()}  # one output: the sample count
            self.split_counts.setText(
                f"→ {counts['train'].sum():,} train · {counts['val'].sum():,} validation · "
                f"{counts['test'].sum():,} test {self._unit()}"
            )
        self.gallery.set_data(data if data is not None and data.raw_train is not None else None)
        self.target_scaling_box.show_data(data)
        self.raw_hist.setVisible(current is None or current.raw_hist is not None)
        if current is not None:
            self.raw_hist.set_histogram(*(current.raw_hist or (None, None)))
            self.norm_hist.set_histogram(*current.norm_hist)
            self.normalization_text.setText(describe_normalization(current))
        else:
            self.raw_hist.set_histogram(None, None)
            self.norm_hist.set_histogram(None, None)
            self.normalization_text.setText("")
        self._update_hint()
