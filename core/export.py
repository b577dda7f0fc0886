"""Export a trained model to files other programs can run, and load such files back.

Every exported model has the same contract, whatever the format:
input "pixels" float32 [N, 784], raw pixel values 0-255 (28x28 row-major, white ink on black,
prepared like MNIST: see core.digits); output "probabilities" float32 [N, C], each row summing
to 1. The normalization and the loss's output activation are built into the file, so a user
never has to know how the model was trained.

A playground model keeps the tensor names but takes raw input features instead of pixels
(float32 [N, F]: x1, x2, x1*x2... in the units of the training data, named in the description's
"feature_names"), and a regression model (task "regression") outputs one predicted value per
row [N, 1], the raw network output rather than probabilities.

Formats:
- ONNX (.onnx): runs in onnxruntime, from Python, C++, C#, JavaScript...
- TorchScript (.pt): runs with torch alone, no MLP Studio needed.
- safetensors (.safetensors): the weights, with the model description (network spec,
  normalization, loss, class names) as JSON in the file's header and in a `<stem>.json`
  sidecar for people to read. MLP Studio rebuilds the network from it.

Loading never runs Python pickle. safetensors and ONNX files hold only data. TorchScript
is code by nature: loading one runs its graph in the TorchScript interpreter (not Python,
not pickle), so it is only offered for files the user exported or explicitly chooses.
"""

import contextlib
import errno
import io
import json
import os
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from mlp_studio.core.data import Normalization, PreparedData
from mlp_studio.core.errors import ExportError, SpecError
from mlp_studio.core.losses import canonical_loss, probabilities
from mlp_studio.core.model import NetworkSpec, build_model
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_bytes
from torch import Tensor, nn

FORMAT = "mlp-studio-model"
FORMAT_VERSION = 1
METADATA_KEY = "mlp_studio"  # key in the safetensors header / ONNX metadata_props
TORCHSCRIPT_EXTRA = "mlp_studio.json"  # extra file inside the TorchScript archive
# Tensor names: the same in every export (a playground model's input is features, a
# regression's output is values), so that code written for one export runs on another.
INPUT_NAME, OUTPUT_NAME = "pixels", "probabilities"
ONNX_OPSET = 17
IMAGE_INPUTS = 28 * 28  # a model with this many inputs takes MNIST-style images


@dataclass
class ModelBundle:
    """Everything needed to run a trained model on raw inputs (pixels, or 2-D features)."""

    spec: NetworkSpec
    normalization: Normalization
    loss: str  # decides the output head (see core.losses.probabilities)
    class_names: list[str]
    state_dict: dict[str, Tensor]
    # "regression": the one output is the predicted value itself (no softmax head).
    task: str = "classification"
    # A playground model's input columns in order ("x1", "x2", "x1*x2"...); empty when unknown
    # or when the inputs are an image's pixels.
    feature_names: list[str] = field(default_factory=list)

    @property
    def takes_images(self) -> bool:
        """True when the inputs are a 28x28 image's pixels (not 2-D playground features)."""
        return self.spec.input_size == IMAGE_INPUTS and not self.feature_names

    def input_description(self) -> str:
        """What the file takes, for people: "raw pixels ..." or "raw input features ..."."""
        if self.takes_images:
            return "raw pixels 0-255, 28x28 row-major, white ink on black, MNIST-style"
        return f"raw input features ({self.feature_list()}), in the units of the training data"

    def feature_list(self) -> str:
        """The features, "x1, x2", or "3 values per row" when their names are not known."""
        if self.feature_names:
            return ", ".join(self.feature_names)
        n = self.spec.input_size
        return f"{n} value{'s' if n != 1 else ''} per row"

    def output_description(self) -> str:
        if self.task == "regression":
            return "one predicted value per row (the raw network output, not a probability)"
        return "class probabilities, each row sums to 1, in class_names order"


