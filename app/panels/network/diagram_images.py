"""Pictures and colours of the network diagram: the diverging colour map, weight images and
charts, and fitting snapshot weights to the spec."""

from __future__ import annotations

import math

import numpy as np
from mlp_studio.app.widgets.sign_colors import NEGATIVE_RGB, POSITIVE_RGB
from mlp_studio.core.model import NetworkSpec
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPalette, QPen

POSITIVE = QColor(*POSITIVE_RGB)  # TensorFlow Playground's blue
NEGATIVE = QColor(*NEGATIVE_RGB)  # and its orange: both readable on light and dark backgrounds
PATCH = 7  # input patches are 7x7 pixels: a 4x4 grid over 28x28


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


def mix(base: QColor, colour: QColor, t: float) -> QColor:
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
