"""The command line checks every output before training and never clobbers a file (issue 13,
section 4): collisions, empty paths, standard output, symlinks, failures after the run."""

import errno
import json
import os
import subprocess
import sys
import threading
import time

import pytest
from idx_fixtures import write_mnist_folder
from mlp_studio.core import outputs
from mlp_studio.core.cli import main
from mlp_studio.core.session import load_session

TRAIN = ["--hidden", "8", "--epochs", "1", "--quiet"]


@pytest.fixture(scope="module")
def mnist(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mnist")
    write_mnist_folder(folder, n_train=300, n_test=60)
    return folder


def train(mnist, *argv) -> list[str]:
    return ["train", "--data", str(mnist), *TRAIN, *map(str, argv)]


def refused(capsys, argv, text: str) -> str:
    """Exit 2 with one error line holding `text`, before any training."""
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and text in err[0], err
    assert "epoch" not in captured.err.split("error: ")[0] and "data:" not in captured.err
    return err[0]


def test_metrics_on_the_session_file_is_refused_and_the_session_kept(mnist, tmp_path, capsys):
    session = tmp_path / "s.mlps"
    assert main(train(mnist, "--session", session)) == 0
    before = session.read_bytes()
    capsys.readouterr()
    again = ["train", "--data", mnist, "--epochs", "1", "--session", session]
    refused(capsys, [*map(str, again), "--metrics-json", str(session)],
            f"--metrics-json and --session both write {session}")
    assert session.read_bytes() == before


def test_export_and_metrics_on_one_file_are_refused(mnist, tmp_path, capsys):
    model = tmp_path / "m.onnx"
    refused(capsys, train(mnist, "--export", model, "--metrics-json", model), "both write")
    refused(capsys, train(mnist, "--export", model, "--export", model), "both write")
    assert not model.exists()


def test_metrics_inside_the_data_folder_is_refused(mnist, tmp_path, capsys):
    labels = next(mnist.glob("t10k-labels*"))
    before = labels.read_bytes()
    refused(capsys, train(mnist, "--metrics-json", labels), "is inside the data folder")
    refused(capsys, train(mnist, "--export", mnist / "m.onnx"), "is inside the data folder")
    assert labels.read_bytes() == before


@pytest.mark.parametrize("option", ["--metrics-json", "--export", "--session"])
def test_an_empty_path_is_an_error(mnist, capsys, option):
    refused(capsys, train(mnist, option, ""), f"{option} is empty: give a file name")


@pytest.mark.parametrize("argv,text", [
    (["--export", "model.txt"], "use a name ending in .onnx, .pt, .safetensors"),
    (["--session", "run.json"], "use a name ending in .mlps"),
    (["--export", "/sys/kernel/m.onnx"], "permission denied in the folder /sys/kernel"),
    (["--metrics-json", "/no/such/folder/m.json"], "the folder /no/such/folder does not exist"),
    (["--export", "-"], "cannot go to standard output"),
])  # fmt: skip
def test_wrong_outputs_are_refused_before_training(mnist, tmp_path, capsys, argv, text):
    refused(capsys, train(mnist, *argv), text)


def test_a_folder_or_a_clashing_sidecar_is_refused_before_training(mnist, tmp_path, capsys):
    (tmp_path / "out.onnx").mkdir()
    refused(capsys, train(mnist, "--export", tmp_path / "out.onnx"), "it is a folder")
    notes = tmp_path / "m.json"
    notes.write_text('{"my": "notes"}')
    refused(capsys, train(mnist, "--export", tmp_path / "m.safetensors"),
            "is not an MLP Studio model description")
    assert notes.read_text() == '{"my": "notes"}'


def test_dash_writes_the_metrics_to_standard_output(mnist, capsys):
    assert main(train(mnist, "--metrics-json", "-")) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["test_accuracy"] is not None  # only JSON on stdout
    assert "macro" in captured.err  # the table moved to stderr


def test_dev_stdout_stays_a_device(mnist, tmp_path):
    was_link = os.path.islink("/dev/stdout")
    out = subprocess.run([sys.executable, "-m", "mlp_studio.core.cli",
                          *train(mnist, "--metrics-json", "/dev/stdout")],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["epochs"][0]["epoch"] == 1
    assert os.path.islink("/dev/stdout") == was_link  # not replaced by a regular file


def test_a_fifo_is_written_through_not_replaced(mnist, tmp_path):
    fifo = tmp_path / "metrics.fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    assert main(train(mnist, "--metrics-json", fifo)) == 0
    reader.join(timeout=30)
    assert json.loads(received[0])["test_accuracy"] is not None
    assert fifo.is_fifo()


def test_a_symlinked_output_keeps_its_link(mnist, tmp_path):
    target = tmp_path / "real" / "metrics.json"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "latest.json"
    link.symlink_to(target)
    session_target = tmp_path / "real" / "run.mlps"
    session_link = tmp_path / "run.mlps"
    session_link.symlink_to(session_target)
    assert main(train(mnist, "--metrics-json", link, "--session", session_link)) == 0
    assert link.is_symlink() and session_link.is_symlink()
    assert json.loads(target.read_text())["epochs"]
    assert load_session(session_target).epochs_done == 1


def test_a_write_that_fails_after_training_keeps_the_model(mnist, tmp_path, monkeypatch,
                                                           capsys):  # fmt: skip
    out = tmp_path / "out"
    out.mkdir()
    real = outputs._temp_copy

    def full_disk(path, data):
        if path.parent == out:  # the checks pass; the writes after training fail
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, data)

    monkeypatch.setattr(outputs, "_temp_copy", full_disk)
    monkeypatch.setattr(outputs, "recovery_folder", lambda: tmp_path / "recovered")
    assert main(train(mnist, "--export", out / "m.onnx", "--metrics-json", out / "m.json")) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"error: Cannot write {out / 'm.json'}: the disk is full")
    recovered = list((tmp_path / "recovered").glob("recovered-*.mlps"))
    assert len(recovered) == 1 and f"The trained model is kept in {recovered[0]}" in err
    assert load_session(recovered[0]).epochs_done == 1
    assert sorted(p.name for p in out.iterdir()) == []


