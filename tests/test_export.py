import errno
import functools
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from hostile_torchscript import crafted_torchscript
from mlp_studio.core.activations import ActivationSpec
from mlp_studio.core.data import fit_normalization
from mlp_studio.core.errors import ExportError, OutputError, SessionError
from mlp_studio.core.export import (
    METADATA_KEY,
    ModelBundle,
    bundle_from_metadata,
    bundle_to_metadata,
    export_onnx,
    export_safetensors,
    export_torchscript,
    export_verified,
    inference_module,
    load_bundle,
    load_predictor,
    usage_snippet,
)
from mlp_studio.core.losses import probabilities
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model
from safetensors import safe_open
from safetensors.torch import save_file
from snippets import run_snippet

EXPORTS = {".onnx": export_onnx, ".pt": export_torchscript, ".safetensors": export_safetensors}
DIGITS = [str(d) for d in range(10)]
RNG = np.random.default_rng(0)
RAW = RNG.uniform(0, 255, (64, 784)).astype(np.float32)
RAW[:8] = np.where(RNG.random((8, 784)) < 0.8, 0.0, 255.0)  # MNIST-like: mostly black


def make_bundle(
    hidden: list[LayerSpec] | None = None,
    loss: str = "sparse_categorical_cross_entropy",
    kind: str = "per_pixel",
    class_names: list[str] | None = None,
) -> ModelBundle:
    names = class_names or DIGITS
    spec = NetworkSpec(hidden=hidden or [LayerSpec(32)], output_size=len(names), seed=3)
    model = build_model(spec)
    for module in model.modules():  # non-trivial batch-norm statistics, so they must be exported
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
    normalization = fit_normalization(kind, RNG.integers(0, 256, (200, 784)).astype(np.float32))
    return ModelBundle(spec, normalization, loss, names, model.state_dict())


BUNDLES = {
    "relu": lambda: make_bundle(),
    "custom_maxout_bn": lambda: make_bundle(
        [
            LayerSpec(24, ActivationSpec("custom", formula="x * sigmoid(1.5*x) + 0.1*tanh(x)^2")),
            LayerSpec(12, ActivationSpec("maxout", pieces=3), dropout=0.5, batch_norm=True),
            LayerSpec(8, ActivationSpec("gelu"), batch_norm=True),
        ],
        kind="standardize",
    ),
    "bce_binary": lambda: make_bundle(
        [LayerSpec(16, ActivationSpec("leaky_relu", slope=0.1))],
        loss="binary_cross_entropy",
        class_names=["not 7", "7"],
    ),
    "hinge_unit": lambda: make_bundle([LayerSpec(16, ActivationSpec("elu"))], "hinge", "unit"),
}


def live(bundle: ModelBundle, raw: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return inference_module(bundle)(torch.from_numpy(raw)).numpy()


@pytest.mark.parametrize("name", BUNDLES)
@pytest.mark.parametrize("suffix", EXPORTS)
def test_round_trip(tmp_path, name, suffix):
    bundle = BUNDLES[name]()
    path = EXPORTS[suffix](bundle, tmp_path / f"model{suffix}")
    for raw in (RAW, RAW[:1]):  # the batch size is not baked in
        np.testing.assert_allclose(run_file(path, raw), live(bundle, raw), rtol=0, atol=1e-5)
    if suffix != ".pt":
        predictor = load_predictor(path)
        assert predictor.class_names == bundle.class_names
        assert str(path) in predictor.source


def run_file(path: Path, raw: np.ndarray) -> np.ndarray:
    """The exported file's outputs; TorchScript through torch itself, as its users run it
    (MLP Studio never loads a .pt: this test's own export is safe to)."""
    if path.suffix == ".pt":
        with torch.no_grad():
            return torch.jit.load(str(path))(torch.from_numpy(raw)).numpy()
    return load_predictor(path).predict(raw)


def test_inference_module_is_normalization_then_mlp_then_head():
    bundle = BUNDLES["bce_binary"]()
    model = build_model(bundle.spec)
    model.load_state_dict(bundle.state_dict)
    model.eval()
    x = torch.from_numpy(RAW)
    expected = probabilities(bundle.loss, model(bundle.normalization.apply(x)))
    got = inference_module(bundle)(x)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(got.sum(1), torch.ones(len(RAW)))
    assert not inference_module(bundle).training


def test_inference_module_rejects_weights_of_another_network():
    bundle = make_bundle()
    bundle.state_dict = build_model(NetworkSpec(hidden=[LayerSpec(33)])).state_dict()
    with pytest.raises(ExportError, match=r"net\.0\.weight has shape \[33, 784\]"):
        inference_module(bundle)


def test_onnx_interface(tmp_path):
    bundle = make_bundle()
    proto = onnx.load(str(export_onnx(bundle, tmp_path / "m.onnx")))
    (inp,), (out,) = proto.graph.input, proto.graph.output
    assert (inp.name, out.name) == ("pixels", "probabilities")
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    dims = inp.type.tensor_type.shape.dim
    assert dims[0].dim_param and dims[1].dim_value == 784  # dynamic batch
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 17
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta[METADATA_KEY])["class_names"] == DIGITS


