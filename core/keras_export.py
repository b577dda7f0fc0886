"""Export a model as a Keras 3 `.keras` file, written without Keras or TensorFlow.

A `.keras` file is a zip of `config.json` (the model's layers as Keras serializes them),
`metadata.json` and `model.weights.h5` (each layer's variables under
`layers/<name>/vars/<i>`). `keras.saving.load_model` rebuilds it on any backend. Like the other
exports the file takes raw inputs (Keras' own Rescaling/Normalization layers hold the
normalization) and returns probabilities (a regression: its values).

Each studio activation becomes a Keras one: leaky ReLU a LeakyReLU layer, maxout a Dense of
units * pieces, a Reshape to [units, pieces] and a GlobalMaxPooling1D over the pieces; a custom
formula only when it is one of the Keras activations the importer writes as a formula
(core.foreign_layers.FORMULAS), otherwise the export is refused naming the layer: a Lambda
layer would be code, which Keras itself refuses to load safely.
"""

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from mlp_studio.core.errors import ExportError
from mlp_studio.core.export import ModelBundle, bundle_to_metadata, inference_module
from mlp_studio.core.foreign_layers import FORMULAS, TORCH_BN_EPS
from mlp_studio.core.losses import LOSSES, canonical_loss
from mlp_studio.core.outputs import atomic_write

KERAS_FORMAT_VERSION = "3.0.0"  # the .keras layout this writer follows (metadata.json)
METADATA_KEY = "mlp_studio"  # the studio's description, inside metadata.json
BATCH_COUNTS_KEY = "mlp_studio_batch_counts"
_NAMES_OF_FORMULAS = {text: name for name, text in FORMULAS.items()}
_KERAS_NAMES = {"identity": "linear", "sigmoid": "sigmoid", "tanh": "tanh", "relu": "relu",
                "elu": "elu", "gelu": "gelu", "silu": "silu", "softplus": "softplus"}


@dataclass
class KerasLayer:
    """One Keras layer: its class, constructor arguments and variables (Keras' order)."""

    class_name: str
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    weights: list[np.ndarray] = field(default_factory=list)


def keras_activation(bundle: ModelBundle, index: int) -> str | None:
    """The Keras name of hidden layer `index`'s activation (None for leaky ReLU and maxout,
    which are layers of their own); ExportError naming the layer for other custom formulas."""
    act = bundle.spec.hidden[index].activation
    if act.name in _KERAS_NAMES:
        return _KERAS_NAMES[act.name]
    if act.name == "custom":
        name = _NAMES_OF_FORMULAS.get(act.formula.strip())
        if name is None:
            raise ExportError(
                f"Cannot export to Keras: hidden layer {index + 1} uses the custom formula "
                f"f(x) = {act.formula.strip()}, which Keras has no activation for (a Lambda "
                "layer would be code that Keras refuses to load safely). Give that layer a "
                "built-in activation, or export to ONNX or safetensors instead."
            )
        return name
    return None


def network_layers(bundle: ModelBundle, with_weights: bool = True) -> list[KerasLayer]:
    """The hidden and output layers (no input normalization), with the head."""
    state = bundle.state_dict
    layers: list[KerasLayer] = []
    index = 0  # position in the studio's nn.Sequential (net.<index>.weight)

    def weights(index: int, *keys: str) -> list[np.ndarray]:
        if not with_weights:
            return []
        arrays = [state[f"net.{index}.{k}"].detach().cpu().numpy() for k in keys]
        if keys[0] == "weight" and len(keys) == 2:  # a Linear: Keras' kernel is [in, out]
            arrays[0] = arrays[0].T
        return [np.ascontiguousarray(a, np.float32) for a in arrays]

    for number, layer in enumerate(bundle.spec.hidden, start=1):
        name = keras_activation(bundle, number - 1)
        act = layer.activation
        inline = name if not layer.batch_norm else None
        layers.append(KerasLayer("Dense", f"hidden_{number}", {
            "units": layer.width, "activation": inline or "linear"},
            weights(index, "weight", "bias")))
        index += 1
        if layer.batch_norm:
            layers.append(KerasLayer(
                "BatchNormalization", f"hidden_{number}_batch_norm",
                {"axis": -1, "momentum": 0.9, "epsilon": TORCH_BN_EPS},
                weights(index, "weight", "bias", "running_mean", "running_var")))
            index += 1
            if name is not None:
                layers.append(KerasLayer("Activation", f"hidden_{number}_{name}",
                                         {"activation": name}))
        if act.name == "leaky_relu":
            layers.append(KerasLayer("LeakyReLU", f"hidden_{number}_leaky_relu",
                                     {"negative_slope": float(act.slope)}))
        elif act.name == "maxout":
            layers.append(KerasLayer("Reshape", f"hidden_{number}_maxout_pieces",
                                     {"target_shape": [layer.units, act.pieces]}))
            layers.append(KerasLayer("GlobalMaxPooling1D", f"hidden_{number}_maxout",
                                     {"data_format": "channels_first", "keepdims": False}))
        index += 1  # the activation module
        if layer.dropout > 0:
            layers.append(KerasLayer("Dropout", f"hidden_{number}_dropout",
                                     {"rate": float(layer.dropout)}))
            index += 1
    out_weights = weights(index, "weight", "bias")
    output = LOSSES[canonical_loss(bundle.loss)].output
    if bundle.task == "regression":
        layers.append(KerasLayer("Dense", "values", {"units": bundle.spec.output_size,
                                                      "activation": "linear"}, out_weights))
    elif output == "sigmoid":
        # The studio normalizes independent sigmoids to sum 1: softmax(log sigmoid(z)) does
        # exactly that with Keras' own activations.
        layers.append(KerasLayer("Dense", "output", {"units": bundle.spec.output_size,
                                                      "activation": "linear"}, out_weights))
        layers.append(KerasLayer("Activation", "output_log_sigmoid",
                                 {"activation": "log_sigmoid"}))
        layers.append(KerasLayer("Softmax", "probabilities", {"axis": -1}))
    else:  # softmax losses, and hinge scores, which the studio also shows through a softmax
        layers.append(KerasLayer("Dense", "probabilities", {"units": bundle.spec.output_size,
                                                             "activation": "softmax"},
                                 out_weights))
    return layers


