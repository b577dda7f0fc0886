"""Frame rate of the playground's live boundary while a network trains (offscreen).

The real path: TrainingController trains in its QThread and emits snapshots; the panel copies
them into its private model and redraws the 100 x 100 boundary and the neuron tiles on the GUI
thread (at most every FRAME_MS). Measures, for a few seconds of training each:
  fps        boundary frames drawn per second of training
  frame ms   median / 95th percentile time of one redraw (grid pass + images + tiles)
  steps/s    training batches per second, with the panel live and without any panel
Fails (exit 1) below 10 frames per second on the 2-8-8-1 network.

    python bench/bench_playground_fps.py [--seconds 6] [--snapshot-interval 0.05]
"""

import argparse
import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.controller import TrainingController  # noqa: E402
from app.playground_panel import PlaygroundPanel  # noqa: E402
from app.state import StudioState  # noqa: E402
from core.activations import ActivationSpec  # noqa: E402
from core.model import LayerSpec  # noqa: E402

TARGET_FPS = 10.0


def wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def run(dataset: str, seconds: float, snapshot_interval: float, live: bool) -> dict:
    state = StudioState()
    panel = PlaygroundPanel(state)
    panel.resize(1300, 700)
    panel.show()
    panel.select_dataset(dataset)
    spec = state.spec
    spec.hidden = [LayerSpec(8, ActivationSpec("tanh")), LayerSpec(8, ActivationSpec("tanh"))]
    state.edit_spec(spec, "bench network")
    config = state.train_config
    config.epochs = 100_000  # stopped after `seconds`
    state.set_train_config(config)
    wait(100)

    frame_ms = []
    refresh = panel.refresh

    def timed_refresh(grids: bool = True):
        start = time.perf_counter()
        refresh(grids)
        if grids:
            frame_ms.append((time.perf_counter() - start) * 1000)

    panel.refresh = timed_refresh
    controller = TrainingController(state, snapshot_interval=snapshot_interval)
    steps = []
    controller.progress.connect(lambda e: steps.append((time.perf_counter(), e.step)))
    if live:
        controller.snapshot.connect(panel.on_snapshot)
        controller.epochEnded.connect(panel.on_epoch_end)
        controller.progress.connect(panel.on_progress)
    controller.failed.connect(lambda message: print("training failed:", message))
    controller.start()
    # The first batch pays for torch's lazy imports (seconds on a busy machine): start the
    # clock once training runs.
    loop = QEventLoop()
    controller.progress.connect(loop.quit)
    loop.exec()
    controller.progress.disconnect(loop.quit)
    steps.clear()
    frame_ms.clear()
    frames_before = panel.frames_drawn
    started = time.perf_counter()
    wait(int(seconds * 1000))
    elapsed = time.perf_counter() - started
    frames = panel.frames_drawn - frames_before
    controller.stop()
    loop = QEventLoop()
    controller.finished.connect(loop.quit)
    if controller.running:
        loop.exec()
    controller.shutdown()
    spec_text = "-".join(str(n) for n in state.model.layer_sizes())
    (t0, s0), (t1, s1) = steps[0], steps[-1]
    panel.close()
    return {
        "network": spec_text,
        "fps": frames / elapsed,
        "frame_ms": np.array(frame_ms or [np.nan]),
        "steps_per_s": (s1 - s0) / max(t1 - t0, 1e-9),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument(
        "--snapshot-interval",
        type=float,
        default=0.05,
        help="seconds between snapshots (the controller's default is 0.15)",
    )
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv)
    print(
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
        f"snapshot interval {args.snapshot_interval} s; {args.seconds:g} s per run"
    )
    ok = True
    for dataset in ("gaussian_sum", "spiral"):
        live = run(dataset, args.seconds, args.snapshot_interval, live=True)
        blind = run(dataset, args.seconds, args.snapshot_interval, live=False)
        ms = live["frame_ms"]
        print(
            f"{dataset:>12} {live['network']:>9}: {live['fps']:5.1f} frames/s, frame "
            f"{np.median(ms):.1f} ms (p95 {np.percentile(ms, 95):.1f}); training "
            f"{live['steps_per_s']:,.0f} steps/s live vs {blind['steps_per_s']:,.0f} without views"
        )
        if dataset == "gaussian_sum" and live["fps"] < TARGET_FPS:
            ok = False
    app.processEvents()
    if not ok:
        print(f"FAIL: below {TARGET_FPS:g} frames per second")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