def test_a_failed_export_after_a_saved_session_points_to_the_session(mnist, tmp_path,
                                                                      monkeypatch, capsys):
    out = tmp_path / "out"
    out.mkdir()
    real = outputs._temp_copy
    monkeypatch.setattr(outputs, "_temp_copy", lambda path, data: real(path, data)
                        if path.parent != out else (_ for _ in ()).throw(OSError(errno.ENOSPC, "")))
    session = tmp_path / "s.mlps"
    assert main(train(mnist, "--session", session, "--export", out / "m.pt")) == 2
    err = capsys.readouterr().err
    assert f"The trained model is saved in the session {session}." in err
    assert load_session(session).epochs_done == 1


def test_a_name_the_system_cannot_take_is_a_clear_error(tmp_path):
    from mlp_studio.core.errors import OutputError

    with pytest.raises(OutputError, match="embedded null byte. Choose another name"):
        outputs.plan_output(f"{tmp_path}/a\0b.json", "--metrics-json")
    with pytest.raises(OutputError, match="File name too long"):
        outputs.plan_output(tmp_path / ("a" * 300 + ".json"), "--metrics-json")


def test_temporary_files_of_killed_writes_are_removed_once_stale(tmp_path):
    path = tmp_path / "run.mlps"
    stale, fresh = tmp_path / ".run.mlps.abc123.tmp", tmp_path / ".run.mlps.def456.tmp"
    stale.write_bytes(b"half a session")
    fresh.write_bytes(b"a write under way")
    old = time.time() - outputs.STALE_SECONDS - 60
    os.utime(stale, (old, old))
    outputs.atomic_write(path, b"new")
    assert path.read_bytes() == b"new" and not stale.exists() and fresh.exists()


def test_evaluate_never_writes_its_metrics_over_the_model_or_the_data(mnist, tmp_path, capsys):
    import numpy as np
    from mlp_studio.core.data import Normalization
    from mlp_studio.core.export import ModelBundle, export_safetensors
    from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model

    spec = NetworkSpec(784, [LayerSpec(8)], 10)
    bundle = ModelBundle(spec, Normalization("unit", np.zeros(784), np.full(784, 255.0)),
                         "cross-entropy", [str(d) for d in range(10)],
                         build_model(spec).state_dict())  # fmt: skip
    model = export_safetensors(bundle, tmp_path / "m.safetensors")
    before = model.read_bytes()
    evaluate = ["evaluate", str(model), "--data", str(mnist), "--metrics-json"]
    refused(capsys, [*evaluate, str(model)], "would overwrite the model")
    refused(capsys, [*evaluate, str(mnist / "m.json")], "is inside the data folder")
    assert model.read_bytes() == before
    assert main([*evaluate, str(tmp_path / "metrics.json")]) == 0
    assert json.loads((tmp_path / "metrics.json").read_text())
