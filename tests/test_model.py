import dataclasses
import json
import math
import pickle

import pytest
import torch
from mlp_studio.core.activations import ActivationSpec, Formula, Maxout
from mlp_studio.core.errors import SpecError
from mlp_studio.core.model import (
    INITS,
    MLP,
    Dropout,
    LayerSpec,
    NetworkSpec,
    build_model,
    describe,
    parameter_count,
)
from torch import nn


def rich_spec() -> NetworkSpec:
    return NetworkSpec(
        input_size=20,
        hidden=[
            LayerSpec(16, ActivationSpec("custom", formula="x * sigmoid(1.5*x)"), 0.25, True),
            LayerSpec(8, ActivationSpec("maxout", pieces=3), batch_norm=True),
            LayerSpec(6, ActivationSpec("leaky_relu", slope=0.2), dropout=0.5),
        ],
        output_size=4,
        init="xavier",
        seed=7,
    )


# --- spec: JSON and validation ---------------------------------------------------------------


def test_defaults_match_the_contract():
    spec = NetworkSpec()
    assert (spec.input_size, spec.output_size, spec.init, spec.seed) == (784, 10, "he", 0)
    assert spec.hidden == [LayerSpec(128, ActivationSpec("relu"))]
    assert NetworkSpec().hidden is not spec.hidden
    assert spec.problems() == []


def test_json_round_trip_including_custom_formula():
    spec = rich_spec()
    text = spec.to_json()
    assert json.loads(text)["hidden"][0]["activation"]["formula"] == "x * sigmoid(1.5*x)"
    again = NetworkSpec.from_json(text)
    assert again == spec
    assert isinstance(again.hidden[0], LayerSpec)
    assert isinstance(again.hidden[0].activation, ActivationSpec)
    assert NetworkSpec.from_dict({}) == NetworkSpec()


def test_missing_fields_take_defaults():
    spec = NetworkSpec.from_json('{"hidden": [{"units": 5}], "output_size": 2}')
    assert spec.hidden == [LayerSpec(5)] and spec.output_size == 2 and spec.input_size == 784


def with_layer(**changes) -> NetworkSpec:
    return NetworkSpec(hidden=[LayerSpec(4), LayerSpec(**{"units": 3, **changes})])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (with_layer(units=0), "Hidden layer 2 has 0 neurons: give it at least 1."),
        (with_layer(units=-3), "Hidden layer 2 has -3 neurons: give it at least 1."),
        (with_layer(units=70000), "Hidden layer 2 has 70000 neurons: use a whole number"),
        (with_layer(dropout=-0.1), "Hidden layer 2 has dropout -0.1: use a value from 0"),
        (with_layer(dropout=1.0), "Hidden layer 2 has dropout 1.0: use a value from 0"),
        (with_layer(dropout=math.nan), "Hidden layer 2 has dropout nan"),
        (
            with_layer(activation=ActivationSpec("swish")),
            "Hidden layer 2 uses an unknown activation 'swish': choose one of identity,",
        ),
        (
            with_layer(activation=ActivationSpec("custom", formula="open('f')")),
            "Hidden layer 2 has a custom formula problem: Unknown function 'open'",
        ),
        (
            with_layer(activation=ActivationSpec("maxout", pieces=12)),
            "Hidden layer 2 has maxout with 12 pieces: use 2 to 8",
        ),
        (
            with_layer(units=30000, activation=ActivationSpec("maxout", pieces=4)),
            "keep units * pieces at most 65536",
        ),
        (
            with_layer(activation=ActivationSpec("leaky_relu", slope=math.inf)),
            "Hidden layer 2 has Leaky ReLU slope inf: use a finite number",
        ),
        (NetworkSpec(input_size=0), "The input size is 0: use a whole number from 1"),
        (NetworkSpec(output_size=0), "The output layer has 0 neurons"),
        (NetworkSpec(init="glorot"), "Unknown weight initialisation 'glorot': choose one of"),
        (NetworkSpec(seed=-1), "The seed -1 is not allowed"),
        (NetworkSpec(hidden=[LayerSpec(1)] * 101), "There are 101 hidden layers"),
        (
            NetworkSpec(input_size=60000, hidden=[LayerSpec(60000)]),
            "parameters: the limit is 100,000,000",
        ),
    ],
)
def test_each_problem_is_explained(spec, message):
    problems = spec.problems()
    assert len(problems) == 1 and message in problems[0]
    with pytest.raises(SpecError) as err:
        spec.validate()
    assert message in str(err.value)
    with pytest.raises(SpecError):
        build_model(spec)


