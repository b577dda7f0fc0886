"""MLP Studio beside scikit-learn's MLP on scikit-learn's bundled tables written as CSV files
(issue 10): python bench/bench_own_tables.py [--epochs N] [--seeds N]

Each table (wine, breast cancer: classification; diabetes: regression) is written as a CSV with
a header row and its target last, loaded with core.dataset.load_data (the task inferred), and
split by core.data.prepare_dataset (60/20/20, stratified for classes). Both networks get the
same training rows, per-feature standardization fitted on them, one hidden layer of 100 ReLU
units (scikit-learn's default), Adam, the same learning rate, batch size and epochs, and are
scored on the same test rows: accuracy for classes, R² for the regression. MLP Studio ends with
the weights of its best validation epoch (its default); scikit-learn with its last. Needs
scikit-learn (`pip install -e '.[bench]'`).
"""

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from mlp_studio.core.activations import ActivationSpec
from mlp_studio.core.data import DataConfig, SplitConfig, prepare_dataset
from mlp_studio.core.dataset import load_data
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model
from mlp_studio.core.training import TrainConfig, Trainer

# lr per table: the diabetes target (25-346, raw units) needs a larger step to get anywhere
# in a few hundred epochs, for both libraries alike.
TABLES = {"wine": 1e-3, "breast_cancer": 1e-3, "diabetes": 1e-2}


def write_csv(name: str, folder: Path) -> Path:
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")()
    target = bunch.target
    if name != "diabetes":  # classes by name: a text target is inferred as classification
        target = np.asarray(bunch.target_names)[bunch.target]
    path = folder / f"{name}.csv"
    names = [str(n).replace(",", " ") for n in bunch.feature_names]
    with open(path, "w") as f:
        f.write(",".join([*names, "target"]) + "\n")
        for row, t in zip(bunch.data, target, strict=True):
            f.write(",".join(f"{v:.10g}" for v in row) + f",{t}\n")
    return path


def ours(ds, data, lr: float, epochs: int, batch: int, seed: int) -> float:
    regression = ds.task == "regression"
    spec = NetworkSpec(input_size=int(data.x_train.shape[1]),
                       hidden=[LayerSpec(100, ActivationSpec("relu"))],
                       output_size=1 if regression else data.num_classes, seed=seed)
    config = TrainConfig(loss="mse" if regression else "sparse_categorical_cross_entropy",
                         lr=lr, batch_size=batch, epochs=epochs, seed=seed,
                         weight_decay=1e-4)  # scikit-learn's alpha: L2 of 1e-4
    finished = Trainer(build_model(spec), data, config).run()
    return finished.test.r2 if regression else finished.test.accuracy


def theirs(ds, data, lr: float, epochs: int, batch: int, seed: int) -> float:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.preprocessing import StandardScaler

    train, test = data.indices["train"], data.indices["test"]
    scaler = StandardScaler().fit(ds.x_train[train])
    kind = MLPRegressor if ds.task == "regression" else MLPClassifier
    model = kind(hidden_layer_sizes=(100,), learning_rate_init=lr, batch_size=batch,
                 max_iter=epochs, random_state=seed, alpha=1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(scaler.transform(ds.x_train[train]), ds.y_train[train])
    return float(model.score(scaler.transform(ds.x_train[test]), ds.y_train[test]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)  # tiny networks: one thread is fastest on a shared machine
    print(f"{'table':<14} {'task':<15} {'rows':>5} {'MLP Studio':>11} {'scikit-learn':>13} "
          f"{'difference':>11}  (test {{accuracy | R²}}, median of {args.seeds} seeds)")
    with tempfile.TemporaryDirectory() as folder:
        for name, lr in TABLES.items():
            ds = load_data(write_csv(name, Path(folder)))
            scores = {"ours": [], "theirs": []}
            start = time.perf_counter()
            for seed in range(args.seeds):
                split = SplitConfig(mode="pooled", percentages=(60.0, 20.0, 20.0), seed=seed)
                data = prepare_dataset(ds, DataConfig(normalization="standardize", split=split))
                scores["ours"].append(ours(ds, data, lr, args.epochs, args.batch_size, seed))
                scores["theirs"].append(theirs(ds, data, lr, args.epochs, args.batch_size, seed))
            a, b = (statistics.median(scores[k]) for k in ("ours", "theirs"))
            unit = "R²" if ds.task == "regression" else "acc"
            print(f"{name:<14} {ds.task:<15} {ds.num_samples:>5} {a:>11.4f} {b:>13.4f} "
                  f"{a - b:>+11.4f}  {unit}; {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
