"""Evaluate a model file on the MNIST test split: the metrics `mlp-studio train` reports."""

from pathlib import Path
from typing import Any

from mlp_studio.core.data import DataConfig, prepare_mnist
from mlp_studio.core.errors import SpecError
from mlp_studio.core.export import ModelBundle
from mlp_studio.core.metrics import Metrics
from mlp_studio.core.mnist import MnistArrays
from mlp_studio.core.model import build_model, describe
from mlp_studio.core.model_import import target_digit_of
from mlp_studio.core.training import evaluate_test


def evaluate_bundle(bundle: ModelBundle, mnist: MnistArrays) -> tuple[Metrics, list[str]]:
    """Test-split metrics and the class names they are in (SpecError if the model does not
    fit MNIST: other inputs, or outputs that are neither the ten digits nor a binary task)."""
    if not bundle.takes_images:
        raise SpecError(
            f"This model takes {bundle.spec.input_size} input features, not a 28x28 image: "
            "evaluate works on MNIST models."
        )
    digit = target_digit_of(bundle.class_names)
    if digit is False:
        if bundle.spec.output_size != 10:
            raise SpecError(
                f"This model has {bundle.spec.output_size} outputs "
                f"({', '.join(bundle.class_names)}): the MNIST test split has ten digits (or "
                "'not d' and 'd' for a model trained to spot one digit)."
            )
        digit = None  # ten outputs with other names: taken as the digits 0-9 in order
    # "none": the test inputs stay raw pixels, and evaluate_test normalizes them the model's way
    data = prepare_mnist(mnist, DataConfig(normalization="none", target_digit=digit))
    model = build_model(bundle.spec)
    model.load_state_dict(bundle.state_dict)
    return evaluate_test(model, data, bundle.loss, bundle.normalization), data.class_names


def evaluation_report(metrics: Metrics, class_names: list[str], path: str | Path,
                      bundle: ModelBundle) -> dict[str, Any]:
    """The same JSON as `train --metrics-json` (no epochs: nothing was trained), plus what
    was evaluated."""
    from mlp_studio.core.cli.report import test_report

    return {
        **test_report(metrics, class_names, metrics.regression),
        "epochs": [],
        "best_epoch": None,
        "stopped": False,
        "diverged": None,
        "model": str(path),
        "network": describe(bundle.spec),
    }
