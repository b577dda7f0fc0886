"""Issue 13 section 5: inputs that gave a traceback, a hang or unbounded memory, each with the
input that failed, now refused with a message (core, without Qt)."""

import json
import os
import re
import resource
import subprocess
import sys
import threading

import numpy as np
import pytest
from mlp_studio.core.data import DataConfig, SplitConfig, fit_normalization
from mlp_studio.core.digits import load_image
from mlp_studio.core.errors import DataFormatError, ExportError, SessionError, SpecError
from mlp_studio.core.export import METADATA_KEY, ModelBundle, bundle_to_metadata, load_bundle
from mlp_studio.core.formula import parse_formula
from mlp_studio.core.limits import MAX_IMAGE_PIXELS, memory_problem, training_memory
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model
from mlp_studio.core.playground_files import load_points_csv
from mlp_studio.core.reading import json_depth, loads_json, read_regular
from mlp_studio.core.text import terminal_safe
from mlp_studio.core.training import TrainConfig
from PIL import Image
from safetensors.torch import save_file

DEEP = "[" * 100_000 + "]" * 100_000


def test_nesterov_without_momentum_is_refused_before_torch_sees_it():
    config = TrainConfig(optimizer="nesterov", momentum=0.0)
    assert any("Nesterov needs a momentum above 0" in p for p in config.problems())
    with pytest.raises(SpecError):
        config.validate()
    TrainConfig(optimizer="sgd", momentum=0.0).validate()
    TrainConfig(optimizer="nesterov", momentum=0.9).validate()


@pytest.mark.parametrize("percentages", [(float("nan"), 20.0, 10.0), (70.0, float("nan"), 10.0),
                                         (float("inf"), 20.0, 10.0)])
def test_non_finite_percentages_are_refused(percentages):
    config = DataConfig(split=SplitConfig(mode="pooled", percentages=percentages))
    with pytest.raises(SpecError, match="finite"):
        config.validate()


@pytest.mark.parametrize("text", ["x\udcff", "x\x1b[2J", "sigmoid(x)\u202e"])
def test_formula_with_unencodable_or_control_character_is_refused(text):
    with pytest.raises(SpecError, match="at position") as err:
        parse_formula(text)
    assert terminal_safe(str(err.value)) == str(err.value)  # the message shows it escaped


def test_terminal_safe_escapes_controls_and_surrogates_but_keeps_text():
    assert terminal_safe("a\x1b]0;pwned\x07b") == "a\\x1b]0;pwned\\x07b"
    assert terminal_safe("x\udcff") == "x\\udcff"
    assert terminal_safe("ab\u202ecd") == "ab\\u202ecd"  # right-to-left override
    assert terminal_safe("Zoë 漢字 C:\\data 😀") == "Zoë 漢字 C:\\data 😀"
    assert terminal_safe("one\ntwo") == "one\\x0atwo"
    assert terminal_safe("one\ntwo", keep_newlines=True) == "one\ntwo"
    terminal_safe("x\udcff").encode("utf-8")  # printable on any UTF-8 terminal


def test_json_nested_100000_deep_is_refused_without_recursion():
    with pytest.raises(json.JSONDecodeError, match="100000 levels deep"):
        loads_json(DEEP)
    assert json_depth('{"a": "[[[[\\"[[", "b": [[1]]}') == 3  # brackets in strings ignored
    assert loads_json('{"a": [1, {"b": 2}]}') == {"a": [1, {"b": 2}]}


def _bundle(formula: str = "") -> ModelBundle:
    from mlp_studio.core.activations import ActivationSpec

    act = ActivationSpec("custom", formula="x") if formula else ActivationSpec("relu")
    spec = NetworkSpec(hidden=[LayerSpec(8, act)], seed=1)
    norm = fit_normalization("unit", np.zeros((4, 784), np.float32))
    return ModelBundle(spec, norm, "sparse_categorical_cross_entropy",
                       [str(d) for d in range(10)], build_model(spec).state_dict())


def _write_with_metadata(path, bundle: ModelBundle, text: str) -> None:
    tensors = {k: v.contiguous() for k, v in bundle.state_dict.items()}
    save_file(tensors, str(path), metadata={METADATA_KEY: text})


def test_model_metadata_nested_100000_deep_is_refused(tmp_path):
    path = tmp_path / "deep.safetensors"
    _write_with_metadata(path, _bundle(), DEEP)
    with pytest.raises(ExportError, match="levels deep"):
        load_bundle(path)


