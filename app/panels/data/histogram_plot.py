"""A small pixel-value histogram (log counts), used before and after normalization.

Also home of `follow_palette`, which keeps a pyqtgraph plot readable in light and dark themes.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QSize
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QWidget

FILL = QColor(76, 120, 168)  # a blue that reads on white and on near-black


def follow_palette(plot: pg.PlotWidget) -> None:
    """Colour background, axes and title from the widget palette (not pyqtgraph's black)."""
    pal = plot.palette()
    text = pal.color(QPalette.ColorRole.WindowText)
    plot.setBackground(pal.color(QPalette.ColorRole.Base))
    item = plot.getPlotItem()
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        axis.setPen(pg.mkPen(pal.color(QPalette.ColorRole.Mid)))
        axis.setTextPen(pg.mkPen(text))
    if item.titleLabel.text:
        item.titleLabel.setText(item.titleLabel.text, color=text)


class CompactAxis(pg.AxisItem):
    """Tick labels like 500, 5k, 1.2M, so a narrow axis never hides them."""

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        out = []
        for v in values:
            v *= scale
            if abs(v) >= 1e6:
                out.append(f"{v / 1e6:g}M")
            elif abs(v) >= 1e3:
                out.append(f"{v / 1e3:g}k")
            else:
                out.append(f"{v:g}")
        return out


class QuietPlot(pg.PlotWidget):
    """A PlotWidget for display only: no mouse panning, context menu or auto-range button."""

    def __init__(self, parent: QWidget | None = None, **kwargs: object):
        super().__init__(parent=parent, **kwargs)
        item = self.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        self.setMouseEnabled(False, False)
        self.setAntialiasing(True)
        follow_palette(self)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        # PlotWidget's own __init__ changes the palette before the plot item exists
        if event.type() == QEvent.Type.PaletteChange and self.getPlotItem() is not None:
            follow_palette(self)

    def sizeHint(self) -> QSize:
        return QSize(180, 120)


class HistogramPlot(QuietPlot):
    """Step histogram of pixel values with log-scaled counts (MNIST is ~80% zeros)."""

    def __init__(self, title: str, parent: QWidget | None = None):
        super().__init__(parent)
        item = self.getPlotItem()
        item.setTitle(title, size="9pt")
        item.setLogMode(x=False, y=True)
        item.getAxis("left").setStyle(maxTickLevel=0, tickTextWidth=24, autoExpandTextSpace=False)
        item.getAxis("left").setWidth(30)
        item.getAxis("bottom").setHeight(22)
        item.getAxis("left").setLabel("")
        # fillLevel is in view units: 0 = log10(1), the baseline of the clamped counts
        self._curve = item.plot(
            stepMode="center", fillLevel=0, pen=pg.mkPen(FILL, width=1.5), brush=FILL.lighter(130)
        )
        self._curve.setFillBrush(QColor(FILL.red(), FILL.green(), FILL.blue(), 150))
        self.setMinimumHeight(110)
        follow_palette(self)

    def set_histogram(self, counts: np.ndarray | None, edges: np.ndarray | None) -> None:
        """counts [B] and edges [B + 1] from core.data.pixel_histogram; None clears."""
        if counts is None or edges is None or counts.sum() == 0:
            self._curve.setData([], [])
            return
        # Empty bins are drawn at 1 so the log scale has a floor instead of -inf.
        self._curve.setData(np.asarray(edges, float), np.maximum(np.asarray(counts, float), 1.0))
        self.getPlotItem().setXRange(float(edges[0]), float(edges[-1]), padding=0.04)

    def shown(self) -> tuple[np.ndarray, np.ndarray]:
        """The edges and clamped counts drawn (for tests)."""
        x, y = self._curve.xData, self._curve.yData
        return (np.array([]) if x is None else x.copy()), (np.array([]) if y is None else y.copy())
