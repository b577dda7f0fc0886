"""`train`'s data: which source the options name, loading and preparing it, what a session
records of it (core.data_source.DataSource) and where outputs may not go."""

import sys
from pathlib import Path

from mlp_studio.core.text import terminal_safe


def add_data_source_arguments(g) -> None:
    g.add_argument("--data", metavar="PATH",
                   help="an MNIST-format folder (the four IDX files) or .npz, a folder with "
                   "one subfolder of images per class, or a .csv table (default: MNIST from "
                   "$MLP_STUDIO_DATA, then the cache, then a download)")
    g.add_argument("--dataset", choices=("mnist", "fashion-mnist", "kmnist"),
                   help="which MNIST-format family: its class names, and where it is cached "
                   "and downloaded from when --data is not given (default: mnist)")
    g.add_argument("--image-size", type=int, default=28, metavar="N",
                   help="image folders: images are cropped square and resized to NxN "
                   "(default 28)")
    g.add_argument("--color", action="store_true",
                   help="image folders: keep RGB (3 values per pixel) instead of grayscale")
    g.add_argument("--target", metavar="COLUMN",
                   help="tables (.csv): the column to predict (default: the last one)")
    g.add_argument("--task", choices=("classification", "regression"),
                   help="tables (.csv): what to do with the target (default: inferred; text or "
                   "a few whole numbers is classification)")
    g.add_argument("--no-download", action="store_true", help="never download MNIST")


def load_training_data(args, config, saved=None):
    """(Dataset, PreparedData, its core.data_source.DataSource for the session). The data
    comes from --data or --dataset when given, else from `saved` (a session's source)."""
    from mlp_studio.core.data import prepare_dataset
    from mlp_studio.core.dataset import load_data

    download = not args.no_download
    if args.data is None and args.dataset is None and saved is not None:
        source = saved
        ds = load_data(**source.load_arguments(), download=download)
    else:
        ds = load_data(args.data, dataset=args.dataset, image_size=args.image_size,
                       color=args.color, target=args.target, task=args.task,
                       download=download)  # fmt: skip
        source = source_of(args, ds)
    for note in ds.notes:
        print(f"note: {terminal_safe(note)}", file=sys.stderr)
    return ds, prepare_dataset(ds, config), source


def source_of(args, ds):
    """What a session records of the data the options named and `ds` was read from."""
    from mlp_studio.core.data_source import DataSource

    return DataSource(kind=ds.kind, path="" if args.data is None else ds.source,
                      dataset=args.dataset or "mnist", image_size=args.image_size,
                      color=args.color, target=args.target or "",
                      task=args.task or "auto")  # fmt: skip


def data_folder(data: str | None, dataset: str | None = None) -> Path:
    """The folder the data will be read from (or downloaded to): no output may go there."""
    from mlp_studio.core.mnist import default_cache_dir, resolve_data_dir
    from mlp_studio.core.mnist_families import family

    if data is None and dataset not in (None, "mnist"):
        return family(dataset).cache_dir()
    found = resolve_data_dir(data) or default_cache_dir()
    return found if found.is_dir() or not found.exists() else found.parent  # a folder or a file


def data_inputs(data: str | None, dataset: str | None = None) -> dict:
    """core.outputs.check_distinct's inputs: a table is one file (outputs may sit beside it);
    MNIST and image folders are whole folders (nothing may be written into them)."""
    if data is not None and Path(data).suffix.lower() in (".csv", ".tsv"):
        return {"input_files": [("the data file", Path(data).expanduser())]}
    return {"input_folders": [("the data folder", data_folder(data, dataset))]}


def loss_for_task(train_config, task: str):
    """A regression (a table's numeric target) trained with the default loss gets mean squared
    error: the default, cross-entropy, needs classes. A loss given for it is kept (and refused
    by the trainer with its reason when it cannot fit)."""
    import dataclasses

    from mlp_studio.core.train_config import TrainConfig

    if task == "regression" and train_config.loss == TrainConfig.loss:
        print("note: regression: the loss is mean squared error (mse)", file=sys.stderr)
        return dataclasses.replace(train_config, loss="mse")
    return train_config


def print_scaling_note(model, data) -> None:
    """Say, for a regression, what its losses are computed on and what stays in the target's
    units (the model took the data's target scaling when the Trainer was made)."""
    if data.task != "regression":
        return
    name = terminal_safe(data.class_names[0]) if data.class_names else "y"
    scaling = model.target_scaling
    if scaling is None:
        why = ("--target-scaling none" if data.target_scaling is None
               or data.target_scaling.identity else "MSLE needs the target's own units")
        print(f"note: regression: {name} is not scaled ({why}): the losses are in its units",
              file=sys.stderr)
        return
    print(f"note: regression: the losses are on standardized targets "
          f"{scaling.describe(name)} (training split); RMSE, MAE, R² and predictions are in "
          f"{name}'s units", file=sys.stderr)
