"""`mlp-studio pair`: two runs, one change, matching hashes, seeds summary, clear errors."""

import json

import numpy as np
import pytest
from idx_fixtures import write_mnist_folder
from mlp_studio.core.cli import main


@pytest.fixture(scope="module")
def small_mnist(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mnist")
    write_mnist_folder(folder, n_train=600, n_test=100)
    return folder


def test_pair_prints_matching_hashes_and_writes_both_runs(small_mnist, tmp_path, capsys):
    out = tmp_path / "pair.json"
    code = main(["pair", "--data", str(small_mnist), "--hidden", "16,16", "--epochs", "2",
                 "--change", "activation=sigmoid", "--seeds", "2", "--metrics-json", str(out),
                 "--quiet"])
    assert code == 0
    text = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert report["setting"] == "activation"
    assert (report["a_value"], report["b_value"]) == ("relu", "sigmoid")
    assert [p["seed"] for p in report["pairs"]] == [0, 1]
    for pair in report["pairs"]:
        a, b = pair["a"], pair["b"]
        assert pair["same_initial_weights"] and pair["same_batch_order"]
        assert a["initial_weights_sha256"] == b["initial_weights_sha256"]
        assert a["batch_order_sha256"] == b["batch_order_sha256"]
        # The hashes the JSON holds are the ones printed.
        assert (f"initial weights A {a['initial_weights_sha256']} "
                f"B {b['initial_weights_sha256']} (identical)") in text
        assert len(a["epochs"]) == len(b["epochs"]) == 2
        assert len(a["grad_norms_per_layer"]) == 3
        assert set(pair["f1_difference"]) == {str(d) for d in range(10)}
        assert pair["f1_difference"]["3"] == pytest.approx(
            b["per_class"]["3"]["f1"] - a["per_class"]["3"]["f1"])
    assert report["pairs"][0]["a"]["initial_weights_sha256"] != \
        report["pairs"][1]["a"]["initial_weights_sha256"]  # another seed, other weights
    summary = report["summary"]
    assert summary["seeds"] == [0, 1] and len(summary["difference"]) == 2
    assert summary["beyond_noise"] in (True, False)
    assert "over 2 seeds" in text and summary["verdict"] in text


def test_a_shape_change_says_the_weights_cannot_match(small_mnist, tmp_path, capsys):
    out = tmp_path / "pair.json"
    assert main(["pair", "--data", str(small_mnist), "--hidden", "16", "--epochs", "1",
                 "--change", "hidden=32,8", "--metrics-json", str(out), "--quiet"]) == 0
    report = json.loads(out.read_text())
    pair = report["pairs"][0]
    assert not pair["same_initial_weights"] and pair["same_batch_order"]
    assert "cannot be identical" in report["notes"][0]
    assert "cannot be identical" in capsys.readouterr().err


def test_a_data_change_prepares_the_data_again(small_mnist, tmp_path):
    out = tmp_path / "pair.json"
    assert main(["pair", "--data", str(small_mnist), "--hidden", "16", "--epochs", "1",
                 "--change", "normalization=standardize", "--metrics-json", str(out),
                 "--quiet"]) == 0
    pair = json.loads(out.read_text())["pairs"][0]
    assert pair["same_initial_weights"] and pair["same_batch_order"]
    assert pair["a"]["test_loss"] != pair["b"]["test_loss"]


@pytest.mark.parametrize("extra, text", [
    (["--change", "colour=red"], "Unknown setting 'colour'"),
    (["--change", "optimizer=adam"], "optimizer is already adam in the base run"),
    (["--change", "lr"], "is not NAME=VALUE"),
    (["--change", "seed=3"], "repeat the comparison over several seeds (--seeds N)"),
    (["--change", "lr=0.1", "--seeds", "0"], "--seeds 0: give a number from 1 to 20"),
    (["--change", "lr=0.1", "--export", "x.onnx"], "leave out --export"),
    (["--change", "lr=0.1", "--save-session", "x.txt"], "--save-session"),
    ([], "the following arguments are required: --change"),
])
def test_bad_pairs_exit_2_with_one_line(small_mnist, capsys, extra, text):
    assert main(["pair", "--data", str(small_mnist), "--quiet", *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and text in err[0], err


def test_pair_trains_on_an_image_folder_like_train(tmp_path, capsys):
    """The data options mean what they mean for `train` (issue 10's image folders)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    root = tmp_path / "shapes"
    for c, name in enumerate(("dark", "light")):
        (root / name).mkdir(parents=True)
        for i in range(20):
            pixels = np.clip(rng.normal(60 + 120 * c, 20, (10, 10)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    out = tmp_path / "pair.json"
    assert main(["pair", "--data", str(root), "--image-size", "8", "--hidden", "8",
                 "--epochs", "2", "--batch-size", "8", "--change", "lr=0.01",
                 "--metrics-json", str(out), "--quiet"]) == 0
    assert "network 64-8(relu)-2" in capsys.readouterr().err
    pair = json.loads(out.read_text())["pairs"][0]
    assert pair["same_initial_weights"] and pair["same_batch_order"]
    assert set(pair["f1_difference"]) == {"dark", "light"}


def test_a_preset_describes_run_a(small_mnist, tmp_path):
    out = tmp_path / "pair.json"
    assert main(["pair", "--data", str(small_mnist), "--preset", "keras-mnist-mlp",
                 "--hidden", "16", "--epochs", "1", "--change", "optimizer=adam",
                 "--metrics-json", str(out), "--quiet"]) == 0
    report = json.loads(out.read_text())
    assert (report["a_value"], report["b_value"]) == ("rmsprop", "adam")
