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

import time

import numpy as np
from mlp_studio.app.panels.network.diagram_columns import (
    MAX_ROWS,
    THUMB_ROWS,
    Column,
    shown_indices,
)
from mlp_studio.app.panels.network.diagram_images import (
    NEGATIVE,
    PATCH,
    POSITIVE,
    colour_image,
    diverging_lut,
    mix,
    neuron_weights,
    output_probabilities,
    patch_weights,
    picture_scale,
    weights_match,
)
from mlp_studio.app.panels.network.diagram_painting import DiagramPainting
from mlp_studio.app.panels.network.neuron_cards import NeuronCards, NeuronPopup
from mlp_studio.core.model import NetworkSpec
from PySide6.QtCore import QEvent, QLineF, QPoint, QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QContextMenuEvent, QImage, QMouseEvent, QPalette, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

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


class NetworkDiagram(NeuronCards, DiagramPainting, QWidget):
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

    def set_weights(self, weights: list[np.ndarray] | None, biases: list[np.ndarray] | None = None,
                    activations: list[np.ndarray] | None = None, step: int | None = None):
        """Weights per layer [out, in] (None: no model yet, connections drawn neutral);
        `activations` (as in a Snapshot): the probe's under these weights, if known; `step`:
        the training step they are of (None: no step label)."""
        if weights is not None and not weights_match(self._spec, weights):
            weights = biases = None
        self._pending = None  # a snapshot still waiting is older than these weights
        self._weights, self._biases = weights, biases
        if weights is None:
            self._activations = None
            self._step = None
        elif activations is not None:
            self._activations = activations
        if weights is not None:
            self._step = step
        self._restyle()

    @property
    def shows_activations(self) -> bool:
        """Node fills come from a probe's activations (a run's snapshots brought them)."""
        return self._activations is not None

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
                style = mix(base, self.palette().color(QPalette.ColorRole.Text), 0.16), 0.7
            else:
                t = abs(key) / LEVELS
                colour = mix(base, POSITIVE if key > 0 else NEGATIVE, 0.14 + 0.86 * t)
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
        return mix(self.palette().color(QPalette.ColorRole.Base), POSITIVE, p)

    # ---- painting ----

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.Type.PaletteChange and "_columns" in self.__dict__:
            self._styles.clear()
            self._restyle()  # colour maps and line colours mix with the background
        elif event.type() == QEvent.Type.FontChange:
            self._invalidate()
        super().changeEvent(event)

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


