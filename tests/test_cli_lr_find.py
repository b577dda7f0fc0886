import json

import pytest
from idx_fixtures import write_mnist_folder
from mlp_studio.core.cli import main
from mlp_studio.core.lr_finder import RULE, RangeTest, steepest_point


@pytest.fixture(scope="module")
def small_mnist(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mnist")
    write_mnist_folder(folder, n_train=1200, n_test=200)
    return folder


def test_lr_find_prints_the_suggestion_and_writes_rates_and_losses(small_mnist, tmp_path,
                                                                   capsys):
    out_file = tmp_path / "lr.json"
    code = main(["lr-find", "--data", str(small_mnist), "--hidden", "32", "--batch-size", "32",
                 "--metrics-json", str(out_file)])
    assert code == 0
    captured = capsys.readouterr()
    report = json.loads(out_file.read_text())
    rate = f"{report['suggested_lr']:.3g}"
    assert f"suggested learning rate: {rate} ({RULE})" in captured.out
    assert report["rule"] == RULE and RULE in report["note"]
    assert len(report["lrs"]) == len(report["losses"]) <= 100
    # The steepest descent of the smoothed loss, on the way down to its lowest point.
    losses = report["losses"]
    pick = report["lrs"].index(report["suggested_lr"])
    assert pick == steepest_point(report["lrs"], losses, RangeTest().settled)
    assert pick < losses.index(min(losses))
    # The rate held constant by default: the command to train with it decays it.
    assert f"mlp-studio train --lr {rate} --schedule cosine" in captured.err


def test_lr_find_keeps_a_decaying_schedule_in_its_advice(small_mnist, capsys):
    code = main(["lr-find", "--data", str(small_mnist), "--hidden", "16", "--schedule", "step"])
    err = capsys.readouterr().err
    assert code == 0 and "--schedule step" in err and "cosine" not in err


def test_lr_find_json_to_standard_output(small_mnist, capsys):
    code = main(["lr-find", "--data", str(small_mnist), "--hidden", "16", "--steps", "20",
                 "--start-lr", "1e-4", "--end-lr", "1", "--metrics-json", "-"])
    captured = capsys.readouterr()
    report = json.loads(captured.out)  # nothing else on stdout
    assert report["lrs"][0] == pytest.approx(1e-4) and len(report["lrs"]) <= 20
    assert code == (0 if report["suggested_lr"] is not None else 1)


@pytest.mark.parametrize("argv,text", [
    (["--start-lr", "1", "--end-lr", "0.001"], "must be below the end rate"),
    (["--steps", "5"], "use 10 to"),
    (["--export", "m.onnx"], "leave out --export"),
    (["--save-session", "s.mlps"], "leave out --save-session"),
    (["--lr", "-1"], "Learning rate -1"),
])
def test_lr_find_bad_input_says_what_to_do(small_mnist, capsys, argv, text):
    assert main(["lr-find", "--data", str(small_mnist), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and text in err and "Traceback" not in err


def test_lr_find_takes_a_preset_like_train(small_mnist, capsys):
    code = main(["lr-find", "--data", str(small_mnist), "--preset", "keras-mnist-mlp",
                 "--hidden", "16", "--steps", "10", "--start-lr", "1e-4", "--end-lr", "1"])
    err = capsys.readouterr().err
    assert code in (0, 1) and "Traceback" not in err
    assert "rmsprop" in err  # the preset's optimizer tried the rates