def quick_model(mnist, steps: int) -> ModelBundle:
    """A 784-64-10 network trained for `steps` Adam steps (0: random weights)."""
    spec = NetworkSpec(hidden=[LayerSpec(64, ActivationSpec("custom", formula="x*sigmoid(x)"))])
    model = build_model(spec)
    raw = mnist.train_images.reshape(-1, 784).astype(np.float32)
    normalization = fit_normalization("standardize", raw)
    x = normalization.apply(torch.from_numpy(raw))
    y = torch.from_numpy(mnist.train_labels.astype(np.int64))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    for _ in range(steps):
        batch = torch.randint(0, len(x), (128,), generator=generator)
        loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return ModelBundle(spec, normalization, "cross-entropy", DIGITS, model.state_dict())


@functools.cache
def load_mnist_once(folder: Path):
    from mlp_studio.core.mnist import load_folder

    return load_folder(folder)


@pytest.mark.mnist
@pytest.mark.parametrize("steps", [0, 600])
def test_onnxruntime_matches_torch_on_the_mnist_test_set(tmp_path, mnist_dir, steps):
    mnist = load_mnist_once(mnist_dir)
    bundle = quick_model(mnist, steps)
    raw = mnist.test_images.reshape(-1, 784).astype(np.float32)
    expected = live(bundle, raw)
    got = load_predictor(export_onnx(bundle, tmp_path / "m.onnx")).predict(raw)
    assert got.shape == (10000, 10)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    if steps:
        assert (got.argmax(1) == mnist.test_labels).mean() > 0.9  # really a trained model


# Run in a fresh interpreter where MLP Studio cannot be imported: only torch is available.
ONLY_TORCH = """
import sys
sys.modules["core"] = sys.modules["app"] = None  # any import of MLP Studio fails
import torch
model = torch.jit.load(sys.argv[1])
x = torch.frombuffer(bytearray(open(sys.argv[2], "rb").read()), dtype=torch.float32)
expected = torch.frombuffer(bytearray(open(sys.argv[3], "rb").read()), dtype=torch.float32)
with torch.no_grad():
    got = model(x.reshape(-1, 784)).reshape(-1)
print(float((got - expected).abs().max()))
loaded = [m for m, mod in sys.modules.items() if mod is not None]
print(sorted(m for m in loaded if m.split(".")[0] in ("core", "app", "safetensors")))
"""


