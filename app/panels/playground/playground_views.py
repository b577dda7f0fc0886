"""What the Playground shows of the model: the boundary, neuron tiles and links, hover images, the
pinned run."""

from __future__ import annotations

import time

import numpy as np
from mlp_studio.app.panels.playground.neuron_grid_view import MAX_SHOWN, Column
from mlp_studio.app.panels.playground.playground_colors import (
    class_color,
    decision_rgb,
    diverging,
    tint,
)
from mlp_studio.app.panels.playground.playground_display import (
    CURVES_MS,
    NETWORK_MS,
    NEURON_STEP,
    RESOLUTION,
    SETTLE_MS,
)
from mlp_studio.core.model import MLP, describe
from mlp_studio.core.playground import FEATURE_LABELS, PlaygroundData
from mlp_studio.core.playground_grids import feature_grids, network_grids


class PlaygroundViews:
    """PlaygroundPanel's drawing of the model over the plane and in the neuron grid."""

    def refresh(self, grids: bool = True) -> None:
        """Redraw the curves and texts now, and (grids) recompute the boundary and neurons."""
        now = time.perf_counter()
        if self._curves_shown != self._curves and (
            not self.state.training or now - self._curves_time >= CURVES_MS / 1000
        ):
            self._curves_shown, self._curves_time = list(self._curves), now
            self.live.set_curves(np.array(self._curves).reshape(-1, 3), self._test_label())
            if self._losses_now is not None:  # after a Step or a hand edit: still those
                self.live.show_losses_now(*self._losses_now)
        elif self._curves_shown != self._curves:  # catch up a little later
            self._wake_in(CURVES_MS - (now - self._curves_time) * 1000 + 1)
        if self.network.fast:  # antialiased links again once the weights stop changing
            quiet = (now - self._snapshot_time) * 1000
            if quiet >= SETTLE_MS:
                self.network.fast = False
                self.network.update()
            else:
                self._wake_in(SETTLE_MS - quiet + 1)
        self.live.caption.setText(self._caption())
        if not grids:
            return
        self._grids_dirty = False
        pg_data, model = self.playground, self.display_model()
        if pg_data is None or model is None or self._inputs is None:
            self.live.boundary.set_image(None)
            self._show_network(None)
            return
        task = pg_data.data.task
        loss = self.state.train_config.loss
        hover = self.network.hovered  # full-resolution neurons only while one is shown large
        decision, neurons = network_grids(
            model, self._inputs, loss, task, RESOLUTION, 1 if hover else NEURON_STEP
        )
        shown = self._hover_image(hover, decision, neurons) if hover else None
        if hover:
            neurons = [g[:, ::NEURON_STEP, ::NEURON_STEP] for g in neurons]
        if shown is None:
            shown = decision_rgb(decision, task, self._value_scale())
        self.live.boundary.set_image(shown)
        now = time.perf_counter()
        wait = NETWORK_MS / 1000 - (now - self._network_drawn)
        if not self.state.training or wait <= 0:
            self._network_drawn = now
            self._show_network(model, decision, neurons)
        else:  # the neurons catch up with this frame's weights a little later
            self._grids_dirty = True
            self._wake_in(wait * 1000 + 1)
        self.frames_drawn += 1
        self._frame_time = time.perf_counter()

    def _caption(self) -> str:
        if self.playground is None:
            return " "
        spec = self.state.spec
        parts = [self._epoch_label] if self._epoch_label else []
        parts.append(describe(spec))
        hover = self.network.hovered
        if hover is not None and self.network.columns:
            column, index = hover
            names = self.network.columns[column].names
            if index < len(names):
                parts.append(f"showing {names[index]}")
        return " · ".join(parts)

    def _on_node_hovered(self, _node) -> None:
        self._schedule()

    def _hover_image(
        self, hover: tuple[int, int], decision: np.ndarray, neurons: list[np.ndarray]
    ) -> np.ndarray | None:
        """The big view shows one node over the plane while the mouse rests on its tile."""
        column, index = hover
        pg_data = self.playground
        if column == 0:
            name = pg_data.feature_names[index]
            grid = feature_grids([name], pg_data.points.extent, RESOLUTION)[0]
            return diverging(grid, float(np.abs(grid).max()) or 1.0, pale=True)
        if column <= len(neurons):
            layer = neurons[column - 1]
            if index >= len(layer):
                return None
            scale = max(1.0, float(np.abs(layer[:MAX_SHOWN]).max()))
            return diverging(layer[index], scale, pale=True)
        if pg_data.data.task == "regression":
            return None  # the output is what the view shows anyway
        probs = np.stack([1 - decision, decision], -1) if decision.ndim == 2 else decision
        if index >= probs.shape[-1]:
            return None
        return tint(probs[..., index], class_color(index), pale=True)

    def _show_network(self, model: MLP | None, decision=None, neurons=None) -> None:
        pg_data = self.playground
        if model is None or pg_data is None:
            self.network.clear()
            return
        names = [FEATURE_LABELS[n] for n in pg_data.feature_names]
        columns = [
            Column(
                "Inputs",
                f"{len(names)} features",
                self._feature_tiles[:MAX_SHOWN],
                len(names),
                names[:MAX_SHOWN],
                names,
            )
        ]
        for k, (grid, layer) in enumerate(zip(neurons, model.spec.hidden, strict=True), start=1):
            shown = grid[:MAX_SHOWN]
            scale = max(1.0, float(np.abs(shown).max()) if shown.size else 1.0)
            columns.append(
                Column(
                    f"Layer {k}",
                    f"{layer.units} {layer.activation.name}",
                    diverging(shown, scale),
                    layer.units,
                    [],
                    [f"neuron {i + 1} of layer {k}" for i in range(len(shown))],
                )
            )
        columns.append(self._output_column(decision, pg_data))
        self.network.set_columns(columns)
        self.network.set_weights(
            [lin.weight.detach().cpu().numpy() for lin in model.linears],
            [lin.bias.detach().cpu().numpy() for lin in model.linears],
        )

    def _output_column(self, decision: np.ndarray, pg_data: PlaygroundData) -> Column:
        small = decision[::NEURON_STEP, ::NEURON_STEP]
        names = pg_data.data.class_names
        if pg_data.data.task == "regression":
            tiles = diverging(small, self._value_scale())[None]
            return Column("Output", "value", tiles, 1, [names[0]], [f"output {names[0]}"])
        probs = np.stack([1 - small, small], -1) if small.ndim == 2 else small
        shown = min(probs.shape[-1], MAX_SHOWN)
        tiles = np.stack([tint(probs[..., k], class_color(k)) for k in range(shown)])
        labels = [f"P({n})" for n in names[:shown]]
        return Column(
            "Output",
            "probability",
            tiles,
            probs.shape[-1],
            labels,
            [f"output for class {n}" for n in names[:shown]],
        )

    def toggle_pin(self) -> None:
        if self.pinned.isVisible():
            self.pinned.setVisible(False)
            self.pin_button.setText("Pin this run")
            self.middle.setColumnStretch(1, 3)
            return
        self.pin()

    def pin(self) -> None:
        """Freeze the live boundary, points and curves in the second view."""
        self.refresh()  # the newest weights and texts, not the last frame's
        live, pinned = self.live.boundary, self.pinned.boundary
        pinned.set_extent(live.extent)
        pinned.set_image(live.image())
        pinned.set_points(*live.points, light_rims=live.light_rims)
        pinned.set_test_visible(self.show_test.isChecked())
        self.pinned.set_curves(self.live.curves, self.live.test_label)
        features = ", ".join(FEATURE_LABELS[n] for n in self.feature_names)
        stamp = time.strftime("%H:%M:%S")
        self.pinned.caption.setText(f"{self.live.caption.text()} · {features} · pinned {stamp}")
        self.pinned.setVisible(True)
        self.pin_button.setText("Unpin")
        self.middle.setColumnStretch(1, 2)  # two boundaries side by side need the room
