"""A canvas to draw a digit on with the mouse or a pen tablet.

The ink is white on black, like MNIST, so what you see is what the model gets (after
core.digits.preprocess_digit). Strokes are painted anti-aliased with round caps into a 280x280
grayscale QImage; the widget shows it scaled to its size.

`imageChanged(np.ndarray)` carries the drawing (float32 [280, 280], 0-255, white on black). While
drawing it is emitted once per batch of mouse moves: a move only marks the image dirty and starts
a zero-delay timer, so the moves Qt has already queued are all painted before the (costlier)
prediction runs once for them. Releasing the button emits at once.

Keys while the canvas has focus: Ctrl+Z undoes the last stroke (or clear, or placed picture),
Delete/Backspace clears, [ and ] change the brush size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPalette,
    QPen,
    QTabletEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

SIZE = 280  # pixels of the drawing; ten times MNIST's 28
MIN_BRUSH, MAX_BRUSH, DEFAULT_BRUSH = 4, 60, 22
BRUSH_STEP = 2
# A pen at half pressure draws the nominal brush size; the width follows the pressure linearly
# between these multiples of it.
PRESSURE_RANGE = (0.25, 2.0)


@dataclass
class _Stroke:
    points: list[tuple[float, float, float]] = field(default_factory=list)  # x, y, width


@dataclass
class _Picture:
    image: QImage  # SIZE x SIZE grayscale, replaces everything before it
    tag: object = None  # what the picture is (the panel's caption), see picture_tag()


@dataclass
class _Clear:
    pass


def gray_to_qimage(gray: np.ndarray) -> QImage:
    """float 0-255 [H, W] -> a Grayscale8 QImage that owns its pixels."""
    pixels = np.ascontiguousarray(np.clip(np.rint(gray), 0, 255).astype(np.uint8))
    h, w = pixels.shape
    return QImage(pixels.data, w, h, w, QImage.Format.Format_Grayscale8).copy()


def qimage_to_gray(image: QImage) -> np.ndarray:
    """A Grayscale8 QImage -> float32 [H, W] (a copy)."""
    h, w, stride = image.height(), image.width(), image.bytesPerLine()
    rows = np.frombuffer(image.constBits(), np.uint8, count=stride * h).reshape(h, stride)
    return rows[:, :w].astype(np.float32)


def fit_to_canvas(gray: np.ndarray) -> QImage:
    """A picture (float 0-255, white on black, any size) scaled to fit the canvas, centred."""
    source = gray_to_qimage(gray).scaled(
        SIZE,
        SIZE,
        Qt.AspectRatioMode.KeepAspectRatio,
        Qt.TransformationMode.SmoothTransformation,
    )
    image = _blank()
    painter = QPainter(image)
    painter.drawImage((SIZE - source.width()) // 2, (SIZE - source.height()) // 2, source)
    painter.end()
    return image


def _blank() -> QImage:
    image = QImage(SIZE, SIZE, QImage.Format.Format_Grayscale8)
    image.fill(0)
    return image


class DrawingCanvas(QWidget):
    imageChanged = Signal(object)  # np.ndarray float32 [SIZE, SIZE], 0-255, white on black
    historyChanged = Signal()  # undo/clear availability may have changed
    brushSizeChanged = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._image = _blank()
        self._history: list[_Stroke | _Picture | _Clear] = []
        self._stroke: _Stroke | None = None  # the stroke being drawn
        self._brush = DEFAULT_BRUSH
        self._hover: QPointF | None = None  # where the brush outline is shown
        self._has_ink = False
        self._dirty = False
        self._emit_timer = QTimer(self)
        self._emit_timer.setSingleShot(True)
        self._emit_timer.setInterval(0)
        self._emit_timer.timeout.connect(self._emit_if_dirty)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)  # for the brush outline
        self.setAttribute(Qt.WidgetAttribute.WA_TabletTracking, True)
        # paintEvent fills every pixel, so Qt need not repaint the panel underneath first.
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setCursor(Qt.CursorShape.CrossCursor)
        policy = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self.setMinimumSize(160, 160)
        self.setToolTip(
            "Draw a digit. Ctrl+Z undoes a stroke, Delete clears, [ and ] change the brush."
        )

    # ---- reading and changing the drawing ----

    def image(self) -> np.ndarray:
        """float32 [SIZE, SIZE], 0-255, white ink on black."""
        return qimage_to_gray(self._image)

    def qimage(self) -> QImage:
        return self._image.copy()

    def is_blank(self) -> bool:
        return not self._has_ink

    def can_undo(self) -> bool:
        return bool(self._history) and self._stroke is None

    def brush_size(self) -> int:
        return self._brush

    def set_brush_size(self, size: int) -> None:
        size = max(MIN_BRUSH, min(MAX_BRUSH, int(size)))
        if size != self._brush:
            self._brush = size
            self.brushSizeChanged.emit(size)
            self.update()

    def place_image(self, gray: np.ndarray, tag: object = None) -> None:
        """Replace the drawing by a picture (float 0-255, white on black, any size) scaled to
        fit; undo brings the previous drawing back. `tag` says what it is (picture_tag)."""
        self._history.append(_Picture(fit_to_canvas(gray), tag))
        self._redraw()

    def picture_tag(self) -> object:
        """The tag of the picture under the current strokes, or None if there is none."""
        base = self._base_index()
        item = self._history[base] if base is not None else None
        return item.tag if isinstance(item, _Picture) else None

    def picture_untouched(self) -> bool:
        """A picture is shown with nothing drawn over it (nor being drawn)."""
        return self._stroke is None and bool(self._history) and isinstance(
            self._history[-1], _Picture)

    def _base_index(self) -> int | None:
        """Index of the last clear or picture: nothing before it shows."""
        for i in range(len(self._history) - 1, -1, -1):
            if isinstance(self._history[i], (_Clear, _Picture)):
                return i
        return None

    def clear(self) -> None:
        if self._stroke is not None or self.is_blank():
            return
        self._history.append(_Clear())
        self._redraw()

    def undo(self) -> None:
        """Take back the last stroke, clear or placed picture."""
        if self.can_undo():
            self._history.pop()
            self._redraw()

    def _redraw(self) -> None:
        """Replay the history from its last clear or picture (nothing before it shows)."""
        start = self._base_index() or 0
        image = _blank()
        painter = self._painter(image)
        for item in self._history[start:]:
            if isinstance(item, _Picture):
                painter.drawImage(0, 0, item.image)
            elif isinstance(item, _Stroke):
                _paint_stroke(painter, item.points, with_dot=True)
        painter.end()
        self._image = image
        self._has_ink = bool(self.image().any())
        self.update()
        self.historyChanged.emit()
        self._dirty = True
        self._emit_if_dirty()

    # ---- painting strokes ----

    @staticmethod
    def _painter(image: QImage) -> QPainter:
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        return painter

    def _begin(self, pos: QPointF, width: float) -> None:
        self._stroke = _Stroke()
        self._extend(pos, width)

    def _extend(self, pos: QPointF, width: float) -> None:
        if self._stroke is None:
            return
        point = self._to_image(pos)
        points = self._stroke.points
        if points and abs(points[-1][0] - point.x()) + abs(points[-1][1] - point.y()) < 0.5:
            return  # sub-pixel jitter adds nothing but work
        points.append((point.x(), point.y(), width))
        self._has_ink = True
        painter = self._painter(self._image)
        _paint_stroke(painter, points[-2:], with_dot=len(points) == 1)
        painter.end()
        self._update_around(points[-2:])
        self._dirty = True
        if not self._emit_timer.isActive():
            self._emit_timer.start()

    def _update_around(self, points: list[tuple[float, float, float]]) -> None:
        """Repaint only the widget area of the newest segment: a full repaint of the scaled
        canvas on every mouse move would cost more than the prediction."""
        target = self.drawing_rect()
        scale = target.width() / SIZE
        pad = max(w for _, _, w in points) / 2 + 2
        xs, ys = [x for x, _, _ in points], [y for _, y, _ in points]
        area = QRectF(
            target.x() + (min(xs) - pad) * scale,
            target.y() + (min(ys) - pad) * scale,
            (max(xs) - min(xs) + 2 * pad) * scale,
            (max(ys) - min(ys) + 2 * pad) * scale,
        )
        self.update(area.toAlignedRect().adjusted(-1, -1, 1, 1))

    def _end(self) -> None:
        if self._stroke is None:
            return
        stroke, self._stroke = self._stroke, None
        if stroke.points:
            self._history.append(stroke)
        self.update()  # the brush outline comes back
        self.historyChanged.emit()
        self._emit_timer.stop()
        self._dirty = True
        self._emit_if_dirty()

    def _emit_if_dirty(self) -> None:
        if self._dirty:
            self._dirty = False
            self.imageChanged.emit(self.image())

    # ---- geometry ----

    def drawing_rect(self) -> QRectF:
        """Where the SIZE x SIZE image is shown: the largest square, centred at the top."""
        side = min(self.width(), self.height()) - 2
        return QRectF((self.width() - side) / 2, 1, side, side)

    def _to_image(self, pos: QPointF) -> QPointF:
        target = self.drawing_rect()
        scale = SIZE / max(target.width(), 1.0)
        return QPointF((pos.x() - target.x()) * scale, (pos.y() - target.y()) * scale)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return width

    def sizeHint(self) -> QSize:
        return QSize(SIZE + 2, SIZE + 2)

    # ---- events ----

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._begin(event.position(), float(self._brush))
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self._hover = event.position()
        if self._stroke is not None and event.buttons() & Qt.MouseButton.LeftButton:
            self._extend(event.position(), float(self._brush))  # no outline while drawing
        else:
            self.update()  # move the brush outline

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._end()
        else:
            super().mouseReleaseEvent(event)

    def tabletEvent(self, event: QTabletEvent) -> None:
        # Accepted tablet events are not repeated as mouse events, so each pen sample is drawn
        # once, with a width following its pressure.
        low, high = PRESSURE_RANGE
        width = self._brush * min(high, max(low, 2.0 * event.pressure()))
        kind = event.type()
        self._hover = event.position()
        if kind == QEvent.Type.TabletPress:
            self._begin(event.position(), width)
        elif kind == QEvent.Type.TabletMove:
            if self._stroke is not None:
                self._extend(event.position(), width)
            else:
                self.update()
        elif kind == QEvent.Type.TabletRelease:
            self._end()
        event.accept()

    def leaveEvent(self, event: QEvent) -> None:
        self._hover = None
        self.update()
        super().leaveEvent(event)

    def event(self, event: QEvent) -> bool:
        # The main window's Ctrl+Z (undo a network edit) and other shortcuts must not steal
        # our keys while the canvas has focus: claim them so they arrive as key presses.
        if event.type() == QEvent.Type.ShortcutOverride and self._action_for(event):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        action = self._action_for(event)
        if action is None:
            super().keyPressEvent(event)
            return
        action()
        event.accept()

    def _action_for(self, event: QKeyEvent):
        if event.matches(QKeySequence.StandardKey.Undo):
            return self.undo
        key = event.key()
        if key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            return self.clear
        if key == Qt.Key.Key_BracketLeft:
            return lambda: self.set_brush_size(self._brush - BRUSH_STEP)
        if key == Qt.Key.Key_BracketRight:
            return lambda: self.set_brush_size(self._brush + BRUSH_STEP)
        return None

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        pal = self.palette()
        painter.fillRect(event.rect(), pal.color(QPalette.ColorRole.Window))
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        target = self.drawing_rect()
        painter.drawImage(target, self._image)
        role = QPalette.ColorRole.Highlight if self.hasFocus() else QPalette.ColorRole.Mid
        painter.setPen(QPen(pal.color(role), 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(target.toAlignedRect().adjusted(-1, -1, 0, 0))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self._stroke is None and not self._has_ink:
            painter.setPen(QColor(255, 255, 255, 110))
            font = painter.font()
            font.setPointSizeF(font.pointSizeF() * 1.3)
            painter.setFont(font)
            painter.drawText(target, Qt.AlignmentFlag.AlignCenter, "Draw a digit here")
        if self._stroke is None and self._hover is not None and target.contains(self._hover):
            radius = self._brush * target.width() / SIZE / 2
            painter.setPen(QPen(QColor(255, 255, 255, 140), 1))
            painter.drawEllipse(self._hover, radius, radius)
        painter.end()


def _paint_stroke(
    painter: QPainter, points: list[tuple[float, float, float]], with_dot: bool
) -> None:
    """Segments between consecutive points, each as wide as its end point; round caps make
    the joins smooth. `with_dot`: first a dot at the first point (where the press was).

    Replaying a stroke issues the same drawing calls as drawing it live did, so undo gives
    back exactly the pixels that were there."""
    pen = QPen(QColor(255, 255, 255))
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    if with_dot:
        x, y, width = points[0]
        pen.setWidthF(width)
        painter.setPen(pen)
        painter.drawPoint(QPointF(x, y))
    for (x0, y0, _), (x1, y1, width) in zip(points[:-1], points[1:], strict=True):
        pen.setWidthF(width)
        painter.setPen(pen)
        painter.drawLine(QPointF(x0, y0), QPointF(x1, y1))
