"""The compare view's plots: both runs' curves overlaid, per-class F1 differences as bars, and
each layer's gradient norm for both runs on a log scale (pyqtgraph; items made once, then
setData)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from mlp_studio.core.training import EpochRecord
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QHBoxLayout, QWidget

# Run A blue, run B orange: the Playground's pair, readable on light and dark backgrounds.
A_COLOR, B_COLOR = "#0877bd", "#f59322"


class _Plot(pg.PlotWidget):
    """A plot that asks for a modest size: the dock scrolls to the sum of its parts' preferred
    heights (its labels wrap), and pyqtgraph's 600 x 480 would make that twice a screen."""

    def sizeHint(self) -> QSize:
        return QSize(360, 230)


def themed_plot(title: str, left: str, bottom: str) -> pg.PlotWidget:
    """A plot in the palette's colours, with a title and axis labels, no mouse zoom."""
    palette = QApplication.palette()
    text = palette.color(QPalette.ColorRole.Text)
    widget = _Plot()
    widget.setBackground(palette.color(QPalette.ColorRole.Base))
    item = widget.getPlotItem()
    item.setTitle(title, color=text.name(), size="10pt")
    for side, label in (("left", left), ("bottom", bottom)):
        axis = item.getAxis(side)
        axis.setPen(pg.mkPen(text))
        axis.setTextPen(pg.mkPen(text))
        axis.setLabel(label, color=text.name())
        axis.enableAutoSIPrefix(False)  # "accuracy (x0.001)" reads as a bug
    item.setMenuEnabled(False)
    item.setMouseEnabled(False, False)
    item.hideButtons()
    item.showGrid(x=True, y=True, alpha=0.15)
    widget.setMinimumSize(220, 170)
    return widget


def whole_epochs(plot: pg.PlotWidget, last: int) -> None:
    """Ticks at whole epochs while there are few of them (no "epoch 1.5")."""
    axis = plot.getPlotItem().getAxis("bottom")
    if 0 < last <= 12:
        axis.setTicks([[(e, str(e)) for e in range(1, last + 1)]])
    else:
        axis.setTicks(None)


class CurvesView(QWidget):
    """Loss (validation solid, training dashed) and validation accuracy of both runs by epoch."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.loss_plot = themed_plot("Loss (solid: validation, dashed: training)", "loss",
                                     "epoch")
        self.accuracy_plot = themed_plot("Validation accuracy", "accuracy", "epoch")
        self.curves: dict[str, pg.PlotDataItem] = {}
        for run, color in (("A", A_COLOR), ("B", B_COLOR)):
            for kind, plot, style in (("val", self.loss_plot, Qt.PenStyle.SolidLine),
                                      ("train", self.loss_plot, Qt.PenStyle.DashLine),
                                      ("acc", self.accuracy_plot, Qt.PenStyle.SolidLine)):
                pen = pg.mkPen(color, width=2, style=style)
                self.curves[run + kind] = plot.plot([], [], pen=pen, symbol="o", symbolSize=5,
                                                    symbolBrush=color, symbolPen=None)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.loss_plot)
        layout.addWidget(self.accuracy_plot)

    def show_runs(self, a: Sequence[EpochRecord], b: Sequence[EpochRecord]) -> None:
        for run, records in (("A", a), ("B", b)):
            x = np.array([r.epoch for r in records], np.float64)
            self.curves[run + "val"].setData(x, [r.val_loss for r in records])
            self.curves[run + "train"].setData(x, [r.train_loss for r in records])
            self.curves[run + "acc"].setData(x, [r.val_accuracy for r in records])
        epochs = max([r.epoch for r in [*a, *b]], default=0)
        for plot in (self.loss_plot, self.accuracy_plot):
            whole_epochs(plot, epochs)
        accuracies = [r.val_accuracy for r in [*a, *b]]
        # Regression has no accuracy: no empty plot for it.
        self.accuracy_plot.setVisible(not accuracies or
                                      any(math.isfinite(v) for v in accuracies))


class F1DifferenceView(QWidget):
    """B's per-class F1 minus A's: a bar per class, in the colour of the run that did better."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.plot = themed_plot("Per-class test F1: B − A", "F1 difference", "class")
        self.plot.setToolTip("Each bar is in the colour of the run with the higher F1 for that "
                             "class (orange: B, blue: A)")
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.7)
        self.plot.addItem(self.bars)
        self.plot.getPlotItem().addLine(y=0, pen=pg.mkPen(QColor(127, 127, 127), width=1))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)

    def show_difference(self, diff: np.ndarray | None, class_names: Sequence[str]) -> None:
        if diff is None or not len(diff):
            self.bars.setOpts(x=[], height=[], brushes=[])
            return
        x = np.arange(len(diff), dtype=np.float64)
        brushes = [pg.mkBrush(B_COLOR if d >= 0 else A_COLOR) for d in diff]
        self.bars.setOpts(x=x, height=np.asarray(diff, np.float64), width=0.7, brushes=brushes,
                          pens=[pg.mkPen(None)] * len(diff))
        axis = self.plot.getPlotItem().getAxis("bottom")
        step = max(1, len(class_names) // 12)
        axis.setTicks([[(i, str(name)) for i, name in enumerate(class_names)][::step]])
        limit = max(float(np.abs(diff).max()), 0.01) * 1.15
        self.plot.setYRange(-limit, limit, padding=0)
        self.plot.setXRange(-0.6, len(diff) - 0.4, padding=0)


class GradientView(QWidget):
    """Each layer's weight-gradient norm, averaged over the run, for A and B (log scale): the
    gap between the two lines is the change's effect on how the gradient reaches each layer."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.plot = themed_plot("Gradient norm per layer (mean over the run)", "‖∇W‖", "layer")
        self.lines = {run: self.plot.plot([], [], pen=pg.mkPen(color, width=2), symbol="s",
                                          symbolSize=8, symbolBrush=color, symbolPen=None)
                      for run, color in (("A", A_COLOR), ("B", B_COLOR))}
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)

    def show_norms(self, a: np.ndarray | None, b: np.ndarray | None) -> None:
        runs = {run: np.maximum(np.asarray(n, np.float64), 1e-12)  # log of 0 is no point
                for run, n in (("A", a), ("B", b)) if n is not None}
        values = np.concatenate(list(runs.values())) if runs else np.ones(1)
        # Log scale where the norms span decades (vanishing gradients); within one decade a
        # log axis would have no labelled tick at all.
        log = float(values.max() / values.min()) > 10
        item = self.plot.getPlotItem()
        item.setLogMode(y=log)
        item.getAxis("left").setLabel("‖∇W‖ (log)" if log else "‖∇W‖")
        longest = 0
        for run in ("A", "B"):
            norms = runs.get(run)
            if norms is None:
                self.lines[run].setData([], [])
                continue
            self.lines[run].setData(np.arange(1, len(norms) + 1, dtype=np.float64), norms)
            longest = max(longest, len(norms))
        if longest:
            ticks = [(i, str(i)) for i in range(1, longest)] + [(longest, "out")]
            item.getAxis("bottom").setTicks([ticks])
            self.plot.setXRange(0.6, longest + 0.4, padding=0)
        if not log and runs:
            self.plot.setYRange(0, float(values.max()) * 1.1, padding=0)