@dataclass(frozen=True)
class Predictor:
    """A loaded model file, whatever its format."""

    class_names: list[str]
    source: str  # what was loaded and with what, for display
    input_size: int
    run: Callable[[np.ndarray], np.ndarray]  # float32 [N, input_size] -> [N, C]

    def predict(self, raw: np.ndarray) -> np.ndarray:
        """Raw pixels 0-255, [N, 784] (or [N, 28, 28], or one image) -> probabilities [N, C].

        A playground model takes raw features [N, F]; a regression gives values [N, 1].
        """
        x = np.asarray(raw, dtype=np.float32)
        x = np.ascontiguousarray(x.reshape(1 if x.ndim <= 1 else x.shape[0], -1))
        if x.shape[1] != self.input_size:
            if self.input_size == IMAGE_INPUTS:
                raise ExportError(
                    f"This model takes {self.input_size} pixels per image but got "
                    f"{x.shape[1]}: give it 28x28 images prepared like MNIST."
                )
            raise ExportError(
                f"This model takes {self.input_size} input features per row but got {x.shape[1]}."
            )
        return self.run(x)


# ---------------------------------------------------------------- metadata


def app_version() -> str:
    try:
        return importlib_metadata.version("mlp-studio")
    except importlib_metadata.PackageNotFoundError:
        return "unknown"


def bundle_to_metadata(bundle: ModelBundle) -> dict[str, Any]:
    """The JSON-able model description stored in (and beside) every exported file."""
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "app_version": app_version(),
        # For people reading the sidecar; the loaders derive these from the spec.
        "input": {
            "name": INPUT_NAME,
            "shape": ["N", bundle.spec.input_size],
            "dtype": "float32",
            "values": bundle.input_description(),
        },
        "output": {
            "name": OUTPUT_NAME,
            "shape": ["N", bundle.spec.output_size],
            "dtype": "float32",
            "values": bundle.output_description(),
        },
        "spec": bundle.spec.to_dict(),
        "normalization": bundle.normalization.to_dict(),
        "loss": canonical_loss(bundle.loss),
        "class_names": list(bundle.class_names),
        "task": bundle.task,
    }
    if bundle.feature_names:  # only playground models: MNIST descriptions look as before
        meta["feature_names"] = list(bundle.feature_names)
    return meta


def bundle_from_metadata(
    meta: object, state_dict: dict[str, Tensor], source: str = "the model"
) -> ModelBundle:
    """Rebuild a bundle from its description and weights; ExportError saying what is wrong."""
    try:
        spec, normalization, loss, class_names, task = _parse_metadata(meta)
        _check_tensors(_layout(build_model(spec).state_dict()), _layout(state_dict))
    except ExportError as err:
        raise ExportError(f"Cannot open {source}: {err}.") from None
    features = _feature_names(meta, spec)
    return ModelBundle(spec, normalization, loss, class_names, dict(state_dict), task, features)


# The helpers below raise ExportError with a sentence fragment ("it ...", "the weights ...");
# the public functions put "Cannot open <file>: " in front.


def _parse_metadata(meta: object) -> tuple[NetworkSpec, Normalization, str, list[str], str]:
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ExportError("it does not contain an MLP Studio model description")
    version = meta.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ExportError(f"its format version {version!r} is not valid")
    if version > FORMAT_VERSION:
        raise ExportError(
            f"it was written by a newer MLP Studio (format version {version}, this one reads "
            f"up to {FORMAT_VERSION}): update MLP Studio"
        )
    try:
        spec = NetworkSpec.from_dict(meta.get("spec"))
        spec.validate()
        normalization = Normalization.from_dict(meta.get("normalization"))
        loss = canonical_loss(str(meta.get("loss")))
    except (SpecError, TypeError, AttributeError) as err:
        raise ExportError(f"its model description is invalid: {err}") from None
    if normalization.size != spec.input_size:
        raise ExportError(
            f"its normalization has {normalization.size} values for {spec.input_size} inputs"
        )
    names = meta.get("class_names")
    if not (
        isinstance(names, list)
        and all(isinstance(n, str) for n in names)
        and len(names) == spec.output_size
    ):
        raise ExportError(f"its class names are not a list of {spec.output_size} strings")
    # Files written before regression export have no "task": they are classifiers.
    task = meta.get("task", "classification")
    if task not in ("classification", "regression"):
        raise ExportError(f"its task {task!r} is neither 'classification' nor 'regression'")
    return spec, normalization, loss, names, task


