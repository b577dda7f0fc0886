"""Frame rate of the playground's live boundary while a network trains (offscreen).

Two ways of feeding the panel, each for a few seconds of training per dataset:
  direct      core Trainer in a Python thread, its events re-emitted through a queued Qt
              signal straight to the panel's slots (every snapshot reaches the GUI thread)
  controller  the app's TrainingController (QThread), which paces its deliveries to the views
              by how busy the GUI thread is (PACE_* in app/controller.py)
and, as the reference, the trainer's speed with no view connected. Per run it prints
  fps         boundary frames (100 x 100 grid recomputed and redrawn) per second of training
  frame ms    median / 95th percentile of one frame's recomputation (painting comes on top)
  steps/s     training batches per second
Fails (exit 1) when the direct path draws fewer than 10 frames per second on 2-8-8-1.

    python bench/bench_playground_fps.py [--seconds 6] [--snapshot-interval 0.05]
"""

import argparse
import os
import sys
import threading
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtCore import QEventLoop, QObject, QTimer, Signal  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.controller import TrainingController  # noqa: E402
from app.playground_panel import PlaygroundPanel  # noqa: E402
from app.state import StudioState  # noqa: E402
from core.activations import ActivationSpec  # noqa: E402
from core.model import LayerSpec  # noqa: E402
from core.training import BatchProgress, EpochEnd, Snapshot, Trainer  # noqa: E402

TARGET_FPS = 10.0


class Relay(QObject):
    """Created in the GUI thread; emitting from the trainer's thread queues to the slots."""

    snapshot = Signal(object)
    epochEnded = Signal(object)
    progress = Signal(object)

    def on_event(self, event) -> None:
        if isinstance(event, Snapshot):
            self.snapshot.emit(event)
        elif isinstance(event, EpochEnd):
            self.epochEnded.emit(event)
        elif isinstance(event, BatchProgress):
            self.progress.emit(event)


def wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_for(signal) -> None:
    loop = QEventLoop()
    signal.connect(loop.quit)
    loop.exec()
    signal.disconnect(loop.quit)


def panel_for(dataset: str) -> PlaygroundPanel:
    state = StudioState()
    panel = PlaygroundPanel(state)
    panel.resize(1300, 700)
    panel.show()
    panel.select_dataset(dataset)
    spec = state.spec
    spec.hidden = [LayerSpec(8, ActivationSpec("tanh")), LayerSpec(8, ActivationSpec("tanh"))]
    state.edit_spec(spec, "bench network")
    config = state.train_config
    config.epochs = 100_000  # stopped after the measurement
    state.set_train_config(config)
    wait(100)
    return panel


def run(dataset: str, seconds: float, snapshot_interval: float, mode: str) -> dict:
    """mode: "direct", "controller" or "blind" (controller, no view connected)."""
    panel = panel_for(dataset)
    state = panel.state
    frame_ms = []
    refresh = panel.refresh

    def timed_refresh(grids: bool = True):
        start = time.perf_counter()
        refresh(grids)
        if grids:
            frame_ms.append((time.perf_counter() - start) * 1000)

    panel.refresh = timed_refresh
    steps = []
    if mode == "direct":
        source = Relay()
        trainer = Trainer(state.ensure_model(), state.data, state.train_config,
                          source.on_event, snapshot_interval=snapshot_interval)  # fmt: skip
        state.set_training(True)  # as the controller does: the panel copies the model
        thread = threading.Thread(target=trainer.run, daemon=True)
    else:
        source = TrainingController(state, snapshot_interval=snapshot_interval)
        source.failed.connect(lambda message: print("training failed:", message))
    source.progress.connect(lambda e: steps.append((time.perf_counter(), e.step)))
    if mode != "blind":
        source.snapshot.connect(panel.on_snapshot)
        source.epochEnded.connect(panel.on_epoch_end)
        source.progress.connect(panel.on_progress)
    thread.start() if mode == "direct" else source.start()
    # The first batch pays for torch's lazy imports (seconds on a busy machine): start the
    # clock once training runs.
    wait_for(source.progress)
    steps.clear()
    frame_ms.clear()
    frames_before, started = panel.frames_drawn, time.perf_counter()
    wait(int(seconds * 1000))
    elapsed = time.perf_counter() - started
    frames = panel.frames_drawn - frames_before
    (t0, s0), (t1, s1) = steps[0], steps[-1]
    if mode == "direct":
        trainer.stop()
        thread.join()
        state.set_training(False)
    else:
        source.stop()
        if source.running:
            wait_for(source.finished)
        source.shutdown()
    network = "-".join(str(n) for n in state.model.layer_sizes())
    panel.close()
    return {
        "network": network,
        "fps": frames / elapsed,
        "frame_ms": np.array(frame_ms or [np.nan]),
        "steps_per_s": (s1 - s0) / max(t1 - t0, 1e-9),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--snapshot-interval", type=float, default=0.05,
                        help="seconds between snapshots (the controller's: 0.15)")  # fmt: skip
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
          f"snapshot interval {args.snapshot_interval} s; {args.seconds:g} s per run")  # fmt: skip
    ok = True
    for dataset in ("gaussian_sum", "spiral"):
        results = {m: run(dataset, args.seconds, args.snapshot_interval, m)
                   for m in ("direct", "controller", "blind")}  # fmt: skip
        network = results["direct"]["network"]
        for mode in ("direct", "controller"):
            r = results[mode]
            ms = r["frame_ms"]
            print(f"{dataset:>12} {network:>9} {mode:>10}: {r['fps']:5.1f} frames/s, frame "
                  f"{np.median(ms):4.1f} ms (p95 {np.percentile(ms, 95):4.1f}); training "
                  f"{r['steps_per_s']:6,.0f} steps/s")  # fmt: skip
        print(f"{'':>33} no view: training {results['blind']['steps_per_s']:6,.0f} steps/s")
        if dataset == "gaussian_sum" and results["direct"]["fps"] < TARGET_FPS:
            ok = False
    app.processEvents()
    if not ok:
        print(f"FAIL: the direct path drew fewer than {TARGET_FPS:g} frames per second")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
