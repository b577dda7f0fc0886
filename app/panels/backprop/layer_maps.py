"""One layer's numbers as heat maps: z, a, dL/da, dL/dz and dL/db as columns (one row per neuron,
aligned with the rows of dL/dW beside them), the number under the mouse in a readout.

The image items are made once; a new step only calls setImage with symmetric levels, so zero
is always white and the colour says the sign.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from mlp_studio.app.widgets.sign_colors import signed_colormap
from mlp_studio.core.backprop_steps import LayerStep, sup
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

# (field of LayerStep, title template with the layer's superscript)
COLUMNS = (("z", "z{l}"), ("a", "a{l}"), ("dL_da", "dL/da{l}"), ("dL_dz", "dL/dz{l}"),
           ("dL_db", "dL/db{l}"))


class LayerMaps(QWidget):
    """The heat maps of one LayerStep; `on_pick(row, col)` when a dL/dW cell is clicked."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.on_pick: Callable[[int, int], None] = lambda _row, _col: None
        self.canvas = pg.GraphicsLayoutWidget()
        self.canvas.setBackground(None)
        self.canvas.setMinimumHeight(220)
        self.readout = QLabel("Hover over a cell to read its number; click a dL/dW cell to "
                              "check its gradient.")
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.plots: dict[str, pg.PlotItem] = {}
        self.images: dict[str, pg.ImageItem] = {}
        cmap = signed_colormap()  # as the weights view
        for column, (key, _title) in enumerate((*COLUMNS, ("dL_dW", "dL/dW{l}"))):
            plot = self.canvas.addPlot(row=0, col=column)
            plot.invertY(True)
            plot.hideAxis("bottom")
            plot.setMenuEnabled(False)
            plot.setMouseEnabled(x=False, y=False)
            plot.hideButtons()
            if column:
                plot.hideAxis("left")
                plot.setYLink(self.plots["z"])  # row i is neuron i in every map
            image = pg.ImageItem(axisOrder="row-major")
            image.setColorMap(cmap)
            plot.addItem(image)
            self.plots[key], self.images[key] = plot, image
        layout = self.canvas.ci.layout
        for column in range(len(COLUMNS)):
            layout.setColumnStretchFactor(column, 1)
        layout.setColumnStretchFactor(len(COLUMNS), 6)
        self.canvas.scene().sigMouseMoved.connect(self._hover)
        self.canvas.scene().sigMouseClicked.connect(self._click)
        self.step: LayerStep | None = None
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.canvas, 1)
        box.addWidget(self.readout)

    def show_step(self, step: LayerStep) -> None:
        self.step = step
        l, prev = sup(step.number), sup(step.number - 1)
        for key, title in COLUMNS:
            values = getattr(step, key).reshape(-1, 1)
            self._set(key, values, title.format(l=l))
        self._set("dL_dW", step.dL_dW, f"dL/dW{l} = dL/dz{l} · a{prev}ᵀ")
        self.plots["z"].setYRange(0, len(step.z), padding=0)
        # Few neurons: a tick at the middle of each row, numbered (else ticks fall between).
        rows = len(step.z)
        ticks = [[(i + 0.5, str(i)) for i in range(rows)]] if rows <= 32 else None
        self.plots["z"].getAxis("left").setTicks(ticks)

    def _set(self, key: str, values: np.ndarray, title: str) -> None:
        finite = values[np.isfinite(values)]
        m = float(np.abs(finite).max()) if finite.size else 0.0
        self.images[key].setImage(values, levels=(-m, m) if m > 0 else (-1, 1))
        self.plots[key].setTitle(title, size="9pt")
        self.plots[key].setXRange(0, values.shape[1], padding=0)

    def value_at(self, scene_pos: QPointF) -> tuple[str, int, int, float] | None:
        """(key, row, col, value) of the cell under a scene position, or None."""
        if self.step is None:
            return None
        for key, plot in self.plots.items():
            if not plot.vb.sceneBoundingRect().contains(scene_pos):
                continue
            point = plot.vb.mapSceneToView(scene_pos)
            values = self.images[key].image
            row, col = int(np.floor(point.y())), int(np.floor(point.x()))
            if values is not None and 0 <= row < values.shape[0] and 0 <= col < values.shape[1]:
                return key, row, col, float(values[row, col])
        return None

    def describe(self, key: str, row: int, col: int, value: float) -> str:
        l = sup(self.step.number)
        if key == "dL_dW":
            return (f"dL/dW{l}[{row}, {col}] = {value:.6g}   (neuron {row}, input {col} from "
                    f"layer {self.step.number - 1})")
        title = dict(COLUMNS)[key].format(l=l)
        return f"{title}[{row}] = {value:.6g}   (neuron {row} of the {self.step.label})"

    def _hover(self, scene_pos: QPointF) -> None:
        found = self.value_at(scene_pos)
        if found is not None:
            self.readout.setText(self.describe(*found))

    def _click(self, event) -> None:
        found = self.value_at(event.scenePos())
        if found is not None and found[0] == "dL_dW":
            self.on_pick(found[1], found[2])
