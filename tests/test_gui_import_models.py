"""File > Import model with Keras and ONNX files: the range question, refusals, a normal model."""

import os
import warnings

import numpy as np
import pytest
import torch
from mlp_studio.app.files.session_actions import FileActions
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.core.keras_export import export_keras
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox, QWidget

os.environ.setdefault("KERAS_BACKEND", "torch")


@pytest.fixture
def files(qtbot, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "warning",
                        staticmethod(lambda parent, title, text, *a: shown.append(text)))
    window = QWidget()
    qtbot.addWidget(window)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    actions = FileActions(window, Experiment(), None, settings, tmp_path / "recovery.mlps")
    actions.shown = shown
    return actions


def torch_onnx(path, seq):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(seq.eval(), (torch.zeros(2, 784),), path, dynamo=False,
                          dynamic_axes={"input": {0: "batch"}}, input_names=["input"])
    return path


def test_an_onnx_mlp_asks_the_input_range_then_becomes_the_model(files, tmp_path, monkeypatch):
    seq = torch.nn.Sequential(torch.nn.Linear(784, 20), torch.nn.Tanh(), torch.nn.Linear(20, 10))
    path = torch_onnx(tmp_path / "mlp.onnx", seq)
    asked = []
    monkeypatch.setattr(files, "ask_input_range", lambda p: asked.append(p) or "unit")
    assert files.import_file(path)
    assert asked == [path] and files.shown == []
    state = files.state
    assert [h.units for h in state.spec.hidden] == [20]
    assert state.data_config.normalization == "unit"
    x = torch.rand(5, 784)
    with torch.no_grad():
        np.testing.assert_allclose(state.model(x).numpy(), seq(x).numpy(), atol=1e-5)


def test_cancelling_the_question_changes_nothing(files, tmp_path, monkeypatch):
    seq = torch.nn.Sequential(torch.nn.Linear(784, 10))
    path = torch_onnx(tmp_path / "linear.onnx", seq)
    monkeypatch.setattr(files, "ask_input_range", lambda p: None)
    model_before = files.state.model
    assert not files.import_file(path)
    assert files.state.model is model_before and files.shown == []


def test_the_question_offers_raw_and_unit(files, tmp_path, qtbot, monkeypatch):
    def answer(box):
        buttons = {b.text(): b for b in box.buttons()}
        assert {"Raw pixels 0–255", "Pixels scaled to 0–1"} <= set(buttons)
        box.clickedButton = lambda: buttons["Raw pixels 0–255"]
        return 0

    monkeypatch.setattr(QMessageBox, "exec", answer)
    assert files.ask_input_range(tmp_path / "m.onnx") == "raw"


def test_a_keras_export_imports_without_a_question(files, tmp_path, monkeypatch):
    from mlp_studio.core.data import Normalization
    from mlp_studio.core.export import ModelBundle
    from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model

    spec = NetworkSpec(784, [LayerSpec(16)], 10)
    normalization = Normalization("symmetric", np.full(784, 127.5), np.full(784, 127.5))
    bundle = ModelBundle(spec, normalization, "cross-entropy", [str(d) for d in range(10)],
                         build_model(spec).state_dict())
    path = export_keras(bundle, tmp_path / "m.keras")
    monkeypatch.setattr(files, "ask_input_range", lambda p: pytest.fail("asked"))
    assert files.import_file(path)
    assert files.state.spec == spec and files.state.data_config.normalization == "symmetric"


def test_a_convolution_is_refused_by_name(files, tmp_path):
    seq = torch.nn.Sequential(torch.nn.Unflatten(1, (1, 28, 28)), torch.nn.Conv2d(1, 1, 3),
                              torch.nn.Flatten(), torch.nn.Linear(676, 10))
    path = torch_onnx(tmp_path / "conv.onnx", seq)
    assert not files.import_file(path, input_range="raw")
    assert len(files.shown) == 1
    assert "its node '/0/Shape' (Shape) is not part of an MLP" in files.shown[0]
