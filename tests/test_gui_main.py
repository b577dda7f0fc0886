"""The main window: docks, menus, toolbar states, training through the UI, messages, closing."""

from __future__ import annotations

import multiprocessing
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from idx_fixtures import write_mnist_folder
from mlp_studio.app import main as app_main
from mlp_studio.app.dialogs.help_dialog import load_topics
from mlp_studio.app.main_window import MainWindow
from mlp_studio.core.activations import ActivationSpec
from mlp_studio.core.data import DataConfig, prepare_mnist
from mlp_studio.core.export import export_safetensors
from mlp_studio.core.losses import canonical_loss, loss_function
from mlp_studio.core.metrics import evaluate
from mlp_studio.core.mnist import load_folder
from mlp_studio.core.model import LayerSpec, NetworkSpec
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QDockWidget, QMessageBox

ANSWER_MS = 10_000  # answered at all; speed is for benches, never asserted (flaky under load)


@pytest.fixture(scope="module")
def small_mnist(tmp_path_factory):
    return load_folder(write_mnist_folder(tmp_path_factory.mktemp("mnist"), 600, 100))


@pytest.fixture(autouse=True)
def no_modal_questions(monkeypatch):
    """Closing with unsaved training asks whether to save: answer Discard, never block."""
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *args, **kwargs: QMessageBox.StandardButton.Discard)  # fmt: skip


def make_window(qtbot, recovery: Path | None = None) -> MainWindow:
    recovery = recovery or Path(tempfile.mkdtemp()) / "recovery.mlps"
    window = MainWindow(QSettings(), autoload_data=False, recovery_path=recovery)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.engineLoaded, timeout=60_000):
        window.load_engine()
    return window


@pytest.fixture
def window(qtbot, monkeypatch):
    monkeypatch.delenv("MLP_STUDIO_DATA", raising=False)
    window = make_window(qtbot)
    yield window
    window.close()
    assert window.controller is None or not window.controller.running


@pytest.fixture
def ready(window, small_mnist):
    """The window with small MNIST-like data set and a small network."""
    window.state.set_data(prepare_mnist(small_mnist, DataConfig()))
    window.state.replace_spec(NetworkSpec(hidden=[LayerSpec(32)]))
    return window


def configure(state, **changes):
    config = state.train_config
    for key, value in changes.items():
        setattr(config, key, value)
    state.set_train_config(config)


def enabled(window) -> dict[str, bool]:
    names = ("train", "pause", "step", "stop", "reset")
    states = {n: getattr(window, f"{n}_action").isEnabled() for n in names}
    if window.file_actions is not None:  # New/Open/Save/Save as/Import (Export needs a model)
        states["files"] = all(a.isEnabled() for a in window.file_actions.actions()[:5])
    return states


def test_frame_needs_no_engine_and_loads_it_later(qtbot, monkeypatch):
    monkeypatch.delenv("MLP_STUDIO_DATA", raising=False)
    window = MainWindow(QSettings(), autoload_data=False)
    qtbot.addWidget(window)
    window.show()
    assert window.state is None and window.status_label.text() == "Loading the engine…"
    assert not any(enabled(window).values())  # nothing to act on yet
    with qtbot.waitSignal(window.engineLoaded, timeout=60_000):
        window.load_engine_after_first_paint()
    assert set(window.docks) == {"dataset", "designer", "training", "playground", "canvas",
                                 "compare", "backprop", "lessons"}
    window.close()


