"""The sweep dialog: a real sweep in worker processes, the table sorted and filtered by a brush on
the parallel-coordinates plot, a trial opened as a run (one undo step), bad ranges, Cancel."""

import math
from types import SimpleNamespace

import pytest
from idx_fixtures import write_mnist_folder
from mlp_studio.app.dialogs.sweep_dialog import SweepDialog
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.core.data import DataConfig, SplitConfig
from PySide6.QtCore import QPointF, Qt


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_mnist_folder(tmp_path_factory.mktemp("mnist"), n_train=300, n_test=60)


@pytest.fixture
def dialog(qtbot, data, tmp_path):
    state = Experiment()
    state.set_data_config(DataConfig(split=SplitConfig(val_fraction=0.2)))
    state.set_data_location(str(data))
    dialog = SweepDialog(state, storage=str(tmp_path / "sweeps.db"))
    qtbot.addWidget(dialog)
    dialog.epochs.setValue(1)
    dialog.workers.setValue(1)
    yield dialog
    dialog.shutdown()


def _finished(dialog, trials: int) -> bool:
    results = dialog.results
    return (results is not None and not dialog.runner.running
            and sum(t.state == "COMPLETE" for t in results.trials) >= trials)


def test_a_sweep_runs_in_the_background_and_a_trial_opens_as_a_run(qtbot, dialog):
    dialog.trials.setValue(4)
    dialog.rows["optimizer"][0].setChecked(True)
    dialog.run()
    assert dialog.runner.running and not dialog.run_button.isEnabled()
    qtbot.waitUntil(lambda: _finished(dialog, 4), timeout=240_000)
    dialog.runner.refresh()
    qtbot.waitUntil(lambda: len(dialog.results.importance) == 4, timeout=30_000)
    assert dialog.table.source.rowCount() == 4
    assert "4 of 4 trials finished" in dialog.status.text()
    assert dialog.run_button.isEnabled()
    values = [t.value for t in dialog.results.trials]

    # sorted by the metric, best first; a click on a header sorts by that column
    column = [dialog.table.proxy.index(r, 2).data(Qt.ItemDataRole.UserRole + 1)
              for r in range(4)]
    assert column == sorted(values, reverse=True)
    dialog.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    assert dialog.table.visible_trials() == [0, 1, 2, 3]

    # a brush over the lower half of the lr axis keeps exactly the trials whose lr is there
    lr = dialog.sweep.params[0]
    middle = math.sqrt(lr.low * lr.high)  # the middle of a log axis
    dialog.plot.brush(0, -0.05, 0.5)
    inside = {t.number for t in dialog.results.trials if t.params["lr"] <= middle}
    assert set(dialog.table.visible_trials()) == inside
    dialog.plot.clear_brush(0)
    assert len(dialog.table.visible_trials()) == 4

    # "Open as run": the trial's settings in the studio, one undo step
    state = dialog.state
    before = (state.spec, state.train_config)
    best = dialog.results.best
    dialog.table.select_trial(best.number)
    dialog.open_trial()
    assert state.train_config.lr == pytest.approx(best.params["lr"])
    assert state.train_config.optimizer == best.params["optimizer"]
    assert state.train_config.epochs == 1
    assert {layer.units for layer in state.spec.hidden} == {best.params["hidden"]}
    assert {layer.activation.name for layer in state.spec.hidden} == {best.params["activation"]}
    state.undo_stack.undo()
    assert (state.spec, state.train_config) == before


def test_dragging_along_an_axis_brushes_it_and_a_click_clears_it(dialog):
    dialog.trials.setValue(3)
    dialog.plot.set_axes(dialog.build_sweep().params, "val-accuracy")
    box = dialog.plot.box
    seen = []
    dialog.plot.selectionChanged.connect(seen.append)

    class Drag:  # what pyqtgraph hands a ViewBox: scene positions of the press and now
        def __init__(self, x, y0, y1):
            self.start, self.now = box.mapViewToScene(QPointF(x, y0)), box.mapViewToScene(
                QPointF(x, y1))
            self.accepted = False

        def button(self):
            return Qt.MouseButton.LeftButton

        def buttonDownScenePos(self):  # noqa: N802
            return self.start

        def scenePos(self):  # noqa: N802
            return self.now

        def accept(self):
            self.accepted = True

    drag = Drag(1.05, 0.2, 0.7)  # near the second axis
    box.mouseDragEvent(drag)
    assert drag.accepted and list(dialog.plot.brushes) == [1]
    low, high = dialog.plot.brushes[1]
    assert low == pytest.approx(0.2, abs=0.02) and high == pytest.approx(0.7, abs=0.02)
    assert seen[-1] == set()  # no trials drawn yet: none inside
    box.mouseDragEvent(Drag(1.5, 0.2, 0.7))  # between two axes: nothing
    assert list(dialog.plot.brushes) == [1]
    box.mouseClickEvent(SimpleNamespace(button=lambda: Qt.MouseButton.LeftButton,
                                        accept=lambda: None, scenePos=lambda: drag.start))
    assert dialog.plot.brushes == {} and seen[-1] is None


