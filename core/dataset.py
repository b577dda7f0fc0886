"""One dataset, whatever it came from: MNIST-format files, a folder of images, or a table.

`load_data` looks at what a path is and reads it into a `Dataset`; `core.data.prepare_dataset`
then splits, balances and normalizes it the same way for every source.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from mlp_studio.core.errors import DataNotFoundError, StudioError
from mlp_studio.core.table_reading import TABLE_SUFFIXES

KINDS = ("mnist", "images", "table")
TASKS = ("classification", "regression")

PathArg = str | os.PathLike[str]
Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]


@dataclass(frozen=True, eq=False)
class Dataset:
    """Raw data as read, before any split or normalization.

    Images are uint8 [N, H, W] (grayscale) or [N, H, W, 3] (RGB); tables float32 [N, D],
    already encoded (categories one-hot). y is int64 class indices (classification) or float32
    targets (regression). x_test/y_test are None when the data has no official test split:
    preparation then carves the test split out of the pooled training data.
    """

    name: str  # "Fashion-MNIST", or the folder's / file's name
    kind: str  # "mnist" | "images" | "table"
    task: str  # "classification" | "regression"
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    class_names: list[str]  # regression: [target name]
    source: str  # the path it was read from, for display
    feature_names: list[str]  # tables: one per input column after encoding; images: []
    table: object | None = None  # tables: core.tables' TableSchema (encoding, imputation)
    notes: tuple[str, ...] = ()  # what to tell the user, e.g. files that could not be read

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise StudioError(f"unknown data kind {self.kind!r}; choose one of {KINDS}")
        if self.task not in TASKS:
            raise StudioError(f"unknown task {self.task!r}; choose one of {TASKS}")
        if (self.x_test is None) != (self.y_test is None):
            raise StudioError("a test split needs both its inputs and its targets")
        for x, y in ((self.x_train, self.y_train), (self.x_test, self.y_test)):
            if x is not None and (len(x) != len(y) or y.ndim != 1):
                raise StudioError(f"{len(x)} inputs but targets of shape {y.shape}")

    @property
    def input_shape(self) -> tuple[int, ...]:
        """(H, W) or (H, W, 3) for images, (D,) for tables."""
        return tuple(int(s) for s in self.x_train.shape[1:])

    @property
    def num_samples(self) -> int:
        return len(self.x_train) + (0 if self.x_test is None else len(self.x_test))


def load_data(
    path: PathArg | None,
    *,
    dataset: str | None = None,
    target: str | None = None,
    task: str | None = None,
    image_size: int = 28,
    color: bool = False,
    download: bool = True,
    cache_dir: PathArg | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> Dataset:
    """Read `path` into a Dataset, whatever it is.

    - None: the MNIST-format family `dataset` (default MNIST) from $MLP_STUDIO_DATA (MNIST only),
      the user cache, or a download;
    - an .npz file or a folder with the MNIST IDX files: that MNIST-format family (`dataset`
      names it; default MNIST);
    - any other folder: one subfolder of images per class, resized to image_size (RGB if
      color); see core.image_folder;
    - a .csv (or .tsv) file: a table with a header row (core.tables).
    target and task are for tables.
    """
    from mlp_studio.core.mnist_families import family, load_family

    if path is None:
        fam = family(dataset)
        return load_family(fam, None, download=download, cache_dir=cache_dir,
                           progress=progress, cancel=cancel)  # fmt: skip
    p = Path(path).expanduser()
    if not os.path.lexists(p):
        raise DataNotFoundError(f"{p} does not exist: give an MNIST folder or .npz file, a "
                                "folder with one subfolder of images per class, or a .csv "
                                "table.")  # fmt: skip
    if p.suffix.lower() in TABLE_SUFFIXES and not p.is_dir():
        from mlp_studio.core.tables import load_table

        return load_table(p, target=target, task=task)  # it refuses FIFOs and devices itself
    if p.is_file() and p.suffix.lower() == ".npz":
        return load_family(family(dataset), p)
    if p.is_dir() and (_holds_idx(p) or not _has_subfolders(p)):
        try:
            return load_family(family(dataset), p)
        except DataNotFoundError as e:
            if _holds_idx(p):
                raise
            raise DataNotFoundError(
                f"{e} Or, to train on your own images, put one subfolder per class in it "
                f"({p.name}/cat/1.png, {p.name}/dog/2.png ...)."
            ) from e
    if p.is_dir():
        if dataset is not None:
            _not_mnist(p, dataset)
        from mlp_studio.core.image_folder import load_image_folder

        return load_image_folder(p, image_size=image_size, color=color, cancel=cancel)
    if p.is_file():
        raise StudioError(
            f"{p.name}: cannot be read as data: give an MNIST folder or .npz file, a folder "
            "with one subfolder of images per class, or a .csv table."
        )
    raise StudioError(f"{p} is neither a regular file nor a folder: give a file or a folder.")


def _holds_idx(folder: Path) -> bool:
    """Any of the MNIST files there: a folder missing some is reported as such."""
    from mlp_studio.core.mnist import FILES, find_file

    return any(find_file(folder, stem) for stem in FILES.values()) or (
        folder / "mnist.npz"
    ).is_file()


def _has_subfolders(folder: Path) -> bool:
    try:
        with os.scandir(folder) as it:
            return any(not e.name.startswith(".") and e.is_dir() for e in it)
    except OSError:
        return True  # let the image folder reader say what is wrong with it


def _not_mnist(folder: Path, dataset: str) -> None:
    from mlp_studio.core.mnist import FILES

    raise DataNotFoundError(
        f"--dataset {dataset} needs the MNIST-format files in {folder} "
        f"({', '.join(f'{s}(.gz)' for s in FILES.values())}), and it holds none: leave out "
        "--dataset to read it as a folder of images, or point at the right folder."
    )
