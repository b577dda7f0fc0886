"""One run's loss curves and boundary caption beside the playground's plane (this run, or a pinned
one)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from mlp_studio.app.panels.playground.boundary_view import BoundaryView, SquareBox
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPalette, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget


class RunView(QWidget):
    """Losses above a boundary view: the live run, or a pinned one."""

    def __init__(self, title: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = QLabel(f"<b>{title}</b>")
        self.losses = QLabel(" ")
        self.losses.setTextFormat(Qt.TextFormat.RichText)
        self.losses.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        # Wrapped when narrow: on one line, the losses of a pinned run beside the live one
        # pushed the panel past its column (a scroll bar, the pinned view cut off).
        self.losses.setWordWrap(True)
        self.plot = pg.PlotWidget()
        self.plot.setFixedHeight(78)
        item = self.plot.getPlotItem()
        item.setMouseEnabled(False, False)
        item.hideButtons()
        item.setMenuEnabled(False)
        item.hideAxis("bottom")
        item.getAxis("left").setWidth(34)
        item.getAxis("left").setStyle(tickLength=-3)
        self.train_curve = item.plot([], [])
        self.test_curve = item.plot([], [])
        self.boundary = BoundaryView()
        self.caption = QLabel(" ")
        self.caption.setWordWrap(True)
        # The caption changes every frame: it sits in the SquareBox, outside any layout, so
        # it never re-lays out the panel.
        self.caption.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        head = QHBoxLayout()
        head.addWidget(self.title)
        head.addStretch(1)
        head.addWidget(self.losses, 1)
        layout.addLayout(head)
        layout.addWidget(self.plot)
        layout.addWidget(SquareBox(self.boundary, self.caption), 1)
        self.curves = np.zeros((0, 3))  # epoch, train loss, test loss
        self.test_label = "Test"
        item.getAxis("left").setVisible(False)  # until there are curves (see set_curves)
        self.apply_theme()

    def set_curves(self, curves: np.ndarray, test_label: str = "Test") -> None:
        self.curves = np.array(curves, np.float64).reshape(-1, 3)
        self.test_label = test_label
        c = self.curves
        self.train_curve.setData(c[:, 0], c[:, 1])
        self.test_curve.setData(c[:, 0], c[:, 2])
        # No curves: no scale either (an empty 0-1 axis crammed into the strip, "1.0" cut off).
        self.plot.getPlotItem().getAxis("left").setVisible(bool(len(c)))
        if len(c):
            # The words carry their curve's colour: the legend of the plot.
            faint = self.palette().color(QPalette.ColorRole.PlaceholderText).name()
            self.losses.setText(
                f"{test_label} loss <b>{c[-1, 2]:.3f}</b> &nbsp; "
                f"<span style='color:{faint}'>Training loss <b>{c[-1, 1]:.3f}</b></span>"
            )
        else:
            self.losses.setText(" ")

    def show_losses_now(self, train: float, test: float, why: str) -> None:
        """The loss of the weights as they are (after a hand edit or a step): the curves'
        last point no longer describes them."""
        faint = self.palette().color(QPalette.ColorRole.PlaceholderText).name()
        self.losses.setText(
            f"{self.test_label} loss now <b>{test:.3f}</b> &nbsp; "
            f"<span style='color:{faint}'>Training loss <b>{train:.3f}</b> ({why})</span>"
        )

    def apply_theme(self) -> None:
        palette = self.palette()
        self.plot.setBackground(palette.color(QPalette.ColorRole.Window))
        text = palette.color(QPalette.ColorRole.WindowText)
        faint = palette.color(QPalette.ColorRole.PlaceholderText)
        axis = self.plot.getPlotItem().getAxis("left")
        axis.setTextPen(faint)
        axis.setPen(QColor(faint.red(), faint.green(), faint.blue(), 90))
        self.test_curve.setPen(pg.mkPen(text, width=2))
        self.train_curve.setPen(pg.mkPen(faint, width=1.5))

    def changeEvent(self, event) -> None:
        if event.type() == event.Type.PaletteChange:
            self.apply_theme()
        super().changeEvent(event)


def swatch_icon(color: tuple[int, int, int], size: int = 12) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(*color))
    return QIcon(pixmap)