def _feature_names(meta: dict, spec: NetworkSpec) -> list[str]:
    """The description's input feature names; [] when absent or not one per input (they only
    describe the inputs: a file is not refused over them)."""
    names = meta.get("feature_names")
    if (
        isinstance(names, list)
        and len(names) == spec.input_size
        and all(isinstance(n, str) for n in names)
    ):
        return list(names)
    return []


Layout = dict[str, tuple[list[int], Any]]  # tensor name -> (shape, dtype or None if unknown)


def _layout(tensors: dict[str, Tensor]) -> Layout:
    return {k: (list(v.shape), v.dtype) for k, v in tensors.items()}


def check_weights(spec: NetworkSpec, state_dict: dict[str, Tensor]) -> None:
    """ExportError ("the weights do not match the network: ...") unless they fit `spec`."""
    _check_tensors(_layout(build_model(spec).state_dict()), _layout(state_dict))


def _check_tensors(expected: Layout, found: Layout) -> None:
    """Compare tensor names, shapes (and dtypes where known) with what the network needs."""
    problems = [f"missing tensor {k}" for k in expected if k not in found]
    problems += [f"unexpected tensor {k}" for k in found if k not in expected]
    for key in expected.keys() & found.keys():
        (want_shape, want_dtype), (shape, dtype) = expected[key], found[key]
        if shape != want_shape:
            problems.append(f"tensor {key} has shape {shape}, the network needs {want_shape}")
        elif dtype is not None and dtype != want_dtype:
            problems.append(f"tensor {key} is {dtype}, the network needs {want_dtype}")
    if problems:
        raise ExportError("the weights do not match the network: " + "; ".join(sorted(problems)))


# ---------------------------------------------------------------- the inference module


class InferenceModule(nn.Module):
    """Raw inputs [N, D] (pixels 0-255, or playground features) -> class probabilities [N, C]
    (a regression's values [N, 1]): normalization, MLP, head."""

    def __init__(
        self, model: nn.Module, normalization: Normalization, loss: str, regression: bool = False
    ) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(normalization.mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(normalization.std, dtype=torch.float32))
        self.loss = loss
        self.regression = regression

    def forward(self, pixels: Tensor) -> Tensor:
        outputs = self.model((pixels - self.mean) / self.std)
        # A regression's single output is the value itself: a softmax over it is always 1.
        return outputs if self.regression else probabilities(self.loss, outputs)


def inference_module(bundle: ModelBundle) -> nn.Module:
    """The bundle as one eval-mode module: raw [N, 784] float32 0-255 -> probabilities [N, C].

    A playground bundle takes its raw features [N, F] instead of pixels; a regression bundle
    (task "regression") returns the raw predicted values [N, 1] instead of probabilities.
    """
    state = {k: v.detach().cpu() for k, v in bundle.state_dict.items()}
    model = build_model(bundle.spec)
    try:
        _check_tensors(_layout(model.state_dict()), _layout(state))
    except ExportError as err:
        raise ExportError(f"Cannot use this model: {err}.") from None
    model.load_state_dict(state)
    regression = bundle.task == "regression"
    module = InferenceModule(
        model, bundle.normalization, canonical_loss(bundle.loss), regression
    ).eval()
    module.requires_grad_(False)
    return module


# ---------------------------------------------------------------- exports


def _contract(bundle: ModelBundle) -> str:
    """What the file does, e.g. "raw pixels [N, 784] 0-255 -> probabilities [N, 10]", or for
    a playground surface "raw features x1, x2 [N, 2] -> predicted values [N, 1]"."""
    n, c = bundle.spec.input_size, bundle.spec.output_size
    takes = (
        f"raw pixels [N, {n}] 0-255"
        if bundle.takes_images
        else f"raw features {bundle.feature_list()} [N, {n}]"
    )
    gives = "predicted values" if bundle.task == "regression" else "probabilities"
    return f"{takes} -> {gives} [N, {c}]"


