"""What every neuron has learned, as in TensorFlow Playground: one small heatmap per neuron.

Columns left to right: the input features, each hidden layer, the outputs. Each tile shows what
that node outputs over the input plane (row 0 of a tile array at the bottom, like the big
view); links between columns are the weights, blue positive and orange negative, thicker when
larger. Clicking a link edits that weight, clicking a neuron edits its bias: the view emits
weightEdited and its owner writes the value into the model (only when editing is allowed).

Large layers show their first MAX_SHOWN neurons and say how many more there are.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from mlp_studio.app.panels.playground.playground_colors import BLUE, ORANGE
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QLabel,
    QSizePolicy,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

MAX_SHOWN = 12  # neurons drawn per column; the rest are counted under it
MAX_TILE = 64
MIN_TILE = 14
GAP = 6
HIT_DISTANCE = 5.0  # pixels


@dataclass
class Column:
    """One column of tiles: uint8 RGB images [n, r, r, 3] of its first n nodes."""

    title: str
    subtitle: str = ""
    tiles: np.ndarray = field(default_factory=lambda: np.zeros((0, 1, 1, 3), np.uint8))
    count: int = 0  # nodes in the layer (may exceed len(tiles))
    labels: list[str] = field(default_factory=list)  # drawn beside the tiles (features, outputs)
    names: list[str] = field(default_factory=list)  # tooltips, one per node


@dataclass(frozen=True)
class Hit:
    kind: str  # "weight" | "bias" | "node"
    layer: int  # index into the weights (Linear layers): column `layer` -> column `layer + 1`
    row: int  # the neuron the link enters (or the neuron itself)
    col: int  # the node the link leaves; -1 for a bias


class WeightEditor(QDialog):
    """A small non-modal editor for one weight or bias."""

    def __init__(self, parent: QWidget, title: str, value: float):
        super().__init__(parent)
        self.setWindowTitle("Edit weight")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(title))
        self.spin = QDoubleSpinBox()
        self.spin.setRange(-100.0, 100.0)
        self.spin.setDecimals(3)
        self.spin.setSingleStep(0.1)
        self.spin.setValue(value)
        self.spin.selectAll()
        layout.addWidget(self.spin)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


class NeuronGridView(QWidget):
    """Columns of neuron heatmaps joined by weight-coloured links."""

    weightEdited = Signal(int, int, int, float)  # layer, row (neuron), col (input; -1 bias), value
    nodeHovered = Signal(object)  # (column, index) of the tile under the mouse, or None

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setMinimumSize(260, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.columns: list[Column] = []
        self.weights: list[np.ndarray] = []  # per Linear [out, in]
        self.biases: list[np.ndarray] = []
        self.editable = True
        self.note = ""  # a hint painted under the tiles
        self.hovered: tuple[int, int] | None = None
        self.editor: WeightEditor | None = None
        self._images: list[list[QImage]] = []
        self._geometry: tuple | None = None  # cached layout: (size, tile rects, tile size)
        self._paths: list[tuple[int, int, int, QPainterPath]] | None = None  # for the layout
        self._path_shapes: list | None = None
        self._pens = _link_pens()
        self.fast = False  # plain (not antialiased) links: cheaper while training runs

    # ---- content ----

    def set_columns(self, columns: list[Column]) -> None:
        structure = [(c.count, len(c.tiles), c.labels) for c in columns]
        if structure != [(c.count, len(c.tiles), c.labels) for c in self.columns]:
            self._geometry = None
        self.columns = columns
        self._images = [[_qimage(t) for t in c.tiles] for c in columns]
        self.update()

    def set_weights(self, weights: list[np.ndarray], biases: list[np.ndarray]) -> None:
        self.weights = [np.array(w, np.float32) for w in weights]
        self.biases = [np.array(b, np.float32) for b in biases]
        self.update()

    def set_editable(self, editable: bool) -> None:
        self.editable = editable
        if not editable and self.editor is not None:
            self.editor.reject()

    def clear(self) -> None:
        self.set_columns([])
        self.set_weights([], [])

    # ---- geometry ----

    def _layout(self) -> tuple[list[list[QRectF]], float]:
        """Tile rectangles per column, and the tile size."""
        if self._geometry is not None and self._geometry[0] == (self.width(), self.height()):
            return self._geometry[1], self._geometry[2]
        fm = self.fontMetrics()
        header = 2 * fm.height() + 8
        footer = fm.height() + 4 + (self._note_height() + 8 if self.note else 0)
        left_labels = max((fm.horizontalAdvance(t) for t in _first_labels(self.columns)), default=0)
        right_labels = max((fm.horizontalAdvance(t) for t in _last_labels(self.columns)), default=0)
        left = 6 + (left_labels + 6 if left_labels else 0)
        right = 6 + (right_labels + 6 if right_labels else 0)
        rows = max((len(c.tiles) for c in self.columns), default=1) or 1
        m = max(len(self.columns), 1)
        height = self.height() - header - footer - 6
        tile = (height - (rows - 1) * GAP) / rows
        # Leave at least a tile's width of room for the links between columns.
        tile = min(tile, (self.width() - left - right) / max(2 * m - 1, 1), MAX_TILE)
        tile = max(tile, MIN_TILE)
        span = self.width() - left - right - tile
        block = rows * tile + (rows - 1) * GAP  # the tallest column, right under the headers
        rects = []
        for k, column in enumerate(self.columns):
            x = left + (span * k / (m - 1) if m > 1 else span / 2)
            n = len(column.tiles)
            top = header + 6 + (block - (n * tile + (n - 1) * GAP)) / 2
            rects.append([QRectF(x, top + i * (tile + GAP), tile, tile) for i in range(n)])
        self._geometry = ((self.width(), self.height()), rects, tile)
        self._paths = None
        return rects, tile

    def _note_height(self) -> int:
        flags = Qt.TextFlag.TextWordWrap
        return (
            self.fontMetrics()
            .boundingRect(0, 0, self.width() - 12, 1000, flags, self.note)
            .height()
        )

    def resizeEvent(self, event) -> None:
        self._geometry = None
        super().resizeEvent(event)

    def _link_paths(self, rects: list[list[QRectF]]) -> list[tuple[int, int, int, QPainterPath]]:
        """(layer, row, col, curve) of every drawn link, kept until the layout changes."""
        shapes = [w.shape for w in self.weights]
        if self._paths is None or self._path_shapes != shapes:
            self._paths, self._path_shapes = [], shapes
            for layer in range(min(len(self.weights), len(rects) - 1)):
                rows, cols = shapes[layer]
                for row, target in enumerate(rects[layer + 1][:rows]):
                    end = QPointF(target.left(), target.center().y())
                    for col, source in enumerate(rects[layer][:cols]):
                        start = QPointF(source.right(), source.center().y())
                        self._paths.append((layer, row, col, _curve(start, end)))
        return self._paths

    # ---- painting ----

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        try:
            self._paint(painter)
        finally:
            painter.end()  # explicitly: a painter kept alive (by a traceback) upsets Qt

    def _paint(self, painter: QPainter) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.WindowText)
        faint = palette.color(QPalette.ColorRole.PlaceholderText)
        if not self.columns:
            painter.setPen(faint)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No network to show yet.")
            return
        rects, tile = self._layout()
        # Antialiased strokes cost ~3x: while training (fast) the links are drawn plain.
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, not self.fast)
        scale = max((float(np.abs(w).max()) for w in self.weights if w.size), default=1.0)
        # Pen per link from whole-layer arrays: the loop below only draws.
        levels = [
            np.rint(np.minimum(np.abs(w) / max(scale, 1e-9), 1.0) * (PEN_LEVELS - 1)).astype(int)
            + PEN_LEVELS * (w > 0)
            for w in self.weights
        ]
        pens = self._pens
        for layer, row, col, path in self._link_paths(rects):
            painter.setPen(pens[levels[layer][row, col]])
            painter.drawPath(path)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        border = QColor(text)
        border.setAlpha(70)
        fm = self.fontMetrics()
        for k, (column, images) in enumerate(zip(self.columns, self._images, strict=True)):
            for i, (rect, image) in enumerate(zip(rects[k], images, strict=False)):
                painter.drawImage(rect, image)
                painter.setPen(QPen(border, 1))
                painter.drawRect(rect)
                self._draw_bias(painter, k, i, rect)
                if column.labels and i < len(column.labels):
                    painter.setPen(text)
                    label_rect = QRectF(0, rect.top(), rect.left() - 6, rect.height())
                    align = Qt.AlignmentFlag.AlignRight
                    if k == len(self.columns) - 1 and k > 0:
                        label_rect = QRectF(rect.right() + 6, rect.top(), 200, rect.height())
                        align = Qt.AlignmentFlag.AlignLeft
                    painter.drawText(
                        label_rect, align | Qt.AlignmentFlag.AlignVCenter, column.labels[i]
                    )
            centre = rects[k][0].center().x() if rects[k] else self.width() / 2
            self._draw_header(painter, column, centre, text, faint, fm)
            hidden = column.count - len(column.tiles)
            if hidden > 0 and rects[k]:
                painter.setPen(faint)
                bottom = rects[k][-1].bottom() + 2
                painter.drawText(
                    QRectF(centre - 60, bottom, 120, fm.height() + 2),
                    Qt.AlignmentFlag.AlignCenter,
                    f"+{hidden} more",
                )
        if self.note:
            bottom = max((r[-1].bottom() for r in rects if r), default=0) + fm.height() + 8
            painter.setPen(faint)
            painter.drawText(
                QRectF(6, bottom, self.width() - 12, self.height() - bottom),
                Qt.TextFlag.TextWordWrap,
                self.note,
            )

    def _draw_header(self, painter, column: Column, centre: float, text, faint, fm) -> None:
        bold = painter.font()
        bold.setBold(True)
        painter.save()
        painter.setFont(bold)
        painter.setPen(text)
        painter.drawText(
            QRectF(centre - 80, 2, 160, fm.height() + 2), Qt.AlignmentFlag.AlignCenter, column.title
        )
        painter.restore()
        if column.subtitle:
            painter.setPen(faint)
            painter.drawText(
                QRectF(centre - 80, fm.height() + 4, 160, fm.height() + 2),
                Qt.AlignmentFlag.AlignCenter,
                column.subtitle,
            )

    def _draw_bias(self, painter: QPainter, k: int, i: int, rect: QRectF) -> None:
        """A small square at the bottom-left corner, coloured by the neuron's bias (Playground)."""
        if k == 0 or k - 1 >= len(self.biases) or i >= len(self.biases[k - 1]):
            return
        value = float(self.biases[k - 1][i])
        color = QColor(*(BLUE if value > 0 else ORANGE))
        size = max(4.0, rect.width() / 6)
        painter.fillRect(
            QRectF(rect.left() - size / 2, rect.bottom() - size / 2, size, size), color
        )

    # ---- interaction ----

    def hit(self, pos: QPointF) -> Hit | None:
        """The neuron (its bias) or the link under a pixel position, if any."""
        if not self.columns:
            return None
        rects, _ = self._layout()
        for k, column_rects in enumerate(rects):
            for i, rect in enumerate(column_rects):
                if rect.adjusted(-3, -3, 3, 3).contains(pos):
                    return Hit("bias", k - 1, i, -1) if k > 0 else Hit("node", -1, i, -1)
        best, best_distance = None, HIT_DISTANCE
        for layer in range(min(len(self.weights), len(rects) - 1)):
            sources, targets = rects[layer], rects[layer + 1]
            if not sources or not targets:
                continue
            x0, x1 = sources[0].right(), targets[0].left()
            if not x0 <= pos.x() <= x1:
                continue
            w = self.weights[layer]
            ys = np.array([r.center().y() for r in sources[: w.shape[1]]])
            ye = np.array([r.center().y() for r in targets[: w.shape[0]]])
            distance = _link_distances(x0, x1, ys, ye, pos.x(), pos.y())  # [targets, sources]
            row, col = np.unravel_index(int(np.argmin(distance)), distance.shape)
            if distance[row, col] < best_distance:
                best, best_distance = Hit("weight", layer, int(row), int(col)), distance[row, col]
        return best

    def link_point(self, layer: int, row: int, col: int, t: float = 0.35) -> QPointF:
        """A point on the link of weights[layer][row, col] (tests, tours). Not t = 0.5: all
        links of a gap pass mid-way at the same x, where symmetric pairs cross."""
        rects, _ = self._layout()
        source, target = rects[layer][col], rects[layer + 1][row]
        start = QPointF(source.right(), source.center().y())
        end = QPointF(target.left(), target.center().y())
        x, y = _samples(start, end, np.array([t]))[0]
        return QPointF(x, y)

    def tile_center(self, column: int, index: int) -> QPointF:
        rects, _ = self._layout()
        return rects[column][index].center()

    def describe(self, hit: Hit) -> str:
        if hit.kind == "node":
            names = self.columns[0].names or self.columns[0].labels
            return names[hit.row] if hit.row < len(names) else ""
        target = self._node_name(hit.layer + 1, hit.row)
        if hit.kind == "bias":
            return f"Bias of {target}: {float(self.biases[hit.layer][hit.row]):.4g}"
        source = self._node_name(hit.layer, hit.col)
        value = float(self.weights[hit.layer][hit.row, hit.col])
        return f"Weight from {source} to {target}: {value:.4g}"

    def _node_name(self, column: int, index: int) -> str:
        names = self.columns[column].names
        return names[index] if index < len(names) else f"node {index + 1}"

    def _set_hovered(self, node: tuple[int, int] | None) -> None:
        if node != self.hovered:
            self.hovered = node
            self.nodeHovered.emit(node)

    def leaveEvent(self, event) -> None:
        self._set_hovered(None)
        super().leaveEvent(event)

    def mouseMoveEvent(self, event) -> None:
        hit = self.hit(event.position())
        on_tile = hit is not None and hit.kind in ("node", "bias")
        self._set_hovered((hit.layer + 1, hit.row) if on_tile else None)
        if hit is None:
            QToolTip.hideText()
            return
        text = self.describe(hit)
        if hit.kind != "node":
            text += "\nClick to edit." if self.editable else "\nStop training to edit it."
        QToolTip.showText(event.globalPosition().toPoint(), text, self)

    def mousePressEvent(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        hit = self.hit(event.position())
        if hit is None or hit.kind == "node":
            return
        if not self.editable:
            QToolTip.showText(
                event.globalPosition().toPoint(),
                "Weights can be edited when training is not running.",
                self,
            )
            return
        self.edit(hit)

    def edit(self, hit: Hit) -> WeightEditor:
        """Open the editor for a weight or bias; accepting it emits weightEdited."""
        if self.editor is not None:
            self.editor.reject()
        if hit.kind == "bias":
            value = float(self.biases[hit.layer][hit.row])
        else:
            value = float(self.weights[hit.layer][hit.row, hit.col])
        title = self.describe(hit).rsplit(":", 1)[0]
        editor = WeightEditor(self, title, value)
        editor.accepted.connect(
            lambda: self.weightEdited.emit(hit.layer, hit.row, hit.col, editor.spin.value())
        )
        editor.finished.connect(lambda _result: self._forget(editor))
        self.editor = editor
        editor.open()
        return editor

    def _forget(self, editor: WeightEditor) -> None:
        if self.editor is editor:
            self.editor = None
        editor.deleteLater()


PEN_LEVELS = 12


def _link_pens() -> list[QPen]:
    """Pens of links by strength level, negative (orange) then positive (blue): weaker is
    thinner and fainter. Wider strokes cost much more to draw, so the widest is 2.25 px."""
    pens = []
    for rgb in (ORANGE, BLUE):
        for level in range(PEN_LEVELS):
            strength = level / (PEN_LEVELS - 1)
            color = QColor(*rgb)
            color.setAlphaF(0.25 + 0.65 * strength)
            pens.append(QPen(color, 0.5 + 1.75 * strength))
    return pens


def _first_labels(columns: list[Column]) -> list[str]:
    return columns[0].labels if columns else []


def _last_labels(columns: list[Column]) -> list[str]:
    return columns[-1].labels if len(columns) > 1 else []


def _curve(start: QPointF, end: QPointF) -> QPainterPath:
    """A horizontal-tangent S curve, as Playground draws its links."""
    path = QPainterPath(start)
    mid = (start.x() + end.x()) / 2
    path.cubicTo(QPointF(mid, start.y()), QPointF(mid, end.y()), end)
    return path


def _smoothstep(t: np.ndarray) -> np.ndarray:
    """The fraction of the way from start to end y of _curve at parameter t."""
    return 3 * t**2 - 2 * t**3


def _samples(start: QPointF, end: QPointF, t: np.ndarray) -> np.ndarray:
    """Points [T, 2] along _curve(start, end) at parameters t."""
    t = np.asarray(t, np.float64)
    x = _curve_x(start.x(), end.x(), t)
    y = start.y() + (end.y() - start.y()) * _smoothstep(t)
    return np.stack([x, y], axis=1)


def _curve_x(x0: float, x1: float, t: np.ndarray) -> np.ndarray:
    mid = (x0 + x1) / 2
    return x0 * (1 - t) ** 3 + 3 * mid * (1 - t) ** 2 * t + 3 * mid * (1 - t) * t**2 + x1 * t**3


def _link_distances(
    x0: float, x1: float, ys: np.ndarray, ye: np.ndarray, px: float, py: float
) -> np.ndarray:
    """Distances [len(ye), len(ys)] from (px, py) to every link of a gap between x0 and x1.

    Every link of a gap shares x(t), so the point's x fixes t for all of them; the vertical
    gap to each link, times the cosine of its slope there, is its distance to first order.
    """
    dense = np.linspace(0.0, 1.0, 257)
    t = float(np.interp(px, _curve_x(x0, x1, dense), dense))
    rise = ye[:, None] - ys[None, :]
    dy = ys[None, :] + rise * _smoothstep(t) - py
    dx_dt = 1.5 * (x1 - x0) * ((1 - t) ** 2 + t**2)
    slope = rise * 6 * t * (1 - t) / max(dx_dt, 1e-9)
    return np.abs(dy) / np.sqrt(1 + slope**2)


def _qimage(rgb: np.ndarray) -> QImage:
    """uint8 [r, c, 3] with row 0 at the bottom -> a QImage (row 0 at the top), owning its data."""
    flipped = np.ascontiguousarray(np.asarray(rgb, np.uint8)[::-1])
    h, w, _ = flipped.shape
    return QImage(flipped.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
