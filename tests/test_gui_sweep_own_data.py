"""The Sweep dialog on the Data panel's own data: a regression table offers only the metrics that
measure it, its trials train on the table, and "Open as run" opens a trial on that table even
after another source was chosen."""

import pytest
from mlp_studio.app.dialogs.sweep_dialog import SweepDialog
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.core.data import prepare_dataset
from mlp_studio.core.data_source import DataSource
from mlp_studio.core.dataset import load_data
from own_data_fixtures import write_houses, write_image_folder


def _load(state: Experiment, source: DataSource) -> None:
    """What the Data panel publishes once it has read and prepared `source`."""
    data = prepare_dataset(load_data(**source.load_arguments()), state.data_config)
    state.set_data(data)
    state.fit_loss_to_task(data.task, None)
    state.set_data_source(source)


@pytest.fixture
def dialog(qtbot, tmp_path):
    state = Experiment()
    dialog = SweepDialog(state, storage=str(tmp_path / "sweeps.db"))
    qtbot.addWidget(dialog)
    dialog.epochs.setValue(2)
    dialog.workers.setValue(1)
    yield dialog
    dialog.shutdown()


def _metrics(dialog) -> list[str]:
    return [dialog.metric_box.itemData(i) for i in range(dialog.metric_box.count())]


def test_a_regression_table_sweeps_and_a_trial_opens_on_it(qtbot, dialog, tmp_path):
    state = dialog.state
    houses = DataSource("table", str(write_houses(tmp_path / "houses.csv")), target="price")
    _load(state, houses)
    assert _metrics(dialog) == ["val-loss", "val-rmse", "val-r2"]
    assert "houses.csv" in dialog.data_label.text() and "regression" in dialog.data_label.text()
    assert "R² (higher is better)" in dialog.metric_box.itemText(2)
    dialog.metric_box.setCurrentIndex(1)
    for name, (check, _edit) in dialog.rows.items():
        check.setChecked(name == "lr")
    dialog.trials.setValue(2)
    dialog.prune.setChecked(False)
    dialog.run()
    assert dialog.sweep.metric == "val-rmse" and dialog.sweep.base.loss == "mse"
    qtbot.waitUntil(lambda: dialog.results is not None and not dialog.runner.running and sum(
        t.state == "COMPLETE" for t in dialog.results.trials) == 2, timeout=240_000)
    assert "Best val rmse" in dialog.status.text()
    assert dialog.results.best.value == min(t.value for t in dialog.results.trials)

    # Another source is chosen meanwhile; the trial still opens on the table it trained on.
    shapes = DataSource("images", str(write_image_folder(tmp_path / "shapes")), image_size=8)
    _load(state, shapes)
    assert _metrics(dialog) == ["val-accuracy", "val-loss"]
    best = dialog.results.best
    dialog.table.select_trial(best.number)
    dialog.open_trial()
    assert state.data_source == houses and state.source == "mnist"
    assert (state.spec.input_size, state.spec.output_size) == (5, 1)  # 2 numbers + 3 cities
    assert state.train_config.lr == pytest.approx(best.params["lr"])
    assert state.train_config.loss == "mse"
    assert "loads table houses.csv again" in dialog.banner.text()


def test_the_playground_and_an_unread_table_are_refused(dialog, tmp_path):
    state = dialog.state
    state.set_source("playground")
    dialog.run()
    assert "not on the Playground's points" in dialog.banner.text()
    assert not dialog.runner.running
    state.set_source("mnist")
    state.set_data_source(DataSource("table", str(tmp_path / "later.csv")))
    dialog.run()
    assert "The table is not read yet" in dialog.banner.text() and not dialog.runner.running


@pytest.mark.parametrize("metric, best", [("val-rmse", 0), ("val-r2", 2), ("val-loss", 0),
                                          ("val-accuracy", 2)])
def test_the_table_and_the_plot_put_the_best_trial_first_in_the_metrics_direction(
        qtbot, dialog, metric, best):
    from mlp_studio.core.sweep import TrialResult
    from mlp_studio.core.sweep_space import parse_param

    lr = parse_param("lr=1e-4..1e-1:log", dialog._options)
    trials = [TrialResult(n, {"lr": 10.0 ** -(n + 1)}, value, "COMPLETE", 2, 0.1)
              for n, value in enumerate((0.2, 0.5, 0.9))]
    dialog.table.set_columns(["lr"], metric)
    dialog.table.set_trials(trials)
    assert dialog.table.visible_trials()[0] == best
    dialog.plot.set_axes([lr], metric)
    dialog.plot.set_trials(trials)
    lines = dialog.plot._lines
    assert max(lines, key=lambda n: lines[n].zValue()) == best  # drawn on top, brightest


def test_cancel_while_the_study_opens_starts_no_workers(qtbot, dialog, tmp_path):
    _load(dialog.state, DataSource("table", str(write_houses(tmp_path / "h.csv")),
                                   target="price"))
    dialog.run()
    assert dialog.runner.running
    dialog.cancel_button.click()  # before the study is open: no worker may start after it
    assert not dialog.runner.running and dialog.run_button.isEnabled()
    qtbot.wait(1500)
    assert dialog.runner._processes == [] and not dialog.runner.running
