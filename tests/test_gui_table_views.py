"""The training views on a table: the mistakes dialog names the table's columns (not x1…xD) and
shows the rows in the file's units; a regression offers only the best-epoch choices that apply
and says which one is used."""

import numpy as np
import pytest
from mlp_studio.app.dialogs.mistakes_dialog import MistakesDialog
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.app.panels.training.hyperparameters import HyperparametersForm
from mlp_studio.app.panels.training.training_panel import TrainingPanel
from mlp_studio.core.data import prepare_dataset
from mlp_studio.core.dataset import load_data
from mlp_studio.core.metrics import metrics_from_probabilities
from mlp_studio.core.training import EpochEnd
from own_data_fixtures import write_houses


def _table(state: Experiment, path, target: str):
    """A table loaded as the Data panel publishes it."""
    ds = load_data(path, target=target)
    data = prepare_dataset(ds, state.data_config)
    state.set_feature_names(ds.feature_names, ds.table)
    state.set_data(data)
    state.fit_loss_to_task(data.task, None)
    return ds, data


def test_the_mistakes_of_a_table_name_its_columns_in_the_files_units(qtbot, tmp_path):
    state = Experiment()
    ds, data = _table(state, write_houses(tmp_path / "houses.csv"), "city")
    panel = TrainingPanel(state)
    qtbot.addWidget(panel)
    y = data.y_val.numpy()
    n, classes = len(y), data.num_classes
    probs = np.full((n, classes), 0.1)
    probs[:, 0] = 0.8  # always the first class: every other row is a mistake
    metrics = metrics_from_probabilities(probs / probs.sum(1, keepdims=True), y, 0.9, classes)
    panel.on_epoch_end(EpochEnd(1, 3, 1.0, 0.5, metrics, 0.1, 1e-3, True))
    true = int(np.flatnonzero(np.bincount(y, minlength=classes)[1:])[0]) + 1
    dialog = panel.confusion.open_mistakes(true, 0)
    qtbot.addWidget(dialog)
    assert isinstance(dialog, MistakesDialog)
    view = dialog.view
    headers = [view.horizontalHeaderItem(c).text() for c in range(view.columnCount())]
    assert headers == ["sample", "rooms", "age", "price", "confidence"]
    first = dialog.shown_indices()[0]
    raw = data.x_val[first].numpy() * data.normalization.std + data.normalization.mean
    assert [float(view.item(0, c).text()) for c in (1, 2, 3)] == pytest.approx(raw, rel=1e-3)
    assert raw[0] in range(1, 6)  # whole rooms, as in the file (not a standardized value)
    dialog.close()


def test_a_regression_offers_only_the_loss_or_the_last_epoch_and_says_which(qtbot, tmp_path):
    state = Experiment()
    form = HyperparametersForm(state)
    qtbot.addWidget(form)
    form.show()
    assert form.best_by.isVisibleTo(form) and not form.best_by_fixed.isVisibleTo(form)
    _table(state, write_houses(tmp_path / "houses.csv"), "price")
    assert not form.best_by.isVisibleTo(form)  # no "highest validation accuracy" to pick
    assert form.best_by_fixed.isVisibleTo(form)
    assert form.best_by_fixed.text() == "Lowest validation loss"
    assert "no accuracy" in form.best_by_fixed.toolTip()
    form.restore_best.setChecked(False)
    assert form.best_by_fixed.text() == "Last epoch"
    assert state.train_config.best_by == "accuracy"  # the classification choice is kept
