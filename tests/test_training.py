import threading

import numpy as np
import pytest
import torch
from mlp_studio.core.activations import ActivationSpec
from mlp_studio.core.data import prepare_arrays
from mlp_studio.core.errors import SpecError
from mlp_studio.core.losses import LOSSES
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model
from mlp_studio.core.training import (
    OPTIMIZERS,
    BatchProgress,
    Diverged,
    EpochEnd,
    Finished,
    LayerStats,
    Snapshot,
    TrainConfig,
    Trainer,
)


def blobs(n=600, d=8, classes=3, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (classes, d))
    y = rng.integers(0, classes, n)
    x = (centers[y] + rng.normal(0, 1, (n, d))) * scale
    return x.astype(np.float32), y


def blob_data(n=600, d=8, classes=3, scale=1.0, normalization="standardize"):
    x, y = blobs(n, d, classes, scale=scale)
    a, b = int(n * 0.7), int(n * 0.85)
    return prepare_arrays(x[:a], y[:a], x[a:b], y[a:b], x[b:], y[b:], normalization,
                          [str(c) for c in range(classes)])


def small_net(d=8, classes=3, hidden=(16,), activation="relu", init="he"):
    return build_model(NetworkSpec(d, [LayerSpec(h, ActivationSpec(activation)) for h in hidden],
                                   classes, init, 0))


def run(config, data=None, model=None, **kw):
    events = []
    data = data or blob_data()
    trainer = Trainer(model or small_net(), data, config, on_event=events.append, **kw)
    return trainer, trainer.run(), events


def test_training_learns_and_reports_every_batch_once():
    config = TrainConfig(lr=0.01, batch_size=32, epochs=3)
    trainer, finished, events = run(config, report_interval=0.0)
    batches = sum(len(e.losses) for e in events if isinstance(e, BatchProgress))
    assert batches == 3 * int(np.ceil(420 / 32))
    assert len(finished.history.batch_losses) == batches
    epochs = [e for e in events if isinstance(e, EpochEnd)]
    assert [e.epoch for e in epochs] == [1, 2, 3]
    assert isinstance(events[-1], Finished)
    assert finished.test.accuracy > 0.9
    assert epochs[-1].train_loss < epochs[0].train_loss
    assert finished.test.confusion.sum() == 90


def test_same_seed_same_result():
    config = TrainConfig(lr=0.01, batch_size=32, epochs=2, seed=3)
    _, a, _ = run(config)
    _, b, _ = run(config)
    assert a.history.batch_losses == b.history.batch_losses
    _, c, _ = run(TrainConfig(lr=0.01, batch_size=32, epochs=2, seed=4))
    assert a.history.batch_losses != c.history.batch_losses


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_lowers_the_loss(optimizer):
    lr = {"adadelta": 1.0, "adagrad": 0.05, "sgd": 0.1, "momentum": 0.05, "nesterov": 0.05}
    config = TrainConfig(optimizer=optimizer, lr=lr.get(optimizer, 0.01), batch_size=32,
                         epochs=3)
    _, finished, _ = run(config)
    first, last = finished.history.epochs[0], finished.history.epochs[-1]
    assert last.train_loss < first.train_loss or last.val_accuracy > 0.9


@pytest.mark.parametrize("loss", list(LOSSES))
def test_every_loss_trains(loss):
    lr = 0.05 if loss in ("mse", "msle", "mae") else 0.01
    _, finished, _ = run(TrainConfig(loss=loss, lr=lr, batch_size=32, epochs=4))
    assert finished.test.accuracy > 0.8, loss


def test_step_schedule_halves_the_learning_rate():
    config = TrainConfig(schedule="step", step_epochs=1, gamma=0.5, lr=0.01, epochs=3)
    _, finished, _ = run(config)
    assert [e.lr for e in finished.history.epochs] == pytest.approx([0.01, 0.005, 0.0025])


def test_cosine_schedule_decays():
    _, finished, _ = run(TrainConfig(schedule="cosine", lr=0.01, epochs=3))
    lrs = [e.lr for e in finished.history.epochs]
    assert lrs[0] == pytest.approx(0.01) and lrs[0] > lrs[1] > lrs[2]


def test_best_weights_by_validation_loss_are_restored():
    trainer, finished, events = run(TrainConfig(lr=0.05, epochs=4, best_by="loss"))
    val_losses = [e.val.loss for e in events if isinstance(e, EpochEnd)]
    assert finished.best_epoch == int(np.argmin(val_losses)) + 1
    for key, value in trainer.model.state_dict().items():
        assert torch.equal(value, trainer.best_state[key])


