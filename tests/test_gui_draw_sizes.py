"""The Draw dock fits any grayscale picture network (8x8 digits, 32x32 folders): the drawing
is prepared at the network's own size. Networks that do not take a grayscale picture (a table,
colour pictures) get a sentence saying why, not a canvas that cannot work."""

from __future__ import annotations

import numpy as np
import pytest
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.app.panels.draw.drawing_canvas import SIZE
from mlp_studio.core.data import DataConfig, prepare_arrays, prepare_mnist
from mlp_studio.core.digits import preprocess_digit
from mlp_studio.core.mnist import MnistArrays
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model
from mlp_studio.core.training import TrainConfig, Trainer
from PIL import Image, ImageDraw
from test_gui_canvas import draw, line
from window_fixtures import open_draw_panel

ANGLES = (0, 45, 90, 135)  # class k: a stroke at ANGLES[k] degrees


def strokes(labels: np.ndarray, field: tuple[int, int], rng) -> np.ndarray:
    """Strokes drawn on a canvas-sized picture and prepared at `field`, as a user's would be."""
    out = np.zeros((len(labels), *field), np.uint8)
    for i, label in enumerate(labels):
        img = Image.new("L", (SIZE, SIZE), 0)
        pts = line(ANGLES[label] + rng.normal(0, 4), rng.uniform(0.5, 0.85))
        xy = [(x * SIZE, y * SIZE) for x, y in (pts[0], pts[-1])]
        ImageDraw.Draw(img).line(xy, fill=255, width=int(rng.integers(16, 30)))
        out[i] = np.rint(preprocess_digit(np.asarray(img, np.float32), field).centered)
    return out


@pytest.fixture(scope="module")
def small_digits():
    """8x8 pictures of four stroke directions (sklearn's digits are 8x8), and a network."""
    rng = np.random.default_rng(0)
    train_y = (np.arange(400) % 4).astype(np.uint8)
    test_y = (np.arange(80) % 4).astype(np.uint8)
    arrays = MnistArrays(strokes(train_y, (8, 8), rng), train_y, strokes(test_y, (8, 8), rng),
                         test_y, "strokes")  # fmt: skip
    data = prepare_mnist(arrays, DataConfig(normalization="unit"))
    data.class_names[:4] = ["flat", "rising", "upright", "falling"]
    model = build_model(NetworkSpec(64, [LayerSpec(32)], 10))
    Trainer(model, data, TrainConfig(epochs=20, lr=3e-3, batch_size=32)).run()
    return data, model



def test_an_8x8_picture_network_reads_drawings_at_its_own_size(qtbot, small_digits):
    data, model = small_digits
    state = Experiment()
    state.set_data(data)  # fits the network to 64 inputs
    state.set_model(model)
    panel = open_draw_panel(qtbot, state)
    assert panel.canvas.isVisible() and not panel.not_drawable.isVisible()
    assert panel.centered_tile.title == "Centred 8×8" and panel.fitted_tile.title == "Fitted 6×6"
    for label, angle in enumerate(ANGLES):
        panel.canvas.clear()
        draw(qtbot, panel.canvas, line(angle, 0.6))
        assert panel.steps.centered.shape == (8, 8)
        assert panel.prediction is not None and panel.prediction.probabilities.shape == (10,)
        assert panel.prediction.top == label, angle
        assert panel.guess_label.text() == data.class_names[label]  # the data's class names
    # A test image of the data, scaled up onto the canvas and prepared back down to 8x8.
    panel.pick_test_image(3)
    assert panel.true_label() == int(data.y_test[3]) and panel.steps.centered.shape == (8, 8)


def test_a_32x32_picture_network_gets_a_32x32_input(qtbot):
    rng = np.random.default_rng(1)
    y = (np.arange(40) % 2).astype(np.uint8)
    arrays = MnistArrays(strokes(y, (32, 32), rng), y, strokes(y, (32, 32), rng), y, "big")
    state = Experiment()
    state.set_data(prepare_mnist(arrays, DataConfig(normalization="standardize")))
    state.ensure_model()
    panel = open_draw_panel(qtbot, state)
    draw(qtbot, panel.canvas, line(90, 0.6))
    assert panel.steps.centered.shape == (32, 32) and panel.steps.fitted.shape == (23, 23)
    assert panel.prediction is not None and panel.normalization.size == 32 * 32


def test_a_table_network_says_why_drawing_does_not_apply(qtbot):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(30, 3)).astype(np.float32)
    y = rng.normal(size=30).astype(np.float32)
    state = Experiment()
    state.set_data(prepare_arrays(x, y, x, y, x, y, "standardize", ["price"], "regression"))
    state.set_feature_names(["rooms", "age", "distance"])
    panel = open_draw_panel(qtbot, state)
    state.ensure_model()
    assert not panel.canvas.isVisible() and panel.not_drawable.isVisible()
    text = panel.not_drawable.text()
    assert "rows of a table" in text and "rooms, age, distance" in text
    assert panel.prediction is None


def test_a_colour_picture_network_says_why_drawing_does_not_apply(qtbot):
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, size=(40, 4, 4, 3), dtype=np.uint8)
    labels = (np.arange(40) % 2).astype(np.uint8)
    arrays = MnistArrays(images, labels, images[:10], labels[:10], "colour")
    state = Experiment()
    panel = open_draw_panel(qtbot, state)
    assert panel.canvas.isVisible()  # MNIST's 28x28 until the data arrives
    state.set_data(prepare_mnist(arrays, DataConfig(normalization="unit")))
    assert state.spec.input_size == 48
    assert not panel.canvas.isVisible() and not panel.test_button.isVisible()
    assert "colour pictures (4×4 pixels, 3 channels)" in panel.not_drawable.text()
