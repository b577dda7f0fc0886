"""Regression targets standardized with the training split's statistics: house prices (targets
in the hundreds) train with default settings, everything shown and exported stays in the
target's units, and sessions from before target scaling open and train as they did."""

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from mlp_studio.core.cli import main
from mlp_studio.core.data import DataConfig, prepare_dataset
from mlp_studio.core.dataset import load_data
from mlp_studio.core.export import export_file, load_predictor
from mlp_studio.core.metrics import regression_scores
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model
from mlp_studio.core.model_import import import_model
from mlp_studio.core.session import SESSION_JSON, Session, load_session, save_session
from mlp_studio.core.session_bundle import session_bundle
from mlp_studio.core.target_scaling import MEAN_KEY, TargetScaling, fold, unfold
from mlp_studio.core.training import TrainConfig, Trainer, evaluate_validation

HOUSES = Path(__file__).resolve().parents[1] / "resources" / "lessons" / "house_prices.csv"


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny networks: two spin-waiting threads only slow them down
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def houses():
    return load_data(HOUSES, target="price_k", task="regression")


def prepare(houses, scaling="standardize"):
    return prepare_dataset(houses, DataConfig(normalization="standardize",
                                              target_scaling=scaling))


def train(data, epochs=20, seed=0, loss="mse"):
    spec = NetworkSpec(input_size=int(data.x_train.shape[1]), hidden=[LayerSpec(128)],
                       output_size=1, seed=seed)
    trainer = Trainer(build_model(spec), data, TrainConfig(loss=loss, epochs=epochs, seed=seed))
    return trainer, trainer.run()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_house_prices_train_with_default_settings(houses, seed):
    # Measured with 20 epochs: validation R² 0.72-0.80 over seeds 0-2 (unscaled: about -6).
    trainer, finished = train(prepare(houses), seed=seed)
    assert finished.history.epochs[-1].val_r2 > 0.5
    assert finished.test.r2 > 0.5
    # The loss is on standardized targets, RMSE in the target's units (prices ~100-700).
    assert finished.history.epochs[0].train_loss < 20
    assert finished.test.rmse > 10 and abs(finished.test.loss - (finished.test.rmse / float(
        trainer.model.target_scaling.std[0])) ** 2) < 1e-3


def test_the_scaling_comes_from_the_training_split_only(houses):
    data = prepare(houses)
    y_train = data.y_train.numpy().astype(np.float64)
    scaling = data.target_scaling
    assert scaling.mean[0] == pytest.approx(y_train.mean(), rel=1e-6)
    assert scaling.std[0] == pytest.approx(y_train.std(), rel=1e-6)
    everything = np.concatenate([data.y_train, data.y_val, data.y_test]).astype(np.float64)
    assert abs(scaling.mean[0] - everything.mean()) > 1e-3  # not the pooled statistics
    # The splits' targets themselves stay in the target's units.
    assert float(data.y_val.max()) > 100
    assert prepare(houses, "none").target_scaling.identity


def test_predictions_and_metrics_are_in_the_targets_units(houses):
    data = prepare(houses)
    trainer, _ = train(data, epochs=5)
    model = trainer.model
    with torch.no_grad():
        predicted = model(data.x_val)[:, 0].numpy()
    assert 100 < predicted.mean() < 700  # near the prices, not near the standardized 0
    metrics = evaluate_validation(model, data, "mse")
    rmse, mae, r2 = regression_scores(data.y_val.numpy(), predicted)
    assert (metrics.rmse, metrics.mae, metrics.r2) == pytest.approx((rmse, mae, r2), rel=1e-4)
    assert np.allclose(metrics.values, predicted, rtol=1e-5)


def test_msle_keeps_the_targets_units(houses):
    trainer, finished = train(prepare(houses), epochs=2, loss="msle")
    assert trainer.model.target_scaling is None and MEAN_KEY not in trainer.model.state_dict()
    assert np.isfinite(finished.test.loss)


def test_a_classifier_keeps_the_state_dict_it_always_had():
    model = build_model(NetworkSpec(input_size=4, hidden=[LayerSpec(3)], output_size=2))
    assert sorted(model.state_dict()) == ["net.0.bias", "net.0.weight", "net.2.bias",
                                          "net.2.weight"]


def test_fold_and_unfold_keep_the_predictions():
    model = build_model(NetworkSpec(input_size=3, hidden=[LayerSpec(5)], output_size=1))
    model.set_target_scaling(TargetScaling("standardize", [250.0], [80.0]))
    x = torch.randn(7, 3)
    folded, scaling = fold(model.state_dict())
    plain = build_model(model.spec)
    plain.load_state_dict(folded)
    assert plain.target_scaling is None
    assert torch.allclose(plain(x), model(x), rtol=1e-5)
    again = build_model(model.spec)
    again.load_state_dict(unfold(folded, scaling))
    assert torch.allclose(again.net(x), model.net(x), atol=1e-5)  # same scaled outputs


@pytest.fixture(scope="module")
def trained_houses(houses, tmp_path_factory):
    data = prepare(houses)
    trainer, finished = train(data, epochs=8)
    folder = tmp_path_factory.mktemp("houses")
    session = Session(trainer.model.spec, dict(trainer.model.state_dict()),
                      DataConfig(normalization="standardize"), TrainConfig(loss="mse"),
                      data.normalization, list(data.class_names), finished.history,
                      table=houses.table)
    path = save_session(session, folder / "houses.mlps")
    return trainer.model, data, path, folder


