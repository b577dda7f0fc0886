"""Import Keras models: `.keras` (Keras 3) and legacy `.h5` files of Sequential MLPs.

Both are read as data only: the zip, the JSON model config and the HDF5 weights (h5py). No
Keras is needed and nothing in the file is ever run: a Lambda or custom layer is refused by
name, like any layer that is not part of an MLP.
"""

import io
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from mlp_studio.core.errors import ExportError
from mlp_studio.core.export import ModelBundle, bundle_from_metadata
from mlp_studio.core.foreign_layers import (
    Act,
    BatchNorm,
    Dense,
    Drop,
    Hints,
    Layer,
    Scale,
    assemble,
    existing_file,
)
from mlp_studio.core.keras_export import BATCH_COUNTS_KEY, METADATA_KEY, storage_names
from mlp_studio.core.reading import loads_json

ALLOWED = ("InputLayer", "Flatten", "Rescaling", "Normalization", "Dense", "Dropout",
           "BatchNormalization", "Activation", "Softmax", "ReLU", "LeakyReLU", "ELU",
           "Reshape", "GlobalMaxPooling1D")
MAX_MEMBER = 1 << 30  # bytes: more than any network the studio can build (100M parameters)
KERAS_EPSILON = 1e-7  # keras.backend.epsilon(): Normalization divides by max(sqrt(var), it)
# Keras loss names (functions and classes, snake_case) -> studio losses
_LOSSES = {
    "sparse_categorical_crossentropy": "sparse_categorical_cross_entropy",
    "categorical_crossentropy": "categorical_cross_entropy",
    "binary_crossentropy": "binary_cross_entropy",
    "mean_squared_error": "mse", "mse": "mse",
    "mean_absolute_error": "mae", "mae": "mae",
    "mean_squared_logarithmic_error": "msle", "msle": "msle",
    "hinge": "hinge", "squared_hinge": "squared_hinge",
    "kl_divergence": "kl_divergence", "kld": "kl_divergence",
    "kullback_leibler_divergence": "kl_divergence",
}


def import_keras(path: str | Path, input_range: str | None = None) -> ModelBundle:
    """A `.keras` or legacy `.h5` file as a studio model (ExportError naming what is wrong).

    `input_range` ("raw" or "unit") answers what the file may not say: whether it takes raw
    pixels 0-255 or pixels scaled to 0-1 (InputRangeNeeded when it is needed and missing).
    """
    path = existing_file(path)
    source = str(path)
    try:
        if path.suffix.lower() == ".h5":
            layers, hints, description = _read_h5(path)
            counts = {}
        else:
            layers, hints, description, counts = _read_keras(path)
    except ExportError as err:
        raise ExportError(f"Cannot open {source}: {err}.") from None
    if description is not None:
        # MLP Studio's own export: the description has the exact spec, normalization and
        # class names; the weights still come from the layers, checked against it.
        bundle = assemble(layers, hints, "raw", source)
        try:
            described = bundle_from_metadata(description, bundle.state_dict, source)
        except ExportError:
            pass  # edited after export: the layers themselves are the truth
        else:
            _restore_batch_counts(described, counts)
            return described
    return assemble(layers, hints, input_range, source)


# ---------------------------------------------------------------- .keras


def _restore_batch_counts(bundle: ModelBundle, counts: object) -> None:
    """Put back the batch norm counters the studio's export kept beside Keras' metadata."""
    if not isinstance(counts, dict):
        return
    for key, value in counts.items():
        current = bundle.state_dict.get(key)
        if (current is not None and key.endswith("num_batches_tracked")
                and isinstance(value, int) and not isinstance(value, bool) and value >= 0):
            bundle.state_dict[key] = torch.tensor(value, dtype=current.dtype)


