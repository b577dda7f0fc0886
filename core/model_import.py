"""Open any model file the studio reads as a studio model (a ModelBundle).

MLP Studio's own files (.safetensors exports, .mlps sessions), Keras files (.keras, legacy .h5)
and ONNX files (.onnx: the studio's exports and torch.onnx.export of an MLP). Every reader
parses data only; code files such as TorchScript are never loaded from a user's file.
"""

from pathlib import Path

from mlp_studio.core.errors import ExportError
from mlp_studio.core.export import ModelBundle, load_bundle, refuse_code_file
from mlp_studio.core.foreign_layers import INPUT_RANGES, InputRangeNeeded, existing_file

IMPORT_SUFFIXES = (".safetensors", ".mlps", ".keras", ".h5", ".onnx")

__all__ = ["IMPORT_SUFFIXES", "INPUT_RANGES", "InputRangeNeeded", "import_model",
           "target_digit_of"]


def import_model(path: str | Path, input_range: str | None = None) -> ModelBundle:
    """The model in `path`, chosen by suffix (ExportError/SessionError saying what is wrong).

    `input_range` ("raw": pixels 0-255, "unit": 0-1) is used only when the file does not say;
    when it is needed and not given, InputRangeNeeded (an ExportError) asks for it.
    """
    refuse_code_file(path)  # TorchScript: why it is refused and what to open instead
    path = Path(path)
    suffix = path.suffix.lower()
    if input_range is not None and input_range not in INPUT_RANGES:
        raise ExportError(f"The input range '{input_range}' is unknown: use raw or unit.")
    if suffix not in IMPORT_SUFFIXES:
        raise ExportError(
            f"Cannot open {path}: MLP Studio imports models from "
            f"{', '.join(IMPORT_SUFFIXES)} files."
        )
    existing_file(path)
    if suffix == ".safetensors":
        return load_bundle(path)
    if suffix == ".mlps":
        from mlp_studio.core.session import load_session
        from mlp_studio.core.session_bundle import session_bundle

        return session_bundle(load_session(path))
    if suffix == ".onnx":
        from mlp_studio.core.onnx_import import import_onnx

        return import_onnx(path, input_range)
    from mlp_studio.core.keras_import import import_keras

    return import_keras(path, input_range)


def target_digit_of(class_names: list[str]) -> int | None | bool:
    """The target digit a model's class names imply (None: the ten digits); False if they
    name no MNIST task."""
    if class_names == [str(d) for d in range(10)]:
        return None
    if (len(class_names) == 2 and class_names[1].isdigit()
            and class_names[0] == f"not {class_names[1]}"):
        return int(class_names[1])
    return False
