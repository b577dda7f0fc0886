"""Colours of the playground views, after TensorFlow Playground: orange for negative values and
class 0, blue for positive values and class 1, a pale grey in between. Pure numpy: every map
returns uint8 RGB arrays that the views hand to Qt/pyqtgraph as images.
"""

from __future__ import annotations

import numpy as np
from mlp_studio.app.widgets.sign_colors import NEGATIVE_RGB, POSITIVE_RGB

ORANGE = NEGATIVE_RGB  # Playground's #f59322: negative, class 0
BLUE = POSITIVE_RGB  # Playground's #0877bd: positive, class 1
NEUTRAL = (232, 234, 235)  # Playground's #e8eaeb: zero, undecided
PAPER = (255, 255, 255)
# Playground draws its heatmaps at alpha 160/255 over white: pale enough for points to stand out.
HEATMAP_ALPHA = 160 / 255
# Class colours: Playground's pair first, then distinct hues that stay readable when pale.
CLASS_COLORS = (
    ORANGE,
    BLUE,
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
)


def class_color(index: int) -> tuple[int, int, int]:
    return CLASS_COLORS[index % len(CLASS_COLORS)]


def _mix(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """a + (b - a) t, per pixel; a/b [..., 3] (broadcast), t [...]."""
    return a + (b - a) * t[..., None]


LUT_SIZE = 256


def _diverging_lut(pale: bool) -> np.ndarray:
    """uint8 [LUT_SIZE, 3]: entry i is the colour of -1 + 2 i / (LUT_SIZE - 1)."""
    v = np.linspace(-1.0, 1.0, LUT_SIZE, dtype=np.float32)
    end = np.where((v < 0)[:, None], np.array(ORANGE, np.float32), np.array(BLUE, np.float32))
    return _finish(_mix(np.array(NEUTRAL, np.float32), end, np.abs(v)), pale)


def diverging(values: np.ndarray, scale: float = 1.0, pale: bool = False) -> np.ndarray:
    """uint8 [..., 3]: -scale orange, 0 neutral, +scale blue (clipped beyond; NaN neutral)."""
    v = np.asarray(values, np.float32) * np.float32((LUT_SIZE - 1) / 2 / max(scale, 1e-12))
    v += (LUT_SIZE - 1) / 2 + 0.5
    index = np.clip(np.nan_to_num(v, nan=LUT_SIZE / 2), 0, LUT_SIZE - 1).astype(np.intp)
    return _DIVERGING_LUTS[int(pale)][index]


def tint(values: np.ndarray, color: tuple[int, int, int], pale: bool = False) -> np.ndarray:
    """uint8 [..., 3]: 0 neutral to 1 `color` (clipped), e.g. one class's probability."""
    t = np.clip(np.nan_to_num(np.asarray(values, np.float32)), 0.0, 1.0)
    rgb = _mix(np.array(NEUTRAL, np.float32), np.array(color, np.float32), t)
    return _finish(rgb, pale)


def classes_rgb(probabilities: np.ndarray, pale: bool = False) -> np.ndarray:
    """uint8 [..., 3] of class probabilities [..., C]: the predicted class's colour, from neutral
    where the network hesitates (confidence 1/C) to full where it is sure (confidence 1).

    For two classes this is the diverging map of 2 P(class 1) - 1 (to the table's step).
    """
    p = np.asarray(probabilities, np.float32)
    c = p.shape[-1]
    predicted = p.argmax(-1)
    level = (p.max(-1) - 1.0 / c) * np.float32((LUT_SIZE - 1) / (1.0 - 1.0 / c))
    level = np.clip(level + 0.5, 0, LUT_SIZE - 1).astype(np.intp)
    # A table per class (a few hundred colours) instead of per-pixel arithmetic.
    palette = np.array([class_color(k) for k in range(c)], np.float32)
    strength = np.linspace(0.0, 1.0, LUT_SIZE, dtype=np.float32)
    table = _finish(
        _mix(np.array(NEUTRAL, np.float32), palette[:, None, :], strength[None, :]), pale
    )
    return table[predicted, level]


def _finish(rgb: np.ndarray, pale: bool) -> np.ndarray:
    if pale:
        rgb = _mix(np.array(PAPER, np.float32), rgb, np.full(rgb.shape[:-1], HEATMAP_ALPHA))
    return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)


def decision_rgb(grid: np.ndarray, task: str, scale: float = 1.0, pale: bool = True) -> np.ndarray:
    """The big view's background from core.playground_grids.decision_grid output.

    binary [r, r] P(class 1); multi-class [r, r, C]; regression [r, r] values (+-scale).
    """
    if task == "regression":
        return diverging(grid, scale, pale)
    if grid.ndim == 3:
        return classes_rgb(grid, pale)
    return diverging(2.0 * grid - 1.0, 1.0, pale)


def point_colors(labels: np.ndarray, task: str, scale: float = 1.0) -> np.ndarray:
    """uint8 [N, 3] colours of points: their class, or their value on the diverging map."""
    if task == "regression":
        return diverging(labels, scale)
    return np.array([class_color(int(k)) for k in labels], np.uint8).reshape(-1, 3)


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


# Lookup tables (plain, then pale): a frame colours ~20 grids, and a table lookup is a handful
# of numpy calls where the arithmetic would be fifteen, each a GIL hand-off while a trainer runs.
_DIVERGING_LUTS = (_frozen(_diverging_lut(False)), _frozen(_diverging_lut(True)))
