"""Event-loop responsiveness while the GUI trains: lateness of a 10 ms QTimer probe.

A precise 10 ms repeating timer records when it fires; its lateness (interval - 10 ms) is what
a click or a repaint would wait. Measured idle (baseline) and during GUI training (the main
window offscreen, network and training docks on screen) with the views as the app runs them
("shown": the visible training tab redraws) and with every training tab redrawn at 20 Hz
("all"), for each worker thread count. Target: 99th percentile under 50 ms.

    python bench/bench_gui_latency.py [--data DIR] [--seconds 10] [--threads 1,2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from bench_gui_throughput import make_window, setup  # noqa: E402
from PySide6.QtCore import QEventLoop, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

PROBE_MS = 10


def probe(
    seconds: float, window=None, threads: int | None = None, all_tabs: bool = True
) -> np.ndarray:
    """Lateness (ms) of each probe tick over `seconds`; trains meanwhile if a window is given."""
    ticks: list[float] = []
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(PROBE_MS)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    redraw = None
    if window is not None:
        window.controller.threads = threads
        window.state.set_model(None)
        training = window.panels["training"]
        redraw = QTimer()
        redraw.setInterval(50)
        if all_tabs:  # hidden tabs too, as if every view were on screen
            redraw.timeout.connect(training.flush)
        redraw.start()
        window.train()
    timer.start()
    loop.exec()
    timer.stop()
    if window is not None:
        redraw.stop()
        done = QEventLoop()
        window.controller.finished.connect(done.quit)
        if window.controller.running:
            window.controller.stop()
            done.exec()
        window.controller.finished.disconnect(done.quit)
    intervals = np.diff(np.asarray(ticks)) * 1000
    return np.maximum(intervals - PROBE_MS, 0.0)


def describe(name: str, late: np.ndarray) -> str:
    p50, p99 = np.percentile(late, [50, 99])
    verdict = "OK" if p99 < 50 else "TOO SLOW"
    return (
        f"{name:<26} ticks {len(late):5d}  lateness median {p50:5.1f} ms  p99 {p99:6.1f} ms"
        f"  max {late.max():6.1f} ms  [{verdict}: p99 < 50 ms]"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.environ.get("MLP_STUDIO_DATA"))
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--hidden", type=lambda t: [int(v) for v in t.split(",")], default=[128])
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    args.epochs = 1000  # longer than the probe: training runs the whole time
    app = QApplication(sys.argv[:1])
    data, spec, config = setup(args)
    window = make_window(app, data, spec, config)
    print(
        f"network 784-{'-'.join(map(str, args.hidden))}-10, batch {args.batch_size}, "
        f"{len(data.x_train):,} training samples; {args.seconds:g} s per measurement"
    )
    print(describe("idle", probe(args.seconds)))
    probe(min(args.seconds, 5), window, 1)  # warm-up: the views' update pace settles
    for t in (int(v) for v in args.threads.split(",")):
        for all_tabs in (False, True):
            late = probe(args.seconds, window, t, all_tabs)
            name = f"training, {t} thread{'s' if t > 1 else ''}, {'all' if all_tabs else 'shown'}"
            pace = window.controller.pace
            print(f"{describe(name, late)}  views every {pace:.2f} s", flush=True)
    window.file_actions.maybe_save = lambda: True  # nobody to ask about saving
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
