"""The network drawn as columns of neurons with connections coloured by weight (custom painting).

Large layers are drawn as a sample (the first neurons, "⋮", the last one). A 28x28 input is drawn
as the probe image plus a column of 16 input "patches": each patch stands for a 7x7 block of
pixels and its line to a neuron carries the sum of the 49 weights from that block, so the lines
stay honest while staying few. The first hidden layer's neurons show their incoming weights as
tiny 28x28 images once there are weights.

Geometry is computed on resize/spec change; line colours and widths on new weights; painting
blits a cached picture of the lines. Snapshots are coalesced to at most 20 redraws a
second (fewer for big networks).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
from mlp_studio.core.model import NetworkSpec
from PySide6.QtCore import QEvent, QLineF, QPoint, QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QContextMenuEvent,
    QFont,
    QImage,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QVBoxLayout, QWidget

POSITIVE = QColor(8, 119, 189)  # TensorFlow Playground's blue
NEGATIVE = QColor(245, 147, 34)  # and its orange: both readable on light and dark backgrounds
MAX_ROWS = 16  # neurons drawn per column, the "⋮" slot included
THUMB_ROWS = 11  # fewer, larger neurons in the first hidden layer: they show 28x28 weights
PATCH = 7  # input patches are 7x7 pixels: a 4x4 grid over 28x28
LEVELS = 8  # line widths/alphas are quantised so painting needs only 2 * LEVELS pens
REDRAW_MS = 50  # at most 20 snapshot redraws a second...
MAX_REDRAW_MS = 250  # ...and at least 4 (see _apply_pending)

ACTIVATION_NAMES = {
    "identity": "Identity",
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
    "relu": "ReLU",
    "leaky_relu": "Leaky ReLU",
    "elu": "ELU",
    "gelu": "GELU",
    "silu": "SiLU",
    "softplus": "Softplus",
    "maxout": "Maxout",
    "custom": "Custom",
}


@dataclass
class Column:
    kind: str  # "input" | "hidden" | "output"
    layer: int  # hidden layer index; -1 for the input and output columns
    size: int  # neurons (or patches for an image input) in the layer
    shown: list[int]  # indices of the nodes drawn, top to bottom
    title: str
    subtitle: str
    detail: str = ""  # extras such as "BN · dropout 0.5"
    area: QRectF = field(default_factory=QRectF)  # highlight and click area
    cells: list[QRectF] = field(default_factory=list)  # one per shown node
    gap: QRectF | None = None  # the "⋮" slot between the first and the last neuron
    image: QRectF | None = None  # the big 28x28 input block


def shown_indices(size: int, rows: int = MAX_ROWS) -> list[int]:
    """Which neurons a column draws: all of a small layer, else the first ones and the last
    (`rows` counts the "⋮" slot between them)."""
    size = max(size, 0)
    if size <= rows:
        return list(range(size))
    return [*range(rows - 2), size - 1]


def patch_weights(weights: np.ndarray) -> np.ndarray:
    """[out, 784] -> [out, 16]: the sum of each 7x7 block's weights, blocks in reading order."""
    blocks = weights.reshape(-1, 28 // PATCH, PATCH, 28 // PATCH, PATCH)
    return blocks.sum(axis=(2, 4)).reshape(len(weights), -1)


def diverging_lut(mid: QColor) -> np.ndarray:
    """256 RGBA colours from NEGATIVE through `mid` (zero) to POSITIVE."""
    t = np.linspace(-1.0, 1.0, 256)[:, None]
    rgb = lambda c: np.array([c.red(), c.green(), c.blue()], dtype=np.float64)  # noqa: E731
    m = rgb(mid)
    colours = np.where(t < 0, m + (rgb(NEGATIVE) - m) * -t, m + (rgb(POSITIVE) - m) * t)
    return np.concatenate([colours, np.full((256, 1), 255.0)], axis=1).round().astype(np.uint8)


def colour_image(values: np.ndarray, scale: float, lut: np.ndarray) -> QImage:
    """A 2-D array as a QImage through the diverging colour map, values/scale clipped to +-1."""
    scale = scale if scale > 0 and math.isfinite(scale) else 1.0
    norm = np.nan_to_num(np.asarray(values, dtype=np.float64) / scale, nan=0.0)
    index = ((np.clip(norm, -1, 1) + 1) * 127.5).astype(np.uint8)
    rgba = np.ascontiguousarray(lut[index])
    h, w = index.shape
    return QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()


def picture_scale(values: np.ndarray) -> float:
    """Colour-map limit for a weight picture: 3 standard deviations (or the largest |w| if
    smaller), so a few large weights do not wash out the pattern."""
    return float(min(np.abs(values).max(), 3 * values.std())) if values.size else 0.0


def gray_image(image: np.ndarray) -> QImage:
    data = np.ascontiguousarray(np.clip(image, 0, 255).astype(np.uint8))
    h, w = data.shape
    return QImage(data.data, w, h, w, QImage.Format.Format_Grayscale8).copy()


def weights_match(spec: NetworkSpec, weights: list[np.ndarray]) -> bool:
    """Whether per-layer [out, in] weights fit this spec (a stale snapshot must not be drawn)."""
    if len(weights) != len(spec.hidden) + 1:
        return False
    size = spec.input_size
    for layer, w in zip([*spec.hidden, None], weights, strict=True):
        out = layer.width if layer is not None else spec.output_size
        if tuple(np.shape(w)) != (out, size):
            return False
        size = layer.units if layer is not None else size
    return True


def neuron_weights(spec: NetworkSpec, weights: list[np.ndarray], layer: int) -> np.ndarray:
    """[units, in] weights of layer `layer` (hidden index; len(hidden) = output): maxout neurons
    have k rows each (one per piece), averaged here for drawing."""
    w = weights[layer]
    if layer < len(spec.hidden) and spec.hidden[layer].activation.name == "maxout":
        pieces = spec.hidden[layer].activation.pieces
        return w.reshape(-1, pieces, w.shape[1]).mean(axis=1)
    return w


class NeuronPopup(QFrame):
    """The hover card: a title, an optional picture and a few lines of text."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent, Qt.WindowType.ToolTip | Qt.WindowType.FramelessWindowHint)
        self.setFrameShape(QFrame.Shape.Box)
        self.setBackgroundRole(QPalette.ColorRole.ToolTipBase)
        self.setForegroundRole(QPalette.ColorRole.ToolTipText)
        self.setAutoFillBackground(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 8)
        layout.setSpacing(4)
        self.title = QLabel()
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.image = QLabel()
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text = QLabel()
        self.text.setTextFormat(Qt.TextFormat.PlainText)
        for label in (self.title, self.image, self.text):
            label.setForegroundRole(QPalette.ColorRole.ToolTipText)
            layout.addWidget(label)
        self.key: tuple[int, int] | None = None  # (column, node) shown

    def show_info(self, key: tuple[int, int], title: str, image: QImage | None, text: str) -> None:
        self.key = key
        self.title.setText(title)
        self.image.setVisible(image is not None)
        self.image.setPixmap(QPixmap.fromImage(image) if image is not None else QPixmap())
        self.text.setText(text)
        self.adjustSize()


class NetworkDiagram(QWidget):
    """Columns of neurons and weighted connections; click selects a layer, hover explains."""

    layerClicked = Signal(int)  # hidden layer index, or -1 for the input/output columns
    contextMenuRequested = Signal(int, QPoint)  # hidden layer index (or -1), global position

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(360, 240)
        self._spec = NetworkSpec()
        self._class_names: list[str] = []
        self._output_kind = "softmax"
        self._weights: list[np.ndarray] | None = None
        self._biases: list[np.ndarray] | None = None
        self._activations: list[np.ndarray] | None = None
        self._probe_image: np.ndarray | None = None
        self._probe_index = 0
        self._step: int | None = None
        self._selected = -2
        self._columns: list[Column] = []
        # Cached drawing state (see _layout and _restyle).
        self._segments: list[list[tuple[QPointF, QPointF]]] = []  # per gap between columns
        self.line_values = np.zeros(0)  # signed, normalised to [-1, 1], in segment order
        self.line_keys = np.zeros(0, dtype=int)  # pen bucket per line (see line_style)
        self._buckets: dict[int, list] = {}  # pen key -> QLineF list
        self._line_cache: QPixmap | None = None  # the lines, drawn (see _line_layer)
        self._frame: QPixmap | None = None  # the whole picture, drawn (see _frame_layer)
        self._styles: dict[int, tuple[QColor, float]] = {}  # line_style per key, this palette
        self._thumbs: list[QImage] = []  # first hidden layer: incoming weights per shown neuron
        self._fills: dict[int, list[QColor | None]] = {}  # column -> fill per shown node
        self._probs: np.ndarray | None = None  # output probabilities for the probe
        self._pending = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self._apply_pending)
        # A snapshot is drawn in two event-loop turns (styles and lines, then the frame), so
        # neither blocks the event loop for long.
        self._frame_timer = QTimer(self)
        self._frame_timer.setSingleShot(True)
        self._frame_timer.setInterval(0)
        self._frame_timer.timeout.connect(self._draw_frame)
        self._apply_ms = 0.0
        self.popup = NeuronPopup(self)
        self._relayout()

    # ---- inputs ----

    def set_spec(self, spec: NetworkSpec, class_names: list[str] | None = None) -> None:
        self._spec = spec
        self._class_names = list(class_names or [])
        if self._weights is not None and not weights_match(spec, self._weights):
            self._weights = self._biases = self._activations = None
            self._step = None
        self._relayout()

    def set_output_kind(self, kind: str) -> None:
        """The loss's output activation ("softmax", "sigmoid", "identity"), or "regression"
        (raw values: no probabilities)."""
        self._output_kind = kind
        self._relayout()

    def set_weights(self, weights: list[np.ndarray] | None, biases: list[np.ndarray] | None = None):
        """Weights per layer [out, in] (None: no model yet, connections drawn neutral)."""
        if weights is not None and not weights_match(self._spec, weights):
            weights = biases = None
        self._weights, self._biases = weights, biases
        if weights is None:
            self._activations = None
            self._step = None
        self._restyle()

    def set_probe_sample(self, image: np.ndarray | None, index: int = 0) -> None:
        """The raw 28x28 probe image the snapshots' activations row `index` belongs to."""
        self._probe_image = None if image is None else np.array(image, dtype=np.float64)
        self._probe_index = index
        self._restyle()

    def set_selected(self, layer: int) -> None:
        self._selected = layer
        self._invalidate()

    def show_snapshot(self, snapshot) -> None:
        """Slot for Snapshot events: keeps the latest and redraws at most every REDRAW_MS."""
        self._pending = snapshot
        if not self._timer.isActive():
            self._timer.start()

    def _apply_pending(self) -> None:
        snap, self._pending = self._pending, None
        if snap is None or not weights_match(self._spec, snap.weights):
            return
        self._weights, self._biases = list(snap.weights), list(snap.biases)
        self._activations = None if snap.activations is None else list(snap.activations)
        self._step = snap.step
        started = time.perf_counter()
        self._restyle(paint=False)
        self._line_layer()
        self._apply_ms = (time.perf_counter() - started) * 1000
        self._frame_timer.start()

    def _draw_frame(self) -> None:
        """Draw the new frame in a timer event of its own, so the paint is only a blit:
        otherwise it lands in the same window repaint as the training plots' and blocks the
        event loop for their sum."""
        started = time.perf_counter()
        self._frame_layer()
        self.update()
        # Big networks cost more per frame: keep the diagram under ~20% of the GUI thread.
        spent_ms = self._apply_ms + (time.perf_counter() - started) * 1000
        self._timer.setInterval(int(min(max(REDRAW_MS, 5 * spent_ms), MAX_REDRAW_MS)))

    @property
    def step(self) -> int | None:
        """The training step of the weights drawn (None before any snapshot)."""
        return self._step

    @property
    def columns(self) -> list[Column]:
        return self._columns

    # ---- geometry ----

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._relayout()

    def sizeHint(self) -> QSize:
        return QSize(720, 420)

    def _image_input(self) -> bool:
        return self._spec.input_size == 784

    def _build_columns(self) -> list[Column]:
        spec = self._spec
        if self._image_input():
            patches = (28 // PATCH) ** 2
            cols = [Column("input", -1, patches, list(range(patches)), "Input", "28×28 pixels")]
        else:
            n = spec.input_size
            cols = [Column("input", -1, n, shown_indices(n), "Input", f"{n} features")]
        for i, layer in enumerate(spec.hidden):
            act = ACTIVATION_NAMES.get(layer.activation.name, layer.activation.name)
            if layer.activation.name == "maxout":
                act += f" ×{layer.activation.pieces}"
            extras = (["BN"] if layer.batch_norm else []) + (
                [f"dropout {layer.dropout:g}"] if layer.dropout else []
            )
            units = int(layer.units) if isinstance(layer.units, int) else 0
            cols.append(
                Column(
                    "hidden",
                    i,
                    units,
                    shown_indices(
                        units, THUMB_ROWS if i == 0 and self._image_input() else MAX_ROWS
                    ),
                    f"Hidden {i + 1}",
                    f"{layer.units} · {act}",
                    " · ".join(extras),
                )
            )
        n = spec.output_size
        cols.append(
            Column("output", -1, n, shown_indices(n), "Output", f"{n} · {self._output_kind}")
        )
        return cols

    def _relayout(self) -> None:
        """Place every column, neuron and line for the current size and spec."""
        self._columns = cols = self._build_columns()
        w, h = float(self.width()), float(self.height())
        top, bottom = 58.0, 30.0
        avail = max(h - top - bottom, 40.0)
        pitch = min(avail / (MAX_ROWS + 1), 32.0)  # a spare row for the input's group gaps
        cell = max(pitch * 0.78, 6.0)
        mid_y = top + avail / 2
        left = 14.0
        image_side = 0.0
        if self._image_input():
            image_side = min(avail * 0.42, 112.0, w * 0.14)
            image_side = image_side if image_side >= 40 else 0.0
        right = 96.0  # output labels and probability bars
        x_first = left + (image_side + 22 if image_side else 0) + cell / 2 + 4
        x_last = w - right - cell / 2
        span = max(x_last - x_first, 1.0)
        step = span / max(len(cols) - 1, 1)
        self._column_step = step
        for index, col in enumerate(cols):
            x = x_first + index * step
            size, group = cell, 0
            if self._image_input() and col.kind == "input":
                size, group = pitch * 0.9, 28 // PATCH  # a small gap after each row of patches
            elif self._image_input() and index == 1:
                size = min(pitch * MAX_ROWS / THUMB_ROWS * 0.9, 44.0)  # room for the thumbnails
            # Slot tops relative to the column's first slot: neurons, then the "⋮" before the last.
            slots: list[tuple[str, float]] = []
            y = 0.0
            row_pitch = max(pitch, size / 0.9)
            for k in range(len(col.shown)):
                if k == len(col.shown) - 1 and col.size > len(col.shown):
                    slots.append(("gap", y))
                    y += row_pitch
                if group and k and k % group == 0:
                    y += pitch * 0.3
                slots.append(("cell", y))
                y += row_pitch
            y0 = mid_y - y / 2 + (row_pitch - size) / 2
            col.cells, col.gap = [], None
            for kind, offset in slots:
                rect = QRectF(x - size / 2, y0 + offset, size, size)
                if kind == "gap":
                    col.gap = rect
                else:
                    col.cells.append(rect)
            half = max(min(step * 0.45, 60.0), cell)
            col.area = QRectF(x - half, 4, 2 * half, h - bottom)
            if col.kind == "input" and image_side:
                col.image = QRectF(left, mid_y - image_side / 2, image_side, image_side)
                col.area = QRectF(left - 6, 4, x + half - left + 6, h - bottom)
            if col.kind == "output":
                col.area = QRectF(x - half, 4, min(w - (x - half) - 4, half + right), h - bottom)
        self._segments = []
        for a, b in zip(cols, cols[1:], strict=False):
            segs = []
            for tgt in b.cells:
                for src in a.cells:
                    segs.append(
                        (
                            QPointF(src.right(), src.center().y()),
                            QPointF(tgt.left(), tgt.center().y()),
                        )
                    )
            self._segments.append(segs)
        self._restyle()

    # ---- colours, widths and pictures from the weights ----

    def _restyle(self, paint: bool = True) -> None:
        """Recompute what depends on weights/activations: line styles, thumbnails, fills.

        paint=False: the caller draws the frame and schedules the paint itself."""
        cols = self._columns
        values = []
        lut = diverging_lut(self.palette().color(QPalette.ColorRole.Base))
        self._thumbs = []
        self._fills = {}
        self._probs = None
        weights = self._weights
        for gap, (a, b) in enumerate(zip(cols, cols[1:], strict=False)):
            if weights is None or not a.shown or not b.shown:
                values.append(np.zeros(len(b.shown) * len(a.shown)))
                continue
            w = neuron_weights(self._spec, weights, gap)
            if a.kind == "input" and self._image_input():
                w = patch_weights(w)
            block = w[np.ix_(b.shown, a.shown)]
            scale = float(np.abs(w).max()) if w.size else 0.0
            values.append((block / scale).ravel() if scale > 0 else np.zeros(block.size))
        self.line_values = np.concatenate(values) if values else np.zeros(0)
        self._bucket_lines(weights is not None)
        if weights is not None and len(cols) > 2 and self._image_input():
            first = neuron_weights(self._spec, weights, 0)
            for neuron in cols[1].shown:
                image = first[neuron].reshape(28, 28)
                self._thumbs.append(colour_image(image, picture_scale(image), lut))
        self._fill_from_activations(lut)
        key = self.popup.key
        if self.popup.isVisible() and key is not None and key[0] < len(cols):
            if key[1] < len(cols[key[0]].cells):  # live numbers under a resting mouse
                self.popup.show_info(key, *self.node_info(*key))
        if paint:
            self._invalidate()
        else:
            self._frame = None  # a paint before the caller's draws it then

    def _bucket_lines(self, weighted: bool) -> None:
        """Group the lines by (sign, magnitude level) so painting sets each pen once."""
        if weighted:
            levels = np.clip(np.ceil(np.abs(self.line_values) * LEVELS), 1, LEVELS).astype(int)
            self.line_keys = np.where(self.line_values < 0, -levels, levels)
        else:
            self.line_keys = np.zeros(len(self.line_values), dtype=int)
        flat = [seg for segs in self._segments for seg in segs]
        buckets: dict[int, list[QLineF]] = {}
        for (a, b), key in zip(flat, self.line_keys.tolist(), strict=True):
            buckets.setdefault(key, []).append(QLineF(a, b))
        # Paint faint lines first so strong ones stay on top.
        self._buckets = dict(sorted(buckets.items(), key=lambda kv: abs(kv[0])))
        self._line_cache = None

    def line_style(self, key: int) -> tuple[QColor, float]:
        """Colour and width of a line bucket: 0 = no weights, +-1..LEVELS by |w|.

        Colours are opaque, pre-mixed with the background: translucent antialiased lines
        cost several times more to draw, and faint lines are drawn first anyway.
        """
        style = self._styles.get(key)
        if style is None:  # cached per palette: asked for every bucket of every frame
            base = self.palette().color(QPalette.ColorRole.Base)
            if key == 0:
                style = _mix(base, self.palette().color(QPalette.ColorRole.Text), 0.16), 0.7
            else:
                t = abs(key) / LEVELS
                colour = _mix(base, POSITIVE if key > 0 else NEGATIVE, 0.14 + 0.86 * t)
                style = colour, 0.4 + 3.4 * t * t
            self._styles[key] = style
        colour, width = style
        return QColor(colour), width  # a copy: callers may change theirs

    def line_styles(self) -> list[tuple[str, float]]:
        """Every line's colour (#aarrggbb) and width, in segment order (for tests and tools)."""
        out = []
        for key in self.line_keys.tolist():
            colour, width = self.line_style(key)
            out.append((colour.name(QColor.NameFormat.HexArgb), width))
        return out

    def _fill_from_activations(self, lut: np.ndarray) -> None:
        acts = self._activations
        if acts is None or len(acts) != len(self._spec.hidden) + 1:
            return
        row = self._probe_index
        for index, col in enumerate(self._columns[1:], start=1):
            values = np.asarray(acts[index - 1])
            if values.ndim != 2 or row >= len(values) or values.shape[1] != col.size:
                continue
            values = values[row]
            if col.kind == "output" and self._output_kind == "regression":
                scale = max(float(np.abs(values).max()), 1.0)  # raw values, no probabilities
                picks = ((np.clip(values[col.shown] / scale, -1, 1) + 1) * 127.5).astype(int)
                colours = [QColor(*lut[i][:3].tolist()) for i in picks]
            elif col.kind == "output":
                self._probs = output_probabilities(values, self._output_kind)
                shown = self._probs[col.shown]
                colours = [self._mix(float(p)) for p in shown]
            else:
                scale = float(np.abs(values).max()) or 1.0
                picks = ((np.clip(values[col.shown] / scale, -1, 1) + 1) * 127.5).astype(int)
                colours = [QColor(*lut[i][:3].tolist()) for i in picks]
            self._fills[index] = colours

    def _mix(self, p: float) -> QColor:
        return _mix(self.palette().color(QPalette.ColorRole.Base), POSITIVE, p)

    # ---- painting ----

    def _invalidate(self) -> None:
        """Something drawn changed: redraw the frame at the next paint."""
        self._frame = None
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.drawPixmap(0, 0, self._frame_layer())
        p.end()

    def _frame_layer(self) -> QPixmap:
        """The whole picture, drawn once per change (hover, dock and window repaints only blit
        it)."""
        ratio = self.devicePixelRatioF()
        frame = self._frame
        if frame is None or frame.size() != self.size() * ratio:
            frame = QPixmap(self.size() * ratio)
            frame.setDevicePixelRatio(ratio)
            p = QPainter(frame)
            p.setFont(self.font())  # a pixmap's painter starts with the application font
            self._paint_frame(p)
            p.end()
            self._frame = frame
        return frame

    def _paint_frame(self, p: QPainter) -> None:
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        p.fillRect(self.rect(), pal.color(QPalette.ColorRole.Base))
        text = pal.color(QPalette.ColorRole.Text)
        faint = QColor(text)
        faint.setAlpha(150)
        for col in self._columns:
            if col.layer == self._selected and col.kind == "hidden":
                fill = QColor(pal.color(QPalette.ColorRole.Highlight))
                fill.setAlpha(40)
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(fill)
                p.drawRoundedRect(col.area, 8, 8)
        p.drawPixmap(0, 0, self._line_layer())
        for index, col in enumerate(self._columns):
            self._paint_column(p, index, col, text, faint)
        self._paint_legend(p, faint)

    def _line_layer(self) -> QPixmap:
        """The connections, drawn once per change of weights, size or palette."""
        if self._line_cache is None:
            ratio = self.devicePixelRatioF()
            pixmap = QPixmap(self.size() * ratio)
            pixmap.setDevicePixelRatio(ratio)
            pixmap.fill(Qt.GlobalColor.transparent)
            p = QPainter(pixmap)
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            for key, lines in self._buckets.items():
                colour, width = self.line_style(key)
                pen = QPen(colour, width)
                pen.setCapStyle(Qt.PenCapStyle.FlatCap)  # round caps are ~10x slower
                p.setPen(pen)
                p.drawLines(lines)
            p.end()
            self._line_cache = pixmap
        return self._line_cache

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.Type.PaletteChange and "_columns" in self.__dict__:
            self._styles.clear()
            self._restyle()  # colour maps and line colours mix with the background
        elif event.type() == QEvent.Type.FontChange:
            self._invalidate()
        super().changeEvent(event)

    def _paint_column(self, p: QPainter, index: int, col: Column, text: QColor, faint: QColor):
        pal = self.palette()
        base = pal.color(QPalette.ColorRole.Base)
        border = QColor(text)
        border.setAlpha(110)
        x = col.cells[0].center().x() if col.cells else col.area.center().x()
        # Titles centred over the column, shortened when columns are tight.
        wide = self._column_step >= 84
        title = col.title if wide or col.kind != "hidden" else f"H{col.layer + 1}"
        font = QFont(self.font())
        font.setBold(True)
        p.setFont(font)
        p.setPen(text)
        half = min(70.0, max(self._column_step / 2, 36.0))
        box = QRectF(x - half, 6, 2 * half, 18)
        if col.kind == "input" and col.image is not None:
            box = QRectF(col.image.left(), 6, x + 20 - col.image.left(), 18)
        box.moveLeft(max(box.left(), 2.0))  # keep edge columns' titles inside the widget
        box.moveRight(min(box.right(), self.width() - 2.0))
        p.drawText(box, Qt.AlignmentFlag.AlignCenter, title)
        small = QFont(self.font())
        small.setPointSizeF(max(self.font().pointSizeF() * 0.85, 6.5))
        p.setFont(small)
        p.setPen(faint)
        sub = col.subtitle if wide or col.kind != "hidden" else col.subtitle.split(" · ")[0]
        p.drawText(box.translated(0, 17), Qt.AlignmentFlag.AlignCenter, sub)
        if col.detail and wide:
            p.drawText(box.translated(0, 31), Qt.AlignmentFlag.AlignCenter, col.detail)
        if col.kind == "input" and self._image_input():
            self._paint_input(p, col, border, base)
            return
        if col.size == 0 and col.kind == "hidden":
            warn = QColor(220, 50, 47)
            p.setPen(QPen(warn, 1.2, Qt.PenStyle.DashLine))
            p.setBrush(Qt.BrushStyle.NoBrush)
            rect = QRectF(x - 14, col.area.center().y() - 30, 28, 60)
            p.drawRoundedRect(rect, 6, 6)
            p.drawText(rect, Qt.AlignmentFlag.AlignCenter, "0")
            return
        fills = self._fills.get(index)
        radius = col.cells[0].width() * 0.22 if col.cells else 3
        for k, rect in enumerate(col.cells):
            thumb = self._thumbs[k] if index == 1 and k < len(self._thumbs) else None
            p.setPen(QPen(border, 1))
            p.setBrush(fills[k] if fills else base)
            p.drawRoundedRect(rect, radius, radius)
            if thumb is not None:
                p.save()
                p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
                p.drawImage(rect.adjusted(1, 1, -1, -1), thumb)
                p.restore()
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawRoundedRect(rect, radius, radius)
                if fills:  # the probe's activation as a glow around the weight picture
                    p.setPen(QPen(fills[k], 2.5))
                    p.drawRoundedRect(rect.adjusted(-2.5, -2.5, 2.5, 2.5), radius, radius)
        if col.gap is not None:
            p.setPen(faint)
            p.setFont(font)
            p.drawText(col.gap, Qt.AlignmentFlag.AlignCenter, "⋮")
        if col.kind == "output":
            self._paint_outputs(p, col, text, faint, small)

    def _paint_input(self, p: QPainter, col: Column, border: QColor, base: QColor) -> None:
        """The probe image with a 4x4 grid, and one mini-map cell per 7x7 patch."""
        n = 28 // PATCH
        highlight = QColor(POSITIVE)
        highlight.setAlpha(170)
        image = gray_image(self._probe_image) if self._probe_image is not None else None
        if col.image is not None:
            rect = col.image
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(0, 0, 0) if image is not None else base)
            p.drawRect(rect)
            if image is not None:
                p.drawImage(rect, image)
            grid = QColor(border)
            grid.setAlpha(90 if image is None else 140)
            p.setPen(QPen(grid, 1))
            for k in range(1, n):
                p.drawLine(
                    QPointF(rect.left() + rect.width() * k / n, rect.top()),
                    QPointF(rect.left() + rect.width() * k / n, rect.bottom()),
                )
                p.drawLine(
                    QPointF(rect.left(), rect.top() + rect.height() * k / n),
                    QPointF(rect.right(), rect.top() + rect.height() * k / n),
                )
            p.setPen(QPen(border, 1))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(rect)
            if image is None:
                p.setPen(border)
                p.drawText(rect, Qt.AlignmentFlag.AlignCenter, "28×28")
            # A bracket shows that the patch column unfolds the image.
            right = col.cells[0].left() - 6 if col.cells else rect.right() + 10
            p.setPen(QPen(border, 1, Qt.PenStyle.DotLine))
            top, bottom = col.cells[0].top(), col.cells[-1].bottom()
            p.drawLine(QPointF(rect.right() + 3, rect.top()), QPointF(right, top))
            p.drawLine(QPointF(rect.right() + 3, rect.bottom()), QPointF(right, bottom))
        for k, rect in enumerate(col.cells):
            r, c = divmod(col.shown[k], n)
            patch = QRectF(
                rect.left() + rect.width() * c / n,
                rect.top() + rect.height() * r / n,
                rect.width() / n,
                rect.height() / n,
            )
            p.setPen(QPen(border, 1))
            p.setBrush(base)
            p.drawRect(rect)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(highlight)
            p.drawRect(patch)

    def _paint_outputs(self, p: QPainter, col: Column, text: QColor, faint: QColor, small):
        names = self._class_names if len(self._class_names) == col.size else []
        bar_colour = QColor(POSITIVE)
        font = QFont(self.font())
        if col.cells:  # labels no taller than a row, so they never overlap
            row = col.cells[1].top() - col.cells[0].top() if len(col.cells) > 1 else 20.0
            font.setPixelSize(int(max(7.0, min(13.0, row * 0.8))))
        p.setFont(font)
        for k, rect in zip(col.shown, col.cells, strict=True):
            label = names[k] if names else str(k)
            p.setPen(text)
            label_box = QRectF(rect.right() + 6, rect.top() - 4, 44, rect.height() + 8)
            p.drawText(label_box, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, label)
            if self._probs is not None:
                prob = float(self._probs[k])
                width = 40.0
                left = rect.right() + 6 + min(p.fontMetrics().horizontalAdvance(label) + 6, 46)
                track = QRectF(left, rect.center().y() - 3, width, 6)
                p.setPen(Qt.PenStyle.NoPen)
                back = QColor(faint)
                back.setAlpha(40)
                p.setBrush(back)
                p.drawRoundedRect(track, 3, 3)
                p.setBrush(bar_colour)
                p.drawRoundedRect(QRectF(left, track.top(), width * prob, 6), 3, 3)

    def _paint_legend(self, p: QPainter, faint: QColor) -> None:
        small = QFont(self.font())
        small.setPointSizeF(max(self.font().pointSizeF() * 0.85, 6.5))
        p.setFont(small)
        y = self.height() - 14.0
        x = 14.0
        for colour, label in ((POSITIVE, "positive"), (NEGATIVE, "negative")):
            p.setPen(QPen(colour, 3))
            p.drawLine(QPointF(x, y), QPointF(x + 18, y))
            p.setPen(faint)
            p.drawText(QPointF(x + 23, y + 4), label)
            x += 30 + p.fontMetrics().horizontalAdvance(label)
        step = f"step {self._step:,}" if self._step is not None else ""
        metrics = p.fontMetrics()
        room = self.width() - 14 - metrics.horizontalAdvance(step) - 16 - (x + 4)
        if self._weights is None:
            notes = ["no weights yet: lines turn coloured when a model exists", "no weights yet"]
        else:
            notes = ["weight; width ∝ |w| per layer", "width ∝ |w|"]
            if self._image_input():
                notes.insert(0, notes[0] + "; input lines sum a 7×7 patch")
        # The longest note that fits (the hover cards explain the rest).
        note = next((n for n in notes if metrics.horizontalAdvance(n) <= room), "")
        p.drawText(QPointF(x + 4, y + 4), note)
        if step:
            p.drawText(QPointF(self.width() - 14 - metrics.horizontalAdvance(step), y + 4), step)

    # ---- interaction ----

    def hit(self, pos: QPointF) -> tuple[int, int] | None:
        """(column, node) under `pos`: node is a shown-neuron position, -1 the input image,
        -2 the "⋮" slot; None when over nothing."""
        for index, col in enumerate(self._columns):
            if col.image is not None and col.image.contains(pos):
                return index, -1
            if col.gap is not None and col.gap.contains(pos):
                return index, -2
            for k, rect in enumerate(col.cells):
                if rect.adjusted(-2, -2, 2, 2).contains(pos):
                    return index, k
        return None

    def column_at(self, pos: QPointF) -> Column | None:
        for col in self._columns:
            if col.area.contains(pos):
                return col
        return None

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            col = self.column_at(event.position())
            self.layerClicked.emit(col.layer if col is not None else -1)
        super().mousePressEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        col = self.column_at(QPointF(event.pos()))
        self.contextMenuRequested.emit(col.layer if col is not None else -1, event.globalPos())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        key = self.hit(event.position())
        if key is None:
            self.popup.hide()
            self.popup.key = None
        elif key != self.popup.key or not self.popup.isVisible():
            title, image, text = self.node_info(*key)
            self.popup.show_info(key, title, image, text)
            self.popup.move(event.globalPosition().toPoint() + QPoint(16, 16))
            self.popup.show()
        super().mouseMoveEvent(event)

    def leaveEvent(self, event) -> None:
        self.popup.hide()
        self.popup.key = None
        super().leaveEvent(event)

    def node_info(self, column: int, node: int) -> tuple[str, QImage | None, str]:
        """Title, picture and text of the hover card for a node (see hit())."""
        col = self._columns[column]
        if node == -2:
            hidden = col.size - len(col.shown)
            return col.title, None, f"{hidden:,} more neurons are not drawn (of {col.size:,})."
        if col.kind == "input":
            return self._input_info(col, node)
        neuron = col.shown[node]
        layer = column - 1  # index into weights
        names = self._class_names if len(self._class_names) == col.size else []
        if col.kind == "output":
            title = f"Output {names[neuron] if names else neuron}"
        else:
            title = f"Hidden {col.layer + 1}, neuron {neuron + 1} of {col.size:,}"
        lines = []
        image = None
        if self._weights is None:
            lines.append("No weights yet: train, or build the model, to see them.")
        else:
            w = neuron_weights(self._spec, self._weights, layer)[neuron]
            if layer == 0 and self._image_input():
                picture = w.reshape(28, 28)
                lut = diverging_lut(self.palette().color(QPalette.ColorRole.ToolTipBase))
                image = colour_image(picture, picture_scale(picture), lut).scaled(
                    112,
                    112,
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.FastTransformation,
                )
                lines.append("Incoming weights as a 28×28 image (blue +, orange −; ±3σ)")
            else:
                image = weight_chart(w, self.palette())
                lines.append(f"{len(w)} incoming weights" + (" (histogram)" if len(w) > 64 else ""))
            lines.append(
                f"min {w.min():+.3f}   max {w.max():+.3f}   mean {w.mean():+.3f}   "
                f"|w| {np.abs(w).mean():.3f}"
            )
            if self._biases is not None:
                bias = self._biases[layer]
                if (
                    col.kind == "hidden"
                    and self._spec.hidden[col.layer].activation.name == "maxout"
                ):
                    pieces = self._spec.hidden[col.layer].activation.pieces
                    bias = bias.reshape(-1, pieces).mean(axis=1)
                    lines.append(f"maxout: {pieces} pieces, weights averaged over pieces")
                lines.append(f"bias {float(bias[neuron]):+.4f}")
        acts = self._activations
        if acts is not None and column - 1 < len(acts):
            values = np.asarray(acts[column - 1])
            if values.ndim == 2 and self._probe_index < len(values):
                value = float(values[self._probe_index][neuron])
                if col.kind == "output":
                    lines.append(f"raw output for the probe sample: {value:+.4f}")
                    if self._probs is not None:
                        lines.append(f"probability: {float(self._probs[neuron]):.1%}")
                else:
                    lines.append(f"activation for the probe sample: {value:+.4f}")
        return title, image, "\n".join(lines)

    def _input_info(self, col: Column, node: int) -> tuple[str, QImage | None, str]:
        if not self._image_input():
            return f"Input {col.shown[node] + 1} of {col.size:,}", None, "An input feature."
        image = None
        if self._probe_image is not None:
            image = gray_image(self._probe_image).scaled(
                112,
                112,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.FastTransformation,
            )
        if node == -1:
            text = "784 inputs: one per pixel.\n" + (
                "This is the probe sample." if image is not None else "No probe sample yet."
            )
            return "Input image 28×28", image, text
        r, c = divmod(col.shown[node], 28 // PATCH)
        rows, cols_ = f"{r * PATCH}–{r * PATCH + PATCH - 1}", f"{c * PATCH}–{c * PATCH + PATCH - 1}"
        text = (
            f"Pixels in rows {rows}, columns {cols_} (49 inputs).\n"
            "Its lines show the sum of those 49 weights into each neuron;\n"
            "hover a neuron of Hidden 1 to see every weight."
        )
        return f"Input patch {col.shown[node] + 1} of 16", None, text


def _mix(base: QColor, colour: QColor, t: float) -> QColor:
    """`colour` laid over `base` with opacity t, as one opaque colour."""
    t = min(max(t, 0.0), 1.0)
    return QColor(
        round(base.red() + (colour.red() - base.red()) * t),
        round(base.green() + (colour.green() - base.green()) * t),
        round(base.blue() + (colour.blue() - base.blue()) * t),
    )


def output_probabilities(outputs: np.ndarray, kind: str) -> np.ndarray:
    """What the loss's output activation makes of raw outputs (as core.losses.probabilities)."""
    z = np.asarray(outputs, dtype=np.float64)
    if kind == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))
        return s / max(float(s.sum()), 1e-12)
    e = np.exp(z - z.max())
    return e / e.sum()


