"""The network designer: building a network by clicking, undo, validation, live weights."""

import numpy as np
import pytest
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.app.panels.network.network_panel import NetworkPanel
from mlp_studio.core.activations import ActivationSpec
from mlp_studio.core.data import prepare_arrays
from mlp_studio.core.losses import LOSSES
from mlp_studio.core.model import LayerSpec, NetworkSpec, parameter_count
from mlp_studio.core.training import Snapshot
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtWidgets import QApplication


@pytest.fixture
def panel(qtbot):
    state = Experiment()
    spec = state.spec
    spec.hidden = [LayerSpec(128), LayerSpec(64)]
    state.replace_spec(spec)
    widget = NetworkPanel(state)
    widget.resize(1000, 760)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def snapshot_for(spec: NetworkSpec, step: int, seed: int, probes: int = 2) -> Snapshot:
    rng = np.random.default_rng(seed)
    sizes = [spec.input_size, *(h.units for h in spec.hidden), spec.output_size]
    weights = [
        rng.normal(0, 0.1, (b, a)).astype(np.float32)
        for a, b in zip(sizes[:-1], sizes[1:], strict=True)
    ]
    biases = [rng.normal(0, 0.1, b).astype(np.float32) for b in sizes[1:]]
    activations = [rng.normal(0, 1, (probes, b)).astype(np.float32) for b in sizes[1:]]
    return Snapshot(step, weights, biases, activations)


def type_into_spin(qtbot, spin, text: str) -> None:
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, text)
    qtbot.keyClick(spin, Qt.Key.Key_Return)


def cell_centre(panel: NetworkPanel, column: int, node: int) -> QPoint:
    return panel.diagram.columns[column].cells[node].center().toPoint()


def test_build_a_network_by_clicking_and_undo_everything(panel, qtbot):
    state = panel.state
    panel.select_layer(1)
    qtbot.mouseClick(panel.add_button, Qt.MouseButton.LeftButton)
    assert [h.units for h in state.spec.hidden] == [128, 64, 64]
    assert panel.editor.index == 2  # the new layer is selected

    type_into_spin(qtbot, panel.editor.units, "32")
    assert [h.units for h in state.spec.hidden] == [128, 64, 32]
    panel.editor.activation.setCurrentIndex(panel.editor.activation.findData("tanh"))
    assert state.spec.hidden[2].activation.name == "tanh"
    panel.editor.dropout.setValue(0.25)
    box = panel.editor.batch_norm
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))
    layer = state.spec.hidden[2]
    assert (layer.dropout, layer.batch_norm) == (0.25, True)
    assert state.undo_stack.undoText() == "Turn batch norm on in layer 3"

    panel.init_combo.setCurrentIndex(panel.init_combo.findData("xavier"))
    panel.seed_spin.setValue(7)
    assert (state.spec.init, state.spec.seed) == ("xavier", 7)

    specs = []
    while state.undo_stack.canUndo():
        specs.append(state.spec)
        state.undo_stack.undo()
    assert [h.units for h in state.spec.hidden] == [128, 64]
    assert panel.layer_list.count() == 4  # input, two hidden, output
    for expected in reversed(specs):
        state.undo_stack.redo()
        assert state.spec == expected
    panel.select_layer(2)
    assert panel.editor.units.value() == 32  # widgets follow undo/redo
    assert panel.editor.batch_norm.isChecked()


def test_consecutive_spin_steps_merge_into_one_undo_entry(panel):
    state = panel.state
    panel.select_layer(0)
    before = state.undo_stack.count()
    for _ in range(5):
        panel.editor.units.stepUp()
    assert state.spec.hidden[0].units == 133
    assert state.undo_stack.count() == before + 1
    assert state.undo_stack.undoText() == "Change neurons of layer 1"
    panel.editor.activation.setCurrentIndex(panel.editor.activation.findData("elu"))
    panel.editor.units.stepDown()  # after another kind of edit: a new entry
    assert state.undo_stack.count() == before + 3
    state.undo_stack.undo()
    state.undo_stack.undo()
    state.undo_stack.undo()
    assert state.spec.hidden[0].units == 128


