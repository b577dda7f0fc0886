"""Divergence is caught where it happens (issue 13.3): NaN gradients behind a finite loss, an
epoch whose validation loss is not finite, a finite explosion; and a damaged optimizer state
never reaches a run."""

import logging
import math

import numpy as np
import pytest
import torch
from idx_fixtures import mnist_like
from mlp_studio.core.activations import ActivationSpec
from mlp_studio.core.data import prepare_arrays
from mlp_studio.core.divergence import DivergenceWatch
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model
from mlp_studio.core.optimizers import state_problem
from mlp_studio.core.training import Diverged, EpochEnd, TrainConfig, Trainer
from test_training import blob_data, small_net


@pytest.fixture(scope="module")
def digits():
    """MNIST-shaped data (784 pixels, 10 classes) small enough to train in a second."""
    x, y = mnist_like(1000)
    x = x.reshape(len(x), -1).astype(np.float32)
    return prepare_arrays(x[:700], y[:700], x[700:850], y[700:850], x[850:], y[850:], "unit",
                          [str(d) for d in range(10)])


def digit_net():
    return build_model(NetworkSpec(784, [LayerSpec(32)], 10))


def train(model, data, config):
    events = []
    start = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = Trainer(model, data, config, on_event=events.append)
    return trainer, trainer.run(), events, start


def same(state, model):
    return all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())


def test_nan_gradients_behind_a_finite_loss_stop_the_run():
    # sqrt's slope is NaN for x < 0 and where() multiplies it by 0: NaN gradients, while the
    # loss stays finite. It used to end "successfully" with NaN weights.
    formula = ActivationSpec("custom", formula="where(x > 0, sqrt(x), 0)")
    model = build_model(NetworkSpec(8, [LayerSpec(16, formula)], 3, "he", 0))
    trainer, finished, events, start = train(model, blob_data(), TrainConfig(epochs=2))
    assert finished.diverged is not None and finished.diverged.cause == "gradients"
    assert (finished.diverged.epoch, finished.diverged.batch) == (1, 1)
    assert [e for e in events if isinstance(e, Diverged)] == [finished.diverged]
    message = finished.diverged.message
    assert "gradients became NaN" in message and "sqrt" in message
    assert same(start, trainer.model)  # the weights it started with, all finite
    assert trainer.optimizer_state is None


def test_an_epoch_whose_validation_loss_is_not_finite_is_not_kept():
    # An overflowing validation pass (here an infinite input; in the issue, weights of 5e22)
    # makes its loss NaN while training goes on: those weights used to be kept as good.
    data = blob_data()
    data.x_val[0, 0] = math.inf
    trainer, finished, events, start = train(small_net(), data, TrainConfig(epochs=3))
    assert finished.diverged is not None and finished.diverged.cause == "validation"
    assert (finished.diverged.epoch, finished.diverged.batch) == (1, 0)
    assert "validation loss became" in finished.diverged.message
    assert [e.epoch for e in events if isinstance(e, EpochEnd)] == [1]
    assert trainer.best_state is None and finished.best_epoch is None
    assert same(start, trainer.model)


def test_an_explosion_in_a_continued_run_goes_back_to_where_it_started(digits):
    # Two good epochs, then a run at lr 10: it ends with the model it started from.
    config = TrainConfig(lr=0.001, epochs=2)
    trainer, first, _, _ = train(digit_net(), digits, config)
    assert first.diverged is None
    good = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    model = trainer.model
    trainer, finished, _, start = train(model, digits, TrainConfig(lr=10, epochs=3))
    assert finished.diverged.cause == "explosion"
    assert same(good, trainer.model) and same(start, trainer.model)


def test_a_finite_explosion_stops_the_run(digits):
    # lr 10 with Adam: the loss climbs to ~1e4 and stays far above its start (the run
    # kept going for 20 epochs at 1.5e9 and 10% accuracy).
    trainer, finished, events, start = train(digit_net(), digits,
                                             TrainConfig(lr=10, epochs=5))
    diverged = finished.diverged
    assert diverged is not None and diverged.cause == "explosion" and diverged.epoch == 1
    assert "more than 1000 times its lowest" in diverged.message
    assert "Lower the learning rate (now 10)" in diverged.message
    assert same(start, trainer.model)
    assert finished.end_val_loss == pytest.approx(finished.start_val_loss)

    _, unchecked, _, _ = train(digit_net(), digits,
                               TrainConfig(lr=10, epochs=2, divergence_factor=0))
    assert unchecked.diverged is None and len(unchecked.history.epochs) == 2
    assert unchecked.history.epochs[0].train_loss > 100


