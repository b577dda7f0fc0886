"""Issue 13 section 5 through the GUI: hostile files and settings are refused with a message,
the window stays responsive and nothing changes."""

from __future__ import annotations

import os
import threading
import zipfile

import pytest
from idx_fixtures import write_mnist_folder
from mlp_studio.app.files.session_actions import FileActions
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.app.model.training_controller import TrainingController
from mlp_studio.app.panels.playground.playground_panel import PlaygroundPanel
from mlp_studio.core import limits
from mlp_studio.core.data import DataConfig, prepare_mnist
from mlp_studio.core.mnist import load_folder
from mlp_studio.core.model import LayerSpec, NetworkSpec
from mlp_studio.core.session import SESSION_JSON, WEIGHTS
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox, QWidget

DEEP = "[" * 100_000 + "]" * 100_000


@pytest.fixture(scope="module")
def small_mnist(tmp_path_factory):
    return load_folder(write_mnist_folder(tmp_path_factory.mktemp("mnist"), 600, 100))


@pytest.fixture
def warnings_shown(monkeypatch):
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning",
                        staticmethod(lambda parent, title, text, *a, **k: shown.append(text)))
    return shown


def test_import_of_metadata_nested_100000_deep_says_so(qtbot, tmp_path, warnings_shown):
    """Import in the GUI raised RecursionError out of the slot."""
    window = QWidget()
    qtbot.addWidget(window)
    state = Experiment()
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    files = FileActions(window, state, None, settings, tmp_path / "recovery.mlps")
    session = tmp_path / "deep.mlps"
    with zipfile.ZipFile(session, "w") as zf:
        zf.writestr(SESSION_JSON, DEEP)
        zf.writestr(WEIGHTS, b"")
    from safetensors.torch import save_file

    model = tmp_path / "deep.safetensors"
    save_file({}, str(model), metadata={"mlp_studio": DEEP})
    for path in (session, model):
        assert not files.import_file(path)
        assert "levels deep" in warnings_shown[-1]
    assert state.model is None


def test_nesterov_without_momentum_and_too_much_memory_are_reported(qtbot, small_mnist,
                                                                    monkeypatch):
    state = Experiment()
    state.set_data(prepare_mnist(small_mnist, DataConfig()))
    controller = TrainingController(state)
    try:
        config = state.train_config
        config.optimizer, config.momentum = "nesterov", 0.0
        state.set_train_config(config)
        with qtbot.waitSignal(controller.failed, timeout=1000) as blocker:
            assert not controller.start()
        assert "Nesterov needs a momentum above 0" in blocker.args[0]

        config.optimizer, config.momentum, config.batch_size = "adam", 0.9, 20000
        state.set_train_config(config)
        state.replace_spec(NetworkSpec(hidden=[LayerSpec(65536)]))
        monkeypatch.setattr(limits, "available_memory", lambda: 4_000_000_000)
        with qtbot.waitSignal(controller.failed, timeout=1000) as blocker:
            assert not controller.start()
        assert "of memory" in blocker.args[0] and "4.0 GB free" in blocker.args[0]
        assert not controller.running and controller.run_state == "idle"
    finally:
        controller.shutdown()


@pytest.fixture
def playground(qtbot):
    widget = PlaygroundPanel(Experiment())
    qtbot.addWidget(widget)
    return widget


def test_playground_csv_fifo_and_dev_zero_are_refused_without_blocking(playground, tmp_path):
    fifo = tmp_path / "points.csv"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.csv"
    zero.symlink_to("/dev/zero")
    for path, words in ((fifo, "named pipe"), (zero, "device")):
        # If the import blocked, this writer would unblock the FIFO (and the test fail).
        timer = threading.Timer(10, _unblock, (fifo,))
        timer.daemon = True
        timer.start()
        try:
            assert not playground.import_csv(str(path))
        finally:
            timer.cancel()
        assert words in playground.message.text()


def _unblock(fifo) -> None:
    with open(fifo, "w") as f:
        f.write("0,0,0\n")


def test_playground_csv_value_1e39_is_refused_with_its_line(playground, tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("0,0,0\n1,1e39,1\n")
    assert not playground.import_csv(str(path))
    assert "points.csv line 2: x2 '1e39' is too large" in playground.message.text()
    assert playground.mode != "csv"
