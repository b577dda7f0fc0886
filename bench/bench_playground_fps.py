"""Frame rate of the playground's live boundary while a network trains (offscreen).

The panel is fed as in the app: by a TrainingController (the trainer in a child process),
whose deliveries to the views follow how busy the GUI thread is (PACE_* in
app/model/training_controller.py). As the reference, the same run with no view connected. Per run
it prints
  fps         boundary frames (100 x 100 grid recomputed and redrawn) per second of training
  frame ms    median / 95th percentile of one frame's recomputation (painting comes on top)
  steps/s     training batches per second
and the issue's figure: the frame rate on 2-8-8-1 against the target of 10 frames a second.

    python bench/bench_playground_fps.py [--seconds 6] [--snapshot-interval 0.1]
"""

import argparse
import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from mlp_studio.app.model.experiment import Experiment  # noqa: E402
from mlp_studio.app.model.training_controller import SNAPSHOT_INTERVAL, TrainingController  # noqa: E402
from mlp_studio.app.panels.playground.playground_panel import PlaygroundPanel  # noqa: E402
from mlp_studio.core.activations import ActivationSpec  # noqa: E402
from mlp_studio.core.model import LayerSpec  # noqa: E402
from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

TARGET_FPS = 10.0


def wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_for(signal) -> None:
    loop = QEventLoop()
    signal.connect(loop.quit)
    loop.exec()
    signal.disconnect(loop.quit)


def panel_for(dataset: str, classes: int) -> PlaygroundPanel:
    state = Experiment()
    panel = PlaygroundPanel(state)
    panel.resize(1300, 700)
    panel.show()
    panel.select_dataset(dataset)
    if dataset == "spiral":
        panel.classes_spin.setValue(classes)
    spec = state.spec
    spec.hidden = [LayerSpec(8, ActivationSpec("tanh")), LayerSpec(8, ActivationSpec("tanh"))]
    state.edit_spec(spec, "bench network")
    config = state.train_config
    config.epochs = 100_000  # stopped after the measurement
    state.set_train_config(config)
    wait(100)
    return panel


def run(dataset: str, classes: int, seconds: float, snapshot_interval: float,
        mode: str) -> dict:
    """mode: "app" (the controller feeds the panel) or "blind" (no view connected)."""
    panel = panel_for(dataset, classes)
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
    source = TrainingController(state, snapshot_interval=snapshot_interval)
    source.failed.connect(lambda message: print("training failed:", message))
    source.progress.connect(lambda e: steps.append((time.perf_counter(), e.step)))
    if mode != "blind":
        source.snapshot.connect(panel.on_snapshot)
        source.epochEnded.connect(panel.on_epoch_end)
        source.progress.connect(panel.on_progress)
    source.start()
    # The first run waits for the training process's server to import torch: start the
    # clock once training runs.
    wait_for(source.progress)
    steps.clear()
    frame_ms.clear()
    frames_before, started = panel.frames_drawn, time.perf_counter()
    wait(int(seconds * 1000))
    elapsed = time.perf_counter() - started
    frames = panel.frames_drawn - frames_before
    (t0, s0), (t1, s1) = steps[0], steps[-1]
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
    parser.add_argument("--snapshot-interval", type=float, default=SNAPSHOT_INTERVAL,
                        help=f"seconds between snapshots (the app's: {SNAPSHOT_INTERVAL})")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
          f"snapshot interval {args.snapshot_interval} s; {args.seconds:g} s per run")  # fmt: skip
    slowest = None
    for dataset, classes in (("gaussian_sum", 1), ("xor", 2), ("spiral", 2), ("spiral", 5)):
        results = {m: run(dataset, classes, args.seconds, args.snapshot_interval, m)
                   for m in ("app", "blind")}  # fmt: skip
        r = results["app"]
        ms = r["frame_ms"]
        name = f"spiral x{classes}" if dataset == "spiral" else dataset
        print(f"{name:>12} {r['network']:>9}: {r['fps']:5.1f} frames/s, frame "
              f"{np.median(ms):4.1f} ms (p95 {np.percentile(ms, 95):4.1f}); training "
              f"{r['steps_per_s']:6,.0f} steps/s, {results['blind']['steps_per_s']:6,.0f} "
              "with no view")  # fmt: skip
        if r["network"].startswith("2-8-8-") and (slowest is None or r["fps"] < slowest):
            slowest = r["fps"]
    app.processEvents()
    print(f"\nslowest 2-8-8-x boundary: {slowest:.1f} frames/s (target {TARGET_FPS:g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
