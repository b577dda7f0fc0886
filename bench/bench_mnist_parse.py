"""Time parsing the four full MNIST gz files: python bench/bench_mnist_parse.py [--data DIR]."""

import argparse
import os
import statistics
import time

from mlp_studio.core.mnist import ENV_VAR, load_folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--data", default=os.environ.get(ENV_VAR), help=f"MNIST folder (${ENV_VAR})"
    )
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    folder = args.data
    if not folder:
        parser.error(f"give --data DIR or set {ENV_VAR}")
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        data = load_folder(folder)
        times.append(time.perf_counter() - start)
    n = len(data.train_images) + len(data.test_images)
    print(
        f"load_folder({folder}): {n} images, median {statistics.median(times):.3f} s "
        f"(min {min(times):.3f}, max {max(times):.3f}, {len(times)} runs)"
    )


if __name__ == "__main__":
    main()
