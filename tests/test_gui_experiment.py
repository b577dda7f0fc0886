"""Every panel shows the same experiment: an opened or recovered session brings its history
back, fresh weights clear the last run's readouts, and the readouts tell the truth."""

from __future__ import annotations

import numpy as np
import pytest
from mlp_studio.core.data import DataConfig, prepare_mnist
from mlp_studio.core.model import LayerSpec, NetworkSpec
from test_gui_main import configure, make_window, no_modal_questions, small_mnist  # noqa: F401


@pytest.fixture
def trained(qtbot, monkeypatch, small_mnist, tmp_path):  # noqa: F811
    """A window whose small network has trained 2 epochs, saved as a session."""
    monkeypatch.delenv("MLP_STUDIO_DATA", raising=False)
    window = make_window(qtbot, tmp_path / "recovery.mlps")
    window.state.set_data(prepare_mnist(small_mnist, DataConfig()))
    window.state.replace_spec(NetworkSpec(hidden=[LayerSpec(16)]))
    configure(window.state, epochs=2, batch_size=32)
    with qtbot.waitSignal(window.controller.finished, timeout=60_000):
        window.train_action.trigger()
    path = tmp_path / "two-epochs.mlps"
    assert window.file_actions.save_to(path, wait=True)
    yield window, path
    window.close()


def shown(window) -> dict:
    """What the training views and the status bar show of the current weights."""
    training = window.panels["training"]
    training.flush()
    curves, grads, confusion = training.curves, training.gradients, training.confusion
    result = confusion.current()
    return {
        "batch points": len(curves.batches),
        "epoch points": len(curves.epochs),
        "gradient points": 0 if grads.grads is None else len(grads.grads),
        "confusion": None if result is None else result.metrics.confusion.sum(),
        "weights": training.weights.image.image is not None,
        "status": training.status.text(),
        "progress": window.progress_bar.format(),
    }


def test_an_opened_session_shows_its_history(qtbot, trained):
    window, path = trained
    before = shown(window)
    assert before["epoch points"] == 2 and before["batch points"] > 0
    assert window.file_actions.new_session()
    cleared = shown(window)
    assert cleared["epoch points"] == 0 and cleared["batch points"] == 0
    assert cleared["progress"] == "Not trained yet"

    assert window.file_actions.open_file(path, ask=False)
    after = shown(window)
    assert after["epoch points"] == 2
    assert after["batch points"] == before["batch points"]
    assert after["gradient points"] > 0
    assert after["confusion"] == len(window.state.data.y_val)  # the last epoch's validation
    assert after["weights"]
    assert "Trained</b> 2 epochs" in after["status"]
    assert after["progress"] == "2 epochs trained"


def test_a_recovered_session_is_its_file_again(qtbot, trained, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    window, path = trained
    configure(window.state, lr=0.002)  # an unsaved change, autosaved
    window.file_actions.save_recovery()
    window.file_actions.wait_for_saves()
    recovery = window.file_actions.recovery_path
    copy = recovery.with_name("kept.mlps")
    copy.write_bytes(recovery.read_bytes())

    other = make_window(qtbot, copy)
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *args, **kwargs: QMessageBox.StandardButton.Yes)  # fmt: skip
    assert other.file_actions.offer_recovery()
    assert other.windowTitle().startswith("two-epochs.mlps")
    assert other.isWindowModified()  # restored, not saved
    assert other.file_actions.path == str(path)
    assert shown(other)["epoch points"] == 2
    other.close()


def test_reset_weights_clears_the_last_run(qtbot, trained):
    window, _ = trained
    assert "Finished" in window.status_label.text()
    window.reset_action.trigger()
    after = shown(window)
    assert after["epoch points"] == 0 and after["batch points"] == 0
    assert after["confusion"] is None
    assert after["progress"] == "Not trained yet"
    assert "Finished" not in window.status_label.text()
    assert "Finished" not in after["status"] and "Test accuracy" not in after["status"]


def test_the_best_epoch_is_named_only_when_its_weights_are_kept(qtbot, trained):
    window, _ = trained
    # restore_best is on, by the default criterion: which epoch and why
    assert "the highest validation accuracy" in window.status_label.text()
    configure(window.state, epochs=1, restore_best=False)
    with qtbot.waitSignal(window.controller.finished, timeout=60_000):
        window.train_action.trigger()
    assert "Finished" in window.status_label.text()
    assert "with the weights of the last epoch" in window.status_label.text()
    assert "validation accuracy" not in window.status_label.text()
    assert "best epoch" not in window.panels["training"].confusion.current().note


