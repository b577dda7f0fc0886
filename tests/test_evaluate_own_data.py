"""`mlp-studio evaluate` on every source `train` takes (core.evaluation_data): an image folder's
model on a folder, a table's model on a CSV (read with the exported schema), an MNIST model on an
.npz, and a clear message when the data does not fit the model."""

import json

import numpy as np
import pytest
from idx_fixtures import mnist_like
from mlp_studio.core.cli import main
from own_data_fixtures import write_houses, write_image_folder


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    """Own data and a model of each, exported, with train's own metrics."""
    root = tmp_path_factory.mktemp("own")
    shapes = write_image_folder(root / "shapes", per_class=8)
    houses = write_houses(root / "houses.csv")
    x_train, y_train = mnist_like(200, 0)
    x_test, y_test = mnist_like(60, 1)
    (root / "npz").mkdir()
    npz = root / "npz" / "mnist.npz"  # outputs may not go into the folder of MNIST data
    np.savez(npz, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    runs = {"shapes": [str(shapes), "--image-size", "8", "--color"],
            "price": [str(houses)], "city": [str(houses), "--target", "city"],
            "digits": [str(npz)]}
    for name, data in runs.items():
        assert main(["train", "--data", *data, "--hidden", "16", "--epochs", "3", "--quiet",
                     "--export", str(root / f"{name}.safetensors"),
                     "--metrics-json", str(root / f"{name}-train.json")]) == 0
    return root


def _evaluate(own, model, data, *extra):
    out = own / f"eval-{model}.json"
    code = main(["evaluate", str(own / f"{model}.safetensors"), "--data", str(own / data),
                 "--metrics-json", str(out), *extra])
    return code, (json.loads(out.read_text()) if code == 0 else None)


def test_an_image_folder_model_is_evaluated_on_every_picture_of_a_folder(own, capsys):
    code, report = _evaluate(own, "shapes", "shapes")
    assert code == 0
    assert report["class_names"] == ["circle", "cross", "line"]
    assert np.sum(report["confusion_matrix"]) == 24  # all 3 x 8 pictures, prepared 8x8 RGB
    assert 0.0 <= report["test_accuracy"] <= 1.0
    assert report["evaluated_on"] == "all 24 images of shapes"
    assert "all 24 images of shapes" in capsys.readouterr().err


def test_a_table_model_is_evaluated_on_a_csv_with_its_schema(own, tmp_path):
    code, report = _evaluate(own, "price", "houses.csv")
    assert code == 0
    assert {"test_rmse", "test_mae", "test_r2", "test_loss"} <= set(report)
    assert "test_accuracy" not in report and report["test_rmse"] > 0
    # the same rows with the columns in another order and a missing value read alike
    lines = (own / "houses.csv").read_text().splitlines()
    cells = [line.split(",") for line in lines]
    (own / "shuffled.csv").write_text("\n".join(
        ",".join((c[3], c[1], c[0], c[2])) for c in cells) + "\n")
    code, again = _evaluate(own, "price", "shuffled.csv")
    assert code == 0 and again["test_rmse"] == pytest.approx(report["test_rmse"])


def test_a_table_classifier_maps_the_target_to_its_classes(own):
    code, report = _evaluate(own, "city", "houses.csv")
    assert code == 0
    assert report["class_names"] == ["Bergen", "Oslo", "Tromsø"]
    assert np.sum(report["confusion_matrix"]) == 80


def test_an_mnist_model_is_evaluated_on_the_test_split_of_an_npz(own):
    code, report = _evaluate(own, "digits", "npz/mnist.npz")
    assert code == 0
    assert np.sum(report["confusion_matrix"]) == 60
    trained = json.loads((own / "digits-train.json").read_text())
    assert report["test_accuracy"] == pytest.approx(trained["test_accuracy"])


def _lines(own, name, rows):
    path = own / name
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path.name


@pytest.mark.parametrize("model, data, words", [
    ("shapes", "houses.csv", "takes 8x8 RGB pictures, not the rows of a table"),
    ("price", "shapes", "trained on a table: evaluate it on a CSV file with the columns rooms, "
     "city, age and the target 'price'"),
    ("digits", "shapes", "has the classes 'circle', 'cross', 'line', which the model does not "
     "know"),
    ("shapes", "npz/mnist.npz", "takes 8x8 RGB pictures, but MNIST holds 28x28 grayscale"),
    ("price", "no-target", "has no column 'price', the model's target"),
    ("price", "no-rooms", "has no column 'rooms'"),
    ("city", "new-city", "line 3: the target 'city' is 'Paris', not one of the model's classes"),
    ("shapes", "animals", "has the class 'cat', which the model does not know"),
])
def test_data_that_does_not_fit_the_model_is_one_line(own, capsys, model, data, words):
    if data == "no-target":
        data = _lines(own, "no-target.csv", ["rooms,city,age", "3,Oslo,20"])
    elif data == "no-rooms":
        data = _lines(own, "no-rooms.csv", ["city,age,price", "Oslo,20,100"])
    elif data == "new-city":
        data = _lines(own, "new-city.csv", ["rooms,city,age,price", "3,Oslo,20,100",
                                            "2,Paris,10,90"])
    elif data == "animals":
        animals = own / "animals"
        write_image_folder(animals, per_class=2)
        (animals / "circle").rename(animals / "cat")
        data = "animals"
    code, _report = _evaluate(own, model, data)
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and words in err[-1], err
