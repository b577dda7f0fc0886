"""Import of Keras (.keras, legacy .h5) and ONNX models as studio models: read as data, the
same predictions as the framework that made them, and anything not an MLP refused by name."""

import os
import warnings

import numpy as np
import pytest
import torch
from mlp_studio.core.activations import ActivationSpec
from mlp_studio.core.data import Normalization
from mlp_studio.core.errors import ExportError
from mlp_studio.core.export import ModelBundle, export_onnx, inference_module
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model
from mlp_studio.core.model_import import InputRangeNeeded, import_model

os.environ.setdefault("KERAS_BACKEND", "torch")  # Keras 3 on torch: no TensorFlow needed
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

RNG = np.random.default_rng(0)
RAW = np.where(RNG.random((200, 784)) < 0.8, 0.0, RNG.uniform(0, 255, (200, 784)))
RAW = RAW.astype(np.float32)
LABELS = RNG.integers(0, 10, 200)


def live(bundle: ModelBundle, raw: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return inference_module(bundle)(torch.from_numpy(raw)).numpy()


@pytest.fixture(scope="module")
def keras_model():
    """A Keras MLP of every kind of layer the importer takes, trained for one epoch."""
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((28, 28)), layers.Flatten(), layers.Rescaling(1 / 255),
        layers.Normalization(mean=0.1307, variance=0.3081**2),
        layers.Dense(48), layers.BatchNormalization(), layers.Activation("relu"),
        layers.Dropout(0.2),
        layers.Dense(32, activation="selu"),
        layers.Dense(24), layers.LeakyReLU(negative_slope=0.2),
        layers.Dense(16, activation="swish"),
        layers.Dense(10), layers.Softmax(),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(RAW.reshape(-1, 28, 28), LABELS, epochs=1, batch_size=50, verbose=0)
    return model


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_a_keras_model_trained_here_gives_the_same_predictions(tmp_path, keras_model, suffix):
    path = tmp_path / f"trained{suffix}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras calls .h5 legacy
        keras_model.save(path)
    bundle = import_model(path)
    expected = np.asarray(keras_model.predict(RAW.reshape(-1, 28, 28), verbose=0))
    got = live(bundle, RAW)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    assert (got.argmax(1) == expected.argmax(1)).all()
    hidden = bundle.spec.hidden
    assert [h.units for h in hidden] == [48, 32, 24, 16]
    assert hidden[0].batch_norm and hidden[0].dropout == pytest.approx(0.2)
    assert [h.activation.name for h in hidden] == ["relu", "custom", "leaky_relu", "silu"]
    assert hidden[2].activation.slope == pytest.approx(0.2)
    assert bundle.loss == "sparse_categorical_cross_entropy"
    assert bundle.class_names == [str(d) for d in range(10)]
    # the normalization is the file's own: no question about the input range
    np.testing.assert_allclose(bundle.normalization.mean, 0.1307 * 255, rtol=1e-5)
    # and it is a normal studio model: it builds and trains
    model = build_model(bundle.spec)
    model.load_state_dict(bundle.state_dict)


def test_keras_binary_sigmoid_becomes_two_softmax_outputs(tmp_path):
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(8, activation="tanh"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.save(tmp_path / "binary.keras")
    bundle = import_model(tmp_path / "binary.keras", input_range="unit")
    p = np.asarray(model.predict(RAW / 255, verbose=0))[:, 0]
    np.testing.assert_allclose(live(bundle, RAW)[:, 1], p, rtol=0, atol=1e-6)


@pytest.mark.parametrize(("layer", "expected"), [
    ("conv", r"layer 'conv' \(Conv1D\) is not part of an MLP"),
    ("lambda", r"layer 'doubler' \(Lambda\) \(a Lambda layer is Python code"),
])
def test_keras_layers_that_are_not_an_mlp_are_refused_by_name(tmp_path, layer, expected):
    keras = pytest.importorskip("keras")
    if layer == "conv":
        inner = [keras.layers.Reshape((784, 1)), keras.layers.Conv1D(2, 3, name="conv"),
                 keras.layers.Flatten()]
    else:
        inner = [keras.layers.Lambda(lambda x: x * 2, name="doubler")]
    model = keras.Sequential([keras.Input((784,)), *inner, keras.layers.Dense(10)])
    model.save(tmp_path / "other.keras")
    with pytest.raises(ExportError, match=expected):
        import_model(tmp_path / "other.keras", input_range="raw")


def test_torch_onnx_export_of_a_sequential_gives_the_same_predictions(tmp_path):
    torch.manual_seed(0)
    seq = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(784, 32), torch.nn.ReLU(),
        torch.nn.Linear(32, 24), torch.nn.GELU(), torch.nn.Linear(24, 16), torch.nn.SiLU(),
        torch.nn.Linear(16, 12), torch.nn.BatchNorm1d(12), torch.nn.Tanh(),
        torch.nn.Dropout(0.3), torch.nn.Linear(12, 10)).eval()
    with torch.no_grad():
        seq[8].running_mean.uniform_(-1, 1)
        seq[8].running_var.uniform_(0.5, 2)
    path = tmp_path / "torch.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # dynamo=False: the TorchScript-based exporter, which needs no onnxscript
        torch.onnx.export(seq, (torch.zeros(2, 1, 28, 28),), path, input_names=["x"],
                          dynamic_axes={"x": {0: "batch"}}, dynamo=False)
    with pytest.raises(InputRangeNeeded, match="raw pixels .* or pixels scaled to 0-1"):
        import_model(path)
    bundle = import_model(path, input_range="unit")
    assert [h.activation.name for h in bundle.spec.hidden] == ["relu", "gelu", "silu", "tanh"]
    with torch.no_grad():
        logits = seq(torch.from_numpy(RAW / 255).float().reshape(-1, 1, 28, 28))
    got = live(bundle, RAW)
    np.testing.assert_allclose(got, torch.softmax(logits, 1).numpy(), rtol=0, atol=1e-6)
    assert (got.argmax(1) == logits.argmax(1).numpy()).all()


def test_onnx_with_a_convolution_is_refused_by_node(tmp_path):
    seq = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(),
                              torch.nn.Linear(2 * 26 * 26, 10)).eval()
    path = tmp_path / "conv.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(seq, (torch.zeros(1, 1, 28, 28),), path, dynamo=False)
    with pytest.raises(ExportError, match=r"node '.*Conv' \(Conv\) is not part of an MLP"):
        import_model(path, input_range="raw")


