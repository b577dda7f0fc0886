"""Write resources/lessons/house_prices.csv: a small synthetic house-price table for lesson 9.

    python tools/make_house_prices.py [OUT.csv]

400 made-up houses: living area (m²), rooms, age (years), distance to the centre (km), a garden
(yes/no) and the neighbourhood (north, south, riverside), with a price in thousands that is a
known formula of them plus noise, so a regression network has something real to find:

    price = 60 + 2.2*area + 8*rooms - 0.9*age - 6*distance + 25*garden
            + {north: 0, south: -20, riverside: +45} + noise (sd 15)

Fixed seed: running it again writes the same file.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

ROWS, SEED = 400, 15
AREAS = {"north": 0.0, "south": -20.0, "riverside": 45.0}


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else (
        Path(__file__).resolve().parents[1] / "resources" / "lessons" / "house_prices.csv")
    rng = np.random.default_rng(SEED)
    area = rng.uniform(35, 220, ROWS).round(0)
    rooms = np.clip((area / 30 + rng.normal(0, 0.8, ROWS)).round(), 1, 8).astype(int)
    age = rng.integers(0, 90, ROWS)
    distance = rng.gamma(2.0, 3.0, ROWS).round(1)
    garden = rng.random(ROWS) < 0.4
    hood = rng.choice(list(AREAS), ROWS, p=[0.4, 0.35, 0.25])
    price = (60 + 2.2 * area + 8 * rooms - 0.9 * age - 6 * distance + 25 * garden
             + np.array([AREAS[h] for h in hood]) + rng.normal(0, 15, ROWS))
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["area_m2", "rooms", "age_years", "distance_km", "garden",
                         "neighbourhood", "price_k"])
        for row in zip(area, rooms, age, distance, garden, hood, price.round(1), strict=True):
            writer.writerow([f"{row[0]:g}", row[1], row[2], f"{row[3]:g}",
                             "yes" if row[4] else "no", row[5], f"{row[6]:g}"])
    print(f"{out} ({ROWS} houses)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