def test_docks_menus_and_view_toggles(window):
    docks = window.findChildren(QDockWidget)
    assert {d.windowTitle() for d in docks} == {"Data", "Network", "Training", "Playground", "Draw",
                                                "Compare", "Backprop", "Lessons"}
    assert all(d.objectName() for d in docks)  # saveState needs object names
    menus = [a.text() for a in window.menuBar().actions() if a.isVisible()]
    assert menus == ["&File", "&Edit", "&Train", "&View", "&Help"]
    assert window.windowTitle() == "Untitled[*] – MLP Studio"
    assert window.undo_action in window.edit_menu.actions()

    for key, dock in window.docks.items():
        toggle = dock.toggleViewAction()
        assert toggle in window.view_menu.actions(), key
        assert dock.isVisible() and toggle.isChecked()
        toggle.trigger()
        assert not dock.isVisible()
        toggle.trigger()
        assert dock.isVisible()

    window.docks["training"].close()
    window.docks["designer"].setFloating(True)
    window.reset_layout_action.trigger()
    assert all(d.isVisible() and not d.isFloating() for d in window.docks.values())


def test_toolbar_shortcuts_and_tooltips(window):
    assert window.train_action.shortcut().toString() == "Ctrl+Return"
    for action, key in ((window.pause_action, "F6"), (window.step_action, "F7"),
                        (window.stop_action, "F8")):  # fmt: skip
        assert action.shortcut().toString() == key
        assert key in action.toolTip()
    assert [a for a in window.toolbar.actions() if not a.isSeparator()] == \
        window.training_actions  # fmt: skip


def test_toolbar_states_idle_training_paused(qtbot, ready):
    window = ready
    idle = enabled(window)
    assert idle == {"train": True, "pause": False, "step": True, "stop": False, "reset": True,
                    "files": True}  # fmt: skip
    configure(window.state, epochs=10_000, batch_size=8)
    with qtbot.waitSignal(window.controller.progress, timeout=30_000):
        window.train_action.trigger()
    assert enabled(window) == {"train": False, "pause": True, "step": True, "stop": True,
                               "reset": False, "files": False}  # fmt: skip
    assert not window.undo_action.isEnabled()
    assert not window.file_actions.export_action.isEnabled()
    assert window.status_label.text() == "Training…"

    with qtbot.waitSignal(window.controller.stateChanged, timeout=ANSWER_MS):
        window.pause_action.trigger()
    assert window.controller.run_state == "paused"
    assert window.pause_action.text() == "Resume" and window.status_label.text().startswith(
        "Paused"
    )
    with qtbot.waitSignal(window.controller.stateChanged, timeout=ANSWER_MS):
        window.pause_action.trigger()
    assert window.controller.run_state == "running" and window.pause_action.text() == "Pause"

    with qtbot.waitSignal(window.controller.finished, timeout=ANSWER_MS):
        window.stop_action.trigger()
    assert enabled(window) == idle
    assert "Stopped" in window.status_label.text()


def test_train_one_epoch_through_the_ui(qtbot, ready):
    window = ready
    configure(window.state, epochs=1, batch_size=64)
    with qtbot.waitSignal(window.controller.finished, timeout=60_000) as blocker:
        window.train_action.trigger()
    result = blocker.args[0]

    data, model = window.state.data, window.state.model
    name = canonical_loss(window.state.train_config.loss)
    expected = evaluate(model, data.x_test, data.y_test, loss_function(name, 10), name, 10)
    assert result.test.accuracy == expected.accuracy
    assert result.test.loss == pytest.approx(expected.loss, rel=1e-6)
    np.testing.assert_array_equal(result.test.confusion, expected.confusion)

    assert window.progress_bar.format() == "Epoch 1/1 · batch 9/9"
    assert window.progress_bar.value() == window.progress_bar.maximum()
    assert f"test accuracy {expected.accuracy:.2%}" in window.status_label.text()
    assert window.rate_label.text().endswith("samples/s")
    assert window.device_label.text().startswith("CPU")
    assert enabled(window)["train"]
    assert window.message_text() == ""


def test_impossible_batch_size_shows_the_message(qtbot, ready):
    window = ready
    configure(window.state, batch_size=0)
    window.train_action.trigger()
    assert "Batch size 0 is out of range: it must be a whole number" in window.message_text()
    assert window.statusBar().currentMessage().startswith("Cannot train yet")
    assert not window.controller.running and enabled(window)["train"]


