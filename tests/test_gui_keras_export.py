"""The export dialog's Keras formats: .keras checked with Keras (or said how to check), and the
Keras script of the experiment."""

import math
import os
from types import SimpleNamespace

import pytest
from idx_fixtures import write_mnist_folder
from mlp_studio.app.dialogs import export_formats
from mlp_studio.app.files.session_actions import FileActions
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.core.data import DataConfig, SplitConfig, prepare_mnist
from mlp_studio.core.mnist import load_folder
from mlp_studio.core.model import LayerSpec, build_model, parameter_count
from mlp_studio.core.training import TrainConfig, Trainer
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QWidget

os.environ.setdefault("KERAS_BACKEND", "torch")
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
TIMEOUT = 60_000


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = write_mnist_folder(tmp_path_factory.mktemp("mnist"), n_train=400, n_test=80)
    config = DataConfig(split=SplitConfig(val_fraction=0.2))
    return SimpleNamespace(folder=folder, config=config,
                           prepared=prepare_mnist(load_folder(folder), config))


def dialog_for(qtbot, data, tmp_path):
    state = Experiment()
    state.set_data_config(data.config)
    state.set_data(data.prepared)
    spec = state.spec
    spec.hidden = [LayerSpec(16)]
    state.replace_spec(spec)
    state.set_train_config(TrainConfig(lr=0.01, epochs=1, batch_size=32))
    model = build_model(state.spec)
    Trainer(model, data.prepared, state.train_config).run()
    state.set_model(model)
    window = QWidget()
    qtbot.addWidget(window)
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    files = FileActions(window, state, None, settings, tmp_path / "recovery.mlps")
    state.set_data_location(str(data.folder))  # where the Data panel loaded it from
    dialog = files.export_model()
    qtbot.addWidget(dialog)
    return dialog, state


def export(qtbot, dialog, key, path):
    dialog.set_format(key)
    dialog.set_path(path)
    with qtbot.waitSignal(dialog.finished_job, timeout=TIMEOUT) as blocker:
        assert dialog.start_export()
    return blocker.args[0]


def test_keras_is_checked_with_keras(qtbot, data, tmp_path):
    pytest.importorskip("keras")
    dialog, _ = dialog_for(qtbot, data, tmp_path)
    assert export(qtbot, dialog, "keras", tmp_path / "m.keras")
    assert dialog.max_difference < 1e-5
    text = dialog.status_text()
    assert "Verified on 80 test images" in text and "reloaded with Keras" in text
    assert "keras.saving.load_model" in dialog.snippet.toPlainText()


def test_without_keras_the_file_is_written_and_the_dialog_says_how_to_check(
        qtbot, data, tmp_path, monkeypatch):
    from mlp_studio.core import keras_check

    monkeypatch.setattr(keras_check, "keras_installed", lambda: False)
    dialog, _ = dialog_for(qtbot, data, tmp_path)
    emitted = []
    dialog.exported.connect(lambda path, diff: emitted.append(diff))
    assert export(qtbot, dialog, "keras", tmp_path / "m.keras")
    assert (tmp_path / "m.keras").is_file() and dialog.max_difference is None
    text = dialog.status_text()
    assert "not checked: Keras is not installed" in text and "pip install" in text
    assert len(emitted) == 1 and math.isnan(emitted[0])


def test_the_keras_script_of_the_experiment(qtbot, data, tmp_path):
    dialog, state = dialog_for(qtbot, data, tmp_path)
    assert export(qtbot, dialog, "keras_script", tmp_path / "train.py")
    text = (tmp_path / "train.py").read_text()
    compile(text, "train.py", "exec")
    assert repr(str(data.folder)) in text  # loads the data from where the app did
    assert "learning_rate=0.01" in text and "BATCH_SIZE, EPOCHS = 10, 32" in text
    status = dialog.status_text()
    assert f"({parameter_count(state.spec):,} trainable parameters)" in status
    assert "python" in dialog.snippet.toPlainText()


def test_the_script_is_not_offered_for_a_playground_model(qtbot):
    import numpy as np
    from mlp_studio.app.dialogs.export_dialog import ExportDialog
    from mlp_studio.core.data import Normalization
    from mlp_studio.core.export import ModelBundle
    from mlp_studio.core.model import NetworkSpec

    spec = NetworkSpec(2, [LayerSpec(4)], 2)
    bundle = ModelBundle(spec, Normalization("none", np.zeros(2), np.ones(2)), "cross-entropy",
                         ["a", "b"], build_model(spec).state_dict(), feature_names=["x1", "x2"])
    dialog = ExportDialog(bundle, np.zeros((4, 2), np.float32), script=lambda path: path)
    qtbot.addWidget(dialog)
    index = [f.key for f in export_formats.FORMATS].index("keras_script")
    assert not dialog.format_buttons.button(index).isEnabled()
