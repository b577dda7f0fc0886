"""Time loading a 100,000-row x 50-column CSV (issue 10): python bench/bench_table_loading.py

Writes two tables into a temporary folder and loads each with core.tables.table_data (read,
infer, impute, encode), printing the seconds:
- numbers only: 49 numeric features and a class column of whole numbers (numpy's C parser);
- mixed: 44 numeric and 5 text features (one-hot), 1% of the cells empty (the csv module and
  one float() pass per column, then median / most-frequent fills).
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from mlp_studio.core.tables import table_data


def write_numbers(path: Path, rows: int, cols: int, rng: np.random.Generator) -> None:
    x = rng.normal(size=(rows, cols - 1)).round(4)
    y = rng.integers(0, 3, rows)
    header = ",".join([f"f{i}" for i in range(cols - 1)] + ["label"])
    np.savetxt(path, np.column_stack([x, y]), delimiter=",", fmt="%.6g", header=header,
               comments="")


def write_mixed(path: Path, rows: int, cols: int, rng: np.random.Generator) -> None:
    numeric, text = cols - 6, 5
    cells = rng.normal(size=(rows, numeric)).round(4).astype(str)
    cells[rng.random(cells.shape) < 0.01] = ""
    towns = np.array(["north", "south", "east", "west", "centre"])
    words = towns[rng.integers(0, len(towns), (rows, text))]
    y = rng.integers(0, 3, rows).astype(str)
    table = np.column_stack([cells, words, y])
    header = [f"f{i}" for i in range(numeric)] + [f"t{i}" for i in range(text)] + ["label"]
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        f.writelines(",".join(row) + "\n" for row in table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--cols", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        for name, write in (("numbers only", write_numbers), ("mixed", write_mixed)):
            path = Path(folder) / f"{name.replace(' ', '_')}.csv"
            write(path, args.rows, args.cols, rng)
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                data = table_data(path)
                times.append(time.perf_counter() - start)
            print(f"{name}: {args.rows:,} rows x {args.cols} columns "
                  f"({path.stat().st_size / 1e6:.0f} MB) -> x {data.x.shape}, "
                  f"{data.schema.task}: median {statistics.median(times):.2f} s "
                  f"(min {min(times):.2f}, max {max(times):.2f}, {len(times)} runs)")


if __name__ == "__main__":
    main()