def test_layer_stats_show_dead_relu_units_and_saturated_sigmoids():
    _, _, events = run(TrainConfig(epochs=1, stats_every=1), model=small_net(init="zeros"))
    stats = [e for e in events if isinstance(e, LayerStats)]
    assert stats and stats[0].dead_fraction.tolist() == [1.0]
    assert len(stats[0].grad_norms) == 2

    data = blob_data(scale=100.0, normalization="none")
    _, _, events = run(TrainConfig(epochs=1, stats_every=1), data=data,
                       model=small_net(activation="sigmoid", init="normal"))
    stats = [e for e in events if isinstance(e, LayerStats)]
    assert stats[0].saturated_fraction[0] > 0.5


def test_snapshots_copy_weights_and_probe_activations():
    trainer = Trainer(small_net(hidden=(16, 5)), blob_data(), TrainConfig(epochs=1),
                      on_event=lambda e: None)
    trainer.set_probe(trainer.data.x_val[:2])
    snap = trainer.snapshot(0)
    assert isinstance(snap, Snapshot)
    assert [w.shape for w in snap.weights] == [(16, 8), (5, 16), (3, 5)]
    assert [a.shape for a in snap.activations] == [(2, 16), (2, 5), (2, 3)]
    snap.weights[0][:] = 123.0
    assert not torch.any(trainer.model.linears[0].weight == 123.0)


def test_a_nan_loss_stops_the_run_and_restores_good_weights():
    data = blob_data(scale=1e4, normalization="none")
    model = build_model(NetworkSpec(8, [LayerSpec(16, ActivationSpec("custom", formula="exp(x)"))],
                                    3, "he", 0))
    trainer, finished, events = run(TrainConfig(optimizer="sgd", lr=1.0, epochs=2), data=data,
                                    model=model)
    assert finished.diverged is not None
    assert any(isinstance(e, Diverged) for e in events)
    assert "diverged" in finished.diverged.message and "learning rate" in finished.diverged.message
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())
    assert trainer.optimizer_state is None  # its NaN-driven state is not for a next run


def test_the_losses_that_led_to_a_divergence_are_reported_before_it():
    """A run that diverges before its first report still shows the climb on the loss plot."""
    data = blob_data(scale=30.0, normalization="none")
    trainer, finished, events = run(TrainConfig(optimizer="sgd", lr=0.5, batch_size=8,
                                                epochs=1), data=data, report_interval=1e9)
    assert finished.diverged is not None and finished.diverged.batch > 1
    kinds = [type(e) for e in events]
    reported = [e for e in events if isinstance(e, BatchProgress)]
    assert kinds.index(BatchProgress) < kinds.index(Diverged)
    assert sum(len(e.losses) for e in reported) == len(finished.history.batch_losses)
    assert reported[-1].batch == finished.diverged.batch - 1


def test_impossible_hyperparameters_are_refused_with_clear_messages():
    for config, text in [
        (TrainConfig(lr=0), "Learning rate 0"),
        (TrainConfig(lr=float("nan")), "Learning rate nan"),
        (TrainConfig(batch_size=0), "Batch size 0"),
        (TrainConfig(epochs=-1), "Epochs -1"),
        (TrainConfig(momentum=1.5), "Momentum 1.5"),
        (TrainConfig(optimizer="adamx"), "Unknown optimizer"),
        (TrainConfig(loss="nope"), "Unknown loss"),
    ]:
        with pytest.raises(SpecError, match=text):
            Trainer(small_net(), blob_data(), config)


def test_config_round_trip_and_unknown_keys():
    config = TrainConfig(optimizer="nesterov", lr=0.1, schedule="cosine")
    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(SpecError, match="Unknown training setting"):
        TrainConfig.from_dict({"lr": 0.1, "learning_speed": 3})


def _threaded(trainer):
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("f", trainer.run()), daemon=True)
    thread.start()
    return thread, result


def test_pause_step_resume_and_stop_from_another_thread():
    data = blob_data(n=20000)
    progress = threading.Event()
    counts = {"batches": 0}

    def on_event(e):
        if isinstance(e, BatchProgress):
            counts["batches"] += len(e.losses)
            progress.set()

    trainer = Trainer(small_net(), data, TrainConfig(batch_size=8, epochs=50), on_event,
                      report_interval=0.0)
    thread, result = _threaded(trainer)
    try:
        assert progress.wait(5)
        trainer.pause()
        # Once paused, at most the batch in flight finishes.
        progress.clear()
        progress.wait(0.2)
        progress.clear()
        before = counts["batches"]
        assert not progress.wait(0.3)
        assert counts["batches"] == before
        trainer.step()
        assert progress.wait(0.2)
        assert counts["batches"] == before + 1
        progress.clear()
        trainer.resume()
        assert progress.wait(0.2)
    finally:
        trainer.stop()
    thread.join(0.2)
    assert not thread.is_alive()
    assert result["f"].stopped


