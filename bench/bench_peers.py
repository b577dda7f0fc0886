"""MLP Studio's trainer against its peers, one thread each, pairs interleaved in one run.

Peers: a bare torch loop (what a person writes by hand), Keras 3 on TensorFlow (on the torch
backend if TensorFlow is not installed: said in the output), and scikit-learn's MLPClassifier
(Adam without dropout: it has neither RMSprop nor dropout). Networks: 784-128-10 with Adam, and
Keras' mnist_mlp example (784-512-512-10, ReLU, dropout 0.2, RMSprop, batch 128).

Every figure is samples per second of one training epoch (no validation pass), the median of
`--repeats` rounds; within a round the runners take turns, so a busy spell on this shared
machine hits them alike. Two clocks: the process's CPU time (what the work costs, which other
processes' load barely changes: the figure to compare) and the wall clock (which they do).
Ratios are the trainer over each peer (above 1: the trainer is faster). Beside them: the
machine's single-thread sgemm peak (the faster of 512x512 and 1024x1024 fp32 matmuls, per CPU
second), measured in each round too; every runner's matmul FLOP/s per CPU second as a share of
it (the peers' too: how close a compiled graph such as Keras' gets); and the load average. Two
ceilings for that share, measured in the same rounds: the network's matmuls alone on the same
batches, and the same plus one fused RMSprop pass over the weights (the least a step does).

    pip install -e '.[bench]'   # TensorFlow and scikit-learn, for benches only
    python bench/bench_peers.py [--data DIR] [--repeats 3] [--nets adam128,mnist_mlp]
"""

import argparse
import dataclasses
import importlib.util
import os
import statistics
import time
import warnings

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch, TF or numpy start their pools

import numpy as np  # noqa: E402
import torch  # noqa: E402
from mlp_studio.core.data import DataConfig, prepare_mnist  # noqa: E402
from mlp_studio.core.mnist import load_mnist  # noqa: E402
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model  # noqa: E402
from mlp_studio.core.training import TrainConfig, Trainer  # noqa: E402
from torch import nn  # noqa: E402

# name: hidden sizes, dropout, optimizer, learning rate
NETS = {
    "adam128": ([128], 0.0, "adam", 1e-3),
    "mnist_mlp": ([512, 512], 0.2, "rmsprop", 1e-3),
}
BATCH = 128


def matmul_flops(hidden: list[int]) -> int:
    """FLOPs per training sample in the matmuls: forward, the weights' gradients, and the
    inputs' gradients of every layer but the first (nothing needs the pixels' gradients)."""
    sizes = [784, *hidden, 10]
    weights = [a * b for a, b in zip(sizes, sizes[1:], strict=False)]
    return 2 * sum(weights) * 3 - 2 * weights[0]


class Clock:
    """Wall and process CPU seconds since it was made."""

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def rates(self, work: float) -> tuple[float, float]:
        """`work` per CPU second and per wall second."""
        return (work / (time.process_time() - self.cpu),
                work / (time.perf_counter() - self.wall))


def sgemm_peak(sizes: tuple[int, ...] = (512, 1024), repeats: int = 20) -> tuple[float, float]:
    """FLOP/s of n x n fp32 matmuls on this thread, the best of `sizes` (512 fits the caches
    and runs faster here than 1024): per CPU second, per wall second."""
    best = (0.0, 0.0)
    for n in sizes:
        a, b = torch.randn(n, n), torch.randn(n, n)
        out = torch.empty(n, n)
        torch.mm(a, b, out=out)
        clock = Clock()
        for _ in range(repeats):
            torch.mm(a, b, out=out)
        best = max(best, clock.rates(2 * n**3 * repeats))
    return best


