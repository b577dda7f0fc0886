"""MNIST-format families by name: MNIST, Fashion-MNIST and KMNIST (Kuzushiji-MNIST).

All three ship the same four IDX files (same names, 60,000 + 10,000 images of 28x28, labels
0-9), so core.mnist reads and downloads them all; a family adds its class names, mirrors,
checksums and its own cache folder. Fashion-MNIST and KMNIST publish the MD5 of the .gz files
(zalandoresearch/fashion-mnist README; rois-codh/kmnist, as torchvision uses them); MNIST's
are of the decompressed files (core.mnist.MNIST_MD5).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import platformdirs
from mlp_studio.core import mnist
from mlp_studio.core.dataset import Cancel, Dataset, PathArg, Progress
from mlp_studio.core.errors import DataNotFoundError, StudioError


@dataclass(frozen=True)
class Family:
    key: str  # what --dataset takes
    name: str  # for display
    class_names: tuple[str, ...]
    mirrors: tuple[str, ...]  # base URLs, tried in order
    mirrors_env: str  # environment variable that overrides them
    md5: Mapping[str, str]  # published file name (no .gz) -> MD5
    compressed_md5: bool  # md5 is of the .gz file rather than of its content
    max_bytes: Mapping[str, int] = field(default_factory=dict)

    def cache_dir(self) -> Path:
        return Path(platformdirs.user_cache_dir("mlp-studio")) / self.key


# The most a mirror's .gz may weigh: above the decompressed size, so any gzip level fits
# (47 MB, 60 kB, 7.8 MB and 10 kB decompressed; Fashion's training images are 26 MB as .gz).
_MAX_BYTES = {
    "train-images-idx3-ubyte": 60_000_000,
    "train-labels-idx1-ubyte": 100_000,
    "t10k-images-idx3-ubyte": 10_000_000,
    "t10k-labels-idx1-ubyte": 20_000,
}

FAMILIES = {
    "mnist": Family(
        "mnist", "MNIST", tuple(str(d) for d in range(10)), mnist.DEFAULT_MIRRORS,
        mnist.MIRRORS_ENV_VAR, mnist.MNIST_MD5, False, mnist.MNIST_MAX_BYTES,
    ),
    "fashion-mnist": Family(
        "fashion-mnist", "Fashion-MNIST",
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
         "Bag", "Ankle boot"),
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        "MLP_STUDIO_FASHION_MNIST_MIRRORS",
        {
            "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
        },
        True, _MAX_BYTES,
    ),
    "kmnist": Family(
        "kmnist", "KMNIST",
        ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
        ("https://codh.rois.ac.jp/kmnist/dataset/kmnist/",
         "https://storage.googleapis.com/kuzushiji-mnist/"),
        "MLP_STUDIO_KMNIST_MIRRORS",
        {
            "train-images-idx3-ubyte": "bdb82020997e1d708af4cf47b453dcf7",
            "train-labels-idx1-ubyte": "e144d726b3acfaa3e44228e80efcd344",
            "t10k-images-idx3-ubyte": "5c965bf0a639b31b8f53240b1b52f4d7",
            "t10k-labels-idx1-ubyte": "7320c461ea6c1c855c0b718fb2a4b134",
        },
        True, _MAX_BYTES,
    ),
}  # fmt: skip


def family(name: str | None) -> Family:
    """The family called `name` ("mnist", "fashion-mnist", "kmnist"; None: MNIST)."""
    key = (name or "mnist").strip().lower().replace("_", "-")
    if key in ("fashion", "fashionmnist"):
        key = "fashion-mnist"
    if key not in FAMILIES:
        raise StudioError(
            f"unknown dataset {name!r}: choose one of {', '.join(FAMILIES)}, or give --data "
            "with an image folder or an MNIST-format folder"
        )
    return FAMILIES[key]


def family_mirrors(fam: Family, environ: Mapping[str, str] = os.environ) -> tuple[str, ...]:
    return mnist.configured_mirrors(environ, fam.mirrors_env, fam.mirrors)


def download_family(
    fam: Family,
    dest: PathArg | None = None,
    *,
    mirrors: tuple[str, ...] | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    limits: mnist.Limits = mnist.DEFAULT_LIMITS,
) -> Path:
    """Download the family's four files into dest (default: its cache folder), verified."""
    return mnist.download_mnist(
        dest or fam.cache_dir(), family_mirrors(fam) if mirrors is None else mirrors,
        progress, cancel, limits, checksums=fam.md5, max_bytes=fam.max_bytes, name=fam.name,
        compressed_md5=fam.compressed_md5,
        advice=f"Point the app at a folder holding them: --data DIR --dataset {fam.key} on the "
        "command line, or the Data panel's folder chooser.",
    )  # fmt: skip


def load_family(
    fam: Family,
    path: PathArg | None,
    *,
    download: bool = True,
    cache_dir: PathArg | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> Dataset:
    """The family read from path (a folder or .npz) or, when None, found or downloaded.

    Only MNIST looks at $MLP_STUDIO_DATA: it names an MNIST folder, and the families share
    file names, so another family there would be mislabelled.
    """
    if path is not None:
        arrays = mnist.load_folder(path)
    elif fam.key == "mnist":
        arrays = mnist.load_mnist(None, download=download,
                                  cache_dir=cache_dir, progress=progress, cancel=cancel)
    else:
        cache = Path(cache_dir) if cache_dir else fam.cache_dir()
        if not mnist.holds_mnist(cache):
            if not download:
                raise DataNotFoundError(
                    f"{fam.name} is not in {cache} and downloading is off. Point the app at a "
                    f"folder holding its four IDX files (--data DIR --dataset {fam.key}).")
            download_family(fam, cache, progress=progress, cancel=cancel)
        arrays = mnist.load_folder(cache)
    return dataset_of(arrays, fam)


def dataset_of(arrays: mnist.MnistArrays, fam: Family | None = None) -> Dataset:
    fam = fam or FAMILIES["mnist"]
    return Dataset(
        name=fam.name, kind="mnist", task="classification",
        x_train=arrays.train_images, y_train=arrays.train_labels.astype(np.int64),
        x_test=arrays.test_images, y_test=arrays.test_labels.astype(np.int64),
        class_names=list(fam.class_names), source=arrays.source, feature_names=[],
    )  # fmt: skip
