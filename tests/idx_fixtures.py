"""Small MNIST-shaped IDX files for tests that should not need the full dataset.

write_mnist_folder() makes a folder with the four published file names holding digit-like
images: each class is a bright blob at its own place on a ring, jittered and noisy, so a tiny
MLP learns them in a few epochs and a broken pipeline (shuffled labels, wrong scaling) does not.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def idx_bytes(
    array: np.ndarray, magic: int | None = None, dims: tuple[int, ...] | None = None
) -> bytes:
    """IDX encoding of a uint8 array; magic and dims can be overridden to make broken files."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    magic = (IMAGES_MAGIC if array.ndim == 3 else LABELS_MAGIC) if magic is None else magic
    dims = array.shape if dims is None else dims
    header = magic.to_bytes(4, "big") + np.asarray(dims, ">u4").tobytes()
    return header + array.tobytes()


def write_bytes(path: str | Path, data: bytes, gz: bool = False) -> Path:
    """Write data (gzip-compressed if gz; ".gz" is appended to the name if missing)."""
    path = Path(path)
    if gz:
        path = path if path.name.endswith(".gz") else path.with_name(path.name + ".gz")
        data = gzip.compress(data, compresslevel=1, mtime=0)
    path.write_bytes(data)
    return path


def write_idx_images(path: str | Path, array: np.ndarray, gz: bool = False) -> Path:
    assert array.ndim == 3, "images are [N, rows, cols]"
    return write_bytes(path, idx_bytes(array), gz)


def write_idx_labels(path: str | Path, array: np.ndarray, gz: bool = False) -> Path:
    assert array.ndim == 1, "labels are [N]"
    return write_bytes(path, idx_bytes(array), gz)


def digit_like_images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """uint8 [N, 28, 28]: a Gaussian blob whose position on a ring encodes the label."""
    n = len(labels)
    angle = labels * (2 * np.pi / 10)
    cy = 14 + 8 * np.sin(angle) + rng.normal(0, 1.0, n)
    cx = 14 + 8 * np.cos(angle) + rng.normal(0, 1.0, n)
    rows, cols = np.mgrid[:28, :28]
    dist2 = (rows - cy[:, None, None]) ** 2 + (cols - cx[:, None, None]) ** 2
    images = 255 * np.exp(-dist2 / (2 * 2.5**2)) + rng.normal(0, 20, (n, 28, 28))
    return np.clip(images, 0, 255).astype(np.uint8)


def mnist_like(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n balanced, shuffled labels (uint8) and their digit-like images."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % 10).astype(np.uint8)
    return digit_like_images(labels, rng), labels


def write_mnist_folder(
    folder: str | Path, n_train: int = 600, n_test: int = 100, gz: bool = True, seed: int = 0
) -> Path:
    """The four MNIST files (published names) with n_train/n_test digit-like samples."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    train_x, train_y = mnist_like(n_train, seed)
    test_x, test_y = mnist_like(n_test, seed + 1)
    write_idx_images(folder / NAMES["train_images"], train_x, gz)
    write_idx_labels(folder / NAMES["train_labels"], train_y, gz)
    write_idx_images(folder / NAMES["test_images"], test_x, gz)
    write_idx_labels(folder / NAMES["test_labels"], test_y, gz)
    return folder


def checksums_of(folder: str | Path) -> dict[str, str]:
    """MD5 of each .gz file's decompressed bytes, keyed like core.mnist.MNIST_MD5."""
    folder = Path(folder)
    return {
        stem: hashlib.md5(gzip.decompress((folder / f"{stem}.gz").read_bytes())).hexdigest()
        for stem in NAMES.values()
    }
