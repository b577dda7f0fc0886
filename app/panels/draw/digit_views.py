"""Small painted views for the drawing canvas panel: an image tile with a caption, the class
probability bars and a heatmap of one layer's activations.

They are plain QPainter widgets (no plot items), so an update costs one repaint of a small
area: the canvas panel refreshes them on every stroke.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """uint8 [H, W, 3] -> an RGB888 QImage that owns its pixels."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w, _ = rgb.shape
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def gray_levels(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Map [low, high] to 0-255 (float), as the tiles show it."""
    span = high - low if high > low else 1.0
    return np.clip((np.asarray(values, np.float32) - low) * (255.0 / span), 0.0, 255.0)


def _lookup_table(colors: list[tuple[int, int, int]]) -> np.ndarray:
    positions = np.linspace(0.0, 1.0, len(colors))
    table = pg.ColorMap(positions, colors).getLookupTable(nPts=256, alpha=False)
    table = np.asarray(table, np.uint8)
    table.flags.writeable = False
    return table


# Zero is dark in both maps, so an inactive unit looks off whichever activation the layer has.
SEQUENTIAL = np.asarray(pg.colormap.get("inferno").getLookupTable(nPts=256, alpha=False), np.uint8)
SEQUENTIAL.flags.writeable = False
# Negative orange, positive blue (app/widgets/sign_colors.py), through black.
DIVERGING = _lookup_table([(255, 170, 50), (120, 50, 10), (0, 0, 0), (30, 60, 110), (90, 170, 255)])


def caption_color(widget: QWidget, muted: bool = False) -> QColor:
    role = QPalette.ColorRole.PlaceholderText if muted else QPalette.ColorRole.WindowText
    return widget.palette().color(role)


def mix(a: QColor, b: QColor, t: float) -> QColor:
    """The opaque colour t of the way from a to b. Opaque fills paint several times faster
    than translucent ones, and these views repaint on every stroke."""
    channels = zip(a.getRgbF()[:3], b.getRgbF()[:3], strict=True)
    return QColor.fromRgbF(*(x + (y - x) * t for x, y in channels))


def _opaque(widget: QWidget) -> None:
    """The widget's paintEvent fills all of it: Qt can skip repainting what is underneath."""
    widget.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)


def _background(widget: QWidget, painter: QPainter, event) -> None:
    painter.fillRect(event.rect(), widget.palette().color(QPalette.ColorRole.Window))


