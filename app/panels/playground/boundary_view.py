"""The big playground view: the network's output over the plane as a heatmap behind the points.

pyqtgraph items are made once and updated with setImage/setData. The image is uint8 RGB from
app.playground_colors, row 0 at the bottom (core.playground grids), stretched over the extent.
Training points are drawn with a white rim, test points with a dark rim, as in Playground.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from mlp_studio.core.playground import EXTENT
from PySide6.QtCore import QPoint, QPointF, QRectF, Signal
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

POINT_SIZE = 7.0
LEFT_AXIS = 30  # pixels; fixed so that a square widget has a (nearly) square plot area
BOTTOM_AXIS = 22


class SmoothImageItem(pg.ImageItem):
    """An ImageItem drawn with bilinear smoothing: a 100 x 100 grid stretched over a few hundred
    pixels looks like Playground's canvas instead of a mosaic."""

    smooth = True

    def paint(self, painter, *args):
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.smooth)
        super().paint(painter, *args)


def _brushes(colors: np.ndarray) -> list:
    """One QBrush per point, shared between points of the same colour."""
    cache: dict[tuple[int, int, int], object] = {}
    out = []
    for r, g, b in np.asarray(colors, np.uint8).reshape(-1, 3).tolist():
        key = (r, g, b)
        if key not in cache:
            cache[key] = pg.mkBrush(r, g, b)
        out.append(cache[key])
    return out