def test_problems_lists_everything_at_once():
    spec = NetworkSpec(
        input_size=0,
        hidden=[LayerSpec(0, dropout=1.0), LayerSpec(3, ActivationSpec("nope"))],
        init="x",
    )
    problems = spec.problems()
    assert len(problems) == 5
    assert problems[1] == "Hidden layer 1 has 0 neurons: give it at least 1."
    with pytest.raises(SpecError) as err:
        spec.validate()
    assert str(err.value) == "\n".join(problems)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"hiden": []}', "Unknown field 'hiden' in network: allowed fields are input_size,"),
        ('{"hidden": [{"units": 3, "drop": 0.1}]}', "Unknown field 'drop' in network.hidden[0]"),
        (
            '{"hidden": [{"units": 3, "activation": {"nam": "relu"}}]}',
            "Unknown field 'nam' in network.hidden[0].activation",
        ),
        ('{"hidden": [{"units": "3"}]}', "network.hidden[0].units must be a whole number"),
        ('{"hidden": [{"units": 3.0}]}', "network.hidden[0].units must be a whole number"),
        ('{"hidden": [{"units": 3, "dropout": "0.5"}]}', "hidden[0].dropout must be a number"),
        ('{"hidden": [{"units": 3, "batch_norm": 1}]}', "hidden[0].batch_norm must be true or"),
        (
            '{"hidden": [{"units": 3, "activation": "relu"}]}',
            "network.hidden[0].activation must be a JSON object",
        ),
        ('{"hidden": [{"units": 3, "activation": {"slope": "a"}}]}', "activation.slope must be"),
        ('{"hidden": {"units": 3}}', "network.hidden must be a JSON list"),
        ('{"hidden": [{}]}', "network.hidden[0].units is missing"),
        ('{"hidden": [5]}', "network.hidden[0] must be a JSON object"),
        ('{"seed": 1.5}', "network.seed must be a whole number"),
        ('{"input_size": true}', "network.input_size must be a whole number"),
        ('{"init": null}', "network.init must be text"),
        ("[1, 2]", "network must be a JSON object, not list"),
        ('{"seed": }', "The network spec is not valid JSON"),
    ],
)
def test_bad_json_is_rejected_naming_the_field(text, message):
    with pytest.raises(SpecError) as err:
        NetworkSpec.from_json(text)
    assert message in str(err.value)


# --- building ---------------------------------------------------------------------------------


SPECS = [
    NetworkSpec(),
    NetworkSpec(input_size=5, hidden=[], output_size=3),
    rich_spec(),
    NetworkSpec(input_size=9, hidden=[LayerSpec(7, ActivationSpec("maxout", pieces=8))]),
    NetworkSpec(input_size=3, hidden=[LayerSpec(2, batch_norm=True)] * 4, output_size=1),
]


@pytest.mark.parametrize("spec", SPECS, ids=describe)
def test_parameter_count_matches_the_module(spec):
    model = build_model(spec)
    assert parameter_count(spec) == sum(p.numel() for p in model.parameters())


def test_layer_order_and_maxout_width():
    model = build_model(rich_spec())
    kinds = [type(m) for m in model.net]
    assert kinds == [
        nn.Linear, nn.BatchNorm1d, Formula, Dropout,
        nn.Linear, nn.BatchNorm1d, Maxout,
        nn.Linear, nn.LeakyReLU, Dropout,
        nn.Linear,
    ]  # fmt: skip
    assert [(m.in_features, m.out_features) for m in model.linears] == [
        (20, 16),
        (16, 24),
        (8, 6),
        (6, 4),
    ]
    assert model.net[2].text == "x * sigmoid(1.5*x)" and model.net[9].p == 0.5


def test_same_spec_gives_same_weights_and_leaves_global_rng_alone():
    for init in INITS:
        spec = dataclasses.replace(rich_spec(), init=init)
        torch.manual_seed(123)
        before = torch.get_rng_state()
        a, b = build_model(spec), build_model(spec)
        assert torch.equal(torch.get_rng_state(), before)
        for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
            assert torch.equal(p, q), name
    c = build_model(dataclasses.replace(rich_spec(), seed=8))
    assert not torch.equal(c.linears[0].weight, a.linears[0].weight)


def test_model_keeps_its_own_copy_of_the_spec():
    spec = rich_spec()
    model = build_model(spec)
    spec.hidden[0].units = 99
    assert model.spec == rich_spec() and model.layer_sizes() == [20, 16, 8, 6, 4]


def test_zeros_init_gives_zeros():
    model = build_model(dataclasses.replace(rich_spec(), init="zeros"))
    for linear in model.linears:
        assert not linear.weight.any() and not linear.bias.any()


def wide(init: str, activation: str = "relu") -> MLP:
    layer = LayerSpec(800, ActivationSpec(activation, slope=0.5))
    return build_model(NetworkSpec(input_size=1000, hidden=[layer], output_size=300, init=init))


def test_he_init_std_is_sqrt_two_over_fan_in():
    model = wide("he")
    for linear in model.linears:
        fan_in = linear.in_features
        assert linear.weight.std().item() == pytest.approx(math.sqrt(2 / fan_in), rel=0.03)
        assert linear.weight.mean().item() == pytest.approx(0, abs=0.005)
        assert not linear.bias.any()
    leaky = wide("he", "leaky_relu").linears[0]
    assert leaky.weight.std().item() == pytest.approx(math.sqrt(2 / 1.25 / 1000), rel=0.03)


