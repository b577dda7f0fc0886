import io
import json
import os
import zipfile

import numpy as np
import pytest
import torch
from idx_fixtures import write_mnist_folder
from mlp_studio.core import export
from mlp_studio.core.activations import ActivationSpec
from mlp_studio.core.cli import given_options, main
from mlp_studio.core.data import BalanceConfig, DataConfig, SplitConfig, prepare_mnist
from mlp_studio.core.data_source import DataSource
from mlp_studio.core.errors import SessionError
from mlp_studio.core.mnist import load_folder
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model
from mlp_studio.core.session import (
    BEST_WEIGHTS,
    FORMAT_VERSION,
    OPTIMIZER,
    SESSION_JSON,
    WEIGHTS,
    Session,
    load_session,
    save_session,
    session_bytes,
    session_to_json,
)
from mlp_studio.core.session_bundle import session_bundle
from mlp_studio.core.session_history import merge_history
from mlp_studio.core.training import EpochRecord, History, TrainConfig, Trainer
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_save


@pytest.fixture(scope="module")
def small_mnist(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mnist")
    write_mnist_folder(folder, n_train=600, n_test=100)
    return folder


@pytest.fixture(scope="module")
def trained(small_mnist) -> Session:
    """A session after two real epochs: batch norm and maxout, so buffers are saved too."""
    data_config = DataConfig(
        normalization="per_pixel",
        split=SplitConfig(val_fraction=0.2, seed=3, subset=400),
        balance=BalanceConfig(keep_fractions=(1.0,) * 9 + (0.5,), remedy="oversample"),
    )
    data = prepare_mnist(load_folder(small_mnist), data_config)
    spec = NetworkSpec(
        784,
        [LayerSpec(16, batch_norm=True), LayerSpec(8, ActivationSpec("maxout", pieces=3))],
        10,
        seed=5,
    )
    config = TrainConfig(lr=0.01, epochs=2, batch_size=32, stats_every=5)
    trainer = Trainer(build_model(spec), data, config)
    finished = trainer.run()
    return Session(
        spec=spec,
        weights={k: v.clone() for k, v in trainer.model.state_dict().items()},
        data_config=data_config,
        train_config=config,
        normalization=data.normalization,
        class_names=list(data.class_names),
        history=finished.history,
        best_weights={k: v.clone() for k, v in trainer.best_state.items()},
        best_epoch=trainer.best_epoch,
        epochs_done=2,
        data_source=str(small_mnist),
        optimizer_state=trainer.optimizer_state,
    )


def _tiny_session(**changes) -> Session:
    spec = NetworkSpec(784, [LayerSpec(4)], 10)
    session = Session(spec, build_model(spec).state_dict())
    for key, value in changes.items():
        setattr(session, key, value)
    return session


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def _members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _assert_weights_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype and torch.equal(a[key], b[key]), key


# ---------------------------------------------------------------- round trip


def test_round_trip_keeps_every_field(trained, tmp_path):
    path = save_session(trained, tmp_path / "run.mlps")
    loaded = load_session(path)
    assert loaded.spec == trained.spec
    assert loaded.data_config == trained.data_config
    assert loaded.train_config == trained.train_config
    assert loaded.normalization.kind == "per_pixel"
    np.testing.assert_array_equal(loaded.normalization.mean, trained.normalization.mean)
    np.testing.assert_array_equal(loaded.normalization.std, trained.normalization.std)
    assert loaded.class_names == trained.class_names
    assert loaded.history == trained.history
    assert len(loaded.history.epochs) == 2
    assert np.array(loaded.history.epochs[-1].val_confusion).shape == (10, 10)
    assert loaded.history.grad_norms and loaded.history.batch_losses
    assert (loaded.epochs_done, loaded.best_epoch) == (2, trained.best_epoch)
    assert loaded.data_source == trained.data_source
    assert loaded.created == trained.created != ""
    assert loaded.modified == trained.modified
    assert loaded.app_version == trained.app_version != ""
    _assert_weights_equal(loaded.weights, trained.weights)
    _assert_weights_equal(loaded.best_weights, trained.best_weights)
    assert "net.1.num_batches_tracked" in loaded.weights  # batch-norm buffers travel too
    saved, back = trained.optimizer_state, loaded.optimizer_state
    assert back.optimizer == saved.optimizer == "adam"
    assert back.state_dict["state"].keys() == saved.state_dict["state"].keys()
    for i, values in saved.state_dict["state"].items():
        assert values.keys() == back.state_dict["state"][i].keys()
        for key, value in values.items():
            assert torch.equal(value, back.state_dict["state"][i][key]), (i, key)
    assert {k: v for k, v in session_to_json(loaded).items()} == session_to_json(trained)


def test_a_saved_optimizer_state_continues_training(trained, tmp_path, small_mnist):
    loaded = load_session(save_session(trained, tmp_path / "run.mlps"))
    data = prepare_mnist(load_folder(small_mnist), loaded.data_config)
    model = build_model(loaded.spec)
    model.load_state_dict(loaded.weights)
    config = TrainConfig(lr=0.01, epochs=1, batch_size=32)
    trainer = Trainer(model, data, config, optimizer_state=loaded.optimizer_state)
    trainer.run()
    steps = {float(v["step"]) for v in trainer.optimizer_state.state_dict["state"].values()}
    before = {float(v["step"]) for v in loaded.optimizer_state.state_dict["state"].values()}
    batches = -(-len(data.x_train) // 32)
    assert steps == {before.pop() + batches}


def test_a_damaged_optimizer_state_is_left_out_not_fatal(trained, tmp_path, caplog):
    path = save_session(trained, tmp_path / "run.mlps")
    members = _members(path)
    members[OPTIMIZER] = b"not safetensors"
    (tmp_path / "bad.mlps").write_bytes(_zip(members))
    loaded = load_session(tmp_path / "bad.mlps")
    assert loaded.optimizer_state is None and loaded.epochs_done == 2
    _assert_weights_equal(loaded.weights, trained.weights)
    assert "optimizer state ignored" in caplog.text


@pytest.mark.parametrize("damage", ["negative", "nan", "shape"])
def test_an_unsound_optimizer_state_is_left_out_on_open(trained, tmp_path, caplog, damage):
    # The session: negative second moments made the next run diverge.
    path = save_session(trained, tmp_path / "run.mlps")
    members = _members(path)
    tensors = safetensors_load(members[OPTIMIZER])
    key = next(k for k in tensors if k.endswith("exp_avg_sq"))
    if damage == "negative":
        tensors[key] = -tensors[key] - 1.0
    elif damage == "nan":
        tensors[key] = torch.full_like(tensors[key], float("nan"))
    else:
        tensors[key] = tensors[key].flatten()[:3].clone()
    members[OPTIMIZER] = safetensors_save(tensors)
    (tmp_path / "bad.mlps").write_bytes(_zip(members))
    loaded = load_session(tmp_path / "bad.mlps")
    assert loaded.optimizer_state is None and loaded.epochs_done == 2
    assert "optimizer state ignored" in caplog.text and "exp_avg_sq" in caplog.text


def test_the_file_is_the_documented_zip(trained, tmp_path):
    path = save_session(trained, tmp_path / "run.mlps")
    with zipfile.ZipFile(path) as zf:
        assert set(zf.namelist()) == {SESSION_JSON, WEIGHTS, BEST_WEIGHTS, OPTIMIZER}
        assert zf.getinfo(SESSION_JSON).compress_type == zipfile.ZIP_DEFLATED
        meta = json.loads(zf.read(SESSION_JSON))
    assert meta["format"] == "mlp-studio-session" and meta["format_version"] == FORMAT_VERSION == 2
    assert meta["loss"] == "sparse_categorical_cross_entropy"
    assert set(meta) >= {"spec", "data_config", "normalization", "train_config", "class_names",
                         "history", "data_source", "epochs_done", "created", "modified",
                         "app_version", "best_epoch"}  # fmt: skip


def test_created_survives_a_resave_and_modified_moves(tmp_path):
    session = _tiny_session(created="2020-01-02T03:04:05+00:00")
    save_session(session, tmp_path / "a.mlps")
    assert session.created == "2020-01-02T03:04:05+00:00"
    assert session.modified > session.created
    assert load_session(tmp_path / "a.mlps").created == session.created


def test_the_data_source_is_remembered(tmp_path):
    """What the data is and how it was read (here a table, its target and task), so opening
    the session can load the same data; sessions without one read as before."""
    session = _tiny_session()
    session.data = DataSource("table", "/data/houses.csv", target="price", task="regression")
    loaded = load_session(save_session(session, tmp_path / "table.mlps"))
    assert loaded.data == session.data
    meta = json.loads(_members(tmp_path / "table.mlps")[SESSION_JSON])
    assert meta["data"] == {"kind": "table", "path": "/data/houses.csv", "dataset": "mnist",
                            "image_size": 28, "color": False, "target": "price",
                            "task": "regression"}  # fmt: skip
    assert load_session(save_session(_tiny_session(), tmp_path / "old.mlps")).data is None


def test_session_without_best_weights_or_normalization(tmp_path):
    path = save_session(_tiny_session(), tmp_path / "fresh.mlps")
    loaded = load_session(path)
    assert loaded.best_weights is None and loaded.normalization is None
    assert BEST_WEIGHTS not in _members(path)
    with pytest.raises(SessionError, match="no normalization"):
        session_bundle(loaded)


def test_save_refuses_what_load_would_refuse(tmp_path):
    other = build_model(NetworkSpec(784, [LayerSpec(5)], 10)).state_dict()
    with pytest.raises(SessionError, match="Cannot save this session: .*net.0.weight"):
        save_session(_tiny_session(weights=other), tmp_path / "x.mlps")
    with pytest.raises(SessionError, match="class names"):
        save_session(_tiny_session(class_names=["a"]), tmp_path / "x.mlps")
    with pytest.raises(SessionError, match="best epoch"):
        save_session(_tiny_session(best_epoch=3, epochs_done=2), tmp_path / "x.mlps")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- atomic saving


def _leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != "keep.mlps")


def test_failed_rename_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "keep.mlps"
    save_session(_tiny_session(epochs_done=1), path)
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(SessionError, match="disk is full"):
        save_session(_tiny_session(epochs_done=7), path)
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == []
    assert load_session(path).epochs_done == 1


def test_write_failing_midway_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "keep.mlps"
    save_session(_tiny_session(epochs_done=1), path)
    before = path.read_bytes()
    real_fdopen = os.fdopen

    class HalfWriter:
        """Writes the first half of the data, then fails like a full disk."""

        def __init__(self, fd, mode):
            self.file = real_fdopen(fd, mode)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

        def write(self, data):
            self.file.write(data[: len(data) // 2])
            self.file.flush()
            raise OSError(28, "No space left on device")

        def fileno(self):
            return self.file.fileno()

    monkeypatch.setattr(os, "fdopen", HalfWriter)
    with pytest.raises(SessionError, match="Cannot write .*keep.mlps"):
        save_session(_tiny_session(epochs_done=7), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_save_into_a_missing_folder_says_so(tmp_path):
    with pytest.raises(SessionError, match="does not exist"):
        save_session(_tiny_session(), tmp_path / "nope" / "a.mlps")


# ---------------------------------------------------------------- broken files


def test_not_a_zip(tmp_path):
    path = tmp_path / "fake.mlps"
    path.write_bytes(b"MLP Studio? no, just text\n" * 20)
    with pytest.raises(SessionError, match=r"fake.mlps: it is not an MLP Studio session or it"):
        load_session(path)


@pytest.mark.parametrize("keep", [0.98, 0.6, 0.3])
def test_truncated_file(trained, tmp_path, keep):
    data = session_bytes(trained)
    path = tmp_path / "cut.mlps"
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(SessionError, match="cut.mlps: it is not an MLP Studio session or it is "
                       "damaged"):  # fmt: skip
        load_session(path)


def test_flipped_bytes_in_the_weights_are_caught(trained, tmp_path):
    data = bytearray(session_bytes(trained))
    weights_at = data.find(b"net.0.weight")  # inside the stored safetensors member
    data[weights_at + 5000] ^= 0xFF  # in the tensor data: the member's CRC no longer matches
    path = tmp_path / "flipped.mlps"
    path.write_bytes(bytes(data))
    with pytest.raises(SessionError, match="damaged .*CRC"):
        load_session(path)


@pytest.mark.parametrize("missing", [SESSION_JSON, WEIGHTS])
def test_missing_member(trained, tmp_path, missing):
    members = _members(save_session(trained, tmp_path / "full.mlps"))
    del members[missing]
    path = tmp_path / "partial.mlps"
    path.write_bytes(_zip(members))
    with pytest.raises(SessionError, match=f"has no {missing}"):
        load_session(path)


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda m: b"{not json", "session.json is not valid JSON"),
        (lambda m: json.dumps({**m, "format": "other"}).encode(), "not contain an MLP Studio"),
        (lambda m: json.dumps([1, 2]).encode(), "not contain an MLP Studio"),
        (lambda m: json.dumps({**m, "format_version": "1"}).encode(), "format version '1'"),
        (lambda m: json.dumps({**m, "spec": {"hidden": 3}}).encode(), "settings are invalid"),
        (lambda m: json.dumps({**m, "train_config": {"lr": -1}}).encode(), "Learning rate -1"),
        (lambda m: json.dumps({**m, "class_names": ["a"]}).encode(), "list of 10 strings"),
        (lambda m: json.dumps({**m, "history": {"epochs": [{"x": 1}]}}).encode(), "history"),
        (lambda m: json.dumps({**m, "epochs_done": -1}).encode(), "epochs done"),
        (lambda m: json.dumps({**m, "history": None}).encode(), "history is missing"),
        (lambda m: json.dumps({**m, "data": {"kind": "audio"}}).encode(),
         "data source is invalid: .*unknown data kind"),
        (lambda m: json.dumps({**m, "data": "wine.csv"}).encode(), "data source is invalid"),
    ],
)
def test_bad_session_json(trained, tmp_path, change, message):
    members = _members(save_session(trained, tmp_path / "good.mlps"))
    members[SESSION_JSON] = change(json.loads(members[SESSION_JSON]))
    path = tmp_path / "bad.mlps"
    path.write_bytes(_zip(members))
    with pytest.raises(SessionError, match=message) as info:
        load_session(path)
    assert str(info.value).startswith(f"Cannot open {path}: ")


def _history_edit(meta: dict, field: str, value) -> bytes:
    epochs = [dict(e) for e in meta["history"]["epochs"]]
    epochs[0][field] = value
    return json.dumps({**meta, "history": {**meta["history"], "epochs": epochs}}).encode()


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda m: _history_edit(m, "epoch", "one"), "record 1 has epoch 'one': epochs are whole"),
        (lambda m: _history_edit(m, "epoch", 0), "record 1 has epoch 0"),
        (lambda m: _history_edit(m, "val_loss", "low"), "record 1 has val_loss 'low', which is "
                                                        "not a number"),
        (lambda m: _history_edit(m, "seconds", True), "has seconds True"),
        (lambda m: _history_edit(m, "val_confusion", [["a"]]), "not a table of whole numbers"),
        (lambda m: _history_edit(m, "val_confusion", 3), "val_confusion is not a list"),
        (lambda m: json.dumps({**m, "history": {**m["history"], "batch_losses": ["x"]}}).encode(),
         "batch_losses are not all numbers"),
        (lambda m: json.dumps({**m, "history": {**m["history"], "grad_norms": [[1]]}}).encode(),
         "grad_norms are not"),
        (lambda m: json.dumps({**m, "history": {"epochs": {}}}).encode(), "epochs is not a list"),
    ],
)
def test_history_of_the_wrong_types_is_refused_on_opening(trained, tmp_path, change, message):
    members = _members(save_session(trained, tmp_path / "good.mlps"))
    members[SESSION_JSON] = change(json.loads(members[SESSION_JSON]))
    path = tmp_path / "bad.mlps"
    path.write_bytes(_zip(members))
    with pytest.raises(SessionError, match=message) as info:
        load_session(path)
    assert str(info.value).startswith(f"Cannot open {path}: its training history")


