"""Live training curves (pyqtgraph): loss and accuracy here, and what every live plot shares
(PlotPanel, colours, themes); the Gradients tab's plots are in gradients_panel.py.

The panels only *append* in their `add_*` methods (cheap, called per training event) and draw in
`redraw()`, which the training view calls from a ~20 Hz timer when something changed. Curves are
created once and updated with setData; history lives in arrays that double when full and halve
themselves (every other point) past a cap, so a long run keeps its whole history in bounded memory.
"""

from __future__ import annotations

import time
import weakref

import numpy as np
import pyqtgraph as pg
from mlp_studio.app.panels.training.plot_export import ExportTarget, export_plot, route_scene_export
from mlp_studio.app.panels.training.series_buffer import (
    MAX_BATCH_POINTS,
    SeriesBuffer,
    batch_positions,
)
from mlp_studio.core.training import BatchProgress, EpochEnd, History
from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

# Mid-luminance colours that read on light and dark backgrounds; the first two match the
# designer's positive blue / negative orange (TensorFlow Playground's pair).
SERIES_COLORS = (
    "#0877bd", "#f59322", "#2ca02c", "#d62728", "#9467bd",
    "#17becf", "#e377c2", "#8c564b", "#bcbd22", "#7f7f7f",
)  # fmt: skip
TRAIN_COLOR = QColor(SERIES_COLORS[0])
VAL_COLOR = QColor(SERIES_COLORS[1])
EMA_SMOOTHING = 0.95  # weight of the past in the smoothed loss: about a 20-batch window


# ---------------------------------------------------------------- growing history


def batches_per_epoch(history: History) -> float:
    """Batches per epoch in a saved history (the steps it recorded over its epochs)."""
    return max(len(history.batch_losses) / max(len(history.epochs), 1), 1.0)


def first_epoch(history: History) -> int:
    """The number of the epoch before a saved history's first (its x origin)."""
    return history.epochs[0].epoch - 1 if history.epochs else 0


# ---------------------------------------------------------------- theme and export


def theme_plot(widget: pg.PlotWidget, palette: QPalette) -> None:
    """Plot background, axes, title and legend text in the palette's colours."""
    text = palette.color(QPalette.ColorRole.Text)
    widget.setBackground(palette.color(QPalette.ColorRole.Base))
    item = widget.getPlotItem()
    for name in ("left", "bottom", "right", "top"):
        axis = item.getAxis(name)
        axis.setPen(pg.mkPen(text))
        axis.setTextPen(pg.mkPen(text))
    title = item.titleLabel
    if title.text:
        title.setText(title.text, color=text)
    legend = item.legend
    if legend is not None:
        legend.setLabelTextColor(text)
        for _sample, label in legend.items:  # pyqtgraph recolours only entries added later
            label.setText(label.text, color=text)
        base = QColor(palette.color(QPalette.ColorRole.Base))
        base.setAlpha(200)
        legend.setBrush(pg.mkBrush(base))
        legend.setPen(pg.mkPen(palette.color(QPalette.ColorRole.Mid)))


class LivePlotWidget(pg.PlotWidget):
    """A PlotWidget that remembers how long its last paint took (the training view spaces its
    frames by drawing cost, and the paint happens after its redraw returns)."""

    paint_ms = 0.0

    def paintEvent(self, event) -> None:
        start = time.perf_counter()
        super().paintEvent(event)
        self.paint_ms = 1000 * (time.perf_counter() - start)

    def settle(self) -> None:
        """Apply pending auto-range now. pyqtgraph does it lazily at the start of a paint, and
        the range change then schedules a second full paint (of this plot and the plots linked
        to it); settled before the paint, each plot paints once per update."""
        self.scene().prepareForPaint()


def make_plot(title: str, x_label: str, y_label: str) -> LivePlotWidget:
    widget = LivePlotWidget()
    widget.setMinimumHeight(150)
    item = widget.getPlotItem()
    item.setTitle(title, size="10pt")
    item.setLabel("bottom", x_label)
    item.setLabel("left", y_label)
    item.showGrid(x=True, y=True, alpha=0.15)
    for name in ("left", "bottom"):
        item.getAxis(name).enableAutoSIPrefix(False)  # a loss of 0.8 read "800, loss (x0.001)"
        # Major ticks (and grid lines) only: minor ones make each axis paint ~3x dearer, and
        # plots repaint several times a second while training.
        item.getAxis(name).setStyle(maxTickLevel=0)
    # Long histories: draw only what is in view, reduced to min/max pairs per pixel.
    item.setDownsampling(auto=True, mode="peak")
    item.setClipToView(True)
    widget_ref = weakref.ref(widget)
    route_scene_export(
        widget,
        ExportTarget(title, ("png", "svg", "csv"), lambda path: export_plot(widget_ref(), path)),
    )
    return widget


