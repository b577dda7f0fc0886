"""The Data panel's target scaling for a regression table (shown with its fitted numbers, a
setting with an undo step), and the loss curve saying what its losses are on."""

from pathlib import Path

from window_fixtures import open_window

HOUSES = Path(__file__).resolve().parents[1] / "resources" / "lessons" / "house_prices.csv"


def _load_houses(window, qtbot):
    state, panel = window.state, window.panels["dataset"]
    state.set_source("mnist")  # the Data panel's data
    chooser = panel.chooser
    chooser.kind_combo.setCurrentIndex(chooser.kind_combo.findData("table"))
    chooser.set_table_file(str(HOUSES))
    qtbot.waitUntil(lambda: state.data is not None and state.data.task == "regression"
                    and not panel.is_busy(), timeout=60_000)
    return state, panel


def test_the_target_scaling_is_shown_chosen_and_labels_the_loss(qtbot, monkeypatch):
    window = open_window(qtbot, monkeypatch)
    state, panel = _load_houses(window, qtbot)
    box = panel.target_scaling_box
    assert box.isVisibleTo(panel) and box.combo.currentData() == "standardize"
    mean = float(state.data.target_scaling.mean[0])
    assert "price_k" in box.text.text() and f"{mean:.4g}" in box.text.text()
    pairing = window.panels["training"].hyperparameters.pairing
    assert pairing.text().startswith("raw outputs, standardized real-valued targets")

    with qtbot.waitSignal(window.controller.finished, timeout=90_000):
        config = state.train_config
        config.epochs = 2
        state.set_train_config(config)
        window.train_action.trigger()
    qtbot.waitUntil(lambda: not window.controller.running, timeout=30_000)
    curves = window.panels["training"].curves
    assert curves.loss_plot.getPlotItem().titleLabel.text == "Loss on standardized targets"
    assert state.model.target_scaling is not None

    box.combo.setCurrentIndex(box.combo.findData("none"))
    assert state.data_config.target_scaling == "none"
    qtbot.waitUntil(lambda: state.data.target_scaling.identity and not panel.is_busy(),
                    timeout=60_000)
    assert "as it is" in box.text.text()
    assert pairing.text().startswith("raw outputs, real-valued targets")
    state.undo_stack.undo()
    assert state.data_config.target_scaling == "standardize"
    assert box.combo.currentData() == "standardize"
    window.close()


def test_the_target_scaling_is_hidden_for_classification(qtbot, monkeypatch, tmp_path):
    window = open_window(qtbot, monkeypatch)
    path = tmp_path / "kinds.csv"
    path.write_text("a,b,kind\n" + "".join(f"{i},{i % 7},{'x' if i % 2 else 'y'}\n"
                                           for i in range(60)))
    state, panel = window.state, window.panels["dataset"]
    state.set_source("mnist")
    panel.chooser.kind_combo.setCurrentIndex(panel.chooser.kind_combo.findData("table"))
    panel.chooser.set_table_file(str(path))
    qtbot.waitUntil(lambda: state.data is not None and not panel.is_busy(), timeout=60_000)
    assert state.data.task == "classification"
    assert not panel.target_scaling_box.isVisibleTo(panel)
    window.close()