def test_weights_of_the_wrong_shape(trained, tmp_path):
    members = _members(save_session(trained, tmp_path / "good.mlps"))
    state = {k: v.clone() for k, v in trained.weights.items()}
    state["net.0.weight"] = torch.zeros(16, 783)
    from safetensors.torch import save

    members[WEIGHTS] = save(state)
    path = tmp_path / "shapes.mlps"
    path.write_bytes(_zip(members))
    with pytest.raises(SessionError, match=r"weights.safetensors: .*net.0.weight has shape "
                       r"\[16, 783\], the network needs \[16, 784\]"):  # fmt: skip
        load_session(path)


def test_weights_member_that_is_not_safetensors(trained, tmp_path):
    members = _members(save_session(trained, tmp_path / "good.mlps"))
    members[BEST_WEIGHTS] = b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage"
    path = tmp_path / "garbage.mlps"
    path.write_bytes(_zip(members))
    with pytest.raises(SessionError, match="best.safetensors is not valid safetensors"):
        load_session(path)


def test_oversized_weights_member_is_refused_before_reading(trained, tmp_path):
    members = _members(save_session(_tiny_session(), tmp_path / "good.mlps"))
    members[WEIGHTS] = b"\0" * 200_000 + members[WEIGHTS] + b"\0" * 3_000_000
    path = tmp_path / "big.mlps"
    path.write_bytes(_zip(members))
    with pytest.raises(SessionError, match="larger than the network's weights can be"):
        load_session(path)


