"""Time travel in the engine: checkpoints within a budget, branches that start from exactly a
checkpoint's weights, and a run tree that survives a session file (issue 11)."""

from __future__ import annotations

import math

import mlp_studio.core.training_process as tp
import numpy as np
import pytest
import torch
from idx_fixtures import write_mnist_folder
from mlp_studio.core.checkpoints import Checkpoint, CheckpointStore, budget_problem, check_budget
from mlp_studio.core.data import DataConfig, prepare_mnist
from mlp_studio.core.errors import SpecError
from mlp_studio.core.lineage import Lineage
from mlp_studio.core.mnist import load_folder
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model
from mlp_studio.core.run_tree import RunTree, start_from
from mlp_studio.core.session import Session, load_session, save_session
from mlp_studio.core.training import TrainConfig

MB = 1024 * 1024


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    mnist = load_folder(write_mnist_folder(tmp_path_factory.mktemp("mnist"), 600, 100))
    return prepare_mnist(mnist, DataConfig())


def spec():
    return NetworkSpec(hidden=[LayerSpec(16)])


@pytest.mark.parametrize("budget", [0, -5, 0.0, math.nan, math.inf, "lots", None, True])
def test_a_budget_that_keeps_nothing_is_refused_with_what_to_give(budget):
    problem = budget_problem(budget)
    assert problem is not None and ("at least 1 MB" in problem or "not a number" in problem)
    with pytest.raises(SpecError, match="checkpoint budget"):
        check_budget(budget)
    with pytest.raises(SpecError, match="checkpoint budget"):
        CheckpointStore(budget)
    store = CheckpointStore(10)
    with pytest.raises(SpecError, match="checkpoint budget"):
        store.set_budget(budget)
    assert store.budget_mb == 10  # unchanged


