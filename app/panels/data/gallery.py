"""A gallery of training/validation/test images with their labels, filterable by split and class.

The images are drawn as they are stored (white ink on black, 28x28, no smoothing) so the
student sees exactly what the network receives before normalization.
"""

from __future__ import annotations

import numpy as np
from mlp_studio.core.data import PreparedData
from PySide6.QtCore import QRect, QRectF, QSize, Qt
from PySide6.QtGui import QFont, QImage, QPainter, QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

SPLITS = (("train", "Training"), ("val", "Validation"), ("test", "Test"))
LABEL_HEIGHT = 13  # pixels under each tile for its label


def _qimage(image: np.ndarray) -> QImage:
    """uint8 [H, W] (grayscale) or [H, W, 3] (RGB) as a QImage that owns its pixels (QImage
    does not own numpy memory: copied)."""
    pixels = np.ascontiguousarray(image, dtype=np.uint8)
    h, w = pixels.shape[:2]
    if pixels.ndim == 3:
        return QImage(pixels.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QImage(pixels.data, w, h, w, QImage.Format.Format_Grayscale8).copy()


class DigitGrid(QWidget):
    """Paints `columns` x `rows` digit tiles, each with its label underneath."""

    def __init__(self, columns: int = 8, rows: int = 6, parent: QWidget | None = None):
        super().__init__(parent)
        self.columns, self.rows = columns, rows
        self._images: list[QImage] = []
        self._labels: list[str] = []
        self._tips: list[str] = []
        self._empty_text = "No images"
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)

    def set_samples(
        self, images: np.ndarray, labels: list[str], tips: list[str] | None = None
    ) -> None:
        """images uint8 [K, H, W] or [K, H, W, 3] (K <= columns * rows), one label (and
        tooltip) each."""
        self._images = [_qimage(im) for im in images]
        self._labels = list(labels)
        self._tips = list(tips) if tips is not None else list(labels)
        self.updateGeometry()
        self.update()

    def set_empty_text(self, text: str) -> None:
        self._empty_text = text
        self.update()

    def labels(self) -> list[str]:
        return list(self._labels)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        if not self._images:
            return 60  # room for the "no images" note, not a screenful of nothing
        return self.rows * (width // self.columns - 2 + LABEL_HEIGHT) + 4

    def sizeHint(self) -> QSize:
        return QSize(self.columns * 46, self.heightForWidth(self.columns * 46))

    def minimumSizeHint(self) -> QSize:
        return QSize(self.columns * 28, self.heightForWidth(self.columns * 28))

    def _cell(self, i: int) -> tuple[QRect, QRect]:
        """Tile and label rectangles of sample i."""
        cell_w = self.width() // self.columns
        side = cell_w - 4
        left = (self.width() - cell_w * self.columns) // 2
        row, col = divmod(i, self.columns)
        x = left + col * cell_w + 2
        y = row * (side + 2 + LABEL_HEIGHT) + 2
        return QRect(x, y, side, side), QRect(x, y + side, side, LABEL_HEIGHT)

    def paintEvent(self, event: object) -> None:
        p = QPainter(self)
        pal = self.palette()
        if not self._images:
            p.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._empty_text)
            return
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        p.setFont(font)
        p.setPen(pal.color(QPalette.ColorRole.WindowText))
        for i, (image, label) in enumerate(zip(self._images, self._labels, strict=True)):
            tile, text = self._cell(i)
            p.drawImage(QRectF(tile), image)  # nearest-neighbour: the pixels as the net sees them
            p.drawText(text, Qt.AlignmentFlag.AlignCenter, label)

    def event(self, e: object) -> bool:
        if e.type() == e.Type.ToolTip:
            pos = e.pos()
            for i in range(len(self._images)):
                tile, text = self._cell(i)
                if tile.united(text).contains(pos):
                    QToolTip.showText(e.globalPos(), self._tips[i], self)
                    return True
            QToolTip.hideText()
            return True
        return super().event(e)


class SampleGallery(QWidget):
    """Split and class filters, a Shuffle button, and a DigitGrid of matching samples."""

    def __init__(self, parent: QWidget | None = None, columns: int = 8, rows: int = 6):
        super().__init__(parent)
        self._data: PreparedData | None = None
        self._rng = np.random.default_rng()
        self._shuffled = False
        self._order: np.ndarray | None = None  # a random permutation after Shuffle

        self.split_combo = QComboBox()
        for key, name in SPLITS:
            self.split_combo.addItem(name, key)
        self.class_combo = QComboBox()
        self.class_combo.addItem("All classes", None)
        self.shuffle_button = QPushButton("Shuffle")
        self.shuffle_button.setToolTip("Show other random samples")
        self.count_label = QLabel()
        self.count_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.grid = DigitGrid(columns, rows)

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.split_combo, 1)
        row.addWidget(self.class_combo, 1)
        row.addWidget(self.shuffle_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(row)
        layout.addWidget(self.grid)
        layout.addWidget(self.count_label)

        self.split_combo.currentIndexChanged.connect(self._refresh)
        self.class_combo.currentIndexChanged.connect(self._refresh)
        self.shuffle_button.clicked.connect(self.shuffle)
        self._refresh()

    def set_data(self, data: PreparedData | None) -> None:
        """Show samples of new prepared data, keeping the chosen split and class if they exist."""
        self._data = data
        names = list(data.class_names) if data is not None else []
        current = self.class_combo.currentData()
        if [self.class_combo.itemText(i) for i in range(1, self.class_combo.count())] != names:
            self.class_combo.blockSignals(True)
            self.class_combo.clear()
            self.class_combo.addItem("All classes", None)
            for c, name in enumerate(names):
                self.class_combo.addItem(f"Class {name}", c)
            keep = current if current is not None and current < len(names) else None
            self.class_combo.setCurrentIndex(self.class_combo.findData(keep))
            self.class_combo.blockSignals(False)
        self._refresh()

    def shuffle(self) -> None:
        self._shuffled = True
        self._refresh()

    def _refresh(self) -> None:
        data = self._data
        images = getattr(data, f"raw_{self.split_combo.currentData()}", None) if data else None
        if data is None or images is None:
            self.grid.set_samples(np.zeros((0, 28, 28), np.uint8), [])
            self.grid.set_empty_text("No images loaded" if data is None else "No images to show")
            self.count_label.setText("")
            return
        split = self.split_combo.currentData()
        labels = getattr(data, f"y_{split}").numpy()
        wanted = self.class_combo.currentData()
        candidates = np.arange(len(labels)) if wanted is None else np.flatnonzero(labels == wanted)
        k = min(self.grid.columns * self.grid.rows, len(candidates))
        # The splits are already shuffled by core.data, so the first k are a fair sample.
        if self._shuffled:
            chosen = self._rng.choice(candidates, k, replace=False)
        else:
            chosen = candidates[:k]
        names = data.class_names
        self.grid.set_samples(
            images[chosen],
            [names[labels[i]] for i in chosen],
            [f"{dict(SPLITS)[split]} sample #{i}: label {names[labels[i]]}" for i in chosen],
        )
        self.grid.set_empty_text("No images of this class in this split")
        self.count_label.setText(f"{k} of {len(candidates):,} images shown")