def matmuls_only(data, hidden, step: bool) -> tuple[float, float]:
    """What the goal allows at most: the network's matmuls alone, on the same batches, with
    no bias, activation, dropout, loss or autograd, and (`step`) the least an optimizer step
    must do besides: one fused RMSprop pass over the weights."""
    from mlp_studio.core.optimizers import FusedRMSprop

    sizes = [784, *hidden, 10]
    pairs = zip(sizes, sizes[1:], strict=False)
    weights = [nn.Parameter(torch.randn(b, a) * 0.01) for a, b in pairs]
    for w in weights:
        w.grad = torch.empty_like(w)
    opt = FusedRMSprop(weights, lr=1e-3, alpha=0.9, eps=1e-7) if step else None
    x = data.x_train
    n = len(x)
    clock = Clock()
    with torch.no_grad():
        for i in range(0, n, BATCH):
            acts = [x[i : i + BATCH]]
            for w in weights:
                acts.append(acts[-1] @ w.t())
            grad = acts.pop()
            for layer in reversed(range(len(weights))):
                torch.mm(grad.t(), acts[layer], out=weights[layer].grad)
                if layer:
                    grad = grad @ weights[layer]
            if opt is not None:
                opt.step()
    return clock.rates(n)


def studio(data, hidden, dropout, optimizer, lr) -> tuple[float, float]:
    """The trainer, given no validation or test data so that it only trains, as the peers."""
    spec = NetworkSpec(784, [LayerSpec(h, dropout=dropout) for h in hidden], 10)
    config = TrainConfig(optimizer=optimizer, lr=lr, batch_size=BATCH, epochs=1)
    trainer = Trainer(build_model(spec), data, config, on_event=lambda event: None)
    clock = Clock()
    trainer.run()
    return clock.rates(len(data.x_train))