def test_train_pressed_while_new_data_settings_are_prepared_starts_with_their_data(
        qtbot, ready, small_mnist):
    """A lesson (or an undo) sets new data settings, whose preparation takes a moment; Train
    pressed meanwhile trained the old data. Now the run starts when the new data is there."""
    window, state = ready, ready.state
    configure(state, epochs=1, batch_size=64)
    new = DataConfig(normalization="standardize")
    state.set_data_config(new)
    window.train_action.trigger()
    assert not window.controller.running and "training starts as soon" in window.message_text()
    with qtbot.waitSignal(window.controller.finished, timeout=60_000):
        state.set_data(prepare_mnist(small_mnist, new))  # what the Data panel does when ready
    assert state.data.normalization.kind == "standardize" and window.message_text() == ""
    # Other settings than those it waited for: the wait ends, nothing trains by surprise.
    state.set_data_config(DataConfig(normalization="none"))
    window.train_action.trigger()
    state.set_data_config(DataConfig(normalization="unit"))
    assert window.message_text() == "" and not window.waiting_for_data
    state.set_data(prepare_mnist(small_mnist, DataConfig(normalization="unit")))
    assert not window.controller.running


def test_training_without_data_says_what_to_do(window):
    window.train_action.trigger()
    assert "load MNIST in the Data panel" in window.message_text()


def test_divergence_shows_the_message_and_the_app_stays_usable(qtbot, ready, small_mnist):
    window, state = ready, ready.state
    state.set_data(prepare_mnist(small_mnist, DataConfig(normalization="none")))
    state.replace_spec(NetworkSpec(hidden=[LayerSpec(32, ActivationSpec("identity"))] * 2))
    configure(state, optimizer="sgd", lr=10.0, epochs=3, batch_size=32)
    with qtbot.waitSignal(window.controller.finished, timeout=30_000):
        window.train_action.trigger()
    assert "Training diverged at epoch 1" in window.message_text()
    assert "Lower the learning rate" in window.message_text()
    assert window.status_label.text() == "Diverged"
    assert enabled(window)["train"]

    # The user follows the advice: normalized inputs, a lower learning rate, fresh weights.
    state.set_data(prepare_mnist(small_mnist, DataConfig(normalization="unit")))
    configure(state, lr=0.01)
    window.reset_action.trigger()
    with qtbot.waitSignal(window.controller.finished, timeout=30_000) as blocker:
        window.train_action.trigger()
    assert blocker.args[0].diverged is None
    assert window.message_text() == ""  # a new run clears the old message


def test_closing_mid_training_stops_the_worker(qtbot, ready, qtlog):
    window = ready
    configure(window.state, epochs=10_000, batch_size=8)
    with qtbot.waitSignal(window.controller.progress, timeout=30_000):
        window.train_action.trigger()
    assert [p.name for p in multiprocessing.active_children()] == ["mlp-studio-training"]
    window.close()
    assert multiprocessing.active_children() == [] and not window.controller.running
    assert not window.state.training
    assert not [r for r in qtlog.records if "QThread" in r.message]
    assert not multiprocessing.active_children()  # the training process has ended too


def test_reset_weights_draws_new_weights_and_undo_brings_the_seed_back(qtbot, ready):
    window, state = ready, ready.state
    before = state.ensure_model().linears[0].weight.detach().clone()
    seed = state.spec.seed
    window.reset_action.trigger()
    assert state.spec.seed == seed + 1
    after = state.model.linears[0].weight.detach()
    assert not torch.equal(before, after)
    window.undo_action.trigger()
    assert state.spec.seed == seed
    assert torch.equal(state.ensure_model().linears[0].weight.detach(), before)


