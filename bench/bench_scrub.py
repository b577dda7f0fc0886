"""Scrubbing: the time to show a checkpoint in every view, and what keeping checkpoints costs.

1. In the real window (offscreen), a 784-256-128-10 network trains a few epochs (MNIST from
   $MLP_STUDIO_DATA, else random data of MNIST's shape), keeping a checkpoint per epoch. Then,
   with each view in front in turn (Training: Weights, Activations, Confusion, Curves; the
   Network diagram; Draw; Playground), the bench shows checkpoints and times until the
   visible views have redrawn and the window has repainted (hidden views catch up when shown;
   --flush-all redraws the hidden Training tabs too, as this bench did before they waited).
   Beside it the budget-free baseline: the same weights loaded into the model directly
   (load_state_dict + modelChanged), the same redraw.
2. The training process's cost per epoch of what it sends for checkpoints: the weights (sent
   before this feature too) and the optimizer state (new), copied and pickled, against the
   length of an epoch.

    python bench/bench_scrub.py [--epochs 3] [--shows 10] [--flush-all]
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--shows", type=int, default=10, help="checkpoints shown per view")
    parser.add_argument("--flush-all", action="store_true",
                        help="redraw every Training tab after each show, the hidden ones too "
                             "(how this bench measured before hidden views waited)")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    import torch
    from mlp_studio.app.main_window import MainWindow
    from mlp_studio.core.data import DataConfig, prepare_arrays, prepare_mnist
    from mlp_studio.core.mnist import load_mnist, resolve_data_dir
    from mlp_studio.core.model import LayerSpec, NetworkSpec
    from PySide6.QtCore import QEventLoop, QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    folder = resolve_data_dir()
    if folder is not None:
        data = prepare_mnist(load_mnist(folder), DataConfig())
        source = f"MNIST from {folder}"
    else:
        rng = np.random.default_rng(0)
        x = rng.integers(0, 256, (12_000, 784)).astype(np.float32)
        y = rng.integers(0, 10, 12_000)
        data = prepare_arrays(x[:8000], y[:8000], x[8000:10000], y[8000:10000], x[10000:],
                              y[10000:], "unit", [str(d) for d in range(10)])
        source = "random data of MNIST's shape (set MLP_STUDIO_DATA for MNIST)"
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings, autoload_data=False,
                        recovery_path=Path(tempfile.mkdtemp()) / "r.mlps")
    window.resize(1600, 1000)
    window.show()
    window.load_engine()
    state = window.state
    state.set_data(data)
    state.replace_spec(NetworkSpec(hidden=[LayerSpec(256), LayerSpec(128)]))
    config = state.train_config
    config.epochs, config.restore_best = args.epochs, False
    state.set_train_config(config)

    loop = QEventLoop()
    window.controller.finished.connect(loop.quit)
    started = time.perf_counter()
    window.train()
    loop.exec()
    train_seconds = time.perf_counter() - started
    timeline = state.timeline
    checkpoints = timeline.checkpoints()
    print(f"{source}; 784-256-128-10, {args.epochs} epochs in {train_seconds:.1f} s; "
          f"{timeline.tree.checkpoints.describe()}; {load_average()}")

    panel = window.panels["training"]
    draw = window.panels.get("canvas")
    if draw is not None:
        draw.pick_test_image(0)  # the Draw view predicts a digit with each checkpoint
    model = state.model

    def settle() -> None:
        # What the window does: the Training tab in front now (its redraw timer, run at
        # once), hidden tabs and docks when shown; then the repaint.
        panel.flush() if args.flush_all else panel.redraw_visible()
        app.processEvents()
        window.repaint()

    def show_checkpoint(checkpoint) -> None:
        timeline.show(checkpoint)
        settle()

    def set_directly(checkpoint) -> None:
        with torch.no_grad():
            model.load_state_dict({k: torch.from_numpy(v) for k, v in
                                   checkpoint.weights.items()})  # fmt: skip
        state.set_model(model)
        settle()

    views = [("Training: Weights", "training", panel.weights),
             ("Training: Activations", "training", panel.activations),
             ("Training: Confusion", "training", panel.confusion),
             ("Training: Curves", "training", panel.curves),
             ("Network diagram", "designer", None), ("Draw", "canvas", None)]
    order = [checkpoints[i % len(checkpoints)] for i in range(args.shows)]
    print(f"\n{'view in front':24} {'checkpoint (ms)':>16} {'direct (ms)':>12}  ratio")
    worst = 0.0
    for name, dock, tab in views:
        if dock not in window.docks:
            continue
        window.docks[dock].raise_()
        if tab is not None:
            panel.tabs.setCurrentWidget(tab)
        settle()
        shown, direct = [], []
        for checkpoint in order:  # interleaved: the machine's noise hits both alike
            t = time.perf_counter()
            show_checkpoint(checkpoint)
            shown.append(1000 * (time.perf_counter() - t))
            timeline.return_to_latest()
            settle()
            t = time.perf_counter()
            set_directly(checkpoint)
            direct.append(1000 * (time.perf_counter() - t))
            timeline.show(None)
            with torch.no_grad():
                model.load_state_dict({k: torch.from_numpy(v)
                                       for k, v in checkpoints[-1].weights.items()})
            settle()
        a, b = statistics.median(shown), statistics.median(direct)
        worst = max(worst, max(shown))
        print(f"{name:24} {a:16.1f} {b:12.1f}  {a / b:5.2f}x   (max {max(shown):.0f} ms; "
              f"load {os.getloadavg()[0]:.1f})")
    print(f"slowest single show: {worst:.0f} ms (goal: under 200 ms); {load_average()}")
    playground_view(app, window, args.shows)
    window.file_actions.mark_clean()  # closing would ask whether to save the session
    window.close()

    # ---- 2. the child's cost per epoch ----
    from mlp_studio.core.epoch_weights import portable, state_arrays
    from mlp_studio.core.optimizers import make_optimizer, optimizer_state_of
    from mlp_studio.core.training import TrainConfig

    config = TrainConfig()
    optimizer = make_optimizer(list(model.parameters()), config)
    loss = model(data.x_train[:128]).sum()
    loss.backward()
    optimizer.step()  # Adam's moments exist now
    weights_ms, both_ms = [], []
    for _ in range(20):
        t = time.perf_counter()
        pickle.dumps(state_arrays(model.state_dict()))
        weights_ms.append(1000 * (time.perf_counter() - t))
        t = time.perf_counter()
        pickle.dumps((state_arrays(model.state_dict()),
                      portable(optimizer_state_of(optimizer, config), np.asarray)))
        both_ms.append(1000 * (time.perf_counter() - t))
    epoch_s = train_seconds / args.epochs
    w, o = statistics.median(weights_ms), statistics.median(both_ms)
    print(f"\nper epoch in the training process: weights {w:.1f} ms (sent before checkpoints "
          f"too), weights + Adam state {o:.1f} ms: +{o - w:.1f} ms, "
          f"{100 * (o - w) / 1000 / epoch_s:.2f}% of a {epoch_s:.2f} s epoch (measured in "
          "the run above, with its start-up)")


def load_average() -> str:
    """The machine's load beside each figure: on shared cores the times follow it."""
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "load average unknown"
    return f"load average {one:.1f} (5 min {five:.1f}) on {os.cpu_count()} cores"


