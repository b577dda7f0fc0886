"""The learning-rate finder's suggestion, trained: 784-128-10 ReLU on MNIST, batches of 128,
3 epochs from the suggested rate, at least 97% test accuracy (issue 11).

For each seed: one range test (core.lr_finder) on the seeded initial weights, then each
candidate rule's rate read off that same curve, and 3 epochs at it from those same weights,
once held constant and once decayed by the cosine schedule (what "Use this rate" sets):

- steep:  the rule the finder uses (core.lr_finder.steepest_point), the steepest descent of the
          smoothed loss before its lowest point (fastai's "steep", limited to the descent);
- min/10: a tenth of the rate at the lowest smoothed loss (fastai's "minimum"; the finder's
          rule until this bench showed it short of 97% on seed 0);
- valley: fastai's default, the middle of the longest decreasing stretch of the smoothed loss
          (fastai/callback/schedule.py: skip the first tenth and the last 5 points).

`--rates 1e-3,3e-3` also trains fixed rates, to see the accuracy around the suggestions.
One thread, one run at a time; the load average is printed with each line since the machine is
shared.

    python bench/bench_lr_finder.py [--data DIR] [--seeds 0,1,2] [--optimizers adam]
        [--schedules constant,cosine] [--rates R,...]
"""

import argparse
import os
import time

import torch
from mlp_studio.core.data import DataConfig, prepare_mnist
from mlp_studio.core.lr_finder import RangeTest, find_lr, lowest_point
from mlp_studio.core.mnist import load_mnist
from mlp_studio.core.model import NetworkSpec, build_model
from mlp_studio.core.training import TrainConfig, Trainer

TARGET = 0.97
EPOCHS = 3


def minimum_rule(lrs: list[float], losses: list[float]) -> float | None:
    low = lowest_point(losses)
    return None if low is None else lrs[low] / 10


def valley_rule(lrs: list[float], losses: list[float], steps: int) -> float:
    """fastai's `valley`: the longest decreasing subsequence of the trimmed curve, and the
    point halfway along it (by index, i.e. in log rate)."""
    lrs, losses = lrs[steps // 10:-5], losses[steps // 10:-5]
    longest = [1] * len(losses)
    start = end = 0
    for i in range(1, len(losses)):
        for j in range(i):
            if losses[i] < losses[j] and longest[i] < longest[j] + 1:
                longest[i] = longest[j] + 1
            if longest[end] < longest[i]:
                end = i
                start = end - longest[end]
    third = (end - start) / 3
    return lrs[start + int(third) + int(third / 2)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.environ.get("MLP_STUDIO_DATA"))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--optimizers", default="adam")
    parser.add_argument("--schedules", default="constant,cosine")
    parser.add_argument("--rates", default="", help="fixed rates to train as well")
    args = parser.parse_args()
    torch.set_num_threads(1)  # a shared 2-core machine: see PERFORMANCE.md
    data = prepare_mnist(load_mnist(args.data, download=False), DataConfig())
    schedules = args.schedules.split(",")
    fixed = [float(r) for r in args.rates.split(",") if r]
    for optimizer in args.optimizers.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            spec = NetworkSpec(784, seed=seed)
            config = TrainConfig(optimizer=optimizer, epochs=EPOCHS, seed=seed)
            test = RangeTest()
            start = time.perf_counter()
            finding = find_lr(build_model(spec), data, config, test)
            found = time.perf_counter() - start
            print(f"{optimizer} seed {seed}: range test of {len(finding.lrs)} batches in "
                  f"{found:.1f} s. {finding.note}", flush=True)
            rules = {"steep": finding.suggested_lr,
                     "min/10": minimum_rule(finding.lrs, finding.losses),
                     "valley": valley_rule(finding.lrs, finding.losses, test.steps)}
            rules.update({f"fixed {r:g}": r for r in fixed})
            for rule, lr in rules.items():
                if lr is None:
                    print(f"  {rule:>12}: no suggestion")
                    continue
                results = []
                for schedule in schedules:
                    config.lr, config.schedule = lr, schedule
                    acc = Trainer(build_model(spec), data, config).run().test.accuracy
                    results.append(f"{schedule} {acc:.2%}{'' if acc >= TARGET else ' BELOW'}")
                print(f"  {rule:>12}: lr {lr:.3g} -> {', '.join(results)} "
                      f"(load {os.getloadavg()[0]:.1f})", flush=True)
    print(f"(test accuracy after {EPOCHS} epochs; BELOW: under {TARGET:.0%})")


if __name__ == "__main__":
    main()
