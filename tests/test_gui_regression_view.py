"""The training view with regression data (playground surfaces): no accuracy to show."""

import warnings

import numpy as np
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
    assert "nan" not in texts.lower() and "accuracy" not in texts.lower()
    assert "Test RMSE" in v.status.text() and "R²" in v.status.text()
    assert "best val. RMSE" in v._best_text
    assert not v.curves.acc_plot.isVisibleTo(v.curves)
    assert len(v.curves.val_loss_curve.getData()[0]) == 3


def test_regression_results_are_plotted_where_the_confusion_matrix_would_be(view, tmp_path):
    """Predicted against true values and the errors, for the test set after the run, with
    RMSE, MAE and R² (the data's own figures, recomputed here) and no accuracy or NaN."""
    v, state = view
    state.set_data(playground.make_data(playground.generate("plane", 200, 0.1)).data)
    tabs = v.tabs
    assert tabs.isTabVisible(tabs.indexOf(v.regression))
    assert not tabs.isTabVisible(tabs.indexOf(v.confusion))
    tabs.setCurrentWidget(v.regression)
    finished = run_into(v, state, state.data)
    page = v.regression
    assert page.source.currentData() == "test" and tabs.currentWidget() is page
    test = finished.test
    true, predicted = page.points.getData()
    np.testing.assert_allclose(true, state.data.y_test.numpy(), rtol=1e-6)
    np.testing.assert_allclose(predicted, test.values, rtol=1e-6)
    x, errors = page.residuals.getData()
    np.testing.assert_allclose(errors, test.values - state.data.y_test.numpy(), atol=1e-6)
    rmse = float(np.sqrt(np.mean((test.values - test.targets) ** 2)))
    summary = page.summary.text()
    assert f"RMSE <b>{rmse:.4g}</b>" in summary and "MAE" in summary and "R²" in summary
    assert f"{len(true)} test samples" in summary
    assert "nan" not in summary.lower() and "accuracy" not in summary.lower()
    page.show_split("validation")  # the last epoch's validation predictions
    assert len(page.points.getData()[0]) == len(state.data.y_val)
    page.show_split("test")
    csv_text = page.export_csv(tmp_path / "p.csv").read_text()
    assert csv_text.startswith("true,predicted,error") and f"rmse,{rmse:.6g}" in csv_text
    for target in page.export_targets()[:2]:
        target.write(tmp_path / f"{target.name}.png")
        assert (tmp_path / f"{target.name}.png").stat().st_size > 1000


def test_regression_history_shows_its_scores_without_samples(view):
    """An opened session keeps the last epoch's figures, not the predictions: the scores are
    shown and the page says why the plots are empty."""
    v, state = view
    state.set_data(playground.make_data(playground.generate("plane", 200, 0.1)).data)
    finished = run_into(v, state, state.data, epochs=2)
    v.show_history(finished.history)
    v.flush()
    last = finished.history.epochs[-1]
    assert f"RMSE <b>{last.val_rmse:.4g}</b>" in v.status.text()
    assert "nan" not in v.status.text().lower()
    assert len(v.regression.points.getData()[0]) == 0
    assert "keeps the scores" in v.regression.empty_note.text()


def test_classification_after_regression_shows_accuracy_again(view):
    v, state = view
    state.set_data(playground.make_data(playground.generate("plane", 200, 0.1)).data)
    run_into(v, state, state.data, epochs=1)
    state.set_data(playground.make_data(playground.generate("xor", 200, 0.1)).data)
    run_into(v, state, state.data, epochs=2)
    assert v.curves.acc_plot.isVisibleTo(v.curves)
    assert len(v.curves.val_acc_curve.getData()[0]) == 2
    assert "Test accuracy" in v.status.text() and "%" in v._best_text
    assert v.tabs.isTabVisible(v.tabs.indexOf(v.confusion))
    assert not v.tabs.isTabVisible(v.tabs.indexOf(v.regression))


def test_the_activations_of_a_regression_show_its_value(view):
    """Targets far above the number of outputs (prices) were taken for class indices: the
    view raised IndexError on every redraw. It shows the predicted and the true value."""
    from mlp_studio.core.data import prepare_arrays

    v, state = view
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)).astype(np.float32)
    y = (150 + 20 * x[:, 0]).astype(np.float32)
    state.set_data(prepare_arrays(x, y, x, y, x, y, "standardize", ["price"], "regression"))
    state.set_model(state.ensure_model())
    state.set_probe_index(2)
    v.tabs.setCurrentWidget(v.activations)
    v.activations.refresh()
    text = v.activations.verdict.text()
    assert text.startswith("true <b>") and "predicted <b>" in text and "%" not in text
    true = float(text.split("<b>")[1].split("</b>")[0])
    assert np.isclose(y, true, rtol=1e-3).any()  # a price, not a class


def test_the_loss_of_a_regression_is_described_as_one(view):
    """MSE on a regression compares raw outputs with real values (it said "softmax outputs,
    one-hot targets", MSE's meaning for classes)."""
    v, state = view
    config = state.train_config
    config.loss = "mse"
    state.set_train_config(config)
    assert v.hyperparameters.pairing.text().startswith("softmax outputs")  # classes (MNIST)
    state.set_data(playground.make_data(playground.generate("plane", 200, 0.1)).data)
    assert v.hyperparameters.pairing.text().startswith("raw outputs, real-valued targets")