def playground_view(app, window, shows: int) -> None:
    """The Playground shows 2-D networks only: its default problem, trained 40 epochs with
    the suggested 2-8-8 network, then scrubbed with the Playground in front."""
    import torch
    from PySide6.QtCore import QEventLoop

    state, playground = window.state, window.panels.get("playground")
    if playground is None:
        return
    state.set_source("playground")
    window.docks["playground"].raise_()
    app.processEvents()
    config = state.train_config
    config.epochs, config.restore_best = 40, False
    state.set_train_config(config)
    loop = QEventLoop()
    window.controller.finished.connect(loop.quit)
    window.train()
    loop.exec()
    timeline, model = state.timeline, state.model
    checkpoints = timeline.checkpoints()

    def settle() -> None:
        app.processEvents()
        playground.refresh(True)  # its frame, now rather than on its timer
        window.repaint()

    shown, direct = [], []
    for i in range(shows):
        checkpoint = checkpoints[(7 * i) % len(checkpoints)]
        t = time.perf_counter()
        timeline.show(checkpoint)
        settle()
        shown.append(1000 * (time.perf_counter() - t))
        timeline.return_to_latest()
        settle()
        t = time.perf_counter()
        with torch.no_grad():
            model.load_state_dict({k: torch.from_numpy(v) for k, v in
                                   checkpoint.weights.items()})  # fmt: skip
        state.set_model(model)
        settle()
        direct.append(1000 * (time.perf_counter() - t))
        with torch.no_grad():
            model.load_state_dict({k: torch.from_numpy(v)
                                   for k, v in checkpoints[-1].weights.items()})
        settle()
    a, b = statistics.median(shown), statistics.median(direct)
    print(f"{'Playground (2-8-8-2)':24} {a:16.1f} {b:12.1f}  {a / b:5.2f}x   (max "
          f"{max(shown):.0f} ms; {len(checkpoints)} checkpoints, "
          f"{timeline.tree.checkpoints.describe()}); {load_average()}")


if __name__ == "__main__":
    main()
