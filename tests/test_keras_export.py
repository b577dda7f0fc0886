"""Export to Keras' .keras format: loaded by Keras itself (torch backend) and by the studio."""

import functools
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from mlp_studio.core.activations import ActivationSpec, make_activation
from mlp_studio.core.data import Normalization, fit_normalization
from mlp_studio.core.errors import ExportError
from mlp_studio.core.export import ModelBundle, inference_module
from mlp_studio.core.foreign_layers import FORMULAS
from mlp_studio.core.keras_export import export_keras
from mlp_studio.core.keras_import import import_keras
from mlp_studio.core.losses import canonical_loss
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model, parameter_count

os.environ.setdefault("KERAS_BACKEND", "torch")  # Keras 3 on torch: no TensorFlow needed
# Keras' torch backend converts outputs with np.array(copy=False) semantics numpy 2 warns about
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

DIGITS = [str(d) for d in range(10)]
RNG = np.random.default_rng(0)
RAW = np.where(RNG.random((64, 784)) < 0.8, 0.0, RNG.uniform(0, 255, (64, 784)))
RAW = RAW.astype(np.float32)
EVERY_ACTIVATION = [
    ActivationSpec("identity"), ActivationSpec("sigmoid"), ActivationSpec("tanh"),
    ActivationSpec("relu"), ActivationSpec("leaky_relu", slope=0.1), ActivationSpec("elu"),
    ActivationSpec("gelu"), ActivationSpec("silu"), ActivationSpec("softplus"),
    ActivationSpec("maxout", pieces=3), ActivationSpec("custom", formula=FORMULAS["selu"]),
]


def keras():
    return pytest.importorskip("keras")


def busy_bundle(loss: str, normalization: Normalization, task: str = "classification"):
    """Every activation, batch norm with moved statistics and dropout in one network."""
    hidden = [LayerSpec(12, act, 0.2 * (i % 2), i % 3 == 0)
              for i, act in enumerate(EVERY_ACTIVATION)]
    outputs = 1 if task == "regression" else 10
    spec = NetworkSpec(784, hidden, outputs, "xavier", 3)
    model = build_model(spec)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for module in model.net:
            if isinstance(module, torch.nn.BatchNorm1d):
                for tensor in (module.running_mean, module.weight, module.bias):
                    tensor.copy_(torch.rand(tensor.shape, generator=generator) - 0.5)
                variance = module.running_var
                variance.copy_(torch.rand(variance.shape, generator=generator) + 0.5)
                module.num_batches_tracked.fill_(7)  # a trained model's counter
    names = ["y"] if task == "regression" else DIGITS
    return ModelBundle(spec, normalization, loss, names, model.state_dict(), task)


