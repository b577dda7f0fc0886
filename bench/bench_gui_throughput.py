"""Training throughput through the GUI (every live view on) vs the headless engine.

Same data, network, optimizer, batch size and epochs; runs interleaved in one process
(headless, GUI, headless, GUI, ...) because the machine is noisy: only ratios measured in
one run mean anything. Headless is what the CLI does: Trainer.run() on the main thread with
torch's default thread count and no snapshots. GUI is the real main window (offscreen) with
its TrainingController (the trainer in a child process with the given thread count, snapshots
and probe activations), the network and training docks visible, and every training-view tab
redrawn at 20 Hz.

Throughput = training samples / training seconds (EpochEnd.seconds: the epochs' batches,
without validation), and also per wall-clock second of the whole run.

    python bench/bench_gui_throughput.py [--data DIR] [--epochs 2] [--repeats 3]
                                         [--threads 1,2] [--hidden 128] [--batch-size 128]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from mlp_studio.core.threads import training_threads, use_passive_wait  # noqa: E402

use_passive_wait()  # as app.main does, before torch loads OpenMP

import torch  # noqa: E402
from mlp_studio.core.data import DataConfig, prepare_mnist  # noqa: E402
from mlp_studio.core.mnist import load_mnist  # noqa: E402
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model  # noqa: E402
from mlp_studio.core.training import EpochEnd, TrainConfig, Trainer  # noqa: E402
from PySide6.QtCore import QEventLoop, QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def setup(args):
    mnist = load_mnist(args.data, download=False)
    data = prepare_mnist(mnist, DataConfig())
    spec = NetworkSpec(hidden=[LayerSpec(h) for h in args.hidden])
    config = TrainConfig(batch_size=args.batch_size, epochs=args.epochs)
    return data, spec, config


def headless(data, spec, config, threads: int | None = None) -> tuple[float, float]:
    """(samples per training second, samples per wall second) of a plain Trainer.run()."""
    default = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        return _headless(data, spec, config)
    finally:
        torch.set_num_threads(default)


def _headless(data, spec, config) -> tuple[float, float]:
    epochs: list[EpochEnd] = []
    trainer = Trainer(
        build_model(spec), data, config,
        on_event=lambda e: epochs.append(e) if isinstance(e, EpochEnd) else None,
    )  # fmt: skip
    start = time.perf_counter()
    trainer.run()
    wall = time.perf_counter() - start
    samples = len(data.x_train) * config.epochs
    return samples / sum(e.seconds for e in epochs), samples / wall


def make_window(app, data, spec, config):
    from mlp_studio.app.main_window import MainWindow

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    window = MainWindow(
        QSettings("mlp-studio-bench", "bench"),
        autoload_data=False,
        recovery_path=Path(tempfile.mkdtemp()) / "recovery.mlps",
    )
    window.resize(1600, 1000)
    window.show()
    window.load_engine()
    window.docks["designer"].raise_()  # the live diagram is on screen too
    window.state.set_data(data)
    window.state.replace_spec(spec)
    window.state.set_train_config(config)
    app.processEvents()
    return window


def gui(app, window, spec, threads: int) -> tuple[float, float, float, float]:
    """(samples per training second, per wall second, view updates and snapshots shown per
    wall second) of a GUI run."""
    state, controller = window.state, window.controller
    controller.threads = threads
    state.set_model(None)  # fresh weights, same seed as headless
    training = window.panels["training"]
    epochs: list[EpochEnd] = []
    snapshots, updates = [], []
    controller.epochEnded.connect(epochs.append)
    controller.snapshot.connect(snapshots.append)
    controller.progress.connect(updates.append)  # one per delivery (two at an epoch's end)
    # Every view on: redraw every training-view tab (not only the visible one) at 20 Hz.
    redraw = QTimer()
    redraw.setInterval(50)
    redraw.timeout.connect(training.flush)
    redraw.start()
    loop = QEventLoop()
    controller.finished.connect(loop.quit)
    start = time.perf_counter()
    window.train()
    loop.exec()  # the real event loop, as in the app
    wall = time.perf_counter() - start
    redraw.stop()
    controller.epochEnded.disconnect(epochs.append)
    controller.snapshot.disconnect(snapshots.append)
    controller.progress.disconnect(updates.append)
    controller.finished.disconnect(loop.quit)
    samples = len(state.data.x_train) * state.train_config.epochs
    return (samples / sum(e.seconds for e in epochs), samples / wall, len(updates) / wall,
            len(snapshots) / wall)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.environ.get("MLP_STUDIO_DATA"))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", default="1,2", help="worker thread counts to compare")
    parser.add_argument("--hidden", type=lambda t: [int(v) for v in t.split(",")], default=[128])
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    threads = [int(t) for t in args.threads.split(",")]

    cli_threads = training_threads()  # what the CLI and the app's training process use
    app = QApplication(sys.argv[:1])
    data, spec, config = setup(args)
    window = make_window(app, data, spec, config)
    print(
        f"MNIST {len(data.x_train):,} training samples, network 784-"
        f"{'-'.join(map(str, args.hidden))}-10, Adam, batch {args.batch_size}, "
        f"{args.epochs} epochs; torch {torch.__version__}, {os.cpu_count()} cores; headless "
        f"with the same thread count as each GUI run, and with {cli_threads} (the CLI's and "
        f"the app's default); load average {os.getloadavg()[0]:.1f}"
    )

    keys = sorted({cli_threads, *threads})
    results: dict[str, list[tuple[float, ...]]] = {f"headless-{t}": [] for t in keys}
    results.update({f"gui-{t}": [] for t in threads})
    warm = TrainConfig(batch_size=args.batch_size, epochs=1)
    headless(data, spec, warm)
    window.state.set_train_config(warm)
    gui(app, window, spec, threads[0])  # warm-up: the views' update pace settles
    window.state.set_train_config(config)
    for repeat in range(args.repeats):
        for t in keys:
            results[f"headless-{t}"].append(headless(data, spec, config, threads=t))
        for t in threads:
            cpu = time.thread_time()
            run = gui(app, window, spec, t)
            busy = (time.thread_time() - cpu) * run[1] / (len(data.x_train) * args.epochs)
            results[f"gui-{t}"].append((*run, busy))
        line = " | ".join(f"{k} {v[-1][0]:,.0f}/s" for k, v in results.items())
        last = {k: v[-1][0] for k, v in results.items()}
        ratios = ", ".join(f"gui-{t} {last[f'gui-{t}'] / last[f'headless-{t}']:.0%}"
                           for t in threads)  # fmt: skip
        print(f"repeat {repeat + 1}: {line}  ({ratios} of headless)", flush=True)

    med = {k: statistics.median(r[0] for r in v) for k, v in results.items()}
    print("\nmedians, samples per training second: "
          + ", ".join(f"{k} {v:,.0f}" for k, v in med.items()))  # fmt: skip
    for t in threads:
        runs, same = results[f"gui-{t}"], results[f"headless-{t}"]
        # The ratio within each repeat (the two runs back to back), then their median: the
        # machine's speed drifts between repeats.
        ratio = statistics.median(g[0] / h[0] for g, h in zip(runs, same, strict=True))
        updates = statistics.median(r[2] for r in runs)
        shots = statistics.median(r[3] for r in runs)
        busy = statistics.median(r[4] for r in runs)
        print(
            f"GUI, training process with {t} thread{'s' if t > 1 else ''}: {med[f'gui-{t}']:,.0f}"
            f"/s, {ratio:.0%} of headless with {t} (median of the repeats' ratios); GUI thread "
            f"busy {busy:.0%}; views updated {updates:.1f} times a second, weights and "
            f"activations (snapshots) {shots:.1f} times a second"
        )
    if cli_threads in threads:
        runs, cli = results[f"gui-{cli_threads}"], results[f"headless-{cli_threads}"]
        ratio = statistics.median(g[0] / h[0] for g, h in zip(runs, cli, strict=True))
        print(f"As shipped (the app's training process and the CLI both on {cli_threads} "
              f"thread{'s' if cli_threads > 1 else ''}): GUI-driven training {ratio:.2f}x the "
              f"CLI; load average at the end {os.getloadavg()[0]:.1f}")
    window.file_actions.maybe_save = lambda: True  # nobody to ask about saving
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