def test_folder_and_missing_file(tmp_path):
    with pytest.raises(SessionError, match="it is a folder"):
        load_session(tmp_path)
    with pytest.raises(SessionError, match="does not exist"):
        load_session(tmp_path / "none.mlps")


# ---------------------------------------------------------------- versions


def _v0_zip(trained) -> bytes:
    """A session as the format-0 development builds wrote it: "network", one "saved" time,
    no best weights and no best_epoch."""
    meta = session_to_json(trained)
    meta["format_version"] = 0
    meta["network"] = meta.pop("spec")
    meta["saved"] = "2025-06-01T12:00:00+00:00"
    for key in ("created", "modified", "best_epoch"):
        del meta[key]
    from safetensors.torch import save

    return _zip({SESSION_JSON: json.dumps(meta).encode(), WEIGHTS: save(trained.weights)})


def test_format_0_is_migrated(trained, tmp_path):
    path = tmp_path / "old.mlps"
    path.write_bytes(_v0_zip(trained))
    loaded = load_session(path)
    assert loaded.spec == trained.spec
    assert loaded.created == loaded.modified == "2025-06-01T12:00:00+00:00"
    assert loaded.best_weights is None and loaded.best_epoch is None
    assert loaded.history == trained.history and loaded.epochs_done == 2
    _assert_weights_equal(loaded.weights, trained.weights)
    # Saving writes the current format.
    save_session(loaded, path)
    assert json.loads(_members(path)[SESSION_JSON])["format_version"] == FORMAT_VERSION
    assert load_session(path).created == "2025-06-01T12:00:00+00:00"


