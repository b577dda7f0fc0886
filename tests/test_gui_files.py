"""Sessions, import and export in the GUI: FileActions and the export dialog (offscreen)."""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hostile_torchscript import crafted_torchscript
from idx_fixtures import write_mnist_folder
from mlp_studio.app.dialogs.export_dialog import FORMATS, format_difference
from mlp_studio.app.files.recent_files import RECENT_KEY
from mlp_studio.app.files.session_actions import FileActions
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.app.model.training_controller import TrainingController
from mlp_studio.core import export
from mlp_studio.core.data import DataConfig, SplitConfig, prepare_mnist
from mlp_studio.core.mnist import load_folder
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model
from mlp_studio.core.session import (
    SESSION_JSON,
    WEIGHTS,
    load_session,
    save_session,
    session_to_json,
)
from mlp_studio.core.training import TrainConfig, Trainer
from PySide6.QtCore import QSettings
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QWidget

TIMEOUT = 60_000  # ms; a first TorchScript export takes ~2 s on a slow machine


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = write_mnist_folder(tmp_path_factory.mktemp("mnist"), n_train=500, n_test=100)
    config = DataConfig(split=SplitConfig(val_fraction=0.2))
    return SimpleNamespace(folder=folder, config=config, prepared=prepare_mnist(
        load_folder(folder), config))  # fmt: skip


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def boxes(monkeypatch):
    """QMessageBox's static functions record what they would show and answer at once."""
    shown: list[tuple[str, str, str]] = []
    answers = {"question": QMessageBox.StandardButton.Yes}

    def fake(kind):
        def show(parent, title, text, *args, **kwargs):
            shown.append((kind, title, text))
            return answers.get(kind, QMessageBox.StandardButton.Ok)

        return staticmethod(show)

    for kind in ("warning", "question", "information", "critical"):
        monkeypatch.setattr(QMessageBox, kind, fake(kind))
    return SimpleNamespace(shown=shown, answers=answers)


@pytest.fixture
def dialogs(monkeypatch):
    """QFileDialog answers with the next path in `paths` (never blocks)."""
    paths: list[str] = []

    def answer(*args, **kwargs):
        return (str(paths.pop(0)) if paths else "", "")

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(answer))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(answer))
    return paths


def make_files(qtbot, settings, tmp_path, state=None, controller=None):
    window = QWidget()
    qtbot.addWidget(window)
    state = state or Experiment()
    files = FileActions(window, state, controller, settings, tmp_path / "recovery.mlps")
    return files


def trained_state(data, epochs: int = 2) -> Experiment:
    state = Experiment()
    state.set_data_config(data.config)
    state.set_data(data.prepared)
    spec = state.spec
    spec.hidden = [LayerSpec(24)]
    state.replace_spec(spec)
    state.set_train_config(TrainConfig(lr=0.01, epochs=epochs, batch_size=32))
    model = build_model(state.spec)
    Trainer(model, data.prepared, state.train_config).run()
    state.set_model(model)
    return state


def weights_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k].cpu(), b[k].cpu()) for k in a)


def state_snapshot(state: Experiment):
    return (state.spec, state.train_config, state.data_config, state.model)


# ---------------------------------------------------------------- export dialog


CHECKED = [f for f in FORMATS if f.checked]  # a Keras script: tests/test_gui_keras_export.py


