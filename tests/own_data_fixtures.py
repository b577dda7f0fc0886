"""Small own-data fixtures the tests write: an image folder of three shapes and a house-price
table (numbers, a category, a missing value)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("circle", "cross", "line")


def write_image_folder(folder: Path, per_class: int = 14) -> Path:
    """One subfolder per class of 20x24 PNGs (different sizes and modes, as folders are)."""
    rng = np.random.default_rng(0)
    for name in SHAPES:
        (folder / name).mkdir(parents=True)
        for i in range(per_class):
            img = Image.new("RGB" if i % 2 else "L", (20 + i % 3, 24), 0)
            draw = ImageDraw.Draw(img)
            x, y = rng.integers(3, 7, size=2)
            if name == "circle":
                draw.ellipse([x, y, x + 12, y + 12], outline="white", width=2)
            elif name == "cross":
                draw.line([x, y, x + 12, y + 12], fill="white", width=2)
                draw.line([x + 12, y, x, y + 12], fill="white", width=2)
            else:
                draw.line([x, y + 6, x + 12, y + 6], fill="white", width=2)
            img.save(folder / name / f"{i}.png")
    return folder


def write_houses(path: Path, rows: int = 80) -> Path:
    """A small table: numbers, a category, one missing value; price is the last column."""
    rng = np.random.default_rng(1)
    lines = ["rooms,city,age,price"]
    for i in range(rows):
        rooms, age = int(rng.integers(1, 6)), int(rng.integers(0, 60))
        city = ("Oslo", "Bergen", "Tromsø")[i % 3]
        price = 50 * rooms - age + (30 if city == "Oslo" else 0) + rng.normal(0, 5)
        lines.append(f"{'' if i == 5 else rooms},{city},{age},{price:.1f}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