def weight_chart(w: np.ndarray, palette: QPalette) -> QImage:
    """Bars of a neuron's incoming weights (a histogram when there are many of them)."""
    width, height = 220, 70
    image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(palette.color(QPalette.ColorRole.ToolTipBase))
    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    axis = QColor(palette.color(QPalette.ColorRole.ToolTipText))
    axis.setAlpha(120)
    p.setPen(Qt.PenStyle.NoPen)
    if len(w) <= 64:
        mid = height / 2
        scale = float(np.abs(w).max()) or 1.0
        bar = width / max(len(w), 1)
        for i, v in enumerate(w.tolist()):
            p.setBrush(POSITIVE if v >= 0 else NEGATIVE)
            length = (height / 2 - 2) * abs(v) / scale
            top = mid - length if v >= 0 else mid
            p.drawRect(QRectF(i * bar + bar * 0.1, top, max(bar * 0.8, 1.0), length))
        p.setPen(QPen(axis, 1))
        p.drawLine(QPointF(0, mid), QPointF(width, mid))
    else:
        bins = 40
        limit = float(np.abs(w).max()) or 1.0
        counts, edges = np.histogram(w, bins=bins, range=(-limit, limit))
        top = counts.max() or 1
        bar = width / bins
        for i, count in enumerate(counts.tolist()):
            p.setBrush(POSITIVE if edges[i] + edges[i + 1] >= 0 else NEGATIVE)
            length = (height - 4) * count / top
            p.drawRect(QRectF(i * bar + 0.5, height - length, bar - 1, length))
        p.setPen(QPen(axis, 1, Qt.PenStyle.DashLine))
        p.drawLine(QPointF(width / 2, 0), QPointF(width / 2, height))
    p.end()
    return image
