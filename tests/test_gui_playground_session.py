"""Sessions keep the playground's data: save while XOR is active, open elsewhere, same points."""

import json
import zipfile

import numpy as np
import pytest
import torch
from mlp_studio.app.files.session_actions import FileActions
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.app.panels.playground.playground_panel import PlaygroundPanel
from mlp_studio.core.errors import SessionError
from mlp_studio.core.export import export_onnx, load_predictor, verification_pixels
from mlp_studio.core.model import build_model
from mlp_studio.core.playground_settings import PlaygroundSettings
from mlp_studio.core.session import SESSION_JSON, load_session, save_session
from mlp_studio.core.training import Trainer
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox, QWidget


@pytest.fixture
def boxes(monkeypatch):
    shown = []

    def show(parent, title, text, *args, **kwargs):
        shown.append((title, text))
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "warning", staticmethod(show))
    return shown


def studio(qtbot, tmp_path, name: str):
    """A fresh state training on the playground, with its panel and file actions, as the main
    window wires them."""
    state = Experiment()
    state.set_source("playground")
    window = QWidget()
    qtbot.addWidget(window)
    panel = PlaygroundPanel(state)
    qtbot.addWidget(panel)
    settings = QSettings(str(tmp_path / f"{name}.ini"), QSettings.Format.IniFormat)
    files = FileActions(window, state, None, settings, tmp_path / f"{name}-recovery.mlps")
    return state, panel, files


def train(state, epochs=2):
    config = state.train_config  # the loss the playground chose for its task
    config.epochs, config.batch_size, config.lr = epochs, 10, 0.03
    state.set_train_config(config)
    model = build_model(state.spec)
    Trainer(model, state.data, state.train_config).run()
    state.set_model(model)


def test_xor_session_restores_the_same_points(qtbot, tmp_path, boxes):
    state, panel, files = studio(qtbot, tmp_path, "a")
    panel.select_dataset("xor")
    panel.noise_slider.setValue(20)
    panel.set_features(("x1", "x2", "x1*x2"))
    panel.regenerate()  # seed 1: not the default points
    assert panel.active and state.data.x_train.shape[1] == 3
    train(state)
    path = save_session(files.collect_session(), tmp_path / "xor.mlps")
    with zipfile.ZipFile(path) as zf:
        saved = json.loads(zf.read(SESSION_JSON))["playground"]
    assert saved["dataset"] == "xor" and saved["noise"] == 20 and saved["seed"] == 1

    other, other_panel, opened = studio(qtbot, tmp_path, "b")
    assert other.data is None
    assert opened.open_file(path, ask=False)
    assert boxes == []
    assert other_panel.active and other_panel.mode == "dataset" and other_panel.dataset == "xor"
    np.testing.assert_array_equal(other_panel.points.xy, panel.points.xy)
    np.testing.assert_array_equal(other_panel.points.labels, panel.points.labels)
    for split in ("x_train", "y_train", "x_test", "y_test"):
        assert torch.equal(getattr(other.data, split), getattr(state.data, split))
    assert other_panel.feature_names == ("x1", "x2", "x1*x2")
    assert other_panel.feature_boxes["x1*x2"].isChecked()
    # the session's own settings win over the playground defaults applied when publishing
    assert other.train_config == state.train_config
    assert other.spec == state.spec


def test_drawn_points_and_their_splits_come_back(qtbot, tmp_path, boxes):
    state, panel, files = studio(qtbot, tmp_path, "a")
    panel.start_drawing()
    for i, (x, y) in enumerate([(-3, -3), (3, 3), (-3, 3), (3, -3), (0, 1), (1, 0)]):
        panel.add_point(x, y, i % 2)
    assert panel.active
    train(state, epochs=1)
    path = save_session(files.collect_session(), tmp_path / "drawn.mlps")
    other, other_panel, opened = studio(qtbot, tmp_path, "b")
    assert opened.open_file(path, ask=False)
    assert other_panel.mode == "draw"
    assert other_panel.drawn == panel.drawn and other_panel.drawn_train == panel.drawn_train
    assert torch.equal(other.data.x_test, state.data.x_test)


def test_mnist_sessions_have_no_playground_and_bad_settings_are_refused(qtbot, tmp_path, boxes):
    state, panel, files = studio(qtbot, tmp_path, "a")
    state.set_source("mnist")
    assert files.collect_session().playground is None  # the playground's data is not in use
    state.set_source("playground")
    panel.select_dataset("circle")
    session = files.collect_session()
    assert session.playground["dataset"] == "circle"
    session.playground["dataset"] = "moons"
    with pytest.raises(SessionError, match="unknown dataset"):
        PlaygroundSettings.from_dict(session.playground)
    path = save_session(session, tmp_path / "bad.mlps")
    assert load_session(path).playground["dataset"] == "moons"  # core keeps it as it is
    other, other_panel, opened = studio(qtbot, tmp_path, "b")
    assert not opened.open_file(path, ask=False)
    assert boxes and "playground settings are invalid" in boxes[0][1]
    assert other.data is None and other_panel.dataset == "circle"


