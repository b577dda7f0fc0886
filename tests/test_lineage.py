"""The lineage never silently replaces a better model (issue 13.3): a run that ends worse than
the model it started from keeps that model, with its past, to go back to."""

import torch
from mlp_studio.core.lineage import Lineage
from mlp_studio.core.training import TrainConfig, Trainer
from test_divergence import digit_net, digits  # noqa: F401 - digits is a fixture


def run(model, data, lineage, **config):
    start = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = Trainer(model, data, TrainConfig(**config), start_epoch=lineage.epochs_done,
                      optimizer_state=lineage.optimizer_state)
    result = trainer.run()
    return lineage.extended(trainer, result, start), result, start


def test_a_run_that_ends_worse_keeps_the_model_it_started_from(digits):  # noqa: F811
    model = digit_net()
    good, first, _ = run(model, digits, Lineage(), lr=0.01, epochs=3)
    assert good.earlier is None and not first.ended_worse
    before = {k: v.clone() for k, v in model.state_dict().items()}

    # The run: a learning rate far too high, keeping its best epoch, which is still
    # far worse than the model it started from (the explosion check is off, as it was then).
    bad, second, start = run(model, digits, good, optimizer="momentum", lr=10, epochs=3,
                             divergence_factor=0)
    assert second.ended_worse and second.end_val_loss > second.start_val_loss
    earlier = bad.earlier
    assert earlier is not None
    assert all(torch.equal(earlier.weights[k], before[k]) for k in before)
    assert earlier.val_loss == second.start_val_loss
    assert earlier.lineage.history is good.history and earlier.lineage.earlier is None
    assert earlier.lineage.optimizer_state is good.optimizer_state
    assert "worse than it found it" in earlier.describe()
    # The best weights of the lineage stay the better run's.
    assert bad.best_epoch == good.best_epoch
    assert all(torch.equal(bad.best_state[k], good.best_state[k]) for k in good.best_state)
    assert bad.epochs_done == 6 and len(bad.history.epochs) == 6

    # Going back and training well again: nothing earlier to offer then.
    model.load_state_dict(earlier.weights)
    again, third, _ = run(model, digits, earlier.lineage, lr=0.001, epochs=1)
    assert not third.ended_worse and again.earlier is None


def test_without_start_weights_nothing_is_kept(digits):  # noqa: F811
    model = digit_net()
    trainer = Trainer(model, digits, TrainConfig(optimizer="momentum", lr=10, epochs=2))
    result = trainer.run()
    assert result.ended_worse and Lineage().extended(trainer, result).earlier is None
