"""`mlp-studio train --save-session` keeps the run's per-epoch checkpoints (issue 11): the same
run tree the app keeps, within --checkpoint-budget, so the session opens in the app ready to
scrub back to and branch from any epoch."""

import numpy as np
import pytest
import torch
from idx_fixtures import write_mnist_folder
from mlp_studio.core.cli import main
from mlp_studio.core.lineage import Lineage
from mlp_studio.core.model import build_model
from mlp_studio.core.run_tree import start_from
from mlp_studio.core.session import load_session


@pytest.fixture(scope="module")
def mnist(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mnist")
    write_mnist_folder(folder, n_train=300, n_test=60)
    return folder


def train(mnist, *argv) -> int:
    return main(["train", "--data", str(mnist), "--hidden", "8", "--batch-size", "32",
                 "--quiet", *map(str, argv)])


def test_a_saved_session_keeps_every_epoch_and_continuing_grows_the_tree(mnist, tmp_path):
    path = tmp_path / "run.mlps"
    assert train(mnist, "--epochs", 3, "--no-restore-best", "--checkpoint-budget", 64,
                 "--save-session", path) == 0
    session = load_session(path)
    tree = session.run_tree
    assert tree is not None and tree.current == 1 and set(tree.runs) == {1}
    assert tree.checkpoints.budget_mb == 64
    kept = tree.path()
    assert [(c.kind, c.epoch) for c in kept] == [("start", 0), ("epoch", 1), ("epoch", 2),
                                                 ("epoch", 3)]
    # The first checkpoint holds the seeded initial weights, the last the session's own.
    initial = build_model(session.spec).state_dict()
    for name, value in kept[0].weights.items():
        assert value.tobytes() == initial[name].numpy().tobytes()
        assert kept[-1].weights[name].tobytes() == session.weights[name].numpy().tobytes()
    assert kept[0].optimizer is None and all(c.optimizer is not None for c in kept[1:])
    assert [c.step for c in kept] == [0, 9, 18, 27]  # 270 training samples, batches of 32
    assert tree.runs[1].config["epochs"] == 3
    assert tree.checkpoints.best[1] == (session.best_epoch, 0)
    # Read back, the store knows the bytes it holds (the budget applies to them).
    assert tree.checkpoints.nbytes == sum(c.nbytes for c in kept) > 0
    assert tree.checkpoints.describe().startswith("4 checkpoints, 0.2")

    # Branching from epoch 1 as the app does starts from its weights bit for bit.
    weights, lineage = start_from(kept[1], Lineage.of_session(session), kept)
    assert lineage.epochs_done == 1 and [r.epoch for r in lineage.history.epochs] == [1]
    for name, value in kept[1].weights.items():
        assert torch.equal(weights[name], torch.from_numpy(value))

    # Continued with --session: the same run goes on, epochs 4 and 5, within a new budget.
    assert main(["train", "--session", str(path), "--epochs", "2", "--checkpoint-budget", "32",
                 "--quiet"]) == 0
    tree = load_session(path).run_tree
    assert [(c.kind, c.epoch) for c in tree.path()] == [
        ("start", 0), ("epoch", 1), ("epoch", 2), ("epoch", 3), ("epoch", 4), ("epoch", 5)]
    assert tree.path()[-1].step == 45 and tree.checkpoints.budget_mb == 32


def test_a_small_budget_thins_the_checkpoints_but_keeps_first_best_and_last(mnist, tmp_path):
    path = tmp_path / "thin.mlps"
    # One checkpoint of 784-8-10 with Adam's two moments: about 75 KB.
    assert train(mnist, "--epochs", 8, "--checkpoint-budget", 0.3, "--save-session", path) == 0
    session = load_session(path)
    store = session.run_tree.checkpoints
    epochs = [c.epoch for c in store.items]
    assert 0 in epochs and 8 in epochs and session.best_epoch in epochs
    assert len(epochs) < 9 and store.stride > 1
    assert store.nbytes <= store.budget_bytes or store.over_budget


def test_restart_starts_a_new_tree(mnist, tmp_path):
    path = tmp_path / "r.mlps"
    assert train(mnist, "--epochs", 2, "--save-session", path) == 0
    assert main(["train", "--session", str(path), "--restart", "--epochs", "1",
                 "--quiet"]) == 0
    assert [c.epoch for c in load_session(path).run_tree.path()] == [0, 1]


@pytest.mark.parametrize("budget,text", [
    ("0", "A checkpoint budget of 0 MB keeps no checkpoints"),
    ("-5", "A checkpoint budget of -5 MB keeps no checkpoints"),
    ("nan", "keeps no checkpoints"),
    ("inf", "keeps no checkpoints"),
    ("lots", "'lots' is not a number of megabytes"),
])
def test_a_budget_that_keeps_nothing_is_refused_before_training(mnist, tmp_path, capsys,
                                                                budget, text):
    path = tmp_path / "s.mlps"
    assert train(mnist, "--epochs", 1, "--checkpoint-budget", budget,
                 "--save-session", path) == 2
    err = capsys.readouterr().err
    assert text in err and "data:" not in err and not path.exists()


def test_a_budget_without_a_session_is_refused(mnist, capsys):
    assert train(mnist, "--epochs", 1, "--checkpoint-budget", 10) == 2
    assert "give a session to keep them in, --save-session FILE" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["pair", "lr-find"])
def test_a_budget_without_a_session_to_keep_is_refused(mnist, capsys, command):
    extra = ["--change", "lr=0.01"] if command == "pair" else []
    assert main([command, "--data", str(mnist), "--checkpoint-budget", "10", *extra]) == 2
    assert "--checkpoint-budget" in capsys.readouterr().err


def test_checkpoints_are_float32_copies(mnist, tmp_path):
    path = tmp_path / "c.mlps"
    assert train(mnist, "--epochs", 2, "--save-session", path) == 0
    kept = load_session(path).run_tree.path()
    assert all(v.dtype == np.float32 for c in kept for v in c.weights.values())
    assert not np.array_equal(kept[1].weights["net.0.weight"], kept[2].weights["net.0.weight"])