def test_torchscript_runs_in_a_process_with_only_torch(tmp_path):
    bundle = BUNDLES["custom_maxout_bn"]()
    path = export_torchscript(bundle, tmp_path / "model.pt")
    (tmp_path / "x.bin").write_bytes(RAW.tobytes())
    (tmp_path / "expected.bin").write_bytes(live(bundle, RAW).tobytes())
    out = subprocess.run(
        [sys.executable, "-I", "-c", ONLY_TORCH, str(path), "x.bin", "expected.bin"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    diff, modules = out.stdout.strip().splitlines()
    assert float(diff) <= 1e-5
    assert modules == "[]"


def test_safetensors_never_overwrites_someone_elses_json(tmp_path):
    bundle = BUNDLES["custom_maxout_bn"]()
    theirs = tmp_path / "digits.json"
    theirs.write_text('{"my": "notes"}')
    with pytest.raises(OutputError, match="is not an MLP Studio model description"):
        export_safetensors(bundle, tmp_path / "digits.safetensors")
    assert theirs.read_text() == '{"my": "notes"}'
    assert not (tmp_path / "digits.safetensors").exists()
    theirs.unlink()
    export_safetensors(bundle, tmp_path / "digits.safetensors")
    export_safetensors(bundle, tmp_path / "digits.safetensors")  # its own sidecar: replaced
    assert json.loads(theirs.read_text())["format"] == bundle_to_metadata(bundle)["format"]


def test_safetensors_holds_weights_and_description(tmp_path):
    bundle = BUNDLES["custom_maxout_bn"]()
    path = export_safetensors(bundle, tmp_path / "digits.safetensors")
    with safe_open(path, framework="pt") as f:
        header = json.loads(f.metadata()[METADATA_KEY])
        assert sorted(f.keys()) == sorted(bundle.state_dict)
    sidecar = json.loads((tmp_path / "digits.json").read_text())
    assert sidecar == header == json.loads(json.dumps(bundle_to_metadata(bundle)))
    assert (
        header["spec"] == bundle.spec.to_dict()
        and header["loss"] == "sparse_categorical_cross_entropy"
    )
    assert header["format_version"] == 1 and header["app_version"]

    loaded = load_bundle(path)
    assert loaded.spec == bundle.spec and loaded.class_names == bundle.class_names
    np.testing.assert_array_equal(loaded.normalization.mean, bundle.normalization.mean)
    np.testing.assert_array_equal(loaded.normalization.std, bundle.normalization.std)
    for key, value in bundle.state_dict.items():
        torch.testing.assert_close(loaded.state_dict[key], value, rtol=0, atol=0)


def test_metadata_round_trip_and_rejection():
    bundle = make_bundle()
    meta = json.loads(json.dumps(bundle_to_metadata(bundle)))
    again = bundle_from_metadata(meta, bundle.state_dict)
    assert again.spec == bundle.spec and again.loss == "sparse_categorical_cross_entropy"
    with pytest.raises(ExportError, match="newer MLP Studio"):
        bundle_from_metadata({**meta, "format_version": 99}, bundle.state_dict)
    with pytest.raises(ExportError, match="class names"):
        bundle_from_metadata({**meta, "class_names": ["a"]}, bundle.state_dict)
    with pytest.raises(ExportError, match="missing tensor net.2.bias"):
        bundle_from_metadata(
            meta, {k: v for k, v in bundle.state_dict.items() if k != "net.2.bias"}
        )


@pytest.mark.parametrize(
    "change",
    [
        {"format_version": "1"},
        {"format_version": None},
        {"spec": "784-128-10"},
        {"spec": None},
        {"spec": {"hidden": "128"}},
        {"spec": {"hidden": [{"units": "many"}]}},
        {
            "spec": {
                "hidden": [{"units": 8, "activation": {"name": "custom", "formula": "__import__"}}]
            }
        },
        {"spec": {"input_size": 10**30}},
        {"spec": {"nonsense": 1}},
        {"normalization": None},
        {"normalization": {"kind": "unit", "mean": ["a"] * 784, "std": [1.0] * 784}},
        {"normalization": {"kind": "unit", "mean": [0.0] * 10, "std": [1.0] * 10}},
        {"loss": 5},
        {"loss": "unknown"},
        {"class_names": "0123456789"},
        {"class_names": list(range(10))},
    ],
)
def test_malformed_description_is_an_export_error(change):
    bundle = make_bundle()
    meta = {**json.loads(json.dumps(bundle_to_metadata(bundle))), **change}
    with pytest.raises(ExportError, match="Cannot open the model: "):
        bundle_from_metadata(meta, bundle.state_dict)


def test_predict_accepts_images_and_checks_width(tmp_path):
    predictor = load_predictor(export_safetensors(make_bundle(), tmp_path / "m.safetensors"))
    images = RAW[:3].reshape(3, 28, 28)
    np.testing.assert_array_equal(predictor.predict(images), predictor.predict(RAW[:3]))
    assert predictor.predict(RAW[0]).shape == (1, 10)
    with pytest.raises(ExportError, match="takes 784 pixels per image but got 100"):
        predictor.predict(np.zeros((2, 100), np.float32))


# ---------------------------------------------------------------- writing safely


@pytest.mark.parametrize("suffix", EXPORTS)
def test_missing_folder_is_a_clear_error(tmp_path, suffix):
    path = tmp_path / "nowhere" / f"y{suffix}"
    with pytest.raises(OutputError) as info:
        EXPORTS[suffix](make_bundle(), path)
    assert str(info.value) == (
        f"Cannot write {path}: the folder {path.parent} does not exist. Choose another location."
    )


def test_folder_as_target_is_a_clear_error(tmp_path):
    (tmp_path / "m.onnx").mkdir()
    with pytest.raises(OutputError, match="it is a folder"):
        export_onnx(make_bundle(), tmp_path / "m.onnx")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_read_only_folder_is_a_clear_error(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="permission denied"):
            export_safetensors(make_bundle(), folder / "m.safetensors")
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o700)


def test_permission_denied_is_a_clear_error(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr("tempfile.mkstemp", refuse)
    with pytest.raises(OutputError, match=f"permission denied in the folder {tmp_path}"):
        export_torchscript(make_bundle(), tmp_path / "m.pt")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", EXPORTS)
@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch, suffix, failing):
    path = tmp_path / f"model{suffix}"
    path.write_bytes(b"the previous export")

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, failing, disk_full)
    with pytest.raises(OutputError, match="the disk is full"):
        EXPORTS[suffix](make_bundle(), path)
    assert path.read_bytes() == b"the previous export"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_interrupted_write_leaves_no_temp(tmp_path, monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):
        export_onnx(make_bundle(), tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


def test_export_replaces_old_file_and_is_readable_by_others(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_text("old")
    export_onnx(make_bundle(), path)
    assert load_predictor(path).class_names == DIGITS
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]
    if os.name == "posix":
        assert path.stat().st_mode & 0o777 == 0o644


def test_safetensors_named_json_is_refused(tmp_path):
    with pytest.raises(OutputError, match=r"\*\.safetensors"):
        export_safetensors(make_bundle(), tmp_path / "m.json")


# ---------------------------------------------------------------- reading untrusted files


def write_safetensors(path: Path, tensors: dict, meta: dict | str | None) -> Path:
    text = meta if isinstance(meta, str) or meta is None else json.dumps(meta)
    save_file(tensors, str(path), metadata=None if text is None else {METADATA_KEY: text})
    return path


def good_parts() -> tuple[dict, dict]:
    bundle = make_bundle()
    return dict(bundle.state_dict), bundle_to_metadata(bundle)


def corrupt_truncated(path: Path) -> None:
    export_safetensors(make_bundle(), path)
    path.write_bytes(path.read_bytes()[:-100])


def corrupt_random(path: Path) -> None:
    path.write_bytes(np.random.default_rng(1).bytes(5000))


def corrupt_no_metadata(path: Path) -> None:
    write_safetensors(path, good_parts()[0], None)


def corrupt_bad_json(path: Path) -> None:
    write_safetensors(path, good_parts()[0], "{not json")


def corrupt_other_json(path: Path) -> None:
    write_safetensors(path, good_parts()[0], {"format": "something else"})


def corrupt_shape(path: Path) -> None:
    tensors, meta = good_parts()
    tensors["net.0.weight"] = torch.zeros(32, 783)
    write_safetensors(path, tensors, meta)


def corrupt_dtype(path: Path) -> None:
    tensors, meta = good_parts()
    tensors["net.0.weight"] = tensors["net.0.weight"].half()
    write_safetensors(path, tensors, meta)


def corrupt_missing_tensor(path: Path) -> None:
    tensors, meta = good_parts()
    del tensors["net.2.weight"]
    write_safetensors(path, tensors, meta)


def corrupt_spec(path: Path) -> None:
    tensors, meta = good_parts()
    meta["spec"]["hidden"][0]["units"] = -4
    write_safetensors(path, tensors, meta)


def corrupt_normalization(path: Path) -> None:
    tensors, meta = good_parts()
    meta["normalization"]["std"] = [0.0] * 784
    write_safetensors(path, tensors, meta)


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (corrupt_truncated, "not a valid safetensors file"),
        (corrupt_random, "not a valid safetensors file"),
        (corrupt_no_metadata, "no MLP Studio model description"),
        (corrupt_bad_json, "not valid JSON"),
        (corrupt_other_json, "does not contain an MLP Studio model description"),
        (corrupt_shape, r"net\.0\.weight has shape \[32, 783\], the network needs \[32, 784\]"),
        (corrupt_dtype, r"net\.0\.weight is torch\.float16"),
        (corrupt_missing_tensor, r"missing tensor net\.2\.weight"),
        (corrupt_spec, "model description is invalid: Hidden layer 1 has -4 neurons"),
        (corrupt_normalization, "model description is invalid"),
    ],
)
def test_corrupt_safetensors_is_a_clear_error(tmp_path, corrupt, message):
    path = tmp_path / "bad.safetensors"
    corrupt(path)
    for load in (load_bundle, load_predictor):
        with pytest.raises(ExportError, match=message) as info:
            load(path)
        assert str(info.value).startswith(f"Cannot open {path}: ")