def bare_torch(data, hidden, dropout, optimizer, lr) -> tuple[float, float]:
    layers: list[nn.Module] = []
    size = 784
    for h in hidden:
        layers += [nn.Linear(size, h), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout else [])
        size = h
    model = nn.Sequential(*layers, nn.Linear(size, 10))
    model.train()
    if optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    else:
        opt = torch.optim.RMSprop(model.parameters(), lr=lr, foreach=True)
    loss_fn = nn.CrossEntropyLoss()
    x, y = data.x_train, data.y_train
    n = len(x)
    clock = Clock()
    order = torch.randperm(n)
    for i in range(0, n, BATCH):
        idx = order[i : i + BATCH]
        loss = loss_fn(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return clock.rates(n)


class KerasRunner:
    """One compiled model per network, fit one epoch at a time (the first fit, which traces
    the step, is a warm-up and not timed)."""

    def __init__(self, data, hidden, dropout, optimizer, lr):
        import keras

        self.x = data.x_train.numpy()
        self.y = data.y_train.numpy()
        layers = [keras.Input((784,))]
        for h in hidden:
            layers.append(keras.layers.Dense(h, activation="relu"))
            if dropout:
                layers.append(keras.layers.Dropout(dropout))
        layers.append(keras.layers.Dense(10, activation="softmax"))
        self.model = keras.Sequential(layers)
        opt = (keras.optimizers.Adam(lr) if optimizer == "adam"
               else keras.optimizers.RMSprop(lr))
        self.model.compile(loss="sparse_categorical_crossentropy", optimizer=opt)
        self.model.fit(self.x[: BATCH * 20], self.y[: BATCH * 20], batch_size=BATCH,
                       epochs=1, verbose=0)

    def __call__(self) -> tuple[float, float]:
        clock = Clock()
        self.model.fit(self.x, self.y, batch_size=BATCH, epochs=1, verbose=0, shuffle=True)
        return clock.rates(len(self.x))


def sklearn_mlp(data, hidden, dropout, optimizer, lr) -> tuple[float, float]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits

    x, y = data.x_train.numpy(), data.y_train.numpy()
    clf = MLPClassifier(tuple(hidden), solver="adam", learning_rate_init=lr, alpha=0.0,
                        batch_size=BATCH, max_iter=1, shuffle=True, random_state=0)
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clock = Clock()
        clf.fit(x, y)
        return clock.rates(len(x))


def keras_backend() -> str:
    """'tensorflow' if it imports, else 'torch' (set before keras is first imported)."""
    if os.environ["KERAS_BACKEND"] == "tensorflow":
        try:
            import tensorflow as tf

            tf.config.threading.set_intra_op_parallelism_threads(1)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except ImportError:
            os.environ["KERAS_BACKEND"] = "torch"
    return os.environ["KERAS_BACKEND"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.environ.get("MLP_STUDIO_DATA"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--nets", default="adam128,mnist_mlp")
    parser.add_argument("--no-sklearn", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    backend = keras_backend()
    import keras

    sklearn = not args.no_sklearn and importlib.util.find_spec("sklearn") is not None
    if not args.no_sklearn and not sklearn:
        print("scikit-learn is not installed (pip install -e '.[bench]'): left out")
    data = prepare_mnist(load_mnist(args.data, download=False), DataConfig())
    data = dataclasses.replace(data, x_val=data.x_val[:0], y_val=data.y_val[:0],
                               x_test=data.x_test[:0], y_test=data.y_test[:0])
    load_before = os.getloadavg()
    version = f"Keras {keras.__version__} on {backend}"
    if backend == "tensorflow":
        import tensorflow as tf

        version += f" {tf.__version__}"
    print(f"torch {torch.__version__}, {version}, one thread each, batch {BATCH}, "
          f"{len(data.x_train):,} training samples, median of {args.repeats} interleaved "
          f"rounds; load average {load_before[0]:.1f} on {os.cpu_count()} cores")
    for name in args.nets.split(","):
        hidden, dropout, optimizer, lr = NETS[name]
        setting = (data, hidden, dropout, optimizer, lr)
        keras_run = KerasRunner(*setting)
        runners = {
            "MLP Studio": lambda s=setting: studio(*s),
            "bare torch": lambda s=setting: bare_torch(*s),
            f"Keras/{backend}": keras_run,
        }
        if sklearn:
            runners["sklearn (Adam, no dropout)"] = lambda s=setting: sklearn_mlp(*s)
        runners["matmuls alone"] = lambda h=hidden: matmuls_only(data, h, False)
        runners["matmuls + fused RMSprop"] = lambda h=hidden: matmuls_only(data, h, True)
        runners["sgemm peak"] = sgemm_peak
        results: dict[str, list[tuple[float, float]]] = {k: [] for k in runners}
        loads = []
        for _ in range(args.repeats):
            for key, run in runners.items():
                results[key].append(run())
            loads.append(os.getloadavg()[0])
        cpu = {k: statistics.median(r[0] for r in v) for k, v in results.items()}
        wall = {k: statistics.median(r[1] for r in v) for k, v in results.items()}
        flops = matmul_flops(hidden)
        label = "-".join(map(str, [784, *hidden, 10]))
        print(f"\n{label} ({name}: {optimizer}, dropout {dropout}); load average "
              f"{min(loads):.1f}-{max(loads):.1f}; samples per CPU second | per wall second")
        ceilings = ("matmuls alone", "matmuls + fused RMSprop", "sgemm peak")
        for key in runners:
            if key in ceilings:
                continue
            ratio = ("" if key == "MLP Studio" else
                     f"  MLP Studio = {cpu['MLP Studio'] / cpu[key]:.2f}x | "
                     f"{wall['MLP Studio'] / wall[key]:.2f}x")
            share = cpu[key] * flops / cpu["sgemm peak"]
            print(f"  {key:>28}: {cpu[key]:9,.0f} | {wall[key]:9,.0f}{ratio}  "
                  f"(matmuls at {share:.0%} of the peak)")
        for clock, figures in (("CPU", cpu), ("wall", wall)):
            peak, ours = figures["sgemm peak"], figures["MLP Studio"] * flops
            print(f"  {'sgemm peak per ' + clock + ' second':>28}: {peak / 1e9:6.1f} GFLOP/s; "
                  f"MLP Studio's matmuls {ours / 1e9:5.1f} GFLOP/s = {ours / peak:.0%} of it")
            for key in ceilings[:2]:
                share = figures[key] * flops / peak
                print(f"  {key:>28}: {figures[key] * flops / 1e9:6.1f} GFLOP/s = {share:.0%} of "
                      "the peak (the most the same matmuls reach on these batches)")
        print(f"  ({flops / 1e6:.2f} MFLOP of matmuls per training sample)")
        del keras_run
    print(f"\nload average at the end {os.getloadavg()[0]:.1f} (at the start "
          f"{load_before[0]:.1f}); numpy {np.__version__}")


if __name__ == "__main__":
    main()
