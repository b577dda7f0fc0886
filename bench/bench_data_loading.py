"""Seconds to load your own data (issue 10): a 60,000-image folder (a 100,000 x 50 CSV:
bench_table_loading.py).

    python bench/bench_data_loading.py [--data MNIST_DIR] [--work DIR] [--keep]

Writes MNIST's 60,000 training digits as 28x28 PNGs, one subfolder per digit (skipped when
--work already holds them), then times core.dataset.load_data on that folder twice: the first
load decodes every file (and writes the cache), the second reads the cache.
"""

import argparse
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from mlp_studio.core.dataset import load_data
from mlp_studio.core.mnist import ENV_VAR, load_folder
from PIL import Image


def write_png_folder(images: np.ndarray, labels: np.ndarray, root: Path) -> float:
    start = time.perf_counter()
    for d in range(10):
        (root / str(d)).mkdir(parents=True, exist_ok=True)

    def write(i: int) -> None:
        Image.fromarray(images[i]).save(root / str(labels[i]) / f"{i:05d}.png")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(len(images))))
    return time.perf_counter() - start


def timed(what: str, load) -> object:
    """Wall seconds, and CPU seconds of all threads: on a shared machine the wall time mostly
    measures the wait for a core, the CPU time what a quiet machine would take (+ I/O)."""
    start, cpu = time.perf_counter(), time.process_time()
    ds = load()
    print(f"{what}: {time.perf_counter() - start:.2f} s wall, "
          f"{time.process_time() - cpu:.2f} s CPU", flush=True)
    return ds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get(ENV_VAR), help=f"MNIST (${ENV_VAR})")
    parser.add_argument("--work", help="folder for the written data (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the written data")
    args = parser.parse_args()
    if not args.data:
        parser.error(f"give --data DIR or set {ENV_VAR}")
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="mlp-bench-data-"))
    # A cache of our own: the first load is a real first load, and the user's cache is untouched.
    os.environ["XDG_CACHE_HOME"] = str(work / "cache")
    shutil.rmtree(work / "cache", ignore_errors=True)
    try:
        folder = work / "mnist-png"
        if not (folder / "9").is_dir():
            mnist = load_folder(args.data)
            seconds = write_png_folder(mnist.train_images, mnist.train_labels, folder)
            print(f"wrote 60,000 PNGs in {seconds:.1f} s ({folder})")
        print(f"cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} before loading")
        ds = timed("image folder, first load (decode 60,000 PNGs, write the cache)",
                   lambda: load_data(folder))
        assert len(ds.x_train) == 60_000 and ds.input_shape == (28, 28), ds.notes
        again = timed("image folder, second load (from the cache)", lambda: load_data(folder))
        assert (again.x_train == ds.x_train).all()

    finally:
        if not args.keep and not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
