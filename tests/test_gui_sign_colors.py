"""Every view colours a value's sign alike: negative orange, positive blue, as the network
diagram and the Playground do (the Weights, Activations and Backprop maps drew positive red,
the Draw panel's units positive orange)."""

import numpy as np
from mlp_studio.app.panels.backprop.layer_maps import LayerMaps
from mlp_studio.app.panels.draw.digit_views import DIVERGING
from mlp_studio.app.panels.network.diagram_images import NEGATIVE, POSITIVE
from mlp_studio.app.panels.playground.playground_colors import BLUE, ORANGE
from mlp_studio.app.panels.training.weights_grid import WeightsGrid
from mlp_studio.app.widgets.sign_colors import NEGATIVE_RGB, POSITIVE_RGB


def _ends(cmap) -> tuple[np.ndarray, np.ndarray]:
    """The RGB a colour map gives the most negative and the most positive value."""
    low, high = cmap.map(np.array([0.0, 1.0]), mode="byte")[:, :3]
    return low, high


def test_the_diagram_and_the_playground_share_the_sign_colours():
    assert POSITIVE.getRgb()[:3] == POSITIVE_RGB == BLUE
    assert NEGATIVE.getRgb()[:3] == NEGATIVE_RGB == ORANGE


def test_weights_and_backprop_maps_draw_negative_orange_and_positive_blue(qtbot):
    grid, maps = WeightsGrid(), LayerMaps()
    qtbot.addWidget(grid)
    qtbot.addWidget(maps)
    cmaps = [grid.image.getColorMap(), grid.colorbar.colorMap(),
             *(image.getColorMap() for image in maps.images.values())]
    assert len(cmaps) > 2
    for cmap in cmaps:
        low, high = _ends(cmap)
        assert tuple(low) == NEGATIVE_RGB and tuple(high) == POSITIVE_RGB


def test_the_draw_panels_signed_units_are_orange_below_zero_and_blue_above():
    low, high = DIVERGING[0], DIVERGING[-1]
    assert low[0] > low[2] and high[2] > high[0]  # more red than blue, then the reverse


def test_the_draw_panels_saliency_is_blue_where_ink_raises_the_guess():
    from mlp_studio.app.panels.draw.digit_views import saliency_rgb

    digit = np.zeros((2, 2), np.uint8)
    rgb = saliency_rgb(digit, np.array([[1.0, -1.0], [0.0, 0.0]], np.float32)).astype(int)
    raises, lowers = rgb[0, 0], rgb[0, 1]
    assert raises[2] > raises[0] and lowers[0] > lowers[2]  # blue, then orange
