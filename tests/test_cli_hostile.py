"""Issue 13 section 5 through the command line: the inputs that gave a traceback exit 2 with
one `error:` line; text from files reaches the terminal escaped."""

import json
import subprocess
import sys

import numpy as np
import pytest
from idx_fixtures import write_mnist_folder
from mlp_studio.core import limits
from mlp_studio.core.cli import main
from mlp_studio.core.data import fit_normalization
from mlp_studio.core.export import METADATA_KEY, ModelBundle, bundle_to_metadata
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model
from PIL import Image
from safetensors.torch import save_file


@pytest.fixture(scope="module")
def small_mnist(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mnist")
    write_mnist_folder(folder, n_train=600, n_test=100)
    return folder


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.mark.parametrize("extra,text", [
    (["--optimizer", "nesterov", "--momentum", "0"], "Nesterov needs a momentum above 0"),
    (["--split", "pooled", "--percentages", "nan,20,10"], "percentages must be finite"),
    (["--formula", "x\udcff"], "character '\\udcff' at position 2"),
    (["--formula", "x\x1b[2J"], "character '\\x1b' at position 2"),
])
def test_bad_option_exits_2_without_traceback(extra, text, small_mnist, capsys):
    assert main(["train", "--data", str(small_mnist), "--epochs", "1", "--quiet", *extra]) == 2
    line = _one_error_line(capsys)
    assert text in line and "\x1b" not in line


def test_hidden_65536_batch_20000_is_refused_with_the_figure(mnist_dir, capsys, monkeypatch):
    monkeypatch.setattr(limits, "available_memory", lambda: 16_000_000_000)
    assert main(["train", "--data", str(mnist_dir), "--hidden", "65536", "--batch-size",
                 "20000", "--epochs", "1", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and "Traceback" not in "".join(err)
    line = err[-1]
    assert "needs about 17.3 GB" in line and "use a batch size of at most" in line


def _model_with_names(path, names: list[str], loss: str | None = None) -> None:
    spec = NetworkSpec(hidden=[LayerSpec(8)], seed=1)
    norm = fit_normalization("unit", np.zeros((4, 784), np.float32))
    bundle = ModelBundle(spec, norm, "sparse_categorical_cross_entropy", names,
                         build_model(spec).state_dict())
    meta = bundle_to_metadata(bundle)
    if loss is not None:
        meta["loss"] = loss
    tensors = {k: v.contiguous() for k, v in bundle.state_dict.items()}
    save_file(tensors, str(path), metadata={METADATA_KEY: json.dumps(meta)})


def test_class_names_with_escape_sequences_are_printed_escaped(tmp_path, capsys):
    model = tmp_path / "m.safetensors"
    _model_with_names(model, [f"\x1b]0;owned\x07{d}" for d in range(10)])
    image = tmp_path / "digit\x1b[2J.png"
    Image.fromarray(np.eye(28, dtype=np.uint8) * 255).save(image)
    assert main(["predict", str(model), str(image)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b]0;owned\\x07" in out and "digit\\x1b[2J.png" in out


def test_description_text_in_an_error_is_printed_escaped(tmp_path, capsys):
    model = tmp_path / "m.safetensors"
    _model_with_names(model, [str(d) for d in range(10)], loss="\x1b[31mred")
    assert main(["predict", str(model), str(tmp_path / "none.png")]) == 2
    line = _one_error_line(capsys)
    assert "\x1b" not in line and "\\x1b[31mred" in line


def test_unencodable_class_name_does_not_crash_printing(tmp_path):
    """A lone surrogate cannot be encoded to the terminal: print raised UnicodeEncodeError."""
    model = tmp_path / "m.safetensors"
    _model_with_names(model, [f"{d}\udcff" for d in range(10)])
    image = tmp_path / "digit.png"
    Image.fromarray(np.eye(28, dtype=np.uint8) * 255).save(image)
    out = subprocess.run([sys.executable, "-m", "mlp_studio.core.cli", "predict", str(model),
                          str(image)], capture_output=True, text=True,
                         env={"PYTHONIOENCODING": "utf-8", "PATH": ""})
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr and "\\udcff" in out.stdout


def test_metrics_table_escapes_class_names():
    """`train` and `evaluate` print the per-class table; an imported model names the classes."""
    from mlp_studio.core.cli.report import metrics_table
    from mlp_studio.core.metrics import metrics_from_confusion

    metrics = metrics_from_confusion(np.array([[3, 1], [0, 4]]), loss=0.5)
    table = metrics_table(metrics, ["\x1b[2Jcat", "dog\udcff"])
    assert "\x1b" not in table and "\\x1b[2Jcat" in table and "dog\\udcff" in table
    table.encode("utf-8")  # printable: no lone surrogate left
