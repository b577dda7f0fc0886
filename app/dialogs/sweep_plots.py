"""The sweep's two plots: parallel coordinates with brushing, and what mattered.

Parallel coordinates: one vertical axis per swept setting and one for the metric; each trial is
a line across them, coloured by its metric. Dragging along an axis selects a range there (a
brush); trials outside any brush turn grey and `selectionChanged` says which remain. Clicking an
axis clears its brush. Axes of a log range are log-scaled; choices are spread evenly.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from mlp_studio.core.sweep_data import higher_is_better
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import QGraphicsRectItem

AXIS_GRAB = 0.25  # how far (in axis spacings) from an axis a drag still brushes it
BRUSH_HALF_WIDTH = 0.07
GREY = (150, 150, 150, 60)


def _position(param, value) -> float:
    """Where `value` of the swept `param` sits on its axis, 0..1."""
    if param.choices is not None:
        n = len(param.choices)
        try:
            index = list(param.choices).index(value)
        except ValueError:
            return math.nan
        return 0.5 if n == 1 else index / (n - 1)
    low, high = float(param.low), float(param.high)
    if high == low:
        return 0.5
    if param.log:
        return (math.log(value) - math.log(low)) / (math.log(high) - math.log(low))
    return (float(value) - low) / (high - low)


def _label(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _tick(text: str, axis: int, y: float) -> pg.TextItem:
    """A value beside an axis, on a white ground above the trials' lines (which cross there,
    and hid the choices' names)."""
    item = pg.TextItem(text, color=(90, 90, 90), anchor=(0.0, 0.5), fill=(255, 255, 255, 210))
    item.setPos(axis + 0.03, y)
    item.setZValue(10)
    return item