def export_onnx(bundle: ModelBundle, path: str | Path) -> Path:
    """Write an ONNX model (opset 17, dynamic batch) with the description in metadata_props."""
    path = Path(path)
    _check_target(path)
    try:
        import onnx
    except ImportError:
        raise ExportError(
            "Exporting to ONNX needs the onnx package: install it with `pip install onnx`."
        ) from None
    module = inference_module(bundle)
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings():
            # The TorchScript-based exporter is deprecated but exact and fast for an MLP.
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                module,
                (torch.zeros(2, bundle.spec.input_size),),
                buffer,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
                opset_version=ONNX_OPSET,
                dynamo=False,
            )
    except (torch.onnx.errors.OnnxExporterError, RuntimeError) as err:
        raise ExportError(f"Cannot convert this model to ONNX: {_first_line(err)}") from None
    proto = onnx.load_from_string(buffer.getvalue())
    onnx.helper.set_model_props(proto, {METADATA_KEY: json.dumps(bundle_to_metadata(bundle))})
    proto.doc_string = f"MLP Studio model: {_contract(bundle)}"
    onnx.checker.check_model(proto)
    atomic_write(path, proto.SerializeToString())
    return path


def export_torchscript(bundle: ModelBundle, path: str | Path) -> Path:
    """Write a traced TorchScript module that runs with torch alone (torch.jit.load)."""
    path = Path(path)
    _check_target(path)
    module = inference_module(bundle)
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        # torch.jit is deprecated in favour of torch.export, but still the only format a
        # plain `torch.jit.load` can run without the model's Python code.
        warnings.simplefilter("ignore", DeprecationWarning)
        traced = torch.jit.trace(module, torch.zeros(2, bundle.spec.input_size))
        extra = {TORCHSCRIPT_EXTRA: json.dumps(bundle_to_metadata(bundle))}
        torch.jit.save(traced, buffer, _extra_files=extra)
    atomic_write(path, buffer.getvalue())
    return path


def export_safetensors(bundle: ModelBundle, path: str | Path) -> Path:
    """Write the weights with the description in the header, plus a `<stem>.json` sidecar."""
    path = Path(path)
    sidecar = sidecar_path(path)
    if sidecar == path:
        raise ExportError(f"Cannot write {path}: name the weights file *.safetensors.")
    _check_target(path)
    _check_target(sidecar)
    if sidecar.exists() and not _is_description(sidecar):
        raise ExportError(
            f"Cannot write {path}: its description goes to {sidecar.name} beside it, and that "
            "file exists and is not an MLP Studio model description. Choose another name for "
            "the model, or move that file."
        )
    meta = bundle_to_metadata(bundle)
    inference_module(bundle)  # checks the weights against the spec before anything is written
    tensors = {k: v.detach().cpu().contiguous() for k, v in bundle.state_dict.items()}
    data = safetensors_bytes(tensors, metadata={METADATA_KEY: json.dumps(meta)})
    atomic_write(path, data)
    atomic_write(sidecar, _readable_json(meta).encode())
    return path


def sidecar_path(path: str | Path) -> Path:
    """Where export_safetensors writes the description for people to read."""
    return Path(path).with_suffix(".json")


def _is_description(path: Path) -> bool:
    """An earlier export's sidecar (safe to replace), not somebody's other JSON file."""
    try:
        with path.open("rb") as f:
            meta = json.loads(f.read(1_000_000))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("format") == FORMAT


def _readable_json(meta: dict[str, Any]) -> str:
    """Indented JSON, except the long normalization vectors, which stay on one line each."""
    norm = meta["normalization"]
    placeholders = {key: f"@{key}@" for key in norm if isinstance(norm[key], list)}
    text = json.dumps({**meta, "normalization": {**norm, **placeholders}}, indent=2)
    for key, mark in placeholders.items():
        text = text.replace(json.dumps(mark), json.dumps(norm[key]))
    return text + "\n"


