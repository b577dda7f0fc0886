"""Draw's "open image" for a grayscale image folder's network: the picture is prepared as the
folder's pictures were, with the same core function `mlp-studio predict` uses for such a model
(core.image_folder.read_picture), not as a digit (no inversion, no crop to the ink); a stroke
drawn over it, or a digit network, keeps the digit preparation."""

import numpy as np
import pytest
import torch
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.core.data import prepare_dataset
from mlp_studio.core.data_source import DataSource
from mlp_studio.core.dataset import load_data
from mlp_studio.core.image_folder import read_picture
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model
from own_data_fixtures import write_image_folder
from PIL import Image, ImageDraw
from test_gui_canvas import draw, line
from window_fixtures import open_draw_panel


@pytest.fixture
def photo(tmp_path):
    """A wide RGB picture, bright paper and a dark ring off-centre: a digit's preparation would
    invert it and crop to the ring; a folder's keeps the centred square as it is."""
    img = Image.new("RGB", (60, 40), (230, 220, 200))
    ImageDraw.Draw(img).ellipse([30, 8, 50, 28], outline=(20, 30, 40), width=3)
    path = tmp_path / "ring.png"
    img.save(path)
    return path



def test_an_opened_picture_is_prepared_as_the_folders_were(qtbot, tmp_path, photo):
    folder = write_image_folder(tmp_path / "shapes", per_class=4)
    source = DataSource("images", str(folder), image_size=12)
    state = Experiment()
    data = prepare_dataset(load_data(**source.load_arguments()), state.data_config)
    state.set_data(data)  # the network now takes 144 inputs
    state.set_data_source(source)
    model = build_model(NetworkSpec(144, [LayerSpec(8)], 3))
    state.set_model(model)
    panel = open_draw_panel(qtbot, state)
    with qtbot.waitSignal(panel.imageOpened, timeout=10_000):
        panel.open_image_file(photo)
    expected = read_picture(photo, (12, 12)).astype(np.float32)  # what predict feeds the model
    assert panel.steps.prepared
    np.testing.assert_array_equal(panel.steps.pixels, expected.reshape(-1))
    assert panel.steps.pixels.mean() > 150  # bright paper kept, not inverted
    assert panel.centered_tile.title == "Prepared 12×12" and not panel.cropped_tile.isVisible()
    assert "prepared as the folder's pictures" in panel.source_label.text()
    with torch.no_grad():
        x = data.normalization.apply(torch.from_numpy(expected.reshape(1, -1)))
        want = torch.softmax(model.eval()(x), 1)[0].numpy()
    np.testing.assert_allclose(panel.prediction.probabilities, want, rtol=1e-5, atol=1e-6)

    draw(qtbot, panel.canvas, line(0, 0.5))  # drawn over: a drawing again, prepared as one
    assert not panel.steps.prepared and panel.cropped_tile.isVisible()
    assert panel.centered_tile.title == "Centred 12×12"
    panel.canvas.undo()
    assert panel.steps.prepared


def test_a_digit_network_still_prepares_the_picture_as_a_digit(qtbot, photo):
    state = Experiment()
    state.set_model(build_model(NetworkSpec(784, [LayerSpec(8)], 10)))
    panel = open_draw_panel(qtbot, state)
    with qtbot.waitSignal(panel.imageOpened, timeout=10_000):
        panel.open_image_file(photo)
    assert not panel.steps.prepared and panel.steps.centered.shape == (28, 28)
    assert panel.steps.pixels.mean() < 60  # inverted: white ink on black, as MNIST


def test_a_test_image_of_the_folder_is_the_networks_input_as_it_is(qtbot, tmp_path):
    folder = write_image_folder(tmp_path / "shapes", per_class=6)
    source = DataSource("images", str(folder), image_size=12)
    state = Experiment()
    data = prepare_dataset(load_data(**source.load_arguments()), state.data_config)
    state.set_data(data)
    state.set_data_source(source)
    state.set_model(build_model(NetworkSpec(144, [LayerSpec(8)], 3)))
    panel = open_draw_panel(qtbot, state)
    panel.pick_test_image(0)
    assert panel.steps.prepared and panel.true_label() == int(data.y_test[0])
    np.testing.assert_array_equal(panel.steps.pixels, data.raw_test[0].reshape(-1))
    assert "as the network sees it" in panel.source_label.text()