def live(bundle: ModelBundle, raw: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return inference_module(bundle)(torch.from_numpy(raw)).numpy()


NORMALIZATIONS = {
    "unit": Normalization("unit", np.zeros(784), np.full(784, 255.0)),
    "symmetric": Normalization("symmetric", np.full(784, 127.5), np.full(784, 127.5)),
    "per_pixel": Normalization("per_pixel", RNG.uniform(0, 100, 784), RNG.uniform(20, 90, 784)),
}


@pytest.mark.parametrize(("loss", "norm"), [
    ("cross-entropy", "per_pixel"), ("binary_cross_entropy", "unit"), ("hinge", "symmetric"),
    ("mse", "unit")])
def test_keras_loads_the_export_and_gives_the_same_probabilities(tmp_path, loss, norm):
    k = keras()
    bundle = busy_bundle(loss, NORMALIZATIONS[norm])
    model = k.saving.load_model(export_keras(bundle, tmp_path / "m.keras"))
    got = np.asarray(model.predict(RAW, verbose=0))
    np.testing.assert_allclose(got, live(bundle, RAW), rtol=0, atol=1e-5)
    np.testing.assert_allclose(got.sum(1), 1, atol=1e-5)  # probabilities out
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == parameter_count(bundle.spec)


def test_regression_export_gives_values(tmp_path):
    k = keras()
    bundle = busy_bundle("mse", NORMALIZATIONS["unit"], task="regression")
    model = k.saving.load_model(export_keras(bundle, tmp_path / "r.keras"))
    got = np.asarray(model.predict(RAW, verbose=0))
    assert got.shape == (64, 1)
    np.testing.assert_allclose(got, live(bundle, RAW), rtol=0, atol=1e-4)


def test_the_formulas_are_keras_own_activations():
    k = keras()
    xs = np.linspace(-8, 8, 2001).astype(np.float32)
    for name, formula in FORMULAS.items():
        expected = k.ops.convert_to_numpy(k.activations.get(name)(k.ops.convert_to_tensor(xs)))
        got = make_activation(ActivationSpec("custom", formula=formula))(torch.from_numpy(xs))
        np.testing.assert_allclose(got.detach().numpy(), expected, atol=1e-6, err_msg=name)


@functools.cache
def trained_on_mnist(folder: Path) -> tuple[ModelBundle, np.ndarray]:
    from mlp_studio.core.mnist import load_folder

    mnist = load_folder(folder)
    raw = mnist.train_images.reshape(-1, 784).astype(np.float32)
    normalization = fit_normalization("per_pixel", raw)
    spec = NetworkSpec(784, [LayerSpec(64, ActivationSpec("relu"), 0.1, True),
                             LayerSpec(32, ActivationSpec("gelu"))], 10)
    model = build_model(spec)
    x = normalization.apply(torch.from_numpy(raw))
    y = torch.from_numpy(mnist.train_labels.astype(np.int64))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    for _ in range(300):
        batch = torch.randint(0, len(x), (128,), generator=generator)
        loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    bundle = ModelBundle(spec, normalization, "cross-entropy", DIGITS, model.state_dict())
    return bundle, mnist


@pytest.mark.mnist
def test_keras_matches_the_studio_on_the_mnist_test_set(tmp_path, mnist_dir):
    k = keras()
    bundle, mnist = trained_on_mnist(mnist_dir)
    raw = mnist.test_images.reshape(-1, 784).astype(np.float32)
    model = k.saving.load_model(export_keras(bundle, tmp_path / "mnist.keras"))
    got = np.asarray(model.predict(raw, batch_size=1000, verbose=0))
    expected = live(bundle, raw)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    assert (got.argmax(1) == mnist.test_labels).mean() > 0.9  # really a trained model


@pytest.mark.parametrize("loss", ["cross-entropy", "binary_cross_entropy", "hinge"])
def test_round_trip_gives_identical_weights(tmp_path, loss):
    bundle = busy_bundle(loss, NORMALIZATIONS["per_pixel"])
    back = import_keras(export_keras(bundle, tmp_path / "m.keras"))
    assert back.spec == bundle.spec
    assert back.class_names == bundle.class_names
    assert back.loss == canonical_loss(bundle.loss)
    np.testing.assert_array_equal(back.normalization.mean, bundle.normalization.mean)
    np.testing.assert_array_equal(back.normalization.std, bundle.normalization.std)
    assert back.state_dict.keys() == bundle.state_dict.keys()
    for key, value in bundle.state_dict.items():
        assert torch.equal(back.state_dict[key], value), key


def test_without_its_description_the_layers_alone_give_the_same_model(tmp_path):
    """A .keras written by the studio and saved again by Keras loses metadata.json's
    description: the layers themselves rebuild the same network."""
    bundle = busy_bundle("binary_cross_entropy", NORMALIZATIONS["symmetric"])
    path = export_keras(bundle, tmp_path / "m.keras")
    stripped = tmp_path / "stripped.keras"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(stripped, "w") as dst:
        for name in src.namelist():
            data = b'{"keras_version": "3.15.1"}' if name == "metadata.json" else src.read(name)
            dst.writestr(name, data)
    back = import_keras(stripped)
    assert back.spec.hidden == bundle.spec.hidden
    assert back.loss == "binary_cross_entropy" and back.normalization.kind == "symmetric"
    np.testing.assert_allclose(live(back, RAW), live(bundle, RAW), rtol=0, atol=1e-6)


def test_a_custom_formula_without_keras_equivalent_is_refused_by_layer(tmp_path):
    spec = NetworkSpec(784, [LayerSpec(8, ActivationSpec("relu")),
                             LayerSpec(8, ActivationSpec("custom", formula="x*sigmoid(1.5*x)"))])
    bundle = ModelBundle(spec, NORMALIZATIONS["unit"], "cross-entropy", DIGITS,
                         build_model(spec).state_dict())
    with pytest.raises(ExportError, match=r"hidden layer 2 uses the custom formula"):
        export_keras(bundle, tmp_path / "m.keras")
    assert not (tmp_path / "m.keras").exists()


def test_keras_check_and_snippet(tmp_path):
    keras()
    from mlp_studio.core.keras_check import keras_snippet, verify_with_keras

    bundle = busy_bundle("cross-entropy", NORMALIZATIONS["unit"])
    path = export_keras(bundle, tmp_path / "m.keras")
    assert verify_with_keras(bundle, path, RAW[:16]) < 1e-5
    snippet = keras_snippet(path, bundle)
    namespace: dict = {}
    exec(compile(snippet.replace("model.summary()\n", ""), "snippet", "exec"), namespace)
    assert namespace["probabilities"].shape == (1, 10)
    state = dict(bundle.state_dict)
    state["net.31.bias"] = state["net.31.bias"] + torch.arange(10.0)
    other = ModelBundle(bundle.spec, bundle.normalization, bundle.loss, DIGITS, state)
    assert verify_with_keras(other, path, RAW[:16]) > 0.1  # another model: caught
