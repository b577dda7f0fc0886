import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

MNIST_ENV = "MLP_STUDIO_DATA"


def full_mnist_dir() -> Path | None:
    value = os.environ.get(MNIST_ENV)
    if value and (Path(value) / "train-images-idx3-ubyte.gz").exists():
        return Path(value)
    return None


@pytest.fixture
def mnist_dir() -> Path:
    """The full MNIST folder; skips where it is absent (CI always has it)."""
    folder = full_mnist_dir()
    if folder is None:
        pytest.skip(f"full MNIST not found: set {MNIST_ENV} to a folder with the four IDX files")
    return folder
