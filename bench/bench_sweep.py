"""Sweep overhead: a 20-trial sweep of 1-epoch runs against the same 20 runs started one by one
from the command line, then the sweep again with --workers 2.

The sweep draws its 20 settings (random sampler, no pruning: every trial trains its whole
epoch); the one-by-one runs are `mlp-studio train` with exactly those settings. Wall-clock
times of whole commands, as a person would wait for them; the ratios are what to read (the
machine is shared and noisy).

    python bench/bench_sweep.py [--data DIR] [--trials 20] [--subset N] [--hidden 128]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = [sys.executable, "-m", "mlp_studio.core.cli"]
PARAMS = ["lr=1e-4..1e-1:log", "hidden=32..256:log", "activation=relu,tanh"]


def run(command: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{done.stderr}")
    return time.perf_counter() - start


def train_options(params: dict) -> list[str]:
    out = []
    for name, value in params.items():
        out += [f"--{name}", str(value).replace("/", ",")]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("MLP_STUDIO_DATA"))
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--subset", type=int, help="training samples per run (default: all)")
    args = parser.parse_args()
    if not args.data:
        sys.exit("give --data DIR or set MLP_STUDIO_DATA to the MNIST folder")
    fixed = ["--data", args.data, "--epochs", "1", "--no-download"]
    if args.subset:
        fixed += ["--subset", str(args.subset)]
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "sweep.json"
        sweep = [*CLI, "sweep", *fixed, *(a for p in PARAMS for a in ("--param", p)),
                 "--trials", str(args.trials), "--sampler", "random", "--no-prune", "--quiet"]
        swept = run([*sweep, "--storage", str(Path(tmp) / "a.db"), "--metrics-json",
                     str(report)])
        trials = json.loads(report.read_text())["trials"]
        print(f"sweep, 1 worker:      {swept:6.1f} s for {len(trials)} trials", flush=True)

        one_by_one = sum(run([*CLI, "train", *fixed, *train_options(t["params"]), "--quiet"])
                         for t in trials)
        print(f"one by one (train):   {one_by_one:6.1f} s   sweep / one-by-one = "
              f"{swept / one_by_one:.2f}", flush=True)

        two = run([*sweep, "--storage", str(Path(tmp) / "b.db"), "--workers", "2"])
        print(f"sweep, --workers 2:   {two:6.1f} s   vs one-by-one = {two / one_by_one:.2f}, "
              f"vs 1 worker = {two / swept:.2f}")
        print(f"({os.cpu_count()} cores; subset {args.subset or 'all'}; "
              f"params {' '.join(PARAMS)})")


if __name__ == "__main__":
    main()