def test_import_a_model_exported_from_the_app(qtbot, ready, tmp_path):
    window, state = ready, ready.state
    configure(state, epochs=1)
    with qtbot.waitSignal(window.controller.finished, timeout=60_000):
        window.train_action.trigger()
    trained = {k: v.clone() for k, v in state.model.state_dict().items()}
    assert window.file_actions.export_action.isEnabled()
    path = export_safetensors(window.file_actions.current_bundle(), tmp_path / "model.safetensors")

    window.reset_action.trigger()
    spec = state.spec
    spec.hidden = [LayerSpec(8)]
    state.edit_spec(spec, "shrink")
    assert window.file_actions.import_file(path)
    assert state.spec.hidden == [LayerSpec(32)]
    for key, value in state.model.state_dict().items():
        assert torch.equal(value, trained[key]), key
    assert "Imported model.safetensors" in window.statusBar().currentMessage()


def test_geometry_and_layout_are_remembered(qtbot, monkeypatch):
    monkeypatch.delenv("MLP_STUDIO_DATA", raising=False)
    first = make_window(qtbot)
    first.docks["designer"].close()
    first.close()
    # (The offscreen screen is smaller than the window, so restoring clamps the size: compare
    # what was saved rather than the restored size.)
    assert QSettings().value("window/geometry") == first.saveGeometry()
    assert QSettings().value("window/state") is not None

    second = make_window(qtbot)
    assert not second.docks["designer"].isVisible()
    assert second.docks["training"].isVisible()
    second.close()


def test_help_lists_every_concept(qtbot, window):
    titles = [t.title for t in load_topics()]
    for concept in ("Neurons and activations", "Forward propagation", "Loss",
                    "Backpropagation", "Optimizers", "Vanishing", "Normalization", "splits",
                    "Class balance", "Confusion matrix"):  # fmt: skip
        assert any(concept.lower() in t.lower() for t in titles), concept
    window.help_action.trigger()
    dialog = window._help_dialog
    assert dialog.isVisible() and dialog.list.count() == len(titles)
    assert dialog.show_topic("backpropagation")
    assert "chain rule" in dialog.browser.toPlainText()
    assert not dialog.isModal()
    dialog.close()


def test_cli_arguments_are_told_apart_from_qt_options():
    assert app_main.cli_arguments([]) == []
    assert app_main.cli_arguments(["-platform", "offscreen", "-style=fusion", "-reverse"]) == []
    assert app_main.cli_arguments(["--platform", "offscreen"]) == []
    assert app_main.cli_arguments(["train", "--epochs", "1"]) == ["train", "--epochs", "1"]
    assert app_main.cli_arguments(["--help"]) == ["--help"]


def test_main_runs_the_cli_for_subcommands(capsys):
    assert app_main.main(["mlp-studio", "--help"]) == 0
    assert "train" in capsys.readouterr().out
    assert app_main.main(["mlp-studio", "nonsense"]) == 2
    assert "error:" in capsys.readouterr().err


def test_main_window_opens_from_main(qtbot, monkeypatch, tmp_path):
    """main() with no arguments builds the app, shows the frame, loads the engine."""
    import mlp_studio.app.files.session_actions as file_actions

    monkeypatch.delenv("MLP_STUDIO_DATA", raising=False)
    monkeypatch.setattr(file_actions, "default_recovery_path", lambda: tmp_path / "r.mlps")
    windows = []

    def fake_exec():
        window = windows[0]
        qtbot.waitSignal(window.engineLoaded, timeout=60_000).wait()
        panels = {"dataset", "designer", "training", "playground", "canvas", "compare",
                  "backprop", "lessons"}
        assert window.isVisible() and set(window.docks) == panels
        window.close()
        return 0

    real_open = app_main.open_main_window
    monkeypatch.setattr(app_main, "open_main_window", lambda session=None: windows.append(
        real_open(session)) or windows[0])  # fmt: skip
    app = app_main.make_application(["mlp-studio"])
    monkeypatch.setattr(app, "exec", fake_exec)
    assert app_main.main(["mlp-studio"]) == 0
    assert app.style().name().lower() == "fusion"


