"""One pair of colours for a value's sign everywhere in the app, TensorFlow Playground's: orange
for negative, blue for positive. The network diagram and the Playground drew weights that way
while the Weights, Activations and Backprop maps drew positive red and the Draw panel's units
positive orange, so one weight changed colour between two views."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyqtgraph as pg

NEGATIVE_RGB = (245, 147, 34)  # Playground's #f59322
POSITIVE_RGB = (8, 119, 189)  # Playground's #0877bd
ZERO_RGB = (240, 240, 240)  # a light grey centre, as the maps had (CET-D1's)


def signed_colormap() -> pg.ColorMap:
    """Negative orange, zero light grey, positive blue: for images shown with levels (-m, m)."""
    import pyqtgraph as pg  # here: the constants serve pure-numpy colour code too

    return pg.ColorMap([0.0, 0.5, 1.0], [NEGATIVE_RGB, ZERO_RGB, POSITIVE_RGB])