@pytest.mark.parametrize("fmt", CHECKED, ids=[f.key for f in CHECKED])
def test_export_dialog_writes_and_verifies_each_format(qtbot, data, settings, tmp_path, fmt,
                                                       boxes):  # fmt: skip
    state = trained_state(data)
    files = make_files(qtbot, settings, tmp_path, state)
    assert files.export_action.isEnabled()
    dialog = files.export_model()
    qtbot.addWidget(dialog)
    dialog.set_format(fmt.key)
    target = tmp_path / f"digits{fmt.suffix}"
    dialog.set_path(tmp_path / "digits.txt")
    assert dialog.path() == target  # the chosen format decides the suffix
    with qtbot.waitSignal(dialog.finished_job, timeout=TIMEOUT) as blocker:
        started = time.perf_counter()
        assert dialog.start_export()
        assert time.perf_counter() - started < 0.5  # the work happens off the GUI thread
        assert dialog.busy and not dialog.export_button.isEnabled()
    assert blocker.args == [True]
    assert target.is_file()
    assert dialog.max_difference is not None and dialog.max_difference < 1e-5
    text = dialog.status_text()
    assert "Verified on 100 test images" in text
    assert f"max difference {format_difference(dialog.max_difference)}" in text
    assert str(target) in dialog.snippet.toPlainText()
    # The file really is the model: predictions on the raw test images.
    pixels = data.prepared.raw_test.reshape(100, -1).astype(np.float32)
    expected = export.inference_module(files.current_bundle())(torch.from_numpy(pixels))
    if fmt.suffix == ".pt":  # MLP Studio never loads TorchScript; its users do, with torch
        with torch.no_grad():
            found = torch.jit.load(str(target))(torch.from_numpy(pixels)).numpy()
    else:
        found = export.load_predictor(target).predict(pixels)
    np.testing.assert_allclose(found, expected, atol=1e-5)
    assert settings.value("files/lastModelFolder") == str(tmp_path)
    dialog.copy_snippet()
    from PySide6.QtGui import QGuiApplication

    assert QGuiApplication.clipboard().text() == dialog.snippet.toPlainText()
    if fmt.key == "onnx":
        dialog.grab().save(str(tmp_path / "export_dialog.png"))
        assert (tmp_path / "export_dialog.png").stat().st_size > 0


def test_export_error_is_shown_in_the_dialog(qtbot, data, settings, tmp_path, boxes):
    files = make_files(qtbot, settings, tmp_path, trained_state(data))
    dialog = files.export_model()
    qtbot.addWidget(dialog)
    dialog.set_format("safetensors")
    dialog.set_path(tmp_path / "m.safetensors")
    (tmp_path / "m.json").write_text("not MLP Studio's description")  # the sidecar would clash
    with qtbot.assertNotEmitted(dialog.finished_job):
        assert not dialog.start_export()  # checked before any work starts
    assert "m.json" in dialog.status_text()
    assert (tmp_path / "m.json").read_text() == "not MLP Studio's description"
    assert dialog.export_button.isEnabled()
    assert dialog.max_difference is None


def test_export_asks_before_replacing_a_typed_path(qtbot, data, settings, tmp_path, boxes):
    files = make_files(qtbot, settings, tmp_path, trained_state(data))
    dialog = files.export_model()
    qtbot.addWidget(dialog)
    dialog.set_format("safetensors")
    target = tmp_path / "m.safetensors"
    target.write_bytes(b"precious")
    dialog.set_path(target)
    boxes.answers["question"] = QMessageBox.StandardButton.No
    assert not dialog.start_export()
    assert target.read_bytes() == b"precious"
    assert boxes.shown[-1][1] == "Replace the file?"


def test_export_without_a_model_says_what_to_do(qtbot, settings, tmp_path, boxes):
    files = make_files(qtbot, settings, tmp_path)
    assert not files.export_action.isEnabled()
    assert files.export_model() is None
    assert boxes.shown and boxes.shown[-1][0] == "information"
    assert "train (or import) a model first" in boxes.shown[-1][2]


# ---------------------------------------------------------------- import