@pytest.mark.parametrize("suffix", [".onnx", ".safetensors", ".keras", ".mlps"])
def test_exports_predict_in_the_targets_units(trained_houses, suffix):
    model, data, session_path, folder = trained_houses
    raw = data.x_test.numpy() * data.normalization.std + data.normalization.mean
    with torch.no_grad():
        expected = model(data.x_test).numpy()
    if suffix == ".mlps":
        path = session_path
    else:
        path = export_file(session_bundle(load_session(session_path)), folder / f"m{suffix}")
    got = load_predictor(path).predict(raw.astype(np.float32))
    assert np.allclose(got.reshape(-1), expected.reshape(-1), rtol=1e-4, atol=1e-3)
    # Imported back, it trains on in the scaled units it learned in.
    bundle = import_model(path)
    again = build_model(bundle.spec)
    again.load_state_dict(bundle.training_state())
    assert again.target_scaling is not None
    assert np.allclose(again.target_scaling.mean, model.target_scaling.mean)
    with torch.no_grad():
        assert torch.allclose(again(data.x_test), model(data.x_test), rtol=1e-4, atol=1e-3)


def test_a_session_from_before_target_scaling_opens_and_trains_as_before(trained_houses):
    model, data, path, folder = trained_houses
    unscaled = build_model(model.spec)  # an older session's weights: no scaling buffers
    members = {}
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            members[name] = zf.read(name)
    meta = json.loads(members[SESSION_JSON])
    meta["format_version"] = 1
    del meta["data_config"]["target_scaling"]
    from safetensors.torch import save

    members[SESSION_JSON] = json.dumps(meta).encode()
    members["weights.safetensors"] = save(unscaled.state_dict())
    members.pop("best.safetensors", None)
    old = folder / "old.mlps"
    with zipfile.ZipFile(old, "w") as zf:
        for name, blob in members.items():
            zf.writestr(name, blob)
    loaded = load_session(old)
    assert loaded.data_config.target_scaling == "none"
    again = build_model(loaded.spec)
    again.load_state_dict(loaded.weights)
    assert again.target_scaling is None
    with torch.no_grad():
        assert torch.equal(again(data.x_val), unscaled(data.x_val))
    # It trains on as it did: unscaled targets, a loss in the target's units squared.
    trainer = Trainer(again, prepare_dataset(load_data(HOUSES, target="price_k",
                                                       task="regression"), loaded.data_config),
                      TrainConfig(loss="mse", epochs=1))
    finished = trainer.run()
    assert trainer.model.target_scaling is None and finished.history.epochs[0].train_loss > 1e4


def test_cli_trains_a_new_regression_session_and_it_continues(tmp_path, capsys):
    path = tmp_path / "houses.mlps"
    args = ["train", "--data", str(HOUSES), "--epochs", "3", "--quiet", "--session", str(path)]
    assert main(args) == 0
    assert "losses are on standardized targets" in capsys.readouterr().err
    first = load_session(path)
    assert first.data_config.target_scaling == "standardize" and MEAN_KEY in first.weights
    assert main(args) == 0  # continued: the same scaling
    again = load_session(path)
    assert again.epochs_done == 6
    assert again.run_tree is not None  # its checkpoints (with the scaling) read back
    checkpoints = again.run_tree.checkpoints.items
    assert checkpoints and all(MEAN_KEY in c.weights for c in checkpoints)


def test_backprop_steps_follow_the_scaled_loss(houses):
    from mlp_studio.core.backprop_steps import backward_pass, gradient_check

    data = prepare(houses)
    trainer, _ = train(data, epochs=3)
    model, x, target = trainer.model, data.x_val[0].numpy(), float(data.y_val[0])
    passed = backward_pass(model, x, target, "mse", "regression")
    with torch.no_grad():
        assert passed.predicted() == pytest.approx(float(model(data.x_val[:1])[0, 0]), rel=1e-5)
    scaled = (target - model.target_scaling.mean[0]) / model.target_scaling.std[0]
    assert passed.loss == pytest.approx((float(passed.layers[-1].a[0]) - scaled) ** 2, rel=1e-5)
    assert "standardized" in passed.loss_label
    check = gradient_check(model, x, target, "mse", 1, 0, 0, "regression", passed=passed)
    assert check.relative_error < 1e-6


def test_pair_compares_a_regression_by_rmse_in_the_targets_units(tmp_path, capsys):
    report = tmp_path / "pair.json"
    assert main(["pair", "--data", str(HOUSES), "--change", "lr=0.01", "--epochs", "2",
                 "--seeds", "1", "--metrics-json", str(report)]) == 0  # default loss: mse
    doc = json.loads(report.read_text())
    assert doc["summary"]["metric"] == "test_rmse"
    a = doc["pairs"][0]["a"]
    assert a["test_rmse"] == doc["summary"]["a"][0] > 10  # prices, not standardized units
    assert a["test_accuracy"] is None and a["per_class"] is None
    captured = capsys.readouterr()
    assert "test rmse" in captured.out  # the side-by-side table
    assert "the loss is mean squared error (mse)" in captured.err  # as `train` says
