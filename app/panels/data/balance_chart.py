"""Class balance: grouped bars per class for train/val/test, and per-digit keep-fraction sliders.

The chart is the lecture's "your data may fool your model" made visible: thin out some digits
in training and the train bars fall while validation and test stay level.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from mlp_studio.app.panels.data.histogram_plot import CompactAxis, QuietPlot
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSlider,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

SPLITS = ("train", "val", "test")
# A slider per class up to this many: Qt laid out 3,000 of them (a folder of 3,000 subfolders)
# for 100 s with the window frozen.
MAX_KEEP_SLIDERS = 100
SPLIT_NAMES = {"train": "train", "val": "validation", "test": "test"}
# Tableau 10 blue/orange/green: distinct for most colour-blind viewers, readable on light and dark.
SPLIT_COLORS = {"train": QColor("#4C78A8"), "val": QColor("#F58518"), "test": QColor("#54A24B")}
DISTINCT_COLOR = QColor("#27466B")  # darker train blue: the part of the bar that is not repeats
BAR_WIDTH = 0.26


class BalanceChart(QWidget):
    """Grouped bar chart of samples per class, as counts or as % of each split."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._counts: dict[str, np.ndarray] = {}
        self._names: list[str] = []

        self.legend = QLabel()
        self.mode_combo = QComboBox()
        self.mode_combo.addItem("Counts", "counts")
        self.mode_combo.addItem("% of split", "share")
        self.mode_combo.setToolTip(
            "% of split compares the shapes of the three splits, whatever their sizes"
        )
        self.plot = QuietPlot(axisItems={"left": CompactAxis("left")})
        self.plot.setMinimumHeight(150)
        item = self.plot.getPlotItem()
        item.getAxis("left").setWidth(34)
        item.getAxis("bottom").setHeight(20)
        item.showGrid(y=True, alpha=0.25)
        self._bars = {}
        for i, split in enumerate(SPLITS):
            color = SPLIT_COLORS[split]
            bars = pg.BarGraphItem(
                x=[], height=[], width=BAR_WIDTH, brush=color, pen=pg.mkPen(color.darker(130))
            )
            bars.setZValue(i)
            item.addItem(bars)
            self._bars[split] = bars
        # Oversampling repeats images: the darker part of a train bar is the distinct ones.
        self._distinct_bars = pg.BarGraphItem(
            x=[], height=[], width=BAR_WIDTH, brush=DISTINCT_COLOR, pen=pg.mkPen(None)
        )
        self._distinct_bars.setZValue(0.5)
        item.addItem(self._distinct_bars)
        self._distinct: np.ndarray | None = None
        item.setMouseEnabled(False, False)

        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.addWidget(self.legend, 1)
        header.addWidget(self.mode_combo)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(header)
        layout.addWidget(self.plot)

        self.mode_combo.currentIndexChanged.connect(self._redraw)
        self.plot.scene().sigMouseMoved.connect(self._hover)

    def set_counts(
        self,
        counts: dict[str, np.ndarray] | None,
        class_names: list[str],
        distinct_train: np.ndarray | None = None,
    ) -> None:
        """counts {"train": [C], "val": [C], "test": [C]} as from PreparedData.class_counts().

        distinct_train [C]: distinct training images per class when some are repeated
        (oversampling); drawn as the darker lower part of the train bars.
        """
        self._counts = {s: np.array(counts[s]) for s in SPLITS} if counts else {}
        self._names = list(class_names)
        self._distinct = None if distinct_train is None else np.array(distinct_train)
        entries = [(SPLIT_COLORS[s], SPLIT_NAMES[s]) for s in SPLITS]
        if self._distinct is not None:
            entries.insert(1, (DISTINCT_COLOR, "distinct"))
        self.legend.setText(
            " &nbsp;".join(
                f"<span style='color:{color.name()}'>&#9632;</span>&nbsp;{name}"
                for color, name in entries
            )
        )
        self._redraw()

    def shown(self) -> dict[str, np.ndarray]:
        """The counts behind the bars (a copy; for tests and tooltips)."""
        return {s: c.copy() for s, c in self._counts.items()}

    def distinct_shown(self) -> np.ndarray | None:
        """Distinct training images per class, when drawn (oversampling)."""
        return None if self._distinct is None else self._distinct.copy()

    def heights(self) -> dict[str, np.ndarray]:
        """The bar heights as drawn (counts or percentages)."""
        return {s: np.array(b.opts["height"], float) for s, b in self._bars.items()}

    def _redraw(self) -> None:
        share = self.mode_combo.currentData() == "share"
        n = len(self._names)
        item = self.plot.getPlotItem()
        for i, split in enumerate(SPLITS):
            counts = self._counts.get(split, np.zeros(n)).astype(float)
            if share:
                counts = 100.0 * counts / max(counts.sum(), 1.0)
            x = np.arange(n) + (i - 1) * BAR_WIDTH
            self._bars[split].setOpts(x=x, height=counts, width=BAR_WIDTH)
            if split == "train":
                distinct = self._distinct if self._distinct is not None else np.zeros(0)
                total = max(self._counts.get("train", np.zeros(1)).sum(), 1) if share else 0
                heights = 100.0 * distinct / total if share else distinct.astype(float)
                self._distinct_bars.setOpts(x=x[: len(heights)], height=heights, width=BAR_WIDTH)
        item.getAxis("bottom").setTicks([list(enumerate(self._names))])
        item.getAxis("left").setLabel("% of split" if share else "")
        top = max((float(b.opts["height"].max()) for b in self._bars.values() if n), default=1.0)
        item.setXRange(-0.6, max(n, 1) - 0.4, padding=0)
        item.setYRange(0, max(top, 1.0) * 1.05, padding=0)

    def _hover(self, pos: QPointF) -> None:
        if not self._counts or not self.plot.sceneBoundingRect().contains(pos):
            return
        x = self.plot.getPlotItem().vb.mapSceneToView(pos).x()
        c = int(round(x))
        if not 0 <= c < len(self._names):
            QToolTip.hideText()
            return
        parts = []
        for split in SPLITS:
            counts = self._counts[split]
            pct = 100.0 * counts[c] / max(counts.sum(), 1)
            parts.append(f"{SPLIT_NAMES[split]}: {counts[c]:,} ({pct:.1f}%)")
            if split == "train" and self._distinct is not None:
                parts[-1] += f", {self._distinct[c]:,} distinct"
        text = f"Class {self._names[c]}\n" + "\n".join(parts)
        global_pos = self.plot.mapToGlobal(self.plot.mapFromScene(pos))
        QToolTip.showText(global_pos, text, self.plot)