def test_import_an_export_then_export_it_again(qtbot, data, settings, tmp_path, boxes):
    source = trained_state(data)
    bundle = make_files(qtbot, settings, tmp_path, source).current_bundle()
    bundle.normalization = type(bundle.normalization)(
        "standardize", np.full(784, 33.0), np.full(784, 78.0)
    )  # differs from the data's
    path = export.export_safetensors(bundle, tmp_path / "model.safetensors")

    state = Experiment()
    files = make_files(qtbot, settings, tmp_path, state)
    with qtbot.waitSignal(state.historyReplaced) as loaded:
        assert files.import_file(path)
    assert loaded.args[0].epochs == []
    assert boxes.shown == []
    assert state.spec == bundle.spec
    assert weights_equal(state.model.state_dict(), bundle.state_dict)
    assert state.data_config.normalization == "standardize"
    # Without data, the model's own normalization and class names are used for export.
    np.testing.assert_array_equal(files.model_normalization().std, bundle.normalization.std)
    again = files.current_bundle()
    assert again.class_names == bundle.class_names
    np.testing.assert_array_equal(again.normalization.mean, bundle.normalization.mean)
    dialog = files.export_model()
    qtbot.addWidget(dialog)
    assert dialog.pixels_label == "random images"


def test_import_a_session_takes_its_model(qtbot, data, settings, tmp_path, boxes):
    source = make_files(qtbot, settings, tmp_path, trained_state(data))
    path = save_session(source.collect_session(), tmp_path / "s.mlps")
    state = Experiment()
    files = make_files(qtbot, settings, tmp_path, state)
    assert files.import_file(path)
    assert weights_equal(state.model.state_dict(), source.state.model.state_dict())
    assert files.path == ""  # importing a model does not open the session


@pytest.mark.parametrize("name,content", [
    ("model.safetensors", b"not a safetensors file at all"),
    ("model.safetensors", b"\x89PNG\r\n\x1a\n" + bytes(200)),
    ("model.mlps", b"PK\x03\x04 broken zip"),
    ("model.mlps", b""),
])  # fmt: skip
def test_import_of_a_corrupt_file_shows_a_message_and_changes_nothing(
    qtbot, data, settings, tmp_path, boxes, name, content
):
    state = trained_state(data)
    files = make_files(qtbot, settings, tmp_path, state)
    before = state_snapshot(state)
    weights = {k: v.clone() for k, v in state.model.state_dict().items()}
    path = tmp_path / name
    path.write_bytes(content)
    with qtbot.assertNotEmitted(state.modelChanged), qtbot.assertNotEmitted(state.specChanged):
        assert not files.import_file(path)
    assert len(boxes.shown) == 1
    kind, title, text = boxes.shown[0]
    assert kind == "warning" and title == "Cannot import the model"
    assert text.startswith(f"Cannot open {path}")
    assert state_snapshot(state) == before
    assert weights_equal(state.model.state_dict(), weights)


def test_import_of_a_torchscript_file_is_refused_before_it_runs(qtbot, data, settings, tmp_path,
                                                                 boxes):  # fmt: skip
    marker = tmp_path / "written-by-the-file"
    path = crafted_torchscript(tmp_path / "model.pt", marker)
    state = trained_state(data)
    files = make_files(qtbot, settings, tmp_path, state)
    before = state_snapshot(state)
    assert not files.import_file(path)
    kind, title, text = boxes.shown[-1]
    assert kind == "warning" and "does not open .pt files" in text and ".safetensors" in text
    assert state_snapshot(state) == before
    assert not marker.exists()


@pytest.mark.parametrize("target,text", [
    ("missing/a.mlps", "does not exist"),
    ("/sys/kernel/a.mlps", "permission denied in the folder /sys/kernel"),
    ("folder.mlps", "it is a folder"),
])  # fmt: skip
def test_save_to_an_unwritable_place_says_why_at_once(qtbot, data, settings, tmp_path, boxes,
                                                      target, text):  # fmt: skip
    (tmp_path / "folder.mlps").mkdir()
    files = make_files(qtbot, settings, tmp_path, trained_state(data))
    assert not files.save_to(tmp_path / target)  # checked before the background save starts
    kind, title, message = boxes.shown[-1]
    assert title == "Cannot save the session" and text in message