def test_the_studios_own_onnx_export_imports_with_identical_weights(tmp_path):
    spec = NetworkSpec(784, [LayerSpec(16, ActivationSpec("maxout", pieces=3), 0.1, True),
                             LayerSpec(8, ActivationSpec("custom", formula="x*sigmoid(x)"))])
    model = build_model(spec)
    normalization = Normalization("symmetric", np.full(784, 127.5), np.full(784, 127.5))
    bundle = ModelBundle(spec, normalization, "hinge", [str(d) for d in range(10)],
                         model.state_dict())
    back = import_model(export_onnx(bundle, tmp_path / "own.onnx"))
    assert back.spec == spec and back.loss == "hinge"
    for key, value in bundle.state_dict.items():
        assert torch.equal(back.state_dict[key], value), key


@pytest.mark.parametrize("content", [b"", b"not a zip", b"PK\x03\x04garbage"])
def test_damaged_files_are_clear_errors(tmp_path, content):
    for suffix in (".keras", ".h5", ".onnx"):
        path = tmp_path / f"bad{suffix}"
        path.write_bytes(content)
        with pytest.raises(ExportError, match=f"Cannot open .*bad{suffix}"):
            import_model(path, input_range="raw")


def test_unknown_suffix_and_torchscript_are_refused(tmp_path):
    (tmp_path / "m.pt").write_bytes(b"x")
    with pytest.raises(ExportError, match=r"does not open \.pt files\. TorchScript .* carry code"):
        import_model(tmp_path / "m.pt")