def test_model_metadata_with_unencodable_formula_is_refused(tmp_path):
    bundle = _bundle(formula="x")
    meta = bundle_to_metadata(bundle)
    meta["spec"]["hidden"][0]["activation"]["formula"] = "x\udcff"
    path = tmp_path / "surrogate.safetensors"
    _write_with_metadata(path, bundle, json.dumps(meta))
    with pytest.raises(ExportError, match="position 2"):
        load_bundle(path)


def test_session_json_nested_100000_deep_is_refused(tmp_path):
    import zipfile

    from mlp_studio.core.session import SESSION_JSON, load_session

    path = tmp_path / "deep.mlps"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(SESSION_JSON, DEEP)
        zf.writestr("weights.safetensors", b"")
    with pytest.raises(SessionError, match="levels deep"):
        load_session(path)


def test_network_spec_json_nested_deep_is_refused():
    with pytest.raises(SpecError, match="levels deep"):
        NetworkSpec.from_json(DEEP)


def _in_thread(fn, timeout=10.0):
    """Run fn in a thread; fail (instead of hanging the suite) if it does not return."""
    result = {}

    def run():
        try:
            result["value"] = fn()
        except BaseException as err:  # noqa: BLE001 - handed back to the test
            result["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "blocked"
    return result


def test_csv_that_is_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "points.csv"
    os.mkfifo(fifo)
    result = _in_thread(lambda: load_points_csv(fifo))
    assert isinstance(result.get("error"), DataFormatError)
    assert "not a regular file" in str(result["error"]) and "named pipe" in str(result["error"])


def _limited(code: str) -> subprocess.CompletedProcess:
    """Run code in a child capped at 3 GB of address space and 60 s, so a regression (reading
    /dev/zero whole, decoding 169 megapixels) fails this test instead of the machine."""
    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, preexec_fn=cap)


def test_csv_linked_to_dev_zero_is_refused(tmp_path):
    link = tmp_path / "zero.csv"
    link.symlink_to("/dev/zero")
    out = _limited("from mlp_studio.core.playground_files import load_points_csv\n"
                   "from mlp_studio.core.errors import DataFormatError\n"
                   f"try: load_points_csv({str(link)!r})\n"
                   "except DataFormatError as err: print(err)\n")
    assert out.returncode == 0, out.stderr
    assert "is not a regular file (it is a device)" in out.stdout


def test_picture_that_is_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "digit.png"
    os.mkfifo(fifo)
    result = _in_thread(lambda: load_image(fifo))
    assert isinstance(result.get("error"), DataFormatError)


def test_read_regular_is_bounded(tmp_path):
    path = tmp_path / "big.csv"
    path.write_bytes(b"0,0,0\n" * 100)
    assert len(read_regular(path, 600)) == 600
    with pytest.raises(DataFormatError, match="larger than"):
        read_regular(path, 599)


@pytest.mark.parametrize("cell", ["1e39", "-1e39", "2e6"])
def test_csv_value_beyond_float32_is_refused_with_its_line(tmp_path, cell):
    path = tmp_path / "points.csv"
    path.write_text(f"x1,x2,label\n0,0,0\n1,1,1\n0.5,{cell},1\n")
    with pytest.raises(DataFormatError, match=f"line 4: x2 '{cell}' is too large"):
        load_points_csv(path)
    path.write_text(f"0,0,0\n1,1,{cell}\n")
    with pytest.raises(DataFormatError, match="line 2: label"):
        load_points_csv(path, task="regression")