def test_mlp_studio_file_opens_the_app_on_that_session(qtbot, monkeypatch, tmp_path, capsys,
                                                       small_mnist):
    """`mlp-studio FILE.mlps`: the window opens on the session, with its history."""
    import mlp_studio.app.files.session_actions as file_actions
    from mlp_studio.core.model import build_model
    from mlp_studio.core.session import Session, save_session
    from mlp_studio.core.training import TrainConfig, Trainer

    monkeypatch.delenv("MLP_STUDIO_DATA", raising=False)
    monkeypatch.setattr(file_actions, "default_recovery_path", lambda: tmp_path / "r.mlps")
    assert app_main.main(["mlp-studio", str(tmp_path / "missing.mlps")]) == 2
    assert "no session file" in capsys.readouterr().err

    data = prepare_mnist(small_mnist, DataConfig())
    spec = NetworkSpec(hidden=[LayerSpec(8)])
    model = build_model(spec)
    finished = Trainer(model, data, TrainConfig(epochs=2)).run()
    path = tmp_path / "cli.mlps"
    save_session(Session(spec, model.state_dict(), history=finished.history, epochs_done=2,
                         normalization=data.normalization), path)
    windows = []

    def fake_exec():
        window = windows[0]
        qtbot.waitSignal(window.engineLoaded, timeout=60_000).wait()
        qtbot.waitUntil(lambda: window.file_actions.path == str(path), timeout=10_000)
        assert window.state.epochs_done == 2 and window.state.spec == spec
        assert window.windowTitle().startswith("cli.mlps")
        window.close()
        return 0

    real_open = app_main.open_main_window
    monkeypatch.setattr(app_main, "open_main_window", lambda session=None: windows.append(
        real_open(session)) or windows[0])  # fmt: skip
    app = app_main.make_application(["mlp-studio"])
    monkeypatch.setattr(app, "exec", fake_exec)
    assert app_main.main(["mlp-studio", str(path)]) == 0


def test_file_menu_sessions_continue_training(qtbot, ready, tmp_path):
    window, state = ready, ready.state
    texts = [a.text() for a in window.file_menu.actions()]
    assert texts[:3] == ["&New session", "&Open session…", "Recent sessions"]
    assert texts[-1] == "&Quit" and "&Export model…" in texts and "&Import model…" in texts

    configure(state, epochs=1, lr=0.002)
    with qtbot.waitSignal(window.controller.finished, timeout=60_000):
        window.train_action.trigger()
    assert window.isWindowModified()
    path = tmp_path / "experiment.mlps"
    assert window.file_actions.save_to(path, wait=True)
    assert window.windowTitle() == "experiment.mlps[*] – MLP Studio"
    assert not window.isWindowModified()

    assert window.file_actions.new_session()
    assert window.windowTitle().startswith("Untitled")
    assert window.file_actions.open_file(path, ask=False)
    assert state.spec.hidden == [LayerSpec(32)] and state.train_config.lr == 0.002
    # Training an opened session continues its epoch count.
    with qtbot.waitSignal(window.controller.epochEnded, timeout=60_000) as blocker:
        window.train_action.trigger()
    assert blocker.args[0].epoch == 2
    qtbot.waitUntil(lambda: not window.controller.running, timeout=30_000)
    assert window.state.epochs_done == 2


def test_a_clean_exit_removes_the_recovery_autosave(qtbot, ready, tmp_path):
    window = ready
    configure(window.state, epochs=1)
    with qtbot.waitSignal(window.controller.finished, timeout=60_000):
        window.train_action.trigger()
    window.file_actions.wait_for_saves()
    recovery = window.file_actions.recovery_path
    assert recovery.exists()  # autosaved after the epoch
    window.close()
    assert not recovery.exists()


def test_first_launch_without_mnist_opens_on_the_playground(qtbot, monkeypatch, tmp_path):
    from mlp_studio.app.main_window import MainWindow

    monkeypatch.delenv("MLP_STUDIO_DATA", raising=False)
    monkeypatch.setattr("mlp_studio.core.mnist.default_cache_dir", lambda: tmp_path / "empty-cache")
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    window.load_engine()
    data = window.state.data
    assert data is not None and data.raw_train is None  # 2-D points, not MNIST
    assert window.state.spec.input_size == data.x_train.shape[1]
    assert not window.docks["playground"].visibleRegion().isEmpty()
    window.close()