def test_import_action_goes_through_the_file_dialog(qtbot, data, settings, tmp_path, boxes,
                                                    dialogs):  # fmt: skip
    source = make_files(qtbot, settings, tmp_path, trained_state(data))
    path = export.export_safetensors(source.current_bundle(), tmp_path / "m.safetensors")
    state = Experiment()
    files = make_files(qtbot, settings, tmp_path, state)
    dialogs.append(str(path))
    files.import_action.trigger()
    assert state.model is not None and state.spec == source.state.spec


# ---------------------------------------------------------------- sessions


def test_actions_have_standard_shortcuts_and_fill_a_menu(qtbot, settings, tmp_path):
    files = make_files(qtbot, settings, tmp_path)
    Key = QKeySequence.StandardKey
    for action, key in (
        (files.new_action, Key.New),
        (files.open_action, Key.Open),
        (files.save_action, Key.Save),
        (files.save_as_action, Key.SaveAs),
    ):
        assert action.shortcut() == QKeySequence(key)  # fmt: skip
    menu = QMenu()
    quit_action = menu.addAction("Quit")
    files.add_to_menu(menu, quit_action)
    texts = [a.text() for a in menu.actions() if not a.isSeparator()]
    assert texts == ["&New session", "&Open session…", "Recent sessions", "&Save session",
                     "Save session &as…", "&Import model…", "&Export model…", "Quit"]  # fmt: skip


def test_save_then_open_restores_everything(qtbot, data, settings, tmp_path, boxes, dialogs):
    state = trained_state(data)
    files = make_files(qtbot, settings, tmp_path, state)
    path = tmp_path / "experiment.mlps"
    dialogs.append(str(tmp_path / "experiment"))  # the suffix is added
    with qtbot.waitSignal(files.saveFinished, timeout=TIMEOUT) as saved:
        files.save_action.trigger()  # no file yet: Save as…
    assert saved.args == [str(path), ""]
    assert files.path == str(path) and not files.dirty
    assert files.recent_files() == [str(path.resolve())]
    assert not (tmp_path / "recovery.mlps").exists()

    other = Experiment()
    opened = make_files(qtbot, settings, tmp_path, other)
    dialogs.append(str(path))
    with qtbot.waitSignal(opened.sessionChanged) as changed:
        opened.open_action.trigger()
    assert changed.args == [str(path)]
    assert boxes.shown == []
    assert other.spec == state.spec
    assert other.train_config == state.train_config
    assert other.data_config == state.data_config
    assert weights_equal(other.model.state_dict(), state.model.state_dict())
    assert opened.model_normalization().kind == "unit"
    assert not opened.dirty

    # Save again (no dialog): same file, created kept, modified moves.
    created = load_session(path).created
    other.set_train_config(TrainConfig(lr=0.02, epochs=2, batch_size=32))
    assert opened.dirty
    with qtbot.waitSignal(opened.saveFinished, timeout=TIMEOUT):
        opened.save_action.trigger()
    session = load_session(path)
    assert session.created == created and session.train_config.lr == 0.02
    assert not opened.dirty


def test_recent_sessions_menu_opens_and_prunes_missing_files(qtbot, data, settings, tmp_path,
                                                             boxes):  # fmt: skip
    files = make_files(qtbot, settings, tmp_path, trained_state(data))
    paths = []
    for i in range(10):
        path = tmp_path / f"s{i}.mlps"
        files.save_to(path, wait=True)
        paths.append(str(path.resolve()))
    assert files.recent_files() == paths[::-1][:8]  # newest first, at most 8
    os.remove(paths[9])
    files._fill_recent_menu()
    entries = [a for a in files.recent_menu.actions() if a.text().startswith("&")]
    assert len(entries) == 7 and entries[0].text() == "&1 s8.mlps"
    assert settings.value(RECENT_KEY) == paths[::-1][1:8]
    other = Experiment()
    opened = make_files(qtbot, settings, tmp_path, other)
    opened._fill_recent_menu()
    [a for a in opened.recent_menu.actions() if a.text() == "&2 s7.mlps"][0].trigger()
    assert opened.path == paths[7] or Path(opened.path).resolve() == Path(paths[7])
    assert other.model is not None