def test_csv_cell_with_escape_sequence_is_shown_escaped(tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("0,0,0\n1,\x1b[2J" + "9" * 100 + ",1\n")
    with pytest.raises(DataFormatError) as err:
        load_points_csv(path)
    assert "\x1b" not in str(err.value) and "\\x1b[2J" in str(err.value)
    assert len(str(err.value)) < 200  # a long cell is cut


def test_huge_png_is_refused_from_its_header(tmp_path):
    path = tmp_path / "huge.png"
    Image.new("L", (13000, 13000)).save(path)  # 169 megapixels, 160 kB on disk
    assert MAX_IMAGE_PIXELS < 13000 * 13000
    out = _limited("from mlp_studio.core.digits import load_image\n"
                   "from mlp_studio.core.errors import DataFormatError\n"
                   f"try: load_image({str(path)!r})\n"
                   "except DataFormatError as err: print(err)\n")
    assert out.returncode == 0, out.stderr
    assert "is 13000x13000 pixels (169 megapixels)" in out.stdout
    assert "Warning" not in out.stderr  # PIL's own bomb warning is not printed


def test_large_jpeg_still_opens(tmp_path):
    path = tmp_path / "photo.jpg"
    image = np.full((3000, 4000), 230, np.uint8)
    image[1000:2000, 1800:2200] = 20  # a dark stroke on bright paper
    Image.fromarray(image).save(path, quality=90)
    gray = load_image(path)
    assert gray.shape[1] >= 1000 and gray.max() > 200  # decoded (maybe reduced), inverted


def test_memory_estimate_refuses_hidden_65536_batch_20000_with_figures():
    spec = NetworkSpec(hidden=[LayerSpec(65536)])
    need = training_memory(spec, 20000, "adam")
    assert 15e9 < need.total < 25e9  # activations: 20000 x 65546 x 3 floats
    problem = memory_problem(spec, 20000, "adam", available=16_000_000_000)
    assert problem is not None
    assert "17.3 GB" in problem and "16.0 GB free" in problem
    assert "batch size of at most" in problem
    fitting = int(re.search(r"at most ([\d,]+),", problem).group(1).replace(",", ""))
    assert memory_problem(spec, fitting, "adam", available=16_000_000_000) is None
    assert memory_problem(spec, fitting + 1, "adam", available=16_000_000_000) is not None


def test_memory_estimate_passes_ordinary_networks_and_says_when_no_batch_fits():
    spec = NetworkSpec(hidden=[LayerSpec(512), LayerSpec(512)])
    assert memory_problem(spec, 128, "adam", available=2_000_000_000) is None
    wide = NetworkSpec(hidden=[LayerSpec(65536)])
    problem = memory_problem(wide, 1, "adam", available=1_000_000_000)
    assert "fewer neurons (the widest layer has 65,536)" in problem


def _onnx_with_allocation(tmp_path, shape: list[int]):
    """An MLP Studio ONNX export with a ConstantOfShape of `shape` spliced in before the
    softmax: onnxruntime would allocate it when run."""
    import onnx
    from mlp_studio.core.export import export_onnx
    from onnx import TensorProto, helper

    path = tmp_path / "m.onnx"
    export_onnx(_bundle(), path)
    model = onnx.load(path)
    graph = model.graph
    soft = next(n for n in graph.node if n.op_type == "Softmax")
    graph.initializer.append(helper.make_tensor("big", TensorProto.INT64, [len(shape)], shape))
    nodes = [helper.make_node("ConstantOfShape", ["big"], ["huge"]),
             helper.make_node("ReduceMax", ["huge"], ["z"], keepdims=0),
             helper.make_node("Add", [soft.input[0], "z"], ["shifted"])]
    at = list(graph.node).index(soft)
    for offset, node in enumerate(nodes):
        graph.node.insert(at + offset, node)
    soft.input[0] = "shifted"
    evil = tmp_path / "evil.onnx"
    onnx.save(model, evil)
    return path, evil


def test_onnx_that_allocates_terabytes_is_refused_before_it_runs(tmp_path):
    from mlp_studio.core.export import load_predictor

    good, evil = _onnx_with_allocation(tmp_path, [1_000_000, 1_000_000])  # 4 TB of float32
    assert load_predictor(good).predict(np.zeros((2, 784), np.float32)).shape == (2, 10)
    with pytest.raises(ExportError, match="not the MLP its description gives"):
        load_predictor(evil)


def test_onnx_file_that_is_a_fifo_is_refused(tmp_path):
    from mlp_studio.core.onnx_import import import_onnx

    fifo = tmp_path / "m.onnx"
    os.mkfifo(fifo)
    result = _in_thread(lambda: import_onnx(fifo))
    assert isinstance(result.get("error"), ExportError)


def test_model_and_session_paths_that_are_pipes_or_devices_say_so(tmp_path):
    from mlp_studio.core.export import load_predictor
    from mlp_studio.core.model_import import import_model
    from mlp_studio.core.session import load_session

    fifo = tmp_path / "m.safetensors"
    os.mkfifo(fifo)
    zero = tmp_path / "s.mlps"
    zero.symlink_to("/dev/zero")
    for load, path, words in ((load_predictor, fifo, "named pipe"), (import_model, fifo,
                              "named pipe"), (load_session, zero, "device")):  # fmt: skip
        result = _in_thread(lambda load=load, path=path: load(path))
        assert f"it is a {words}, not a file saved on disk" in str(result.get("error"))
