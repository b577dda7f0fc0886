"""`mlp-studio evaluate` and the Keras exports of `mlp-studio train`."""

import json
import os
import warnings

import numpy as np
import pytest
import torch
from idx_fixtures import write_mnist_folder
from mlp_studio.core.cli import main

os.environ.setdefault("KERAS_BACKEND", "torch")  # Keras 3 on torch: no TensorFlow needed


@pytest.fixture(scope="module")
def small_mnist(tmp_path_factory):
    return write_mnist_folder(tmp_path_factory.mktemp("mnist"), n_train=600, n_test=120)


@pytest.fixture(scope="module")
def trained(small_mnist, tmp_path_factory):
    """One run exported to every model file evaluate reads, with its own metrics."""
    folder = tmp_path_factory.mktemp("run")
    names = ["m.keras", "m.onnx", "m.safetensors", "train.py"]
    args = ["train", "--data", str(small_mnist), "--hidden", "24", "--epochs", "2",
            "--lr", "0.01", "--normalization", "per_pixel", "--quiet",
            "--metrics-json", str(folder / "train.json"), "--session", str(folder / "s.mlps")]
    for name in names:
        args += ["--export", str(folder / name)]
    assert main(args) == 0
    return folder, json.loads((folder / "train.json").read_text())


@pytest.mark.parametrize("name", ["m.keras", "m.onnx", "m.safetensors", "s.mlps"])
def test_evaluate_gives_trains_test_metrics_for_every_file(small_mnist, trained, name, capsys):
    folder, expected = trained
    out = folder / f"{name}.json"
    assert main(["evaluate", str(folder / name), "--data", str(small_mnist),
                 "--metrics-json", str(out)]) == 0
    assert "accuracy" in capsys.readouterr().out
    report = json.loads(out.read_text())
    assert set(report) >= {"test_accuracy", "test_loss", "confusion_matrix", "per_class",
                           "epochs", "best_epoch", "stopped", "diverged"}
    assert report["test_accuracy"] == pytest.approx(expected["test_accuracy"], abs=1e-9)
    assert report["test_loss"] == pytest.approx(expected["test_loss"], rel=1e-4)
    assert report["confusion_matrix"] == expected["confusion_matrix"]
    assert report["per_class"].keys() == expected["per_class"].keys()


def test_train_writes_a_keras_script(trained):
    folder, _ = trained
    text = (folder / "train.py").read_text()
    compile(text, "train.py", "exec")
    assert "keras.layers.Dense(units=24" in text and "model.fit(" in text


def test_a_file_without_its_input_range_needs_the_option(small_mnist, tmp_path, capsys):
    seq = torch.nn.Sequential(torch.nn.Linear(784, 10)).eval()
    path = tmp_path / "linear.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(seq, (torch.zeros(1, 784),), path, dynamo=False)
    assert main(["evaluate", str(path), "--data", str(small_mnist)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Cannot open") and "--input-range" in err
    assert main(["evaluate", str(path), "--data", str(small_mnist), "--input-range", "unit",
                 "--metrics-json", str(tmp_path / "m.json")]) == 0
    report = json.loads((tmp_path / "m.json").read_text())
    assert np.array(report["confusion_matrix"]).sum() == 120


def test_torchscript_is_refused(small_mnist, tmp_path, capsys):
    (tmp_path / "m.pt").write_bytes(b"PK")
    assert main(["evaluate", str(tmp_path / "m.pt"), "--data", str(small_mnist)]) == 2
    assert "error: " in capsys.readouterr().err


def test_predict_reads_a_keras_export(small_mnist, trained, tmp_path, capsys):
    from mlp_studio.core.mnist import load_folder
    from PIL import Image

    folder, _ = trained
    image = tmp_path / "digit.png"
    Image.fromarray(load_folder(small_mnist).test_images[0]).save(image)
    assert main(["predict", str(folder / "m.keras"), str(image), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result[0]["probabilities"]) == 10


def test_predict_takes_the_input_range_of_a_foreign_file(small_mnist, tmp_path, capsys):
    from mlp_studio.core.mnist import load_folder
    from PIL import Image

    seq = torch.nn.Sequential(torch.nn.Linear(784, 10)).eval()
    path = tmp_path / "linear.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(seq, (torch.zeros(1, 784),), path, dynamo=False)
    image = tmp_path / "digit.png"
    Image.fromarray(load_folder(small_mnist).test_images[0]).save(image)
    assert main(["predict", str(path), str(image), "--json", "--input-range", "unit"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert sum(result[0]["probabilities"]) == pytest.approx(1, abs=1e-4)
