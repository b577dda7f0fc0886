"""The Keras preset in the app (issue 14): one button sets the network's init, the optimizer's
rho and epsilon and the split together, as one undo step, and the forms show each of them."""

from __future__ import annotations

from pathlib import Path

import pytest
from idx_fixtures import write_mnist_folder
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.app.panels.data.data_panel import DataPanel
from mlp_studio.app.panels.training.hyperparameters import HyperparametersForm
from mlp_studio.app.panels.training.preset_picker import CUSTOM
from mlp_studio.core.presets import KERAS, PRESETS, matches
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


def choose(form, key: str) -> None:
    index = form.preset.findData(key)
    form.preset.setCurrentIndex(index)
    form.preset.activated.emit(index)  # what a click on the item sends


def test_the_keras_preset_sets_every_setting_in_one_undo_step(form):
    state = form.state
    before = (state.spec, state.train_config, state.data_config)
    assert form.preset.currentText() == CUSTOM
    choose(form, "keras")
    assert matches(KERAS, state.spec, state.train_config, state.data_config)
    assert state.spec.init == "xavier" and state.data_config.split.mode == "test_as_val"
    assert form.epsilon_in_sqrt.isChecked() and not form.restore_best.isChecked()
    assert form.epsilon.value() == pytest.approx(1e-7)
    assert form.preset.currentData() == "keras"
    form.rho.setValue(0.95)  # one setting off the preset: it no longer holds
    assert form.preset.currentText() == CUSTOM
    state.undo_stack.undo()
    assert (state.spec, state.train_config, state.data_config) == before
    assert form.preset.currentText() == CUSTOM and not form.epsilon_in_sqrt.isChecked()


def test_a_published_recipe_sets_the_network_too(form):
    state = form.state
    choose(form, "keras-mnist-mlp")
    spec = state.spec
    assert [layer.units for layer in spec.hidden] == [512, 512]
    assert all(layer.dropout == 0.2 and layer.activation.name == "relu" for layer in spec.hidden)
    assert state.train_config.epochs == 20 and state.train_config.optimizer == "rmsprop"
    assert form.preset.currentData() == "keras-mnist-mlp"  # the more specific of the two held
    choose(form, "lecun-300")
    assert [layer.units for layer in state.spec.hidden] == [300]
    assert state.spec.hidden[0].activation.name == "tanh" and state.train_config.loss == "mse"
    assert state.data_config.split.mode == "test_as_val"  # a recipe leaves what it does not set
    assert form.preset.currentData() == "lecun-300"
    state.undo_stack.undo()
    assert [layer.units for layer in state.spec.hidden] == [512, 512]


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


def test_a_chosen_preset_is_not_second_guessed_by_the_suggestion_bar(qtbot, tmp_path: Path):
    state = Experiment()
    panel = DataPanel(state, autoload=False)
    qtbot.addWidget(panel)
    panel.show()
    try:
        with qtbot.waitSignal(state.dataChanged, timeout=TIMEOUT):
            panel.load_folder(write_mnist_folder(tmp_path / "m", n_train=300, n_test=100))
        assert not panel.suggestion.isVisible()  # the defaults are the suggestion
        state.apply_preset(PRESETS["keras-mnist-mlp"])
        assert not panel.suggestion.isVisible()
        config = state.train_config
        config.rho = 0.95  # off the preset and off the suggestion: offered again
        state.set_train_config(config)
        assert panel.suggestion.isVisible()
    finally:
        panel.shutdown()
