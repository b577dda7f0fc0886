"""Playground pairs: run A's and run B's decision boundaries side by side over the same plane
(core.playground_grids), so the change's effect on the boundary is seen at a glance."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from mlp_studio.app.panels.compare.pair_plots import themed_plot
from mlp_studio.core.data import Normalization
from mlp_studio.core.playground import EXTENT
from mlp_studio.core.playground_grids import decision_grid
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QHBoxLayout, QWidget

RESOLUTION = 80
# Class 0 orange, class 1 blue (the Playground's convention), white where undecided.
_LOW = np.array([245, 147, 34], np.float32)
_HIGH = np.array([8, 119, 189], np.float32)
_WHITE = np.array([255, 255, 255], np.float32)
_CLASSES = np.array([[245, 147, 34], [8, 119, 189], [44, 160, 44], [214, 39, 40],
                     [148, 103, 189], [23, 190, 207], [227, 119, 194], [140, 86, 75],
                     [188, 189, 34], [127, 127, 127]], np.float32)


def boundary_colors(grid: np.ndarray, task: str) -> np.ndarray:
    """uint8 RGB [res, res, 3] of a decision_grid: a two-colour ramp through white for a binary
    problem or a regression surface, else each class's colour faded by the confidence."""
    if grid.ndim == 3:  # multi-class probabilities
        best = grid.argmax(-1)
        confidence = grid.max(-1)[..., None]
        colors = _CLASSES[best % len(_CLASSES)]
        rgb = _WHITE + (colors - _WHITE) * confidence
    else:
        t = grid.astype(np.float32)
        if task == "regression":
            low, high = float(t.min()), float(t.max())
            t = (t - low) / (high - low) if high > low else np.full_like(t, 0.5)
        t = np.clip(t, 0, 1)[..., None]
        rgb = np.where(t < 0.5, _LOW + (_WHITE - _LOW) * (t / 0.5),
                       _WHITE + (_HIGH - _WHITE) * ((t - 0.5) / 0.5))
    return np.ascontiguousarray(np.clip(rgb, 0, 255).astype(np.uint8))


class BoundaryPair(QWidget):
    """Two decision boundaries side by side."""

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.plots, self.images = [], []
        for run in ("A", "B"):
            plot = themed_plot(f"Decision boundary {run}", "x2", "x1")
            plot.getPlotItem().setAspectLocked(True)
            image = pg.ImageItem(axisOrder="row-major")
            plot.addItem(image)
            x0, x1, y0, y1 = EXTENT
            plot.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
            self.plots.append(plot)
            self.images.append(image)
            layout.addWidget(plot)

    def show_models(self, models, labels: Sequence[str], feature_names: Sequence[str],
                    normalization: Normalization, loss: str, task: str) -> None:
        x0, x1, y0, y1 = EXTENT
        for plot, image, model, label in zip(self.plots, self.images, models, labels,
                                             strict=True):  # fmt: skip
            grid = decision_grid(model, feature_names, normalization, loss, EXTENT,
                                 RESOLUTION, task)
            image.setImage(boundary_colors(grid, task))
            image.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
            plot.getPlotItem().setTitle(label, size="10pt")
