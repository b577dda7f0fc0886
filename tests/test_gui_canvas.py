"""The drawing canvas panel: strokes by mouse (and pen), the preprocessing steps, the live
prediction, undo/clear, pictures and test images, and models trained on real data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from idx_fixtures import write_mnist_folder
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.app.panels.draw.draw_panel import NO_MODEL, DrawPanel
from mlp_studio.app.panels.draw.drawing_canvas import SIZE, qimage_to_gray
from mlp_studio.core.data import DataConfig, SplitConfig, fit_normalization, prepare_mnist
from mlp_studio.core.digits import preprocess_digit
from mlp_studio.core.inference import predict_digit
from mlp_studio.core.mnist import MnistArrays, load_folder
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model
from mlp_studio.core.training import TrainConfig, Trainer
from PIL import Image, ImageDraw
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import (
    QAction,
    QInputDevice,
    QKeySequence,
    QMouseEvent,
    QPointingDevice,
    QTabletEvent,
)
from PySide6.QtWidgets import QApplication, QMainWindow
from window_fixtures import open_draw_panel

LEFT = Qt.MouseButton.LeftButton


# ---------------------------------------------------------------- drawing like a user


def draw(qtbot, canvas, points: list[tuple[float, float]]) -> None:
    """One stroke through points given as 0-1 fractions of the drawing area."""
    area = canvas.drawing_rect()
    pos = [
        QPoint(round(area.x() + x * area.width()), round(area.y() + y * area.height()))
        for x, y in points
    ]
    qtbot.mousePress(canvas, LEFT, pos=pos[0])
    for p in pos[1:]:
        # qtbot.mouseMove cannot hold a button down in Qt 6: send the move event itself.
        event = QMouseEvent(
            QEvent.Type.MouseMove,
            QPointF(p),
            QPointF(canvas.mapToGlobal(p)),
            LEFT,
            LEFT,
            Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(canvas, event)
    qtbot.mouseRelease(canvas, LEFT, pos=pos[-1])


def line(angle_degrees: float, length: float = 0.7, steps: int = 12) -> list[tuple[float, float]]:
    """A straight stroke through the centre at `angle` (counter-clockwise from horizontal)."""
    a = np.radians(angle_degrees)
    dx, dy = np.cos(a) * length / 2, -np.sin(a) * length / 2
    return [(0.5 - dx + 2 * dx * t, 0.5 - dy + 2 * dy * t) for t in np.linspace(0, 1, steps)]


# ---------------------------------------------------------------- data and models


def train(data, hidden=(64,), epochs=15, lr=3e-3, dropout=0.0):
    spec = NetworkSpec(784, [LayerSpec(h, dropout=dropout) for h in hidden], data.num_classes)
    model = build_model(spec)
    config = TrainConfig(epochs=epochs, lr=lr, batch_size=64)
    Trainer(model, data, config).run()
    return model


@pytest.fixture(scope="module")
def ring_data(tmp_path_factory):
    """The shared MNIST-like fixture (blobs on a ring), prepared with 'unit' normalization."""
    folder = write_mnist_folder(tmp_path_factory.mktemp("mnist"), n_train=600, n_test=100)
    return prepare_mnist(load_folder(folder), DataConfig(normalization="unit"))


@pytest.fixture(scope="module")
def ring_model(ring_data):
    return train(ring_data, hidden=(32, 16), epochs=5)


def stroke_images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Class k is a straight stroke at k * 18 degrees, drawn on a canvas and prepared like
    MNIST. (The ring fixture's classes are positions, which MNIST-style centring erases, so
    a drawing cannot be recognised by a model trained on them.)"""
    out = np.zeros((len(labels), 28, 28), np.uint8)
    for i, label in enumerate(labels):
        img = Image.new("L", (SIZE, SIZE), 0)
        pts = line(label * 18 + rng.normal(0, 2.5), rng.uniform(0.45, 0.85))
        cx, cy = rng.normal(0, 0.08, 2)
        xy = [((x + cx) * SIZE, (y + cy) * SIZE) for x, y in (pts[0], pts[-1])]
        ImageDraw.Draw(img).line(xy, fill=255, width=int(rng.integers(14, 30)))
        steps = preprocess_digit(np.asarray(img, np.float32))
        out[i] = np.rint(steps.centered).astype(np.uint8)
    return out