class BoundaryView(pg.PlotWidget):
    """Heatmap + train/test points over a fixed square; emits pointClicked in data units."""

    pointClicked = Signal(float, float, object)  # x1, x2, Qt.MouseButton

    def __init__(self, parent=None, extent: tuple[float, float, float, float] = EXTENT):
        super().__init__(parent)
        self.setMinimumSize(200, 200)  # two side by side (a pinned run) fit a 1280-px window
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        item = self.getPlotItem()
        item.setMouseEnabled(False, False)
        item.hideButtons()
        item.setMenuEnabled(False)
        item.setAspectLocked(True)
        for side in ("left", "bottom"):
            item.getAxis(side).setStyle(tickLength=-4)
        item.getAxis("left").setWidth(LEFT_AXIS)
        item.getAxis("bottom").setHeight(BOTTOM_AXIS)
        self.image_item = SmoothImageItem(axisOrder="row-major")
        self.image_item.setZValue(-10)
        item.addItem(self.image_item)
        self.test_points = pg.ScatterPlotItem(size=POINT_SIZE, pen=pg.mkPen(30, 30, 30, 230))
        self.train_points = pg.ScatterPlotItem(size=POINT_SIZE, pen=pg.mkPen(255, 255, 255, 230))
        item.addItem(self.test_points)
        item.addItem(self.train_points)
        self._extent = extent
        self._image: np.ndarray | None = None
        empty = (np.zeros((0, 2)), np.zeros((0, 3), np.uint8))
        self.points: tuple[np.ndarray, ...] = empty + empty
        self.light_rims = True
        self.scene().sigMouseClicked.connect(self._on_click)
        self.set_extent(extent)
        self.apply_theme()

    # ---- content ----

    @property
    def extent(self) -> tuple[float, float, float, float]:
        return self._extent

    def set_extent(self, extent: tuple[float, float, float, float]) -> None:
        self._extent = tuple(float(v) for v in extent)
        x0, x1, y0, y1 = self._extent
        self.image_item.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        self.getPlotItem().setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        # Playground's square gets even ticks; labels at its very edges would be cut in half.
        ticks = None
        if self._extent == EXTENT:
            ticks = [[(v, str(v)) for v in range(-4, 5, 2)], [(v, "") for v in range(-5, 6)]]
        for side in ("left", "bottom"):
            self.getPlotItem().getAxis(side).setTicks(ticks)

    def set_image(self, rgb: np.ndarray | None) -> None:
        """uint8 [r, r, 3] (row 0 at the bottom), or None for a blank plane."""
        if rgb is None:
            self._image = None
            self.image_item.clear()
            return
        self._image = np.array(rgb, np.uint8)  # our own copy: the caller may reuse its buffer
        self.image_item.setImage(self._image, levels=(0, 255), autoLevels=False)
        x0, x1, y0, y1 = self._extent
        self.image_item.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))

    def image(self) -> np.ndarray | None:
        return self._image

    def set_points(
        self,
        train_xy: np.ndarray,
        train_colors: np.ndarray,
        test_xy: np.ndarray,
        test_colors: np.ndarray,
        light_rims: bool = True,
    ) -> None:
        """Training points get a white rim (Playground), or a grey one when `light_rims` is
        False: regression colours near zero are pale, and white on pale vanishes."""
        self.light_rims = light_rims
        rim = (255, 255, 255, 230) if light_rims else (110, 110, 110, 200)
        self.train_points.setPen(pg.mkPen(*rim))
        arrays = []
        for xy, colors in ((train_xy, train_colors), (test_xy, test_colors)):
            arrays += [
                np.array(xy, np.float64).reshape(-1, 2),
                np.array(colors, np.uint8).reshape(-1, 3),
            ]
        self.points = tuple(arrays)  # our copies: (train xy, colours, test xy, colours)
        for item, (xy, colors) in zip(
            (self.train_points, self.test_points), (arrays[:2], arrays[2:]), strict=True
        ):
            item.setData(x=xy[:, 0], y=xy[:, 1], brush=_brushes(colors))

    def set_test_visible(self, visible: bool) -> None:
        self.test_points.setVisible(visible)

    def point_counts(self) -> tuple[int, int]:
        """(train, test) points drawn, for tests."""
        return len(self.train_points.data), len(self.test_points.data)

    # ---- look ----

    def apply_theme(self) -> None:
        palette = self.palette()
        self.setBackground(palette.color(QPalette.ColorRole.Window))
        text = palette.color(QPalette.ColorRole.WindowText)
        for side in ("left", "bottom"):
            axis = self.getPlotItem().getAxis(side)
            axis.setTextPen(text)
            axis.setPen(QColor(text.red(), text.green(), text.blue(), 90))

    def changeEvent(self, event) -> None:
        # pyqtgraph changes the palette while constructing, before our items exist
        if event.type() == event.Type.PaletteChange and hasattr(self, "image_item"):
            self.apply_theme()
        super().changeEvent(event)

    # ---- clicks ----

    def pixel_of(self, x1: float, x2: float) -> QPoint:
        """Data coordinates -> pixel position in the viewport (where a click lands there)."""
        scene_pos = self.getPlotItem().vb.mapViewToScene(QPointF(x1, x2))
        return self.mapFromScene(scene_pos)

    def _on_click(self, event) -> None:
        vb = self.getPlotItem().vb
        if not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        p = vb.mapSceneToView(event.scenePos())
        x0, x1, y0, y1 = self._extent
        if x0 <= p.x() <= x1 and y0 <= p.y() <= y1:
            event.accept()
            self.pointClicked.emit(float(p.x()), float(p.y()), event.button())


class SquareBox(QWidget):
    """Keeps `child` square (plus its axes) at the top, as large as fits, with `below` (a
    caption) right under it rather than at the bottom of the spare room."""

    def __init__(self, child: QWidget, below: QWidget | None = None, parent=None):
        super().__init__(parent)
        self.child, self.below = child, below
        for widget in (child, below):
            if widget is not None:
                widget.setParent(self)
        self.setMinimumSize(child.minimumSize())
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def resizeEvent(self, event) -> None:
        below = 0
        if self.below is not None:
            below = self.below.heightForWidth(self.width())
            below = max(below, self.below.sizeHint().height()) + 4
        side = max(min(self.width() - LEFT_AXIS, self.height() - BOTTOM_AXIS - below), 10)
        width = side + LEFT_AXIS
        left = (self.width() - width) // 2
        self.child.setGeometry(left, 0, width, side + BOTTOM_AXIS)
        if self.below is not None:
            self.below.setGeometry(left, side + BOTTOM_AXIS + 4, width, below - 4)
        super().resizeEvent(event)