def caption(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    return label


class PlotPanel(QWidget):
    """A tab of plots that follows palette changes and offers an Export button."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.plots: list[pg.PlotWidget] = []
        self.dirty = False
        self._held: list[QWidget] = []  # plots whose paint waits its turn (see paint_in_turns)
        self._release_timer = QTimer(self)
        self._release_timer.setSingleShot(True)
        self._release_timer.setInterval(1)
        self._release_timer.timeout.connect(self._release_one)

    def forget_ranges(self) -> None:
        """Emptied plots: auto-ranging has no data to fit, so without this they kept the axes
        of what they showed before (a new table's untrained plots read 110000-140000)."""
        for widget in self.plots:
            view = widget.getPlotItem().getViewBox()
            view.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
            view.enableAutoRange()

    def export_targets(self) -> list[ExportTarget]:
        return [
            ExportTarget(w.getPlotItem().titleLabel.text, ("png", "svg", "csv"),
                         lambda path, w=w: export_plot(w, path))
            for w in self.plots
        ]  # fmt: skip

    @property
    def paint_ms(self) -> float:
        """What the plots' latest paints cost together."""
        return sum(getattr(w, "paint_ms", 0.0) for w in self.plots)

    def settle(self) -> None:
        """After setData: settle every plot's range so each paints once (see LivePlotWidget)."""
        if not self.isVisible():
            return  # a hidden tab settles when it is shown and painted
        for widget in self.plots:
            if isinstance(widget, LivePlotWidget):
                widget.settle()

    def paint_in_turns(self) -> None:
        """After a redraw: let the plots paint one per event-loop turn instead of all in one
        window repaint, so the event loop (input, timers) gets a turn between them."""
        if not self.isVisible() or self._held:
            return
        self._held = [w for w in self.plots[1:] if w.updatesEnabled()]
        for widget in self._held:
            widget.setUpdatesEnabled(False)
        if self._held:
            self._release_timer.start()

    def release_held(self) -> None:
        """Let every held plot paint now (a grab of a plot whose updates are off is blank)."""
        self._release_timer.stop()
        while self._held:
            self._held.pop(0).setUpdatesEnabled(True)

    def _release_one(self) -> None:
        self._held.pop(0).setUpdatesEnabled(True)  # re-enabling repaints it
        if self._held:
            self._release_timer.start()

    def footer(self, text: str) -> QLabel:
        """The tab's explanation, under its plots (the Export button sits on the tab bar)."""
        return caption(text)

    def stack_plots(self, top: pg.PlotWidget, bottom: pg.PlotWidget, explanation: str) -> None:
        """Two linked plots, the top one taller, and the tab's explanation under them."""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(top, 3)
        layout.addWidget(bottom, 2)
        layout.addWidget(self.footer(explanation))

    def apply_theme(self) -> None:
        for widget in self.plots:
            theme_plot(widget, self.palette())

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self.apply_theme()
        super().changeEvent(event)


# ---------------------------------------------------------------- loss and accuracy


class CurvesPanel(PlotPanel):
    """Training loss per batch (raw, faint, and smoothed), validation loss and accuracies per
    epoch; x is in epochs everywhere so the curves line up."""

    def __init__(self, parent: QWidget | None = None, max_points: int = MAX_BATCH_POINTS):
        super().__init__(parent)
        self.loss_plot = make_plot("Loss", "epoch", "loss")
        self.acc_plot = make_plot("Accuracy", "epoch", "accuracy (%)")
        self.acc_plot.setXLink(self.loss_plot)
        self.plots = [self.loss_plot, self.acc_plot]
        self.loss_plot.addLegend(offset=(-8, 8))
        self.acc_plot.addLegend(offset=(-8, -8))
        raw = QColor(TRAIN_COLOR)
        raw.setAlpha(70)
        self.raw_curve = self.loss_plot.plot(name="training (each batch)", pen=pg.mkPen(raw))
        self.ema_curve = self.loss_plot.plot(
            name="training (smoothed)", pen=pg.mkPen(TRAIN_COLOR, width=2)
        )
        self.val_loss_curve = self.loss_plot.plot(
            name="validation", pen=pg.mkPen(VAL_COLOR, width=2), symbol="o", symbolSize=6,
            symbolBrush=VAL_COLOR, symbolPen=None,
        )  # fmt: skip
        self.train_acc_curve = self.acc_plot.plot(
            name="training", pen=pg.mkPen(TRAIN_COLOR, width=2), symbol="o", symbolSize=5,
            symbolBrush=TRAIN_COLOR, symbolPen=None,
        )  # fmt: skip
        self.val_acc_curve = self.acc_plot.plot(
            name="validation", pen=pg.mkPen(VAL_COLOR, width=2), symbol="o", symbolSize=6,
            symbolBrush=VAL_COLOR, symbolPen=None,
        )  # fmt: skip
        self.batches = SeriesBuffer(3, max_points)  # x, raw loss, smoothed loss
        self.epochs = SeriesBuffer(5)  # x, train loss, val loss, train acc, val acc
        self._ema: float | None = None
        self._ema_steps = 0
        self.markers: list[pg.InfiniteLine] = []

        self.stack_plots(self.loss_plot, self.acc_plot, (
            "Faint: the loss of every batch; bold: its moving average; dots: the validation "
            "set after each epoch. A validation loss rising while training loss falls means "
            "overfitting."
        ))  # fmt: skip
        self.apply_theme()

    def add_progress(self, event: BatchProgress) -> None:
        losses = np.array(event.losses, dtype=np.float64)  # our own copy
        self.batches.append(np.stack([batch_positions(event), losses, self._smoothed(losses)]))
        self.dirty = True

    def _smoothed(self, losses: np.ndarray) -> np.ndarray:
        """The moving average after each loss, continuing from the previous ones."""
        smoothed = np.empty_like(losses)
        for i, value in enumerate(losses):
            # Bias-corrected EMA (as Adam and TensorBoard do): no pull towards 0 at the start.
            self._ema_steps += 1
            prev = 0.0 if self._ema is None else self._ema
            self._ema = EMA_SMOOTHING * prev + (1 - EMA_SMOOTHING) * value
            smoothed[i] = self._ema / (1 - EMA_SMOOTHING**self._ema_steps)
        return smoothed

    def add_epoch(self, event: EpochEnd) -> None:
        self.epochs.append(
            np.array(
                [
                    [event.epoch],
                    [event.train_loss],
                    [event.val.loss],
                    [100 * event.train_accuracy],
                    [100 * event.val.accuracy],
                ]
            )
        )
        self.dirty = True

    def show_history(self, history: History) -> None:
        """Draw a saved history (an opened session): its batch losses and epochs, on the same
        epoch axis as live events."""
        self.clear()
        losses = np.asarray(history.batch_losses, dtype=np.float64)
        if len(losses):
            x = first_epoch(history) + np.arange(1, len(losses) + 1) / batches_per_epoch(history)
            self.batches.append(np.stack([x, losses, self._smoothed(losses)]))
        if history.epochs:
            self.epochs.append(np.array([
                [r.epoch for r in history.epochs],
                [r.train_loss for r in history.epochs],
                [r.val_loss for r in history.epochs],
                [100 * r.train_accuracy for r in history.epochs],
                [100 * r.val_accuracy for r in history.epochs],
            ], dtype=np.float64))  # fmt: skip
        self.dirty = True

    def show_accuracy(self, shown: bool) -> None:
        """Show or hide the accuracy plot (hidden for regression, which has no accuracy)."""
        self.acc_plot.setVisible(shown)

    def set_loss_units(self, units: str) -> None:
        """Say what the losses are on (a regression's "standardized targets"), or nothing."""
        self.loss_plot.getPlotItem().titleLabel.setText(f"Loss on {units}" if units else "Loss")
        self.loss_plot.setLabel("left", f"loss ({units})" if units else "loss")

    def mark(self, x: float, text: str) -> None:
        """A labelled vertical line (e.g. where training diverged)."""
        line = pg.InfiniteLine(
            x, angle=90, pen=pg.mkPen(SERIES_COLORS[3], style=Qt.PenStyle.DashLine),
            label=text, labelOpts={"position": 0.12, "color": SERIES_COLORS[3]},  # below the legend
        )  # fmt: skip
        self.loss_plot.addItem(line)
        self.markers.append(line)

    def redraw(self) -> None:
        b, e = self.batches, self.epochs
        self.raw_curve.setData(b.column(0), b.column(1), connect="finite")
        self.ema_curve.setData(b.column(0), b.column(2), connect="finite")
        self.val_loss_curve.setData(e.column(0), e.column(2), connect="finite")
        x, train_acc, val_acc = e.column(0), e.column(3), e.column(4)
        has_accuracy = bool(np.isfinite(train_acc).any() or np.isfinite(val_acc).any())
        if len(x):
            # Regression has no accuracy (NaN): hide the plot rather than show an empty one.
            self.show_accuracy(has_accuracy)
        if has_accuracy:
            self.train_acc_curve.setData(x, train_acc, connect="finite")
            self.val_acc_curve.setData(x, val_acc, connect="finite")
        else:  # an all-NaN curve only makes pyqtgraph warn ("All-NaN slice")
            self.train_acc_curve.setData([], [])
            self.val_acc_curve.setData([], [])
        self.settle()
        self.dirty = False

    def clear(self) -> None:
        self.batches.clear()
        self.epochs.clear()
        self._ema, self._ema_steps = None, 0
        for line in self.markers:
            self.loss_plot.removeItem(line)
        self.markers.clear()
        self.redraw()
        self.forget_ranges()  # once the curves are empty (linked x ranges re-fit y)
