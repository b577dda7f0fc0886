"""First-layer weights as pictures: each hidden unit's 784 input weights as a 28x28 tile.

One ImageItem shows a mosaic of up to 64 units, in a diverging colour map with symmetric levels
(-m, m). m only grows during a run (it restarts with the next run), so weights that grow look
stronger instead of being rescaled away. Inputs that are not 28x28 images (2-D playground data)
are shown as the plain weight matrix, one row per unit.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from mlp_studio.app.panels.training.live_plots import PlotPanel
from mlp_studio.app.panels.training.plot_export import ExportTarget, export_plot, route_scene_export
from mlp_studio.app.widgets.sign_colors import signed_colormap
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

MAX_TILES = 64
SIDE = 28
GAP = 1  # transparent (NaN) pixels between tiles


def mosaic(weights: np.ndarray, max_tiles: int = MAX_TILES) -> np.ndarray:
    """[units, 784] -> one float32 image of 28x28 tiles in a near-square grid, NaN between."""
    n = min(len(weights), max_tiles)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    cell = SIDE + GAP
    tiles = np.full((rows * cols, cell, cell), np.nan, dtype=np.float32)
    tiles[:n, :SIDE, :SIDE] = weights[:n].reshape(n, SIDE, SIDE)
    image = tiles.reshape(rows, cols, cell, cell).transpose(0, 2, 1, 3).reshape(rows * cell, -1)
    return image[:-GAP, :-GAP]  # no gap after the last row and column


class WeightsGrid(PlotPanel):
    """Shows Snapshot.weights[0]; call `set_weights` (cheap), then `redraw` from a timer."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.plot = pg.PlotWidget()
        item = self.plot.getPlotItem()
        item.setTitle("First-layer weights", size="10pt")
        item.hideAxis("left")
        item.hideAxis("bottom")
        item.setMenuEnabled(False)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        item.getViewBox().setAspectLocked(True)
        item.getViewBox().invertY(True)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(signed_colormap())  # negative orange, positive blue
        self.plot.addItem(self.image)
        self.colorbar = pg.ColorBarItem(
            values=(-1, 1), colorMap=signed_colormap(), interactive=False, width=12
        )
        self.colorbar.setImageItem(self.image, insert_in=item)
        self.plots = [self.plot]
        route_scene_export(self.plot, self.export_targets()[0])
        self.info = QLabel("")
        self.level = 0.0  # m of the levels (-m, m); grows only, per run
        self._weights: np.ndarray | None = None  # the shown rows, our own copy
        self._units = 0

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.info)
        layout.addWidget(self.footer(
            "Each tile is one hidden unit's weights on the 28×28 input pixels: blue pixels push "
            "the unit up, orange ones down. Trained units show stroke-like detectors; noise means "
            "the unit has not learned (yet)."
        ))  # fmt: skip
        self.apply_theme()

    def export_targets(self) -> list[ExportTarget]:
        return [
            ExportTarget("Weights image", ("png", "svg"), lambda p: export_plot(self.plot, p)),
            ExportTarget("Weights", ("csv",), self.export_csv),
        ]

    def export_csv(self, path: str | Path) -> Path:
        """The shown units' weights, one row per unit."""
        if self._weights is None:
            raise ValueError("There are no weights to export yet: build or train a model.")
        np.savetxt(path, self._weights, delimiter=",", fmt="%.7g")
        return Path(path)

    def set_weights(self, weights: np.ndarray) -> None:
        """First-layer weights [units, inputs]; keeps a copy of at most MAX_TILES rows."""
        self._units = len(weights)
        self._weights = np.array(weights[:MAX_TILES], dtype=np.float32)
        finite = self._weights[np.isfinite(self._weights)]
        if finite.size:
            # The 99.5th percentile, not the max: one outlier would wash out every tile.
            self.level = max(self.level, float(np.percentile(np.abs(finite), 99.5)), 1e-6)
        self.dirty = True

    def redraw(self) -> None:
        self.dirty = False
        w = self._weights
        if w is None:
            self.image.clear()
            self.info.setText("No weights yet: build or train a model.")
            return
        is_image = w.shape[1] == SIDE * SIDE
        picture = mosaic(w) if is_image else w
        self.image.setImage(picture, levels=(-self.level, self.level))
        self.colorbar.setLevels((-self.level, self.level))
        shown = len(w)
        what = "units" if is_image else "units (rows) × inputs (columns)"
        more = f" of {self._units}" if self._units > shown else ""
        self.info.setText(f"{shown}{more} {what} · colour range ±{self.level:.3g}")

    def clear(self) -> None:
        """Forget the weights and the colour range (a new run starts)."""
        self._weights = None
        self._units = 0
        self.level = 0.0
        self.redraw()

    def apply_theme(self) -> None:
        super().apply_theme()
        if hasattr(self, "colorbar"):
            text = self.palette().color(QPalette.ColorRole.Text)
            axis = self.colorbar.axis
            axis.setPen(pg.mkPen(text))
            axis.setTextPen(pg.mkPen(text))
