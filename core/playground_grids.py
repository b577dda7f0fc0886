"""The playground's grids: the input plane sampled cell by cell, and what a network makes of it
(its answer and every neuron's output), for the boundary and neuron views.

Row i, column j of every grid is the input point (x1 = xs[j], x2 = ys[i]) at the centre of a cell
of the extent, both increasing, so an image drawn with row 0 at the bottom lines up with the
points."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from mlp_studio.core.data import Normalization
from mlp_studio.core.losses import probabilities
from mlp_studio.core.playground import EXTENT, features
from torch import nn


def grid_axes(
    extent: tuple[float, float, float, float], resolution: int
) -> tuple[np.ndarray, np.ndarray]:
    """Cell centres (xs for x1, ys for x2) of a resolution x resolution grid over `extent`."""
    x0, x1, y0, y1 = extent
    cx, cy = (x1 - x0) / resolution / 2, (y1 - y0) / resolution / 2
    xs = np.linspace(x0 + cx, x1 - cx, resolution, dtype=np.float32)
    ys = np.linspace(y0 + cy, y1 - cy, resolution, dtype=np.float32)
    return xs, ys


def grid_points(extent: tuple[float, float, float, float], resolution: int) -> np.ndarray:
    """[res * res, 2] points, row-major: point i * res + j is (xs[j], ys[i])."""
    xs, ys = grid_axes(extent, resolution)
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def feature_grids(
    names: Sequence[str], extent: tuple[float, float, float, float], resolution: int = 32
) -> np.ndarray:
    """Each feature over the plane, raw (not normalized): [F, res, res]."""
    f = features(grid_points(extent, resolution), names)
    return np.ascontiguousarray(f.T.reshape(len(names), resolution, resolution))


def grid_inputs(
    feature_names: Sequence[str],
    normalization: Normalization,
    extent: tuple[float, float, float, float],
    resolution: int,
) -> torch.Tensor:
    """The normalized network inputs [res * res, F] of the grid; cache it between frames."""
    return torch.from_numpy(
        normalization.apply(features(grid_points(extent, resolution), feature_names))
    )


@torch.no_grad()
def _evaluate(
    model: nn.Module, x: torch.Tensor, loss: str, task: str
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Answers [N, K] (class probabilities; raw outputs for regression) and each hidden layer's
    activations [N, units], float32, in eval mode (no dropout), restoring the model's mode."""
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        out, acts = model.forward_with_activations(x.to(device))
        if task != "regression":
            out = probabilities(loss, out)
        return out.float().cpu().numpy(), [a.float().cpu().numpy() for a in acts]
    finally:
        model.train(was_training)


def _answer_grid(answers: np.ndarray, task: str, resolution: int) -> np.ndarray:
    """What decision_grid shows, from _evaluate's answers of the grid points."""
    if task == "regression":
        return answers[:, 0].reshape(resolution, resolution)
    if answers.shape[1] == 2:
        return answers[:, 1].reshape(resolution, resolution)
    return answers.reshape(resolution, resolution, answers.shape[1])


def _neuron_grid(activations: np.ndarray, resolution: int, step: int = 1) -> np.ndarray:
    grid = activations.T.reshape(activations.shape[1], resolution, resolution)
    return np.ascontiguousarray(grid[:, ::step, ::step])


def decision_grid(
    model: nn.Module,
    feature_names: Sequence[str],
    normalization: Normalization,
    loss: str,
    extent: tuple[float, float, float, float] = EXTENT,
    resolution: int = 100,
    task: str = "classification",
    inputs: torch.Tensor | None = None,
) -> np.ndarray:
    """The network's answer over the plane, float32:

    binary classification: [res, res] probability of class 1;
    multi-class: [res, res, C] class probabilities (predicted class = argmax over the last axis,
    confidence = its maximum); regression: [res, res] output value.
    `inputs` (from grid_inputs) skips recomputing the features of the grid.
    """
    x = grid_inputs(feature_names, normalization, extent, resolution) if inputs is None else inputs
    answers, _ = _evaluate(model, x, loss, task)
    return _answer_grid(answers, task, resolution)


def network_grids(
    model: nn.Module,
    inputs: torch.Tensor,
    loss: str,
    task: str,
    resolution: int,
    neuron_step: int = 1,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """decision_grid and neuron_grids from one forward pass over `inputs` (from grid_inputs).

    The neuron grids keep every `neuron_step`-th row and column: a live view can draw a
    100 x 100 boundary and ~34 x 34 neuron tiles for the price of one pass.
    """
    answers, hidden = _evaluate(model, inputs, loss, task)
    neurons = [_neuron_grid(a, resolution, neuron_step) for a in hidden]
    return _answer_grid(answers, task, resolution), neurons


def neuron_grids(
    model: nn.Module,
    feature_names: Sequence[str],
    normalization: Normalization,
    extent: tuple[float, float, float, float] = EXTENT,
    resolution: int = 32,
    inputs: torch.Tensor | None = None,
) -> list[np.ndarray]:
    """Each hidden neuron's output over the plane: per hidden layer [units, res, res] float32."""
    x = grid_inputs(feature_names, normalization, extent, resolution) if inputs is None else inputs
    # The loss only shapes the answers, which are not kept here.
    _, hidden = _evaluate(model, x, "sparse_categorical_cross_entropy", "regression")
    return [_neuron_grid(a, resolution) for a in hidden]
