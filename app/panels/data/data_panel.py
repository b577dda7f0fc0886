"""The dataset dock: where MNIST comes from, how it is split, balanced and normalized.

Loading (folder or download) and preparation (core.data.prepare_mnist) run in worker threads;
every finished preparation goes to the state (set_data_config, then set_data). The panel's
views (gallery, balance chart, histograms, counts) follow `state.dataChanged`, so they always
show what training will use.
"""

from __future__ import annotations

import copy
import html
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from mlp_studio.app.model.experiment import SOURCES, Experiment
from mlp_studio.app.panels.data.balance_chart import BalanceChart, KeepFractionSliders
from mlp_studio.app.panels.data.gallery import SampleGallery
from mlp_studio.app.panels.data.histogram_plot import HistogramPlot
from mlp_studio.app.widgets.banner import Banner, Level
from mlp_studio.app.widgets.suggestion_bar import SuggestionBar
from mlp_studio.core.data import (
    NORMALIZATIONS,
    REMEDIES,
    DataConfig,
    PreparedData,
    long_tail_fractions,
    pixel_histogram,
    prepare_mnist,
)
from mlp_studio.core.download import DEFAULT_LIMITS, Limits
from mlp_studio.core.errors import DownloadCancelled, StudioError
from mlp_studio.core.mnist import (
    MNIST_MD5,
    MnistArrays,
    default_cache_dir,
    download_mnist,
    load_folder,
    resolve_data_dir,
)
from PySide6.QtCore import (
    QObject,
    QSettings,
    QSignalBlocker,
    QSize,
    Qt,
    QThread,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

LAST_FOLDER_KEY = "data/last_folder"
DEBOUNCE_MS = 300  # pause after an edit before preparing again
GRADUAL_DEBOUNCE_MS = 1000  # after slider/spin edits on full MNIST, where preparing takes ~1-4 s
LARGE_DATASET = 20_000  # images; above this, gradual edits wait GRADUAL_DEBOUNCE_MS
HIST_BINS = 64
NORMALIZATION_LABELS = {
    "none": "None: raw 0–255",
    "unit": "Scale to 0…1 (÷ 255)",
    "symmetric": "Scale to −1…1",
    "standardize": "Standardize (one mean, one std)",
    "per_pixel": "Standardize each pixel",
}
REMEDY_LABELS = {
    "none": "No remedy",
    "oversample": "Oversample rare classes",
    "undersample": "Undersample common classes",
    "class_weights": "Weight the loss per class",
}
REMEDY_TIPS = {
    "none": "Train on the imbalanced data as it is",
    "oversample": "Repeat random images of the rarer classes until every class is as large "
    "as the largest",
    "undersample": "Drop random images of the larger classes until every class is as small "
    "as the smallest",
    "class_weights": "Keep the data; weight each class's loss by N / (C · count) so rare "
    "classes count as much in total",
}


@dataclass(frozen=True)
class _Prepared:
    """One finished preparation: the config it used, the data, and what the panel draws of it."""

    config: DataConfig
    data: PreparedData
    raw_hist: tuple[np.ndarray, np.ndarray]
    norm_hist: tuple[np.ndarray, np.ndarray]
    norm_stats: tuple[float, float, float, float]  # mean, std, min, max of normalized x_train
    distinct_train: np.ndarray | None  # [C] distinct training images when some are repeated


def _prepare(mnist: MnistArrays, config: DataConfig) -> _Prepared:
    data = prepare_mnist(mnist, config)
    x = data.x_train
    stats = (float(x.mean()), float(x.std()), float(x.min()), float(x.max()))
    distinct = None
    train = data.indices.get("train")
    if train is not None:
        _, first = np.unique(train, return_index=True)
        if len(first) < len(train):  # oversampled: count each image once
            distinct = np.bincount(data.y_train.numpy()[first], minlength=data.num_classes)
    return _Prepared(
        config,
        data,
        pixel_histogram(data.raw_train, bins=HIST_BINS),
        pixel_histogram(x, bins=HIST_BINS),
        stats,
        distinct,
    )


class _Worker(QObject):
    """Runs fn(worker) once in its QThread; `done` carries the result or the exception."""

    progress = Signal(int, int)  # bytes done, bytes total (downloads)
    done = Signal(object, bool, object)  # this worker, ok, result or exception

    def __init__(self, kind: str, fn: Callable[[_Worker], Any]):
        super().__init__()
        self.kind = kind
        self.cancel_event = threading.Event()
        self.remember: str | None = None  # folder to store as the last one, when it loads
        self.config: DataConfig | None = None  # the settings a preparation uses
        self.mnist: MnistArrays | None = None  # and the data it prepares
        self._fn = fn

    @Slot()
    def run(self) -> None:
        try:
            result, ok = self._fn(self), True
        except Exception as err:  # reported to the panel, never lost in the thread
            if not isinstance(err, StudioError):
                traceback.print_exc()
            result, ok = err, False
        self.done.emit(self, ok, result)


class _Section(QWidget):
    """A header button (arrow + bold title) that shows or hides its content."""

    def __init__(self, title: str, content: QWidget, expanded: bool = True):
        super().__init__()
        self.header = QToolButton()
        self.header.setText(title)
        self.header.setCheckable(True)
        self.header.setChecked(expanded)
        self.header.setAutoRaise(True)
        self.header.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.header.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        font = QFont(self.header.font())
        font.setBold(True)
        self.header.setFont(font)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        self.content = content
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.header)
        layout.addWidget(line)
        layout.addWidget(content)
        content.layout().setContentsMargins(6, 4, 2, 8)
        self.header.toggled.connect(self._set_expanded)
        self._set_expanded(expanded)

    def _set_expanded(self, expanded: bool) -> None:
        self.header.setArrowType(Qt.ArrowType.DownArrow if expanded else Qt.ArrowType.RightArrow)
        self.content.setVisible(expanded)