@pytest.fixture(scope="module")
def stroke_data():
    rng = np.random.default_rng(0)
    train_y = rng.permutation(np.arange(1200) % 10).astype(np.uint8)
    test_y = rng.permutation(np.arange(200) % 10).astype(np.uint8)
    arrays = MnistArrays(
        stroke_images(train_y, rng), train_y, stroke_images(test_y, rng), test_y, "strokes"
    )
    return prepare_mnist(arrays, DataConfig(normalization="unit"))


@pytest.fixture(scope="module")
def stroke_model(stroke_data):
    return train(stroke_data, hidden=(64,), epochs=12)



def state_with(data=None, model=None) -> Experiment:
    state = Experiment()
    if data is not None:
        state.set_data(data)
    if model is not None:
        state.replace_spec(model.spec)
        state.set_model(model)
    return state


def tile_gray(tile) -> np.ndarray:
    return qimage_to_gray(tile.image())


# ---------------------------------------------------------------- tests


def test_drawing_shows_the_preprocessing_and_the_models_prediction(qtbot, ring_data, ring_model):
    panel = open_draw_panel(qtbot, state_with(ring_data, ring_model))
    with qtbot.waitSignal(panel.canvas.imageChanged):
        draw(qtbot, panel.canvas, [(0.3, 0.3), (0.5, 0.35), (0.6, 0.6), (0.4, 0.75)])

    gray = panel.canvas.image()
    assert gray.shape == (SIZE, SIZE) and gray.dtype == np.float32 and gray.max() == 255
    expected = preprocess_digit(gray)
    steps = panel.steps
    assert not steps.empty
    for name in ("cropped", "fitted", "centered"):
        np.testing.assert_array_equal(getattr(steps, name), getattr(expected, name))
    assert steps.bbox == expected.bbox
    # The tiles show exactly these images (rounded to 8 bits for display).
    np.testing.assert_array_equal(tile_gray(panel.input_tile), np.rint(gray))
    np.testing.assert_array_equal(tile_gray(panel.cropped_tile), np.rint(expected.cropped))
    np.testing.assert_array_equal(tile_gray(panel.fitted_tile), np.rint(expected.fitted))
    np.testing.assert_array_equal(tile_gray(panel.centered_tile), np.rint(expected.centered))
    for tile in panel.step_tiles:
        assert tile_gray(tile).max() > 0
    normalized = ring_data.normalization.apply(expected.pixels[None])[0]
    shown = tile_gray(panel.normalized_tile).reshape(-1)
    low, high = normalized.min(), normalized.max()
    np.testing.assert_allclose(shown, np.rint((normalized - low) / (high - low) * 255), atol=1)

    want = predict_digit(ring_model, ring_data.normalization, "cross_entropy", expected.pixels)
    np.testing.assert_allclose(panel.bars.probabilities(), want.probabilities, rtol=1e-5)
    assert panel.bars.names() == ring_data.class_names
    assert panel.guess_label.text() == ring_data.class_names[want.top]
    assert f"{want.probabilities[want.top]:.1%}" in panel.confidence_label.text()
    assert len(panel.layer_maps) == 2
    for layer_map, values in zip(panel.layer_maps, want.activations, strict=True):
        np.testing.assert_allclose(layer_map.activations(), values, rtol=1e-5, atol=1e-6)
    assert panel.saliency_tile.image() is not None
    assert panel.saliency_map().shape == (784,)
    # Ink x gradient is zero off the ink; the plain gradient is not.
    assert not panel.saliency_map()[expected.pixels == 0].any()
    panel.toggle_saliency()
    np.testing.assert_allclose(panel.saliency_map(), panel.prediction.saliency)
    assert np.abs(panel.saliency_map()[expected.pixels == 0]).max() > 0


