import json
import subprocess
import sys

import numpy as np
import pytest
from idx_fixtures import write_mnist_folder
from mlp_studio.core.cli import main
from PIL import Image


@pytest.fixture(scope="module")
def small_mnist(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mnist")
    write_mnist_folder(folder, n_train=1200, n_test=200)
    return folder


def test_train_writes_metrics_and_exports_that_predict_reads(small_mnist, tmp_path, capsys):
    metrics, onnx, pt, st = (tmp_path / n for n in
                             ("metrics.json", "m.onnx", "m.pt", "m.safetensors"))
    code = main(["train", "--data", str(small_mnist), "--hidden", "32,16", "--epochs", "3",
                 "--lr", "0.01", "--metrics-json", str(metrics), "--export", str(onnx),
                 "--export", str(pt), "--export", str(st), "--quiet"])
    assert code == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "macro" in out
    report = json.loads(metrics.read_text())
    assert report["test_accuracy"] > 0.8
    assert len(report["epochs"]) == 3
    assert set(report["epochs"][0]) >= {"train_loss", "val_loss", "train_accuracy",
                                        "val_accuracy", "seconds"}
    assert np.array(report["confusion_matrix"]).sum() == 200
    assert set(report["per_class"]["3"]) == {"precision", "recall", "f1", "support"}

    # A digit image in the opposite polarity, larger than 28x28.
    from mlp_studio.core.mnist import load_folder

    mnist = load_folder(small_mnist)
    digit = mnist.test_images[0]
    big = Image.fromarray(255 - digit).resize((112, 112))
    image = tmp_path / "digit.png"
    big.save(image)
    assert main(["predict", str(pt), str(image)]) == 2  # TorchScript carries code: refused
    assert "does not open .pt files" in capsys.readouterr().err
    for model in (onnx, st):
        assert main(["predict", str(model), str(image), "--json"]) == 0
        result = json.loads(capsys.readouterr().out)
        assert result[0]["file"] == str(image)
        assert len(result[0]["probabilities"]) == 10
        assert sum(result[0]["probabilities"]) == pytest.approx(1, abs=1e-4)
    assert result[0]["digit"] == str(mnist.test_labels[0])

    # A file that is no picture, and one that is missing, beside a good one: the good one
    # still gets its answer, each bad one says why (without Pillow's buffer repr), status 2.
    fake, missing = tmp_path / "fake.png", tmp_path / "missing.png"
    fake.write_text("not an image")
    assert main(["predict", str(st), str(fake), str(image), str(missing)]) == 2
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0] == f"{fake}: Cannot read {fake}: it is not a picture. Choose a PNG or JPEG " \
        "picture of a digit."
    assert lines[1].startswith(f"{image}: {mnist.test_labels[0]} (")
    assert lines[2] == f"{missing}: Cannot read {missing}: the file does not exist."
    assert "2 of 3 pictures could not be read" in captured.err and "BytesIO" not in captured.out


@pytest.mark.parametrize("argv,text", [
    (["train", "--lr", "-1"], "Learning rate -1"),
    (["train", "--hidden", "0"], "0 neurons"),
    (["train", "--hidden", "a,b"], "not a comma-separated list"),
    (["train", "--loss", "nope"], "Unknown loss"),
    (["train", "--optimizer", "nope"], "invalid choice"),
    (["train", "--export", "/no/such/folder/m.onnx"], "does not exist"),
    (["train", "--batch-size", "0"], "Batch size 0"),
    (["train", "--divergence-factor", "1"], "Divergence factor 1"),
    (["train", "--activation", "custom", "--formula", "__import__('os')"], "formula"),
    (["predict", "/no/such/model.onnx", "x.png"], "model.onnx"),
    (["frobnicate"], "invalid choice"),
    (["train", "--export", "/tmp/m.safetensors", "--metrics-json", "/tmp/m.json"],
     "both write /tmp/m.json"),
])
def test_bad_input_exits_2_with_one_error_line(argv, text, small_mnist, capsys):
    if argv[0] == "train":
        argv = [*argv, "--data", str(small_mnist), "--epochs", "1"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and text in err[0], err


def test_an_exploding_run_stops_and_exits_1(small_mnist, tmp_path, capsys):
    # lr 10 with Adam: the loss climbs far above its lowest (the run went on for 20
    # epochs at 1.5e9 and ended "successfully").
    metrics = tmp_path / "metrics.json"
    argv = ["train", "--data", str(small_mnist), "--lr", "10", "--epochs", "5", "--quiet",
            "--hidden", "32", "--metrics-json", str(metrics)]
    assert main(argv) == 1
    assert "more than 1000 times its lowest" in capsys.readouterr().err
    assert "more than 1000 times" in json.loads(metrics.read_text())["diverged"]
    assert main([*argv, "--epochs", "2", "--divergence-factor", "0"]) == 0
    assert "worse than the" in capsys.readouterr().err  # it ends worse than it started


def test_missing_data_folder_says_how_to_point_the_app(tmp_path, capsys):
    assert main(["train", "--data", str(tmp_path), "--no-download", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "MLP_STUDIO_DATA" in err


def test_console_script_runs_without_traceback(tmp_path):
    out = subprocess.run([sys.executable, "-m", "mlp_studio.core.cli", "train",
                          "--data", str(tmp_path), "--no-download"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and out.stderr.startswith("error: ")


def test_full_mnist_reaches_the_lecture_accuracy(mnist_dir, tmp_path):
    metrics = tmp_path / "m.json"
    assert main(["train", "--data", str(mnist_dir), "--hidden", "128", "--epochs", "2",
                 "--metrics-json", str(metrics), "--quiet"]) == 0
    assert json.loads(metrics.read_text())["test_accuracy"] > 0.95


def test_predict_and_session_never_load_a_crafted_torchscript_file(small_mnist, tmp_path, capsys):
    from hostile_torchscript import crafted_torchscript

    marker = tmp_path / "written-by-the-file"
    model = crafted_torchscript(tmp_path / "model.pt", marker)
    image = tmp_path / "digit.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(image)
    assert main(["predict", str(model), str(image)]) == 2
    assert "does not open .pt files" in capsys.readouterr().err
    assert main(["train", "--data", str(small_mnist), "--session", str(model)]) == 2
    assert "use a name ending in .mlps" in capsys.readouterr().err
    assert not marker.exists()
