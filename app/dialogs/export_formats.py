"""What the export dialog offers: the formats, the rule for the typed path, and the function
that writes a file and checks it (the dialog runs it in the background).

A .keras file is checked with Keras itself when it is installed (core.keras_check), otherwise
written unchecked (the dialog says how to check it); a Keras script (.py) is code to read and
run, so there is nothing to load back.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlp_studio.core import export


@dataclass(frozen=True)
class ExportFormat:
    key: str
    label: str
    suffix: str
    description: str
    needs: str = ""  # a module the format needs, if any
    checked: bool = True  # False: nothing to load back and compare (a script)


FORMATS = (
    ExportFormat(
        "onnx",
        "ONNX",
        ".onnx",
        "Runs in onnxruntime from Python, C++, C#, Java or JavaScript.",
        "onnx",
    ),
    ExportFormat(
        "torchscript",
        "TorchScript",
        ".pt",
        "Runs with PyTorch alone (torch.jit.load), no MLP Studio needed. MLP Studio itself "
        "never opens .pt files: they carry code.",
    ),
    ExportFormat(
        "safetensors",
        "safetensors + JSON",
        ".safetensors",
        "The weights, with a readable .json description beside them; MLP Studio (File > "
        "Import model) rebuilds the network from it.",
    ),
    ExportFormat(
        "keras",
        "Keras",
        ".keras",
        "Keras 3's format: keras.saving.load_model loads it with TensorFlow, JAX or PyTorch; "
        "checked with Keras when it is installed.",
        "h5py",
    ),
    ExportFormat(
        "keras_script",
        "Keras script",
        ".py",
        "Python code that builds this network in Keras, loads MNIST the same way, compiles it "
        "with the same loss and optimizer, and trains it.",
        checked=False,
    ),
)
ScriptWriter = Callable[[Path], Path]  # writes the Keras script of the current experiment


def format_difference(value: float) -> str:
    """3e-07 -> "3e-7"; 0 -> "0"."""
    if value == 0:
        return "0"
    return re.sub(r"e([+-])0*(\d)", lambda m: f"e{m[1].replace('+', '')}{m[2]}", f"{value:.0e}")


def export_target(text: str, suffix: str) -> Path | str:
    """The file to write for the typed `text`, given the format's `suffix`; or, as a str, why
    nothing can be written there. Every text the field can hold gets one or the other."""
    text = text.strip()
    if not text:
        return "Type a file name, or choose one with Browse…"
    if "\0" in text:
        return "The file name contains a NUL character: type another name."
    try:
        path = Path(text).expanduser()
    except RuntimeError:  # "~someone" with no such user
        path = Path(text)
    example = f"mlp-studio-model{suffix}"
    if text.endswith(("/", os.sep)) or path.name in ("", ".", "..") or path.is_dir():
        return f"{text} is a folder: add a file name, e.g. {path / example}"
    if path.suffix.lower() != suffix:
        path = path.with_suffix(suffix)
        if path.is_dir():
            return f"{path} is a folder: choose another file name."
    folder = path.parent
    if not folder.is_dir():
        return f"The folder {folder} does not exist: create it first, or choose one with Browse…"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"MLP Studio may not write in {folder}: choose another folder with Browse…"
    return path


def write_and_check(bundle: export.ModelBundle, path: Path, pixels,
                    script: ScriptWriter | None = None) -> tuple[Path, float | None]:
    """Write `path`, load it back and compare it on `pixels`: (path, max difference), None
    when there is nothing to check (a script, a .keras file without Keras)."""
    suffix = path.suffix.lower()
    if suffix == ".keras":
        from mlp_studio.core.keras_check import export_keras_checked

        return export_keras_checked(bundle, path, pixels)
    if suffix == ".py" and script is not None:
        return script(path), None
    return export.export_verified(bundle, path, pixels)


def runtime(path: Path) -> str:
    """What loaded the file back for the check."""
    if path.suffix == ".keras":
        return f"Keras ({os.environ.get('KERAS_BACKEND', 'torch')} backend)"
    return "onnxruntime" if path.suffix == ".onnx" and has_module("onnxruntime") else "torch"


def has_module(module: str) -> bool:
    return importlib.util.find_spec(module) is not None
