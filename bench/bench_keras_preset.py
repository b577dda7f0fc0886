"""Keras' mnist_mlp example: MLP Studio with its Keras preset against Keras itself (issue 14).

The example: 784-512-512-10, ReLU, dropout 0.2, RMSprop (learning rate 0.001), batch 128, 20
epochs, pixels divided by 255, trained on all 60,000 images with the test set as validation
data, and the last epoch's test accuracy reported: 98.40% in Keras' README. MLP Studio runs it
with `--preset keras` (Glorot-uniform init, RMSprop rho 0.9 with epsilon 1e-7 inside the
square root, the test set as validation, the last epoch kept); Keras runs its own example. Each
with the same seeds, one thread each, runs interleaved; printed: every run's test accuracy, and
per side the mean and the spread (sample standard deviation), with the load average.

    pip install -e '.[bench]'
    python bench/bench_keras_preset.py [--data DIR] [--seeds 3] [--epochs 20]
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402
from bench_peers import keras_backend  # noqa: E402
from mlp_studio.core.data import DataConfig, prepare_mnist  # noqa: E402
from mlp_studio.core.mnist import load_mnist  # noqa: E402
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model  # noqa: E402
from mlp_studio.core.presets import KERAS, with_preset  # noqa: E402
from mlp_studio.core.training import TrainConfig, Trainer  # noqa: E402

PUBLISHED = 0.9840  # Keras' README for examples/mnist_mlp.py, 20 epochs


def studio(mnist, seed: int, epochs: int) -> float:
    spec = NetworkSpec(784, [LayerSpec(512, dropout=0.2), LayerSpec(512, dropout=0.2)], 10,
                       seed=seed)
    train = TrainConfig(optimizer="rmsprop", lr=1e-3, batch_size=128, epochs=epochs, seed=seed)
    spec, train, data_config = with_preset(KERAS, spec, train, DataConfig())
    data = prepare_mnist(mnist, data_config)
    finished = Trainer(build_model(spec), data, train).run()
    return finished.test.accuracy


def keras_run(mnist, seed: int, epochs: int) -> float:
    import keras

    keras.utils.set_random_seed(seed)
    x = mnist.train_images.reshape(-1, 784).astype("float32") / 255
    x_test = mnist.test_images.reshape(-1, 784).astype("float32") / 255
    y, y_test = mnist.train_labels.astype("int64"), mnist.test_labels.astype("int64")
    model = keras.Sequential([
        keras.Input((784,)),
        keras.layers.Dense(512, activation="relu"), keras.layers.Dropout(0.2),
        keras.layers.Dense(512, activation="relu"), keras.layers.Dropout(0.2),
        keras.layers.Dense(10, activation="softmax"),
    ])  # fmt: skip
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.RMSprop(),
                  metrics=["accuracy"])
    model.fit(x, y, batch_size=128, epochs=epochs, verbose=0, validation_data=(x_test, y_test))
    return float(model.evaluate(x_test, y_test, verbose=0)[1])


def summary(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"mean {100 * statistics.mean(values):.2f}% ± {100 * spread:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.environ.get("MLP_STUDIO_DATA"))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    backend = keras_backend()
    import keras

    mnist = load_mnist(args.data, download=False)
    print(f"Keras mnist_mlp, {args.epochs} epochs, seeds 0..{args.seeds - 1}; torch "
          f"{torch.__version__}, Keras {keras.__version__} on {backend}; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    results: dict[str, list[float]] = {"MLP Studio (--preset keras)": [], f"Keras/{backend}": []}
    for seed in range(args.seeds):
        for (name, values), run in zip(results.items(), (studio, keras_run), strict=True):
            start = time.perf_counter()
            values.append(run(mnist, seed, args.epochs))
            print(f"  seed {seed} {name:>28}: test accuracy {100 * values[-1]:.2f}% "
                  f"({time.perf_counter() - start:.0f} s, load {os.getloadavg()[0]:.1f})",
                  flush=True)
    for name, values in results.items():
        print(f"{name:>30}: {summary(values)}")
    print(f"{'Keras README':>30}: {100 * PUBLISHED:.2f}%")
    ours, theirs = results.values()
    print(f"difference of the means: {100 * (statistics.mean(ours) - statistics.mean(theirs)):+.2f}"
          " points")


if __name__ == "__main__":
    main()
