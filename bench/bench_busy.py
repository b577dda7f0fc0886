"""Training throughput with one core kept busy by another process, against a quieter machine.

Each measurement is a fresh Python process (the OpenMP wait policy is read once, when torch
loads) that trains one epoch with the Trainer, as the CLI does, and prints its samples per
second (EpochEnd.seconds: the batches, without validation). Busy runs start, just before,
a process that spins on one core and stops by itself after `--busy-seconds` (and is ended as
soon as the measurement is done). Configurations and quiet/busy runs take turns within each
round, so the shared machine's own load falls on all alike; the load average is printed.

Configurations: torch's default thread count with OpenMP's default (spinning) wait policy,
the same with OMP_WAIT_POLICY=PASSIVE, and one thread with PASSIVE: what the CLI and the app's
training process use (core.threads).

    python bench/bench_busy.py [--data DIR] [--repeats 3] [--hidden 128] [--busy-seconds 60]
"""

import argparse
import os
import statistics
import subprocess
import sys

CHILD = """
import sys, torch
from mlp_studio.core.data import DataConfig, prepare_mnist
from mlp_studio.core.mnist import load_mnist
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model
from mlp_studio.core.training import EpochEnd, TrainConfig, Trainer
threads, hidden, data_dir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
if threads:
    torch.set_num_threads(threads)
data = prepare_mnist(load_mnist(data_dir, download=False), DataConfig())
spec = NetworkSpec(784, [LayerSpec(int(h)) for h in hidden.split(",")], 10)
events = []
Trainer(build_model(spec), data, TrainConfig(epochs=1), on_event=events.append).run()
print(len(data.x_train) / sum(e.seconds for e in events if isinstance(e, EpochEnd)))
"""

SPIN = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"

# name: (torch threads (0: torch's default), OMP_WAIT_POLICY or None for OpenMP's default)
CONFIGS = {
    "default threads, spinning wait": (0, None),
    "default threads, PASSIVE wait": (0, "PASSIVE"),
    "1 thread, PASSIVE (what ships)": (1, "PASSIVE"),
}


def measure(threads: int, policy: str | None, hidden: str, data: str, busy: float) -> float:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    spinner = (subprocess.Popen([sys.executable, "-c", SPIN.format(seconds=busy)])
               if busy else None)
    try:
        out = subprocess.run([sys.executable, "-c", CHILD, str(threads), hidden, data], env=env,
                             capture_output=True, text=True, check=True)
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()
    return float(out.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.environ.get("MLP_STUDIO_DATA"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--hidden", default="128", help="hidden sizes, e.g. 512,512")
    parser.add_argument("--busy-seconds", type=float, default=60.0,
                        help="the longest the busy process runs")
    args = parser.parse_args()
    results = {(name, busy): [] for name in CONFIGS for busy in (False, True)}
    loads = [os.getloadavg()[0]]
    for _ in range(args.repeats):
        for name, (threads, policy) in CONFIGS.items():
            for busy in (False, True):
                results[name, busy].append(measure(threads, policy, args.hidden, args.data,
                                                   args.busy_seconds if busy else 0))
        loads.append(os.getloadavg()[0])
    print(f"784-{args.hidden.replace(',', '-')}-10, Adam, batch 128, one epoch per run, median "
          f"of {args.repeats} interleaved rounds on {os.cpu_count()} cores; load average "
          f"{min(loads):.1f}-{max(loads):.1f} (before any busy process of ours)")
    for name in CONFIGS:
        quiet = statistics.median(results[name, False])
        busy = statistics.median(results[name, True])
        print(f"  {name:>32}: quiet {quiet:9,.0f} samples/s | one core busy {busy:9,.0f} "
              f"samples/s = {busy / quiet:.0%} of quiet")


if __name__ == "__main__":
    main()