def _read_keras(path: Path) -> tuple[list[Layer], Hints, dict | None, object]:
    try:
        with zipfile.ZipFile(path) as zf:
            config = _json(_member(zf, "config.json"), "config.json")
            metadata = None
            if "metadata.json" in zf.namelist():
                metadata = _json(_member(zf, "metadata.json"), "metadata.json")
            weights = _member(zf, "model.weights.h5")
    except zipfile.BadZipFile:
        raise ExportError("it is not a .keras file (not a zip archive)") from None
    except KeyError as err:
        raise ExportError(f"it is not a complete .keras file ({err.args[0]})") from None
    layers = _sequential_layers(config)
    hints = _hints((config.get("compile_config") or {}).get("loss"))
    with _h5(weights) as f:
        stored = [layer for layer in layers if layer["class_name"] != "InputLayer"]
        paths = storage_names([layer["class_name"] for layer in stored])
        values = {id(layer): _keras3_vars(f, p) for layer, p in zip(stored, paths, strict=True)}
        records = _records(layers, lambda layer: values.get(id(layer), []))
    if not isinstance(metadata, dict):
        return records, hints, None, None
    return records, hints, metadata.get(METADATA_KEY), metadata.get(BATCH_COUNTS_KEY)


def _member(zf: zipfile.ZipFile, name: str) -> bytes:
    info = zf.getinfo(name)
    if info.file_size > MAX_MEMBER:
        raise ExportError(f"its {name} is {info.file_size:,} bytes, too large for an MLP")
    return zf.read(name)


def _keras3_vars(f, path: str) -> list[np.ndarray]:
    for root in ("layers", "_layer_checkpoint_dependencies"):  # the latter: Keras 2.13 files
        group = f.get(f"{root}/{path}/vars")
        if group is not None:
            keys = sorted(group.keys(), key=lambda k: int(k) if k.isdigit() else 1 << 30)
            return [_array(group[k]) for k in keys]
    return []


# ---------------------------------------------------------------- legacy .h5


def _read_h5(path: Path) -> tuple[list[Layer], Hints, None]:
    with _h5(path) as f:
        text = f.attrs.get("model_config")
        if text is None:
            raise ExportError(
                "it has no model config (a weights-only .h5 file): save the whole model with "
                "model.save(...)"
            )
        config = _json(text, "model_config")
        training = f.attrs.get("training_config")
        loss = _json(training, "training_config").get("loss") if training is not None else None
        weights = f.get("model_weights", f)
        layers = _sequential_layers(config)

        def values(layer: dict) -> list[np.ndarray]:
            name = layer["config"].get("name")
            group = weights.get(name) if isinstance(name, str) else None
            if group is None:
                return []
            names = [n.decode() if isinstance(n, bytes) else str(n)
                     for n in group.attrs.get("weight_names", [])]
            return [_array(group[n]) for n in names]

        return _records(layers, values), _hints(loss), None


# ---------------------------------------------------------------- shared parsing


class _h5:
    """h5py.File over a path or bytes, with its errors as ExportError."""

    def __init__(self, source: Path | bytes) -> None:
        self.source = io.BytesIO(source) if isinstance(source, bytes) else source

    def __enter__(self):
        import h5py

        try:
            self.file = h5py.File(self.source, "r")
        except OSError as err:
            raise ExportError(f"its weights are not a valid HDF5 file ({err})") from None
        return self.file

    def __exit__(self, *exc) -> None:
        self.file.close()


def _array(dataset) -> np.ndarray:
    import h5py

    if not isinstance(dataset, h5py.Dataset) or dataset.dtype.kind not in "fiu":
        raise ExportError(f"its weight {dataset.name} is not an array of numbers")
    if dataset.size > MAX_MEMBER // 4:
        raise ExportError(f"its weight {dataset.name} is too large for an MLP")
    return np.asarray(dataset[()], np.float64)


