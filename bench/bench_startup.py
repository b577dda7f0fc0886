"""Startup: time from launching `mlp-studio` to the window on screen, and to the panels ready.

Each repeat starts a fresh Python process (cold imports, as a user launching the app) that runs
the same code as `app.main.main()` and reports, relative to the moment the parent launched it:
- shown: the window's first paint (frame, menus, toolbar, "Loading the engine…");
- ready: torch, the state, the controller and all three panels loaded, docks built.
Also the import time of torch alone in a fresh process, for comparison. Target: shown < 3 s.

    python bench/bench_startup.py [--repeats 5] [--platform offscreen]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import sys, time
t0 = float(sys.argv[1])
from mlp_studio.app.main import make_application, open_main_window
app = make_application(sys.argv[:1])
window = open_main_window()
def shown():
    print(f"shown {time.time() - t0:.3f}", flush=True)
    print(f"torch_at_shown {int('torch' in sys.modules)}", flush=True)
def ready():
    print(f"ready {time.time() - t0:.3f}", flush=True)
    window.close()
    app.quit()
window.firstPainted.connect(shown)
window.engineLoaded.connect(ready)
app.exec()
"""

TORCH = (
    "import sys, time; t0 = float(sys.argv[1]); import torch; "
    "print(f'torch {time.time() - t0:.3f}')"
)


def run(code: str, env: dict) -> dict[str, float]:
    start = time.time()
    out = subprocess.run(
        [sys.executable, "-c", code, repr(start)], env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    if out.returncode != 0:
        raise SystemExit(f"child failed:\n{out.stderr}")
    values = {}
    for line in out.stdout.splitlines():
        key, _, value = line.partition(" ")
        values[key] = float(value)
    return values


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--platform", default=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    args = parser.parse_args()
    env = dict(os.environ, QT_QPA_PLATFORM=args.platform)
    env.pop("MLP_STUDIO_DATA", None)  # measure the app, not loading MNIST
    # Fresh config and data folders keep the user's window layout, last folder and any
    # crash-recovery autosave out of the measurement.
    scratch = tempfile.mkdtemp(prefix="mlp-bench-startup-")
    env["XDG_CONFIG_HOME"] = os.path.join(scratch, "config")
    env["XDG_DATA_HOME"] = os.path.join(scratch, "data")  # no recovery file to offer

    results: dict[str, list[float]] = {"shown": [], "ready": [], "torch": [], "torch_at_shown": []}
    for repeat in range(args.repeats):
        gui = run(CHILD, env)
        torch_only = run(TORCH, env)
        for key, value in (*gui.items(), *torch_only.items()):
            results[key].append(value)
        print(f"run {repeat + 1}: window shown {gui['shown']:.2f} s, panels ready "
              f"{gui['ready']:.2f} s; `import torch` alone {torch_only['torch']:.2f} s",
              flush=True)  # fmt: skip
    med = {k: statistics.median(v) for k, v in results.items()}
    if any(results["torch_at_shown"]):
        print("warning: torch was already imported when the window first painted")
    print(f"\nmedian of {args.repeats} ({args.platform}): window shown {med['shown']:.2f} s "
          f"[{'OK' if med['shown'] < 3 else 'TOO SLOW'}: < 3 s], panels ready "
          f"{med['ready']:.2f} s, import torch alone {med['torch']:.2f} s; worst shown "
          f"{max(results['shown']):.2f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
