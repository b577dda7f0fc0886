"""Toolbar glyphs drawn in the palette's text colour, so they read on light and dark themes."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QIcon, QIconEngine, QPainter, QPalette, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import QApplication


class GlyphIconEngine(QIconEngine):
    """Toolbar glyphs drawn in the palette's button-text colour at any size and scale.

    The style's standard media icons are black bitmaps that vanish on dark themes; these
    follow the current palette (and its disabled colour) every time they are painted.
    """

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind

    def clone(self) -> QIconEngine:
        return GlyphIconEngine(self.kind)

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:
        group = (
            QPalette.ColorGroup.Disabled
            if mode == QIcon.Mode.Disabled
            else QPalette.ColorGroup.Normal
        )
        colour = QApplication.palette().color(group, QPalette.ColorRole.ButtonText)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        side = min(rect.width(), rect.height())
        painter.translate(
            rect.x() + (rect.width() - side) / 2, rect.y() + (rect.height() - side) / 2
        )
        painter.scale(side / 24, side / 24)  # glyphs are drawn on a 24 x 24 grid
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        kind = self.kind
        if kind in ("play", "step"):
            right = 19 if kind == "play" else 15
            painter.drawPolygon(QPolygonF([QPointF(6, 4.5), QPointF(right, 12), QPointF(6, 19.5)]))
            if kind == "step":
                painter.drawRect(QRectF(16, 5, 3, 14))
        elif kind == "pause":
            painter.drawRect(QRectF(6, 5, 4, 14))
            painter.drawRect(QRectF(14, 5, 4, 14))
        elif kind == "stop":
            painter.drawRoundedRect(QRectF(6, 6, 12, 12), 1.5, 1.5)
        elif kind == "reset":
            pen = QPen(colour, 2.4)
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawArc(QRectF(5, 5, 14, 14), 100 * 16, 280 * 16)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(colour)
            painter.drawPolygon(QPolygonF([QPointF(10, 1.5), QPointF(15.5, 5), QPointF(10, 9)]))
        painter.restore()

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        return self.scaledPixmap(size, mode, state, 1.0)

    def scaledPixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State, scale: float):
        pixmap = QPixmap(size * scale)
        pixmap.setDevicePixelRatio(scale)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        self.paint(painter, QRect(0, 0, size.width(), size.height()), mode, state)
        painter.end()
        return pixmap


def glyph_icon(kind: str) -> QIcon:
    return QIcon(GlyphIconEngine(kind))
