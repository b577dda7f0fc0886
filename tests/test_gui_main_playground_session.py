"""In the main window: a session saved on the playground's XOR reopens on the same points, also
when MNIST was the data in use, and training continues its epoch count."""

import torch
from mlp_studio.core.data import DataConfig, prepare_mnist
from PySide6.QtWidgets import QMessageBox
from test_gui_main import make_window, no_modal_questions, small_mnist  # noqa: F401


def test_playground_session_reopens_on_its_points(qtbot, small_mnist, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.delenv("MLP_STUDIO_DATA", raising=False)
    window = make_window(qtbot, tmp_path / "recovery.mlps")
    state, panel = window.state, window.panels["playground"]
    state.set_data(prepare_mnist(small_mnist, DataConfig()))
    window.docks["playground"].raise_()
    panel.select_dataset("xor")
    panel.activate()
    assert panel.active
    x_train, y_test = state.data.x_train.clone(), state.data.y_test.clone()
    config = state.train_config
    config.epochs = 2
    state.set_train_config(config)
    with qtbot.waitSignal(window.controller.finished, timeout=60_000):
        window.train_action.trigger()
    path = tmp_path / "xor.mlps"
    assert window.file_actions.save_to(path, wait=True)

    assert window.file_actions.new_session()
    state.set_source("mnist")  # the Data panel's Train on: MNIST trains now
    state.set_data(prepare_mnist(small_mnist, DataConfig()))
    assert not panel.active
    assert window.file_actions.open_file(path, ask=False)
    assert panel.active and panel.dataset == "xor"
    assert torch.equal(state.data.x_train, x_train) and torch.equal(state.data.y_test, y_test)
    with qtbot.waitSignal(window.controller.epochEnded, timeout=60_000) as blocker:
        window.train_action.trigger()
    assert blocker.args[0].epoch == 3
    qtbot.waitUntil(lambda: not window.controller.running, timeout=30_000)
    window.close()


def test_opening_a_playground_session_shows_the_playground(qtbot, tmp_path, monkeypatch):
    monkeypatch.delenv("MLP_STUDIO_DATA", raising=False)
    window = make_window(qtbot, tmp_path / "recovery.mlps")
    panel, docks = window.panels["playground"], window.docks
    docks["playground"].raise_()  # raising the tab does not change what trains
    panel.select_dataset("plane")
    assert not panel.active and window.state.source == "mnist"
    panel.use_button.click()  # Train on these points
    assert panel.active and window.state.source == "playground"
    path = tmp_path / "plane.mlps"
    assert window.file_actions.save_to(path, wait=True)
    assert window.file_actions.new_session()

    def shown(key: str) -> bool:  # a tabified dock behind another stays "visible"
        return not docks[key].visibleRegion().isEmpty()

    docks["training"].raise_()  # another tab of the same dock area in front
    qtbot.waitUntil(lambda: not shown("playground"))
    assert window.file_actions.open_file(path, ask=False)
    qtbot.waitUntil(lambda: shown("playground"))
    assert not shown("training")
    assert panel.active and panel.dataset == "plane"
    assert not window.isWindowModified()  # showing the playground changes nothing

    panel.noise_slider.setValue(25)  # a playground change modifies the session
    assert window.isWindowModified()
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: asked.append(args[1])
                        or QMessageBox.StandardButton.Discard)  # fmt: skip
    window.close()
    assert asked == ["Save the session?"]
