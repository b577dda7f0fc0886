"""MLP Studio against scikit-learn's MLP on your own kind of data (issue 10), same split.

    python bench/bench_own_data.py [--seeds 3] [--epochs 200] [--regression-epochs 2000]

scikit-learn's bundled digits (1,797 8x8 images) are written as an image folder of PNGs, one
subfolder per digit, and its wine, breast-cancer and diabetes tables as CSV files. Each goes
through MLP Studio's own loading (core.dataset.load_data; core.tables.load_table for the
CSVs) and preparation (prepare_dataset: pooled 60/20/20 stratified split, per-pixel /
per-feature standardization from the training split). scikit-learn's MLPClassifier /
MLPRegressor then trains on exactly the same training rows and inputs, and both are scored
on the same test rows. Both: one hidden layer of 100 ReLU units, Adam lr 1e-3, batch 200,
L2 1e-4 (scikit-learn's defaults); scikit-learn stops on its own tolerance rule (at most
--epochs), MLP Studio trains --epochs and keeps the epoch with the best validation score
(regression: lowest validation loss). The diabetes target is in its raw units (25-346), so
at batch 200 both need about 2,000 epochs to fit it (at 200 both end near R2 -1.3). Needs
the bench extra (scikit-learn).
"""

import argparse
import csv
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from mlp_studio.core.activations import ActivationSpec
from mlp_studio.core.data import DataConfig, SplitConfig, prepare_dataset
from mlp_studio.core.dataset import load_data
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model
from mlp_studio.core.training import TrainConfig, Trainer
from PIL import Image


def write_digits(root: Path) -> Path:
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = np.round(digits.images * (255 / 16)).astype(np.uint8)  # 0-16 -> 0-255
    for i, (image, label) in enumerate(zip(pixels, digits.target, strict=True)):
        (root / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(root / str(label) / f"{i:04d}.png")
    return root


def write_table(name: str, path: Path) -> Path:
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")()
    names = [str(n).replace(",", " ") for n in bunch.feature_names]
    target = "target"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*names, target])
        for row, y in zip(bunch.data, bunch.target, strict=True):
            w.writerow([*(repr(float(v)) for v in row), y if name != "diabetes" else float(y)])
    return path


def studio(data, seed: int, epochs: int) -> float:
    regression = data.task == "regression"
    spec = NetworkSpec(int(data.x_train.shape[1]), [LayerSpec(100, ActivationSpec("relu"))],
                       data.num_classes, seed=seed)  # fmt: skip
    config = TrainConfig(loss="mse" if regression else "sparse_categorical_cross_entropy",
                         optimizer="adam", lr=1e-3, batch_size=200, epochs=epochs, seed=seed,
                         weight_decay=1e-4, stats_every=10_000)  # fmt: skip
    finished = Trainer(build_model(spec), data, config).run()
    return finished.test.r2 if regression else finished.test.accuracy


def sklearn_score(data, seed: int, epochs: int) -> float:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    regression = data.task == "regression"
    model_class = MLPRegressor if regression else MLPClassifier
    model = model_class(hidden_layer_sizes=(100,), max_iter=epochs, random_state=seed)
    x, y = data.x_train.numpy(), data.y_train.numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y)
    return model.score(data.x_test.numpy(), data.y_test.numpy())  # accuracy, or R²


def _show(scores: list[float], scale: float) -> str:
    return f"{statistics.mean(scores) * scale:7.3f} ± {statistics.pstdev(scores) * scale:5.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="split and weight seeds 0..N-1")
    parser.add_argument("--epochs", type=int, default=200, help="classification")
    parser.add_argument("--regression-epochs", type=int, default=2000)
    parser.add_argument("--only", nargs="*", help="digits, wine, breast_cancer, diabetes")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp(prefix="mlp-bench-own-"))
    os.environ["XDG_CACHE_HOME"] = str(work / "cache")  # the user's cache stays untouched
    sources = {"digits": lambda: write_digits(work / "digits")}
    try:
        from mlp_studio.core.tables import load_table

        for name in ("wine", "breast_cancer", "diabetes"):
            sources[name] = lambda n=name: write_table(n, work / f"{n}.csv")
    except ImportError:
        print("tables: skipped, core.tables (the CSV reader) is not in this version")
    print(f"{'data':<14} {'task':<15} {'metric':<9} {'MLP Studio':>18} {'scikit-learn':>18}"
          f"   seconds (studio / sklearn)")
    for name, write in sources.items():
        if args.only and name not in args.only:
            continue
        path = write()
        ds = load_table(path) if path.suffix == ".csv" else load_data(path, image_size=8)
        ours, theirs, t_ours, t_theirs = [], [], 0.0, 0.0
        epochs = args.regression_epochs if ds.task == "regression" else args.epochs
        for seed in range(args.seeds):
            config = DataConfig(normalization="per_pixel", split=SplitConfig(
                mode="pooled", percentages=(60.0, 20.0, 20.0), seed=seed))
            data = prepare_dataset(ds, config)
            start = time.perf_counter()
            ours.append(studio(data, seed, epochs))
            t_ours += time.perf_counter() - start
            start = time.perf_counter()
            theirs.append(sklearn_score(data, seed, epochs))
            t_theirs += time.perf_counter() - start
        metric = "R2" if ds.task == "regression" else "accuracy"
        scale = 1 if ds.task == "regression" else 100
        print(f"{name:<14} {ds.task:<15} {metric:<9} {_show(ours, scale):>18} "
              f"{_show(theirs, scale):>18}   "
              f"{t_ours / args.seeds:.1f} / {t_theirs / args.seeds:.1f}", flush=True)
    print(f"({args.seeds} seeds; mean ± std over seeds; accuracy in %; test split 20%)")


if __name__ == "__main__":
    main()
