"""Trainer throughput vs a bare PyTorch hand loop (same model, optimizer, batch size, data).

Prints samples/s of each and their ratio, measured in one run with the two interleaved (the
machine is noisy, so only the ratio is meaningful). The trainer runs with its events on (a
callback receiving every event) and layer statistics every 50 batches, as the GUI uses it.

    python bench/bench_trainer.py [--data DIR] [--epochs 1] [--repeats 3]
"""

import argparse
import os
import statistics
import time

import torch
from torch import nn

from core.data import DataConfig, prepare_mnist
from core.mnist import load_mnist
from core.model import LayerSpec, NetworkSpec, build_model
from core.training import TrainConfig, Trainer


def hand_loop(spec: NetworkSpec, x: torch.Tensor, y: torch.Tensor, batch_size: int,
              epochs: int) -> float:
    """The loop a person writes by hand: randperm, slice, forward, loss, backward, step."""
    model = build_model(spec)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    loss_fn = nn.CrossEntropyLoss()
    n = len(x)
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(n)
        for i in range(0, n, batch_size):
            idx = order[i : i + batch_size]
            loss = loss_fn(model(x[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return n * epochs / (time.perf_counter() - start)


def trainer_run(spec: NetworkSpec, data, batch_size: int, epochs: int) -> float:
    events = []
    config = TrainConfig(batch_size=batch_size, epochs=epochs, stats_every=50)
    trainer = Trainer(build_model(spec), data, config, on_event=events.append)
    start = time.perf_counter()
    trainer.run()
    return len(data.x_train) * epochs / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.environ.get("MLP_STUDIO_DATA"))
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()

    data = prepare_mnist(load_mnist(args.data, download=False), DataConfig())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"train {len(data.x_train):,} samples, batch {args.batch_size}, "
          f"{args.epochs} epoch(s) per measurement, median of {args.repeats}")
    for hidden in ([128], [512, 512]):
        spec = NetworkSpec(784, [LayerSpec(h) for h in hidden], 10)
        hand, ours = [], []
        for _ in range(args.repeats):
            hand.append(hand_loop(spec, data.x_train, data.y_train, args.batch_size, args.epochs))
            ours.append(trainer_run(spec, data, args.batch_size, args.epochs))
        h, t = statistics.median(hand), statistics.median(ours)
        name = "-".join(map(str, [784, *hidden, 10]))
        print(f"{name:>16}: hand loop {h:9,.0f} samples/s | trainer {t:9,.0f} samples/s | "
              f"trainer/hand = {t / h:.1%}")


if __name__ == "__main__":
    main()
