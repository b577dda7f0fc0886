"""Confusion matrix (rows = true class, columns = predicted) and per-class scores.

The matrix is a small custom-painted widget: crisp counts in every cell, colours from the
palette (correct share in blue on the diagonal, mistakes in orange), and clickable cells that
open the misclassified samples, most confident first.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from mlp_studio.app.dialogs.mistakes_dialog import MistakesDialog
from mlp_studio.app.panels.training.live_plots import TRAIN_COLOR, VAL_COLOR, caption
from mlp_studio.app.panels.training.plot_export import ExportTarget, export_svg
from mlp_studio.app.panels.training.split_results import SplitResults
from mlp_studio.core.data import PreparedData
from mlp_studio.core.metrics import Metrics
from PySide6.QtCore import QEvent, QPoint, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QMouseEvent, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QToolTip,
    QVBoxLayout,
    QWidget,
)


def _mix(base: QColor, tint: QColor, amount: float) -> QColor:
    a = min(max(amount, 0.0), 1.0)
    return QColor.fromRgbF(
        base.redF() + (tint.redF() - base.redF()) * a,
        base.greenF() + (tint.greenF() - base.greenF()) * a,
        base.blueF() + (tint.blueF() - base.blueF()) * a,
    )


def _readable_on(color: QColor) -> QColor:
    luminance = 0.2126 * color.redF() + 0.7152 * color.greenF() + 0.0722 * color.blueF()
    return QColor(Qt.GlobalColor.black) if luminance > 0.55 else QColor(Qt.GlobalColor.white)


class ConfusionMatrixWidget(QWidget):
    """Paints a confusion matrix; emits cellClicked(true, predicted) for mistake cells."""

    cellClicked = Signal(int, int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.matrix: np.ndarray | None = None
        self.class_names: list[str] = []
        self.setMouseTracking(True)
        self.setMinimumSize(240, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._hover: tuple[int, int] | None = None

    def sizeHint(self) -> QSize:
        return QSize(380, 380)

    def set_matrix(self, matrix: np.ndarray | None, class_names: list[str]) -> None:
        # An empty matrix (regression: no classes) is drawn as "no matrix", not divided by 0.
        self.matrix = None if matrix is None or len(matrix) == 0 else np.array(matrix, np.int64)
        self.class_names = list(class_names)
        self.update()

    # ---- geometry ----

    def _layout(self) -> tuple[int, int, float]:
        """Left and top edges of the grid and the cell size."""
        n = len(self.matrix)
        fm = self.fontMetrics()
        label_w = max((fm.horizontalAdvance(name) for name in self.class_names), default=10)
        left = fm.height() + 8 + label_w + 8  # "true" title, class names
        top = fm.height() + 8 + fm.height() + 6  # "predicted" title, class names
        cell = max(8.0, min((self.width() - left - 6) / n, (self.height() - top - 6) / n))
        # Centre the grid horizontally in the spare room.
        spare = self.width() - left - 6 - cell * n
        return int(left + max(spare, 0) / 2), top, cell

    def cell_rect(self, row: int, col: int) -> QRect:
        left, top, cell = self._layout()
        return QRectF(left + col * cell, top + row * cell, cell, cell).toRect()

    def cell_at(self, pos: QPoint) -> tuple[int, int] | None:
        if self.matrix is None:
            return None
        left, top, cell = self._layout()
        col = int((pos.x() - left) // cell)
        row = int((pos.y() - top) // cell)
        n = len(self.matrix)
        if 0 <= row < n and 0 <= col < n and pos.x() >= left and pos.y() >= top:
            return row, col
        return None

    def cell_text(self, row: int, col: int) -> str:
        """What a cell shows: its count."""
        return str(int(self.matrix[row, col]))

    def _clickable(self, cell: tuple[int, int] | None) -> bool:
        return cell is not None and cell[0] != cell[1] and self.matrix[cell] > 0

    # ---- painting ----

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        pal = self.palette()
        text = pal.color(QPalette.ColorRole.Text)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        if self.matrix is None:
            painter.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(
                self.rect(),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                "The confusion matrix appears after the first epoch.",
            )
            return
        m = self.matrix
        n = len(m)
        left, top, cell = self._layout()
        fm = self.fontMetrics()
        base = pal.color(QPalette.ColorRole.Base)
        rows = m.sum(1, keepdims=True).astype(np.float64)
        share = np.divide(m, rows, out=np.zeros(m.shape), where=rows > 0)
        off = share.copy()
        np.fill_diagonal(off, 0)
        worst = off.max() if off.max() > 0 else 1.0

        font = QFont(self.font())
        font.setPointSizeF(max(6.0, min(font.pointSizeF(), cell * 0.32)))
        painter.setFont(font)
        for r in range(n):
            for c in range(n):
                rect = QRectF(left + c * cell, top + r * cell, cell, cell)
                if r == c:
                    color = _mix(base, TRAIN_COLOR, 0.15 + 0.85 * share[r, c])
                elif m[r, c]:
                    # Square root: a handful of mistakes is still visible next to the worst.
                    color = _mix(base, VAL_COLOR, 0.12 + 0.88 * np.sqrt(off[r, c] / worst))
                else:
                    color = base
                painter.fillRect(rect, color)
                if self._hover == (r, c) and self._clickable((r, c)):
                    painter.setPen(text)
                    painter.drawRect(rect.adjusted(1, 1, -2, -2))
                painter.setPen(
                    _readable_on(color)
                    if m[r, c]
                    else pal.color(QPalette.ColorRole.PlaceholderText)
                )
                painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, self.cell_text(r, c))
        grid = QColor(pal.color(QPalette.ColorRole.Mid))
        painter.setPen(grid)
        painter.drawRect(QRectF(left, top, cell * n, cell * n))

        painter.setFont(self.font())
        painter.setPen(text)
        for i, name in enumerate(self.class_names):
            painter.drawText(
                QRectF(left + i * cell, top - fm.height() - 4, cell, fm.height()),
                Qt.AlignmentFlag.AlignCenter,
                name,
            )
            painter.drawText(
                QRectF(0, top + i * cell, left - 6, cell),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                name,
            )
        bold = QFont(self.font())
        bold.setBold(True)
        painter.setFont(bold)
        painter.drawText(
            QRectF(left, 0, cell * n, fm.height() + 4), Qt.AlignmentFlag.AlignCenter, "predicted"
        )
        painter.save()
        painter.translate(2, top + cell * n / 2)
        painter.rotate(-90)
        painter.drawText(
            QRectF(-cell * n / 2, 0, cell * n, fm.height() + 4),
            Qt.AlignmentFlag.AlignCenter,
            "true",
        )
        painter.restore()

    # ---- interaction ----

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        cell = self.cell_at(event.position().toPoint())
        if cell != self._hover:
            self._hover = cell
            self.setCursor(
                Qt.CursorShape.PointingHandCursor
                if self._clickable(cell)
                else Qt.CursorShape.ArrowCursor
            )
            self.update()
        if cell is not None:
            r, c = cell
            names = self.class_names
            count = int(self.matrix[r, c])
            tip = f"true {names[r]}, predicted {names[c]}: {count} sample{'s' * (count != 1)}"
            if self._clickable(cell):
                tip += "\nclick to see them"
            QToolTip.showText(event.globalPosition().toPoint(), tip, self)
        super().mouseMoveEvent(event)

    def leaveEvent(self, event: QEvent) -> None:
        self._hover = None
        self.update()
        super().leaveEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        cell = self.cell_at(event.position().toPoint())
        if event.button() == Qt.MouseButton.LeftButton and self._clickable(cell):
            self.cellClicked.emit(*cell)
        super().mousePressEvent(event)


@dataclass(frozen=True)
class _Result:
    metrics: Metrics
    data: PreparedData | None  # the data the metrics index into (kept: it may be replaced)
    split: str  # "validation" | "test"
    note: str  # e.g. "epoch 3"
    feature_names: list[str]  # a table's inputs by name ([]: pixels, or unknown)


class ConfusionView(QWidget, SplitResults):
    """Latest validation metrics (per epoch) or the final test metrics, chosen by the user."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._init_split_results()
        self.summary = QLabel("")
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setWordWrap(True)
        self.matrix = ConfusionMatrixWidget()
        self.matrix.cellClicked.connect(self.open_mistakes)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["precision", "recall", "F1", "n"])
        self.table.horizontalHeaderItem(3).setToolTip("support: samples of the class")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setMinimumWidth(
            self.fontMetrics().horizontalAdvance("weighted" + " precision" * 4) + 30
        )

        top = QHBoxLayout()
        top.addWidget(QLabel("Show"))
        top.addWidget(self.source)
        top.addWidget(self.summary, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.matrix)
        side = QWidget()  # the table as tall as its rows, blank space below
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.table)
        side_layout.addStretch(1)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 1)  # the matrix takes what the table leaves
        splitter.setStretchFactor(1, 0)
        splitter.setChildrenCollapsible(False)
        self.splitter = splitter
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)
        layout.addWidget(caption(
            "Rows: true class, columns: predicted class. Blue: share of each class recognised; "
            "orange: mistakes. Click an orange cell to see its samples, surest mistakes first."
        ))  # fmt: skip
        self._show()

    def _side_by_side_width(self) -> int:
        """The width below which the table goes under the matrix instead of beside it."""
        return (self.matrix.minimumSizeHint().width() + self.table.minimumWidth()
                + self.splitter.handleWidth() + 8)

    def minimumSizeHint(self) -> QSize:
        # Narrow docks stack the table under the matrix (resizeEvent), so the page never
        # forces the Training panel wider than a small screen.
        hint = super().minimumSizeHint()
        return QSize(min(hint.width(), self.table.minimumWidth() + 8), hint.height())

    def resizeEvent(self, event) -> None:
        wide = event.size().width() >= self._side_by_side_width()
        orientation = Qt.Orientation.Horizontal if wide else Qt.Orientation.Vertical
        if self.splitter.orientation() != orientation:
            self.splitter.setOrientation(orientation)
        super().resizeEvent(event)

    # ---- data in ----

    def set_metrics(
        self, split: str, metrics: Metrics, data: PreparedData | None, note: str = "",
        feature_names: list[str] | None = None,
    ) -> None:
        """Store results of a split ("validation" or "test"); drawn on the next redraw.
        `feature_names` name the data's inputs (a table's columns) for its mistakes."""
        self._results[split] = _Result(metrics, data, split, note, list(feature_names or []))
        self.dirty = True

    def _show(self) -> None:
        result = self.current()
        if result is None:
            self.matrix.set_matrix(None, [])
            self.table.setRowCount(0)
            self.summary.setText(
                ""
                if self.source.currentData() == "validation"
                else "The test set is evaluated when training ends."
            )
            return
        m = result.metrics
        names = self._class_names(result)
        self.matrix.set_matrix(m.confusion, names)
        macro, weighted = m.macro, m.weighted
        rows = [*names, "macro", "weighted"]
        self.table.setRowCount(len(rows))
        self.table.setVerticalHeaderLabels(rows)
        values = [(m.precision[i], m.recall[i], m.f1[i], int(m.support[i]))
                  for i in range(len(names))]  # fmt: skip
        total = int(m.support.sum())
        values.append((macro["precision"], macro["recall"], macro["f1"], total))
        values.append((weighted["precision"], weighted["recall"], weighted["f1"], total))
        model = self.table.model()
        model.blockSignals(True)  # one dataChanged for the table below, not one per cell
        try:
            self._fill(values, len(names))
        finally:
            model.blockSignals(False)
        model.dataChanged.emit(model.index(0, 0),
                               model.index(len(rows) - 1, self.table.columnCount() - 1))
        frame = 2 * self.table.frameWidth()
        self.table.setFixedHeight(
            self.table.verticalHeader().length() + self.table.horizontalHeader().height() + frame
        )
        note = f" ({result.note})" if result.note else ""
        self.summary.setText(
            f"Accuracy <b>{m.accuracy:.2%}</b> on {total:,} {result.split} samples{note}"
            f" · loss {m.loss:.4g}"
        )

    def _fill(self, values: list[tuple], classes: int) -> None:
        """The per-class table's cells (rows past `classes` in bold: the averages); the cells
        are made once and re-filled, as scrubbing re-shows them many times a second."""
        for r, row in enumerate(values):
            for c, value in enumerate(row):
                text = str(value) if c == 3 else f"{value:.3f}"
                item = self.table.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)  # fmt: skip
                    self.table.setItem(r, c, item)
                bold = r >= classes
                if item.font().bold() != bold:
                    font = item.font()
                    font.setBold(bold)
                    item.setFont(font)
                item.setText(text)

    @staticmethod
    def _class_names(result: _Result) -> list[str]:
        n = len(result.metrics.confusion)
        if result.data is not None and len(result.data.class_names) == n:
            return list(result.data.class_names)
        return [str(i) for i in range(n)]

    # ---- the mistakes of one cell ----

    def open_mistakes(self, true_class: int, predicted_class: int) -> MistakesDialog | None:
        """Open (non-modal) the samples of one cell; returns the dialog."""
        result = self.current()
        if result is None:
            return None
        indices = result.metrics.mistakes(true_class, predicted_class)
        data = result.data
        images = features = names = None
        if data is not None:
            key = "val" if result.split == "validation" else "test"
            images = getattr(data, f"raw_{key}")
            if images is None:
                features = getattr(data, f"x_{key}").numpy()
                if len(result.feature_names) == features.shape[1]:
                    # named columns: shown in the file's units, as the user knows them
                    norm = data.normalization
                    names, features = result.feature_names, features * norm.std + norm.mean
        dialog = MistakesDialog(
            indices,
            result.metrics,
            self._class_names(result),
            result.split,
            images=images,
            features=features,
            parent=self,
            feature_names=names,
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    # ---- export ----

    def export_targets(self) -> list[ExportTarget]:
        return [
            ExportTarget("Confusion matrix", ("png", "svg"), self.export_image),
            ExportTarget("Confusion and scores", ("csv",), self.export_csv),
        ]

    def export_image(self, path: str | Path) -> Path:
        path = Path(path)
        if path.suffix.lower() == ".svg":
            return export_svg(self.splitter, path)
        if not self.splitter.grab().save(str(path)):
            raise OSError("the image could not be written")
        return path

    def export_csv(self, path: str | Path) -> Path:
        """The matrix (rows = true) and the per-class scores, one CSV with two blocks."""
        result = self.current()
        if result is None:
            raise ValueError("There is no confusion matrix yet: train for at least one epoch.")
        m, names = result.metrics, self._class_names(result)
        with open(path, "w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["true \\ predicted", *names])
            for name, row in zip(names, m.confusion, strict=True):
                out.writerow([name, *(int(v) for v in row)])
            out.writerow([])
            out.writerow(["class", "precision", "recall", "f1", "support"])
            for i, name in enumerate(names):
                out.writerow(
                    [
                        name,
                        f"{m.precision[i]:.6f}",
                        f"{m.recall[i]:.6f}",
                        f"{m.f1[i]:.6f}",
                        int(m.support[i]),
                    ]
                )
            for label, avg in (("macro avg", m.macro), ("weighted avg", m.weighted)):
                out.writerow(
                    [
                        label,
                        *(f"{avg[k]:.6f}" for k in ("precision", "recall", "f1")),
                        int(m.support.sum()),
                    ]
                )
            out.writerow(["accuracy", f"{m.accuracy:.6f}"])
        return Path(path)