def test_remove_and_insert_layers(panel, qtbot):
    state = panel.state
    panel.select_layer(0)
    qtbot.mouseClick(panel.remove_button, Qt.MouseButton.LeftButton)
    assert [h.units for h in state.spec.hidden] == [64]
    panel.insert_layer(0)
    assert [h.units for h in state.spec.hidden] == [64, 64]
    panel.remove_layer(1)
    panel.remove_layer(0)
    assert state.spec.hidden == []
    assert not panel.remove_button.isEnabled()
    assert panel.editor.index == -1
    qtbot.mouseClick(panel.add_button, Qt.MouseButton.LeftButton)
    assert [h.units for h in state.spec.hidden] == [64]


def test_the_spin_box_refuses_zero_and_invalid_specs_are_explained(panel):
    assert panel.editor.units.minimum() == 1
    assert panel.problems_label.isHidden()
    spec = panel.state.spec
    spec.hidden[1].units = 0
    panel.state.replace_spec(spec)
    assert not panel.problems_label.isHidden()
    assert "Hidden layer 2 has 0 neurons" in panel.problems_label.text()
    assert panel.params_label.text() == "parameters: fix the layer sizes"
    spec.hidden[1] = LayerSpec(64, ActivationSpec("custom", formula="x +* 2"))
    panel.state.replace_spec(spec)
    assert "custom formula" in panel.problems_label.text()
    panel.state.replace_spec(NetworkSpec())
    assert panel.problems_label.isHidden()


def test_parameter_count_label(panel):
    panel.select_layer(0)
    panel.editor.units.setValue(300)
    panel.editor.batch_norm.setChecked(True)
    expected = parameter_count(panel.state.spec)
    assert expected == (784 + 1) * 300 + 2 * 300 + (300 + 1) * 64 + (64 + 1) * 10
    assert panel.params_label.text() == f"{expected:,} parameters"


def test_custom_formula_plots_and_bad_one_is_not_applied(panel, qtbot):
    state = panel.state
    editor = panel.editor
    panel.select_layer(1)
    editor.activation.setCurrentIndex(editor.activation.findData("custom"))
    assert editor.formula.isVisible()
    assert state.spec.hidden[1].activation.name == "custom"
    assert not state.spec.problems()  # it starts from a working example

    editor.formula.clear()
    qtbot.keyClicks(editor.formula, "x * tanh(x)")
    assert state.spec.hidden[1].activation.formula == "x * tanh(x)"
    assert editor.plot.has_curve()
    assert "valid" in editor.formula_status.text()
    entries = state.undo_stack.count()

    qtbot.keyClicks(editor.formula, " +* 2")
    assert state.spec.hidden[1].activation.formula == "x * tanh(x)"  # unchanged
    assert state.undo_stack.count() == entries
    assert editor.formula_error()
    assert "Not applied" in editor.formula_status.text()
    assert not editor.plot.has_curve()
    assert editor.formula.text() == "x * tanh(x) +* 2"  # the draft survives other edits
    panel.seed_spin.setValue(3)
    assert editor.formula.text() == "x * tanh(x) +* 2"


def test_maxout_explains_that_it_learns_its_shape(panel):
    panel.select_layer(0)
    panel.editor.activation.setCurrentIndex(panel.editor.activation.findData("maxout"))
    assert panel.editor.pieces.isVisible()
    panel.editor.pieces.setValue(3)
    assert panel.state.spec.hidden[0].activation.pieces == 3
    assert "learn" in panel.editor.plot.note.toPlainText()
    assert not panel.editor.plot.has_curve()
    snap = snapshot_for(panel.state.spec, 1, 0)
    snap.weights[0] = np.zeros((128 * 3, 784), np.float32)  # units * pieces rows
    panel.show_snapshot(snap)
    assert panel.diagram.step is None  # throttled: not drawn synchronously


