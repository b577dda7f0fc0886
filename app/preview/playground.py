"""The Playground dock on its own with Train/Pause/Resume/Stop; --screenshot renders a demo
(a 3-arm spiral on x1, x2 pinned beside a run with sines added, paused mid-run).

    python -m mlp_studio.app.preview playground [--screenshot PNG] [--dark]
"""

from __future__ import annotations

import argparse
import time


def main(argv: list[str] | None = None) -> int:
    from mlp_studio.app.model.experiment import Experiment
    from mlp_studio.app.model.training_controller import TrainingController
    from mlp_studio.app.panels.playground.playground_display import SETTLE_MS
    from mlp_studio.app.panels.playground.playground_panel import PlaygroundPanel
    from mlp_studio.app.preview.common import add_common_options, application, show, wait
    from PySide6.QtWidgets import QHBoxLayout, QPushButton, QVBoxLayout, QWidget

    parser = argparse.ArgumentParser(prog="python -m mlp_studio.app.preview playground",
                                     description="The Playground dock on its own.")  # fmt: skip
    add_common_options(parser, "1400x660")
    args = parser.parse_args(argv)

    app = application(args.dark)
    state = Experiment()
    panel = PlaygroundPanel(state)
    controller = TrainingController(state, snapshot_interval=0.05)
    controller.snapshot.connect(panel.on_snapshot)
    controller.epochEnded.connect(panel.on_epoch_end)
    controller.progress.connect(panel.on_progress)
    controller.failed.connect(lambda message: panel._show_message(message))
    app.aboutToQuit.connect(controller.shutdown)
    window = QWidget()
    window.setWindowTitle("MLP Studio: Playground")
    layout = QVBoxLayout(window)
    if args.screenshot is None:
        bar = QHBoxLayout()
        for text, slot in (
            ("Train", controller.start),
            ("Pause", controller.pause),
            ("Resume", controller.resume),
            ("Stop", controller.stop),
        ):
            button = QPushButton(text)
            button.clicked.connect(slot)
            bar.addWidget(button)
        bar.addStretch(1)
        layout.addLayout(bar)
    layout.addWidget(panel)
    panel.activate()
    epochs: list[int] = []
    controller.epochEnded.connect(lambda event: epochs.append(event.epoch))

    def train_demo() -> None:
        panel.classes_spin.setValue(3)
        panel.select_dataset("spiral")
        panel.message.clear()
        config = state.train_config
        config.epochs = 150
        state.set_train_config(config)
        controller.start()  # x1, x2 only: the spiral is hard
        wait(app, lambda: epochs and epochs[-1] >= 150 and not controller.running)
        panel.pin()
        panel.set_features(("x1", "x2", "sin(x1)", "sin(x2)"))
        panel.message.clear()
        config.epochs = 300
        state.set_train_config(config)
        epochs.clear()
        controller.start()
        wait(app, lambda: epochs and epochs[-1] >= 100)
        controller.pause()
        wait(app, lambda: controller.run_state in ("paused", "idle"))
        settled = time.monotonic() + (SETTLE_MS + 100) / 1000  # links antialiased again
        wait(app, lambda: time.monotonic() > settled)
        panel.refresh()

    code = show(app, window, args, settle=train_demo)
    controller.stop()
    controller.shutdown()
    return code