def _json(text: Any, what: str) -> dict:
    try:
        value = loads_json(text)
    except (TypeError, ValueError, UnicodeDecodeError):
        raise ExportError(f"its {what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise ExportError(f"its {what} is not a JSON object")
    return value


def _sequential_layers(config: dict) -> list[dict]:
    kind = config.get("class_name")
    if kind != "Sequential":
        raise ExportError(
            f"it is a {kind or 'model of unknown kind'}, not a Sequential model: MLP Studio "
            "imports Sequential models of Dense layers (an MLP)"
        )
    inner = config.get("config")
    layers = inner.get("layers") if isinstance(inner, dict) else inner  # Keras 1/2: a list
    if not isinstance(layers, list) or not all(
            isinstance(x, dict) and isinstance(x.get("config"), dict) for x in layers):
        raise ExportError("its model config has no list of layers")
    return layers


def _hints(loss: Any) -> Hints:
    hints = Hints()
    if isinstance(loss, dict):  # a serialized loss object: {"class_name", "config"}
        config = loss.get("config") if isinstance(loss.get("config"), dict) else {}
        hints.from_logits = bool(config.get("from_logits", False))
        loss = loss.get("class_name")
    if isinstance(loss, str):
        snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in loss).lstrip("_")
        hints.loss = _LOSSES.get(loss) or _LOSSES.get(snake)
    return hints


def _activation_name(value: Any, where: str) -> str:
    if value is None:
        return "linear"
    if isinstance(value, str):
        return value
    if (isinstance(value, dict) and str(value.get("module", "")).startswith("keras")
            and isinstance(value.get("config"), str)):
        return value["config"]  # Keras 3's serialized built-in function
    raise ExportError(
        f"the layer '{where}' uses a custom activation: MLP Studio never runs code from a "
        "file, so it imports only Keras' built-in activations"
    )


def _refuse(layer: dict, name: str) -> ExportError:
    kind = layer.get("class_name")
    why = {"Lambda": " (a Lambda layer is Python code, which MLP Studio never runs)"}.get(
        kind, " (a custom layer)" if layer.get("registered_name") not in (None, kind) else "")
    return ExportError(
        f"its layer '{name}' ({kind}){why} is not part of an MLP: MLP Studio imports "
        "Sequential models of Input, Flatten, Rescaling, Normalization, Dense, Dropout, "
        "BatchNormalization, Activation and Softmax layers"
    )