def test_a_normal_run_is_not_stopped(digits):
    _, finished, _, _ = train(digit_net(), digits, TrainConfig(lr=0.01, epochs=4))
    assert finished.diverged is None and finished.test.accuracy > 0.8
    assert finished.end_val_loss < finished.start_val_loss and not finished.ended_worse


def test_a_run_that_ends_worse_than_it_started_says_so(digits):
    # Momentum at lr 10 does not explode 1000-fold but ends far worse than its start.
    _, finished, _, _ = train(digit_net(), digits,
                              TrainConfig(optimizer="momentum", lr=10, epochs=3))
    assert finished.diverged is None
    assert finished.end_val_loss > finished.start_val_loss and finished.ended_worse


def test_the_watch_ignores_noise_and_a_loss_that_stays_below_its_start():
    watch = DivergenceWatch(1000.0)
    rng = np.random.default_rng(0)
    # Falls from 2.3 to ~1e-6 with batches 100x apart, then rises back to 1e-2: no explosion.
    for loss in [*np.geomspace(2.3, 1e-6, 500) * rng.uniform(0.1, 10, 500), *[1e-2] * 200]:
        assert watch.batch(float(loss), 1.0) is None
    assert watch.batch(5e3, 1.0)[0] == "explosion"
    assert DivergenceWatch(0.0).batch(1e30, 1.0) is None  # 0: off
    assert DivergenceWatch(0.0).batch(math.nan, 1.0)[0] == "loss"  # NaN always stops


@pytest.mark.parametrize("factor, ok", [(1000.0, True), (0, True), (2, True), (1.5, False),
                                        (-1, False), (math.inf, False), (math.nan, False),
                                        ("big", False)])
def test_the_divergence_factor_is_checked(factor, ok):
    problems = TrainConfig(divergence_factor=factor).problems()
    assert not problems if ok else "Divergence factor" in problems[0]


def test_settings_saved_before_the_factor_existed_still_load():
    old = TrainConfig().to_dict()
    del old["divergence_factor"]
    assert TrainConfig.from_dict(old).divergence_factor == 1000.0


def adam_state_after_one_run():
    data, model = blob_data(), small_net()
    trainer = Trainer(model, data, TrainConfig(lr=0.01, batch_size=32, epochs=1))
    trainer.run()
    return data, model, trainer.optimizer_state


@pytest.mark.parametrize("damage", ["negative", "nan", "shape", "step"])
def test_a_damaged_optimizer_state_starts_the_optimizer_afresh(damage, caplog):
    data, model, saved = adam_state_after_one_run()
    values = saved.state_dict["state"][0]
    if damage == "negative":  # the session: negative second moments
        values["exp_avg_sq"] = -values["exp_avg_sq"] - 1.0
    elif damage == "nan":
        values["exp_avg"][0, 0] = math.nan
    elif damage == "shape":
        values["exp_avg"] = values["exp_avg"][:, :3].clone()
    else:
        values["step"] = torch.tensor(-5.0)
    assert state_problem(saved, [p.shape for p in model.parameters()]) is not None
    with caplog.at_level(logging.WARNING):
        trainer = Trainer(model, data, TrainConfig(lr=0.01, batch_size=32, epochs=1),
                          optimizer_state=saved)
        finished = trainer.run()
    assert "starting the optimizer afresh" in caplog.text
    assert finished.diverged is None and finished.test.accuracy > 0.8
    steps = {float(v["step"]) for v in trainer.optimizer_state.state_dict["state"].values()}
    assert steps == {math.ceil(420 / 32)}  # afresh, not continued


def test_the_watch_names_what_was_not_sound():
    watch = DivergenceWatch(1000.0, start_val_loss=2.3)
    assert watch.batch(2.3, math.nan)[0] == "gradients"
    assert watch.batch(2.3, math.inf)[0] == "gradients"
    assert watch.epoch(0.5, weights_finite=False, has_val=True)[0] == "weights"
    assert watch.epoch(math.nan, weights_finite=True, has_val=True)[0] == "validation"
    assert watch.epoch(math.nan, weights_finite=True, has_val=False) is None  # no val data
    assert watch.epoch(0.01, weights_finite=True, has_val=True) is None
    assert watch.epoch(1.0, weights_finite=True, has_val=True) is None  # 100x, below its start
    assert watch.epoch(50.0, weights_finite=True, has_val=True)[0] == "explosion"
