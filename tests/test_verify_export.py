import numpy as np
import pytest
import torch
from idx_fixtures import write_mnist_folder
from mlp_studio.core import export
from mlp_studio.core.data import DataConfig, SplitConfig, prepare_mnist
from mlp_studio.core.errors import ExportError
from mlp_studio.core.mnist import load_folder
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = write_mnist_folder(tmp_path_factory.mktemp("mnist"), n_train=300, n_test=60)
    config = DataConfig(normalization="per_pixel", split=SplitConfig(val_fraction=0.2))
    return prepare_mnist(load_folder(folder), config)


@pytest.fixture(scope="module")
def bundle(data):
    spec = NetworkSpec(784, [LayerSpec(12)], 10, seed=2)
    weights = build_model(spec).state_dict()
    return export.ModelBundle(spec, data.normalization, "cross-entropy", data.class_names, weights)


def test_verification_pixels_are_the_raw_test_images(data):
    pixels = export.verification_pixels(data, limit=25)
    assert pixels.shape == (25, 784) and pixels.dtype == np.float32
    np.testing.assert_array_equal(pixels, data.raw_test[:25].reshape(25, -1))


def test_verification_pixels_undo_the_normalization_without_raw_images(data):
    data_without = type(data)(**{**data.__dict__, "raw_test": None})
    pixels = export.verification_pixels(data_without, limit=1000)
    assert pixels.shape == (60, 784)
    np.testing.assert_allclose(pixels, data.raw_test.reshape(60, -1), atol=1e-3)


@pytest.mark.parametrize("suffix", [".onnx", ".pt", ".safetensors", ".mlps"])
def test_verify_export_of_each_format_is_float_exact(bundle, data, tmp_path, suffix):
    path = tmp_path / f"model{suffix}"
    if suffix == ".mlps":
        from mlp_studio.core.session import Session, save_session
        from mlp_studio.core.training import TrainConfig

        session = Session(bundle.spec, bundle.state_dict, train_config=TrainConfig(bundle.loss))
        session.normalization = bundle.normalization
        save_session(session, path)
    else:
        path, diff = export.export_verified(bundle, path, export.verification_pixels(data))
        assert 0 <= diff < 1e-5
        if suffix == ".pt":
            return  # TorchScript is only verified as it is written, never loaded again
    diff = export.verify_export(bundle, path, export.verification_pixels(data))
    assert 0 <= diff < 1e-5


def test_verify_export_notices_a_different_model(bundle, data, tmp_path):
    path = export.export_safetensors(bundle, tmp_path / "model.safetensors")
    other = export.ModelBundle(
        bundle.spec, bundle.normalization, bundle.loss, bundle.class_names,
        {k: v + 0.1 if v.dtype == torch.float32 else v for k, v in bundle.state_dict.items()},
    )  # fmt: skip
    assert export.verify_export(other, path, export.verification_pixels(data)) > 1e-3


def test_verify_export_without_images(bundle, tmp_path):
    path = export.export_safetensors(bundle, tmp_path / "model.safetensors")
    with pytest.raises(ExportError, match="no images"):
        export.verify_export(bundle, path, np.zeros((0, 784), np.float32))