# ---------------------------------------------------------------- atomic writing


def _check_target(path: Path) -> None:
    """Fail early, with a clear message, on paths that can never be written."""
    if path.is_dir():
        raise ExportError(f"Cannot write {path}: it is a folder. Choose a file name.")
    if not path.parent.is_dir():
        raise ExportError(
            f"Cannot write {path}: the folder {path.parent} does not exist. "
            "Choose another location."
        )


def atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, fsync, then rename over it.

    Readers see either the old file or the complete new one; on any failure the temporary
    file is removed and the old file is left untouched.
    """
    _check_target(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise _write_error(path, err) from None
    try:
        with os.fdopen(fd, "wb") as f:
            if hasattr(os, "fchmod"):  # mkstemp makes it 0600; an export is a normal file
                os.fchmod(f.fileno(), 0o644)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise _write_error(path, err) from None
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable where the OS allows it (not on Windows)."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_error(path: Path, err: OSError) -> ExportError:
    reasons = {
        errno.ENOSPC: "the disk is full. Free some space or choose another location.",
        errno.EDQUOT: "the disk quota is exceeded. Free some space or choose another location.",
        errno.EACCES: f"permission denied in the folder {path.parent}. Choose another location.",
        errno.EPERM: f"permission denied in the folder {path.parent}. Choose another location.",
        errno.EROFS: f"the folder {path.parent} is read-only. Choose another location.",
        errno.ENOENT: f"the folder {path.parent} does not exist. Choose another location.",
        errno.EISDIR: "it is a folder. Choose a file name.",
    }
    reason = reasons.get(err.errno, f"{err.strerror or err}. Choose another location.")
    return ExportError(f"Cannot write {path}: {reason}")


# ---------------------------------------------------------------- loading


def load_bundle(path: str | Path) -> ModelBundle:
    """Read a .safetensors export: description from the header, weights checked against it."""
    path = _existing(path)
    try:
        with safe_open(path, framework="pt", device="cpu") as f:
            text = (f.metadata() or {}).get(METADATA_KEY)
            if text is None:
                raise ExportError("it has no MLP Studio model description in its header")
            meta = _json(text)
            spec, normalization, loss, class_names, task = _parse_metadata(meta)
            # Names and shapes first, from the header, before any tensor data is read.
            expected = _layout(build_model(spec).state_dict())
            _check_tensors(expected, {k: (f.get_slice(k).get_shape(), None) for k in f.keys()})
            state = {k: f.get_tensor(k) for k in f.keys()}
        _check_tensors(expected, _layout(state))
    except ExportError as err:
        raise ExportError(f"Cannot open {path}: {err}.") from None
    except (SafetensorError, OSError, ValueError) as err:
        raise ExportError(
            f"Cannot open {path}: it is not a valid safetensors file ({_first_line(err)})."
        ) from None
    features = _feature_names(meta, spec)
    return ModelBundle(spec, normalization, loss, class_names, state, task, features)


def load_predictor(path: str | Path) -> Predictor:
    """Open any exported model file, chosen by its suffix."""
    path = Path(path)
    loader = _LOADERS.get(path.suffix.lower())
    if loader is None:
        raise ExportError(
            f"Cannot open {path}: MLP Studio opens {', '.join(_LOADERS)} model files."
        )
    return loader(_existing(path))


def _safetensors_predictor(path: Path) -> Predictor:
    bundle = load_bundle(path)
    module = inference_module(bundle)
    return Predictor(
        bundle.class_names,
        f"{path} (safetensors, torch)",
        bundle.spec.input_size,
        _torch_run(module),
    )


def _onnx_predictor(path: Path) -> Predictor:
    try:
        import onnxruntime
    except ImportError:
        raise ExportError(
            f"Cannot open {path}: running ONNX models needs onnxruntime. Install it with "
            "`pip install onnxruntime`, or open the .safetensors or .pt export instead."
        ) from None
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: a bad file is reported through ExportError
    try:
        session = onnxruntime.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as err:  # onnxruntime raises its own (pybind) exception types
        raise ExportError(
            f"Cannot open {path}: it is not a valid ONNX model ({_first_line(err)})."
        ) from None
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if [i.name for i in inputs] != [INPUT_NAME] or OUTPUT_NAME not in [o.name for o in outputs]:
        raise ExportError(
            f"Cannot open {path}: it is an ONNX model, but not one exported by MLP Studio "
            f"(it needs an input '{INPUT_NAME}' and an output '{OUTPUT_NAME}')."
        )
    meta = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    spec, class_names = _described(path, meta)

    def run(x: np.ndarray) -> np.ndarray:
        return session.run([OUTPUT_NAME], {INPUT_NAME: x})[0]

    return Predictor(class_names, f"{path} (ONNX, onnxruntime)", spec.input_size, run)


def _torchscript_predictor(path: Path) -> Predictor:
    extra = {TORCHSCRIPT_EXTRA: ""}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    except (RuntimeError, ValueError) as err:
        raise ExportError(
            f"Cannot open {path}: it is not a TorchScript model ({_first_line(err)})."
        ) from None
    spec, class_names = _described(path, extra[TORCHSCRIPT_EXTRA] or None)
    return Predictor(
        class_names, f"{path} (TorchScript, torch)", spec.input_size, _torch_run(module.eval())
    )


def _described(path: Path, text: str | bytes | None) -> tuple[NetworkSpec, list[str]]:
    try:
        if not text:
            raise ExportError("it has no MLP Studio model description")
        spec, _, _, class_names, _ = _parse_metadata(_json(text))
    except ExportError as err:
        raise ExportError(f"Cannot open {path}: {err}.") from None
    return spec, class_names


def _session_predictor(path: Path) -> Predictor:
    from mlp_studio.core.session import (  # core.session imports this module
        load_session,
        session_bundle,
    )

    bundle = session_bundle(load_session(path))
    return Predictor(
        bundle.class_names,
        f"{path} (MLP Studio session, torch)",
        bundle.spec.input_size,
        _torch_run(inference_module(bundle)),
    )


def _torch_run(module: nn.Module) -> Callable[[np.ndarray], np.ndarray]:
    def run(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return module(torch.from_numpy(x)).numpy()

    return run


# Loaders by file suffix.
_LOADERS: dict[str, Callable[[Path], Predictor]] = {
    ".onnx": _onnx_predictor,
    ".pt": _torchscript_predictor,
    ".torchscript": _torchscript_predictor,
    ".safetensors": _safetensors_predictor,
    ".mlps": _session_predictor,
}


def _existing(path: str | Path) -> Path:
    path = Path(path)
    if path.is_dir():
        raise ExportError(f"Cannot open {path}: it is a folder. Choose a model file.")
    if not path.is_file():
        raise ExportError(f"Cannot open {path}: the file does not exist.")
    return path


def _json(text: str | bytes) -> object:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ExportError(f"its model description is not valid JSON ({err})") from None


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


# ---------------------------------------------------------------- verification


def verification_pixels(data: PreparedData, limit: int = 1000) -> np.ndarray:
    """Up to `limit` test images as raw pixels float32 [N, D], what an exported file takes.

    The prepared tensors are normalized; the raw uint8 images are used where kept, otherwise
    the normalization is undone (exact to float32 rounding).
    """
    if data.raw_test is not None and len(data.raw_test):
        raw = data.raw_test[:limit]
        return np.ascontiguousarray(raw.reshape(len(raw), -1), dtype=np.float32)
    x = data.x_test[:limit].detach().cpu().numpy()
    return np.ascontiguousarray(x * data.normalization.std + data.normalization.mean, np.float32)


def verify_export(bundle: ModelBundle, path: str | Path, raw_pixels: np.ndarray) -> float:
    """Reload the file at `path` and compare it with `bundle` on raw pixels [N, D].

    Returns the largest absolute difference between the two sets of probabilities
    (float32 rounding gives ~1e-7; anything above ~1e-5 means the file is not the model).
    """
    pixels = np.asarray(raw_pixels, dtype=np.float32)
    if len(pixels) == 0:
        raise ExportError(f"Cannot verify {path}: there are no images to compare on.")
    pixels = np.ascontiguousarray(pixels.reshape(len(pixels), -1))
    expected = _torch_run(inference_module(bundle))(pixels)
    found = load_predictor(path).predict(pixels)
    if found.shape != expected.shape:
        raise ExportError(
            f"The file {path} gives outputs of shape {list(found.shape)} where the model gives "
            f"{list(expected.shape)}: export it again."
        )
    return float(np.abs(found.astype(np.float64) - expected).max())


# ---------------------------------------------------------------- usage snippets


def usage_snippet(path: str | Path, bundle: ModelBundle | None = None) -> str:
    """Plain-Python code that runs the exported file at `path` (the GUI shows it).

    With the `bundle` written there, the example inputs and the printout fit the model: a
    playground model takes its features, a regression prints its predicted values.
    """
    path = Path(path)
    if bundle is None or bundle.takes_images:
        name = "pixels"
        prepare = (
            "# pixels: float32 [N, 784], raw 0-255, 28x28 row-major, white ink on black,\n"
            "# digits fitted into 20x20 and centred by mass like MNIST (see core.digits).\n"
            "pixels = np.zeros((1, 784), dtype=np.float32)\n"
        )
    else:
        name, n = "inputs", bundle.spec.input_size
        columns = (
            f"columns {bundle.feature_list()}" if bundle.feature_names else bundle.feature_list()
        )
        row = ", ".join(["0.0"] * n)
        prepare = (
            f"# inputs: float32 [N, {n}], one point per row, {columns},\n"
            "# raw values in the units of the training data (the normalization is built in).\n"
            f"inputs = np.array([[{row}]], dtype=np.float32)\n"
        )
    regression = bundle is not None and bundle.task == "regression"
    result = "values" if regression else "probabilities"
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        imports = "import numpy as np\nimport onnxruntime\n\n"
        body = (
            f"session = onnxruntime.InferenceSession({str(path)!r})\n"
            f"{result} = session.run([{OUTPUT_NAME!r}], {{{INPUT_NAME!r}: {name}}})[0]\n"
        )
        if regression or name != INPUT_NAME:
            body = (
                f"# Every MLP Studio export names its tensors {INPUT_NAME!r} (in) and "
                f"{OUTPUT_NAME!r} (out).\n" + body
            )
    elif suffix in (".pt", ".torchscript"):
        imports = "import numpy as np\nimport torch\n\n"
        body = (
            f"model = torch.jit.load({str(path)!r})\n"
            "with torch.no_grad():\n"
            f"    {result} = model(torch.from_numpy({name})).numpy()\n"
        )
    elif suffix == ".safetensors":
        imports = (
            "import json\n\nimport numpy as np\nfrom safetensors import safe_open\n\n"
            "from core.export import load_predictor  # MLP Studio rebuilds the network\n\n"
        )
        body = (
            f"with safe_open({str(path)!r}, framework='numpy') as f:\n"
            f"    description = json.loads(f.metadata()[{METADATA_KEY!r}])  # spec, loss...\n"
            "    weights = {name: f.get_tensor(name) for name in f.keys()}\n"
            f"{result} = load_predictor({str(path)!r}).predict({name})\n"
        )
    else:
        raise ExportError(f"No usage example for {path}: export to .onnx, .pt or .safetensors.")
    if regression:
        show = "print(values[:, 0])  # one predicted value per row (not a probability)\n"
    else:
        show = "print(probabilities.argmax(1), probabilities.max(1))  # class index, confidence\n"
    return imports + prepare + body + show