def test_evaluate_shows_the_current_models_test_metrics(qtbot, tmp_path):
    from mlp_studio.app.main_window import MainWindow
    from mlp_studio.core.data import prepare_arrays
    from mlp_studio.core.training import evaluate_test

    window = MainWindow(autoload_data=False)
    qtbot.addWidget(window)
    window.load_engine()
    rng = np.random.default_rng(0)
    x, y = rng.normal(0, 1, (300, 4)).astype(np.float32), rng.integers(0, 3, 300)
    data = prepare_arrays(x[:200], y[:200], x[200:250], y[200:250], x[250:], y[250:],
                          "standardize", ["a", "b", "c"])
    window.state.set_data(data)
    model = window.state.ensure_model()
    window.evaluate_action.trigger()
    expected = evaluate_test(model, data, window.state.train_config.loss)
    training = window.panels["training"]
    assert training.tabs.currentWidget() is training.confusion
    assert "Evaluated" in training.status.text()
    assert f"{expected.accuracy:.2%}" in training.status.text()
    window.close()


def test_at_1280x720_the_right_column_is_as_wide_as_its_panels_need(qtbot, tmp_path,
                                                                    monkeypatch):
    """Training, Playground and Draw share the right column: on a small screen it gets the
    width they need (no horizontal scrolling there), the Data and Network column the rest."""
    monkeypatch.delenv("MLP_STUDIO_DATA", raising=False)
    window = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
                        autoload_data=False, recovery_path=tmp_path / "r.mlps")
    qtbot.addWidget(window)
    window.resize(1280, 720)
    window.show()
    with qtbot.waitSignal(window.engineLoaded, timeout=60_000):
        window.load_engine()
    qtbot.wait(50)  # the columns are sized after the first layout
    for key in ("training", "playground", "canvas", "backprop"):
        window.docks[key].raise_()
        qtbot.wait(20)
        need = window.panels[key].minimumSizeHint().width()
        assert window.docks[key].width() >= need, key
    assert window.docks["dataset"].width() >= 400
    window.close()


@pytest.mark.qt_no_exception_capture
def test_an_error_in_a_handler_is_reported_and_the_work_stays_savable(qtbot, ready, tmp_path,
                                                                    monkeypatch):
    import sys

    window, state = ready, ready.state
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    app_main.install_error_report(window)

    def broken(_config):
        raise RuntimeError("a bug in a view")

    state.trainConfigChanged.connect(broken)
    state.set_training(True)  # as if a run had died half-way through its end
    configure(state, lr=0.02)  # the slot raises inside Qt's signal delivery
    state.trainConfigChanged.disconnect(broken)
    assert "Something went wrong (RuntimeError: a bug in a view)" in window.message_text()
    assert not state.training and enabled(window)["train"] and enabled(window)["files"]
    assert window.file_actions.save_to(tmp_path / "kept.mlps", wait=True)
    assert (tmp_path / "kept.mlps").is_file()


def test_the_training_views_wait_while_another_dock_is_in_front(qtbot, ready):
    """Draw in front while a run trains: the training tabs draw nothing until they are shown
    again (the GUI thread's time goes to what is seen), then catch up."""
    from mlp_studio.core.training import BatchProgress

    window = ready
    training = window.panels["training"]
    window.docks["canvas"].raise_()
    qtbot.waitUntil(lambda: window.docks["training"].visibleRegion().isEmpty(), timeout=5_000)
    training.on_progress(BatchProgress(1, 5, 10, 5, np.array([0.9, 0.8], np.float32), 1e3,
                                       1e-3))
    training._timer.timeout.emit()
    assert training.curves.dirty  # not drawn behind the Draw tab
    window.docks["training"].raise_()
    qtbot.waitUntil(lambda: not training.curves.dirty, timeout=5_000)
