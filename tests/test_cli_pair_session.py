"""`mlp-studio pair --save-session FILE` (issue 11): the comparison in a session, run A of the
first seed as its model, every seed's pair for the app's Compare panel."""

import torch
from idx_fixtures import write_mnist_folder
from mlp_studio.core.cli import main
from mlp_studio.core.model import build_model
from mlp_studio.core.paired import weights_hash
from mlp_studio.core.session import load_session


def test_pair_saves_its_comparison_in_a_session(tmp_path, capsys):
    data = write_mnist_folder(tmp_path / "mnist", 300, 60)
    path = tmp_path / "pair.mlps"
    assert main(["pair", "--data", str(data), "--hidden", "16", "--epochs", "2",
                 "--batch-size", "32", "--change", "activation=tanh", "--seeds", "2",
                 "--checkpoint-budget", "32", "--save-session", str(path), "--quiet"]) == 0
    assert "saved session" in capsys.readouterr().err
    session = load_session(path)
    pairs = session.pairs
    assert pairs is not None and pairs.task == "classification"
    assert (pairs.plan.setting.name, pairs.plan.old, pairs.plan.new) == ("activation", "relu",
                                                                        "tanh")
    assert [r.plan.seed for r in pairs.results] == [0, 1]
    assert all(r.same_start and r.same_order for r in pairs.results)
    # The session's own model is the first seed's run A, as trained.
    assert session.spec == pairs.plan.base.spec and session.train_config == pairs.plan.base.train
    assert session.epochs_done == 2
    assert session.history.epochs == pairs.results[0].a.history.epochs
    model_a = pairs.models[0][0]
    for name, value in session.weights.items():
        assert torch.equal(model_a.state_dict()[name], value)
    assert all(m is not None for m in pairs.models)
    # Run A's checkpoints, to scrub and branch from in the app.
    tree = session.run_tree
    assert tree.checkpoints.budget_mb == 32 and set(tree.runs) == {1}
    kept = tree.path()
    assert [(c.kind, c.epoch) for c in kept] == [("start", 0), ("epoch", 1), ("epoch", 2)]
    best = next(c for c in kept if c.epoch == session.best_epoch)
    for name, value in session.weights.items():  # it ended on its best epoch's weights
        assert best.weights[name].tobytes() == value.numpy().tobytes()
    first = pairs.results[0].a.fingerprint.weights
    start = build_model(session.spec)
    start.load_state_dict({k: torch.from_numpy(v) for k, v in kept[0].weights.items()})
    assert weights_hash(start) == first  # the start checkpoint is the run's hashed start
    assert session.data is not None and session.data.path == str(data)


def test_a_session_path_that_cannot_be_written_is_refused_before_training(tmp_path, capsys):
    data = write_mnist_folder(tmp_path / "mnist", 100, 20)
    assert main(["pair", "--data", str(data), "--change", "lr=0.01", "--save-session",
                 str(data / "inside.mlps"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--save-session" in err and "data folder" in err and "epoch" not in err


def test_a_session_that_cannot_be_written_after_training_is_recovered(tmp_path, capsys,
                                                                      monkeypatch):
    import errno

    from mlp_studio.core import outputs

    data = write_mnist_folder(tmp_path / "mnist", 100, 20)
    out = tmp_path / "out"
    out.mkdir()
    real = outputs._temp_copy

    def full_disk(path, content):
        if path.parent == out:  # the checks pass; the write after training fails
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, content)

    monkeypatch.setattr(outputs, "_temp_copy", full_disk)
    monkeypatch.setattr(outputs, "recovery_folder", lambda: tmp_path / "recovered")
    assert main(["pair", "--data", str(data), "--hidden", "8", "--epochs", "1", "--change",
                 "lr=0.01", "--save-session", str(out / "p.mlps"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "the disk is full" in err
    recovered = list((tmp_path / "recovered").glob("recovered-*.mlps"))
    assert len(recovered) == 1 and f"The trained model is kept in {recovered[0]}" in err
    assert load_session(recovered[0]).pairs is not None