def test_saving_a_large_session_keeps_the_gui_responsive(qtbot, data, settings, tmp_path):
    state = Experiment()
    spec = NetworkSpec(784, [LayerSpec(512), LayerSpec(512)], 10)
    state.replace_spec(spec)
    state.set_data(data.prepared)
    state.set_model(build_model(spec))
    files = make_files(qtbot, settings, tmp_path, state)
    with qtbot.waitSignal(files.saveFinished, timeout=TIMEOUT) as saved:
        started = time.perf_counter()
        files.save_to(tmp_path / "large.mlps")
        blocked = time.perf_counter() - started
    assert saved.args[1] == ""
    assert blocked < 0.1, f"the GUI thread was blocked {blocked * 1000:.0f} ms"
    assert load_session(tmp_path / "large.mlps").spec == spec


def test_failed_save_keeps_the_old_file_and_says_why(qtbot, data, settings, tmp_path, boxes,
                                                     monkeypatch):  # fmt: skip
    files = make_files(qtbot, settings, tmp_path, trained_state(data))
    path = tmp_path / "keep.mlps"
    files.save_to(path, wait=True)
    before = path.read_bytes()
    files.state.set_train_config(TrainConfig(lr=0.5))

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with qtbot.waitSignal(files.saveFinished, timeout=TIMEOUT) as saved:
        files.save_to(path)
    assert "disk is full" in saved.args[1]
    assert boxes.shown[-1][:2] == ("warning", "Cannot save the session")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".keep")) == []
    assert files.dirty


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return buffer.getvalue()


def test_open_an_older_format_migrates_and_a_newer_one_is_refused(qtbot, data, settings,
                                                                  tmp_path, boxes):  # fmt: skip
    source = make_files(qtbot, settings, tmp_path, trained_state(data))
    session = source.collect_session()
    from safetensors.torch import save

    meta = session_to_json(session)
    meta["format_version"] = 0
    meta["network"] = meta.pop("spec")
    meta["saved"] = "2025-01-01T10:00:00+00:00"
    for key in ("created", "modified", "best_epoch"):
        del meta[key]
    old = tmp_path / "old.mlps"
    old.write_bytes(_zip({SESSION_JSON: json.dumps(meta).encode(),
                          WEIGHTS: save(session.weights)}))  # fmt: skip

    state = Experiment()
    files = make_files(qtbot, settings, tmp_path, state)
    assert files.open_file(old)
    assert boxes.shown == []
    assert state.spec == session.spec
    assert weights_equal(state.model.state_dict(), session.weights)

    meta = session_to_json(session)
    meta["format_version"] = 3
    new = tmp_path / "new.mlps"
    new.write_bytes(_zip({SESSION_JSON: json.dumps(meta).encode(),
                          WEIGHTS: save(session.weights)}))  # fmt: skip
    before = state_snapshot(state)
    assert not files.open_file(new, ask=False)
    kind, title, text = boxes.shown[-1]
    assert (kind, title) == ("warning", "Cannot open the session")
    assert (
        "saved by a newer MLP Studio (format 3); this version reads up to format 2. "
        "Update MLP Studio to open it." in text
    )
    assert state_snapshot(state) == before
    assert files.path == str(old)


