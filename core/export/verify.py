"""Prove an exported file is the model: reload it and compare outputs on real inputs."""

import io
import warnings
from pathlib import Path

import numpy as np
import torch
from mlp_studio.core.bundle import CODE_SUFFIXES, ModelBundle, inference_module
from mlp_studio.core.data import PreparedData
from mlp_studio.core.errors import ExportError
from mlp_studio.core.export.loaders import (
    Predictor,
    described,
    load_predictor,
    torch_run,
)
from mlp_studio.core.export.writers import TORCHSCRIPT_EXTRA, export_file, torchscript_bytes
from mlp_studio.core.outputs import atomic_write, plan_output


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
    """Reload the file at `path` (.onnx, .safetensors, .mlps) and compare it with `bundle` on
    raw pixels [N, D].

    Returns the largest absolute difference between the two sets of probabilities
    (float32 rounding gives ~1e-7; anything above ~1e-5 means the file is not the model).
    """
    return _difference(bundle, path, raw_pixels, lambda: load_predictor(path))


def export_verified(
    bundle: ModelBundle, path: str | Path, raw_pixels: np.ndarray
) -> tuple[Path, float]:
    """Export by suffix, then verify the file (see verify_export): (path, max difference).

    A TorchScript file is never loaded from disk (loading TorchScript runs its code): the bytes
    just written are read back and compared with what was written, then those bytes run.
    """
    path = Path(path)
    if path.suffix.lower() not in CODE_SUFFIXES:
        written = export_file(bundle, path)
        return written, verify_export(bundle, written, raw_pixels)
    plan_output(path, "the export")
    data = torchscript_bytes(bundle)
    atomic_write(path, data)
    try:
        same = path.read_bytes() == data
    except OSError as err:
        raise ExportError(f"Cannot verify {path}: {err.strerror or err}.") from None
    if not same:
        raise ExportError(f"The file {path} does not hold what was written: export it again.")
    return path, _difference(bundle, path, raw_pixels, lambda: _own_torchscript(path, data))


def _own_torchscript(path: Path, data: bytes) -> Predictor:
    """A Predictor from TorchScript bytes this process has just made (never a user's file)."""
    extra = {TORCHSCRIPT_EXTRA: ""}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = torch.jit.load(io.BytesIO(data), map_location="cpu", _extra_files=extra)
    spec, class_names = described(path, extra[TORCHSCRIPT_EXTRA])
    return Predictor(
        class_names, f"{path} (TorchScript, torch)", spec.input_size, torch_run(module.eval())
    )


def _difference(bundle: ModelBundle, path: str | Path, raw_pixels: np.ndarray, open_file) -> float:
    pixels = np.asarray(raw_pixels, dtype=np.float32)
    if len(pixels) == 0:
        raise ExportError(f"Cannot verify {path}: there are no images to compare on.")
    pixels = np.ascontiguousarray(pixels.reshape(len(pixels), -1))
    expected = torch_run(inference_module(bundle))(pixels)
    found = open_file().predict(pixels)
    if found.shape != expected.shape:
        raise ExportError(
            f"The file {path} gives outputs of shape {list(found.shape)} where the model gives "
            f"{list(expected.shape)}: export it again."
        )
    return float(np.abs(found.astype(np.float64) - expected).max())