def test_newer_format_is_refused_with_a_clear_message(trained, tmp_path):
    members = _members(save_session(trained, tmp_path / "good.mlps"))
    meta = json.loads(members[SESSION_JSON])
    meta["format_version"] = 3
    members[SESSION_JSON] = json.dumps(meta).encode()
    path = tmp_path / "future.mlps"
    path.write_bytes(_zip(members))
    with pytest.raises(SessionError) as info:
        load_session(path)
    assert str(info.value) == (
        f"Cannot open {path}: it was saved by a newer MLP Studio (format 3); this version "
        "reads up to format 2. Update MLP Studio to open it."
    )


# ---------------------------------------------------------------- using sessions


def test_load_predictor_opens_a_session(trained, tmp_path):
    path = save_session(trained, tmp_path / "run.mlps")
    predictor = export.load_predictor(path)
    assert predictor.class_names == trained.class_names
    assert "session" in predictor.source
    pixels = np.random.default_rng(0).uniform(0, 255, (50, 784)).astype(np.float32)
    expected = export.inference_module(session_bundle(trained))(torch.from_numpy(pixels))
    np.testing.assert_allclose(predictor.predict(pixels), expected.numpy(), atol=1e-6)


def test_load_predictor_reports_a_broken_session(tmp_path):
    path = tmp_path / "broken.mlps"
    path.write_bytes(b"nope")
    with pytest.raises(SessionError, match="broken.mlps"):
        export.load_predictor(path)


