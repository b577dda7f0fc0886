"""Open model files: safetensors and ONNX exports, and the current model of a .mlps session.

Nothing here runs code from a file. safetensors, ONNX and sessions (JSON + safetensors in a
zip) hold only data. TorchScript files (.pt) hold code that torch runs while loading them (a
crafted one can write files), so they are refused by name before anything reads them.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from mlp_studio.core.bundle import (
    IMAGE_INPUTS,
    INPUT_NAME,
    METADATA_KEY,
    OUTPUT_NAME,
    ModelBundle,
    check_finite,
    check_tensors,
    code_file_refusal,
    feature_names_of,
    first_line,
    image_shape_of,
    inference_module,
    layout,
    parse_json,
    parse_metadata,
    table_of,
    target_scaling_of,
)
from mlp_studio.core.errors import ExportError
from mlp_studio.core.model import NetworkSpec, build_model
from mlp_studio.core.reading import existing_file
from mlp_studio.core.session import load_session
from mlp_studio.core.session_bundle import session_bundle
from mlp_studio.core.table_schema import TableSchema
from safetensors import SafetensorError, safe_open
from torch import nn


@dataclass(frozen=True)
class Predictor:
    """A loaded model file, whatever its format."""

    class_names: list[str]
    source: str  # what was loaded and with what, for display
    input_size: int
    run: Callable[[np.ndarray], np.ndarray]  # float32 [N, input_size] -> [N, C]
    task: str = "classification"  # "regression": run gives values [N, 1]
    table: TableSchema | None = None  # a table model: how a CSV row becomes its inputs
    # A model of an image folder: (H, W) or (H, W, 3) pictures, prepared as the folder was.
    image_shape: tuple[int, ...] = ()

    @classmethod
    def of(cls, bundle: ModelBundle, source: str, run: Callable[[np.ndarray], np.ndarray]
           ) -> "Predictor":
        return cls(bundle.class_names, source, bundle.spec.input_size, run, bundle.task,
                   bundle.table, tuple(bundle.image_shape))

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


def refuse_code_file(path: str | Path) -> None:
    """ExportError for a file that holds code (TorchScript, torch pickles), before it is read."""
    message = code_file_refusal(path)
    if message:
        raise ExportError(message)


def load_bundle(path: str | Path) -> ModelBundle:
    """Read a .safetensors export: description from the header, weights checked against it."""
    refuse_code_file(path)
    path = existing_file(path, ExportError, "a model file")
    try:
        with safe_open(path, framework="pt", device="cpu") as f:
            text = (f.metadata() or {}).get(METADATA_KEY)
            if text is None:
                raise ExportError("it has no MLP Studio model description in its header")
            meta = parse_json(text)
            spec, normalization, loss, class_names, task = parse_metadata(meta)
            # Names and shapes first, from the header, before any tensor data is read.
            expected = layout(build_model(spec).state_dict())
            check_tensors(expected, {k: (f.get_slice(k).get_shape(), None) for k in f.keys()})
            state = {k: f.get_tensor(k) for k in f.keys()}
        check_tensors(expected, layout(state))
        check_finite(state)
        table = table_of(meta, spec)
    except ExportError as err:
        raise ExportError(f"Cannot open {path}: {err}.") from None
    except (SafetensorError, OSError, ValueError) as err:
        raise ExportError(
            f"Cannot open {path}: it is not a valid safetensors file ({first_line(err)})."
        ) from None
    features = feature_names_of(meta, spec)
    return ModelBundle(spec, normalization, loss, class_names, state, task, features, table,
                       image_shape_of(meta, spec), target_scaling_of(meta, spec))


def load_predictor(path: str | Path) -> Predictor:
    """Open an exported model file (.safetensors, .onnx, .keras/.h5) or a session (.mlps),
    by its suffix."""
    refuse_code_file(path)
    path = Path(path)
    loader = _LOADERS.get(path.suffix.lower())
    if loader is None:
        raise ExportError(
            f"Cannot open {path}: MLP Studio opens {', '.join(_LOADERS)} model files."
        )
    return loader(existing_file(path, ExportError, "a model file"))


def _safetensors_predictor(path: Path) -> Predictor:
    bundle = load_bundle(path)
    return Predictor.of(bundle, f"{path} (safetensors, torch)",
                        torch_run(inference_module(bundle)))


def _onnx_predictor(path: Path) -> Predictor:
    try:
        import onnxruntime
    except ImportError:
        raise ExportError(
            f"Cannot open {path}: running ONNX models needs onnxruntime. Install it with "
            "`pip install onnxruntime`, or open the .safetensors export instead."
        ) from None
    from mlp_studio.core.onnx_check import checked_onnx  # it imports core.export

    # onnxruntime runs any graph, also one that allocates terabytes: only the exact graph of
    # the MLP the description gives runs, from the bytes that were checked.
    bundle, data = checked_onnx(path)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: a bad file is reported through ExportError
    try:
        session = onnxruntime.InferenceSession(
            data, sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as err:  # onnxruntime raises its own (pybind) exception types
        raise ExportError(
            f"Cannot open {path}: it is not a valid ONNX model ({first_line(err)})."
        ) from None
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if [i.name for i in inputs] != [INPUT_NAME] or OUTPUT_NAME not in [o.name for o in outputs]:
        raise ExportError(
            f"Cannot open {path}: it is an ONNX model, but not one exported by MLP Studio "
            f"(it needs an input '{INPUT_NAME}' and an output '{OUTPUT_NAME}')."
        )

    def run(x: np.ndarray) -> np.ndarray:
        return session.run([OUTPUT_NAME], {INPUT_NAME: x})[0]

    return Predictor.of(bundle, f"{path} (ONNX, onnxruntime)", run)


def described(path: Path, text: str | bytes | None) -> tuple[NetworkSpec, list[str]]:
    """The spec and class names of a model description found in `path`."""
    try:
        if not text:
            raise ExportError("it has no MLP Studio model description")
        spec, _, _, class_names, _ = parse_metadata(parse_json(text))
    except ExportError as err:
        raise ExportError(f"Cannot open {path}: {err}.") from None
    return spec, class_names


def _session_predictor(path: Path) -> Predictor:
    bundle = session_bundle(load_session(path))
    return Predictor.of(bundle, f"{path} (MLP Studio session, torch)",
                        torch_run(inference_module(bundle)))


def torch_run(module: nn.Module) -> Callable[[np.ndarray], np.ndarray]:
    def run(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return module(torch.from_numpy(x)).numpy()

    return run


# Loaders by file suffix.
def _keras_predictor(path: Path) -> Predictor:
    """A .keras or .h5 file read as data (core.keras_import) and run with torch. A file that
    does not say how its pixels are scaled needs `mlp-studio evaluate --input-range`."""
    from mlp_studio.core.keras_import import import_keras  # it imports this package

    bundle = import_keras(path)
    return Predictor.of(bundle, f"{path} (Keras file read by MLP Studio, torch)",
                        torch_run(inference_module(bundle)))


_LOADERS: dict[str, Callable[[Path], Predictor]] = {
    ".onnx": _onnx_predictor,
    ".safetensors": _safetensors_predictor,
    ".mlps": _session_predictor,
    ".keras": _keras_predictor,
    ".h5": _keras_predictor,
}
