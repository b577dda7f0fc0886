"""The samples behind one confusion-matrix cell: true class t predicted as p, surest first.

MNIST splits show the images; 2-D playground data (no images) shows the feature values.
"""

from __future__ import annotations

import numpy as np
from mlp_studio.core.metrics import Metrics
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

MAX_SHOWN = 600  # more thumbnails than anyone will scan; keeps opening instant
THUMB = 56  # 28x28 at 2x, nearest neighbour: pixels stay visible


def thumbnail(image: np.ndarray, size: int = THUMB) -> QPixmap:
    """A uint8 [H, W] (grayscale) or [H, W, 3] (RGB) image as a scaled, blocky pixmap."""
    pixels = np.ascontiguousarray(image, dtype=np.uint8)
    h, w = pixels.shape[:2]
    if pixels.ndim == 3:
        qimage = QImage(pixels.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    else:
        qimage = QImage(pixels.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    return QPixmap.fromImage(qimage).scaled(
        size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation
    )


class MistakesDialog(QDialog):
    def __init__(
        self,
        indices: np.ndarray,
        metrics: Metrics,
        class_names: list[str],
        split: str,
        images: np.ndarray | None = None,
        features: np.ndarray | None = None,
        parent: QWidget | None = None,
        feature_names: list[str] | None = None,
    ):
        """`features`: the normalized inputs the network saw; or, with `feature_names` (a
        table's columns, one per input), the values in the data's own units."""
        super().__init__(parent)
        self.indices = np.array(indices, dtype=np.int64)
        if len(self.indices):
            true = class_names[int(metrics.labels[self.indices[0]])]
            predicted = class_names[int(metrics.predictions[self.indices[0]])]
        else:
            true = predicted = "?"
        self.setWindowTitle(f"True {true}, predicted {predicted} ({split})")
        n = len(self.indices)
        shown = self.indices[:MAX_SHOWN]
        more = f"; the {MAX_SHOWN} most confident are shown" if n > MAX_SHOWN else ""
        header = QLabel(
            f"<b>{n}</b> {split} sample{'s' if n != 1 else ''} of class <b>{true}</b> "
            f"predicted as <b>{predicted}</b>, most confident mistakes first{more}."
        )
        header.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(header)

        if images is not None:
            self.view = QListWidget()
            self.view.setViewMode(QListView.ViewMode.IconMode)
            self.view.setIconSize(QSize(THUMB, THUMB))
            self.view.setGridSize(QSize(THUMB + 22, THUMB + 34))
            self.view.setResizeMode(QListView.ResizeMode.Adjust)
            self.view.setMovement(QListView.Movement.Static)
            self.view.setUniformItemSizes(True)
            self.view.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
            for index in shown:
                conf = float(metrics.confidence[index])
                item = QListWidgetItem(QIcon(thumbnail(images[index])), f"{conf:.0%}\n#{index}")
                item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter)
                item.setToolTip(
                    f"{split} sample #{index}: true {true}, predicted {predicted} "
                    f"with {conf:.1%} confidence"
                )
                item.setData(Qt.ItemDataRole.UserRole, int(index))
                self.view.addItem(item)
            self.resize(640, 480)
        else:
            self.view = QTableWidget(len(shown), 0)
            d = 0 if features is None else features.shape[1]
            named = feature_names is not None and len(feature_names) == d
            columns = feature_names if named else [f"x{j + 1}" for j in range(d)]
            names = ["sample", *columns, "confidence"]
            self.view.setColumnCount(len(names))
            self.view.setHorizontalHeaderLabels(names)
            self.view.verticalHeader().setVisible(False)
            self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
            for row, index in enumerate(shown):
                values = [str(index)]
                if features is not None:
                    values += [f"{v:.4g}" for v in features[index]]
                values.append(f"{float(metrics.confidence[index]):.1%}")
                for col, text in enumerate(values):
                    cell = QTableWidgetItem(text)
                    cell.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                    self.view.setItem(row, col, cell)
            self.view.resizeColumnsToContents()
            # wide enough for every column of a small table, up to a sensible size
            self.resize(min(900, max(420, self.view.horizontalHeader().length() + 60)), 420)
        layout.addWidget(self.view, 1)
        if features is not None and images is None:
            one_hot = named and any("=" in name for name in columns)
            note = QLabel(
                ("Values in the data's own units" + (
                    "; a category's column is 1 for the row's category." if one_hot else "."))
                if named else "Features are the normalized inputs the network saw.")
            note.setWordWrap(True)
            layout.addWidget(note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def shown_indices(self) -> list[int]:
        """The sample indices in display order (for checks and copy-paste)."""
        if isinstance(self.view, QListWidget):
            return [self.view.item(i).data(Qt.ItemDataRole.UserRole)
                    for i in range(self.view.count())]  # fmt: skip
        return [int(self.view.item(r, 0).text()) for r in range(self.view.rowCount())]