def test_a_drawn_stroke_is_recognised(qtbot, stroke_data, stroke_model):
    panel = open_draw_panel(qtbot, state_with(stroke_data, stroke_model))
    guesses = []
    for digit in range(10):
        panel.canvas.clear()
        draw(qtbot, panel.canvas, line(digit * 18))
        guesses.append(panel.prediction.top)
        assert panel.guess_label.text() == panel.bars.names()[panel.prediction.top]
    assert guesses == list(range(10))


def test_undo_and_clear_by_buttons_and_keys(qtbot, ring_data, ring_model):
    # In a window with its own Ctrl+Z (undo a network edit), which must not fire while the
    # canvas has focus.
    window = QMainWindow()
    qtbot.addWidget(window)
    fired = []
    action = QAction("Undo", window)
    action.setShortcut(QKeySequence.StandardKey.Undo)
    action.triggered.connect(lambda: fired.append(True))
    window.addAction(action)
    panel = DrawPanel(state_with(ring_data, ring_model))
    window.setCentralWidget(panel)
    window.resize(940, 600)
    window.show()
    window.windowHandle().requestActivate()  # window shortcuts only fire in the active window
    qtbot.waitUntil(window.isActiveWindow)
    canvas = panel.canvas
    assert not panel.undo_button.isEnabled() and not panel.clear_button.isEnabled()
    draw(qtbot, canvas, [(0.2, 0.2), (0.4, 0.5)])
    first = canvas.image()
    draw(qtbot, canvas, [(0.7, 0.2), (0.7, 0.8)])
    assert not np.array_equal(canvas.image(), first)
    assert panel.undo_button.isEnabled() and panel.clear_button.isEnabled()

    qtbot.mouseClick(panel.undo_button, LEFT)
    np.testing.assert_array_equal(canvas.image(), first)
    np.testing.assert_array_equal(panel.steps.centered, preprocess_digit(first).centered)

    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert canvas.is_blank() and not fired
    assert panel.steps.empty and panel.prediction is None
    assert panel.guess_label.text() == "?"
    assert not panel.undo_button.isEnabled()

    draw(qtbot, canvas, [(0.2, 0.2), (0.4, 0.5)])
    drawn = canvas.image()
    assert drawn.any()
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_Delete)
    assert canvas.is_blank() and panel.steps.empty and panel.bars.probabilities() is None
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo the clear
    np.testing.assert_array_equal(canvas.image(), drawn)
    qtbot.mouseClick(panel.clear_button, LEFT)
    assert canvas.is_blank() and not fired
    panel.undo_button.setFocus()  # elsewhere the window's Ctrl+Z works as before
    qtbot.keyClick(panel.undo_button, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert fired and canvas.is_blank()


def test_brush_size_keys_and_slider(qtbot):
    panel = open_draw_panel(qtbot, Experiment())
    canvas = panel.canvas
    size = canvas.brush_size()
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_BracketRight)
    assert canvas.brush_size() == size + 2 and panel.brush_slider.value() == size + 2
    qtbot.keyClick(canvas, Qt.Key.Key_BracketLeft)
    qtbot.keyClick(canvas, Qt.Key.Key_BracketLeft)
    assert canvas.brush_size() == size - 2 and panel.brush_value.text() == f"{size - 2} px"
    panel.brush_slider.setValue(40)
    assert canvas.brush_size() == 40

    def ink_width(brush: int) -> int:
        canvas.clear()
        canvas.set_brush_size(brush)
        draw(qtbot, canvas, [(0.5, 0.2), (0.5, 0.8)])
        return int((canvas.image()[SIZE // 2] > 127).sum())

    assert ink_width(40) > ink_width(10) + 20


def test_pen_pressure_scales_the_brush(qtbot):
    panel = open_draw_panel(qtbot, Experiment())
    canvas = panel.canvas
    pen = QPointingDevice(
        "test pen",
        1,
        QInputDevice.DeviceType.Stylus,
        QPointingDevice.PointerType.Pen,
        QInputDevice.Capability.Position | QInputDevice.Capability.Pressure,
        1,
        3,
    )
    area = canvas.drawing_rect()

    def pen_stroke(pressure: float) -> int:
        canvas.clear()
        xs = [area.x() + area.width() / 2] * 6
        ys = np.linspace(area.y() + area.height() * 0.2, area.y() + area.height() * 0.8, 6)
        kinds = [QEvent.Type.TabletPress] + [QEvent.Type.TabletMove] * 4
        kinds.append(QEvent.Type.TabletRelease)
        for kind, x, y in zip(kinds, xs, ys, strict=True):
            pos = QPointF(x, y)
            event = QTabletEvent(
                kind, pen, pos, QPointF(canvas.mapToGlobal(pos)), pressure, 0.0, 0.0, 0.0,
                0.0, 0.0, Qt.KeyboardModifier.NoModifier, LEFT,
                Qt.MouseButton.NoButton if kind == QEvent.Type.TabletRelease else LEFT,
            )  # fmt: skip
            QApplication.sendEvent(canvas, event)
        return int((canvas.image()[SIZE // 2] > 127).sum())

    light, firm = pen_stroke(0.2), pen_stroke(0.9)
    assert light > 0 and firm > 2 * light
    assert canvas.can_undo()


def test_open_image_shows_the_steps(qtbot, tmp_path, ring_data, ring_model):
    panel = open_draw_panel(qtbot, state_with(ring_data, ring_model))
    path = tmp_path / "seven.png"
    img = Image.new("RGB", (120, 90), "white")  # dark ink on paper, not square
    ImageDraw.Draw(img).line([(40, 15), (80, 15), (55, 80)], fill="black", width=8)
    img.save(path)
    with qtbot.waitSignal(panel.imageOpened, timeout=10_000) as opened:
        panel.open_image_file(path)
    assert opened.args == [True]
    assert not panel.canvas.is_blank() and not panel.steps.empty
    assert "seven.png" in panel.source_label.text() and panel.source_label.isVisible()
    np.testing.assert_array_equal(
        panel.steps.centered, preprocess_digit(panel.canvas.image()).centered
    )
    assert tile_gray(panel.fitted_tile).max() > 0
    assert panel.prediction is not None
    # Scaled to fit: the wider side fills the canvas, and the ink turned white.
    assert panel.canvas.image().max() == 255
    before = panel.canvas.image()

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture")
    with qtbot.waitSignal(panel.imageOpened, timeout=10_000) as opened:
        panel.open_image_file(broken)
    assert opened.args == [False]
    assert "broken.png" in panel.message.text() and panel.message.isVisible()
    np.testing.assert_array_equal(panel.canvas.image(), before)

    panel.canvas.undo()  # the picture goes away again
    assert panel.canvas.is_blank() and not panel.source_label.isVisible()


def test_huge_picture_is_refused_off_the_gui_thread(qtbot, tmp_path, ring_data, ring_model):
    """A 13000x13000 PNG froze the window for 25 s and took 5.6 GB: it is now read on a pool
    thread and refused from its header; the newest of two pictures opened is the one shown."""
    panel = open_draw_panel(qtbot, state_with(ring_data, ring_model))
    huge = tmp_path / "huge.png"
    Image.new("L", (13000, 13000)).save(huge)
    small = tmp_path / "small.png"
    Image.new("L", (40, 40), 255).save(small)
    with qtbot.waitSignal(panel.imageOpened, timeout=10_000) as opened:
        panel.open_image_file(huge)
        assert "Opening huge.png" in panel.message.text()  # returned before decoding
    assert opened.args == [False]
    assert "13000x13000 pixels" in panel.message.text() and panel.canvas.is_blank()

    with qtbot.waitSignal(panel.imageOpened, timeout=10_000) as opened:
        panel.open_image_file(huge)
        panel.open_image_file(small)  # the later request wins, whichever finishes first
    qtbot.wait_until(lambda: not panel._image_loader.busy, timeout=10_000)
    assert opened.args == [True] and not panel.message.isVisible()
    assert "small.png" in panel.source_label.text()


def test_pick_a_test_image(qtbot, ring_data, ring_model):
    panel = open_draw_panel(qtbot, state_with(ring_data, ring_model))
    assert panel.test_button.isEnabled()
    index = panel.pick_test_image(7)
    label = int(ring_data.y_test[7])
    assert index == 7 and panel.true_label() == label
    assert f"true label <b>{ring_data.class_names[label]}</b>" in panel.source_label.text()
    # The 28x28 digit scaled up ten times fills the canvas.
    shrunk = panel.canvas.image().reshape(28, 10, 28, 10).mean((1, 3))
    original = ring_data.raw_test[7].astype(np.float32)
    assert np.corrcoef(shrunk.ravel(), original.ravel())[0, 1] > 0.95
    assert not panel.steps.empty and panel.prediction is not None
    mark = "✓" if panel.prediction.top == label else "✗"
    assert mark in panel.detail_label.text()

    qtbot.mouseClick(panel.test_button, LEFT)
    assert panel.true_label() is not None and "Test image #" in panel.source_label.text()
    panel.canvas.clear()
    assert panel.true_label() is None


def test_without_a_model_the_drawing_and_steps_still_work(qtbot):
    state = Experiment()
    panel = open_draw_panel(qtbot, state)
    assert panel.confidence_label.text() == NO_MODEL
    assert not panel.test_button.isEnabled()
    draw(qtbot, panel.canvas, [(0.4, 0.2), (0.45, 0.8)])
    assert not panel.steps.empty
    for tile in panel.step_tiles:  # 'unit' does not need data
        assert tile_gray(tile).max() > 0
    assert panel.prediction is None and panel.bars.probabilities() is None
    assert panel.confidence_label.text() == NO_MODEL and panel.guess_label.text() == "?"

    # A model arrives: the same drawing gets its guess at once.
    state.set_model(state.ensure_model())
    assert panel.prediction is not None and panel.bars.probabilities() is not None
    state.set_model(None)
    assert panel.prediction is None and panel.confidence_label.text() == NO_MODEL

    # Data-dependent normalization and no data: say what is missing.
    config = state.data_config
    config.normalization = "per_pixel"
    state.set_data_config(config)
    state.ensure_model()
    assert panel.prediction is None and "load its data" in panel.confidence_label.text()


def test_a_model_for_2d_points_leaves_the_drawing_without_a_guess(qtbot):
    """A network of 4 inputs (its data's own normalization) becomes current while a digit is
    on the canvas: no normalization of the wrong size is applied, and instead of a canvas that
    cannot work the panel says why drawing does not apply; a picture network brings it back."""
    state = Experiment()
    panel = open_draw_panel(qtbot, state)
    draw(qtbot, panel.canvas, [(0.4, 0.2), (0.45, 0.8)])
    model = build_model(NetworkSpec(input_size=4, hidden=[LayerSpec(8)], output_size=3))
    state.replace_spec(model.spec)
    points = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
    state.set_model(model, fit_normalization("per_pixel", points))
    assert panel.prediction is None and panel.normalization is None
    assert not panel.canvas.isVisible() and panel.not_drawable.isVisible()
    assert "4 values per sample" in panel.not_drawable.text()
    state.replace_spec(NetworkSpec())  # 784 inputs: a 28x28 picture again
    assert panel.canvas.isVisible() and not panel.not_drawable.isVisible()
    assert not panel.steps.empty and tile_gray(panel.centered_tile).max() > 0


def test_a_model_in_training_is_never_switched_to_eval(qtbot, ring_data):
    state = state_with(ring_data, train(ring_data, hidden=(32,), epochs=1, dropout=0.5))
    model = state.model
    panel = open_draw_panel(qtbot, state)
    state.set_training(True)
    model.train()  # as the trainer has it
    draw(qtbot, panel.canvas, [(0.3, 0.3), (0.6, 0.6)])
    first = panel.bars.probabilities()
    assert model.training  # dropout stays on for the training thread
    panel.canvas.place_image(panel.canvas.image())  # the same drawing again: no dropout noise
    np.testing.assert_array_equal(panel.bars.probabilities(), first)

    with torch.no_grad():  # the trainer updates the weights in place ...
        for p in model.parameters():
            p.mul_(-1.0)
    state.set_training(False)  # ... and the run ends: the copy re-reads them
    state.set_model(model)
    want = predict_digit(model, ring_data.normalization, "cross_entropy", panel.steps.pixels)
    np.testing.assert_allclose(panel.bars.probabilities(), want.probabilities, rtol=1e-5)
    assert not np.allclose(first, want.probabilities)
    assert model.training  # predict_digit restored the mode it found


def test_network_changes_rebuild_the_layer_maps(qtbot, ring_data, ring_model):
    state = state_with(ring_data, ring_model)
    panel = open_draw_panel(qtbot, state)
    draw(qtbot, panel.canvas, [(0.3, 0.3), (0.6, 0.6)])
    assert [m.title for m in panel.layer_maps] == ["Hidden 1 · 32", "Hidden 2 · 16"]
    spec = state.spec
    spec.hidden = [LayerSpec(20)]
    state.replace_spec(spec)  # drops the model
    assert panel.layer_maps == [] and panel.confidence_label.text() == NO_MODEL
    state.ensure_model()
    assert [m.title for m in panel.layer_maps] == ["Hidden 1 · 20"]
    assert panel.layer_maps[0].activations().shape == (20,)


@pytest.mark.mnist
def test_mnist_digits_at_other_sizes_and_places_keep_their_class(qtbot, mnist_dir):
    config = DataConfig(normalization="unit", split=SplitConfig(subset=30000))  # quick
    data = prepare_mnist(load_folder(mnist_dir), config)
    model = train(data, hidden=(128,), epochs=1, lr=1e-3)
    panel = open_draw_panel(qtbot, state_with(data, model))
    rng = np.random.default_rng(0)
    indices = rng.choice(len(data.raw_test), 200, replace=False)
    with torch.no_grad():
        originals = model(data.x_test[indices]).argmax(1).numpy()
    agree = 0
    for index, original in zip(indices, originals, strict=True):
        side = int(rng.integers(84, 253))  # x3 to x9
        digit = Image.fromarray(data.raw_test[index]).resize((side, side), Image.BILINEAR)
        canvas = np.zeros((SIZE, SIZE), np.float32)
        top, left = rng.integers(0, SIZE - side + 1, 2)
        canvas[top : top + side, left : left + side] = np.asarray(digit, np.float32)
        panel.canvas.place_image(canvas)  # already canvas-sized: placed as it is
        np.testing.assert_array_equal(panel.canvas.image(), np.rint(canvas))
        agree += int(panel.prediction.top == original)
    assert agree >= 180, f"only {agree} of 200 re-rendered digits kept their class"


def test_a_closed_panel_no_longer_listens_to_the_state(qtbot, ring_data, ring_model):
    state = state_with(ring_data, ring_model)
    panel = DrawPanel(state)
    destroyed = []
    panel.destroyed.connect(lambda: destroyed.append(True))
    panel.deleteLater()
    qtbot.waitUntil(lambda: bool(destroyed))
    config, data_config = state.train_config, state.data_config
    config.loss = "mse"
    data_config.normalization = "symmetric"
    state.set_train_config(config)  # would raise if a slot of the deleted panel still ran
    state.set_data_config(data_config)
    state.set_training(True)
    state.set_training(False)
    state.set_model(None)
    state.set_data(None)