def test_normal_xavier_and_default_inits():
    normal = wide("normal").linears[0]
    assert normal.weight.std().item() == pytest.approx(0.01, rel=0.03)
    assert not normal.bias.any()
    xavier = wide("xavier").linears[0]
    bound = math.sqrt(6 / (1000 + 800))
    assert xavier.weight.abs().max().item() <= bound
    assert xavier.weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.03)
    default = wide("default").linears[0]  # torch's own: uniform within 1 / sqrt(fan_in)
    assert default.weight.abs().max().item() <= 1 / math.sqrt(1000)
    assert default.bias.abs().max().item() <= 1 / math.sqrt(1000) and default.bias.any()


# --- running ----------------------------------------------------------------------------------


def test_forward_with_activations_shapes_and_values():
    model = build_model(rich_spec()).eval()
    x = torch.randn(5, 20)
    out, acts = model.forward_with_activations(x)
    assert out.shape == (5, 4)
    assert [a.shape for a in acts] == [(5, 16), (5, 8), (5, 6)]
    assert torch.equal(out, model(x))
    assert model.layer_sizes() == [20, 16, 8, 6, 4]
    none_hidden = build_model(NetworkSpec(input_size=3, hidden=[], output_size=2))
    out, acts = none_hidden.forward_with_activations(torch.randn(2, 3))
    assert out.shape == (2, 2) and acts == []


def test_activations_are_captured_before_dropout():
    layer = LayerSpec(50, ActivationSpec("identity"), dropout=0.9)
    model = build_model(NetworkSpec(input_size=4, hidden=[layer], output_size=2)).train()
    x = torch.randn(8, 4)
    _, (act,) = model.forward_with_activations(x)
    assert torch.allclose(act, model.linears[0](x))


def test_forward_registers_no_hooks():
    model = build_model(rich_spec())
    model.forward_with_activations(torch.randn(3, 20))
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_dropout_is_active_only_in_train_mode():
    layer = LayerSpec(64, dropout=0.5)
    model = build_model(NetworkSpec(input_size=10, hidden=[layer], output_size=3))
    x = torch.randn(32, 10)
    model.train()
    assert not torch.equal(model(x), model(x))
    model.eval()
    first = model(x)
    assert torch.equal(first, model(x))
    no_dropout = build_model(dataclasses.replace(model.spec, hidden=[LayerSpec(64)])).eval()
    assert torch.allclose(first, no_dropout(x))  # eval-mode dropout is the identity


def test_model_with_custom_activation_pickles():
    model = build_model(rich_spec()).eval()
    clone = pickle.loads(pickle.dumps(model))
    x = torch.randn(4, 20)
    assert torch.equal(clone(x), model(x))


def test_describe():
    assert describe(NetworkSpec(hidden=[LayerSpec(256), LayerSpec(128)])) == (
        "784-256(relu)-128(relu)-10"
    )
    assert describe(rich_spec()) == (
        "20-16(f(x)=x * sigmoid(1.5*x), bn, dropout 0.25)-8(maxout k=3, bn)"
        "-6(leaky_relu 0.2, dropout 0.5)-4"
    )


def test_tiny_mlp_with_custom_activation_learns_xor():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(256, 2, generator=gen) * 2 - 1
    y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).long()
    layer = LayerSpec(16, ActivationSpec("custom", formula="max(0, x) + 0.1*sin(x)"))
    model = build_model(NetworkSpec(input_size=2, hidden=[layer], output_size=2, seed=1))
    optimiser = torch.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(150):
        loss = nn.functional.cross_entropy(model(x), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]
    assert (model(x).argmax(1) == y).float().mean() > 0.9


def test_activations_of_runs_in_evaluation_mode_and_restores_the_mode():
    from mlp_studio.core.model import activations_of

    spec = NetworkSpec(input_size=4, hidden=[LayerSpec(8, dropout=0.5)], output_size=3)
    model = build_model(spec)
    model.train()
    x = torch.ones(2, 4)
    first, _ = activations_of(model, x)
    second, acts = activations_of(model, x)
    torch.testing.assert_close(first, second)  # dropout off: the same answer twice
    assert model.training and [a.shape for a in acts] == [(2, 8)]


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_dropout_drops_its_share_and_keeps_the_expectation(p):
    layer = Dropout(p)
    x = torch.ones(400, 500, requires_grad=True)
    torch.manual_seed(0)
    y = layer(x)
    dropped = float((y == 0).float().mean())
    assert abs(dropped - p) < 0.005
    assert abs(float(y.detach().mean()) - 1) < 0.01
    assert torch.allclose(y[y != 0], torch.tensor(1 / (1 - p)))
    y.sum().backward()  # the gradient flows through the kept units only, scaled alike
    assert torch.equal(x.grad, y.detach())
    layer.eval()
    assert layer(x) is x
