"""Export the model to a file other programs can run, then prove the file is the model.

The dialog checks the path first (core.export.plan_export), writes ONNX, TorchScript,
safetensors + JSON or Keras, reloads the file (onnxruntime for ONNX, torch for safetensors;
TorchScript from the bytes just written, since MLP Studio never loads a .pt from disk; Keras
for .keras when it is installed) and compares its outputs (probabilities, or a regression's
values) with the live model on up to 1,000 test images or playground points. A Keras script
(.py) is written for reading and running. Writing and verifying run on a worker thread
(app.dialogs.export_formats): a first TorchScript export takes ~2 s.

Run alone: python -m mlp_studio.app.preview export
"""

from __future__ import annotations

import html
import math
import re
from pathlib import Path

import numpy as np
from mlp_studio.app.dialogs.export_formats import (
    FORMATS,
    ExportFormat,
    ScriptWriter,
    export_target,
    format_difference,
    has_module,
    runtime,
    write_and_check,
)
from mlp_studio.app.widgets.background import Background, Task
from mlp_studio.core import export
from mlp_studio.core.errors import StudioError
from mlp_studio.core.keras_check import INSTALL_HINT, keras_snippet
from mlp_studio.core.model import parameter_count
from PySide6.QtCore import QSettings, Qt, Signal, Slot
from PySide6.QtGui import QFontDatabase, QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

LAST_FOLDER_KEY = "files/lastModelFolder"
MAX_DIFFERENCE = 1e-4  # float32 rounding gives ~1e-7; more means the file is not the model


