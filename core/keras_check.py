"""Check a `.keras` export with Keras itself (an optional dependency), and show how to use it.

Keras runs on any backend; MLP Studio has torch, so KERAS_BACKEND defaults to "torch" here
(a user's own setting is kept). The file checked is one MLP Studio has just written.
"""

import importlib.util
import os
from pathlib import Path

import numpy as np
from mlp_studio.core.errors import ExportError
from mlp_studio.core.export import ModelBundle, inference_module

INSTALL_HINT = "pip install 'mlp-studio[keras]' (or pip install keras)"


def keras_installed() -> bool:
    return importlib.util.find_spec("keras") is not None


def keras_outputs(path: str | Path, raw: np.ndarray) -> np.ndarray:
    """What keras.saving.load_model(path) predicts for raw inputs [N, D]."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        import keras
    except ImportError as err:
        raise ExportError(
            f"Cannot check {Path(path).name} with Keras: it is not installed or has no "
            f"backend ({err}). Install it with {INSTALL_HINT}."
        ) from None
    try:
        model = keras.saving.load_model(str(path))  # safe_mode: never runs code from a file
        return np.asarray(model.predict(raw, batch_size=1000, verbose=0), np.float32)
    except Exception as err:  # Keras raises ValueError, TypeError, its own errors...
        raise ExportError(f"Keras cannot load {Path(path).name}: {err}") from None


def verify_with_keras(bundle: ModelBundle, path: str | Path, raw: np.ndarray) -> float:
    """The largest difference between Keras' outputs for the file and the model's."""
    import torch

    x = np.ascontiguousarray(np.asarray(raw, np.float32).reshape(len(raw), -1))
    with torch.inference_mode():
        expected = inference_module(bundle)(torch.from_numpy(x)).numpy()
    found = keras_outputs(path, x)
    if found.shape != expected.shape:
        raise ExportError(
            f"Keras gives outputs of shape {list(found.shape)} for {Path(path).name} where "
            f"the model gives {list(expected.shape)}: export it again."
        )
    return float(np.abs(found.astype(np.float64) - expected).max())


def keras_snippet(path: str | Path, bundle: ModelBundle | None = None) -> str:
    """Notebook code that loads the .keras file with Keras and predicts."""
    regression = bundle is not None and bundle.task == "regression"
    if bundle is None or bundle.takes_images:
        prepare = ("# pixels: float32 [N, 784], raw 0-255, 28x28 row-major, white ink on black\n"
                   "pixels = np.zeros((1, 784), dtype=np.float32)\n")
        name = "pixels"
    else:
        n = bundle.spec.input_size
        prepare = (f"# inputs: float32 [N, {n}] ({bundle.feature_list()}), raw values\n"
                   f"inputs = np.zeros((1, {n}), dtype=np.float32)\n")
        name = "inputs"
    result = "values" if regression else "probabilities"
    show = ("print(values[:, 0])  # one predicted value per row\n" if regression else
            "print(probabilities.argmax(1), probabilities.max(1))  # class index, confidence\n")
    return (
        "import os\n\n"
        'os.environ.setdefault("KERAS_BACKEND", "torch")  # or "jax", "tensorflow"\n\n'
        "import keras\nimport numpy as np\n\n"
        f"model = keras.saving.load_model({str(path)!r})\n"
        "model.summary()\n"
        + prepare
        + f"{result} = model.predict({name})  # normalization and softmax are built in\n"
        + show
    )


def export_keras_checked(bundle: ModelBundle, path: str | Path,
                         raw: np.ndarray) -> tuple[Path, float | None]:
    """Write the .keras file, then compare Keras' outputs with the model's on `raw`: (path,
    max difference), or (path, None) when Keras is not installed to check it."""
    from mlp_studio.core.keras_export import export_keras

    written = export_keras(bundle, path)
    if not keras_installed():
        return written, None
    return written, verify_with_keras(bundle, written, raw)