@pytest.mark.parametrize("name, text, words", [
    ("lr", "0.1..0.001", "above high"),
    ("lr", "0..0.1:log", "above zero"),
    ("activation", "", "no values"),
    ("activation", "relu,swishy", "unknown activation 'swishy'"),
    ("dropout", "0..1.5", "dropout 1.5"),
])
def test_impossible_ranges_are_refused_with_the_reason(dialog, name, text, words):
    check, edit = dialog.rows[name]
    check.setChecked(True)
    edit.setText(text)
    dialog.run()
    assert not dialog.runner.running
    assert words in dialog.banner.text()
    if words not in ("unknown activation 'swishy'", "dropout 1.5"):  # those need the network
        assert "d03030" in edit.styleSheet() and words in edit.toolTip()


def test_nothing_ticked_and_the_playground_are_refused(dialog):
    for check, _edit in dialog.rows.values():
        check.setChecked(False)
    dialog.run()
    assert "Tick at least one setting" in dialog.banner.text()
    dialog.rows["lr"][0].setChecked(True)
    dialog.state.set_source("playground")
    dialog.run()
    assert "not on the Playground" in dialog.banner.text() and not dialog.runner.running


def test_cancel_stops_the_workers_and_fails_their_trials(qtbot, dialog):
    dialog.trials.setValue(200)
    dialog.epochs.setValue(50)  # far longer than the test waits
    dialog.prune.setChecked(False)
    dialog.run()
    qtbot.waitUntil(lambda: dialog.results is not None and any(
        t.state == "RUNNING" for t in dialog.results.trials), timeout=120_000)
    processes = list(dialog.runner._processes)
    dialog.cancel_button.click()
    assert not dialog.runner.running and all(not p.is_alive() for p in processes)
    assert dialog.run_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.results is not None and not any(
        t.state == "RUNNING" for t in dialog.results.trials), timeout=30_000)
    assert "Stopped" in dialog.status.text()


def test_the_train_menu_opens_one_sweep_dialog_and_closing_the_window_stops_it(qtbot, tmp_path):
    import tempfile
    from pathlib import Path

    from mlp_studio.app.main_window import MainWindow
    from PySide6.QtCore import QSettings

    window = MainWindow(QSettings(), autoload_data=False,
                        recovery_path=Path(tempfile.mkdtemp()) / "recovery.mlps")
    qtbot.addWidget(window)
    window.load_engine()
    assert window.sweep_action in window.train_menu.actions()
    assert window.sweep_action.isEnabled()
    window.sweep_action.trigger()
    dialog = window._sweep_dialog
    assert dialog.isVisible() and dialog.state is window.state
    dialog.close()
    window.sweep_action.trigger()
    assert window._sweep_dialog is dialog and dialog.isVisible()  # the same one, results kept
    stopped = []
    dialog.runner.shutdown = lambda: stopped.append(True)
    window.close()
    assert stopped


def _needed_width(box) -> int:
    """What a combo box with `box`'s items and font needs to show the longest whole."""
    from PySide6.QtWidgets import QComboBox

    probe = QComboBox()
    probe.setFont(box.font())
    probe.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
    probe.addItems([box.itemText(i) for i in range(box.count())])
    return probe.sizeHint().width()


@pytest.mark.parametrize("size", [(1600, 1000), (1280, 720)])
def test_rank_by_and_sampler_show_their_whole_texts(qtbot, dialog, size):
    dialog.resize(*size)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.metric_box.currentText() == "Validation accuracy (higher is better)"
    for box in (dialog.metric_box, dialog.sampler):
        assert box.width() >= _needed_width(box), box.currentText()


def _results(dialog, states: list[str]):
    from mlp_studio.core.sweep import SweepResults, TrialResult

    sweep = dialog.build_sweep()
    dialog.sweep = sweep
    trials = [TrialResult(n, {"lr": 0.01 * (n + 1), "hidden": 64, "activation": "relu"},
                          None if state == "FAIL" else 0.9, state, 1, 0.5,
                          f"Training diverged at epoch 1, batch {n + 2}: lower the learning "
                          f"rate (now {0.01 * (n + 1):g})." if state == "FAIL" else "")
                for n, state in enumerate(states)]
    best = next((t for t in trials if t.state == "COMPLETE"), None)
    return SweepResults(sweep.study, sweep.metric, "maximize", trials, best)


def test_a_sweep_whose_every_trial_failed_says_why_in_the_banner(dialog):
    dialog._show_results(_results(dialog, ["FAIL"] * 3))
    assert "3 failed" in dialog.status.text()
    text = dialog.banner.text()
    assert text.startswith("All 3 trials failed, so there is nothing to rank; the most common "
                           "reason (3 of them, e.g. trial 0): Training diverged")
    assert "then run the sweep again" in text


def test_a_sweep_where_some_trials_failed_counts_them_without_an_error(dialog):
    dialog._show_results(_results(dialog, ["COMPLETE", "FAIL", "COMPLETE"]))
    assert "3 of 20 trials finished, 1 failed" in dialog.status.text()
    assert not dialog.banner.text()