def _user_message(err: BaseException) -> str:
    """What to show for an error: StudioErrors are written for users; anything else is a bug."""
    if isinstance(err, StudioError):
        return str(err)
    return (
        f"Unexpected error ({type(err).__name__}: {err}). This is a bug in MLP Studio; the "
        "details are in the terminal. The panel still works: try again or choose other data."
    )


def _escape(text: str) -> str:
    """Plain text for a rich-text QLabel (which does not decode &#x27; and friends)."""
    return html.escape(text, quote=False)


def _form_row(*widgets: QWidget | str, stretch_last: bool = False) -> QHBoxLayout:
    row = QHBoxLayout()
    row.setContentsMargins(0, 0, 0, 0)
    row.setSpacing(6)
    for w in widgets:
        row.addWidget(QLabel(w) if isinstance(w, str) else w)
    if not stretch_last:
        row.addStretch(1)
    return row


class DataPanel(QWidget):
    """Dock panel: MNIST source, sample gallery, task, split, class balance, normalization.

    The shell calls `shutdown()` on close; `load_folder(path)` loads a folder (e.g. from --data).
    """

    statusMessage = Signal(str)  # one-line news for the status bar
    downloadProgress = Signal(int, int)  # bytes done, bytes total (throttled to ~200 a download)

    def __init__(self, state: Experiment, parent: QWidget | None = None, *, autoload: bool = True):
        super().__init__(parent)
        self.state = state
        self._config = state.data_config  # the settings the widgets show (a private copy)
        self._mnist: MnistArrays | None = None
        self._jobs: list[tuple[_Worker, QThread]] = []  # referenced until their thread ended
        self._loader: _Worker | None = None
        self._preparer: _Worker | None = None
        self._deferred: _Prepared | None = None  # finished during training; applied after it
        self._current: _Prepared | None = None  # the preparation the state holds
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
            "source": _Section("Source", self._build_source()),
            "samples": _Section("Samples", self._build_samples()),
            "task": _Section("Task", self._build_task()),
            "split": _Section("Split", self._build_split()),
            "balance": _Section("Class balance", self._build_balance()),
            "normalization": _Section("Normalization", self._build_normalization()),
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
                                     "prepares its 2-D points; this panel prepares MNIST.")
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
            self.open_button,
            self.download_button,
            self.task_combo,
            self.sections["split"].content,
            self.balance_controls,
            self.normalization_combo,
        ]

    def _build_source(self) -> QWidget:
        box = QWidget()
        v = QVBoxLayout(box)
        v.setSpacing(6)
        self.source_label = QLabel()
        self.source_label.setWordWrap(True)
        self.source_label.setTextFormat(Qt.TextFormat.RichText)
        self.open_button = QPushButton("Open folder…")
        self.open_button.setToolTip(
            "A folder with the four MNIST IDX files (raw or .gz) or Keras' mnist.npz"
        )
        self.download_button = QPushButton("Download MNIST")
        self.download_button.setToolTip(
            f"Download the four files (about 11 MB) into {default_cache_dir()}, check their "
            "MD5 and use them"
        )
        self.progress_bar = QProgressBar()
        self.progress_bar.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.progress_row = QWidget()
        progress = QHBoxLayout(self.progress_row)
        progress.setContentsMargins(0, 0, 0, 0)
        progress.addWidget(self.progress_bar, 1)
        progress.addWidget(self.cancel_button)
        self.progress_row.hide()
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.download_button)
        buttons.addStretch(1)
        v.addWidget(self.source_label)
        v.addLayout(buttons)
        v.addWidget(self.progress_row)
        self.open_button.clicked.connect(self.choose_folder)
        self.download_button.clicked.connect(self.download)
        self.cancel_button.clicked.connect(self.cancel_download)
        self._set_source_text(
            "No MNIST loaded yet.",
            "Open a folder holding it, or download it (about 11 MB).",
        )
        return box

    def _build_samples(self) -> QWidget:
        box = QWidget()
        v = QVBoxLayout(box)
        self.gallery = SampleGallery()
        v.addWidget(self.gallery)
        return box

    def _build_task(self) -> QWidget:
        box = QWidget()
        v = QVBoxLayout(box)
        self.task_combo = QComboBox()
        self.task_combo.addItem("Which digit is it? (10 classes)", None)
        for d in range(10):
            self.task_combo.addItem(f"Is it a {d}? (yes / no)", d)
        self.task_combo.setToolTip(
            "A binary task relabels every image as “d” or “not d”; the network gets two outputs"
        )
        v.addWidget(self.task_combo)
        self.task_combo.currentIndexChanged.connect(self._on_task)
        return box

    def _build_split(self) -> QWidget:
        box = QWidget()
        v = QVBoxLayout(box)
        v.setSpacing(6)
        self.official_radio = QRadioButton("Official test set + validation from training")
        self.pooled_radio = QRadioButton("Pool all 70,000 and split by percentages")
        self.mode_group = QButtonGroup(box)
        self.mode_group.addButton(self.official_radio)
        self.mode_group.addButton(self.pooled_radio)
        v.addWidget(self.official_radio)
        v.addWidget(self.pooled_radio)

        # official: validation as % of the training images, or as a count
        self.val_pct = QDoubleSpinBox()
        self.val_pct.setRange(0.1, 90.0)
        self.val_pct.setDecimals(1)
        self.val_pct.setSingleStep(1.0)
        self.val_pct.setSuffix(" %")
        self.val_count = QSpinBox()
        self.val_count.setRange(1, 59_999)
        self.val_count.setSingleStep(500)
        self.val_count.setGroupSeparatorShown(True)
        self.val_stack = QStackedWidget()
        self.val_stack.addWidget(self.val_pct)
        self.val_stack.addWidget(self.val_count)
        self.val_stack.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.val_unit = QComboBox()
        self.val_unit.addItem("% of training", "fraction")
        self.val_unit.addItem("images", "count")
        official = QWidget()
        official.setLayout(_form_row("Validation:", self.val_stack, self.val_unit))

        # pooled: three percentages that always sum to 100
        self.pooled_spins: list[QSpinBox] = []
        pooled_row = []
        for name in ("Train", "Val", "Test"):
            spin = QSpinBox()
            spin.setRange(1, 98)
            spin.setSuffix(" %")
            spin.setToolTip("The three percentages always add up to 100: the others follow")
            self.pooled_spins.append(spin)
            pooled_row += [name, spin]
        pooled = QWidget()
        pooled.setLayout(_form_row(*pooled_row))
        self.mode_stack = QStackedWidget()
        self.mode_stack.addWidget(official)
        self.mode_stack.addWidget(pooled)
        self.mode_stack.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        v.addWidget(self.mode_stack)

        self.stratified_check = QCheckBox("Stratified")
        self.stratified_check.setToolTip("Every split gets the same share of each digit")
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 999_999)
        self.seed_spin.setToolTip("Seed of every random step: split, subset, imbalance, remedy")
        v.addLayout(_form_row(self.stratified_check, "   Seed:", self.seed_spin))

        self.subset_check = QCheckBox("Train on a subset of")
        self.subset_spin = QSpinBox()
        self.subset_spin.setRange(10, 70_000)
        self.subset_spin.setSingleStep(1000)
        self.subset_spin.setValue(6000)
        self.subset_spin.setGroupSeparatorShown(True)
        self.subset_spin.setToolTip("Fewer training images: faster epochs (validation and test "
                                    "stay whole)")  # fmt: skip
        v.addLayout(_form_row(self.subset_check, self.subset_spin, "images"))

        self.split_counts = QLabel()
        self.split_counts.setWordWrap(True)
        v.addWidget(self.split_counts)

        self.official_radio.toggled.connect(self._on_mode)
        self.val_unit.currentIndexChanged.connect(self._on_val)
        self.val_pct.valueChanged.connect(self._on_val)
        self.val_count.valueChanged.connect(self._on_val)
        for i, spin in enumerate(self.pooled_spins):
            spin.valueChanged.connect(lambda _value, i=i: self._on_pooled(i))
        self.stratified_check.toggled.connect(self._on_split_misc)
        self.seed_spin.valueChanged.connect(self._on_split_misc)
        self.subset_check.toggled.connect(self._on_split_misc)
        self.subset_spin.valueChanged.connect(self._on_split_misc)
        return box

    def _build_balance(self) -> QWidget:
        box = QWidget()
        v = QVBoxLayout(box)
        v.setSpacing(6)
        self.balance_chart = BalanceChart()
        v.addWidget(self.balance_chart)
        self.hint_label = QLabel()
        self.hint_label.setWordWrap(True)
        self.hint_label.setTextFormat(Qt.TextFormat.RichText)
        self.hint_label.hide()
        v.addWidget(self.hint_label)

        self.balance_controls = QWidget()
        c = QVBoxLayout(self.balance_controls)
        c.setContentsMargins(0, 0, 0, 0)
        c.setSpacing(4)
        caption = QLabel("Training images kept per digit:")
        self.keep_sliders = KeepFractionSliders()
        self.long_tail_button = QPushButton("Long tail")
        self.long_tail_button.setToolTip(
            "Keep 100% of the 0s down to 5% of the 9s (geometric): a typical real-world skew"
        )
        self.balanced_button = QPushButton("Balanced")
        self.balanced_button.setToolTip("Keep every training image")
        self.remedy_combo = QComboBox()
        for key in REMEDIES:
            self.remedy_combo.addItem(REMEDY_LABELS[key], key)
            self.remedy_combo.setItemData(
                self.remedy_combo.count() - 1, REMEDY_TIPS[key], Qt.ItemDataRole.ToolTipRole
            )
        c.addWidget(caption)
        c.addWidget(self.keep_sliders)
        c.addLayout(_form_row(self.long_tail_button, self.balanced_button))
        c.addLayout(_form_row("Remedy:", self.remedy_combo))
        v.addWidget(self.balance_controls)

        self.keep_sliders.changed.connect(self._on_keep)
        self.long_tail_button.clicked.connect(
            lambda: self.keep_sliders.set_fractions(long_tail_fractions())
        )
        self.balanced_button.clicked.connect(
            lambda: self.keep_sliders.set_fractions((1.0,) * len(self.keep_sliders.sliders))
        )
        self.remedy_combo.currentIndexChanged.connect(self._on_remedy)
        return box

    def _build_normalization(self) -> QWidget:
        box = QWidget()
        v = QVBoxLayout(box)
        v.setSpacing(4)
        self.normalization_combo = QComboBox()
        for key in NORMALIZATIONS:
            self.normalization_combo.addItem(NORMALIZATION_LABELS[key], key)
        self.normalization_text = QLabel()
        self.normalization_text.setWordWrap(True)
        self.raw_hist = HistogramPlot("Before (raw)")
        self.norm_hist = HistogramPlot("After")
        plots = QGridLayout()
        plots.setContentsMargins(0, 0, 0, 0)
        plots.setHorizontalSpacing(4)
        plots.addWidget(self.raw_hist, 0, 0)
        plots.addWidget(self.norm_hist, 0, 1)
        caption = QLabel("Pixel values of the training images (log count)")
        caption.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        v.addWidget(self.normalization_combo)
        v.addWidget(self.normalization_text)
        v.addLayout(plots)
        v.addWidget(caption)
        self.normalization_combo.currentIndexChanged.connect(self._on_normalization)
        return box

    # ------------------------------------------------------------------ loading

    def _show_banner(self, text: str, origin: str, level: Level) -> None:
        self.banner.show_message(text, level)
        self._banner_origin = origin

    def _clear_banner(self, origin: str) -> None:
        if origin == self._banner_origin:
            self.banner.clear()
            self._banner_origin = ""

    def load_default(self) -> None:
        """Load MNIST from $MLP_STUDIO_DATA, the cache or the last chosen folder, if any."""
        if self._mnist is not None or self._loader is not None or self._closing:
            return
        folder = resolve_data_dir()
        if folder is None:
            last = QSettings().value(LAST_FOLDER_KEY, "", str)
            folder = Path(last) if last and Path(last).exists() else None
        if folder is not None:
            message = f"Loading MNIST from {folder}…"
            self._start_load("load", lambda _w: load_folder(folder), message)

    def choose_folder(self) -> None:
        """Ask for a folder (IDX files or mnist.npz) and load it."""
        start = QSettings().value(LAST_FOLDER_KEY, str(Path.home()), str)
        folder = QFileDialog.getExistingDirectory(
            self, "Choose a folder with MNIST (IDX files or mnist.npz)", start
        )
        if folder:
            self.load_folder(folder)

    def load_folder(self, folder: str | Path, remember: bool = True) -> None:
        """Load MNIST from `folder` in the background; remembered as the last folder if it works."""
        folder = Path(folder)
        worker = self._start_load(
            "load", lambda _w: load_folder(folder), f"Loading MNIST from {folder}…"
        )
        worker.remember = str(folder) if remember else None

    def download(self) -> None:
        """Download MNIST into the cache (progress bar, Cancel) and load it."""
        cache = Path(self.cache_dir) if self.cache_dir else default_cache_dir()
        mirrors, checksums, limits = self.mirrors, dict(self.checksums), self.download_limits

        def job(worker: _Worker) -> MnistArrays:
            last = -1

            def progress(done: int, total: int) -> None:
                nonlocal last
                step = done * 200 // total if total else 0  # at most ~200 signals per download
                if step != last:
                    last = step
                    worker.progress.emit(done, total)

            folder = download_mnist(
                cache, mirrors, progress, worker.cancel_event.is_set, limits, checksums=checksums
            )
            return load_folder(folder)

        self._start_load("download", job, "Downloading MNIST…", f"into {cache}")
        self.progress_bar.setRange(0, 0)  # busy until the sizes are known
        self.progress_bar.setFormat("Connecting…")
        self.progress_row.show()
        self.cancel_button.setEnabled(True)

    def cancel_download(self) -> None:
        if self._loader is not None and self._loader.kind == "download":
            self._loader.cancel_event.set()
            self.cancel_button.setEnabled(False)
            self.progress_bar.setFormat("Cancelling…")

    def _start_load(
        self, kind: str, fn: Callable[[_Worker], Any], message: str, detail: str = ""
    ) -> _Worker:
        if self._loader is not None:  # superseded: its result will be ignored
            self._loader.cancel_event.set()
        self._clear_banner("source")
        self._loader = self._start_job(kind, fn, self._on_download_progress)
        self.open_button.setEnabled(False)
        self.download_button.setEnabled(False)
        self.statusMessage.emit(message)
        if self._mnist is None:
            self._set_source_text(message, detail)
        return self._loader

    @Slot(int, int)
    def _on_download_progress(self, done: int, total: int) -> None:
        if self._loader is None or self._loader.cancel_event.is_set():
            return
        self.downloadProgress.emit(done, total)
        kb_total = max(total // 1024, 1)
        self.progress_bar.setRange(0, kb_total)
        self.progress_bar.setValue(min(done // 1024, kb_total))
        self.progress_bar.setFormat(f"{done / 1e6:.1f} of {total / 1e6:.1f} MB")

    def _on_loaded(self, worker: _Worker, ok: bool, result: Any) -> None:
        self.progress_row.hide()
        self._set_loading_enabled(not self.state.training)
        if not ok:
            cancelled = isinstance(result, DownloadCancelled)
            still = (f"\nStill using the MNIST loaded from {self._mnist.source}."
                     if self._mnist is not None else "")  # fmt: skip
            self._show_banner(_user_message(result) + still, "source",
                              Level.INFO if cancelled else Level.ERROR)  # fmt: skip
            self.statusMessage.emit("Download cancelled" if cancelled else "Could not load MNIST")
            if self._mnist is None:
                self._set_source_text(
                    "No MNIST loaded.", "Open a folder holding it, or download it (about 11 MB)."
                )
            return
        self._mnist = result
        self.state.set_data_location(str(result.source))  # sessions record where it came from
        if worker.remember:
            QSettings().setValue(LAST_FOLDER_KEY, worker.remember)
        n_train, n_test = len(result.train_images), len(result.test_images)
        self._set_source_text(
            f"<b>MNIST</b>: {n_train:,} training + {n_test:,} test images", result.source
        )
        self.val_count.setMaximum(max(n_train - 1, 1))
        self.pooled_radio.setText(f"Pool all {n_train + n_test:,} and split by percentages")
        self.statusMessage.emit(f"Loaded MNIST from {result.source}")
        self._debounce.stop()
        self._start_prepare()

    def _set_source_text(self, main: str, detail: str) -> None:
        grey = self.palette().color(QPalette.ColorRole.PlaceholderText).name()
        small = f"<br><span style='color:{grey}'>{_escape(detail)}</span>" if detail else ""
        self.source_label.setText(main + small)

    def _set_loading_enabled(self, enabled: bool) -> None:
        busy = self._loader is not None
        self.open_button.setEnabled(enabled and not busy)
        self.download_button.setEnabled(enabled and not busy)

    # ------------------------------------------------------------------ preparing

    def _schedule_prepare(self, gradual: bool = False) -> None:
        """Settings changed: prepare again after a pause in the edits (or store them if no data).

        gradual: the edit comes in steps (slider drag, spin arrows, typing a number); on full
        MNIST wait longer so a drag does not start a preparation per step.
        """
        self._update_hint()
        if self._mnist is None:
            if not self.state.training:
                self.state.set_data_config(self._config)
            return
        self.split_counts.setText("Preparing…")
        large = len(self._mnist.train_labels) + len(self._mnist.test_labels) > LARGE_DATASET
        self._debounce.start(GRADUAL_DEBOUNCE_MS if gradual and large else DEBOUNCE_MS)

    @Slot()
    def _start_prepare(self) -> None:
        if self._mnist is None or self._closing:
            return
        if self._preparer is not None:  # one at a time (a full MNIST copy is ~220 MB);
            return  # when it finishes, _on_prepared sees the settings moved on and restarts
        mnist, config = self._mnist, copy.deepcopy(self._config)
        self._preparer = self._start_job("prepare", lambda _w: _prepare(mnist, config))
        self._preparer.config = config
        self._preparer.mnist = mnist
        self.split_counts.setText("Preparing…")
        self.statusMessage.emit("Preparing data…")

    def _on_prepared(self, ok: bool, result: Any, worker: _Worker) -> None:
        if worker.config != self._config or worker.mnist is not self._mnist:
            # stale: the settings (or the loaded MNIST) moved on while it ran
            if not self._debounce.isActive():
                self._start_prepare()
            return
        if not ok:
            self._show_banner(_user_message(result), "settings", Level.ERROR)
            self.split_counts.setText("These settings give no data (see the message above).")
            self.statusMessage.emit("Data settings rejected")
            return
        if self.state.training:  # never swap data under a running training
            self._deferred = result
            return
        self._apply(result)

    def activate(self) -> None:
        """Publish the prepared MNIST to the experiment, if MNIST is what trains."""
        current = self._current
        if (current is not None and self.state.source == "mnist"
                and self.state.data is not current.data and not self.state.training):
            self._apply(current)

    @Slot(str)
    def _on_data_location(self, folder: str) -> None:
        """An opened session names the MNIST it trained on: load it if none is loaded."""
        if self._mnist is None and self._loader is None and folder and Path(folder).is_dir():
            self.load_folder(folder, remember=False)

    @Slot(str)
    def _on_source_changed(self, source: str) -> None:
        index = self.source_combo.findData(source)
        if index != self.source_combo.currentIndex():
            with QSignalBlocker(self.source_combo):
                self.source_combo.setCurrentIndex(index)
        self.activate()

    def _apply(self, result: _Prepared) -> None:
        self._clear_banner("settings")
        self._current = result
        self.state.set_data_config(result.config)  # equal to self._config: no echo
        if self.state.source != "mnist":  # prepared, shown here, trained once chosen
            self._on_data_changed(self.state.data)
            return
        self.state.set_data(result.data)
        n = len(result.data.y_train)
        self.statusMessage.emit(f"Data ready: {n:,} training images")

    # ------------------------------------------------------------------ threads

    def _start_job(
        self, kind: str, fn: Callable[[_Worker], Any], progress: Callable | None = None
    ) -> _Worker:
        worker = _Worker(kind, fn)
        if progress is not None:
            worker.progress.connect(progress)
        thread = QThread()
        thread.setObjectName(f"dataset-{kind}")
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.done.connect(self._on_job_done)  # queued: the panel lives in the GUI thread
        self._jobs.append((worker, thread))
        thread.start()
        return worker

    @Slot(object, bool, object)
    def _on_job_done(self, worker: _Worker, ok: bool, result: Any) -> None:
        for pair in list(self._jobs):
            if pair[0] is worker:
                pair[1].quit()
                pair[1].wait()  # run() has returned: this is immediate
                self._jobs.remove(pair)
        if self._closing:
            return
        if worker is self._loader:
            self._loader = None
            self._on_loaded(worker, ok, result)
        elif worker is self._preparer:
            self._preparer = None
            self._on_prepared(ok, result, worker)

    def is_busy(self) -> bool:
        """A load, download or preparation is running (or about to)."""
        return bool(self._jobs) or self._debounce.isActive()

    def shutdown(self) -> None:
        """Stop background work: cancel downloads and wait for running threads. Call on close."""
        self._closing = True
        self._debounce.stop()
        for worker, thread in self._jobs:
            worker.cancel_event.set()
            thread.quit()
        for _worker, thread in self._jobs:
            # A preparation ends within seconds; a download within core.download.POLL (0.1 s).
            thread.wait()
        self._jobs.clear()

    # ------------------------------------------------------------------ settings <-> widgets

    def _show_config(self, config: DataConfig) -> None:
        """Put `config` into the widgets without triggering their handlers."""
        widgets = [
            self.task_combo, self.official_radio, self.pooled_radio, self.val_unit, self.val_pct,
            self.val_count, *self.pooled_spins, self.stratified_check, self.seed_spin,
            self.subset_check, self.subset_spin, self.remedy_combo, self.normalization_combo,
        ]  # fmt: skip
        for w in widgets:
            w.blockSignals(True)
        split = config.split
        self.task_combo.setCurrentIndex(self.task_combo.findData(config.target_digit))
        self.official_radio.setChecked(split.mode == "official")
        self.pooled_radio.setChecked(split.mode == "pooled")
        self.mode_stack.setCurrentIndex(0 if split.mode == "official" else 1)
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
        for w in widgets:
            w.blockSignals(False)
        self.keep_sliders.set_fractions_silently(config.balance.keep_fractions)

    def config(self) -> DataConfig:
        """The settings the widgets show (a copy); the state gets them once they are prepared."""
        return copy.deepcopy(self._config)

    def _on_task(self) -> None:
        self._config.target_digit = self.task_combo.currentData()
        self._edit("Change the task")

    def _on_mode(self) -> None:
        official = self.official_radio.isChecked()
        self._config.split.mode = "official" if official else "pooled"
        self.mode_stack.setCurrentIndex(0 if official else 1)
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
        if self._mnist is not None:
            self._schedule_prepare()
        else:
            self._update_hint()

    @Slot(bool)
    def _on_training_changed(self, active: bool) -> None:
        for w in self._settings_widgets:
            w.setEnabled(not active)
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
            self.split_counts.setText(
                f"→ {counts['train'].sum():,} train · {counts['val'].sum():,} validation · "
                f"{counts['test'].sum():,} test images"
            )
        self.gallery.set_data(data if data is not None and data.raw_train is not None else None)
        if current is not None:
            self.raw_hist.set_histogram(*current.raw_hist)
            self.norm_hist.set_histogram(*current.norm_hist)
            self.normalization_text.setText(_describe(current))
        else:
            self.raw_hist.set_histogram(None, None)
            self.norm_hist.set_histogram(None, None)
            self.normalization_text.setText("")
        self._update_hint()

    def _update_hint(self) -> None:
        """Explain how the data can fool the model when the classes are uneven."""
        data = self.state.data
        parts = []
        keep = np.asarray(self._config.balance.keep_fractions)
        if keep.min() < 1.0:
            big, small = int(keep.argmax()), int(keep.argmin())
            rare = f"none of the {small}s" if keep[small] == 0 else (
                f"only {100 * keep[small]:.0f}% of the {small}s")  # fmt: skip
            parts.append(
                f"Training keeps {100 * keep[big]:.0f}% of the {big}s but {rare}, while "
                "validation and test stay whole. A model can score well by favouring the "
                "common digits: check the recall of the rare ones in the confusion matrix."
            )
        if self._config.target_digit is not None and data is not None and data.num_classes == 2:
            counts = data.class_counts()["test"]
            share = 100.0 * counts[0] / max(counts.sum(), 1)
            d = self._config.target_digit
            parts.append(
                f"Binary task: {share:.0f}% of test images are “not {d}”, so always answering "
                f"“not {d}” already scores {share:.0f}% accuracy. Watch the recall of “{d}”."
            )
        remedy = {
            "oversample": "Oversampling repeats the rare images (the darker part of a train bar "
            "is the distinct ones): the network may memorise them.",
            "undersample": "Undersampling throws away images of the common classes: less to "
            "learn from.",
            "class_weights": "Class weights make each rare image count more in the loss; the "
            "data stays as it is.",
        }.get(self._config.balance.remedy)
        lines = [f"⚠ {p}" for p in parts] + ([remedy] if parts and remedy else [])
        self.hint_label.setText("<br><br>".join(lines))
        self.hint_label.setVisible(bool(parts))


def _describe(result: _Prepared) -> str:
    """The normalization as a formula with its fitted numbers, and the resulting value range."""
    norm = result.data.normalization
    mean, std, low, high = result.norm_stats
    formula = {
        "none": "x (raw values go in unchanged: large inputs, large early gradients)",
        "unit": "x / 255",
        "symmetric": "(x − 127.5) / 127.5",
        "standardize": f"(x − {norm.mean[0]:.1f}) / {norm.std[0]:.1f}: the mean and std of all "
        "training pixels",
        "per_pixel": "(x − meanᵢ) / stdᵢ for each pixel i, fitted on the training images "
        "(always-blank border pixels keep std 1)",
    }[norm.kind]
    return f"{formula}\nAfter: mean {mean:.2f}, std {std:.2f}, range {low:.2f} … {high:.2f}"
