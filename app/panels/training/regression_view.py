"""What a regression predicts, where a classifier's confusion matrix would be: predicted against
true values (on the diagonal when perfect) and the errors against the predictions (a pattern
there is something the network has not learned), with RMSE, MAE and R².

Plot items are created once; a new result only calls setData. Very large splits are drawn from
an evenly spaced sample of points (the scores always use every sample).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from mlp_studio.app.panels.training.live_plots import (
    SERIES_COLORS,
    VAL_COLOR,
    PlotPanel,
    make_plot,
)
from mlp_studio.app.panels.training.plot_export import ExportTarget, export_plot
from mlp_studio.app.panels.training.split_results import SplitResults
from mlp_studio.app.widgets.formatting import format_scores
from mlp_studio.core.data import PreparedData
from mlp_studio.core.metrics import Metrics
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSplitter, QVBoxLayout, QWidget

MAX_POINTS = 5_000  # drawn per plot; scatter items slow down past a few thousand points
IDEAL_COLOR = QColor(SERIES_COLORS[2])


@dataclass(frozen=True)
class _Result:
    metrics: Metrics
    name: str  # what the network predicts ("y", "price")
    split: str  # "validation" | "test"
    note: str  # e.g. "epoch 3"


def shown_indices(n: int, limit: int = MAX_POINTS) -> np.ndarray:
    """Which of n samples are drawn: all, or `limit` evenly spaced (the same every time)."""
    if n <= limit:
        return np.arange(n)
    return np.linspace(0, n - 1, limit).astype(np.int64)


class RegressionView(PlotPanel, SplitResults):
    """Latest validation results (per epoch) or the final test results, chosen by the user."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._init_split_results()
        self.summary = QLabel("")
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setWordWrap(True)

        self.scatter_plot = make_plot("Predicted vs true", "true value", "predicted value")
        self.residual_plot = make_plot("Errors", "predicted value", "error (predicted − true)")
        self.plots = [self.scatter_plot, self.residual_plot]
        for plot in self.plots:  # values in the data's own units, never "(x0.001)"
            for axis in ("left", "bottom"):
                plot.getPlotItem().getAxis(axis).enableAutoSIPrefix(False)
        brush = QColor(VAL_COLOR)
        brush.setAlpha(170)
        self.ideal = self.scatter_plot.plot(
            [], [], pen=pg.mkPen(IDEAL_COLOR, width=1.5, style=Qt.PenStyle.DashLine))
        self.points = pg.ScatterPlotItem(size=5, pen=None, brush=pg.mkBrush(brush))
        self.scatter_plot.addItem(self.points)
        self.zero = pg.InfiniteLine(
            0.0, angle=0, pen=pg.mkPen(IDEAL_COLOR, width=1.5, style=Qt.PenStyle.DashLine))
        self.residual_plot.addItem(self.zero)
        self.residuals = pg.ScatterPlotItem(size=5, pen=None, brush=pg.mkBrush(brush))
        self.residual_plot.addItem(self.residuals)
        self.empty_note = QLabel("")
        self.empty_note.setWordWrap(True)
        self.empty_note.setAlignment(Qt.AlignmentFlag.AlignCenter)

        top = QHBoxLayout()
        top.addWidget(QLabel("Show"))
        top.addWidget(self.source)
        top.addWidget(self.summary, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.scatter_plot)
        self.splitter.addWidget(self.residual_plot)
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.empty_note)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.footer(
            "Left: each sample's prediction against its true value; on the dashed diagonal "
            "when exact. Right: the error of each prediction; errors that follow a pattern "
            "rather than scatter evenly around 0 are something the network has not learned."
        ))  # fmt: skip
        self.apply_theme()
        self._show()

    def sizeHint(self) -> QSize:
        return QSize(640, 420)

    def resizeEvent(self, event) -> None:
        # Side by side when there is room for two readable plots, else one above the other.
        wide = event.size().width() >= 2 * 260
        orientation = Qt.Orientation.Horizontal if wide else Qt.Orientation.Vertical
        if self.splitter.orientation() != orientation:
            self.splitter.setOrientation(orientation)
        super().resizeEvent(event)

    # ---- data in (the same calls as the confusion view's) ----

    def set_metrics(
        self, split: str, metrics: Metrics, data: PreparedData | None, note: str = "",
        feature_names: list[str] | None = None,
    ) -> None:
        """Store results of a split ("validation" or "test"); drawn on the next redraw.
        (`feature_names` is for the confusion view's mistakes: a regression has none.)"""
        names = data.class_names if data is not None and data.task == "regression" else []
        self._results[split] = _Result(metrics, names[0] if names else "value", split, note)
        self.dirty = True

    def _show(self) -> None:
        result = self.current()
        metrics = result.metrics if result is not None else None
        n = len(metrics.targets) if metrics is not None else 0
        if result is None:
            self.summary.setText(
                "" if self.source.currentData() == "validation"
                else "The test set is evaluated when training ends.")
        else:
            count = f"{n:,} {result.split} samples" if n else f"the {result.split} set"
            shown = f", {MAX_POINTS:,} drawn" if n > MAX_POINTS else ""
            note = f" ({result.note}{shown})" if result.note or shown else ""
            self.summary.setText(f"{format_scores(metrics)} on {count}{note}"
                                 f" · loss {metrics.loss:.4g}")
        if metrics is None or not n:
            self.empty_note.setText(
                "" if metrics is None else
                "A saved session keeps the scores, not each sample's prediction: train or "
                "evaluate the model (Model > Evaluate) to see them plotted.")
            self.empty_note.setVisible(metrics is not None)
            for item in (self.points, self.residuals):
                item.setData([], [])
            self.ideal.setData([], [])
            self.settle()
            return
        self.empty_note.setVisible(False)
        keep = shown_indices(n)
        true = np.asarray(metrics.targets, np.float64)[keep]
        predicted = np.asarray(metrics.values, np.float64)[keep]
        finite = np.isfinite(true) & np.isfinite(predicted)  # a diverged net predicts inf
        true, predicted = true[finite], predicted[finite]
        self.points.setData(true, predicted)
        self.residuals.setData(predicted, predicted - true)
        if len(true):
            low = float(min(true.min(), predicted.min()))
            high = float(max(true.max(), predicted.max()))
            self.ideal.setData([low, high], [low, high])
        else:
            self.ideal.setData([], [])
        name = result.name
        self.scatter_plot.setLabel("bottom", f"true {name}")
        self.scatter_plot.setLabel("left", f"predicted {name}")
        self.residual_plot.setLabel("bottom", f"predicted {name}")
        self.settle()

    # ---- export ----

    def export_targets(self) -> list[ExportTarget]:
        return [
            ExportTarget("Predicted vs true", ("png", "svg"),
                         lambda path: export_plot(self.scatter_plot, path)),
            ExportTarget("Errors", ("png", "svg"),
                         lambda path: export_plot(self.residual_plot, path)),
            ExportTarget("Predictions", ("csv",), self.export_csv),
        ]  # fmt: skip

    def export_csv(self, path: str | Path) -> Path:
        """Every sample's true and predicted value and error, then the scores."""
        result = self.current()
        if result is None or not len(result.metrics.targets):
            raise ValueError("There are no predictions yet: train for at least one epoch.")
        m = result.metrics
        with open(path, "w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["true", "predicted", "error"])
            for t, v in zip(m.targets, m.values, strict=True):
                out.writerow([f"{t:.6g}", f"{v:.6g}", f"{v - t:.6g}"])
            out.writerow([])
            for name, value in (("rmse", m.rmse), ("mae", m.mae), ("r2", m.r2),
                                ("loss", m.loss)):  # fmt: skip
                out.writerow([name, f"{value:.6g}"])
        return Path(path)