class KeepFractionSliders(QWidget):
    """Small vertical sliders, one per class (the ten digits for MNIST): the % of each class
    kept in the training split."""

    changed = Signal(tuple)  # the fractions, 0..1 per digit

    def __init__(self, num_digits: int = 10, parent: QWidget | None = None):
        super().__init__(parent)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setHorizontalSpacing(2)
        self._grid.setVerticalSpacing(0)
        self.sliders: list[QSlider] = []
        self._values: list[QLabel] = []
        # The fraction each slider stands for: a lesson's 0.5 % of the 9s sits at the slider's
        # 0 and is kept (not rounded away when another slider moves) until its slider moves.
        self._exact: list[float | None] = []
        self.set_classes([str(d) for d in range(num_digits)])

    def set_classes(self, names: list[str]) -> None:
        """One slider per class (the data's), all at 100%; nothing is emitted."""
        if self.sliders and [self._grid.itemAtPosition(2, c).widget().text()
                             for c in range(len(self.sliders))] == list(names):  # fmt: skip
            return
        while self._grid.count():
            self._grid.takeAt(0).widget().deleteLater()
        self.sliders, self._values, self._exact = [], [], []
        if len(names) > MAX_KEEP_SLIDERS:
            note = QLabel(f"Keeping a share of each class is offered for up to "
                          f"{MAX_KEEP_SLIDERS} classes; this data has {len(names):,}.")
            note.setWordWrap(True)
            self._grid.addWidget(note, 0, 0)
            return
        for d, name in enumerate(names):
            value = QLabel("100%")
            value.setAlignment(Qt.AlignmentFlag.AlignCenter)
            value.setForegroundRole(QPalette.ColorRole.PlaceholderText)
            font = value.font()
            font.setPointSizeF(font.pointSizeF() * 0.8)
            value.setFont(font)
            slider = QSlider(Qt.Orientation.Vertical)
            slider.setRange(0, 100)
            slider.setValue(100)
            slider.setPageStep(10)
            slider.setMinimumHeight(64)
            slider.setToolTip(f"% of the training samples of class {name} to keep")
            label = QLabel(name)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setToolTip(name)
            self._grid.addWidget(value, 0, d)
            self._grid.addWidget(slider, 1, d, Qt.AlignmentFlag.AlignHCenter)
            self._grid.addWidget(label, 2, d)
            slider.valueChanged.connect(self._on_slider)
            self.sliders.append(slider)
            self._values.append(value)
            self._exact.append(None)

    def fractions(self) -> tuple[float, ...]:
        return tuple(s.value() / 100.0 if f is None else f
                     for s, f in zip(self.sliders, self._exact, strict=True))

    def set_fractions(self, fractions: tuple[float, ...]) -> None:
        """Set every slider (at the nearest whole %, the fraction itself kept) and emit
        `changed` once. Fractions for another number of classes (a table session's default
        ten) are not applied by the data preparation either: every class is then kept whole."""
        if not self.sliders:  # too many classes for sliders: nothing to set
            return
        if len(fractions) != len(self.sliders):
            fractions = (1.0,) * len(self.sliders)
        for slider, f in zip(self.sliders, fractions, strict=True):
            slider.blockSignals(True)
            slider.setValue(round(100 * f))
            slider.blockSignals(False)
        self._exact = [float(f) for f in fractions]
        self._on_slider()

    def set_fractions_silently(self, fractions: tuple[float, ...]) -> None:
        """Set every slider without emitting `changed` (echo-free updates from the state)."""
        self.blockSignals(True)
        self.set_fractions(fractions)
        self.blockSignals(False)

    def _on_slider(self) -> None:
        for i, (slider, label) in enumerate(zip(self.sliders, self._values, strict=True)):
            exact = self._exact[i]
            if exact is not None and round(100 * exact) != slider.value():
                self._exact[i] = exact = None  # this slider was moved
            label.setText(percent(slider.value() / 100 if exact is None else exact))
        self.changed.emit(self.fractions())


def percent(fraction: float) -> str:
    """'72%', and '0.5%' rather than a '0%' that reads as none at all."""
    p = 100 * fraction
    return f"{p:.2g}%" if 0 < p < 1 else f"{p:.0f}%"
