"""The Keras preset in the app (issue 14): one button sets the network's init, the optimizer's
rho and epsilon and the split together, as one undo step, and the forms show each of them."""

from __future__ import annotations

from pathlib import Path

import pytest
from idx_fixtures import write_mnist_folder
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.app.panels.data.data_panel import DataPanel
from mlp_studio.app.panels.training.hyperparameters import HyperparametersForm
from mlp_studio.core.presets import KERAS, matches
from mlp_studio.core.run_checks import run_problems

TIMEOUT = 60_000


@pytest.fixture
def form(qtbot):
    state = Experiment()
    widget = HyperparametersForm(state)
    qtbot.addWidget(widget)
    widget.show()
    return widget


def test_the_optimizer_rows_follow_the_optimizer(form):
    config = form.state.train_config
    config.optimizer = "rmsprop"
    form.state.set_train_config(config)
    assert form.rho.isVisibleTo(form) and form.epsilon_in_sqrt.isVisibleTo(form)
    assert form.rho.value() == pytest.approx(0.99) and form.epsilon.value() == pytest.approx(1e-8)
    form.rho.setValue(0.9)
    assert form.state.train_config.rho == pytest.approx(0.9)
    config = form.state.train_config
    config.optimizer = "adam"
    form.state.set_train_config(config)
    assert not form.rho.isVisibleTo(form) and form.epsilon.isVisibleTo(form)
    config.optimizer = "sgd"
    form.state.set_train_config(config)
    assert not form.epsilon.isVisibleTo(form)


def test_the_keras_button_sets_every_setting_in_one_undo_step(form):
    state = form.state
    before = (state.spec, state.train_config, state.data_config)
    assert form.keras_preset.isEnabled()
    form.keras_preset.click()
    assert matches(KERAS, state.spec, state.train_config, state.data_config)
    assert state.spec.init == "xavier" and state.data_config.split.mode == "test_as_val"
    assert form.epsilon_in_sqrt.isChecked() and not form.restore_best.isChecked()
    assert form.epsilon.value() == pytest.approx(1e-7)
    assert not form.keras_preset.isEnabled() and "in use" in form.keras_preset.text()
    state.undo_stack.undo()
    assert (state.spec, state.train_config, state.data_config) == before
    assert form.keras_preset.isEnabled() and not form.epsilon_in_sqrt.isChecked()


def test_the_data_panel_trains_on_all_and_validates_on_the_test_set(qtbot, tmp_path: Path):
    state = Experiment()
    panel = DataPanel(state, autoload=False)
    qtbot.addWidget(panel)
    panel.show()
    try:
        with qtbot.waitSignal(state.dataChanged, timeout=TIMEOUT):
            panel.load_folder(write_mnist_folder(tmp_path / "m", n_train=300, n_test=100))
        state.apply_preset(KERAS)
        assert panel.test_val_radio.isChecked()
        qtbot.waitUntil(lambda: not panel.is_busy() and state.data is not None
                        and state.data.val_is_test, timeout=TIMEOUT)
        assert len(state.data.x_train) == 300 and len(state.data.x_val) == 100
        assert run_problems(state.spec, state.train_config, state.data) == []
        panel.official_radio.setChecked(True)  # back to validation carved from training
        assert state.data_config.split.mode == "official"
        qtbot.waitUntil(lambda: not panel.is_busy() and not state.data.val_is_test,
                        timeout=TIMEOUT)
        assert len(state.data.x_train) == 270
    finally:
        panel.shutdown()
