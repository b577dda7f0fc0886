"""The Draw dock on its own, with a demo digit drawn by synthetic mouse strokes.

    python -m mlp_studio.app.preview draw [--mnist DIR --epochs N] [--model FILE]
        [--screenshot PNG [--digit 3]] [--dark]
"""

from __future__ import annotations

import argparse

import numpy as np


def demo_strokes(digit: str = "3") -> list[list[tuple[float, float]]]:
    """A hand-drawn-looking digit as strokes of points in 0-1 canvas coordinates."""

    def arc(cx, cy, rx, ry, start, stop, n=24):
        t = np.radians(np.linspace(start, stop, n))
        return [(cx + rx * np.cos(a), cy + ry * np.sin(a)) for a in t]

    def by_hand(points):
        """A slight forward slant and a wobble, as a hand draws."""
        out = []
        for i, (x, y) in enumerate(points):
            out.append((x + 0.1 * (0.5 - y) + 0.006 * np.sin(i * 0.9), y + 0.005 * np.cos(i * 0.7)))
        return out

    if digit == "3":
        top = arc(0.5, 0.33, 0.16, 0.14, -160, 92)
        bottom = arc(0.49, 0.64, 0.19, 0.17, -92, 155)[1:]
        return [by_hand(top + bottom)]
    if digit == "7":
        return [by_hand([(0.3, 0.22), (0.5, 0.21), (0.71, 0.2), (0.62, 0.42), (0.5, 0.79)])]
    if digit == "0":
        return [by_hand(arc(0.5, 0.5, 0.2, 0.3, -90, 275, 40))]
    raise ValueError(f"no demo strokes for {digit!r}: use 0, 3 or 7")


def draw_strokes(canvas, strokes: list[list[tuple[float, float]]]) -> None:
    """Draw with synthetic mouse events, as a user would (press, moves with the button held,
    release); points are 0-1 fractions of the canvas' drawing area."""
    from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    area = canvas.drawing_rect()
    left = Qt.MouseButton.LeftButton
    for stroke in strokes:
        points = [
            QPoint(round(area.x() + x * area.width()), round(area.y() + y * area.height()))
            for x, y in stroke
        ]
        QTest.mousePress(canvas, left, Qt.KeyboardModifier.NoModifier, points[0])
        for point in points[1:]:
            # QTest.mouseMove cannot hold a button in Qt 6: send the event itself.
            local = QPointF(point)
            event = QMouseEvent(
                QEvent.Type.MouseMove,
                local,
                QPointF(canvas.mapToGlobal(point)),
                left,
                left,
                Qt.KeyboardModifier.NoModifier,
            )
            QApplication.sendEvent(canvas, event)
        QTest.mouseRelease(canvas, left, Qt.KeyboardModifier.NoModifier, points[-1])


def load_model_file(state, path: str) -> None:
    """Make an exported .safetensors model current (preview and bench; the app uses its File
    menu): its network, loss, normalization kind and weights, with the weights' own
    normalization."""
    from mlp_studio.core.export import load_bundle
    from mlp_studio.core.model import build_model

    bundle = load_bundle(path)
    state.replace_spec(bundle.spec)
    config, data_config = state.train_config, state.data_config
    config.loss, data_config.normalization = bundle.loss, bundle.normalization.kind
    state.set_train_config(config)
    state.set_data_config(data_config)
    model = build_model(bundle.spec)
    model.load_state_dict(bundle.state_dict)
    state.set_model(model, bundle.normalization)


def _train(state, epochs: int, save_model: str | None) -> None:
    from mlp_studio.core.model import LayerSpec
    from mlp_studio.core.training import TrainConfig, Trainer

    spec = state.spec
    spec.hidden = [LayerSpec(256), LayerSpec(128)]
    state.replace_spec(spec)
    model = state.ensure_model()
    finished = Trainer(model, state.data, TrainConfig(epochs=epochs)).run()
    if finished.test is not None:
        print(f"test accuracy {finished.test.accuracy:.2%}")
    state.set_model(model)
    if save_model:
        from mlp_studio.core.export import ModelBundle, export_safetensors

        bundle = ModelBundle(
            model.spec, state.data.normalization, state.train_config.loss,
            list(state.data.class_names), model.state_dict(),
        )  # fmt: skip
        print(f"saved {export_safetensors(bundle, save_model)}")


def main(argv: list[str] | None = None) -> int:
    from mlp_studio.app.model.experiment import Experiment
    from mlp_studio.app.panels.draw.draw_panel import DrawPanel
    from mlp_studio.app.preview.common import add_common_options, application, show

    parser = argparse.ArgumentParser(prog="python -m mlp_studio.app.preview draw",
                                     description="The Draw dock on its own.")  # fmt: skip
    parser.add_argument("--mnist", help="MNIST folder (default: $MLP_STUDIO_DATA or the cache)")
    parser.add_argument("--epochs", type=int, default=0, help="train a model first (0: none)")
    parser.add_argument("--model", help="an exported .safetensors model to use")
    parser.add_argument("--save-model", help="after --epochs, export the model here")
    parser.add_argument("--digit", default="3", help="the demo digit drawn for --screenshot")
    add_common_options(parser, "960x600")
    args = parser.parse_args(argv)

    app = application(args.dark)
    state = Experiment()
    if args.mnist or args.epochs:
        from mlp_studio.core.data import DataConfig, prepare_mnist
        from mlp_studio.core.mnist import load_mnist

        state.set_data(prepare_mnist(load_mnist(args.mnist, download=False), DataConfig()))
    if args.model:
        load_model_file(state, args.model)
    elif args.epochs:
        _train(state, args.epochs, args.save_model)
    panel = DrawPanel(state)
    panel.setWindowTitle("MLP Studio: Draw")

    def draw_demo() -> None:
        from PySide6.QtCore import QEvent

        draw_strokes(panel.canvas, demo_strokes(args.digit))
        app.processEvents()
        app.sendEvent(panel.canvas, QEvent(QEvent.Type.Leave))  # no brush outline
        panel.canvas.clearFocus()
        guess = "none" if panel.prediction is None else panel.bars.names()[panel.prediction.top]
        print(f"guess {guess}")

    return show(app, panel, args, settle=draw_demo)
