"""Write a ModelBundle as ONNX, TorchScript or safetensors + JSON (see core.export)."""

import io
import json
import warnings
from pathlib import Path
from typing import Any

import torch
from mlp_studio.core.bundle import (
    FORMAT,
    INPUT_NAME,
    METADATA_KEY,
    OUTPUT_NAME,
    ModelBundle,
    bundle_to_metadata,
    first_line,
    inference_module,
)
from mlp_studio.core.errors import ExportError, OutputError
from mlp_studio.core.outputs import Target, atomic_write, atomic_write_all, plan_output
from safetensors.torch import save as safetensors_bytes

ONNX_OPSET = 17
TORCHSCRIPT_EXTRA = "mlp_studio.json"  # extra file inside the TorchScript archive
SUFFIXES = (".onnx", ".pt", ".safetensors", ".keras")  # export_file writes (".torchscript" too)
SCRIPT_SUFFIX = ".py"  # a Keras script of the experiment: needs its settings (core.keras_script)


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


def onnx_bytes(bundle: ModelBundle) -> bytes:
    """An ONNX model (opset 17, dynamic batch) with the description in metadata_props."""
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
        raise ExportError(f"Cannot convert this model to ONNX: {first_line(err)}") from None
    proto = onnx.load_from_string(buffer.getvalue())
    onnx.helper.set_model_props(proto, {METADATA_KEY: json.dumps(bundle_to_metadata(bundle))})
    proto.doc_string = f"MLP Studio model: {_contract(bundle)}"
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def export_onnx(bundle: ModelBundle, path: str | Path) -> Path:
    """Write the bundle as an ONNX model (see onnx_bytes)."""
    plan_output(path, "the export")
    atomic_write(Path(path), onnx_bytes(bundle))
    return Path(path)


def torchscript_bytes(bundle: ModelBundle) -> bytes:
    """A traced TorchScript module that runs with torch alone (torch.jit.load)."""
    module = inference_module(bundle)
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        # torch.jit is deprecated in favour of torch.export, but still the only format a
        # plain `torch.jit.load` can run without the model's Python code.
        warnings.simplefilter("ignore", DeprecationWarning)
        traced = torch.jit.trace(module, torch.zeros(2, bundle.spec.input_size))
        extra = {TORCHSCRIPT_EXTRA: json.dumps(bundle_to_metadata(bundle))}
        torch.jit.save(traced, buffer, _extra_files=extra)
    return buffer.getvalue()


def export_torchscript(bundle: ModelBundle, path: str | Path) -> Path:
    """Write the bundle as TorchScript (see torchscript_bytes)."""
    plan_output(path, "the export")
    atomic_write(Path(path), torchscript_bytes(bundle))
    return Path(path)


def export_safetensors(bundle: ModelBundle, path: str | Path) -> Path:
    """Write the weights with the description in the header, plus a `<stem>.json` sidecar:
    both files, or neither (a full disk never leaves weights without their description)."""
    path = Path(path)
    plan_safetensors(path, "the export")
    meta = bundle_to_metadata(bundle)
    inference_module(bundle)  # checks the weights against the spec before anything is written
    tensors = {k: v.detach().cpu().contiguous() for k, v in bundle.state_dict.items()}
    data = safetensors_bytes(tensors, metadata={METADATA_KEY: json.dumps(meta)})
    atomic_write_all([(path, data), (sidecar_path(path), _readable_json(meta).encode())])
    return path


def sidecar_path(path: str | Path) -> Path:
    """Where export_safetensors writes the description for people to read."""
    return Path(path).with_suffix(".json")


def plan_safetensors(path: Path, what: str) -> list[Target]:
    """The weights file and its sidecar, checked (see core.outputs.plan_output)."""
    sidecar = sidecar_path(path)
    if sidecar == path:
        raise OutputError(f"Cannot write {path}: name the weights file *.safetensors.")
    targets = [plan_output(path, what), plan_output(sidecar, f"the description of {path}")]
    if targets[1].path is not None and targets[1].path.exists() and not _is_description(sidecar):
        raise OutputError(
            f"Cannot write {path}: its description goes to {sidecar.name} beside it, and that "
            "file exists and is not an MLP Studio model description. Choose another name for "
            "the model, or move that file."
        )
    return targets


def plan_export(path: str, what: str = "--export") -> list[Target]:
    """Every file exporting to `path` writes, checked before any work: suffix, folder, sidecar."""
    target = plan_output(path, what, (*SUFFIXES, ".torchscript", SCRIPT_SUFFIX))
    if Path(path).suffix.lower() == ".safetensors":
        return plan_safetensors(Path(path).expanduser(), what)
    return [target]


def export_file(bundle: ModelBundle, path: str | Path) -> Path:
    """Export in the format named by the file's suffix."""
    from mlp_studio.core.keras_export import export_keras  # it imports this package

    writers = {".onnx": export_onnx, ".pt": export_torchscript,
               ".torchscript": export_torchscript, ".safetensors": export_safetensors,
               ".keras": export_keras}  # fmt: skip
    writer = writers.get(Path(path).suffix.lower())
    if writer is None:
        raise OutputError(f"Cannot export to {path}: use a name ending in .onnx, .pt, "
                          ".safetensors or .keras.")  # fmt: skip
    return writer(bundle, Path(path).expanduser())


def _is_description(path: Path) -> bool:
    """An earlier export's sidecar (safe to replace), not somebody's other JSON file."""
    try:
        with path.open("rb") as f:
            meta = json.loads(f.read(1_000_000))
    except (OSError, ValueError, RecursionError):
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
