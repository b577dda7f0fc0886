"""The Data dock's sources beyond MNIST: an image folder (size, colour), how a bad folder is
reported while the previous data stays, and a session's data source loading again. Fixtures
are written by the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from idx_fixtures import write_mnist_folder
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.app.panels.data.data_panel import DataPanel
from mlp_studio.core.data_source import DataSource
from own_data_fixtures import SHAPES, write_houses, write_image_folder
from PIL import Image
from PySide6.QtCore import Qt

TIMEOUT = 30_000


@pytest.fixture
def panel(qtbot):
    state = Experiment()
    widget = DataPanel(state, autoload=False)
    qtbot.addWidget(widget)
    widget.resize(420, 900)
    widget.show()
    yield widget
    widget.shutdown()


def settle(qtbot, panel: DataPanel, check) -> None:
    qtbot.waitUntil(
        lambda: not panel.is_busy() and panel.state.data is not None and check(panel.state.data),
        timeout=TIMEOUT,
    )


def test_an_image_folder_trains_at_the_chosen_size_and_colour(qtbot, panel, tmp_path):
    folder = write_image_folder(tmp_path / "shapes")
    state, chooser = panel.state, panel.chooser
    chooser.kind_combo.setCurrentIndex(chooser.kind_combo.findData("images"))
    assert chooser.images_box.isVisible() and not panel.family_buttons.isVisible()
    chooser.set_images_folder(str(folder))
    settle(qtbot, panel, lambda d: d.input_shape == (28, 28))
    data = state.data
    assert data.class_names == list(SHAPES) and data.raw_train.shape[1:] == (28, 28)
    assert (state.spec.input_size, state.spec.output_size) == (784, 3)
    assert state.data_source == DataSource("images", str(folder))
    assert "shapes" in panel.source_label.text() and "3 classes" in panel.source_label.text()
    assert panel.gallery.grid.labels()[0] in SHAPES  # the gallery shows the folder's images
    assert [s.toolTip() for s in panel.keep_sliders.sliders][2].endswith("class line to keep")
    assert panel.task_combo.itemText(1) == "Is it circle? (yes / no)"
    assert not panel.official_radio.isEnabled()  # no official test set: split by percentages
    assert state.data_config.split.mode == "pooled"

    chooser.size_spin.setValue(8)
    chooser.color_combo.setCurrentIndex(1)
    settle(qtbot, panel, lambda d: d.input_shape == (8, 8, 3))
    assert state.spec.input_size == 8 * 8 * 3
    assert state.data_source == DataSource("images", str(folder), image_size=8, color=True)
    assert state.data.raw_train.shape[1:] == (8, 8, 3)
    assert state.source_name() == "image folder shapes (8×8 RGB)"
    assert panel.source_combo.currentText() == "image folder shapes (8×8 RGB)"


def test_a_bad_folder_says_why_and_the_previous_data_stays(qtbot, panel, tmp_path):
    mnist = write_mnist_folder(tmp_path / "mnist", n_train=300, n_test=50)
    with qtbot.waitSignal(panel.state.dataChanged, timeout=TIMEOUT):
        panel.load_folder(mnist)
    before = panel.state.data
    lonely = tmp_path / "one class"
    (lonely / "cats").mkdir(parents=True)
    Image.new("L", (10, 10)).save(lonely / "cats" / "a.png")
    chooser = panel.chooser
    chooser.kind_combo.setCurrentIndex(chooser.kind_combo.findData("images"))
    chooser.set_images_folder(str(lonely))
    qtbot.waitUntil(lambda: not panel.is_busy() and bool(panel.banner.text()), timeout=TIMEOUT)
    assert "one class subfolder" in panel.banner.text()
    assert "Still using MNIST" in panel.banner.text()
    assert panel.state.data is before and panel.state.data_source.kind == "mnist"


def test_a_sessions_data_source_is_loaded_again(qtbot, panel, tmp_path):
    folder = write_image_folder(tmp_path / "shapes")
    source = DataSource("images", str(folder), image_size=12)
    panel.state.set_data_source(source)  # as an opened session does
    settle(qtbot, panel, lambda d: d.input_shape == (12, 12))
    assert panel.chooser.current() == source and panel.chooser.size_spin.value() == 12


def choose_table(panel: DataPanel, path: Path) -> None:
    chooser = panel.chooser
    chooser.kind_combo.setCurrentIndex(chooser.kind_combo.findData("table"))
    chooser.set_table_file(str(path))


def test_a_table_is_previewed_and_trains_as_a_regression(qtbot, panel, tmp_path):
    path = write_houses(tmp_path / "houses.csv")
    state = panel.state
    choose_table(panel, path)
    settle(qtbot, panel, lambda d: d.task == "regression")
    data = state.data
    assert data.input_shape == (data.x_train.shape[1],) and state.spec.output_size == 1
    assert state.train_config.loss == "mse"  # a regression loss, said in the status bar
    assert state.data_source == DataSource("table", str(path), target="price")
    # The preview: the first rows, types, missing counts, the target highlighted.
    view = panel.table_preview
    assert view.isVisible() and panel.table_caption.isVisible()
    model = view.model()
    header = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(4)]
    assert header == ["rooms", "city", "age", "price (target)"]
    assert model.index(0, 1).data() == "category" and model.index(1, 0).data() == "1 missing"
    assert "80 rows" in panel.table_caption.text()
    assert panel.chooser.columns() == ["rooms", "city", "age", "price"]
    assert panel.chooser.target_combo.currentText() == "price"
    assert "median" in panel.notes_label.text() and panel.notes_label.isVisible()  # notes
    assert not panel.sections["task"].isVisible() and not panel.sections["balance"].isVisible()
    assert not panel.sections["samples"].isVisible()  # no images in a table
    assert state.feature_names and "age" in " ".join(state.feature_names)
    assert "rows" in panel.split_counts.text() and panel.subset_unit.text() == "rows"

    # Another target: the city, a classification of three classes.
    panel.chooser.target_combo.setCurrentIndex(1)
    settle(qtbot, panel, lambda d: d.task == "classification")
    assert state.data.class_names == sorted(["Oslo", "Bergen", "Tromsø"])
    assert state.spec.output_size == 3 and state.train_config.loss != "mse"
    assert model.headerData(1, Qt.Orientation.Horizontal) == "city (target)"
    assert panel.sections["task"].isVisible()


def test_a_bad_table_says_why_and_keeps_the_data(qtbot, panel, tmp_path):
    good = write_houses(tmp_path / "houses.csv")
    choose_table(panel, good)
    settle(qtbot, panel, lambda d: d.task == "regression")
    before = panel.state.data
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b,c\n1,2,3\n4,5\n", encoding="utf-8")
    panel.chooser.set_table_file(str(ragged))
    qtbot.waitUntil(lambda: not panel.is_busy() and "ragged.csv" in panel.banner.text(),
                    timeout=TIMEOUT)
    assert "line 3" in panel.banner.text() and "Still using houses.csv" in panel.banner.text()
    assert panel.state.data is before


def test_mistakes_of_colour_pictures_show_their_thumbnails(qtbot):
    from mlp_studio.app.dialogs.mistakes_dialog import thumbnail

    rgb = np.zeros((6, 6, 3), np.uint8)
    rgb[..., 0] = 200  # red
    image = thumbnail(rgb, 12).toImage()
    assert image.width() == 12 and image.pixelColor(3, 3).red() == 200
    assert image.pixelColor(3, 3).green() == 0
    assert thumbnail(np.full((6, 6), 90, np.uint8), 12).toImage().pixelColor(1, 1).red() == 90


def test_a_table_models_session_and_export_keep_the_source_and_the_schema(qtbot, panel, tmp_path):
    """A session of a table model remembers the table (and reopens it); its export encodes
    CSV rows as in training (the table's schema)."""
    from mlp_studio.app.files.session_actions import FileActions
    from mlp_studio.core.session import load_session, save_session
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QWidget

    path = write_houses(tmp_path / "houses.csv")
    choose_table(panel, path)
    settle(qtbot, panel, lambda d: d.task == "regression")
    state = panel.state
    state.ensure_model()
    window = QWidget()
    qtbot.addWidget(window)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    actions = FileActions(window, state, None, settings, tmp_path / "recovery.mlps")
    saved = load_session(save_session(actions.collect_session(), tmp_path / "houses.mlps"))
    assert saved.data == DataSource("table", str(path), target="price")
    assert saved.table is not None and saved.table.target == "price"
    bundle = actions.current_bundle()
    assert bundle.task == "regression" and bundle.table is not None
    assert bundle.table.feature_names == state.feature_names