def test_stop_while_paused_returns_promptly():
    trainer = Trainer(small_net(), blob_data(n=20000), TrainConfig(batch_size=8, epochs=50))
    trainer.pause()
    thread, result = _threaded(trainer)
    trainer.stop()
    thread.join(0.2)
    assert not thread.is_alive() and result["f"].stopped and result["f"].test is None


def test_class_weights_change_training():
    x, y = blobs(600, 8, 3)
    weighted = prepare_arrays(x[:400], y[:400], x[400:500], y[400:500], x[500:], y[500:],
                              "standardize", ["a", "b", "c"])
    weighted.class_weights = torch.tensor([10.0, 1.0, 1.0])
    _, a, _ = run(TrainConfig(epochs=1), data=weighted)
    weighted.class_weights = None
    _, b, _ = run(TrainConfig(epochs=1), data=weighted)
    assert a.history.batch_losses != b.history.batch_losses


def test_evaluate_test_matches_the_runs_test_metrics_and_renormalizes():
    from mlp_studio.core.training import evaluate_test

    x, y = blobs(600, 8, 3)
    split = [x[:420], y[:420], x[420:510], y[420:510], x[510:], y[510:]]
    standard = prepare_arrays(*split, "standardize", ["0", "1", "2"])
    trainer, finished, _ = run(TrainConfig(lr=0.01, epochs=2), data=standard)
    metrics = evaluate_test(trainer.model, standard, "sparse_categorical_cross_entropy")
    assert metrics.accuracy == finished.test.accuracy
    assert np.array_equal(metrics.confusion, finished.test.confusion)

    # The same points normalized another way: the model's own normalization is applied.
    other = prepare_arrays(*split, "none", ["0", "1", "2"])
    again = evaluate_test(trainer.model, other, "cross-entropy", standard.normalization)
    assert np.array_equal(again.confusion, metrics.confusion)
    assert again.loss == pytest.approx(metrics.loss, rel=1e-4)


def test_evaluate_test_refuses_a_model_made_for_other_data():
    from mlp_studio.core.training import evaluate_test

    with pytest.raises(SpecError, match="takes 8 inputs.*load data the model was made for"):
        evaluate_test(small_net(d=8), blob_data(d=5), "cross-entropy")


def adam_steps(state) -> set[float]:
    return {float(values["step"]) for values in state.state_dict["state"].values()}


def test_a_second_run_continues_where_the_optimizer_left_off():
    data, model = blob_data(), small_net()
    config = TrainConfig(lr=0.01, batch_size=32, epochs=1)
    batches = int(np.ceil(420 / 32))
    first, _, _ = run(config, data, model)
    assert first.optimizer_state.optimizer == "adam"
    assert adam_steps(first.optimizer_state) == {batches}
    config.lr = 0.002  # the new run's settings rule, not the saved ones
    second = Trainer(model, data, config, optimizer_state=first.optimizer_state)
    moments = first.optimizer_state.state_dict["state"][0]["exp_avg"].clone()
    second.run()
    assert adam_steps(second.optimizer_state) == {2 * batches}  # Adam's bias correction too
    assert second.optimizer_state.state_dict["param_groups"][0]["lr"] == 0.002
    assert not torch.equal(second.optimizer_state.state_dict["state"][0]["exp_avg"], moments)
    assert torch.equal(first.optimizer_state.state_dict["state"][0]["exp_avg"], moments)


@pytest.mark.parametrize("change", ["optimizer", "network"])
def test_a_saved_optimizer_state_that_does_not_fit_starts_afresh(change):
    data = blob_data()
    first, _, _ = run(TrainConfig(lr=0.01, batch_size=32, epochs=1), data)
    config, model = TrainConfig(lr=0.01, batch_size=32, epochs=1), small_net()
    if change == "optimizer":
        config.optimizer = "adamw"
    else:
        model = small_net(hidden=(17,))
    second = Trainer(model, data, config, optimizer_state=first.optimizer_state)
    finished = second.run()
    assert finished.test.accuracy > 0.5
    assert adam_steps(second.optimizer_state) == {int(np.ceil(420 / 32))}

