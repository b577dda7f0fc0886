"""Render the main window and each panel mid-training to PNG files (docs, visual checks).

    python -m mlp_studio.app.preview.screenshots OUTDIR [--data DIR] [--subset 12000]
        [--theme light|dark|both]

Loads MNIST (a training subset, for speed) through the Data panel, trains a small network with
the real controller, pauses in the middle of the run, and grabs the window and each dock; the
Draw dock with a hand-drawn 3 and the paused model's guess. Then the Playground dock learns a
3-arm spiral (a run on x1, x2 pinned beside one with sines added), paused mid-run. Then lesson
6 (vanishing gradients) is loaded from the Lessons dock and trained. Last, a regression on a CSV
table of houses (app.preview.table_shots).
Runs offscreen unless QT_QPA_PLATFORM says otherwise; settings go to a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from mlp_studio.app.preview.common import dark_palette, save_png, wait


def render(outdir: Path, data_dir: str | None, subset: int, theme: str) -> list[Path]:
    from mlp_studio.app.main import make_application
    from mlp_studio.app.main_window import MainWindow
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = make_application([sys.argv[0]])
    if theme == "dark":
        app.setPalette(dark_palette())
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    settings_dir = tempfile.mkdtemp(prefix="mlp-studio-shots-")
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, settings_dir)

    window = MainWindow(
        # Explicitly INI in the temporary folder: QSettings(org, app) would be the native format
        # in ~/.config, and a previous run's saved layout would be restored.
        QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "mlp-studio-shots", theme),
        autoload_data=False,
        recovery_path=Path(settings_dir) / "recovery.mlps",
    )
    window.resize(1440, 900)
    window.show()
    window.load_engine()
    state, controller = window.state, window.controller

    from mlp_studio.core.data import DataConfig, SplitConfig
    from mlp_studio.core.mnist import resolve_data_dir
    from mlp_studio.core.model import LayerSpec, NetworkSpec

    folder = resolve_data_dir(data_dir)
    if folder is None:
        raise SystemExit("no MNIST folder: pass --data DIR or set MLP_STUDIO_DATA")
    state.set_data_config(DataConfig(split=SplitConfig(subset=subset)))
    window.panels["dataset"].load_folder(folder, remember=False)
    wait(app, lambda: state.data is not None)
    state.edit_spec(NetworkSpec(hidden=[LayerSpec(64), LayerSpec(32)]), "Two hidden layers")
    config = state.train_config
    config.epochs = 12  # long enough to still be running when paused after two epochs
    state.set_train_config(config)
    window.docks["designer"].raise_()

    epochs = []
    controller.epochEnded.connect(epochs.append)
    window.train()
    wait(app, lambda: len(epochs) >= 2)
    controller.pause()
    wait(app, lambda: controller.run_state in ("paused", "idle"))
    training = window.panels["training"]
    settled = time.monotonic() + 0.4  # throttled readouts (the checkpoint scrubber's) catch up
    wait(app, lambda: time.monotonic() > settled)
    training.flush()
    app.processEvents()

    suffix = "" if theme == "light" else "-dark"
    written = [save_png(window, outdir / f"main-window{suffix}.png")]
    if theme == "light":
        written.append(save_png(window.docks["designer"].widget(), outdir / "designer.png"))
        for index in range(training.tabs.count()):
            if not training.tabs.isTabVisible(index):  # a classifier's run: no Predictions
                continue
            name = training.tabs.tabText(index).lower()
            training.tabs.setCurrentIndex(index)
            training.flush()
            app.processEvents()
            written.append(save_png(training, outdir / f"training-{name}.png"))
        training.tabs.setCurrentIndex(0)
        window.docks["dataset"].raise_()
        app.processEvents()
        written.append(save_png(window.docks["dataset"].widget(), outdir / "dataset.png"))
        window.show_help("backpropagation")
        app.processEvents()
        written.append(save_png(window._help_dialog, outdir / "help.png"))
        window._help_dialog.close()
        written.append(shoot_canvas(app, window, outdir / "canvas.png"))
    controller.stop()
    wait(app, lambda: not controller.running)
    if theme == "light":
        written.append(shoot_playground(app, window, outdir / "playground-spiral.png"))
        written.append(shoot_lesson(app, window, outdir / "lesson.png"))
        from mlp_studio.app.preview.table_shots import shoot_table

        written += shoot_table(app, window, outdir, Path(settings_dir))
    window.file_actions.maybe_save = lambda: True  # nobody to ask about saving
    window.close()
    QApplication.processEvents()
    return written


@contextmanager
def floating(app, dock, width: int, height: int):
    """Float `dock` at this size (as a user may, to give a panel room), yield its panel, then
    dock it back where it was."""
    dock.setFloating(True)
    dock.resize(width, height)
    dock.raise_()
    app.processEvents()
    try:
        widget = dock.widget()  # the panel, inside the scroll area that lets it fit any screen
        yield getattr(widget, "widget", lambda: widget)() or widget
    finally:
        dock.setFloating(False)
        app.processEvents()


def shoot_canvas(app, window, path: Path) -> Path:
    """The Draw panel with a hand-drawn 3 (synthetic mouse strokes) and the paused model's
    guess, with every preprocessing step."""
    from mlp_studio.app.preview.draw import demo_strokes, draw_strokes
    from PySide6.QtCore import QEvent

    dock = window.docks["canvas"]
    dock.raise_()
    with floating(app, dock, 920, 560) as panel:
        panel.canvas.clear()
        draw_strokes(panel.canvas, demo_strokes("3"))
        app.sendEvent(panel.canvas, QEvent(QEvent.Type.Leave))  # no brush outline
        panel.canvas.clearFocus()
        app.processEvents()
        guess = None if panel.prediction is None else panel.bars.names()[panel.prediction.top]
        if guess != "3":
            print(f"warning: the Draw panel guesses {guess!r} for the demo 3", file=sys.stderr)
        shot = save_png(panel, path)
    window.docks["training"].raise_()
    return shot


def shoot_playground(app, window, path: Path) -> Path:
    """The Playground dock on a 3-arm spiral: a run on x1, x2 alone pinned, then a run with
    sin(x1), sin(x2) added, paused while the arms are being learned."""
    from mlp_studio.app.panels.playground.playground_display import SETTLE_MS

    dock, panel = window.docks["playground"], window.panels["playground"]
    state, controller = window.state, window.controller
    epochs = []
    controller.epochEnded.connect(lambda event: epochs.append(event.epoch))
    dock.raise_()
    state.set_source("playground")  # the Data panel's Train on: the playground's points
    from mlp_studio.core.suggestions import SUGGESTIONS

    state.apply_suggestion(SUGGESTIONS["playground"], "Playground settings")
    with floating(app, dock, 1400, 660):
        panel.classes_spin.setValue(3)
        panel.select_dataset("spiral")
        panel.set_features(("x1", "x2"))
        config = state.train_config
        config.epochs = 150
        state.set_train_config(config)
        window.train()  # x1, x2 only: the spiral is hard
        wait(app, lambda: epochs and epochs[-1] >= 150 and not controller.running)
        panel.pin()
        panel.set_features(("x1", "x2", "sin(x1)", "sin(x2)"))  # sines make the arms easy
        config.epochs = 300
        state.set_train_config(config)
        epochs.clear()
        window.train()
        wait(app, lambda: epochs and epochs[-1] >= 100)
        controller.pause()
        wait(app, lambda: controller.run_state in ("paused", "idle"))
        settled = time.monotonic() + (SETTLE_MS + 150) / 1000  # links antialiased again
        wait(app, lambda: time.monotonic() > settled)
        panel.message.clear()  # the playground-settings note, read once
        panel.refresh()
        app.processEvents()
        shot = save_png(panel, path)
    controller.stop()
    wait(app, lambda: not controller.running)
    return shot


def shoot_lesson(app, window, path: Path) -> Path:
    """The window with lesson 6 (vanishing gradients) loaded and trained: its text in the
    Lessons dock, the gradient norms per layer in the Training dock's Gradients tab."""
    controller, epochs = window.controller, []
    controller.epochEnded.connect(lambda event: epochs.append(event.epoch))
    window.file_actions.mark_clean()  # the spiral above is nothing to keep: no question
    panel = window.panels["lessons"]
    panel.select("vanishing-gradients")
    panel.load_button.click()
    window.raise_view("lessons")
    window.train()
    wait(app, lambda: epochs and epochs[-1] >= 40 and not controller.running)
    window.panels["training"].flush()
    app.processEvents()
    return save_png(window, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlp_studio.app.preview.screenshots")
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--data", help="MNIST folder (default: $MLP_STUDIO_DATA)")
    parser.add_argument("--subset", type=int, default=12_000, help="training images to use")
    parser.add_argument("--theme", choices=("light", "dark", "both"), default="both")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    args.outdir.mkdir(parents=True, exist_ok=True)
    themes = ("light", "dark") if args.theme == "both" else (args.theme,)
    if len(themes) > 1:  # one QApplication palette per process: run each theme separately
        import subprocess

        for theme in themes:
            command = [sys.executable, "-m", "mlp_studio.app.preview.screenshots", str(args.outdir),
                       "--subset", str(args.subset), "--theme", theme]  # fmt: skip
            if args.data:
                command += ["--data", args.data]
            if subprocess.run(command).returncode:
                return 1
        return 0
    for path in render(args.outdir, args.data, args.subset, themes[0]):
        print(f"{path} ({path.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