def _record(epoch: int) -> EpochRecord:
    return EpochRecord(epoch, 1.0, 0.5, 1.0, 0.5, 1.0, 0.1, [[1]])


def test_merge_history_renumbers_a_run_that_restarted_its_count():
    base = History([_record(1), _record(2)], [1.0] * 6, [(1, [0.1]), (5, [0.2])])
    restarted = History([_record(1)], [2.0] * 3, [(1, [0.3])])
    merged = merge_history(base, restarted)
    assert [r.epoch for r in merged.epochs] == [1, 2, 3]
    assert merged.batch_losses == [1.0] * 6 + [2.0] * 3
    assert merged.grad_norms == [(1, [0.1]), (5, [0.2]), (7, [0.3])]
    continued = History([_record(3)], [], [])
    assert [r.epoch for r in merge_history(base, continued).epochs] == [1, 2, 3]
    assert merge_history(History(), History()) == History()


# ---------------------------------------------------------------- the command line


def test_given_options_tells_typed_options_from_defaults():
    given = given_options(["train", "--session", "s.mlps", "--lr", "0.001", "--epochs=3",
                           "--no-restore-best", "--export", "a.onnx"])  # fmt: skip
    assert given == {"session", "lr", "epochs", "no_restore_best", "export"}
    assert given_options(["train"]) == set()