def _floats(value: Any, what: str) -> np.ndarray:
    try:
        array = np.asarray(value, np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ExportError(f"its {what} is not a list of numbers") from None
    return array


def _records(layers: list[dict], values) -> list[Layer]:
    """The config's layers as records; `values(layer)` gives a layer's stored variables."""
    out: list[Layer] = []
    pending_pieces: tuple[int, str] | None = None  # a Reshape([units, pieces]) before maxout
    for layer in layers:
        kind, config = layer.get("class_name"), layer["config"]
        name = str(config.get("name", kind))
        if kind not in ALLOWED or (layer.get("registered_name") not in (None, kind)) or (
                str(layer.get("module", "keras")).split(".")[0] not in ("keras", "tf_keras")):
            raise _refuse(layer, name)
        if pending_pieces is not None and kind != "GlobalMaxPooling1D":
            raise ExportError(f"its layer '{pending_pieces[1]}' reshapes inside the network")
        weights = values(layer)
        if kind in ("InputLayer", "Flatten"):
            continue
        if kind == "Reshape":
            shape = config.get("target_shape")
            if isinstance(shape, list) and len(shape) == 1:
                continue  # a flatten
            if not (isinstance(shape, list) and len(shape) == 2):
                raise ExportError(f"its layer '{name}' reshapes to {shape}, not part of an MLP")
            pending_pieces = (int(shape[1]), name)
        elif kind == "GlobalMaxPooling1D":
            if pending_pieces is None or config.get("data_format") != "channels_first":
                raise ExportError(f"its layer '{name}' pools over something that is not maxout")
            out.append(Act(f"maxout:{pending_pieces[0]}", name))
            pending_pieces = None
        elif kind == "Dense":
            out.extend(_dense(config, weights, name))
        elif kind == "Rescaling":
            scale = _floats(config.get("scale", 1.0), f"layer '{name}' scale")
            offset = _floats(config.get("offset", 0.0), f"layer '{name}' offset")
            if (scale == 0).any():
                raise ExportError(f"its layer '{name}' multiplies by 0")
            out.append(Scale(-offset / scale, 1 / scale, name))  # x s + o = (x + o/s) / (1/s)
        elif kind == "Normalization":
            out.append(_normalization(config, weights, name))
        elif kind == "BatchNormalization":
            out.append(_batch_norm(config, weights, name))
        elif kind == "Dropout":
            out.append(Drop(float(config.get("rate", 0.0)), name))
        elif kind == "Softmax":
            out.append(Act("softmax", name))
        elif kind == "Activation":
            out.append(Act(_activation_name(config.get("activation"), name), name))
        elif kind == "LeakyReLU":
            slope = config.get("negative_slope", config.get("alpha", 0.3))
            out.append(Act("leaky_relu", name, float(slope)))
        elif kind == "ReLU":
            if config.get("max_value") is not None or config.get("threshold", 0) != 0:
                raise ExportError(f"its layer '{name}' is a capped or shifted ReLU")
            slope = float(config.get("negative_slope", 0) or 0)
            out.append(Act("leaky_relu", name, slope) if slope else Act("relu", name))
        elif kind == "ELU":
            if float(config.get("alpha", 1.0)) != 1.0:
                raise ExportError(f"its layer '{name}' is an ELU with alpha other than 1")
            out.append(Act("elu", name))
    if pending_pieces is not None:
        raise ExportError(f"its layer '{pending_pieces[1]}' reshapes inside the network")
    return out


def _dense(config: dict, weights: list[np.ndarray], name: str) -> list[Layer]:
    """The Dense layer, and its built-in activation as a layer of its own."""
    units = config.get("units")
    use_bias = config.get("use_bias", True)
    if len(weights) != (2 if use_bias else 1) or weights[0].ndim != 2:
        raise ExportError(f"its layer '{name}' has no weights stored (or the wrong number)")
    kernel = weights[0]
    if kernel.shape[1] != units:
        raise ExportError(f"its layer '{name}' has {kernel.shape[1]} outputs, not {units}")
    bias = weights[1] if use_bias else np.zeros(kernel.shape[1])
    activation = _activation_name(config.get("activation"), name)
    dense = Dense(kernel.T, bias, name)
    return [dense] if activation == "linear" else [dense, Act(activation, name)]


def _normalization(config: dict, weights: list[np.ndarray], name: str) -> Scale:
    if config.get("invert"):
        raise ExportError(f"its layer '{name}' undoes a normalization (invert=True)")
    mean, variance = config.get("mean"), config.get("variance")
    if mean is None or variance is None:
        if len(weights) < 2:
            raise ExportError(f"its layer '{name}' has no mean and variance stored")
        mean, variance = weights[0], weights[1]
    mean = _floats(mean, f"layer '{name}' mean")
    variance = _floats(variance, f"layer '{name}' variance")
    if mean.shape != variance.shape and variance.size != 1 and mean.size != 1:
        raise ExportError(f"its layer '{name}' has a mean and variance of different sizes")
    mean, std = np.broadcast_arrays(mean, np.maximum(np.sqrt(np.abs(variance)), KERAS_EPSILON))
    return Scale(np.array(mean), np.array(std), name)


def _batch_norm(config: dict, weights: list[np.ndarray], name: str) -> BatchNorm:
    axis = config.get("axis", -1)
    if axis not in (-1, 1, [-1], [1]):
        raise ExportError(f"its layer '{name}' normalizes over axis {axis}")
    scale, center = config.get("scale", True), config.get("center", True)
    expected = 2 + int(bool(scale)) + int(bool(center))
    if len(weights) != expected:
        raise ExportError(f"its layer '{name}' has {len(weights)} arrays stored, not {expected}")
    rest = list(weights)
    gamma = rest.pop(0) if scale else np.ones_like(weights[-1])
    beta = rest.pop(0) if center else np.zeros_like(weights[-1])
    return BatchNorm(gamma, beta, rest[0], rest[1], float(config.get("epsilon", 1e-3)), name)
