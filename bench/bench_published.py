"""Published MLP results on MNIST against MLP Studio's presets that reproduce them (issue 14).

Each recipe in core.presets with a published test error (LeCun et al. 1998, Simard et al. 2003,
Keras' mnist_mlp) is trained through the command line exactly as a user would run it,
`mlp-studio train --preset KEY`, on full MNIST, one thread; printed: the published error, the
measured one (mean and spread over --seeds), the epoch reported, the seconds and the load.

    python bench/bench_published.py [--data DIR] [--seeds 1] [--only simard-800,...]
"""

import argparse
import io
import json
import os
import statistics
import tempfile
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from mlp_studio.core.cli import main as cli  # noqa: E402
from mlp_studio.core.presets import PRESETS  # noqa: E402


def run(key: str, data: str, seed: int, folder: Path) -> tuple[float, int | None]:
    out = folder / f"{key}-{seed}.json"
    said = io.StringIO()  # the run's table and messages: shown only if it fails
    with redirect_stdout(said), redirect_stderr(said):
        code = cli(["train", "--data", data, "--no-download", "--preset", key, "--seed", str(seed),
                    "--quiet", "--metrics-json", str(out)])
    if code:
        raise SystemExit(f"{key}: the command line failed with status {code}:\n{said.getvalue()}")
    report = json.loads(out.read_text())
    return 100.0 * (1.0 - report["test_accuracy"]), report["best_epoch"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.environ.get("MLP_STUDIO_DATA"))
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--only", default="", help="comma list of preset keys")
    args = parser.parse_args()
    if not args.data:
        raise SystemExit("give --data DIR (the MNIST folder) or set MLP_STUDIO_DATA")
    keys = [k for k, p in PRESETS.items() if p.published_error is not None]
    if args.only:
        keys = [k for k in keys if k in args.only.split(",")]
    print(f"seeds 0..{args.seeds - 1}, one thread; load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        for key in keys:
            preset = PRESETS[key]
            errors, start = [], time.perf_counter()
            for seed in range(args.seeds):
                error, epoch = run(key, args.data, seed, Path(tmp))
                errors.append(error)
            spread = statistics.stdev(errors) if len(errors) > 1 else 0.0
            print(f"{preset.title}\n  {preset.reference}\n  settings: {preset.summary}\n"
                  f"  published {preset.published_error:.2f}% | measured "
                  f"{statistics.mean(errors):.2f}% ± {spread:.2f} test error "
                  f"({', '.join(f'{e:.2f}' for e in errors)}; epoch reported {epoch}); "
                  f"{time.perf_counter() - start:.0f} s, load {os.getloadavg()[0]:.1f}",
                  flush=True)


if __name__ == "__main__":
    main()
