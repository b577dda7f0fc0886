"""Previews of single panels and widgets, with made-up or empty data (no training)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Preview:
    build: Callable[[], object]  # the widget to show; built once the QApplication exists
    size: str
    about: str
    settle: Callable[[object, object], None] | None = None  # (app, widget) before a screenshot


def _state():
    from mlp_studio.app.model.experiment import Experiment

    return Experiment()


def data_panel():
    from mlp_studio.app.panels.data.data_panel import DataPanel
    from PySide6.QtWidgets import QApplication

    panel = DataPanel(_state())
    QApplication.instance().aboutToQuit.connect(panel.shutdown)
    return panel


def data_loaded(app, panel) -> None:
    """Wait for the Data dock's background load, so the screenshot shows the data."""
    from mlp_studio.app.preview.common import wait

    wait(app, lambda: not panel.is_busy())
    panel.shutdown()


def gallery():
    from mlp_studio.app.panels.data.gallery import SampleGallery
    from mlp_studio.core.data import DataConfig, prepare_mnist
    from mlp_studio.core.mnist import load_mnist

    widget = SampleGallery()
    widget.set_data(prepare_mnist(load_mnist(download=False), DataConfig()))
    return widget


def network_panel():
    from mlp_studio.app.panels.network.network_panel import NetworkPanel
    from mlp_studio.core.model import LayerSpec

    studio = _state()
    spec = studio.spec
    spec.hidden = [LayerSpec(128), LayerSpec(64)]
    studio.replace_spec(spec)
    studio.ensure_model()
    return NetworkPanel(studio)


def layer_editor():
    from mlp_studio.app.panels.network.layer_editor import LayerEditor
    from mlp_studio.core.activations import ActivationSpec
    from mlp_studio.core.model import LayerSpec

    editor = LayerEditor()
    editor.set_layer(0, LayerSpec(128, ActivationSpec("custom", formula="x * sigmoid(1.5*x)")))
    editor.edited.connect(lambda layer, field: print(field, layer))
    return editor


def activation_plot():
    from mlp_studio.app.panels.network.activation_plot import ActivationPlot
    from mlp_studio.core.activations import ActivationSpec

    plot = ActivationPlot()
    plot.set_activation(ActivationSpec("custom", formula="x * sigmoid(1.5*x)"))
    return plot


def training_panel():
    from mlp_studio.app.panels.training.training_panel import TrainingPanel

    return TrainingPanel(_state())


def hyperparameters():
    from mlp_studio.app.panels.training.hyperparameters import HyperparametersForm

    return HyperparametersForm(_state())


def weights_grid():
    from mlp_studio.app.panels.training.weights_grid import WeightsGrid

    grid = WeightsGrid()
    grid.set_weights(np.random.default_rng(0).normal(0, 0.05, (128, 784)))
    grid.redraw()
    return grid


def _made_up_metrics(count: int, concentration: float, boost: float):
    """Metrics of made-up predictions that are mostly right."""
    from mlp_studio.core.metrics import metrics_from_probabilities

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, count)
    probs = rng.dirichlet(np.ones(10) * concentration, count)
    probs[np.arange(count), labels] += boost
    return labels, metrics_from_probabilities(probs, labels, 0.3, 10)


def confusion_view():
    from mlp_studio.app.panels.training.confusion_view import ConfusionView

    view = ConfusionView()
    view.set_metrics("validation", _made_up_metrics(2000, 0.2, 1.5)[1], None, "epoch 1")
    view.redraw()
    return view


def activations_view():
    from mlp_studio.app.panels.training.activations_view import ActivationsView

    return ActivationsView(_state())


def mistakes_dialog():
    from mlp_studio.app.dialogs.mistakes_dialog import MistakesDialog

    labels, metrics = _made_up_metrics(500, 1.0, 0.0)
    first = metrics.misclassified[0]
    true, predicted = int(labels[first]), int(metrics.predictions[first])
    images = np.random.default_rng(1).integers(0, 255, (500, 28, 28), dtype=np.uint8)
    return MistakesDialog(
        metrics.mistakes(true, predicted), metrics, [str(i) for i in range(10)], "validation",
        images=images,
    )  # fmt: skip


def lessons_panel():
    from mlp_studio.app.panels.lessons.lessons_panel import LessonsPanel

    return LessonsPanel(_state())


def _points_state():
    """An experiment on made-up 2-D points (XOR-like quadrants), 2-8-8-2 tanh."""
    from mlp_studio.core.activations import ActivationSpec
    from mlp_studio.core.data import prepare_arrays
    from mlp_studio.core.model import LayerSpec, NetworkSpec

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (400, 2)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    state = _state()
    state.replace_spec(NetworkSpec(2, [LayerSpec(8, ActivationSpec("tanh"))] * 2, 2,
                                   init="xavier"))
    state.set_data(prepare_arrays(x[:300], y[:300], x[300:], y[300:], x[300:], y[300:],
                                  "standardize", ["blue", "orange"]))
    return state


def backprop_panel():
    from mlp_studio.app.panels.backprop.backprop_panel import BackpropPanel

    panel = BackpropPanel(_points_state())
    panel.show_sample(0)
    return panel


def lr_finder():
    from mlp_studio.app.dialogs.lr_finder_dialog import LrFinderDialog

    state = _points_state()
    config = state.train_config
    config.batch_size = 16
    state.set_train_config(config)
    return LrFinderDialog(state)


def lr_found(app, dialog) -> None:
    from mlp_studio.app.preview.common import wait

    wait(app, lambda: not dialog.running)


PREVIEWS = {
    "data": Preview(data_panel, "420x900", "the Data dock (loads MNIST if it finds it)",
                    data_loaded),
    "gallery": Preview(gallery, "420x420", "the sample gallery on MNIST"),
    "network": Preview(network_panel, "1000x760", "the Network dock, two hidden layers"),
    "layer-editor": Preview(layer_editor, "360x420", "the layer editor, a custom activation"),
    "activation-plot": Preview(activation_plot, "320x200", "a custom activation's plot"),
    "training": Preview(training_panel, "900x700", "the Training dock, untrained"),
    "hyperparameters": Preview(hyperparameters, "300x700", "the training settings form"),
    "weights": Preview(weights_grid, "640x560", "the weights grid, random weights"),
    "confusion": Preview(confusion_view, "760x480", "the confusion matrix, made-up results"),
    "activations": Preview(activations_view, "640x480", "the activations view, untrained"),
    "mistakes": Preview(mistakes_dialog, "720x520", "the mistakes dialog, made-up results"),
    "lessons": Preview(lessons_panel, "460x700", "the Lessons dock, the bundled lessons"),
    "backprop": Preview(backprop_panel, "900x700",
                        "the Backprop dock, 2-8-8-2 tanh on made-up 2-D points"),
    "lr-finder": Preview(lr_finder, "720x520",
                         "Find learning rate, 2-8-8-2 tanh on made-up 2-D points", lr_found),
}
