"""A trained model as data: its description (network spec, normalization, loss, class names,
task) and weights, the JSON form of that description stored in every exported file, and the
module that turns raw inputs into probabilities.

core.export writes and reads files of it; core.session keeps it inside a session.
"""

import json
import math
import os
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import torch
from mlp_studio.core.data import Normalization
from mlp_studio.core.errors import ExportError, SpecError
from mlp_studio.core.losses import canonical_loss, probabilities
from mlp_studio.core.model import NetworkSpec, build_model
from mlp_studio.core.reading import loads_json
from mlp_studio.core.table_schema import TableSchema
from mlp_studio.core.target_scaling import MEAN_KEY, STD_KEY, TargetScaling, fold, unfold
from torch import Tensor, nn

FORMAT = "mlp-studio-model"
FORMAT_VERSION = 1
METADATA_KEY = "mlp_studio"  # key in the safetensors header / ONNX metadata_props
# Tensor names: the same in every export (a playground model's input is features, a
# regression's output is values), so that code written for one export runs on another.
INPUT_NAME, OUTPUT_NAME = "pixels", "probabilities"
IMAGE_INPUTS = 28 * 28  # a model with this many inputs takes MNIST-style images
# TorchScript files and torch checkpoints: they hold code (or pickles) that runs while they
# load, so MLP Studio never opens them (a crafted one can write files on load).
CODE_SUFFIXES = (".pt", ".pth", ".torchscript", ".ptl")


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
    # A playground or table model's input columns in order ("x1", "x2", "x1*x2"..., or a
    # table's "age", "city=Paris"...); empty when unknown or when the inputs are pixels.
    feature_names: list[str] = field(default_factory=list)
    # A table model: how a CSV row becomes its inputs (column order, one-hot categories,
    # missing-value fills) and what the target was; None for any other model.
    table: TableSchema | None = None
    # A model of an image folder: (H, W) or (H, W, 3) of the pictures it takes, row-major,
    # channels last; () for anything else (MNIST-style 28x28 digits included).
    image_shape: tuple[int, ...] = ()
    # A regression trained on scaled targets: the scaling folded into `state_dict`'s output
    # layer, so the weights give the target's units to any reader (core.target_scaling).
    target_scaling: TargetScaling | None = None

    def __post_init__(self) -> None:
        state, folded = fold(self.state_dict)
        if folded is not None:
            self.state_dict, self.target_scaling = state, folded

    def training_state(self) -> dict[str, Tensor]:
        """The weights to train further: the scaling unfolded into the model's buffers, so a
        continued run learns in the units it learned in."""
        return unfold(self.state_dict, self.target_scaling)

    @property
    def takes_images(self) -> bool:
        """True when the inputs are a 28x28 image's pixels (not 2-D playground features)."""
        return self.spec.input_size == IMAGE_INPUTS and not self.feature_names

    def input_description(self) -> str:
        """What the file takes, for people: "raw pixels ..." or "raw input features ..."."""
        if self.image_shape:
            h, w = self.image_shape[:2]
            kind = "RGB, 3 values per pixel" if len(self.image_shape) == 3 else "grayscale"
            return (f"raw pixels 0-255 of {h}x{w} pictures ({kind}), row-major, channels last: "
                    "each picture cropped to a centred square and resized, as in training")
        if self.takes_images:
            return "raw pixels 0-255, 28x28 row-major, white ink on black, MNIST-style"
        if self.table is not None:
            return (f"the numeric feature vector of a table row ({self.feature_list()}): "
                    "numbers in the units of the training file, 1/0 per category "
                    "(one-hot); 'table' says how a CSV row becomes it: "
                    f"{self.table.describe()}")
        return f"raw input features ({self.feature_list()}), in the units of the training data"

    def feature_list(self) -> str:
        """The features, "x1, x2", or "3 values per row" when their names are not known."""
        if self.feature_names:
            return ", ".join(self.feature_names)
        n = self.spec.input_size
        return f"{n} value{'s' if n != 1 else ''} per row"

    def output_description(self) -> str:
        if self.task == "regression":
            return ("one predicted value per row, in the target's units (the network's output, "
                    "not a probability)")
        return "class probabilities, each row sums to 1, in class_names order"


# ---------------------------------------------------------------- metadata


def bundle_of(model: nn.Module, normalization: Normalization | None, loss: str,
              class_names: list[str], data_task: str | None,
              feature_names: list[str]) -> ModelBundle | None:
    """A trained model as a bundle (its weights copied now), or None when it cannot run on
    raw inputs: no normalization known for its inputs. `data_task` is the task of the data it
    trained on, if that data fits it: a regression (a Playground surface) exports values."""
    spec = model.spec
    if normalization is None or normalization.size != spec.input_size:
        return None
    weights = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return ModelBundle(spec, normalization, loss, list(class_names), weights,
                       data_task or "classification", list(feature_names))


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
    if bundle.table is not None:
        meta["table"] = bundle.table.to_dict()
    if bundle.image_shape:
        meta["input"]["image_shape"] = list(bundle.image_shape)
    if bundle.target_scaling is not None:  # already folded into the weights: for training on
        meta["target_scaling"] = bundle.target_scaling.to_dict()
    return meta


