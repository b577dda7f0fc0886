"""The learning-rate finder's suggestion, trained: 784-128-10 ReLU on MNIST, batches of 128,
3 epochs at the suggested rate, at least 97% test accuracy (issue 11).

For each seed: the range test (core.lr_finder) on the seeded initial weights, then 3 epochs at
its suggestion from those same weights. `--optimizers adam,sgd` also tries plain SGD.

    python bench/bench_lr_finder.py [--data DIR] [--seeds 0,1,2] [--optimizers adam]
"""

import argparse
import os
import time

import torch
from mlp_studio.core.data import DataConfig, prepare_mnist
from mlp_studio.core.lr_finder import find_lr
from mlp_studio.core.mnist import load_mnist
from mlp_studio.core.model import NetworkSpec, build_model
from mlp_studio.core.training import TrainConfig, Trainer

TARGET = 0.97
EPOCHS = 3


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.environ.get("MLP_STUDIO_DATA"))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--optimizers", default="adam")
    args = parser.parse_args()
    torch.set_num_threads(1)  # a shared 2-core machine: see PERFORMANCE.md
    data = prepare_mnist(load_mnist(args.data, download=False), DataConfig())
    for optimizer in args.optimizers.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            spec = NetworkSpec(784, seed=seed)
            config = TrainConfig(optimizer=optimizer, epochs=EPOCHS, seed=seed)
            start = time.perf_counter()
            finding = find_lr(build_model(spec), data, config)
            found = time.perf_counter() - start
            if finding.suggested_lr is None:
                print(f"{optimizer} seed {seed}: no suggestion ({finding.note})")
                continue
            config.lr = finding.suggested_lr
            acc = Trainer(build_model(spec), data, config).run().test.accuracy
            verdict = "meets" if acc >= TARGET else "BELOW"
            print(f"{optimizer} seed {seed}: suggested lr {finding.suggested_lr:.3g} "
                  f"({len(finding.lrs)} batches, {found:.1f} s) -> test accuracy {acc:.2%} "
                  f"after {EPOCHS} epochs ({verdict} {TARGET:.0%})", flush=True)


if __name__ == "__main__":
    main()