def test_leaky_relu_slope(panel):
    panel.select_layer(0)
    panel.editor.activation.setCurrentIndex(panel.editor.activation.findData("leaky_relu"))
    assert panel.editor.slope.isVisible() and not panel.editor.pieces.isVisible()
    panel.editor.slope.setValue(0.2)
    assert panel.state.spec.hidden[0].activation == ActivationSpec("leaky_relu", slope=0.2)


def test_snapshot_updates_lines_and_hover_shows_weights(panel, qtbot):
    diagram = panel.diagram
    before = diagram.line_styles()
    assert {colour for colour, _ in before} == {before[0][0]}  # no weights: one neutral style
    panel.show_snapshot(snapshot_for(panel.state.spec, 5, seed=1))
    qtbot.waitUntil(lambda: diagram.step == 5)
    first = diagram.line_styles()
    assert len(first) == len(before)
    assert len({colour for colour, _ in first}) > 4 and first != before
    panel.show_snapshot(snapshot_for(panel.state.spec, 6, seed=2))
    panel.show_snapshot(snapshot_for(panel.state.spec, 7, seed=3))
    qtbot.waitUntil(lambda: diagram.step == 7)  # coalesced: the latest one wins
    assert diagram.line_styles() != first

    qtbot.mouseMove(diagram, cell_centre(panel, 1, 2))
    qtbot.waitUntil(diagram.popup.isVisible)
    assert diagram.popup.title.text() == "Hidden 1, neuron 3 of 128"
    assert not diagram.popup.image.pixmap().isNull()
    assert diagram.popup.image.pixmap().width() >= 28
    assert "activation for the probe sample" in diagram.popup.text.text()
    qtbot.mouseMove(diagram, cell_centre(panel, 2, 0))
    qtbot.waitUntil(lambda: diagram.popup.title.text().startswith("Hidden 2"))
    assert "128 incoming weights" in diagram.popup.text.text()
    output = len(diagram.columns) - 1
    qtbot.mouseMove(diagram, cell_centre(panel, output, 4))
    qtbot.waitUntil(lambda: diagram.popup.title.text() == "Output 4")
    assert "probability" in diagram.popup.text.text()
    snap = snapshot_for(panel.state.spec, 8, seed=5)
    panel.show_snapshot(snap)  # the card's numbers follow live under a resting mouse
    qtbot.waitUntil(lambda: diagram.step == 8)
    assert f"{snap.activations[-1][0][4]:+.4f}" in diagram.popup.text.text()


def test_stale_snapshots_are_ignored_and_model_weights_are_drawn(panel, qtbot):
    diagram = panel.diagram
    stale = snapshot_for(NetworkSpec(hidden=[LayerSpec(10)]), 9, seed=0)
    panel.show_snapshot(stale)
    panel.show_snapshot(snapshot_for(panel.state.spec, 3, seed=0))
    qtbot.waitUntil(lambda: diagram.step == 3)
    panel.show_snapshot(stale)
    qtbot.wait(120)  # longer than the throttle interval: nothing happens for a stale one
    assert diagram.step == 3

    panel.state.replace_spec(panel.state.spec)  # a spec change drops the model and weights
    assert diagram.step is None and set(diagram.line_keys.tolist()) == {0}
    panel.state.ensure_model()
    assert set(diagram.line_keys.tolist()) != {0}


def test_clicking_a_column_selects_its_layer(panel, qtbot):
    qtbot.mouseClick(panel.diagram, Qt.MouseButton.LeftButton, pos=cell_centre(panel, 2, 0))
    assert panel.editor.index == 1
    assert panel.layer_list.currentRow() == 2
    assert panel.editor_box.title() == "Hidden layer 2"
    panel.layer_list.setCurrentRow(1)
    assert panel.editor.index == 0 and panel.editor.units.value() == 128
    panel.layer_list.setCurrentRow(3)  # the output: no layer editor
    assert panel.editor.index == -1 and not panel.editor.fields.isVisible()


