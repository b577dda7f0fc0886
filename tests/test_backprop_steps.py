import numpy as np
import pytest
import torch
from mlp_studio.core.activations import ActivationSpec
from mlp_studio.core.backprop_steps import backward_pass, gradient_check
from mlp_studio.core.errors import SpecError
from mlp_studio.core.losses import LOSSES, REGRESSION_LOSSES, loss_function
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model

BUILT_IN = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu", "silu",
            "softplus")
CUSTOM = ActivationSpec("custom", formula="x * sigmoid(1.5*x) + 0.1*sin(x)")


def _model(activation: ActivationSpec, outputs=4, seed=1, init="xavier"):
    layers = [LayerSpec(7, activation), LayerSpec(6, activation)]
    return build_model(NetworkSpec(input_size=5, hidden=layers, output_size=outputs,
                                   init=init, seed=seed))


def _sample(seed=0):
    return np.random.default_rng(seed).normal(0, 1.5, 5)


def _autograd(model, x, target, loss, task="classification"):
    """z, a, dL/da, dL/dz per layer and dL/dW, dL/db, by autograd in float64."""
    double = __import__("copy").deepcopy(model).double().eval()
    zs, as_ = [], []
    h = torch.as_tensor(x, dtype=torch.float64).reshape(1, -1)
    for module in double.net:
        h = module(h)
        if isinstance(module, torch.nn.Linear):
            zs.append(h)
        else:
            as_.append(h)
        h.retain_grad()
    yt = torch.tensor([float(target)], dtype=torch.float64) if task == "regression" else (
        torch.tensor([int(target)]))
    value = loss_function(loss, model.spec.output_size, task=task)(h, yt)
    value.backward()
    return value.item(), zs, as_, double.linears


@pytest.mark.parametrize("activation", [ActivationSpec(a, slope=0.05) for a in BUILT_IN]
                         + [CUSTOM], ids=[*BUILT_IN, "custom"])
def test_every_number_equals_autograd_for_each_activation(activation):
    model = _model(activation)
    x = _sample()
    passed = backward_pass(model, x, 2, "sparse_categorical_cross_entropy")
    loss, zs, as_, linears = _autograd(model, x, 2, "sparse_categorical_cross_entropy")
    assert passed.loss == pytest.approx(loss, rel=1e-12)
    assert [s.number for s in passed.backward_order] == [3, 2, 1]
    for index, step in enumerate(passed.layers):
        close = dict(rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(step.z, zs[index][0].detach().numpy(), **close)
        np.testing.assert_allclose(step.dL_dz, zs[index].grad[0].numpy(), **close)
        np.testing.assert_allclose(step.dL_dW, linears[index].weight.grad.numpy(), **close)
        np.testing.assert_allclose(step.dL_db, linears[index].bias.grad.numpy(), **close)
        if index < len(as_):  # hidden layers (the output's a is the loss's softmax)
            np.testing.assert_allclose(step.a, as_[index][0].detach().numpy(), **close)
            np.testing.assert_allclose(step.dL_da, as_[index].grad[0].numpy(), **close)
    out = passed.layers[-1]
    np.testing.assert_allclose(out.a, torch.softmax(zs[-1].detach(), 1)[0].numpy(), rtol=1e-12)
    np.testing.assert_allclose(out.dL_dz, out.a - np.eye(4)[2], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("loss", list(LOSSES))
def test_every_loss_gives_autograds_gradients(loss):
    model = _model(ActivationSpec("tanh"), seed=4)
    x = _sample(3)
    passed = backward_pass(model, x, 1, loss)
    value, zs, _as, linears = _autograd(model, x, 1, loss)
    assert passed.loss == pytest.approx(value, rel=1e-10)
    for index, step in enumerate(passed.layers):
        np.testing.assert_allclose(step.dL_dz, zs[index].grad[0].numpy(), rtol=1e-9, atol=1e-14)
        np.testing.assert_allclose(step.dL_dW, linears[index].weight.grad.numpy(), rtol=1e-9,
                                   atol=1e-14)


@pytest.mark.parametrize("loss", REGRESSION_LOSSES)
def test_regression_gradients_equal_autograds(loss):
    model = _model(ActivationSpec("relu"), outputs=1, seed=2)
    x = _sample(5)
    passed = backward_pass(model, x, 0.7, loss, task="regression")
    value, zs, _as, linears = _autograd(model, x, 0.7, loss, task="regression")
    assert passed.loss == pytest.approx(value, rel=1e-10)
    for index, step in enumerate(passed.layers):
        np.testing.assert_allclose(step.dL_dW, linears[index].weight.grad.numpy(), rtol=1e-9,
                                   atol=1e-14)


@pytest.mark.parametrize("name", BUILT_IN)
def test_gradient_check_below_one_in_a_million_for_built_in_activations(name):
    model = _model(ActivationSpec(name, slope=0.05), seed=7)
    x = _sample(9)
    passed = backward_pass(model, x, 3, "sparse_categorical_cross_entropy")
    checked = 0
    for layer, step in enumerate(passed.layers, start=1):
        for row, col in np.ndindex(*step.dL_dW.shape):  # every weight
            check = gradient_check(model, x, 3, "sparse_categorical_cross_entropy", layer, row,
                                   col, passed=passed)
            assert check.analytic == step.dL_dW[row, col]
            if abs(check.analytic) > 1e-4:  # below that, rounding in the difference dominates
                assert check.relative_error < 1e-6, (layer, row, col, check)
                checked += 1
    assert checked >= 20


def test_the_chain_rule_line_names_the_layers_it_links():
    passed = backward_pass(_model(ActivationSpec("sigmoid")), _sample(), 0,
                           "sparse_categorical_cross_entropy")
    assert "dL/dz² = (W³ᵀ · dL/dz³) ⊙ σ'(z²)" in passed.layers[1].chain
    assert "p − y" in passed.layers[2].chain


def test_networks_it_cannot_write_out_and_bad_choices_say_what_to_do():
    spec = NetworkSpec(input_size=5, hidden=[LayerSpec(4, batch_norm=True)], output_size=3)
    with pytest.raises(SpecError, match="batch norm"):
        backward_pass(build_model(spec), _sample(), 0, "mse")
    model = _model(ActivationSpec("relu"))
    with pytest.raises(SpecError, match="choose 1 to 3"):
        gradient_check(model, _sample(), 0, "mse", 4, 0, 0)
    with pytest.raises(SpecError, match="row 0 to 6 and a column 0 to 4"):
        gradient_check(model, _sample(), 0, "mse", 1, 7, 0)
    with pytest.raises(SpecError, match="takes 5"):
        backward_pass(model, np.zeros(3), 0, "mse")