def test_no_speed_while_paused_and_one_speed_everywhere(qtbot, trained):
    window, _ = trained
    configure(window.state, epochs=10_000, batch_size=8)
    with qtbot.waitSignal(window.controller.progress, timeout=30_000):
        window.train_action.trigger()
    qtbot.waitUntil(lambda: window.rate_label.text() != "", timeout=10_000)
    training = window.panels["training"]
    training.flush()
    assert window.rate_label.text() in training.status.text()  # the same figure
    with qtbot.waitSignal(window.controller.stateChanged, timeout=5_000):
        window.pause_action.trigger()
    assert window.controller.run_state == "paused"
    assert window.rate_label.text() == ""
    training.flush()
    assert "samples/s" not in training.status.text()  # the header agrees
    with qtbot.waitSignal(window.controller.progress, timeout=5_000):
        window.step_action.trigger()  # a step while paused has no speed either
    assert window.rate_label.text() == ""
    assert np.isfinite(window.state.rate) and window.state.rate == 0
    with qtbot.waitSignal(window.controller.finished, timeout=10_000):
        window.stop_action.trigger()


def test_the_data_source_is_explicit_and_mnist_after_the_playground_is_not_its_settings(
        qtbot, monkeypatch, tmp_path, small_mnist):  # noqa: F811
    """A first launch without MNIST trains on the playground; choosing MNIST afterwards
    leaves neither the playground's run nor its settings behind unasked."""
    from idx_fixtures import write_mnist_folder
    from mlp_studio.app.widgets.suggestion_bar import SuggestionBar

    monkeypatch.delenv("MLP_STUDIO_DATA", raising=False)
    monkeypatch.setattr("mlp_studio.core.mnist.default_cache_dir", lambda: tmp_path / "none")
    from mlp_studio.app.main_window import MainWindow
    from PySide6.QtCore import QSettings

    window = MainWindow(QSettings(), autoload_data=True, recovery_path=tmp_path / "r.mlps")
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.engineLoaded, timeout=60_000):
        window.load_engine()
    state, data_panel = window.state, window.panels["dataset"]
    assert state.source == "playground"
    assert data_panel.source_combo.currentData() == "playground"
    draw = window.panels["canvas"]
    assert draw.pages.currentWidget() is draw.not_drawable_page  # says why, no dead canvas
    assert "Playground points" in draw.not_drawable.text()
    playground = window.panels["playground"]
    playground.findChild(SuggestionBar).button.click()
    playground.select_dataset("xor")
    configure(state, epochs=3)
    with qtbot.waitSignal(window.controller.finished, timeout=60_000):
        window.train_action.trigger()
    assert "test accuracy" in window.status_label.text()

    window.docks["dataset"].raise_()  # looking at the Data panel changes nothing
    assert state.source == "playground" and state.data is playground.playground.data
    with qtbot.waitSignal(data_panel.statusMessage, timeout=30_000):
        data_panel.load_folder(str(write_mnist_folder(tmp_path / "mnist", 600, 100)))
    qtbot.waitUntil(lambda: data_panel._current is not None, timeout=30_000)
    assert state.data is playground.playground.data  # prepared, not yet what trains
    data_panel.source_combo.setCurrentIndex(data_panel.source_combo.findData("mnist"))
    assert state.source == "mnist" and state.data.x_train.shape[1] == 784
    assert state.spec.input_size == 784 and state.model is None  # fitted, fresh weights
    assert "Edit > Undo" in window.message_text()
    assert "test accuracy" not in window.status_label.text()
    assert window.progress_bar.format() == "Not trained yet"
    assert data_panel.suggestion.isVisible()  # MNIST's settings offered, not forced
    assert state.train_config.lr == 0.03
    data_panel.suggestion.button.click()
    assert state.train_config.lr == 1e-3 and state.spec.hidden == NetworkSpec().hidden
    assert draw.test_button.isEnabled() and draw.message.text() == ""
    window.close()


def test_a_session_from_train_save_session_opens_with_its_history(qtbot, monkeypatch, tmp_path):
    from idx_fixtures import write_mnist_folder
    from mlp_studio.core.cli import main as cli_main

    folder = write_mnist_folder(tmp_path / "mnist", 600, 100)
    path = tmp_path / "headless.mlps"
    assert cli_main(["train", "--data", str(folder), "--hidden", "16", "--epochs", "2",
                     "--save-session", str(path), "--quiet"]) == 0
    monkeypatch.delenv("MLP_STUDIO_DATA", raising=False)
    window = make_window(qtbot, tmp_path / "recovery.mlps")
    assert window.file_actions.open_file(path, ask=False)
    after = shown(window)
    assert after["epoch points"] == 2 and after["batch points"] > 0
    assert after["gradient points"] > 0 and after["weights"]
    assert "Trained</b> 2 epochs" in after["status"]
    assert after["progress"] == "2 epochs trained"
    # The Data panel loads the MNIST the session trained on; the confusion matrix is there.
    qtbot.waitUntil(lambda: window.state.data is not None, timeout=30_000)
    assert shown(window)["confusion"] == len(window.state.data.y_val)
    window.close()