def test_text_file_named_onnx(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_text("I am a text file, not a model\n")
    with pytest.raises(ExportError, match=f"Cannot open {path}: it is not a valid ONNX model"):
        load_predictor(path)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_foreign_onnx_model_is_refused(tmp_path):
    path = tmp_path / "other.onnx"
    model = torch.nn.Linear(784, 10)
    torch.onnx.export(model, (torch.zeros(1, 784),), str(path), input_names=["x"], dynamo=False)
    with pytest.raises(ExportError, match="not one exported by MLP Studio"):
        load_predictor(path)


def test_crafted_torchscript_is_refused_before_it_loads(tmp_path):
    marker = tmp_path / "written-by-the-file"
    path = crafted_torchscript(tmp_path / "model.pt", marker, bundle_to_metadata(make_bundle()))
    for load in (load_predictor, load_bundle):
        with pytest.raises(ExportError, match=f"Cannot open {path}: MLP Studio does not open "
                           r"\.pt files\. TorchScript .* code that runs while they load") as info:
            load(path)
        assert ".safetensors or .onnx export, or its .mlps session" in str(info.value)
    from mlp_studio.core.session import load_session

    with pytest.raises(SessionError, match="does not open .pt files"):
        load_session(path)
    renamed = tmp_path / "model.mlps"  # a TorchScript archive renamed: not even read as one
    renamed.write_bytes(path.read_bytes())
    with pytest.raises(SessionError, match="is a TorchScript or PyTorch file, not a session"):
        load_session(renamed)
    assert not marker.exists()
    torch.jit.load(str(path))  # the file is what the test says it is: loading writes the marker
    assert marker.read_bytes() == b"BBBB"


def test_torchscript_export_is_verified_from_the_bytes_just_written(tmp_path, monkeypatch):
    bundle = make_bundle()
    jit_load = torch.jit.load
    opened = []

    def load(source, *args, **kwargs):
        opened.append(source)
        return jit_load(source, *args, **kwargs)

    monkeypatch.setattr(torch.jit, "load", load)
    path, diff = export_verified(bundle, tmp_path / "m.pt", RAW)
    assert diff < 1e-5 and path.is_file()
    assert len(opened) == 1 and not isinstance(opened[0], (str, Path))  # bytes, not the file


class Boom:
    """Unpickling this runs code: it writes a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code ran"))


@pytest.mark.parametrize("suffix", [".pt", ".onnx", ".safetensors"])
def test_pickles_in_disguise_never_run(tmp_path, suffix):
    marker = tmp_path / "marker.txt"
    zipped = tmp_path / f"zipped{suffix}"
    torch.save({"weights": Boom(marker)}, zipped)  # torch's zip format around a pickle
    raw = tmp_path / f"raw{suffix}"
    raw.write_bytes(pickle.dumps(Boom(marker)))
    for path in (zipped, raw):
        with pytest.raises(ExportError, match=f"Cannot open {path}"):
            load_predictor(path)
    assert not marker.exists()


@pytest.mark.parametrize("suffix", [".onnx", ".safetensors"])
def test_loading_never_unpickles(tmp_path, monkeypatch, suffix):
    bundle = BUNDLES["custom_maxout_bn"]()
    path = EXPORTS[suffix](bundle, tmp_path / f"m{suffix}")

    def forbidden(*args, **kwargs):
        raise AssertionError("pickle used while loading a model")

    for name in ("load", "loads", "Unpickler", "_Unpickler"):
        monkeypatch.setattr(pickle, name, forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    predictor = load_predictor(path)
    np.testing.assert_allclose(predictor.predict(RAW), live(bundle, RAW), rtol=0, atol=1e-5)


def test_unknown_suffix_missing_file_and_folder(tmp_path):
    with pytest.raises(ExportError, match=r"opens \.onnx, \.safetensors, \.mlps, \.keras, \.h5 "
                       "model files"):
        load_predictor(tmp_path / "model.tflite")
    with pytest.raises(ExportError, match="the file does not exist"):
        load_predictor(tmp_path / "model.onnx")
    (tmp_path / "dir.onnx").mkdir()
    with pytest.raises(ExportError, match="it is a folder"):
        load_predictor(tmp_path / "dir.onnx")


# ---------------------------------------------------------------- usage snippets


@pytest.mark.parametrize("suffix", EXPORTS)
def test_usage_snippet_runs(tmp_path, suffix):
    path = EXPORTS[suffix](make_bundle(), tmp_path / f"model {suffix}")  # a space in the name
    snippet = usage_snippet(path)
    assert str(path) in snippet
    out = run_snippet(snippet, suffix, tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("[")  # the predicted class of the one blank image


def test_usage_snippet_of_unknown_format():
    with pytest.raises(ExportError, match="No usage example"):
        usage_snippet("model.h5")


@pytest.mark.parametrize("failing", ["write", "rename"])
def test_safetensors_and_its_json_are_written_both_or_neither(tmp_path, monkeypatch, failing):
    from mlp_studio.core import outputs

    path, sidecar = tmp_path / "m.safetensors", tmp_path / "m.json"
    old = BUNDLES["relu"]()
    export_safetensors(old, path)
    before = path.read_bytes(), sidecar.read_bytes()
    real_copy, real_replace = outputs._temp_copy, os.replace

    def full_disk_on_the_json(target, data):
        if target.suffix == ".json":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_copy(target, data)

    def replace_fails_on_the_json(src, dst, *args, **kwargs):
        if str(dst).endswith(".json"):
            raise OSError(errno.EIO, "Input/output error")
        return real_replace(src, dst, *args, **kwargs)

    if failing == "write":
        monkeypatch.setattr(outputs, "_temp_copy", full_disk_on_the_json)
    else:
        monkeypatch.setattr(os, "replace", replace_fails_on_the_json)
    with pytest.raises(OutputError, match=f"Cannot write {sidecar}"):
        export_safetensors(BUNDLES["custom_maxout_bn"](), path)
    assert (path.read_bytes(), sidecar.read_bytes()) == before  # the old pair, untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.safetensors"]
    path.unlink()
    sidecar.unlink()
    with pytest.raises(OutputError):
        export_safetensors(old, path)
    assert list(tmp_path.iterdir()) == []  # a new pair: neither file
