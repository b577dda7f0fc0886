import math

import numpy as np
import pytest
from mlp_studio.core.best_epoch import epoch_score, kept_weights, recorded_score
from mlp_studio.core.errors import SpecError
from mlp_studio.core.lineage import Lineage
from mlp_studio.core.metrics import Metrics
from mlp_studio.core.training import EpochEnd, TrainConfig, Trainer
from test_training import blob_data, small_net

# (val loss, val accuracy) per epoch: the loss is lowest at epoch 2 while the accuracy keeps
# rising to epoch 3, as with RMSprop on mnist_mlp (lowest loss at epoch 4, accuracy at 20).
SCRIPT = [(0.50, 0.90), (0.40, 0.91), (0.45, 0.93), (0.47, 0.93)]


def scripted(monkeypatch, script):
    """Validation figures as `script` says, epoch by epoch (the start's figure first, the
    last repeated for the end's)."""
    figures = iter([(1.0, 0.5), *script])
    last = script[-1]

    def validate(self):
        loss, accuracy = next(figures, last)
        empty = np.zeros(0)
        return Metrics(loss, accuracy, np.zeros((3, 3), np.int64), *[empty] * 8)

    monkeypatch.setattr(Trainer, "_validate", validate)


@pytest.mark.parametrize(("best_by", "epoch"), [("accuracy", 3), ("loss", 2)])
def test_the_best_epoch_follows_the_chosen_criterion(monkeypatch, best_by, epoch):
    scripted(monkeypatch, SCRIPT)
    events = []
    config = TrainConfig(epochs=4, best_by=best_by)
    trainer = Trainer(small_net(), blob_data(), config, on_event=events.append)
    finished = trainer.run()
    assert finished.best_epoch == epoch  # accuracy ties (epochs 3 and 4) go to the lower loss
    assert [e.best for e in events if isinstance(e, EpochEnd)] == [
        True, True, best_by == "accuracy", False]


def test_accuracy_is_the_default_and_the_criterion_is_checked():
    assert TrainConfig().best_by == "accuracy"
    with pytest.raises(SpecError, match="best-epoch criterion 'f1'"):
        TrainConfig(best_by="f1").validate()


def test_scores():
    assert epoch_score(0.4, 0.9, "accuracy") > epoch_score(0.3, 0.89, "accuracy")
    assert epoch_score(0.3, 0.9, "accuracy") > epoch_score(0.4, 0.9, "accuracy")
    assert epoch_score(0.3, 0.8, "loss") > epoch_score(0.4, 0.9, "loss")
    assert epoch_score(0.3, math.nan, "accuracy") > epoch_score(0.4, math.nan, "accuracy")
    assert epoch_score(math.nan, 0.99, "accuracy") < epoch_score(9.0, 0.1, "accuracy")


def test_a_later_run_replaces_the_lineages_best_only_when_better(monkeypatch):
    scripted(monkeypatch, SCRIPT)
    data = blob_data()
    first = Trainer(small_net(), data, TrainConfig(epochs=4))
    lineage = Lineage().extended(first, first.run())
    assert lineage.best_epoch == 3
    assert recorded_score(lineage.history, 3, "accuracy") == (0.93, -0.45)
    scripted(monkeypatch, [(0.30, 0.92)])  # a lower loss, but a lower accuracy
    second = Trainer(small_net(), data, TrainConfig(epochs=1), start_epoch=4)
    assert Lineage.extended(lineage, second, second.run()).best_epoch == 3
    scripted(monkeypatch, [(0.50, 0.95)])
    third = Trainer(small_net(), data, TrainConfig(epochs=1), start_epoch=4)
    assert Lineage.extended(lineage, third, third.run()).best_epoch == 5


def test_the_kept_weights_are_named_with_the_reason():
    config = TrainConfig()
    assert kept_weights(config, 14, 20) == (
        "the weights of epoch 14, the highest validation accuracy")
    assert kept_weights(config, 20, 20) == (
        "the weights of the last epoch (20), also the highest validation accuracy")
    assert kept_weights(TrainConfig(best_by="loss"), 4, 20) == (
        "the weights of epoch 4, the lowest validation loss")
    assert kept_weights(config, 4, 20, regression=True).endswith("the lowest validation loss")
    assert kept_weights(TrainConfig(restore_best=False), 4, 20) == (
        "the weights of the last epoch (20)")
