"""Trainer throughput vs a bare PyTorch hand loop (same model, optimizer, batch size, data).

Prints samples/s of each and their ratio, measured in one run with the two interleaved (the
machine is noisy, so only the ratio is meaningful). The trainer's figure is its training loop,
as the hand loop has no validation; the figure with the validation and test passes follows.
The trainer runs with its events on (a callback receiving every event) and layer statistics
every 50 batches, as the GUI uses it. Last, the share of a batch that the trainer's gradient
check (the gradients' norms, read with the loss in one sync) takes, timed inside a hand loop.

    python bench/bench_trainer.py [--data DIR] [--epochs 1] [--repeats 3]
"""

import argparse
import os
import statistics
import time

import torch
from mlp_studio.core.data import DataConfig, prepare_mnist
from mlp_studio.core.mnist import load_mnist
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model
from mlp_studio.core.training import GRAD_CHECK_EVERY, EpochEnd, TrainConfig, Trainer
from torch import nn


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


def check_share(spec: NetworkSpec, x: torch.Tensor, y: torch.Tensor, batch_size: int,
                batches: int = 400) -> float:
    """Median share of a batch's time spent in the trainer's gradient check (the
    same expression as core.training's loop), measured batch by batch in a hand loop."""
    model = build_model(spec)
    params = list(model.parameters())
    optimizer = torch.optim.Adam(params, lr=1e-3, fused=True)
    loss_fn = nn.CrossEntropyLoss()
    order = torch.randperm(len(x))
    shares = []
    for b in range(batches):
        idx = order[b * batch_size : (b + 1) * batch_size]
        start = time.perf_counter()
        loss = loss_fn(model(x[idx]), y[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        checking = time.perf_counter()
        grads = [p.grad for p in params if p.grad is not None]
        torch.stack([loss.detach(), *torch._foreach_norm(grads)]).tolist()
        checked = time.perf_counter()
        optimizer.step()
        end = time.perf_counter()
        shares.append((checked - checking) / (end - start))
    return statistics.median(shares)


def trainer_run(spec: NetworkSpec, data, batch_size: int, epochs: int) -> tuple[float, float]:
    """Samples/s of the training loop (EpochEnd.seconds: the epoch's batches, without the
    validation pass) and of the whole run (with validation every epoch and the final test)."""
    events = []
    config = TrainConfig(batch_size=batch_size, epochs=epochs, stats_every=50)
    trainer = Trainer(build_model(spec), data, config, on_event=events.append)
    start = time.perf_counter()
    trainer.run()
    wall = time.perf_counter() - start
    loop = sum(e.seconds for e in events if isinstance(e, EpochEnd))
    n = len(data.x_train) * epochs
    return n / loop, n / wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.environ.get("MLP_STUDIO_DATA"))
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--nets", default="128;512,512", help="hidden sizes, ';' between nets")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    data = prepare_mnist(load_mnist(args.data, download=False), DataConfig())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"train {len(data.x_train):,} samples, batch {args.batch_size}, "
          f"{args.epochs} epoch(s) per measurement, median of {args.repeats}")
    for hidden in ([int(h) for h in net.split(",")] for net in args.nets.split(";")):
        spec = NetworkSpec(784, [LayerSpec(h) for h in hidden], 10)
        hand, loop, whole = [], [], []
        for _ in range(args.repeats):
            hand.append(hand_loop(spec, data.x_train, data.y_train, args.batch_size, args.epochs))
            a, b = trainer_run(spec, data, args.batch_size, args.epochs)
            loop.append(a)
            whole.append(b)
        h, t, w = statistics.median(hand), statistics.median(loop), statistics.median(whole)
        name = "-".join(map(str, [784, *hidden, 10]))
        print(f"{name:>16}: hand loop {h:9,.0f} samples/s | trainer {t:9,.0f} samples/s "
              f"= {t / h:.1%} of the hand loop | with validation and test passes "
              f"{w:9,.0f} samples/s = {w / h:.1%}")
        share = check_share(spec, data.x_train, data.y_train, args.batch_size)
        print(f"{'':>16}  gradient check: {share:.1%} of a batch that has one; run every "
              f"{GRAD_CHECK_EVERY} batches: {share / GRAD_CHECK_EVERY:.2%}")


if __name__ == "__main__":
    main()
