"""core.sweep_runs: a studio's settings as train options and back, through the one table of
settings (core.run_settings.SETTINGS): every setting of it round-trips."""

import pytest
from mlp_studio.core.activations import ActivationSpec
from mlp_studio.core.cli.arguments import (
    data_config_from_args,
    spec_from_args,
    train_config_from_args,
)
from mlp_studio.core.data import BalanceConfig, DataConfig, SplitConfig
from mlp_studio.core.model import LayerSpec, NetworkSpec
from mlp_studio.core.run_settings import SETTINGS, RunSettings
from mlp_studio.core.sweep_runs import options_from_settings
from mlp_studio.core.train_config import TrainConfig

# A value other than the base's for every setting of the table (a setting added there must be
# given one here, and then round-trip).
CHANGED = {
    "hidden": [64, 32],
    "activation": "tanh,elu",
    "init": "xavier",
    "dropout": [0.2, 0.1],
    "batch-norm": True,
    "leaky-slope": 0.2,
    "maxout-pieces": 3,
    "formula": "x*sigmoid(x)",
    "optimizer": "rmsprop",
    "lr": 0.02,
    "momentum": 0.5,
    "rho": 0.9,
    "epsilon": 1e-7,
    "epsilon-in-sqrt": True,
    "weight-decay": 1e-4,
    "l1": 1e-5,
    "loss": "mse",
    "schedule": "cosine",
    "step-epochs": 3,
    "gamma": 0.3,
    "batch-size": 64,
    "epochs": 7,
    "best-by": "loss",
    "divergence-factor": 50.0,
    "normalization": "standardize",
    "remedy": "oversample",
}


def _base() -> RunSettings:
    spec = NetworkSpec(784, [LayerSpec(128), LayerSpec(32, ActivationSpec("gelu"))], 10, "he", 3)
    train = TrainConfig(seed=3, restore_best=False, stats_every=20)
    data = DataConfig(split=SplitConfig(val_fraction=0.2, subset=5000, seed=4),
                      balance=BalanceConfig(keep_fractions=(0.5,) + (1.0,) * 9))
    return RunSettings(spec, train, data)


def _round_trip(run: RunSettings) -> RunSettings:
    args = options_from_settings(run.spec, run.train, run.data, "/some/mnist")
    assert args.data == "/some/mnist"
    return RunSettings(spec_from_args(args, run.spec.output_size, run.spec.input_size),
                       train_config_from_args(args), data_config_from_args(args))


def test_every_setting_of_the_table_has_a_value_here():
    assert set(CHANGED) == set(SETTINGS)


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_every_setting_of_the_table_round_trips(name):
    setting = SETTINGS[name]
    base = _base()
    run = setting.apply(base, CHANGED[name])
    assert setting.read(run) != setting.read(base)  # the value changes the run
    back = _round_trip(run)
    assert setting.read(back) == setting.read(run)
    assert back == run  # and nothing else moved


def test_all_settings_changed_at_once_round_trip():
    run = _base()
    for name, value in CHANGED.items():
        if name != "formula":  # a formula makes every layer custom: activation would not show
            run = SETTINGS[name].apply(run, value)
    assert _round_trip(run) == run


def test_a_formula_left_on_a_layer_of_another_activation_is_not_carried():
    # `pair --change activation=relu` on a custom network keeps the formula on its layers;
    # as a --formula option it would make every layer custom again.
    run = SETTINGS["activation"].apply(SETTINGS["formula"].apply(_base(), "x*2"), "relu")
    assert SETTINGS["formula"].read(run) == ""
    back = _round_trip(run)
    assert [layer.activation.name for layer in back.spec.hidden] == ["relu", "relu"]