def test_cli_creates_continues_and_restarts_a_session(small_mnist, tmp_path, capsys):
    path = tmp_path / "exp.mlps"
    base = ["train", "--data", str(small_mnist), "--session", str(path), "--quiet"]
    assert main([*base, "--hidden", "24", "--epochs", "2", "--lr", "0.01"]) == 0
    first = load_session(path)
    assert first.epochs_done == 2 and [r.epoch for r in first.history.epochs] == [1, 2]
    assert first.data_source == str(small_mnist) and first.normalization is not None
    assert first.spec.hidden[0].units == 24
    first_bytes = path.read_bytes()

    # Continue without --data (the session knows its folder), overriding epochs and lr.
    cont = ["train", "--session", str(path), "--quiet", "--epochs", "3", "--lr", "0.005"]
    assert main(cont) == 0
    second = load_session(path)
    assert path.read_bytes() != first_bytes
    assert second.epochs_done == 5
    assert [r.epoch for r in second.history.epochs] == [1, 2, 3, 4, 5]
    assert second.history.epochs[:2] == first.history.epochs  # appended, not replaced
    assert second.history.batch_losses[: len(first.history.batch_losses)] == (
        first.history.batch_losses
    )
    assert len(second.history.batch_losses) > len(first.history.batch_losses)
    assert second.train_config.lr == 0.005 and second.train_config.epochs == 3
    assert second.created == first.created and second.modified >= first.modified
    assert 1 <= second.best_epoch <= 5
    assert not all(torch.equal(first.weights[k], second.weights[k]) for k in first.weights)
    # The optimizer continued too: Adam counted the batches of both runs.
    steps = [{float(v["step"]) for v in s.optimizer_state.state_dict["state"].values()}
             for s in (first, second)]  # fmt: skip
    assert steps[1] == {steps[0].pop() * 5 / 2}
    err = capsys.readouterr().err
    assert "continuing, 2 epochs done" in err and "5 epochs done" in err

    # Network options cannot change a saved network.
    assert main([*cont, "--hidden", "8"]) == 2
    assert "--hidden cannot change the network" in capsys.readouterr().err
    assert load_session(path).epochs_done == 5

    # --restart: the initial weights again and a fresh history.
    assert main([*cont, "--restart", "--epochs", "1"]) == 0
    third = load_session(path)
    assert third.epochs_done == 1 and [r.epoch for r in third.history.epochs] == [1]
    assert third.created == first.created


def test_cli_session_runs_the_weights_it_saved(small_mnist, tmp_path, capsys):
    path = tmp_path / "exp.mlps"
    onnx = tmp_path / "m.onnx"
    argv = ["train", "--data", str(small_mnist), "--session", str(path), "--quiet",
            "--hidden", "16", "--epochs", "1", "--export", str(onnx)]  # fmt: skip
    assert main(argv) == 0
    pixels = load_folder(small_mnist).test_images[:40].reshape(40, -1).astype(np.float32)
    np.testing.assert_allclose(
        export.load_predictor(onnx).predict(pixels),
        export.load_predictor(path).predict(pixels),
        atol=1e-5,
    )


def test_cli_restart_without_session_and_missing_session_for_restart(small_mnist, tmp_path,
                                                                      capsys):  # fmt: skip
    assert main(["train", "--restart", "--data", str(small_mnist)]) == 2
    assert "--restart only works with --session" in capsys.readouterr().err
    missing = tmp_path / "none.mlps"
    assert main(["train", "--session", str(missing), "--restart"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_cli_refuses_a_corrupt_session_in_one_line(tmp_path, capsys):
    path = tmp_path / "bad.mlps"
    path.write_bytes(b"garbage")
    assert main(["train", "--session", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: Cannot open") and "bad.mlps" in err[0]
    assert path.read_bytes() == b"garbage"


def test_cli_save_session_writes_a_run_the_app_opens_with_its_history(small_mnist, tmp_path,
                                                                     capsys):
    path = tmp_path / "headless.mlps"
    assert main(["train", "--data", str(small_mnist), "--hidden", "16", "--epochs", "2",
                     "--save-session", str(path), "--quiet"]) == 0
    saved = load_session(path)
    assert saved.epochs_done == 2 and len(saved.history.epochs) == 2
    assert len(saved.history.batch_losses) > 0 and saved.history.epochs[-1].val_confusion
    assert main(["train", "--data", str(small_mnist), "--session", str(path),
                     "--save-session", str(tmp_path / "other.mlps")]) == 2
    assert "leave out --save-session" in capsys.readouterr().err
    assert main(["train", "--data", str(small_mnist), "--save-session",
                     str(tmp_path / "x.json")]) == 2