def bundle_from_metadata(
    meta: object, state_dict: dict[str, Tensor], source: str = "the model"
) -> ModelBundle:
    """Rebuild a bundle from its description and weights; ExportError saying what is wrong."""
    try:
        spec, normalization, loss, class_names, task = parse_metadata(meta)
        check_tensors(layout(build_model(spec).state_dict()), layout(state_dict))
        check_finite(state_dict)
        table = table_of(meta, spec)
    except ExportError as err:
        raise ExportError(f"Cannot open {source}: {err}.") from None
    features = feature_names_of(meta, spec)
    return ModelBundle(spec, normalization, loss, class_names, dict(state_dict), task, features,
                       table, image_shape_of(meta, spec), target_scaling_of(meta, spec))


def target_scaling_of(meta: dict, spec: NetworkSpec) -> TargetScaling | None:
    """The scaling folded into the weights (None when absent, or not one value per output: it
    only matters for training further, so a file is not refused over it)."""
    try:
        scaling = TargetScaling.from_dict(meta["target_scaling"])
    except (KeyError, TypeError, SpecError):
        return None
    return scaling if scaling.mean.size == spec.output_size else None


def image_shape_of(meta: dict, spec: NetworkSpec) -> tuple[int, ...]:
    """The description's picture shape; () when absent or not one value per input (it only
    describes the inputs: a file is not refused over it)."""
    shape = (meta.get("input") or {}).get("image_shape") if isinstance(meta, dict) else None
    if (
        isinstance(shape, list)
        and len(shape) in (2, 3)
        and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in shape)
        and (len(shape) == 2 or shape[2] == 3)
        and math.prod(shape) == spec.input_size
    ):
        return tuple(shape)
    return ()


# The helpers below raise ExportError with a sentence fragment ("it ...", "the weights ...");
# the public functions put "Cannot open <file>: " in front.


def parse_metadata(meta: object) -> tuple[NetworkSpec, Normalization, str, list[str], str]:
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
        raise ExportError(f"its model description is invalid: {str(err).rstrip('.')}") from None
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


def feature_names_of(meta: dict, spec: NetworkSpec) -> list[str]:
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


def table_of(meta: dict, spec: NetworkSpec) -> TableSchema | None:
    """The description's table schema (None for a model of anything else); ExportError when
    it is damaged or does not give one value per input: rows would be encoded wrongly."""
    if meta.get("table") is None:
        return None
    try:
        table = TableSchema.from_dict(meta["table"])
    except SpecError as err:
        raise ExportError(str(err)) from None
    if table.input_size != spec.input_size:
        raise ExportError(f"its table description gives {table.input_size} inputs for a network "
                          f"of {spec.input_size}")
    return table


Layout = dict[str, tuple[list[int], Any]]  # tensor name -> (shape, dtype or None if unknown)


def layout(tensors: dict[str, Tensor]) -> Layout:
    return {k: (list(v.shape), v.dtype) for k, v in tensors.items()}


def with_scaling(expected: Layout, found: Layout | dict) -> Layout:
    """`expected` plus the target scaling buffers, one value per output, if `found` has either."""
    if MEAN_KEY not in found and STD_KEY not in found:
        return expected
    outputs = max((k for k in expected if k.startswith("net.") and k.endswith(".bias")),
                  key=lambda k: int(k.split(".")[1]))
    return {**expected, MEAN_KEY: (expected[outputs][0], torch.float32),
            STD_KEY: (expected[outputs][0], torch.float32)}


def check_weights(spec: NetworkSpec, state_dict: dict[str, Tensor]) -> None:
    """ExportError ("the weights do not match the network: ...") unless they fit `spec`."""
    check_tensors(layout(build_model(spec).state_dict()), layout(state_dict))


def check_finite(state_dict: dict[str, Tensor]) -> None:
    """ExportError naming the first tensor that holds NaN or an infinity: such weights predict
    NaN for everything ('x (nan%)') and a continued run stops at its first batch."""
    for key, value in state_dict.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise ExportError(
                f"its tensor {key} holds NaN or infinite values, so the model cannot predict "
                "anything: the file is damaged, or was saved from a run that diverged. Open "
                "another copy, or train the network again")


def check_tensors(expected: Layout, found: Layout) -> None:
    """Compare tensor names, shapes (and dtypes where known) with what the network needs.

    A regression model's target scaling buffers (core.target_scaling) may be there or not."""
    expected = with_scaling(expected, found)
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
        check_tensors(layout(model.state_dict()), layout(state))
    except ExportError as err:
        raise ExportError(f"Cannot use this model: {err}.") from None
    model.load_state_dict(state)
    regression = bundle.task == "regression"
    module = InferenceModule(
        model, bundle.normalization, canonical_loss(bundle.loss), regression
    ).eval()
    module.requires_grad_(False)
    return module


def code_file_refusal(path: str | os.PathLike) -> str:
    """Why `path` is not opened if it is a TorchScript or torch file (by name), else ""."""
    suffix = Path(path).suffix.lower()
    if suffix not in CODE_SUFFIXES:
        return ""
    return (
        f"Cannot open {path}: MLP Studio does not open {suffix} files. TorchScript and PyTorch "
        "checkpoints carry code that runs while they load, so a file from elsewhere could "
        "change files on your computer. Open the model's .safetensors or .onnx export, or its "
        ".mlps session, instead (TorchScript is for running the model with torch outside "
        "MLP Studio)."
    )


def parse_json(text: str | bytes) -> object:
    """JSON of a model description; ExportError (a sentence fragment) if it is not JSON."""
    try:
        return loads_json(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ExportError(f"its model description is not valid JSON ({err})") from None


def first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__

