"""Saving a plot or view as PNG, SVG or CSV: the Export button and its file dialog."""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyqtgraph as pg
from pyqtgraph.exporters import CSVExporter, ImageExporter
from PySide6.QtCore import QPoint, QRectF
from PySide6.QtGui import QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QToolButton, QWidget


def export_plot(widget: pg.PlotWidget, path: str | Path) -> Path:
    """Write a plot as .png (ImageExporter), .svg or .csv (CSVExporter: the curves' full data)."""
    path = Path(path)
    suffix = path.suffix.lower()
    item = widget.getPlotItem()
    if suffix == ".png":
        exporter = ImageExporter(item)
        # Twice the on-screen size: crisp in slides and documents.
        exporter.parameters()["width"] = max(2 * int(item.sceneBoundingRect().width()), 800)
        exporter.export(str(path))
    elif suffix == ".svg":
        export_svg(widget, path)
    elif suffix == ".csv":
        CSVExporter(item).export(str(path))
    else:
        raise ValueError(f"Cannot export a plot as '{suffix}': choose .png, .svg or .csv.")
    return path


def export_svg(widget: QWidget, path: str | Path) -> Path:
    """Render a widget into an SVG file.

    pyqtgraph's SVGExporter fails on the close-path commands that current Qt writes
    (pyqtgraph issue #3485), so the widget paints itself into Qt's own SVG generator.
    """
    generator = QSvgGenerator()
    generator.setFileName(str(path))
    generator.setSize(widget.size())
    generator.setViewBox(QRectF(widget.rect()))
    generator.setResolution(widget.logicalDpiX())  # else text and pens scale by 96/72
    generator.setTitle(widget.windowTitle() or "MLP Studio plot")
    painter = QPainter(generator)
    try:
        # QWidget's own render (QGraphicsView overloads render with other arguments): the
        # background, every child, as on screen.
        QWidget.render(widget, painter, QPoint())
    finally:
        painter.end()
    return Path(path)


def file_stem(name: str) -> str:
    """A plot title as a file name: "Dead / saturated units" -> "dead_saturated_units"."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "plot"


FORMAT_FILTERS = {
    "png": "PNG image (*.png)",
    "svg": "SVG vector image (*.svg)",
    "csv": "CSV data (*.csv)",
}


@dataclass(frozen=True)
class ExportTarget:
    name: str  # menu text and default file name, e.g. "Loss"
    formats: tuple[str, ...]  # offered suffixes, first is the default
    write: Callable[[Path], object]  # writes the format its suffix names


class ExportButton(QToolButton):
    """An "Export…" button whose menu lists plots; each entry asks for a file and writes it.

    `targets` is a list, or a function returning one (asked each time the menu opens, so one
    button on a tab bar can serve whichever tab is showing).
    """

    def __init__(
        self,
        targets: Sequence[ExportTarget] | Callable[[], Sequence[ExportTarget]],
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.setText("Export…")
        self.setToolTip("Save a plot as a PNG or SVG image, or its data as CSV")
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self._targets = targets
        self.setMenu(QMenu(self))
        self.menu().aboutToShow.connect(self._fill_menu)

    def targets(self) -> list[ExportTarget]:
        return list(self._targets() if callable(self._targets) else self._targets)

    def _fill_menu(self) -> None:
        menu = self.menu()
        menu.clear()
        for target in self.targets():
            formats = "/".join(f.upper() for f in target.formats)
            action = menu.addAction(f"{target.name} ({formats})…")
            action.triggered.connect(lambda _=False, t=target: self.ask_and_export(t))

    def ask_and_export(self, target: ExportTarget) -> None:
        ask_and_export(self, target)


def ask_and_export(parent: QWidget, target: ExportTarget) -> Path | None:
    """Ask for a file (the filter picks the format) and write `target` there."""
    filters = ";;".join(FORMAT_FILTERS[f] for f in target.formats)
    default = file_stem(target.name) + "." + target.formats[0]
    path, chosen = QFileDialog.getSaveFileName(parent, f"Export {target.name}", default, filters)
    if not path:
        return None
    path = Path(path)
    if path.suffix.lower().lstrip(".") not in target.formats:
        # The user typed a bare name: use the format of the filter they picked.
        fmt = next((f for f in target.formats if FORMAT_FILTERS[f] == chosen), target.formats[0])
        path = path.with_name(path.name + "." + fmt)
    try:
        target.write(path)
    except (OSError, ValueError, RuntimeError) as err:
        QMessageBox.warning(parent, "Export failed", f"Could not write {path}:\n{err}")
        return None
    return path


def route_scene_export(view: pg.GraphicsView, target: ExportTarget) -> None:
    """Point the right-click "Export..." of a pyqtgraph view at our exporter (pyqtgraph's own
    dialog offers its broken SVG export)."""
    action = view.scene().contextMenu[0]
    action.triggered.disconnect()
    view_ref = weakref.ref(view)  # no lambda holding the view alive

    def export() -> None:
        if (v := view_ref()) is not None:
            ask_and_export(v, target)

    action.triggered.connect(export)