def test_a_surface_exports_and_saves_its_raw_values(qtbot, tmp_path, boxes):
    state, panel, files = studio(qtbot, tmp_path, "a")
    panel.select_dataset("plane")
    assert state.data.task == "regression"
    train(state, epochs=1)
    bundle = files.current_bundle()
    assert bundle.task == "regression"
    with torch.no_grad():
        expected = state.model.eval()(state.data.x_test).numpy()
    raw = verification_pixels(state.data)
    path = save_session(files.collect_session(), tmp_path / "plane.mlps")
    for model_file in (export_onnx(bundle, tmp_path / "plane.onnx"), path):
        found = load_predictor(model_file).predict(raw)
        assert found.shape == (len(raw), 1)
        assert abs(found - expected).max() < 1e-4


def test_export_dialog_of_a_surface_speaks_of_values_and_features(qtbot, tmp_path, boxes):
    state, panel, files = studio(qtbot, tmp_path, "a")
    panel.select_dataset("plane")
    panel.set_features(("x1", "x2", "x1*x2"))
    train(state, epochs=1)
    dialog = files.export_model()
    qtbot.addWidget(dialog)
    intro = dialog.intro.text()
    assert "one predicted value per point" in intro and "not a probability" in intro
    assert "x1, x2, x1*x2" in intro
    assert "class probabilities" not in intro and "pixels" not in intro
    assert "test points" in dialog.status_text()
    snippet = dialog.snippet.toPlainText()
    assert "print(values[:, 0])" in snippet and "argmax" not in snippet
    assert "columns x1, x2, x1*x2" in snippet and "pixels = " not in snippet
    dialog.set_path(tmp_path / "surface.onnx")
    with qtbot.waitSignal(dialog.finished_job, timeout=60_000) as blocker:
        assert dialog.start_export()
    assert blocker.args == [True]
    assert f"Verified on {len(dialog.pixels):,} test points" in dialog.status_text()
    # The mismatch message, too, speaks of values.
    dialog._on_done((tmp_path / "surface.onnx", 1.0))
    assert "its predicted values differ" in dialog.status_text()


def test_export_dialog_of_a_playground_classifier_takes_features(qtbot, tmp_path, boxes):
    state, panel, files = studio(qtbot, tmp_path, "a")
    panel.select_dataset("circle")
    train(state, epochs=1)
    dialog = files.export_model()
    qtbot.addWidget(dialog)
    intro = dialog.intro.text()
    assert "2 class probabilities per point" in intro and "x1, x2" in intro
    assert "pixels" not in intro and "MNIST" not in intro
    assert "pixels = " not in dialog.snippet.toPlainText()


def test_playground_changes_modify_an_opened_session(qtbot, tmp_path, boxes, monkeypatch):
    state, panel, files = studio(qtbot, tmp_path, "a")
    panel.select_dataset("plane")
    assert files.dirty  # choosing the data changed the session
    train(state, epochs=1)
    path = tmp_path / "plane.mlps"
    assert files.save_to(path, wait=True)
    assert not files.dirty

    other, other_panel, opened = studio(qtbot, tmp_path, "b")
    assert opened.open_file(path, ask=False)
    assert not opened.dirty  # restoring the playground's settings is no change
    other_panel.activate()  # Train on these points
    assert not opened.dirty
    with qtbot.waitSignal(opened.dirtyChanged) as changed:
        other_panel.noise_slider.setValue(30)
    assert changed.args == [True] and opened.dirty
    assert opened.collect_session().playground["noise"] == 30

    asked = []

    def question(*args, **kwargs):
        asked.append(args[1])
        return QMessageBox.StandardButton.Cancel

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    assert not opened.maybe_save()  # closing or opening another session asks first
    assert asked == ["Save the session?"]

    # Every saved setting counts: features, points, the class count, drawn points.
    for change in (
        lambda: other_panel.set_features(("x1",)),
        lambda: other_panel.points_spin.setValue(other_panel.points_spin.value() + 10),
        lambda: other_panel.classes_spin.setValue(4),
        other_panel.regenerate,
        other_panel.start_drawing,
        lambda: other_panel.add_point(1.0, 2.0, 0),
    ):
        assert opened.save_to(path, wait=True) and not opened.dirty
        change()
        assert opened.dirty
