"""Regression metrics (RMSE, MAE, R²) from predictions and targets: the evaluator, the trainer's
epochs and test, the session history, and what the CLI prints and writes (no accuracy, no NaN)."""

import io
import json
import math
from contextlib import redirect_stderr

import numpy as np
import pytest
import torch
from mlp_studio.core.activations import ActivationSpec
from mlp_studio.core.cli.report import ProgressBar, metrics_report, metrics_table
from mlp_studio.core.data import prepare_arrays
from mlp_studio.core.losses import loss_function
from mlp_studio.core.metrics import evaluate, metrics_from_confusion, regression_scores
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model
from mlp_studio.core.session_history import history_from_json, history_to_json
from mlp_studio.core.training import EpochEnd, TrainConfig, Trainer


def test_scores_match_their_definitions():
    t = np.array([1.0, 2.0, 3.0, 4.0])
    v = np.array([1.5, 2.0, 2.0, 5.0])
    rmse, mae, r2 = regression_scores(t, v)
    assert rmse == pytest.approx(math.sqrt((0.25 + 0 + 1 + 1) / 4))
    assert mae == pytest.approx((0.5 + 0 + 1 + 1) / 4)
    assert r2 == pytest.approx(1 - 2.25 / 5.0)
    assert regression_scores(t, t) == (0.0, 0.0, 1.0)
    # constant targets: no variance to explain, R² 1 when exact and 0 otherwise, never NaN
    assert regression_scores(np.ones(3), np.ones(3))[2] == 1.0
    assert regression_scores(np.ones(3), np.zeros(3))[2] == 0.0
    assert all(math.isnan(s) for s in regression_scores(np.zeros(0), np.zeros(0)))


def _net(inputs=2, outputs=1, hidden=(16,)):
    layers = [LayerSpec(h, ActivationSpec("tanh")) for h in hidden]
    return build_model(NetworkSpec(input_size=inputs, hidden=layers, output_size=outputs))


def test_evaluate_regression_keeps_values_and_scores():
    torch.manual_seed(0)
    model = _net()
    x = torch.randn(50, 2)
    y = torch.randn(50)
    m = evaluate(model, x, y, loss_function("mse", 1, task="regression"), "mse", 1,
                 task="regression")
    out = model.eval()(x)[:, 0].detach().numpy()
    assert m.regression and m.targets.shape == (50,) and m.values.shape == (50,)
    np.testing.assert_allclose(m.values, out, rtol=1e-5, atol=1e-6)
    rmse, mae, r2 = regression_scores(y.numpy(), out)
    assert (m.rmse, m.mae, m.r2) == pytest.approx((rmse, mae, r2), rel=1e-5)
    assert m.loss == pytest.approx(rmse**2, rel=1e-5)  # MSE's loss is RMSE squared
    assert set(m.to_dict(["y"])) == {"loss", "rmse", "mae", "r2"}


def test_a_saved_regression_history_gives_its_scores_back():
    m = metrics_from_confusion([], 0.5, rmse=0.7, mae=0.6, r2=0.9)
    assert m.regression and (m.rmse, m.mae, m.r2) == (0.7, 0.6, 0.9)
    assert not metrics_from_confusion([[3, 1], [0, 2]], 0.5).regression


def _regression_data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
    y = (2 * x[:, 0] - x[:, 1] + 0.5).astype(np.float32)
    a, b = n // 2, 3 * n // 4
    return prepare_arrays(x[:a], y[:a], x[a:b], y[a:b], x[b:], y[b:], "standardize", ["y"],
                          task="regression")


@pytest.fixture(scope="module")
def regression_run():
    events = []
    config = TrainConfig(loss="mse", lr=0.02, batch_size=16, epochs=12)
    finished = Trainer(_net(), _regression_data(), config, on_event=events.append).run()
    return finished, events


def test_trainer_reports_rmse_mae_r2_each_epoch_and_on_test(regression_run):
    finished, events = regression_run
    epochs = [e for e in events if isinstance(e, EpochEnd)]
    assert all(e.val.regression and math.isfinite(e.val.r2) for e in epochs)
    assert epochs[-1].val.rmse < epochs[0].val.rmse
    assert finished.regression and finished.test.regression
    assert finished.test.r2 > 0.95 and finished.test.rmse < 0.3
    record = finished.history.epochs[-1]
    assert (record.val_rmse, record.val_mae, record.val_r2) == (
        epochs[-1].val.rmse, epochs[-1].val.mae, epochs[-1].val.r2)


def test_history_with_regression_scores_round_trips_and_old_records_still_load(regression_run):
    finished, _ = regression_run
    doc = json.loads(json.dumps(history_to_json(finished.history)))
    again = history_from_json(doc)
    assert again.epochs[-1].val_r2 == finished.history.epochs[-1].val_r2
    for record in doc["epochs"]:  # a session saved before these fields existed
        for key in ("val_rmse", "val_mae", "val_r2"):
            del record[key]
    old = history_from_json(doc)
    assert old.epochs[0].val_rmse is None and old.epochs[0].val_loss == pytest.approx(
        finished.history.epochs[0].val_loss)


def test_cli_json_table_and_progress_have_no_accuracy_and_no_nan(regression_run):
    finished, events = regression_run
    report = metrics_report(finished, ["y"])
    text = json.dumps(report, allow_nan=False)  # strict JSON: a NaN would raise here
    assert {"test_rmse", "test_mae", "test_r2", "test_loss"} <= set(report)
    assert "accuracy" not in text and "confusion" not in text
    assert report["test_r2"] == pytest.approx(finished.test.r2)
    assert set(report["epochs"][0]) == {"epoch", "train_loss", "val_loss", "val_rmse",
                                        "val_mae", "val_r2", "seconds"}
    table = metrics_table(finished.test, ["y"])
    assert "rmse" in table and "r2" in table
    assert "accuracy" not in table and "nan" not in table.lower()
    err = io.StringIO()
    with redirect_stderr(err):
        bar = ProgressBar(True)
        for event in events:
            bar(event)
    printed = err.getvalue()
    assert "rmse" in printed and "acc" not in printed and "nan" not in printed.lower()


def test_classification_report_keeps_its_keys():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(120, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    data = prepare_arrays(x[:60], y[:60], x[60:90], y[60:90], x[90:], y[90:], "standardize",
                          ["a", "b"])
    finished = Trainer(_net(outputs=2), data, TrainConfig(epochs=2, lr=0.02)).run()
    report = metrics_report(finished, ["a", "b"])
    assert {"test_accuracy", "test_loss", "confusion_matrix", "per_class"} <= set(report)
    assert "test_rmse" not in report and "val_accuracy" in report["epochs"][0]
    assert not finished.regression and "accuracy" in metrics_table(finished.test, ["a", "b"])
