"""The Backprop dock: steps through one sample's backward pass, its numbers are autograd's, the
number under the mouse is read out, and the gradient check shows a tiny relative error."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.app.panels.backprop.backprop_panel import BackpropPanel
from mlp_studio.core.activations import ActivationSpec
from mlp_studio.core.data import DataConfig, prepare_arrays, prepare_mnist
from mlp_studio.core.losses import loss_function
from mlp_studio.core.model import LayerSpec, NetworkSpec
from PySide6.QtCore import QPointF
from test_gui_main import small_mnist  # noqa: F401


@pytest.fixture
def panel(qtbot, small_mnist):  # noqa: F811
    state = Experiment()
    state.replace_spec(NetworkSpec(hidden=[LayerSpec(16), LayerSpec(12, ActivationSpec("tanh"))]))
    state.set_data(prepare_mnist(small_mnist, DataConfig()))
    state.ensure_model()  # weights, as after training
    panel = BackpropPanel(state)
    qtbot.addWidget(panel)
    panel.resize(900, 640)
    panel.show()
    panel.show_sample(5)
    return panel


def test_steps_backwards_through_every_layer_with_autograds_numbers(panel):
    state = panel.state
    assert state.probe_index == 5 and panel.sample.value() == 5
    # Autograd on the same sample, float64.
    model = state.model
    double = copy.deepcopy(model).double().eval()
    x = state.data.x_val[5:6].double()
    y = state.data.y_val[5:6]
    loss_function("sparse_categorical_cross_entropy", 10)(double(x), y).backward()
    assert panel.passed.loss == pytest.approx(
        loss_function("sparse_categorical_cross_entropy", 10)(double(x), y).item(), rel=1e-12)

    seen = []
    for position in range(3):
        panel.go_to(position)
        step = panel.maps.step
        seen.append(step.number)
        assert panel.step_label.text().startswith(f"Step {position + 1} of 3")
        np.testing.assert_allclose(step.dL_dW, double.linears[step.number - 1].weight.grad,
                                   rtol=1e-9, atol=1e-15)
        shown = panel.maps.images["dL_dW"].image
        np.testing.assert_array_equal(shown, step.dL_dW)
        assert panel.maps.images["z"].image.shape == (len(step.z), 1)
    assert seen == [3, 2, 1]  # output layer first
    assert "dL/dz² = (W³ᵀ · dL/dz³) ⊙ tanh'(z²)" in panel.passed.layers[1].chain
    panel.go_to(1)
    assert "tanh'(z²)" in panel.chain.text()
    panel.go_to(2)
    assert not panel.next.isEnabled() and panel.previous.isEnabled()


def test_hovering_reads_the_number_and_clicking_checks_that_weight(panel, qtbot):
    panel.go_to(0)  # the output layer: dL/dW is 10 x 12
    maps = panel.maps
    plot = maps.plots["dL_dW"]
    point = plot.vb.mapViewToScene(QPointF(3.5, 7.5))  # column 3, row 7
    key, row, col, value = maps.value_at(point)
    assert (key, row, col) == ("dL_dW", 7, 3)
    assert value == maps.step.dL_dW[7, 3]
    maps._hover(point)
    assert f"dL/dW³[7, 3] = {value:.6g}" in maps.readout.text()
    maps.on_pick(row, col)
    assert (panel.check_layer.value(), panel.check_row.value(), panel.check_col.value()) == (
        3, 7, 3)
    assert "relative error" in panel.check_result.text()


def test_the_gradient_check_agrees_to_one_part_in_a_million(panel):
    panel.go_to(2)  # the first hidden layer: its largest gradient is preselected
    panel.check_gradient()
    text = panel.check_result.text()
    error = float(text.split("relative error ")[1].split(":")[0])
    assert error < 1e-6 and "agree" in text


def test_a_small_network_shows_every_number_and_a_large_one_does_not_offer_it(panel, qtbot):
    assert not panel.every_number.isEnabled()  # 784 inputs: too many numbers to read
    state = Experiment()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    state.replace_spec(NetworkSpec(input_size=2, hidden=[LayerSpec(4, ActivationSpec("tanh"))],
                                   output_size=2))
    state.set_data(prepare_arrays(x, y, x, y, x, y, "none", ["a", "b"]))
    small = BackpropPanel(state)
    qtbot.addWidget(small)
    small.show()
    small.show_sample(0)
    assert small.every_number.isEnabled()
    small.every_number.setChecked(True)
    text = small.numbers.toPlainText()
    assert small.views.currentWidget() is small.numbers
    w = small.passed.layers[0].dL_dW
    assert f"{w[0, 0]:+.4e}" in text and "output layer" in text and "hidden layer 1" in text


def test_without_data_or_with_batch_norm_it_says_what_to_do(qtbot, small_mnist):  # noqa: F811
    state = Experiment()
    panel = BackpropPanel(state)
    qtbot.addWidget(panel)
    panel.show()
    assert "Load data first" in panel.problem.text() and not panel.check_button.isEnabled()
    state.set_data(prepare_mnist(small_mnist, DataConfig()))
    state.edit_spec(NetworkSpec(hidden=[LayerSpec(8, batch_norm=True)]), "batch norm")
    assert "batch norm" in panel.problem.text() and panel.problem.isVisible()
    state.undo_stack.undo()
    assert not panel.problem.isVisible() and panel.passed is not None
    # Without weights it shows the seeded ones training would start from, and sets none.
    assert state.model is None
    assert panel.passed.layers[0].z.shape == (128,)
