"""Accuracy on the real MNIST test set, as the lecture promises.

784-128-10 ReLU, Adam 1e-3, batch 128, 5 epochs: at least 97%.
784-512-256-10 ReLU (two hidden layers) with dropout 0.2 and a cosine schedule, 10 epochs:
at least 98%.

    python bench/bench_accuracy.py [--data DIR] [--seeds 0]
"""

import argparse
import os
import time

from mlp_studio.core.data import DataConfig, prepare_mnist
from mlp_studio.core.mnist import load_mnist
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model
from mlp_studio.core.training import TrainConfig, Trainer

# name, hidden sizes, dropout, schedule, epochs, target
RUNS = (
    ("784-128-10", [128], 0.0, "constant", 5, 0.97),
    ("784-512-256-10", [512, 256], 0.2, "cosine", 10, 0.98),
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.environ.get("MLP_STUDIO_DATA"))
    parser.add_argument("--seeds", default="0")
    args = parser.parse_args()
    data = prepare_mnist(load_mnist(args.data, download=False), DataConfig())
    for name, hidden, dropout, schedule, epochs, target in RUNS:
        for seed in (int(s) for s in args.seeds.split(",")):
            layers = [LayerSpec(h, dropout=dropout) for h in hidden]
            spec = NetworkSpec(784, layers, 10, seed=seed)
            config = TrainConfig(epochs=epochs, seed=seed, schedule=schedule)
            start = time.perf_counter()
            finished = Trainer(build_model(spec), data, config).run()
            acc = finished.test.accuracy
            verdict = "meets" if acc >= target else "BELOW"
            print(f"{name:>16} seed {seed}: {epochs} epochs, test accuracy {acc:.2%} "
                  f"({verdict} the {target:.0%} target), best epoch {finished.best_epoch}, "
                  f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