def normalization_layers(bundle: ModelBundle) -> list[KerasLayer]:
    """Rescaling for a constant mean/std (unit, symmetric, standardize), Normalization for
    per-pixel statistics, nothing for "none"."""
    mean = np.asarray(bundle.normalization.mean, np.float64)
    std = np.asarray(bundle.normalization.std, np.float64)
    if np.ptp(mean) == 0 and np.ptp(std) == 0:
        if mean[0] == 0 and std[0] == 1:
            return []
        return [KerasLayer("Rescaling", "rescaling", {
            "scale": float(1 / std[0]), "offset": float(-mean[0] / std[0])})]
    return [KerasLayer("Normalization", "normalization", {
        "axis": -1, "mean": mean.tolist(), "variance": (std**2).tolist()})]


def _layer_config(layer: KerasLayer, input_shape: list) -> dict[str, Any]:
    config = {"name": layer.name, "trainable": True, "dtype": "float32", **layer.arguments}
    return {"module": "keras.layers", "class_name": layer.class_name, "config": config,
            "registered_name": None, "build_config": {"input_shape": input_shape}}


def _output_shape(layer: KerasLayer, shape: list) -> list:
    if layer.class_name == "Dense":
        return [None, layer.arguments["units"]]
    if layer.class_name == "Reshape":
        return [None, *layer.arguments["target_shape"]]
    if layer.class_name == "GlobalMaxPooling1D":
        return [None, shape[1]]
    return shape


def keras_config(bundle: ModelBundle, layers: list[KerasLayer]) -> dict[str, Any]:
    """config.json: a Sequential of an InputLayer and `layers`, each with its build shape."""
    shape: list = [None, bundle.spec.input_size]
    entries = [{"module": "keras.layers", "class_name": "InputLayer", "config": {
        "batch_shape": list(shape), "dtype": "float32", "sparse": False, "name": "pixels"
        if bundle.takes_images else "inputs"}, "registered_name": None}]
    for layer in layers:
        entries.append(_layer_config(layer, list(shape)))
        shape = _output_shape(layer, shape)
    return {"module": "keras", "class_name": "Sequential", "config": {
        "name": "mlp_studio", "trainable": True, "dtype": "float32", "layers": entries,
        "build_input_shape": [None, bundle.spec.input_size]}, "registered_name": None,
        "build_config": {"input_shape": [None, bundle.spec.input_size]}}


def storage_names(class_names: list[str]) -> list[str]:
    """Where Keras keeps each layer's variables in model.weights.h5: not the layer's name but
    its class in snake_case, numbered per class ("dense", "dense_1", "batch_normalization")."""
    used: dict[str, int] = {}
    out = []
    for class_name in class_names:
        name = re.sub("([a-z])([A-Z])", r"\1_\2", re.sub("(.)([A-Z][a-z]+)", r"\1_\2",
                                                          class_name)).lower()
        used[name] = used.get(name, -1) + 1
        out.append(name if used[name] == 0 else f"{name}_{used[name]}")
    return out


def _weights_h5(layers: list[KerasLayer]) -> bytes:
    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        group = f.create_group("layers")
        paths = storage_names([layer.class_name for layer in layers])
        for layer, path in zip(layers, paths, strict=True):
            variables = group.create_group(path).create_group("vars")
            variables.attrs["name"] = layer.name
            for i, array in enumerate(layer.weights):
                variables.create_dataset(str(i), data=np.ascontiguousarray(array, np.float32))
        f.create_group("vars").attrs["name"] = "mlp_studio"
    return buffer.getvalue()


def keras_bytes(bundle: ModelBundle) -> bytes:
    """The .keras file's bytes (ExportError if a layer has no Keras equivalent)."""
    inference_module(bundle)  # checks the weights against the spec first
    layers = normalization_layers(bundle) + network_layers(bundle)
    metadata = {
        "keras_version": KERAS_FORMAT_VERSION,
        "date_saved": datetime.now(timezone.utc).strftime("%Y-%m-%d@%H:%M:%S"),
        METADATA_KEY: bundle_to_metadata(bundle),
        # Batch norm's batch counters: not weights and not Keras', kept so that a studio model
        # comes back with exactly the state it left with.
        BATCH_COUNTS_KEY: {k: int(v) for k, v in bundle.state_dict.items()
                           if k.endswith("num_batches_tracked")},
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("metadata.json", json.dumps(metadata))
        zf.writestr("config.json", json.dumps(keras_config(bundle, layers)))
        # Keras stores the weights uncompressed (it may read them straight from the archive).
        zf.writestr("model.weights.h5", _weights_h5(layers), compress_type=zipfile.ZIP_STORED)
    return buffer.getvalue()


def export_keras(bundle: ModelBundle, path: str | Path) -> Path:
    """Write a `.keras` file that `keras.saving.load_model` loads on any backend."""
    path = Path(path)
    atomic_write(path, keras_bytes(bundle))
    return path
