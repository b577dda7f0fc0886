"""The Data dock's look at a CSV table before it trains: its first rows, each column's type and
missing values, and which column is the target (highlighted). It shows core.tables.preview()."""

from __future__ import annotations

from PySide6.QtCore import (
    QAbstractTableModel,
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QSize,
    Qt,
)
from PySide6.QtGui import QBrush, QFont, QPalette
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

Index = QModelIndex | QPersistentModelIndex
ROOT = QModelIndex()  # the table's (invalid) parent index


KIND_WORDS = {"numeric": "number", "categorical": "category"}  # else as core says ("left out")


class TablePreviewModel(QAbstractTableModel):
    """Rows 0-1: each column's type and missing count; then the first rows of the file."""

    SUMMARY_ROWS = 2

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.table = None  # a core.tables.TablePreview
        self.target = -1
        self.highlight = QBrush()

    def set_preview(self, preview) -> None:
        """Show a core.tables.TablePreview (None: nothing); its target is highlighted."""
        self.beginResetModel()
        self.table = preview
        self.target = preview.header.index(preview.target) if (
            preview is not None and preview.target in preview.header) else -1
        self.endResetModel()

    def set_target(self, target: int) -> None:
        if target != self.target and self.table is not None:
            self.target = target
            last = self.index(self.rowCount() - 1, self.columnCount() - 1)
            self.dataChanged.emit(self.index(0, 0), last)
            self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, self.columnCount() - 1)

    def rowCount(self, parent: Index = ROOT) -> int:
        if parent.isValid() or self.table is None:
            return 0
        return self.SUMMARY_ROWS + len(self.table.rows)

    def columnCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() or self.table is None else len(self.table.header)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        table = self.table
        if table is None or not index.isValid():
            return None
        row, col = index.row(), index.column()
        column = table.columns[col]
        if role == Qt.ItemDataRole.DisplayRole:
            if row == 0:
                return KIND_WORDS.get(column.kind, column.kind)
            if row == 1:
                return f"{column.missing:,} missing" if column.missing else "complete"
            values = table.rows[row - self.SUMMARY_ROWS]
            return values[col] if col < len(values) else ""
        if role == Qt.ItemDataRole.FontRole and (row < self.SUMMARY_ROWS or col == self.target):
            font = QFont()
            font.setItalic(row < self.SUMMARY_ROWS)
            font.setBold(col == self.target)
            return font
        if role == Qt.ItemDataRole.BackgroundRole and col == self.target:
            return self.highlight
        if role == Qt.ItemDataRole.ForegroundRole:
            if column.kind not in KIND_WORDS:  # left out of the inputs: greyed
                return QBrush(Qt.GlobalColor.gray)
            if row == 1 and column.missing:
                return QBrush(Qt.GlobalColor.darkRed)
        if role == Qt.ItemDataRole.TextAlignmentRole and row >= self.SUMMARY_ROWS:
            numeric = column.kind == "numeric"
            horizontal = Qt.AlignmentFlag.AlignRight if numeric else Qt.AlignmentFlag.AlignLeft
            return int(horizontal | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == self.target:
                return "The target: what the network learns to predict"
            if column.why:
                return column.why
            if column.missing and column.kind in KIND_WORDS:
                how = "median" if column.kind == "numeric" else "most frequent value"
                return f"{column.missing:,} missing values are filled with the {how}"
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole):  # fmt: skip
        table = self.table
        if table is None:
            return None
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                name = table.header[section]
                return f"{name} (target)" if section == self.target else name
            if role == Qt.ItemDataRole.FontRole and section == self.target:
                font = QFont()
                font.setBold(True)
                return font
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return ("type", "missing")[section] if section < self.SUMMARY_ROWS else (
                str(section - self.SUMMARY_ROWS + 1))
        return None


class TablePreviewView(QTableView):
    """The first rows of a CSV with each column's type and missing count; the target column
    is highlighted. Read-only."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.preview_model = TablePreviewModel(self)
        self.setModel(self.preview_model)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.setWordWrap(False)
        self._update_highlight()

    def sizeHint(self) -> QSize:
        return QSize(380, 220)

    def set_preview(self, preview) -> None:
        """Show a core.tables.TablePreview, or nothing (None)."""
        self.preview_model.set_preview(preview)

    def set_target(self, target: int) -> None:
        self.preview_model.set_target(target)
        if target >= 0:
            self.scrollTo(self.preview_model.index(0, target))

    def _update_highlight(self) -> None:
        color = self.palette().color(QPalette.ColorRole.Highlight)
        color.setAlpha(60)
        self.preview_model.highlight = QBrush(color)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._update_highlight()
        super().changeEvent(event)
