"""The Gradients tab: each layer's gradient norm (log scale) and the share of dead or saturated
units per hidden layer, over training time in epochs (the lecture's vanishing gradients).
Drawn as the other live plots are (app/panels/training/live_plots.py): appended per event,
drawn in `redraw()`."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from mlp_studio.app.panels.training.live_plots import (
    SERIES_COLORS,
    PlotPanel,
    batches_per_epoch,
    first_epoch,
    make_plot,
)
from mlp_studio.app.panels.training.series_buffer import SeriesBuffer
from mlp_studio.core.training import BatchProgress, History, LayerStats
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

LEGEND_ROWS = 3  # a legend with more entries gets more columns, not a height the plot lacks


def fresh_legend(widget: pg.PlotWidget, entries: int, rows: int) -> None:
    """A new, empty legend laid out in columns of at most `rows` entries (pyqtgraph's own
    keeps the rows of removed entries, and one tall column runs off a short plot)."""
    item = widget.getPlotItem()
    if item.legend is not None:
        if item.legend.scene() is not None:
            item.legend.scene().removeItem(item.legend)
        item.legend = None
    item.addLegend(offset=(-8, 8), colCount=max(1, math.ceil(entries / rows)))


class GradientsPanel(PlotPanel):
    """Gradient norm of each layer (log scale) and the share of dead or saturated units per
    hidden layer, over training time in epochs."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.grad_plot = make_plot("Gradient norm per layer", "epoch", "‖∂L/∂W‖ (log)")
        self.grad_plot.setLogMode(False, True)
        self.unit_plot = make_plot("Dead / saturated units", "epoch", "share of units (%)")
        self.unit_plot.setXLink(self.grad_plot)
        self.plots = [self.grad_plot, self.unit_plot]
        self.grad_plot.addLegend(offset=(-8, 8))
        self.unit_plot.addLegend(offset=(-8, 8))
        self.grad_curves: list[pg.PlotDataItem] = []
        self.unit_curves: list[pg.PlotDataItem] = []
        self.unit_kinds: list[str] = []  # per hidden layer: "dead" or "saturated"
        self.grads: SeriesBuffer | None = None  # x, norm per layer
        self.units: SeriesBuffer | None = None  # x, share per hidden layer
        self._pending: list[LayerStats] = []  # stats whose epoch position is not known yet
        self._last: BatchProgress | None = None

        self.stack_plots(self.grad_plot, self.unit_plot, (
            "Vanishing gradients: when the first layers' gradient norms sit orders of "
            "magnitude below the output layer's, those layers barely learn. Saturated "
            "sigmoid/tanh units (outputs in the flat tails) and dead ReLUs (0 for every input "
            "of a batch) pass back almost no gradient. Try ReLU-like activations, He "
            "initialisation, batch norm or a smaller learning rate."
        ))  # fmt: skip
        self.apply_theme()

    def set_layers(self, activations: Sequence[str]) -> None:
        """Create one curve per layer: hidden layers (their activation names), then the output."""
        for curve in self.grad_curves:
            self.grad_plot.removeItem(curve)
        for curve in self.unit_curves:
            self.unit_plot.removeItem(curve)
        hidden = len(activations)
        fresh_legend(self.grad_plot, hidden + 1, LEGEND_ROWS)
        fresh_legend(self.unit_plot, hidden, LEGEND_ROWS)
        names = [f"hidden {i + 1}" for i in range(hidden)] + ["output"]
        self.grad_curves = [
            self.grad_plot.plot(name=name, pen=pg.mkPen(SERIES_COLORS[i % 10], width=2))
            for i, name in enumerate(names)
        ]
        # Saturation only exists for sigmoid/tanh; every other activation can only die.
        self.unit_kinds = ["saturated" if a in ("sigmoid", "tanh") else "dead" for a in activations]
        # One kind and activation for all (the usual case): said once on the axis, so that the
        # legend of a deep network stays small enough to leave the curves visible.
        uniform = len(set(zip(self.unit_kinds, activations, strict=True))) == 1
        self.unit_plot.getPlotItem().setLabel("left", (
            f"% {self.unit_kinds[0]} ({activations[0]})" if uniform and hidden
            else "share of units (%)"))  # fmt: skip
        self.unit_curves = [
            self.unit_plot.plot(
                name=f"hidden {i + 1} {kind} ({act})",
                pen=pg.mkPen(
                    SERIES_COLORS[i % 10],
                    width=2,
                    style=Qt.PenStyle.SolidLine if kind == "dead" else Qt.PenStyle.DashLine,
                ),
            )  # fmt: skip
            for i, (kind, act) in enumerate(zip(self.unit_kinds, activations, strict=True))
        ]
        if uniform:  # the full names stay the curves' (a CSV export's columns)
            legend = self.unit_plot.getPlotItem().legend
            for i, curve in enumerate(self.unit_curves):
                label = legend.getLabel(curve)
                label.setText(f"hidden {i + 1}")
                label.resize(label.minimumSize())
            legend.updateSize()
        self.grads = SeriesBuffer(1 + hidden + 1)
        self.units = SeriesBuffer(1 + hidden)
        self.apply_theme()
        self.dirty = True

    def add_stats(self, event: LayerStats) -> None:
        self._pending.append(event)

    def add_progress(self, event: BatchProgress) -> None:
        """Stats are reported just before the batch they describe; the next progress report
        covers that batch, and tells its epoch."""
        self._last = event
        if self._pending:
            self._place_pending(event)

    def show_history(self, history: History) -> None:
        """Draw a saved history's gradient norms (the share of dead or saturated units is
        not kept in a session: that plot starts with the next run)."""
        self.clear()
        if not history.grad_norms or self.grads is None:
            return
        per_epoch = batches_per_epoch(history)
        for step, norms in history.grad_norms:
            if len(norms) != self.grads.columns - 1:
                continue  # recorded with another depth
            values = np.array(norms, dtype=np.float64)
            values[values <= 0] = np.nan
            x = first_epoch(history) + step / per_epoch
            self.grads.append(np.concatenate([[x], values])[:, None])
        self.dirty = True

    def flush_pending(self) -> None:
        """Place stats reported after the last progress (a run stopped mid-report)."""
        if self._pending and self._last is not None:
            self._place_pending(self._last)

    def _place_pending(self, ref: BatchProgress) -> None:
        for stats in self._pending:
            if self.grads is None or self.grads.columns != 1 + len(stats.grad_norms):
                hidden = len(stats.grad_norms) - 1
                self.set_layers(["relu"] * hidden)  # the caller had not said; assume "dead"
            x = (ref.epoch - 1) + (ref.batch - (ref.step - stats.step)) / ref.batches_per_epoch
            norms = np.array(stats.grad_norms, dtype=np.float64)
            norms[norms <= 0] = np.nan  # log scale: a zero gradient is a gap, not -inf
            share = np.array(
                [s if kind == "saturated" else d for d, s, kind in
                 zip(stats.dead_fraction, stats.saturated_fraction, self.unit_kinds, strict=True)],
                dtype=np.float64,
            )  # fmt: skip
            self.grads.append(np.concatenate([[x], norms])[:, None])
            self.units.append(np.concatenate([[x], 100 * share])[:, None])
        self._pending.clear()
        self.dirty = True

    def redraw(self) -> None:
        if self.grads is not None:
            x = self.grads.column(0)
            for i, curve in enumerate(self.grad_curves):
                curve.setData(x, self.grads.column(i + 1), connect="finite")
            x = self.units.column(0)
            for i, curve in enumerate(self.unit_curves):
                curve.setData(x, self.units.column(i + 1))
        self.settle()
        self.dirty = False

    def clear(self) -> None:
        self._pending.clear()
        self._last = None
        if self.grads is not None:
            self.grads.clear()
            self.units.clear()
        self.redraw()
        self.forget_ranges()  # once the curves are empty (linked x ranges re-fit y)
