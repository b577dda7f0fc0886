"""One digit through a trained network: class probabilities, every hidden layer's activations,
and optionally which input pixels pushed the guess (input-gradient saliency).

The drawing canvas calls this on every stroke, so it works on a single raw image (0-255, as
core.digits.preprocess_digit returns it) and applies the model's normalization itself: the
same (x - mean) / std that training used (core.data.Normalization.apply).
"""

from dataclasses import dataclass

import numpy as np
import torch
from mlp_studio.core.data import Normalization
from mlp_studio.core.errors import DataFormatError
from mlp_studio.core.losses import probabilities
from mlp_studio.core.model import MLP


@dataclass(frozen=True, eq=False)
class DigitPrediction:
    probabilities: np.ndarray  # float32 [C], sums to 1 (through the loss's output activation)
    activations: list[np.ndarray]  # per hidden layer, float32 [units] (after the activation)
    saliency: np.ndarray | None  # float32 [D]: d p(top class) / d raw pixel, or None

    @property
    def top(self) -> int:
        """Index of the most probable class."""
        return int(np.argmax(self.probabilities))


def predict_digit(
    model: MLP,
    normalization: Normalization,
    loss: str,
    pixels_raw: np.ndarray,
    saliency: bool = False,
) -> DigitPrediction:
    """Run one raw image ([D] or [H, W], 0-255) through `model` in evaluation mode.

    The model is switched to eval() (dropout off, batch norm on its running statistics) and
    back to its previous mode afterwards, so never pass a model that another thread is
    training: give it a copy (the GUI keeps one, see app/panels/draw/draw_panel.py).
    """
    x = np.asarray(pixels_raw, dtype=np.float32).reshape(-1)
    size = model.spec.input_size
    if x.size != size or normalization.size != size:
        raise DataFormatError(
            f"The model takes {size} inputs and its normalization {normalization.size}, but the "
            f"image has {x.size} pixels: prepare the image at the size the model was trained on."
        )
    device = next(model.parameters()).device
    raw = torch.from_numpy(x).to(device).unsqueeze(0)
    was_training = model.training
    model.eval()
    try:
        if saliency:
            # The gradient is taken with respect to the input only (autograd.grad), so the
            # weights' .grad stays untouched.
            raw.requires_grad_(True)
            with torch.enable_grad():
                outputs, hidden = model.forward_with_activations(normalization.apply(raw))
                probs = probabilities(loss, outputs)[0]
                top = int(probs.argmax())
                (grad,) = torch.autograd.grad(probs[top], raw)
            pixel_grad = grad[0].detach().cpu().numpy().astype(np.float32)
        else:
            with torch.no_grad():
                outputs, hidden = model.forward_with_activations(normalization.apply(raw))
                probs = probabilities(loss, outputs)[0]
            pixel_grad = None
    finally:
        model.train(was_training)
    return DigitPrediction(
        probabilities=probs.detach().cpu().numpy().astype(np.float32),
        activations=[h[0].detach().cpu().numpy().astype(np.float32) for h in hidden],
        saliency=pixel_grad,
    )
