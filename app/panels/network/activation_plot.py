"""A small plot of an activation function f and its derivative f' (pyqtgraph)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from mlp_studio.core.activations import ActivationSpec, sample_activation
from mlp_studio.core.errors import SpecError
from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QWidget

F_COLOR = QColor(8, 119, 189)  # the diagram's "positive" blue
DF_COLOR = QColor(245, 147, 34)  # the diagram's "negative" orange
X_RANGE = 4.0
Y_LIMIT = 6.0  # exp(x) and friends would squash every other curve: clip the view


class ActivationPlot(pg.PlotWidget):
    """Shows f(x) and f'(x) on [-4, 4] for an ActivationSpec, or a note when there is no curve."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumSize(180, 120)
        self.setMenuEnabled(False)
        self.setMouseEnabled(False, False)
        self.hideButtons()
        item = self.getPlotItem()
        item.showGrid(x=True, y=True, alpha=0.2)
        self._legend = item.addLegend(offset=(6, 4), labelTextSize="8pt")
        self._xs = np.linspace(-X_RANGE, X_RANGE, 401)
        self.f_curve = self.plot([], [], name="f(x)", connect="finite")
        self.df_curve = self.plot([], [], name="f′(x)", connect="finite")
        self.note = pg.TextItem("", anchor=(0.5, 0.5))
        self.addItem(self.note, ignoreBounds=True)
        self.note.setPos(0, 0)
        self._apply_palette()

    def set_activation(self, spec: ActivationSpec | None, empty_note: str = "No activation") -> str:
        """Plot `spec`; returns "" or the reason there is no curve (also shown on the plot)."""
        reason = ""
        if spec is None:
            f = df = np.array([])
            reason = empty_note
        else:
            try:
                with np.errstate(all="ignore"):
                    f, df = sample_activation(spec, self._xs)
            except SpecError as err:
                f = df = np.array([])
                reason = str(err)
        xs = self._xs if f.size else np.array([])
        self.f_curve.setData(xs, _finite(f))
        self.df_curve.setData(xs, _finite(df))
        self.note.setText(reason)
        self._fit_note()
        self._legend.setVisible(not reason)
        if f.size:
            self.setYRange(*_y_range(f, df), padding=0.08)
        else:
            self.setYRange(-1, 1, padding=0)
        self.setXRange(-X_RANGE, X_RANGE, padding=0)
        return reason

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if "note" in self.__dict__:  # (also called inside the base constructor)
            self._fit_note()

    def _fit_note(self) -> None:
        # Wrap the note to the plot area (the left axis takes about 40 px).
        self.note.setTextWidth(max(self.width() - 60, 80) if self.note.toPlainText() else -1)

    def sizeHint(self) -> QSize:
        return QSize(240, 170)  # pyqtgraph's default asks for 480 px of height

    def has_curve(self) -> bool:
        x, y = self.f_curve.getData()
        return x is not None and len(x) > 0 and bool(np.isfinite(y).any())

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange and "note" in self.__dict__:
            self._apply_palette()  # (also fires inside the base constructor: skip that one)
        super().changeEvent(event)

    def _apply_palette(self) -> None:
        pal = self.palette()
        text = pal.color(QPalette.ColorRole.Text)
        self.setBackground(pal.color(QPalette.ColorRole.Base))
        for name in ("left", "bottom"):
            axis = self.getPlotItem().getAxis(name)
            axis.setPen(pg.mkPen(text))
            axis.setTextPen(pg.mkPen(text))
        self.f_curve.setPen(pg.mkPen(F_COLOR, width=2))
        self.df_curve.setPen(pg.mkPen(DF_COLOR, width=1.5, style=Qt.PenStyle.DashLine))
        self.note.setColor(text)
        for _sample, label in self._legend.items:
            label.setAttr("color", text)
            label.setText(label.text)


def _finite(values: np.ndarray) -> np.ndarray:
    """Out-of-view values become nan so the curve breaks instead of shooting off."""
    out = np.asarray(values, dtype=np.float64).copy()
    out[~np.isfinite(out) | (np.abs(out) > 1e6)] = np.nan
    return out


def _y_range(f: np.ndarray, df: np.ndarray) -> tuple[float, float]:
    values = np.concatenate([f, df])
    values = np.clip(values[np.isfinite(values)], -Y_LIMIT, Y_LIMIT)
    if values.size == 0:
        return -1.0, 1.0
    low, high = float(values.min()), float(values.max())
    low, high = min(low, 0.0), max(high, 1.0)  # keep the axes' origin and y=1 in view
    return low, high
