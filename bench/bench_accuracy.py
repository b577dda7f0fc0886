"""Accuracy on the real MNIST test set, as the lecture promises.

784-128-10 ReLU, Adam 1e-3, batch 128, 5 epochs: at least 97%.
784-256-128-10 ReLU (two hidden layers), same settings, 10 epochs: at least 98%.

    python bench/bench_accuracy.py [--data DIR] [--seeds 0]
"""

import argparse
import os
import time

from core.data import DataConfig, prepare_mnist
from core.mnist import load_mnist
from core.model import LayerSpec, NetworkSpec, build_model
from core.training import TrainConfig, Trainer

RUNS = (
    ("784-128-10", [128], 5, 0.97),
    ("784-256-128-10", [256, 128], 10, 0.98),
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.environ.get("MLP_STUDIO_DATA"))
    parser.add_argument("--seeds", default="0")
    args = parser.parse_args()
    data = prepare_mnist(load_mnist(args.data, download=False), DataConfig())
    for name, hidden, epochs, target in RUNS:
        for seed in (int(s) for s in args.seeds.split(",")):
            spec = NetworkSpec(784, [LayerSpec(h) for h in hidden], 10, seed=seed)
            start = time.perf_counter()
            finished = Trainer(build_model(spec), data,
                               TrainConfig(epochs=epochs, seed=seed)).run()
            acc = finished.test.accuracy
            verdict = "meets" if acc >= target else "BELOW"
            print(f"{name:>16} seed {seed}: {epochs} epochs, test accuracy {acc:.2%} "
                  f"({verdict} the {target:.0%} target), best epoch {finished.best_epoch}, "
                  f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
