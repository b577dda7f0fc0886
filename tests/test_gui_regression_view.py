"""The training view with regression data (playground surfaces): no accuracy to show."""

import warnings

import pytest
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.app.panels.training.training_panel import TrainingPanel
from mlp_studio.core import playground
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model
from mlp_studio.core.training import (
    BatchProgress,
    Diverged,
    EpochEnd,
    Finished,
    LayerStats,
    Snapshot,
    TrainConfig,
    Trainer,
)


def run_into(view: TrainingPanel, state: Experiment, data, epochs: int = 3):
    spec = NetworkSpec(2, [LayerSpec(8)], data.num_classes)
    state.replace_spec(spec)
    loss = "mse" if data.task == "regression" else "sparse_categorical_cross_entropy"
    config = TrainConfig(epochs=epochs, batch_size=25, lr=3e-3, loss=loss)
    state.set_train_config(config)
    model = build_model(spec)
    state.set_model(model)
    state.set_training(True)
    view.reset()
    handlers = {BatchProgress: view.on_progress, LayerStats: view.on_layer_stats,
                Snapshot: view.on_snapshot, EpochEnd: view.on_epoch_end,
                Diverged: view.on_diverged, Finished: view.on_finished}  # fmt: skip
    finished = Trainer(model, data, config, lambda e: handlers[type(e)](e)).run()
    state.set_training(False)
    view.flush()
    view.repaint()
    return finished


@pytest.fixture
def view(qtbot):
    state = Experiment()
    v = TrainingPanel(state)
    qtbot.addWidget(v)
    v.resize(900, 700)
    v.show()
    return v, state


def test_regression_shows_losses_and_hides_the_accuracy_plot(view):
    v, state = view
    state.set_data(playground.make_data(playground.generate("plane", 200, 0.1)).data)
    assert not v.curves.acc_plot.isVisibleTo(v.curves)  # known from the data, before a run
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # pyqtgraph's "All-NaN slice"
        finished = run_into(v, state, state.data)
    assert finished.test is not None
    texts = v.status.text() + " " + v._best_text
    assert "nan" not in texts.lower()
    assert "Test loss" in v.status.text() and "best loss" in v._best_text
    assert not v.curves.acc_plot.isVisibleTo(v.curves)
    assert len(v.curves.val_loss_curve.getData()[0]) == 3


def test_classification_after_regression_shows_accuracy_again(view):
    v, state = view
    state.set_data(playground.make_data(playground.generate("plane", 200, 0.1)).data)
    run_into(v, state, state.data, epochs=1)
    state.set_data(playground.make_data(playground.generate("xor", 200, 0.1)).data)
    run_into(v, state, state.data, epochs=2)
    assert v.curves.acc_plot.isVisibleTo(v.curves)
    assert len(v.curves.val_acc_curve.getData()[0]) == 2
    assert "Test accuracy" in v.status.text() and "%" in v._best_text
