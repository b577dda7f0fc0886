"""The Data dock's choice of data: an MNIST-format family (MNIST digits, Fashion-MNIST, KMNIST),
a folder of images with one subfolder per class, or a CSV table. It only asks; the panel loads
what `sourceRequested` names (off the GUI thread) and shows it."""

from __future__ import annotations

from pathlib import Path

from mlp_studio.core.data_source import FAMILIES, MAX_IMAGE_SIZE, DataSource
from PySide6.QtCore import QSettings, QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

LAST_IMAGES_KEY = "data/last_image_folder"
LAST_TABLE_KEY = "data/last_table"
RELOAD_MS = 600  # pause after a size/colour/target edit before loading again
TASK_LABELS = {"auto": "Decide from the target", "classification": "Classification",
               "regression": "Regression"}  # fmt: skip


def kind_key(source: DataSource) -> str:
    """The kind combo's entry for a source: the family for MNIST-format data, else the kind."""
    return source.dataset if source.kind == "mnist" else source.kind


class SourceChooser(QWidget):
    """A kind combo and the options of that kind; emits sourceRequested(DataSource)."""

    sourceRequested = Signal(object)  # DataSource: the user wants this data loaded
    kindChanged = Signal(str)  # the combo's entry, before anything is chosen or loaded

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.kind_combo = QComboBox()
        for key, text in FAMILIES.items():
            self.kind_combo.addItem(text, key)
        self.kind_combo.addItem("Image folder (one subfolder per class)", "images")
        self.kind_combo.addItem("CSV table", "table")
        self.kind_combo.setToolTip("What to train on: a digit-like dataset by name, your own "
                                   "images sorted into class folders, or a table")
        self._images_path = ""
        self._table_path = ""

        # Image folders: where, what size, grayscale or colour.
        self.images_box = QWidget()
        self.images_button = QPushButton("Choose folder…")
        self.images_button.setToolTip("A folder with one subfolder per class (the class name is "
                                      "the subfolder's), holding PNG or JPEG pictures")
        self.size_spin = QSpinBox()
        self.size_spin.setRange(4, MAX_IMAGE_SIZE)
        self.size_spin.setValue(28)
        self.size_spin.setSuffix(" px")
        self.size_spin.setToolTip("Every picture is resized to this many pixels a side "
                                  "(28: MNIST's size); the network gets one input per pixel")
        self.color_combo = QComboBox()
        self.color_combo.addItem("Grayscale", False)
        self.color_combo.addItem("RGB colour (3 inputs per pixel)", True)
        grid = QGridLayout(self.images_box)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.images_button, 0, 0)
        grid.addWidget(QLabel("Size"), 0, 1, Qt.AlignmentFlag.AlignRight)
        grid.addWidget(self.size_spin, 0, 2)
        grid.addWidget(self.color_combo, 1, 0, 1, 3)
        grid.setColumnStretch(0, 1)

        # Tables: which file, which column is the target, and the task.
        self.table_box = QWidget()
        self.table_button = QPushButton("Choose file…")
        self.table_button.setToolTip("A CSV file with a header row: one column is the target, "
                                     "the others are the inputs")
        self.target_combo = QComboBox()
        self.target_combo.setToolTip("The column the network learns to predict (default: the "
                                     "last one); every other column is an input")
        self.task_combo = QComboBox()
        for key, text in TASK_LABELS.items():
            self.task_combo.addItem(text, key)
        self.task_combo.setToolTip(
            "Classification predicts a category, regression a number. Decided from the target: "
            "text, or few distinct whole numbers, is classification; other numbers regression.")
        grid = QGridLayout(self.table_box)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.table_button, 0, 0, 1, 2)
        grid.addWidget(QLabel("Target"), 1, 0)
        grid.addWidget(self.target_combo, 1, 1)
        grid.addWidget(QLabel("Task"), 2, 0)
        grid.addWidget(self.task_combo, 2, 1)
        grid.setColumnStretch(1, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.kind_combo)
        layout.addWidget(self.images_box)
        layout.addWidget(self.table_box)

        self._reload = QTimer(self)
        self._reload.setSingleShot(True)
        self._reload.setInterval(RELOAD_MS)
        self._reload.timeout.connect(self._request_current)
        self.kind_combo.currentIndexChanged.connect(self._on_kind)
        self.images_button.clicked.connect(self.choose_images)
        self.table_button.clicked.connect(self.choose_table)
        self.size_spin.valueChanged.connect(lambda _v: self._reload_soon())
        self.color_combo.currentIndexChanged.connect(lambda _i: self._reload_soon())
        self.target_combo.currentIndexChanged.connect(lambda _i: self._reload_soon(now=True))
        self.task_combo.currentIndexChanged.connect(lambda _i: self._reload_soon(now=True))
        self._show_options()

    # ---- what is chosen ----

    def kind(self) -> str:
        return self.kind_combo.currentData()

    def current(self) -> DataSource | None:
        """The source the widgets describe, or None while its file or folder is not chosen."""
        kind = self.kind()
        if kind in FAMILIES:
            return DataSource("mnist", dataset=kind)
        if kind == "images":
            if not self._images_path:
                return None
            return DataSource("images", self._images_path, image_size=self.size_spin.value(),
                              color=bool(self.color_combo.currentData()))  # fmt: skip
        if not self._table_path:
            return None
        target = self.target_combo.currentText() if self.target_combo.count() else ""
        return DataSource("table", self._table_path, target=target,
                          task=self.task_combo.currentData())  # fmt: skip

    def show_source(self, source: DataSource) -> None:
        """Show `source` in the widgets (it was loaded, or a session names it); no signals."""
        blockers = [QSignalBlocker(w) for w in (self.kind_combo, self.size_spin,
                                                self.color_combo, self.task_combo)]  # fmt: skip
        self.kind_combo.setCurrentIndex(self.kind_combo.findData(kind_key(source)))
        if source.kind == "images":
            self._images_path = source.path
            self.size_spin.setValue(source.image_size)
            self.color_combo.setCurrentIndex(1 if source.color else 0)
        elif source.kind == "table":
            self._table_path = source.path
            self.task_combo.setCurrentIndex(self.task_combo.findData(source.task))
            if source.target:
                self.set_columns(self.columns(), source.target)
        del blockers
        self._reload.stop()
        self._show_options()

    def set_columns(self, columns: list[str], target: str = "") -> None:
        """The table's columns for the target combo; `target` (default: the last) selected."""
        with QSignalBlocker(self.target_combo):
            self.target_combo.clear()
            self.target_combo.addItems(columns)
            if target and target not in columns:
                self.target_combo.addItem(target)  # as a session named it; loading says more
            index = self.target_combo.findText(target) if target else len(columns) - 1
            self.target_combo.setCurrentIndex(max(index, 0))

    def columns(self) -> list[str]:
        return [self.target_combo.itemText(i) for i in range(self.target_combo.count())]

    def set_enabled(self, enabled: bool) -> None:
        for w in (self.kind_combo, self.images_box, self.table_box):
            w.setEnabled(enabled)

    # ---- the user's actions ----

    def choose_images(self) -> None:
        start = QSettings().value(LAST_IMAGES_KEY, str(Path.home()), str)
        folder = QFileDialog.getExistingDirectory(
            self, "Choose a folder with one subfolder of images per class", start)
        if folder:
            QSettings().setValue(LAST_IMAGES_KEY, folder)
            self.set_images_folder(folder)

    def set_images_folder(self, folder: str) -> None:
        self._images_path = str(folder)
        self._request_current()

    def choose_table(self) -> None:
        start = QSettings().value(LAST_TABLE_KEY, str(Path.home()), str)
        path, _ = QFileDialog.getOpenFileName(self, "Choose a CSV table", start,
                                              "CSV tables (*.csv *.txt);;All files (*)")
        if path:
            QSettings().setValue(LAST_TABLE_KEY, str(Path(path).parent))
            self.set_table_file(path)

    def set_table_file(self, path: str) -> None:
        """A new table: its columns are not known yet (the panel previews it and fills them),
        so the target is the last column until then."""
        self._table_path = str(path)
        with QSignalBlocker(self.target_combo):
            self.target_combo.clear()
        self._request_current()

    def _on_kind(self) -> None:
        self._show_options()
        self.kindChanged.emit(self.kind())
        if self.kind() in FAMILIES or self.current() is not None:
            self._request_current()

    def _reload_soon(self, now: bool = False) -> None:
        if self.current() is None:
            return
        if now:
            self._reload.stop()
            self._request_current()
        else:
            self._reload.start()

    def _request_current(self) -> None:
        source = self.current()
        if source is not None:
            self.sourceRequested.emit(source)

    def _show_options(self) -> None:
        kind = self.kind()
        self.images_box.setVisible(kind == "images")
        self.table_box.setVisible(kind == "table")
        self.target_combo.setEnabled(self.target_combo.count() > 0)