def fake(run: int, epoch: int, nbytes: int = MB) -> Checkpoint:
    return Checkpoint(run, epoch, {"w": np.full(nbytes // 4, epoch, np.float32)})


def test_thinning_keeps_every_2nd_then_4th_epoch_and_always_first_best_last():
    store = CheckpointStore(8.5)  # room for 8 checkpoints of 1 MB
    for epoch in range(21):
        store.add(fake(1, epoch), best=epoch == 7)
        assert store.nbytes <= store.budget_bytes
    epochs = [c.epoch for c in store.of_run(1)]
    assert store.stride == 4
    assert epochs == [0, 4, 7, 8, 12, 16, 20]  # 7: the best, kept off the stride
    assert "every 4th epoch kept" in store.describe()
    # More room: the next epochs are kept densely again.
    store.set_budget(64)
    assert store.stride == 1
    store.add(fake(1, 21))
    store.add(fake(1, 22))
    assert [c.epoch for c in store.of_run(1)][-3:] == [20, 21, 22]


def test_a_tiny_budget_still_keeps_first_best_and_last_and_says_so():
    store = CheckpointStore(1)
    for epoch in range(5):
        store.add(fake(1, epoch), best=epoch == 2)
    assert [c.epoch for c in store.of_run(1)] == [0, 2, 4]
    assert store.over_budget and "raise the budget" in store.describe()


def run_process(model, data, config, lineage, on_checkpoint):
    process = tp.TrainingProcess(model, data, config, start_epoch=lineage.epochs_done,
                                 optimizer_state=lineage.optimizer_state, threads=1,
                                 on_checkpoint=on_checkpoint)
    result = process.run()
    return lineage.extended(process, result), process


def record(tree: RunTree, run: int, offset: int = 0):
    def take(checkpoint: Checkpoint, best: bool) -> None:
        tree.checkpoints.add(Checkpoint(run, checkpoint.epoch, checkpoint.weights,
                                        checkpoint.optimizer, checkpoint.batch,
                                        checkpoint.step + offset, checkpoint.kind), best)
    return take


def test_a_branch_starts_from_its_parents_checkpoint_bit_for_bit(data, tmp_path):
    tree = RunTree.new()
    model = build_model(spec())
    tree.checkpoints.add(Checkpoint(1, 0, {k: v.numpy().copy()
                                           for k, v in model.state_dict().items()}, kind="start"))
    config = TrainConfig(epochs=3, batch_size=64, restore_best=False)
    lineage, process = run_process(model, data, config, Lineage(), record(tree, 1))
    path = tree.path()
    assert [c.epoch for c in path] == [0, 1, 2, 3]
    assert all(c.optimizer is not None for c in path[1:])
    # The last checkpoint is the weights the run ended with.
    for name, value in model.state_dict().items():
        assert np.array_equal(path[-1].weights[name], value.numpy())

    chosen = path[2]  # epoch 2
    branch = tree.branch(chosen, config.to_dict())
    weights, branched = start_from(chosen, lineage, tree.path(1))
    first = tree.checkpoints.of_run(branch.id)[0]
    for name in chosen.weights:
        assert first.weights[name].tobytes() == chosen.weights[name].tobytes()
        assert weights[name].numpy().tobytes() == chosen.weights[name].tobytes()
    assert branched.epochs_done == 2 and [r.epoch for r in branched.history.epochs] == [1, 2]
    assert len(branched.history.batch_losses) == chosen.step == 2 * math.ceil(
        len(data.x_train) / 64)
    assert branched.optimizer_state.optimizer == "adam"
    state = branched.optimizer_state.state_dict["state"][0]
    assert torch.equal(state["exp_avg"], torch.from_numpy(chosen.optimizer.state_dict[
        "state"][0]["exp_avg"]))

    # The branch trains on with a changed setting, from exactly those weights.
    tree.current = branch.id
    child = build_model(spec())
    child.load_state_dict(weights)
    changed = TrainConfig(epochs=2, batch_size=64, lr=0.01, restore_best=False)
    branch.config = changed.to_dict()
    branch_lineage, _ = run_process(child, data, changed, branched,
                                    record(tree, branch.id, len(branched.history.batch_losses)))
    assert [c.epoch for c in tree.checkpoints.of_run(branch.id)] == [2, 3, 4]
    assert [(c.run, c.epoch) for c in tree.path()] == [(1, 0), (1, 1), (2, 2), (2, 3), (2, 4)]
    assert branch.changes() == ["lr 0.001 → 0.01"]
    assert branch_lineage.epochs_done == 4

    # Sessions keep the tree: run 1 was left where it ended; run 2 is the session's own.
    tree.runs[1].lineage = lineage
    tree.runs[1].weights = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    session = Session(spec(), child.state_dict(), train_config=changed,
                      history=branch_lineage.history, epochs_done=4, run_tree=tree.snapshot())
    path_file = save_session(session, tmp_path / "tree.mlps")
    back = load_session(path_file).run_tree
    assert back is not None and back.current == 2 and set(back.runs) == {1, 2}
    assert back.runs[2].parent == 1 and back.runs[2].fork == (2, 0)
    assert back.runs[2].changes() == ["lr 0.001 → 0.01"]
    assert [c.key for c in back.checkpoints.items] == [c.key for c in tree.checkpoints.items]
    for a, b in zip(back.checkpoints.items, tree.checkpoints.items, strict=True):
        assert a.step == b.step and a.kind == b.kind
        for name in a.weights:
            assert a.weights[name].dtype == np.float32
            assert a.weights[name].tobytes() == b.weights[name].tobytes()
        if b.optimizer is not None:
            for i, values in b.optimizer.state_dict["state"].items():
                for k, v in values.items():
                    assert np.array_equal(np.asarray(a.optimizer.state_dict["state"][i][k]),
                                          np.asarray(v))
    left = back.runs[1]
    assert left.lineage.epochs_done == 3 and len(left.lineage.history.epochs) == 3
    assert left.lineage.optimizer_state is not None
    for name, value in model.state_dict().items():
        assert left.weights[name].tobytes() == value.numpy().tobytes()


def test_a_stop_mid_epoch_leaves_a_checkpoint_of_the_weights_then(data):
    tree = RunTree.new()
    model = build_model(spec())
    # Epochs enough that the Stop lands however late a busy machine delivers it.
    config = TrainConfig(epochs=10_000, batch_size=16)
    process = tp.TrainingProcess(model, data, config, threads=1, report_interval=0.0,
                                 on_checkpoint=record(tree, 1))

    def on_event(event):
        if type(event).__name__ == "BatchProgress" and event.epoch >= 2:
            process.stop()  # within epoch 2 (or later), after its first batches

    process.on_event = on_event
    result = process.run()
    assert result.stopped
    kinds = [(c.epoch, c.kind) for c in tree.path()]
    done = len(kinds) - 1  # whole epochs before the stop
    assert done >= 1 and kinds == [*((e, "epoch") for e in range(1, done + 1)), (done, "stop")]
    assert tree.path()[-1].batch > 0 or done > 1  # mid-epoch, unless it landed on a boundary
    assert "stopped" in tree.path()[-1].label()
