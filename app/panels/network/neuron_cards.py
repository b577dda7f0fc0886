"""The diagram's hover cards: what a neuron or input patch is, its weights and activation."""

from __future__ import annotations

import numpy as np
from mlp_studio.app.panels.network.diagram_columns import Column
from mlp_studio.app.panels.network.diagram_images import (
    PATCH,
    colour_image,
    diverging_lut,
    gray_image,
    neuron_weights,
    picture_scale,
    weight_chart,
)
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPalette, QPixmap
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget


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


class NeuronCards:
    """NetworkDiagram's hover-card texts (uses its spec, weights and probe activations)."""

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
