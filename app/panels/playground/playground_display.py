"""How finely and how often the Playground redraws."""

from __future__ import annotations

RESOLUTION = 100  # the big view's grid
NEURON_STEP = 3  # neuron tiles keep every third row/column of it: 34 x 34
FRAME_MS = 33  # at most ~30 boundary redraws a second
# While training, slower parts redraw less often: the controller paces deliveries by how busy
# the GUI thread is, so every millisecond saved here is boundary frames gained.
NETWORK_MS = 250  # neuron tiles and links (their painting costs the most)
CURVES_MS = 250  # loss curves (pyqtgraph re-ranges and repaints the plot on every change)
SETTLE_MS = 400  # no snapshot for this long (paused, finished): links antialiased again
