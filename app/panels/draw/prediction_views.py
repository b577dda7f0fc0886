"""What the Draw dock shows of a guess: the preprocessing steps, the class bars, each hidden
layer's activations and the saliency map."""

from __future__ import annotations

import numpy as np
from mlp_studio.app.panels.draw.digit_views import (
    ActivationMap,
    gray_levels,
    rgb_to_qimage,
    saliency_rgb,
)
from mlp_studio.app.panels.draw.drawing_canvas import SIZE, gray_to_qimage
from mlp_studio.core.model import MLP, describe
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLabel


def set_text(label: QLabel, text: str, role: QPalette.ColorRole | None = None) -> None:
    """Change a label only if needed: every change costs a repaint, on every stroke."""
    if label.text() != text:
        label.setText(text)
    if role is not None and label.foregroundRole() != role:
        label.setForegroundRole(role)


class PredictionViews:
    """DrawPanel's readouts of the current guess."""

    def _set_layer_maps(self, model: MLP | None) -> None:
        """One activation map per hidden layer of the current network."""
        hidden = [] if model is None else model.spec.hidden
        titles = [f"Hidden {i} · {layer.units}" for i, layer in enumerate(hidden, start=1)]
        if [m.title for m in self.layer_maps] == titles:
            return
        for old in self.layer_maps:
            self._network_row.removeWidget(old)
            old.deleteLater()
        self.layer_maps = [ActivationMap(title) for title in titles]
        for i, layer_map in enumerate(self.layer_maps):
            self._network_row.insertWidget(i, layer_map, 1)

    def _show_steps(self) -> None:
        steps = self.steps
        self.input_tile.set_image(
            gray_to_qimage(self._gray),
            f"{SIZE}×{SIZE}",
            box=None if steps.empty or steps.prepared else steps.bbox,
        )
        # A picture prepared as its folder's were has no digit steps: only the result shows.
        self.cropped_tile.setVisible(not steps.prepared)
        self.fitted_tile.setVisible(not steps.prepared)
        rows, cols = steps.centered.shape
        self.centered_tile.title = f"{'Prepared' if steps.prepared else 'Centred'} {cols}×{rows}"
        if steps.empty:
            for tile in self.step_tiles[1:]:
                tile.set_image(None)
                tile.set_placeholder("empty")
            return
        if steps.prepared:
            self.centered_tile.set_image(gray_to_qimage(steps.centered), "square, resized")
        else:
            h, w = steps.cropped.shape
            self.cropped_tile.set_image(gray_to_qimage(steps.cropped), f"{w}×{h} px")
            self.fitted_tile.set_image(
                gray_to_qimage(steps.fitted), "+ mass centre", marker=steps.center_of_mass
            )
            self.centered_tile.set_image(
                gray_to_qimage(steps.centered), f"+ at ({rows / 2:g}, {cols / 2:g})",
                marker=(rows / 2, cols / 2),
            )
        norm = self.normalization
        if norm is None:
            self.normalized_tile.set_image(None)
            self.normalized_tile.set_placeholder("needs the data")
            return
        values = norm.apply(steps.pixels[None, :])[0].reshape(steps.centered.shape)
        low, high = float(values.min()), float(values.max())
        self.normalized_tile.set_image(
            gray_to_qimage(gray_levels(values, low, high)), f"{norm.kind}: {low:.2g} … {high:.2g}"
        )

    def _show_prediction(self, model: MLP | None, problem: str | None) -> None:
        count = 10 if model is None else model.spec.output_size
        names = self.state.class_names(count)
        true = self.true_label()
        pred = self.prediction
        self.bars.set_probabilities(None if pred is None else pred.probabilities, names, true)
        muted = QPalette.ColorRole.PlaceholderText
        if pred is None:
            set_text(self.guess_label, "?", muted)
            set_text(self.confidence_label, problem or "Draw a digit to see its guess.")
            set_text(self.detail_label, "" if model is None else describe(model.spec))
            for layer_map in self.layer_maps:
                layer_map.set_activations(None)
            self.saliency_tile.set_image(None)
            self.saliency_tile.set_placeholder("")
            self.saliency_tile.setVisible(model is not None)
            self._show_network_hint(model)
            return
        top = pred.top
        p = float(pred.probabilities[top])
        set_text(self.guess_label, names[top], QPalette.ColorRole.WindowText)
        set_text(self.confidence_label, f"{p:.1%} sure")
        detail = describe(model.spec)
        if true is not None:
            mark = "✓ right" if true == top else f"✗ the true label is {names[true]}"
            detail = f"{mark} · {detail}"
        viewed = self.state.timeline.viewed
        if viewed is not None:
            detail = f"{viewed.label()} (the past) · {detail}"
        elif self.state.run_owns_model:
            detail = f"learning now · {detail}"
        set_text(self.detail_label, detail)
        for layer_map, values, layer in zip(
            self.layer_maps, pred.activations, model.spec.hidden, strict=True
        ):
            active = float((values > 0).mean()) if values.size else 0.0
            layer_map.set_activations(values, f"{layer.activation.name} · {active:.0%} > 0")
        self._show_saliency(names[top])
        self.saliency_tile.setVisible(True)
        self._show_network_hint(model)

    def saliency_map(self) -> np.ndarray | None:
        """float32 [H * W]: what the saliency tile shows (before colouring), or None."""
        if self.prediction is None or self.prediction.saliency is None:
            return None
        gradient = self.prediction.saliency
        return gradient * self.steps.pixels if self.show_ink_saliency else gradient.copy()

    def _show_saliency(self, top_name: str) -> None:
        shown = self.saliency_map()
        what = "ink × gradient" if self.show_ink_saliency else "gradient"
        self.saliency_tile.set_image(
            rgb_to_qimage(saliency_rgb(self.steps.centered, shown)), f"{what} of p({top_name})"
        )

    def _update_saliency_tip(self) -> None:
        if self.show_ink_saliency:
            tip = (
                "Which of your pixels pushed the guess: each pixel's value times the gradient "
                "of the top probability with respect to it. Blue raised the probability, orange "
                "lowered it. Click to show the plain gradient."
            )
        else:
            tip = (
                "The gradient of the top probability with respect to each input pixel: blue "
                "where more ink would raise it, orange where it would lower it. Click to show "
                "only the pixels you drew (ink × gradient)."
            )
        self.saliency_tile.setToolTip(tip)

    def _show_network_hint(self, model: MLP | None) -> None:
        if model is None:
            text = "Each hidden layer lights up here, one cell per neuron."
        elif not model.spec.hidden:
            text = "This network has no hidden layer: the pixels go straight to the outputs."
        else:
            text = ""
        self.network_hint.setText(text)
        self.network_hint.setVisible(bool(text))
