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

Loading never runs code from a file: safetensors, ONNX and sessions hold only data. TorchScript
is code by nature (a crafted file can write files while it loads), so MLP Studio never loads a
TorchScript file: `load_predictor` refuses .pt, and the export dialog verifies a TorchScript
export from the bytes it has just written (export_verified).

Modules: core.bundle (the model as data), writers, loaders, verify, snippets.
"""

from mlp_studio.core.bundle import (
    CODE_SUFFIXES,
    FORMAT,
    FORMAT_VERSION,
    IMAGE_INPUTS,
    INPUT_NAME,
    METADATA_KEY,
    OUTPUT_NAME,
    ModelBundle,
    app_version,
    bundle_from_metadata,
    bundle_to_metadata,
    check_weights,
    inference_module,
)
from mlp_studio.core.export.loaders import (
    Predictor,
    load_bundle,
    load_predictor,
    refuse_code_file,
)
from mlp_studio.core.export.snippets import usage_snippet
from mlp_studio.core.export.verify import export_verified, verification_pixels, verify_export
from mlp_studio.core.export.writers import (
    ONNX_OPSET,
    SUFFIXES,
    TORCHSCRIPT_EXTRA,
    export_file,
    export_onnx,
    export_safetensors,
    export_torchscript,
    onnx_bytes,
    plan_export,
    sidecar_path,
    torchscript_bytes,
)

__all__ = [
    "CODE_SUFFIXES", "FORMAT", "FORMAT_VERSION", "IMAGE_INPUTS", "INPUT_NAME", "METADATA_KEY",
    "ONNX_OPSET", "OUTPUT_NAME", "SUFFIXES", "TORCHSCRIPT_EXTRA", "ModelBundle", "Predictor",
    "app_version", "bundle_from_metadata", "bundle_to_metadata", "check_weights",
    "export_file", "export_onnx", "export_safetensors", "export_torchscript", "export_verified",
    "inference_module", "load_bundle", "load_predictor", "onnx_bytes", "plan_export",
    "refuse_code_file", "sidecar_path", "torchscript_bytes", "usage_snippet",
    "verification_pixels", "verify_export",
]  # fmt: skip