def test_a_session_whose_history_has_wrong_types_is_refused_on_opening(qtbot, data, settings,
                                                                         tmp_path, boxes):
    source = make_files(qtbot, settings, tmp_path, trained_state(data))
    session = source.collect_session()
    from safetensors.torch import save

    meta = session_to_json(session)
    meta["history"]["epochs"] = [{  # the hostile file: it opened, then training
        "epoch": "one", "train_loss": 1.0, "train_accuracy": 0.5, "val_loss": 1.0,
        "val_accuracy": 0.5, "seconds": 1.0, "lr": 0.001, "val_confusion": [[1]]}]
    bad = tmp_path / "bad.mlps"  # crashed in Qt slots and the app stayed "running"
    bad.write_bytes(_zip({SESSION_JSON: json.dumps(meta).encode(),
                          WEIGHTS: save(session.weights)}))  # fmt: skip
    state = Experiment()
    files = make_files(qtbot, settings, tmp_path, state)
    before = state_snapshot(state)
    assert not files.open_file(bad, ask=False)
    kind, title, text = boxes.shown[-1]
    assert (kind, title) == ("warning", "Cannot open the session")
    assert "its training history's record 1 has epoch 'one'" in text
    assert state_snapshot(state) == before


def test_new_session_asks_to_save_trained_work(qtbot, data, settings, tmp_path, boxes):
    state = trained_state(data)
    files = make_files(qtbot, settings, tmp_path, state)
    files.save_to(tmp_path / "a.mlps", wait=True)
    state.set_train_config(TrainConfig(lr=0.3))
    boxes.answers["question"] = QMessageBox.StandardButton.Cancel
    assert not files.new_session()
    assert state.train_config.lr == 0.3 and state.model is not None
    boxes.answers["question"] = QMessageBox.StandardButton.Discard
    with qtbot.waitSignal(state.historyReplaced) as loaded:
        assert files.new_session()
    assert loaded.args[0].epochs == []
    assert state.model is None and state.train_config == TrainConfig()
    assert files.path == "" and not files.dirty
    assert load_session(tmp_path / "a.mlps").train_config.lr == 0.01  # discarded, not saved


# ---------------------------------------------------------------- autosave and recovery


def run_training(qtbot, controller: TrainingController):
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT) as done:
        assert controller.start()
    return done.args[0]


def adam_steps(optimizer_state) -> set[float]:
    return {float(v["step"]) for v in optimizer_state.state_dict["state"].values()}


