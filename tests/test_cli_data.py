"""`mlp-studio train --data/--dataset/--image-size/--color` (issue 10): the network follows
the data, the metrics name its classes, a session remembers where the data came from."""

import json

import numpy as np
import pytest
from idx_fixtures import write_mnist_folder
from mlp_studio.core.cli import main
from mlp_studio.core.data_source import DataSource
from mlp_studio.core.session import load_session
from PIL import Image


@pytest.fixture
def pets(tmp_path, monkeypatch):
    """Three classes told apart by brightness, 30 noisy images each, of various sizes."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    rng = np.random.default_rng(0)
    root = tmp_path / "pets"
    for c, name in enumerate(("bird", "cat", "dog")):
        (root / name).mkdir(parents=True)
        for i in range(30):
            size = (20 + i % 7, 24 + i % 5)
            pixels = np.clip(rng.normal(40 + 80 * c, 15, size), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).convert("RGB").save(root / name / f"{i}.png")
    (root / "cat" / "broken.png").write_bytes(b"not an image")
    return root


def test_train_on_an_image_folder_and_continue_its_session(pets, tmp_path, capsys):
    metrics, session = tmp_path / "m.json", tmp_path / "s.mlps"
    code = main(["train", "--data", str(pets), "--image-size", "12", "--color", "--hidden",
                 "16", "--epochs", "15", "--batch-size", "16", "--lr", "0.01", "--normalization",
                 "standardize", "--metrics-json", str(metrics),
                 "--save-session", str(session), "--quiet"])  # fmt: skip
    assert code == 0
    err = capsys.readouterr().err
    assert "note: 1 file could not be read and was skipped: cat/broken.png" in err
    assert "data: pets (" in err and "network 432-16(relu)-3" in err  # 12 x 12 x 3 inputs
    report = json.loads(metrics.read_text())
    assert report["class_names"] == ["bird", "cat", "dog"]
    assert report["test_accuracy"] > 0.9 and set(report["per_class"]) == {"bird", "cat", "dog"}
    saved = load_session(session)
    assert saved.data == DataSource("images", str(pets), image_size=12, color=True)
    assert saved.class_names == ["bird", "cat", "dog"]
    # Continued without --data: the same folder at the same size and colour.
    assert main(["train", "--session", str(session), "--epochs", "1", "--quiet"]) == 0
    assert "data: pets (" in capsys.readouterr().err
    assert load_session(session).epochs_done == 16


def test_a_session_refuses_data_that_does_not_fit_its_network(pets, tmp_path, capsys):
    session = tmp_path / "s.mlps"
    assert main(["train", "--data", str(pets), "--image-size", "8", "--hidden", "4",
                 "--epochs", "1", "--save-session", str(session), "--quiet"]) == 0  # fmt: skip
    code = main(["train", "--session", str(session), "--data", str(pets), "--image-size", "10",
                 "--epochs", "1", "--quiet"])  # fmt: skip
    assert code == 2
    assert "takes 64 inputs" in capsys.readouterr().err


def test_a_family_name_gives_its_class_names(tmp_path, capsys):
    folder = write_mnist_folder(tmp_path / "fashion", n_train=300, n_test=50)
    metrics = tmp_path / "m.json"
    assert main(["train", "--data", str(folder), "--dataset", "fashion-mnist", "--epochs", "1",
                 "--metrics-json", str(metrics), "--save-session", str(tmp_path / "s.mlps"),
                 "--quiet"]) == 0  # fmt: skip
    report = json.loads(metrics.read_text())
    assert report["class_names"][0] == "T-shirt/top" and "Ankle boot" in report["per_class"]
    assert "data: Fashion-MNIST (" in capsys.readouterr().err
    saved = load_session(tmp_path / "s.mlps")
    assert saved.data == DataSource("mnist", str(folder), "fashion-mnist")


@pytest.mark.parametrize("argv, text", [
    (["--image-size", "0"], "image size must be 1-256 pixels, got 0"),
    (["--dataset", "cifar"], "invalid choice: 'cifar'"),
])  # fmt: skip
def test_bad_data_options_are_one_line(pets, argv, text, capsys):
    assert main(["train", "--data", str(pets), "--epochs", "1", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and text in err and "Traceback" not in err


@pytest.fixture
def houses(tmp_path):
    """A price that follows rooms, area and city (a category), and a 'kind' column of text."""
    rng = np.random.default_rng(0)
    lines = ["rooms,area,city,price,kind"]
    for _ in range(240):
        rooms, area, city = rng.integers(1, 6), rng.uniform(30, 200), rng.choice(["a", "b"])
        price = 50 * rooms + 2 * area + (100 if city == "a" else 0) + rng.normal(0, 5)
        lines.append(f"{rooms},{area:.1f},{city},{price:.1f},{'big' if area > 100 else 'small'}")
    path = tmp_path / "houses.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_train_on_a_csv_with_a_target_column(houses, tmp_path, capsys):
    """Regression on --target price (the loss becomes MSE), then classification of the last
    column; outputs may sit beside the CSV but never on it; a session trains on."""
    metrics, session = tmp_path / "m.json", tmp_path / "s.mlps"
    assert main(["train", "--data", str(houses), "--target", "price", "--epochs", "40",
                 "--batch-size", "32", "--lr", "0.01", "--metrics-json", str(metrics),
                 "--save-session", str(session), "--quiet"]) == 0  # fmt: skip
    err = capsys.readouterr().err
    assert "note: regression: the loss is mean squared error (mse)" in err
    report = json.loads(metrics.read_text())
    assert report["test_r2"] > 0.8 and "test_accuracy" not in report
    saved = load_session(session)
    assert saved.data == DataSource("table", str(houses), target="price")
    assert main(["train", "--session", str(session), "--epochs", "1", "--quiet"]) == 0
    assert load_session(session).epochs_done == 41
    assert main(["train", "--data", str(houses), "--task", "classification", "--epochs", "5",
                 "--metrics-json", str(metrics), "--quiet"]) == 0  # fmt: skip
    assert json.loads(metrics.read_text())["class_names"] == ["big", "small"]
    assert main(["train", "--data", str(houses), "--epochs", "1", "--metrics-json",
                 str(houses)]) == 2  # fmt: skip
    assert "would overwrite the data file" in capsys.readouterr().err


@pytest.mark.parametrize("target", ["2\n3,x", "2\n3,4.5"])  # classification, regression
def test_a_table_too_small_for_validation_says_so_instead_of_nan(tmp_path, capsys, target):
    """Two rows leave none for validation: the epoch line says so (it printed "val loss nan
    acc 0.0000" for classification)."""
    path = tmp_path / "two.csv"
    path.write_text(f"a,b\n1,{target}\n")
    assert main(["train", "--data", str(path), "--epochs", "1"]) == 0
    err = capsys.readouterr().err
    assert "train 2 val 0" in err and "no validation samples" in err
    assert "nan" not in err and "val loss" not in err


def test_an_image_folder_models_export_says_what_pictures_it_takes(pets, tmp_path):
    from mlp_studio.core.export import load_bundle, sidecar_path

    onnx, st = tmp_path / "m.onnx", tmp_path / "m.safetensors"
    assert main(["train", "--data", str(pets), "--image-size", "10", "--color", "--hidden", "8",
                 "--epochs", "1", "--export", str(onnx), "--export", str(st), "--quiet"]) == 0
    meta = json.loads(sidecar_path(st).read_text())
    assert meta["input"]["image_shape"] == [10, 10, 3] and meta["input"]["shape"] == ["N", 300]
    assert meta["input"]["values"].startswith("raw pixels 0-255 of 10x10 pictures (RGB")
    assert load_bundle(st).image_shape == (10, 10, 3)


def test_predict_takes_pictures_of_a_folder_model_as_the_folder_took_them(pets, tmp_path, capsys):
    """An RGB 12x12 folder model predicts pictures of any size (no digit preparation), in
    both export formats and from its session; an unreadable picture is one clear line."""
    st, onnx, session = tmp_path / "m.safetensors", tmp_path / "m.onnx", tmp_path / "s.mlps"
    assert main(["train", "--data", str(pets), "--image-size", "12", "--color", "--hidden", "16",
                 "--epochs", "15", "--batch-size", "16", "--lr", "0.01", "--normalization",
                 "standardize", "--export", str(st), "--export", str(onnx),
                 "--save-session", str(session), "--quiet"]) == 0  # fmt: skip
    capsys.readouterr()
    dark, bright = tmp_path / "dark.jpg", tmp_path / "bright.png"
    Image.fromarray(np.full((64, 48, 3), 40, np.uint8)).save(dark)
    Image.fromarray(np.full((30, 90), 200, np.uint8)).save(bright)  # grayscale: made RGB
    for model in (st, onnx, session):
        assert main(["predict", str(model), str(dark), str(bright), "--json"]) == 0
        results = json.loads(capsys.readouterr().out)
        assert [r["class"] for r in results] == ["bird", "dog"], model
    (tmp_path / "bad.png").write_bytes(b"\x89PNG broken")
    assert main(["predict", str(st), str(tmp_path / "bad.png")]) == 2
    assert "bad.png is not an image" in capsys.readouterr().out