class _AxesBox(pg.ViewBox):
    """A view box whose drags brush the nearest axis instead of panning."""

    def __init__(self, owner: ParallelCoordinates):
        super().__init__(enableMenu=False)
        self.owner = owner
        self.setMouseEnabled(False, False)

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802 (Qt's name)
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        start = self.mapSceneToView(ev.buttonDownScenePos())
        now = self.mapSceneToView(ev.scenePos())
        index = round(start.x())
        if abs(start.x() - index) > AXIS_GRAB or not 0 <= index < self.owner.axis_count:
            return
        self.owner.brush(index, start.y(), now.y())

    def mouseClickEvent(self, ev):  # noqa: N802 (Qt's name)
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        x = self.mapSceneToView(ev.scenePos()).x()
        index = round(x)
        if abs(x - index) <= AXIS_GRAB:
            self.owner.clear_brush(index)


class ParallelCoordinates(pg.PlotWidget):
    selectionChanged = Signal(object)  # set of trial numbers inside every brush, or None

    def __init__(self, parent=None):
        self.box = _AxesBox(self)
        super().__init__(parent, viewBox=self.box)
        self.setBackground("w")
        self.hideAxis("left")
        self.hideAxis("bottom")
        self.setMinimumHeight(220)
        self.params: list = []
        self.metric = ""
        self.brushes: dict[int, tuple[float, float]] = {}
        self._rects: dict[int, QGraphicsRectItem] = {}
        self._lines: dict[int, pg.PlotCurveItem] = {}
        self._rows: dict[int, np.ndarray] = {}  # trial number -> positions on the axes
        self._values: dict[int, float] = {}
        self._decor: list = []
        self._metric_ticks: list = []
        self._colormap = pg.colormap.get("viridis")

    @property
    def axis_count(self) -> int:
        return len(self.params) + 1 if self.params else 0

    def set_axes(self, params: list, metric: str) -> None:
        """New axes (a new sweep): brushes and lines go."""
        self.params, self.metric = list(params), metric
        self.brushes.clear()
        self.clear()
        self._rects.clear()
        self._lines.clear()
        self._rows.clear()
        self._values = {}
        self._metric_ticks: list = []
        self._decor = []
        n = self.axis_count
        self.box.setRange(xRange=(-0.4, n - 0.6), yRange=(-0.1, 1.2), padding=0)
        for i in range(n):
            line = pg.InfiniteLine(pos=i, angle=90, pen=pg.mkPen((60, 60, 60), width=1.5))
            self.addItem(line)
        for i, param in enumerate(self.params):
            self._axis_text(i, param.name, param)
        self._axis_text(n - 1, metric.replace("-", " "), None)
        self.selectionChanged.emit(None)

    def _axis_text(self, i: int, name: str, param) -> None:
        title = pg.TextItem(name, color=(20, 20, 20), anchor=(0.5, 0.5))
        title.setPos(i, 1.12)
        self.addItem(title)
        ticks: list[tuple[float, str]] = []
        if param is not None and param.choices is not None:
            ticks = [(_position(param, c), _label(c)) for c in param.choices]
        elif param is not None:
            ticks = [(0.0, _label(param.low)), (1.0, _label(param.high))]
        self._decor.append((i, title))
        for y, text in ticks:
            self.addItem(_tick(text, i, y))

    def set_trials(self, trials: list) -> None:
        """Trials with a value (complete or pruned) drawn as lines; the metric axis spans them."""
        shown = [t for t in trials if t.value is not None and math.isfinite(t.value)
                 and all(p.name in t.params for p in self.params)]
        for number in [n for n in self._lines if n not in {t.number for t in shown}]:
            self.removeItem(self._lines.pop(number))
        if not shown:
            self._update_metric_ticks(math.nan, math.nan)
            self._restyle()
            return
        values = np.array([t.value for t in shown])
        low, high = float(values.min()), float(values.max())
        span = high - low or 1.0
        self._values = {t.number: t.value for t in shown}
        for t in shown:
            ys = [_position(p, t.params[p.name]) for p in self.params]
            ys.append((t.value - low) / span if high > low else 0.5)
            row = np.array(ys, dtype=float)
            self._rows[t.number] = row
            line = self._lines.get(t.number)
            if line is None:
                line = pg.PlotCurveItem()
                self._lines[t.number] = line
                self.addItem(line)
            line.setData(np.arange(len(row), dtype=float), row)
            line.pruned = t.state != "COMPLETE"
        self._update_metric_ticks(low, high)
        self._restyle()

    def _update_metric_ticks(self, low: float, high: float) -> None:
        for item in self._metric_ticks:
            self.removeItem(item)
        self._metric_ticks = []
        if not math.isfinite(low):
            return
        n = self.axis_count - 1
        for y, value in ((0.0, low), (1.0, high)):
            item = _tick(f"{value:.4g}", n, y)
            self.addItem(item)
            self._metric_ticks.append(item)

    def selection(self) -> set[int] | None:
        if not self.brushes:
            return None
        return {number for number, row in self._rows.items() if number in self._lines and all(
            lo <= row[i] <= hi for i, (lo, hi) in self.brushes.items())}

    def brush(self, index: int, y0: float, y1: float) -> None:
        lo, hi = sorted((max(-0.05, min(1.05, y0)), max(-0.05, min(1.05, y1))))
        self.brushes[index] = (lo, hi)
        rect = self._rects.get(index)
        if rect is None:
            rect = QGraphicsRectItem()
            rect.setBrush(QBrush(QColor(255, 140, 0, 70)))
            rect.setPen(QPen(QColor(230, 110, 0), 0))
            rect.setZValue(5)
            self.addItem(rect)
            self._rects[index] = rect
        rect.setRect(QRectF(index - BRUSH_HALF_WIDTH, lo, 2 * BRUSH_HALF_WIDTH, hi - lo))
        self._restyle()
        self.selectionChanged.emit(self.selection())

    def clear_brush(self, index: int) -> None:
        if self.brushes.pop(index, None) is None:
            return
        self.removeItem(self._rects.pop(index))
        self._restyle()
        self.selectionChanged.emit(self.selection())

    def _restyle(self) -> None:
        chosen = self.selection()
        # Coloured by rank, not by value: a few failed trials far below would otherwise paint
        # every good one the same colour.
        order = sorted(self._values, key=self._values.get,
                       reverse=not higher_is_better(self.metric))
        rank = {number: i / max(1, len(order) - 1) for i, number in enumerate(order)}
        for number, line in self._lines.items():
            if chosen is not None and number not in chosen:
                line.setPen(pg.mkPen(GREY, width=1))
                line.setZValue(0)
                continue
            share = rank.get(number, 1.0)
            color = self._colormap.map(share, mode="qcolor")
            pruned = getattr(line, "pruned", False)
            style = Qt.PenStyle.DashLine if pruned else Qt.PenStyle.SolidLine
            line.setPen(pg.mkPen(color, width=2, style=style))
            line.setZValue(1 + share)


class ImportanceChart(pg.PlotWidget):
    """Optuna's importance of each setting, as horizontal bars with their share, largest on
    top."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setBackground("w")
        self.setMouseEnabled(False, False)
        self.setMenuEnabled(False)
        self.hideButtons()
        self.setMinimumWidth(160)
        self.hideAxis("bottom")
        self._items: list = []
        self._note = pg.TextItem("Shown once 3 trials\nhave finished", color=(110, 110, 110),
                                 anchor=(0.5, 0.5))
        self.addItem(self._note)
        self.set_importance({})

    def set_importance(self, importance: dict[str, float]) -> None:
        for item in self._items:
            self.removeItem(item)
        self._items = []
        items = sorted(importance.items(), key=lambda kv: kv[1])
        self._note.setVisible(not items)
        self.showAxis("left", bool(items))  # an empty chart: no bare axis line beside the note
        if not items:
            self.getAxis("left").setTicks([[]])
            self.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
            self._note.setPos(0.5, 0.5)
            return
        ys = np.arange(len(items), dtype=float)
        widths = np.array([v for _, v in items])
        bars = pg.BarGraphItem(x0=0, y=ys, height=0.6, width=widths, brush=(70, 130, 200))
        self.addItem(bars)
        self._items.append(bars)
        top = max(1e-6, float(widths.max()))
        for y, (_, share) in zip(ys, items, strict=True):
            label = pg.TextItem(f"{share:.0%}", color=(30, 30, 30), anchor=(0.0, 0.5))
            label.setPos(share + top * 0.02, y)
            self.addItem(label)
            self._items.append(label)
        self.getAxis("left").setTicks([[(y, name) for y, (name, _) in zip(ys, items,
                                                                          strict=True)]])
        self.setRange(xRange=(0, top * 1.3), yRange=(-0.6, len(items) - 0.4), padding=0)