class ExportDialog(QDialog):
    """Export `bundle`, verify the file on `pixels` (raw inputs [N, D]: pixels 0-255, or a
    playground model's features) and show how to use it.

    `pixels_label` says what the inputs are ("test images", "test points"). `settings`
    remembers the folder.
    """

    exported = Signal(str, float)  # the file written and verified, its max difference
    finished_job = Signal(bool)  # a write + verify ended (True: written and verified)

    def __init__(
        self,
        bundle: export.ModelBundle,
        pixels: np.ndarray,
        parent: QWidget | None = None,
        *,
        pixels_label: str = "test images",
        settings: QSettings | None = None,
        script: ScriptWriter | None = None,
    ):
        super().__init__(parent)
        self.setWindowTitle("Export model")
        self.bundle = bundle
        self.pixels = np.ascontiguousarray(pixels, dtype=np.float32)
        self.pixels_label = pixels_label
        self.settings = settings if settings is not None else QSettings()
        self.script = script  # writes a Keras script of the experiment (MNIST models only)
        self.max_difference: float | None = None
        self._tasks = Background(self)  # writing and checking; a closed dialog's finishes
        self._job: Task | None = None
        self._path_confirmed = ""  # a path the save dialog already asked about overwriting
        self._build()
        folder = Path(self.settings.value(LAST_FOLDER_KEY, str(Path.home()), str))
        self.path_edit.setText(str(folder / f"mlp-studio-model{FORMATS[0].suffix}"))
        first = next((i for i, f in enumerate(FORMATS) if self._available(f)), 0)
        self.format_buttons.button(first).setChecked(True)
        self._on_format()

    # ------------------------------------------------------------------ building

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        self.intro = intro = QLabel(self.intro_text())
        intro.setWordWrap(True)
        layout.addWidget(intro)

        box = QGroupBox("Format")
        grid = QGridLayout(box)
        grid.setColumnStretch(1, 1)
        grid.setHorizontalSpacing(12)
        self.format_buttons = QButtonGroup(self)
        for i, fmt in enumerate(FORMATS):
            button = QRadioButton(f"{fmt.label} ({fmt.suffix})")
            note = QLabel(fmt.description)
            note.setWordWrap(True)
            note.setForegroundRole(QPalette.ColorRole.PlaceholderText)  # secondary text
            if not self._available(fmt):
                button.setEnabled(False)
                note.setText(f"Needs the {fmt.needs} package: pip install {fmt.needs}"
                             if fmt.needs else "Only for MNIST classifiers: it trains on MNIST.")
            self.format_buttons.addButton(button, i)
            grid.addWidget(button, i, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(note, i, 1, Qt.AlignmentFlag.AlignTop)
        self.format_buttons.idToggled.connect(lambda _i, on: on and self._on_format())
        layout.addWidget(box)

        row = QHBoxLayout()
        row.addWidget(QLabel("File:"))
        self.path_edit = QLineEdit()
        self.path_edit.setMinimumWidth(380)
        self.path_edit.textEdited.connect(self._on_path_edited)
        row.addWidget(self.path_edit, 1)
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self.browse)
        row.addWidget(self.browse_button)
        layout.addLayout(row)

        status = QGridLayout()
        status.setColumnStretch(1, 1)
        status.setHorizontalSpacing(6)
        self.status_icon = QLabel()
        self.status_icon.setFixedWidth(20)
        self.status_icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        status.addWidget(self.status_icon, 0, 0)
        self._idle_status = (
            f"After writing, the file is loaded back and checked against the model on "
            f"{self._how_many()}."
        )
        self._path_error_shown = False
        self.status_label = QLabel(self._idle_status)
        self.status_label.setWordWrap(True)
        self.detail_label = QLabel()
        self.detail_label.setWordWrap(True)
        self.detail_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.detail_label.hide()
        for row, label in enumerate((self.status_label, self.detail_label)):
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            status.addWidget(label, row, 1)
        layout.addLayout(status)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # busy: the exporters report no progress
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.progress.hide()
        layout.addWidget(self.progress)

        usage = QHBoxLayout()
        self.usage_title = QLabel("<b>Use it in Python</b>")
        usage.addWidget(self.usage_title)
        usage.addStretch(1)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the code to the clipboard")
        self.copy_button.clicked.connect(self.copy_snippet)
        usage.addWidget(self.copy_button)
        layout.addLayout(usage)
        self.snippet = QPlainTextEdit()
        self.snippet.setReadOnly(True)
        self.snippet.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.snippet.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        lines = 15  # the longest snippet (safetensors) without scrolling
        self.snippet.setMinimumHeight(self.snippet.fontMetrics().lineSpacing() * lines + 12)
        layout.addWidget(self.snippet, 1)

        buttons = QDialogButtonBox()
        self.export_button = buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.export_button.setDefault(True)
        self.close_button = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.export_button.clicked.connect(self.start_export)
        self.close_button.clicked.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(720, self.sizeHint().height())
        self.export_button.setFocus()

    def _how_many(self) -> str:
        """'1,000 test images', '1 test image' (a tiny folder's test split)."""
        n, label = len(self.pixels), self.pixels_label
        return f"{n:,} {label.removesuffix('s') if n == 1 else label}"

    def intro_text(self) -> str:
        """What the file takes and gives: pixels or playground features in; class
        probabilities, or a regression's predicted values, out."""
        bundle = self.bundle
        n, c = bundle.spec.input_size, bundle.spec.output_size
        kind = bundle.normalization.kind
        if kind == "per_pixel" and not bundle.takes_images:
            kind = "per-feature"  # the same standardization, of each input feature
        if bundle.image_shape:  # a folder's pictures, not digits (even at 28x28 grayscale)
            takes, row = f"{bundle.input_description()} (N × {n})", "image"
        elif bundle.takes_images:
            takes, row = f"raw pixels (N × {n}, values 0–255, digits prepared like MNIST)", "image"
        else:
            names = f": {bundle.feature_list()}" if bundle.feature_names else ""
            takes = (
                f"raw input features (N × {n}{names}, in the units of the training data, "
                "one point per row)"
            )
            row = "point"
        if bundle.task == "regression":
            return (
                f"The file takes {takes} and returns one predicted value per {row}: the raw "
                f"network output, not a probability. The '{kind}' normalization is built in."
            )
        return (
            f"The file takes {takes} and returns {c} class probabilities per {row}: the "
            f"'{kind}' normalization and the conversion of the outputs to probabilities are "
            "built in."
        )

    def _available(self, fmt: ExportFormat) -> bool:
        if fmt.suffix == ".py":
            bundle = self.bundle
            # The script trains on MNIST: not for a folder's pictures, even 28x28 gray ones.
            return (self.script is not None and bundle.takes_images and not bundle.image_shape
                    and bundle.task != "regression")
        return not fmt.needs or has_module(fmt.needs)

    # ------------------------------------------------------------------ format and path

    def current_format(self) -> ExportFormat:
        return FORMATS[max(self.format_buttons.checkedId(), 0)]

    def set_format(self, key: str) -> None:
        index = next(i for i, f in enumerate(FORMATS) if f.key == key)
        self.format_buttons.button(index).setChecked(True)

    def target(self) -> Path | str:
        """The file to write (the typed path with the chosen format's suffix), or why not."""
        return export_target(self.path_edit.text(), self.current_format().suffix)

    def path(self) -> Path | None:
        """The file to write, None while the typed path cannot be written."""
        target = self.target()
        return target if isinstance(target, Path) else None

    def set_path(self, path: str | Path) -> None:
        self.path_edit.setText(str(path))
        self._on_path_edited()

    @Slot()
    def _on_format(self) -> None:
        path = self.path()
        if path is not None:
            self.path_edit.setText(str(path))
        self._update_snippet()
        self._check_path()

    @Slot()
    def _on_path_edited(self) -> None:
        suffix = Path(self.path_edit.text().strip()).suffix.lower()
        for i, fmt in enumerate(FORMATS):
            if fmt.suffix == suffix and self.format_buttons.button(i).isEnabled():
                self.format_buttons.button(i).setChecked(True)
        self._update_snippet()
        self._check_path()

    def _check_path(self) -> None:
        """Say on the spot why the typed path cannot be written; Export waits for a good one."""
        target = self.target()
        problem = isinstance(target, str)
        self.export_button.setEnabled(not problem and not self.busy)
        if problem:
            self._show_status("error", html.escape(target))
            self._path_error_shown = True
        elif self._path_error_shown:
            self._show_status("info", self._idle_status)
            self._path_error_shown = False

    def _update_snippet(self) -> None:
        path = self.path() or Path(f"mlp-studio-model{self.current_format().suffix}")
        if path.suffix == ".keras":
            text = keras_snippet(path, self.bundle)
        elif path.suffix == ".py":
            text = (f"# In a terminal (pip install keras; torch is the default backend here):\n"
                    f"python {str(path)!r}\n"
                    f"python {str(path)!r} --epochs 1 --data /path/to/mnist  # a quick run\n")
        else:
            text = export.usage_snippet(path, self.bundle)
        self.usage_title.setText("<b>Run it</b>" if path.suffix == ".py" else
                                 "<b>Use it in Python</b>")
        self.snippet.setPlainText(text)

    @Slot()
    def browse(self) -> None:
        fmt = self.current_format()
        path, _ = QFileDialog.getSaveFileName(
            self, "Export model", str(self.path()), f"{fmt.label} (*{fmt.suffix})"
        )
        if path:
            self._path_confirmed = str(Path(path).with_suffix(fmt.suffix))
            self.set_path(self._path_confirmed)

    @Slot()
    def copy_snippet(self) -> None:
        QGuiApplication.clipboard().setText(self.snippet.toPlainText())
        self.copy_button.setText("Copied")

    # ------------------------------------------------------------------ exporting

    @property
    def busy(self) -> bool:
        return self._job is not None

    @Slot()
    def start_export(self) -> bool:
        """Write and verify in the background; False if it did not start."""
        if self._job is not None:
            return False
        path = self.target()
        if isinstance(path, str):
            self._check_path()
            return False
        self.path_edit.setText(str(path))
        try:
            export.plan_export(str(path), "The export")
        except StudioError as err:
            self._show_status("error", str(err), "Nothing was written.")
            return False
        if path.exists() and str(path) != self._path_confirmed:
            answer = QMessageBox.question(
                self,
                "Replace the file?",
                f"{path.name} already exists in {path.parent}. Replace it?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return False
        self.max_difference = None
        self._set_busy(True)
        then = "Then it is loaded back and checked." if self.current_format().checked else ""
        self._show_status("busy", f"Writing {path.name}…", then)
        bundle, pixels, script = self.bundle, self.pixels, self.script
        self._job = self._tasks.run(
            lambda _task: write_and_check(bundle, path, pixels, script),
            on_done=self._on_done, on_error=self._on_error,
        )
        return True

    def _on_error(self, err: BaseException) -> None:
        message = str(err) if isinstance(err, StudioError) else (
            f"The export failed unexpectedly: {type(err).__name__}: {err}")
        self._on_done(message)

    def _on_done(self, result) -> None:
        self._job = None
        self._set_busy(False)
        self._path_error_shown = False
        if isinstance(result, str):
            self._show_status("error", result, "Nothing was written, or the old file was kept.")
            self.finished_job.emit(False)
            return
        path, difference = result
        self.max_difference = difference
        self.settings.setValue(LAST_FOLDER_KEY, str(path.parent))
        self._path_confirmed = str(path)  # exporting again overwrites it without asking
        extra = f" and {path.with_suffix('.json').name}" if path.suffix == ".safetensors" else ""
        where = f"Wrote {path.name}{extra} in {path.parent}"
        n = self._how_many()
        outputs = "predicted values" if self.bundle.task == "regression" else "probabilities"
        if difference is None:
            self._show_unchecked(path, where)
        elif difference <= MAX_DIFFERENCE:
            self._show_status(
                "ok",
                f"<b>Verified on {n}</b>, max difference {format_difference(difference)}",
                f"{where}; reloaded with {runtime(path)} and compared with the model.",
            )
        else:
            self._show_status(
                "error",
                f"<b>The file does not match the model</b>: on {n} its {outputs} differ "
                f"by up to {format_difference(difference)}",
                f"{where}. Export again; if it persists, report it.",
            )
        self._update_snippet()
        self.exported.emit(str(path), math.nan if difference is None else difference)
        self.finished_job.emit(difference is None or difference <= MAX_DIFFERENCE)

    def _show_unchecked(self, path: Path, where: str) -> None:
        """A Keras script (nothing to load back), or a .keras file without Keras to check it."""
        if path.suffix == ".py":
            count = parameter_count(self.bundle.spec)
            self._show_status(
                "ok", f"<b>Wrote the Keras script {path.name}</b>: it builds this network "
                f"({count:,} trainable parameters) and trains it",
                f"{where}. Run it as shown below; any Keras 3 backend works.")
        else:
            self._show_status(
                "ok", f"<b>Wrote {path.name}</b>, not checked: Keras is not installed here",
                f"{where}. To check it, install Keras ({INSTALL_HINT}) and export again, or "
                "load it in Keras with the code below.")

    def _set_busy(self, busy: bool) -> None:
        for widget in (self.export_button, self.browse_button, self.path_edit):
            widget.setEnabled(not busy)
        for button in self.format_buttons.buttons():
            button.setEnabled(not busy and self._available(FORMATS[self.format_buttons.id(button)]))
        self.progress.setVisible(busy)
        if not busy:
            self._check_path()

    def _show_status(self, kind: str, html: str, detail: str = "") -> None:
        icons = {
            "ok": QStyle.StandardPixmap.SP_DialogApplyButton,
            "error": QStyle.StandardPixmap.SP_MessageBoxWarning,
            "busy": QStyle.StandardPixmap.SP_BrowserReload,
        }
        size = self.fontMetrics().height()
        if kind in icons:
            self.status_icon.setPixmap(self.style().standardIcon(icons[kind]).pixmap(size, size))
        else:
            self.status_icon.clear()
        self.status_label.setText(html)
        self.detail_label.setText(detail)
        self.detail_label.setVisible(bool(detail))

    def status_text(self) -> str:
        """The status lines as plain text (tests and screenshots read it)."""
        text = f"{self.status_label.text()}\n{self.detail_label.text()}".strip()
        return re.sub(r"<[^>]+>", "", text)

    def reject(self) -> None:
        # A running job finishes in the background (the file is written atomically); its
        # result is simply not shown.
        super().reject()