def test_autosave_during_training_then_recover_after_a_kill(qtbot, data, settings, tmp_path,
                                                            boxes):  # fmt: skip
    recovery = tmp_path / "recovery.mlps"
    state = Experiment()
    state.set_data_config(data.config)
    state.set_data(data.prepared)
    spec = state.spec
    spec.hidden = [LayerSpec(16)]
    state.replace_spec(spec)
    state.set_train_config(TrainConfig(lr=0.01, epochs=3, batch_size=32))
    controller = TrainingController(state, report_interval=0.0, snapshot_interval=0.0)
    files = make_files(qtbot, settings, tmp_path, state, controller)
    saves = []
    files.saveFinished.connect(lambda path, error: saves.append((path, error)))

    finished = run_training(qtbot, controller)
    files.wait_for_saves()
    assert saves and all(p == str(recovery) and e == "" for p, e in saves)
    saved = load_session(recovery)
    assert saved.epochs_done == 3
    assert saved.history == finished.history  # every batch loss, grad norm and epoch record
    assert weights_equal(saved.weights, state.model.state_dict())
    assert saved.best_weights is not None and saved.best_epoch == finished.best_epoch
    batches = -(-len(data.prepared.x_train) // 32)
    assert adam_steps(saved.optimizer_state) == {3 * batches}  # saved after the run ended
    assert files.dirty

    # "Kill": drop everything without a clean exit; the recovery file stays.
    controller.shutdown()
    del files, controller
    assert recovery.is_file()

    state2 = Experiment()
    controller2 = TrainingController(state2, report_interval=0.0, snapshot_interval=0.0)
    files2 = make_files(qtbot, settings, tmp_path, state2, controller2)
    with qtbot.waitSignal(state2.historyReplaced) as loaded:
        assert files2.offer_recovery()
    assert boxes.shown[-1][:2] == ("question", "Restore the last session?")
    assert "3 epochs trained" in boxes.shown[-1][2]
    assert loaded.args[0] == finished.history
    assert state2.spec == state.spec
    assert state2.train_config == state.train_config
    assert state2.data_config == state.data_config
    assert weights_equal(state2.model.state_dict(), state.model.state_dict())
    assert state2.history == finished.history and state2.epochs_done == 3
    assert recovery.is_file()  # kept until the next clean exit

    # Continue training: the epochs go on from 4, the history grows.
    state2.set_data(data.prepared)
    state2.set_train_config(TrainConfig(lr=0.01, epochs=2, batch_size=32))
    seen = []
    controller2.epochEnded.connect(lambda event: seen.append(event.epoch))
    run_training(qtbot, controller2)
    assert seen == [4, 5]  # the controller adopted the restored model's past
    assert adam_steps(state2.lineage.optimizer_state) == {5 * batches}  # and optimizer
    files2.wait_for_saves()
    assert [r.epoch for r in state2.history.epochs] == [1, 2, 3, 4, 5]
    assert load_session(recovery).epochs_done == 5
    assert load_session(recovery).history.epochs[:3] == finished.history.epochs

    files2.shutdown()  # a clean exit removes it
    controller2.shutdown()
    assert not recovery.exists()


def test_declining_recovery_deletes_the_file(qtbot, data, settings, tmp_path, boxes):
    files = make_files(qtbot, settings, tmp_path, trained_state(data))
    files.save_recovery()
    files.wait_for_saves()
    recovery = tmp_path / "recovery.mlps"
    assert recovery.is_file()
    state = Experiment()
    again = make_files(qtbot, settings, tmp_path, state)
    boxes.answers["question"] = QMessageBox.StandardButton.No
    assert not again.offer_recovery()
    assert not recovery.exists() and state.model is None
    assert not again.offer_recovery()  # nothing left to offer
    assert len(boxes.shown) == 1


def test_an_unreadable_recovery_file_is_moved_aside_not_deleted(qtbot, settings, tmp_path,
                                                                 boxes):
    """It was deleted without a word: a newer version's autosave, or one on a damaged disk,
    may be all that is left of the work."""
    recovery = tmp_path / "recovery.mlps"
    recovery.write_bytes(b"half a file")
    files = make_files(qtbot, settings, tmp_path)
    messages = []
    files.message.connect(messages.append)
    assert not files.offer_recovery()
    kept = list(tmp_path.glob("recovery-unreadable-*.mlps"))
    assert not recovery.exists() and len(kept) == 1 and kept[0].read_bytes() == b"half a file"
    assert boxes.shown == [] and len(messages) == 1
    assert "could not be opened" in messages[0] and str(kept[0]) in messages[0]
    assert not files.offer_recovery()  # nothing is offered again at the next start


def test_export_action_follows_data_and_training(qtbot, data, settings, tmp_path):
    state = Experiment()
    files = make_files(qtbot, settings, tmp_path, state)
    state.set_model(build_model(state.spec))
    assert not files.export_action.isEnabled()  # no normalization without data
    state.set_data(data.prepared)
    assert files.export_action.isEnabled()
    state.set_training(True)
    assert not files.export_action.isEnabled() and not files.open_action.isEnabled()
    state.set_training(False)
    assert files.export_action.isEnabled() and files.save_action.isEnabled()


def test_closing_finishes_manual_saves_and_drops_waiting_autosaves(qtbot, data, settings,
                                                                    tmp_path, boxes):
    files = make_files(qtbot, settings, tmp_path, trained_state(data))
    saved = []
    files.saveFinished.connect(lambda path, error: saved.append((Path(path).name, error)))
    files.save_recovery()  # being written
    files.save_to(tmp_path / "kept.mlps")  # waits behind it
    files.save_recovery()  # waits too: dropped at shutdown
    files.shutdown()
    assert ("kept.mlps", "") in saved  # written and reported before shutdown returned
    assert load_session(tmp_path / "kept.mlps").spec == files.state.spec
    assert not (tmp_path / "recovery.mlps").exists()  # a clean exit leaves no recovery file
    assert not files._saver.busy