def test_training_disables_edits_but_not_the_diagram(panel, qtbot):
    panel.state.set_training(True)
    assert not panel.add_button.isEnabled() and not panel.remove_button.isEnabled()
    assert not panel.editor.isEnabled() and not panel.loss_combo.isEnabled()
    panel.show_snapshot(snapshot_for(panel.state.spec, 11, seed=4))
    qtbot.waitUntil(lambda: panel.diagram.step == 11)
    panel.state.set_training(False)
    assert panel.add_button.isEnabled() and panel.editor.isEnabled()


def test_loss_combo_is_bound_to_the_train_config(panel):
    state = panel.state
    combo = panel.loss_combo
    assert combo.currentData() == state.train_config.loss
    combo.setCurrentIndex(combo.findData("mse"))
    assert state.train_config.loss == "mse"
    assert panel.loss_note.text().startswith("softmax outputs, one-hot targets")
    config = state.train_config
    config.loss = "hinge"
    state.set_train_config(config)
    assert combo.currentText() == LOSSES["hinge"].label
    assert "raw scores, ±1 targets" in panel.loss_note.text()
    assert panel.diagram.columns[-1].subtitle == "10 · identity"


def test_binary_task_labels_its_two_outputs(panel):
    config = panel.state.data_config
    config.target_digit = 7
    panel.state.set_data_config(config)
    spec = panel.state.spec
    spec.output_size = 2
    panel.state.replace_spec(spec)
    title, _image, _text = panel.diagram.node_info(len(panel.diagram.columns) - 1, 1)
    assert title == "Output 7"


def test_context_menu_on_a_layer_inserts_and_removes(panel, qtbot):
    diagram = panel.diagram
    diagram.contextMenuRequested.disconnect(panel._context_menu)  # no modal menu in a test
    pos = cell_centre(panel, 2, 0)  # a neuron of hidden layer 2
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, diagram.mapToGlobal(pos))
    with qtbot.waitSignal(diagram.contextMenuRequested) as blocker:
        QApplication.sendEvent(diagram, event)
    assert blocker.args[0] == 1

    def actions(layer):
        return {action.text(): action for action in panel.layer_menu(layer).actions()}

    actions(1)["Insert layer before layer 2"].trigger()
    assert [h.units for h in panel.state.spec.hidden] == [128, 64, 64]
    actions(1)["Remove layer 2"].trigger()
    assert [h.units for h in panel.state.spec.hidden] == [128, 64]
    actions(-1)["Add hidden layer at the start"].trigger()
    assert len(panel.state.spec.hidden) == 3 and panel.editor.index == 0
    panel.state.set_training(True)
    assert not any(action.isEnabled() for action in actions(0).values())


def test_regression_data_shows_raw_outputs(panel, qtbot):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 2)).astype(np.float32)
    y = x[:, 0].astype(np.float32)
    data = prepare_arrays(x, y, x, y, x, y, "none", ["y"], task="regression")
    panel.state.set_data(data)
    spec = panel.state.spec
    assert (spec.input_size, spec.output_size) == (2, 1)
    assert panel.diagram.columns[-1].subtitle == "1 · regression"
    assert "regression" in panel.loss_note.text()
    assert "needs class labels" in panel.loss_note.text()  # cross-entropy cannot fit values
    assert "regression" in panel.loss_note.toolTip()
    panel.loss_combo.setCurrentIndex(panel.loss_combo.findData("mae"))
    assert panel.loss_note.text() == "regression: raw outputs\nagainst real-valued targets"
    panel.show_snapshot(snapshot_for(spec, 2, seed=0))
    qtbot.waitUntil(lambda: panel.diagram.step == 2)
    title, _image, text = panel.diagram.node_info(len(panel.diagram.columns) - 1, 0)
    assert title == "Output y"
    assert "raw output" in text and "probability" not in text
