"""The Keras preset (issue 14): Keras' RMSprop formula, its epsilons and init, and training on
all 60,000 with the test set as the validation data, in the engine and on the command line."""

import json

import numpy as np
import pytest
import torch
from idx_fixtures import mnist_like, write_mnist_folder
from mlp_studio.core.cli import main
from mlp_studio.core.data import DataConfig, SplitConfig, prepare_mnist
from mlp_studio.core.errors import SpecError
from mlp_studio.core.mnist import MnistArrays
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model
from mlp_studio.core.optimizers import FusedRMSprop, KerasRMSprop, make_optimizer
from mlp_studio.core.presets import KERAS, matches, preset_named, with_preset
from mlp_studio.core.run_checks import run_problems
from mlp_studio.core.train_config import TrainConfig
from mlp_studio.core.training import Trainer


def keras_rmsprop_reference(w, grads, lr, rho, eps):
    """Keras 3's RMSprop.update_step without momentum, in float64 numpy."""
    v = np.zeros_like(w)
    for g in grads:
        v = rho * v + (1 - rho) * g * g
        w = w - lr * g / np.sqrt(v + eps)
    return w, v


@pytest.mark.parametrize("scale", [1.0, 1e-5])  # tiny gradients: where the formulas differ
def test_keras_rmsprop_steps_as_keras_computes(scale):
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((6, 4))
    grads = [scale * rng.standard_normal((6, 4)) for _ in range(50)]
    p = torch.tensor(w0, dtype=torch.float64)
    opt = KerasRMSprop([p], lr=1e-3, alpha=0.9, eps=1e-7)
    for g in grads:
        p.grad = torch.tensor(g)
        opt.step()
    want_w, want_v = keras_rmsprop_reference(w0, grads, 1e-3, 0.9, 1e-7)
    np.testing.assert_allclose(p.detach().numpy(), want_w, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(opt.state[p]["square_avg"].numpy(), want_v, rtol=1e-12)
    # torch's formula moves tiny gradients a full step; Keras' floors the divisor at ~3e-4
    torch_p = torch.tensor(w0, dtype=torch.float64)
    torch_opt = torch.optim.RMSprop([torch_p], lr=1e-3, alpha=0.9, eps=1e-7)
    for g in grads:
        torch_p.grad = torch.tensor(g)
        torch_opt.step()
    ratio = np.abs(torch_p.detach().numpy() - w0).sum() / np.abs(want_w - w0).sum()
    assert ratio == pytest.approx(1.0, abs=1e-3) if scale == 1.0 else ratio > 10


def test_make_optimizer_takes_rho_epsilon_and_the_keras_formula():
    params = list(build_model(NetworkSpec(4, [LayerSpec(3)], 2)).parameters())
    fused = make_optimizer(params, TrainConfig(optimizer="rmsprop", rho=0.9, epsilon=1e-7))
    assert isinstance(fused, FusedRMSprop)
    assert fused.defaults["alpha"] == 0.9 and fused.defaults["eps"] == 1e-7
    keras = make_optimizer(params, TrainConfig(optimizer="rmsprop", epsilon_in_sqrt=True))
    assert isinstance(keras, KerasRMSprop)
    adam = make_optimizer(params, TrainConfig(optimizer="adam", epsilon=1e-7))
    assert adam.defaults["eps"] == 1e-7


def test_settings_out_of_range_are_refused_with_the_allowed_range():
    assert "RMSprop ρ" in " ".join(TrainConfig(rho=1.5).problems())
    assert "Epsilon" in " ".join(TrainConfig(epsilon=-1.0).problems())
    assert "true or false" in " ".join(TrainConfig(epsilon_in_sqrt="yes").problems())
    with pytest.raises(SpecError, match="Unknown preset"):
        preset_named("caffe")


def tiny_mnist(n_train=300, n_test=100) -> MnistArrays:
    x, y = mnist_like(n_train + n_test, seed=3)
    return MnistArrays(x[:n_train], y[:n_train], x[n_train:], y[n_train:], "fixture")


def test_test_as_val_trains_on_every_training_image_and_validates_on_the_test_set():
    data = prepare_mnist(tiny_mnist(), DataConfig(split=SplitConfig(mode="test_as_val")))
    assert len(data.x_train) == 300 and data.val_is_test
    assert sorted(data.indices["train"]) == list(range(300))
    assert data.x_val is data.x_test and len(data.x_test) == 100
    spec = NetworkSpec(784, [LayerSpec(8)], 10)
    keep_best = TrainConfig(epochs=1)
    assert any("test set" in p for p in run_problems(spec, keep_best, data))
    with pytest.raises(SpecError, match="test results"):
        Trainer(build_model(spec), data, keep_best).run()
    assert run_problems(spec, TrainConfig(epochs=1, restore_best=False), data) == []


def test_with_preset_sets_every_keras_default_and_matches_says_so():
    spec, train, data = NetworkSpec(784, [LayerSpec(8)], 10), TrainConfig(), DataConfig()
    assert not matches(KERAS, spec, train, data)
    new_spec, new_train, new_data = with_preset(KERAS, spec, train, data)
    assert (new_spec.init, new_train.rho, new_train.epsilon) == ("xavier", 0.9, 1e-7)
    assert new_train.epsilon_in_sqrt and not new_train.restore_best
    assert new_data.split.mode == "test_as_val"
    assert matches(KERAS, new_spec, new_train, new_data)
    assert spec.init == "he" and train.rho == 0.99  # the originals are untouched


def test_cli_preset_keras_trains_and_options_given_override_it(tmp_path, capsys):
    folder = write_mnist_folder(tmp_path / "mnist", n_train=600, n_test=200)
    out = tmp_path / "m.json"
    code = main(["train", "--data", str(folder), "--preset", "keras", "--optimizer", "rmsprop",
                 "--rho", "0.95", "--hidden", "16", "--epochs", "2", "--quiet",
                 "--metrics-json", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    assert len(report["epochs"]) == 2
    captured = capsys.readouterr()
    assert "last epoch" in captured.out + captured.err  # as Keras reports
    assert "train 600" in captured.err and "val 200" in captured.err


def test_cli_refuses_the_test_split_for_choosing_the_best_epoch(tmp_path, capsys):
    folder = write_mnist_folder(tmp_path / "mnist", n_train=300, n_test=100)
    code = main(["train", "--data", str(folder), "--split", "test_as_val", "--epochs", "1",
                 "--quiet"])
    assert code == 2
    assert "test results" in capsys.readouterr().err


def test_cli_recipe_sets_the_network_and_given_options_win():
    from mlp_studio.core.cli.arguments import (
        build_parser,
        given_options,
        spec_from_args,
        train_config_from_args,
    )
    from mlp_studio.core.presets import preset_options

    argv = ["train", "--preset", "keras-mnist-mlp", "--epochs", "3"]
    args = build_parser().parse_args(argv)
    preset_options(preset_named(args.preset), args, given_options(argv))
    spec = spec_from_args(args, 10, 784)
    assert [layer.units for layer in spec.hidden] == [512, 512]
    assert all(layer.dropout == 0.2 for layer in spec.hidden) and spec.init == "xavier"
    config = train_config_from_args(args)
    assert (config.optimizer, config.epochs, config.rho) == ("rmsprop", 3, 0.9)
    assert args.split == "test_as_val" and not config.restore_best
