"""Evaluate a model file: the metrics `mlp-studio train` reports, on the MNIST test split or on
any data core.evaluation_data prepares."""

from pathlib import Path
from typing import Any

from mlp_studio.core.data import PreparedData
from mlp_studio.core.errors import SpecError
from mlp_studio.core.export import ModelBundle
from mlp_studio.core.metrics import Metrics
from mlp_studio.core.mnist import MnistArrays
from mlp_studio.core.model import build_model, describe
from mlp_studio.core.training import evaluate_test


def evaluate_on(bundle: ModelBundle, data: PreparedData) -> Metrics:
    """The model's metrics on `data`'s test split (raw inputs: they are normalized the
    model's way; core.evaluation_data prepares them from any source)."""
    model = build_model(bundle.spec)
    model.load_state_dict(bundle.training_state())  # its loss in the units it trained in
    return evaluate_test(model, data, bundle.loss, bundle.normalization)


def evaluate_bundle(bundle: ModelBundle, mnist: MnistArrays) -> tuple[Metrics, list[str]]:
    """Test-split metrics and the class names they are in (SpecError if the model does not
    fit MNIST: other inputs, or outputs that are neither the ten digits nor a binary task)."""
    from mlp_studio.core.evaluation_data import family_test_split

    if not bundle.takes_images:
        raise SpecError(
            f"This model takes {bundle.spec.input_size} input features, not a 28x28 image: "
            "evaluate works on MNIST models."
        )
    data = family_test_split(bundle, mnist)
    return evaluate_on(bundle, data), data.class_names


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