class ImageTile(QWidget):
    """A square image on black with a title and a caption under it; optional overlays: a box
    (top, left, bottom, right) and a cross marker (row, col), both in image pixels."""

    clicked = Signal()

    def __init__(self, title: str, smooth: bool = False, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = title
        self.smooth = smooth
        self._image: QImage | None = None
        self._caption = ""
        self._box: tuple[int, int, int, int] | None = None
        self._marker: tuple[float, float] | None = None
        self._placeholder = ""
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMinimumSize(56, 56 + 2 * self._line_height())
        _opaque(self)

    def set_image(
        self,
        image: QImage | None,
        caption: str = "",
        box: tuple[int, int, int, int] | None = None,
        marker: tuple[float, float] | None = None,
    ) -> None:
        self._image, self._caption, self._box, self._marker = image, caption, box, marker
        self.update()

    def set_placeholder(self, text: str) -> None:
        """Shown on the tile when it has no image."""
        self._placeholder = text
        self.update()

    def image(self) -> QImage | None:
        return self._image

    def mouseReleaseEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(
            event.position().toPoint()
        ):
            self.clicked.emit()
        super().mouseReleaseEvent(event)

    def caption(self) -> str:
        return self._caption

    def _line_height(self) -> int:
        return QFontMetrics(self._small_font()).height()

    def _small_font(self) -> QFont:
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        return font

    def sizeHint(self) -> QSize:
        return QSize(84, 84 + 2 * self._line_height() + 4)

    def square(self) -> QRectF:
        """Where the image area is drawn (whole pixels, inside a 1-pixel frame)."""
        side = max(8, min(self.width() - 2, self.height() - 2 * self._line_height() - 6))
        return QRectF((self.width() - side) // 2, 1, side, side)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        _background(self, painter, event)
        square = self.square()
        painter.fillRect(square, QColor(0, 0, 0))
        if self._image is not None and not self._image.isNull():
            iw, ih = self._image.width(), self._image.height()
            scale = min(square.width() / iw, square.height() / ih)
            target = QRectF(
                square.center().x() - iw * scale / 2,
                square.center().y() - ih * scale / 2,
                iw * scale,
                ih * scale,
            )
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.smooth)
            painter.drawImage(target, self._image)
            accent = QColor(255, 196, 0)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            if self._box is not None:
                top, left, bottom, right = self._box
                painter.setPen(QPen(accent, 1.5))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(
                    QRectF(
                        target.x() + left * scale,
                        target.y() + top * scale,
                        (right - left) * scale,
                        (bottom - top) * scale,
                    )
                )
            if self._marker is not None:
                row, col = self._marker
                centre = QPointF(target.x() + (col + 0.5) * scale, target.y() + (row + 0.5) * scale)
                arm = max(3.0, square.width() * 0.07)
                painter.setPen(QPen(accent, 1.5))
                painter.drawLine(centre - QPointF(arm, 0), centre + QPointF(arm, 0))
                painter.drawLine(centre - QPointF(0, arm), centre + QPointF(0, arm))
        elif self._placeholder:
            painter.setPen(QColor(255, 255, 255, 120))
            painter.setFont(self._small_font())
            painter.drawText(square, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             self._placeholder)  # fmt: skip
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setPen(QPen(caption_color(self, muted=True), 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(square.toAlignedRect().adjusted(-1, -1, 0, 0))
        line = self._line_height()
        painter.setFont(self._small_font())
        painter.setPen(caption_color(self))
        # From the bottom, so the captions of a row of tiles line up whatever their widths.
        text_rect = QRectF(0, self.height() - 2 * line - 1, self.width(), line)
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignHCenter, self.title)
        if self._caption:
            painter.setPen(caption_color(self, muted=True))
            metrics = QFontMetrics(painter.font())
            text = metrics.elidedText(self._caption, Qt.TextElideMode.ElideRight, self.width())
            painter.drawText(text_rect.translated(0, line), Qt.AlignmentFlag.AlignHCenter, text)
        painter.end()


class ProbabilityBars(QWidget):
    """One vertical bar per class with its name under it; the top class in the accent colour."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._values: np.ndarray | None = None
        self._names = [str(d) for d in range(10)]
        self._marked: int | None = None  # a class to mark (the true label of a test image)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(180, 110)
        _opaque(self)

    def set_probabilities(
        self, values: np.ndarray | None, names: list[str], marked: int | None = None
    ) -> None:
        self._values = None if values is None else np.array(values, np.float32)
        self._names = list(names)
        self._marked = marked
        self.update()

    def probabilities(self) -> np.ndarray | None:
        return None if self._values is None else self._values.copy()

    def names(self) -> list[str]:
        return list(self._names)

    def sizeHint(self) -> QSize:
        return QSize(320, 150)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        _background(self, painter, event)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        metrics = QFontMetrics(self.font())
        line = metrics.height()
        count = max(1, len(self._names))
        slot = self.width() / count
        bar_w = min(slot * 0.68, 46.0)
        top, bottom = line + 2, self.height() - line - 4  # percentages above, names below
        full = max(1.0, bottom - top)
        window = pal.color(QPalette.ColorRole.Window)
        accent = pal.color(QPalette.ColorRole.Highlight)
        other = mix(window, accent, 0.45)
        track = mix(window, pal.color(QPalette.ColorRole.WindowText), 0.07)
        best = None if self._values is None else int(np.argmax(self._values))
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.85))
        bold = QFont(self.font())
        bold.setBold(True)
        text, muted = caption_color(self), caption_color(self, muted=True)
        for i, name in enumerate(self._names):
            x = slot * i + (slot - bar_w) / 2
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(track)
            painter.drawRoundedRect(QRectF(x, top, bar_w, full), 3, 3)
            if self._values is not None and i < len(self._values):
                p = float(self._values[i])
                h = max(0.0, min(1.0, p)) * full
                painter.setBrush(accent if i == best else other)
                if h > 0.5:
                    painter.drawRoundedRect(QRectF(x, bottom - h, bar_w, h), 3, 3)
                if p >= 0.005:
                    painter.setFont(small)
                    painter.setPen(muted if i != best else text)
                    label = f"{p:.0%}" if p >= 0.01 else "<1%"
                    painter.drawText(
                        QRectF(slot * i, bottom - h - line - 1, slot, line),
                        Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom,
                        label,
                    )
            painter.setFont(bold if i == best else self.font())
            painter.setPen(text)
            name_rect = QRectF(slot * i, bottom + 3, slot, line)
            painter.drawText(name_rect, Qt.AlignmentFlag.AlignHCenter, name)
            if i == self._marked:  # underline the true label
                painter.setPen(QPen(QColor(60, 180, 90), 2))
                half = min(slot * 0.3, 12.0)
                y = name_rect.bottom() + 1
                painter.drawLine(QPointF(x + bar_w / 2 - half, y), QPointF(x + bar_w / 2 + half, y))
        painter.end()


class ActivationMap(QWidget):
    """A hidden layer's activations for one input, one cell per unit in a near-square grid.

    Colours are relative to the layer's largest magnitude for this input: non-negative layers
    (ReLU, sigmoid, ...) go black -> yellow, layers with negative outputs (tanh, ...) orange ->
    black -> blue.
    """

    def __init__(self, title: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = title
        self._values: np.ndarray | None = None
        self._image: QImage | None = None
        self._caption = ""
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        metrics = QFontMetrics(self.font())
        self.setMinimumSize(56, 56 + 2 * metrics.height())
        _opaque(self)

    def set_activations(self, values: np.ndarray | None, caption: str = "") -> None:
        self._values = None if values is None else np.array(values, np.float32).reshape(-1)
        self._caption = caption
        self._image = (
            None if self._values is None else rgba_to_qimage(activation_grid(self._values))
        )
        self.update()

    def activations(self) -> np.ndarray | None:
        return None if self._values is None else self._values.copy()

    def sizeHint(self) -> QSize:
        return QSize(84, 84 + 2 * QFontMetrics(self.font()).height() + 4)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        _background(self, painter, event)
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.85))
        line = QFontMetrics(small).height()
        side = max(8, min(self.width() - 2, self.height() - 2 * line - 6))
        square = QRectF((self.width() - side) // 2, 1, side, side)
        frame = square
        if self._image is not None:
            rows, columns = self._image.height(), self._image.width()
            cell = min(side / columns, side / rows)
            frame = QRectF(
                square.center().x() - columns * cell / 2,
                square.center().y() - rows * cell / 2,
                columns * cell,
                rows * cell,
            )
            painter.drawImage(frame, self._image)  # nearest: crisp cells
        else:
            painter.fillRect(square, QColor(0, 0, 0))
        painter.setPen(QPen(caption_color(self, muted=True), 1))
        painter.drawRect(frame.toAlignedRect().adjusted(-1, -1, 0, 0))
        painter.setFont(small)
        painter.setPen(caption_color(self))
        # From the bottom, so the captions of a row of tiles line up whatever their widths.
        text_rect = QRectF(0, self.height() - 2 * line - 1, self.width(), line)
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignHCenter, self.title)
        if self._caption:
            painter.setPen(caption_color(self, muted=True))
            painter.drawText(text_rect.translated(0, line), Qt.AlignmentFlag.AlignHCenter,
                             self._caption)  # fmt: skip
        painter.end()


def grid_shape(units: int) -> tuple[int, int]:
    """(rows, columns) holding `units` cells: an exact rectangle at most twice as wide as tall
    if there is one (128 -> 8 x 16), else a near-square with a few empty cells at the end."""
    for rows in range(math.isqrt(units), 0, -1):
        if units % rows == 0:
            if units // rows <= 2 * rows:
                return rows, units // rows
            break
    columns = max(1, math.ceil(math.sqrt(units)))
    return max(1, math.ceil(units / columns)), columns


def activation_grid(values: np.ndarray) -> np.ndarray:
    """uint8 [rows, columns, 4] RGBA colours of the units in row-major order; the cells after
    the last unit are transparent."""
    values = np.asarray(values, np.float32).reshape(-1)
    rows, columns = grid_shape(values.size)
    finite = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    peak = float(np.abs(finite).max(initial=0.0))
    scaled = finite / peak if peak > 0 else np.zeros_like(finite)
    if (finite < 0).any():
        index = np.rint((scaled + 1.0) * 127.5).astype(np.int64)
        colors = DIVERGING[np.clip(index, 0, 255)]
    else:
        colors = SEQUENTIAL[np.clip(np.rint(scaled * 255.0).astype(np.int64), 0, 255)]
    grid = np.zeros((rows * columns, 4), np.uint8)
    grid[: values.size, :3] = colors
    grid[: values.size, 3] = 255
    return grid.reshape(rows, columns, 4)


def rgba_to_qimage(rgba: np.ndarray) -> QImage:
    """uint8 [H, W, 4] (straight alpha) -> an RGBA8888 QImage that owns its pixels."""
    rgba = np.ascontiguousarray(rgba, dtype=np.uint8)
    h, w, _ = rgba.shape
    return QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()


def saliency_rgb(digit: np.ndarray, saliency: np.ndarray) -> np.ndarray:
    """uint8 [H, W, 3] (the digit's [H, W]): the digit dimmed to grey, blue where raising the
    pixel raises the top probability, orange where it lowers it (the app's sign colours);
    strength relative to the largest magnitude."""
    gray = np.asarray(digit, np.float32) / 255.0 * 110.0
    s = np.nan_to_num(np.asarray(saliency, np.float32).reshape(gray.shape))
    # Relative to a high percentile rather than the single largest pixel, so one extreme
    # pixel does not wash out the rest.
    scale = float(np.percentile(np.abs(s), 99))
    strength = np.clip(np.abs(s) / scale, 0.0, 1.0) if scale > 0 else np.zeros_like(s)
    raises, lowers = np.array([60.0, 150.0, 255.0]), np.array([255.0, 150.0, 40.0])
    tint = np.where((s > 0)[..., None], raises, lowers)
    rgb = gray[..., None] * (1.0 - strength[..., None]) + tint * strength[..., None]
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
