import copy
import math
import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mlp_studio.core.activations import (
    ACTIVATIONS,
    ActivationSpec,
    Maxout,
    activation_problems,
    make_activation,
    sample_activation,
)
from mlp_studio.core.errors import SpecError

# Points avoid 0, where ReLU-like functions have a kink and autograd picks a side.
XS = np.linspace(-4, 4, 80)

REFERENCES = {
    "identity": lambda x: x,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": F.relu,
    "leaky_relu": lambda x: F.leaky_relu(x, 0.2),
    "elu": F.elu,
    "gelu": F.gelu,
    "silu": F.silu,
    "softplus": F.softplus,
    "custom": lambda x: x * torch.sigmoid(1.5 * x),
}


def spec_for(name: str) -> ActivationSpec:
    return ActivationSpec(name, slope=0.2, formula="x * sigmoid(1.5*x)")


def test_every_activation_except_maxout_has_a_reference():
    assert set(REFERENCES) == set(ACTIVATIONS) - {"maxout"}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_sampled_values_and_derivatives_match_torch(name):
    f, df = sample_activation(spec_for(name), XS)
    x = torch.tensor(XS, requires_grad=True)
    y = REFERENCES[name](x)
    (dy,) = torch.autograd.grad(y.sum(), x)
    assert f.dtype == np.float64 and f.shape == XS.shape and df.shape == XS.shape
    np.testing.assert_allclose(f, y.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(df, dy.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_module_matches_torch_in_float32_batches(name):
    x = torch.randn(16, 5)
    assert torch.allclose(make_activation(spec_for(name))(x), REFERENCES[name](x))


def test_known_derivatives():
    _, d_sigmoid = sample_activation(ActivationSpec("sigmoid"), XS)
    s = 1 / (1 + np.exp(-XS))
    np.testing.assert_allclose(d_sigmoid, s * (1 - s))
    _, d_leaky = sample_activation(ActivationSpec("leaky_relu", slope=0.3), XS)
    np.testing.assert_allclose(d_leaky, np.where(XS > 0, 1.0, 0.3))


def test_constant_custom_formula_has_zero_derivative():
    f, df = sample_activation(ActivationSpec("custom", formula="1"), XS)
    np.testing.assert_array_equal(f, np.ones_like(XS))
    np.testing.assert_array_equal(df, np.zeros_like(XS))


def test_maxout_has_no_fixed_curve_to_sample():
    with pytest.raises(SpecError, match="Maxout has no fixed curve"):
        sample_activation(ActivationSpec("maxout", pieces=3), XS)


def test_maxout_takes_the_max_of_consecutive_pieces():
    x = torch.tensor([[1.0, 5.0, 2.0, -1.0, -3.0, -2.0]])
    assert torch.equal(Maxout(3)(x), torch.tensor([[5.0, -1.0]]))
    assert torch.equal(Maxout(2)(x), torch.tensor([[5.0, 2.0, -2.0]]))
    module = make_activation(ActivationSpec("maxout", pieces=3))
    assert isinstance(module, Maxout) and module.pieces == 3


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (ActivationSpec("swish"), "unknown activation 'swish'"),
        (ActivationSpec("leaky_relu", slope=math.nan), "Leaky ReLU slope nan"),
        (ActivationSpec("leaky_relu", slope=math.inf), "Leaky ReLU slope inf"),
        (ActivationSpec("maxout", pieces=1), "maxout with 1 pieces: use 2 to 8"),
        (ActivationSpec("maxout", pieces=9), "maxout with 9 pieces: use 2 to 8"),
        (ActivationSpec("custom", formula="x.__class__"), "custom formula problem"),
        (ActivationSpec("custom", formula=""), "The formula is empty"),
    ],
)
def test_bad_activation_specs_are_explained(spec, message):
    assert message in activation_problems(spec)[0]
    with pytest.raises(SpecError, match="The activation"):
        make_activation(spec)
    with pytest.raises(SpecError):
        sample_activation(spec, XS)


def test_settings_of_other_activations_are_ignored():
    assert activation_problems(ActivationSpec("relu", slope=math.nan, pieces=0, formula="?")) == []


def test_activation_spec_dict_round_trip_and_type_checks():
    spec = ActivationSpec("custom", slope=0.5, pieces=4, formula="x^2")
    assert ActivationSpec.from_dict(spec.to_dict()) == spec
    assert ActivationSpec.from_dict({"slope": 1}).slope == 1.0
    with pytest.raises(SpecError, match="Unknown field 'colour' in activation"):
        ActivationSpec.from_dict({"name": "relu", "colour": "red"})
    with pytest.raises(SpecError, match=r"activation\.pieces must be a whole number"):
        ActivationSpec.from_dict({"pieces": 2.5})
    with pytest.raises(SpecError, match=r"activation\.slope must be a number"):
        ActivationSpec.from_dict({"slope": True})
    with pytest.raises(SpecError, match=r"activation\.name must be text"):
        ActivationSpec.from_dict({"name": 3})


def test_custom_activation_module_survives_copy_and_pickle():
    module = make_activation(ActivationSpec("custom", formula="x * tanh(softplus(x))"))
    x = torch.randn(10)
    for clone in (copy.deepcopy(module), pickle.loads(pickle.dumps(module))):
        assert torch.equal(clone(x), module(x))
        assert clone.text == module.text
