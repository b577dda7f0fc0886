"""Screenshots of a table dataset: the Data panel with a CSV's preview, and a regression's
predictions after training (README). Called by app.preview.screenshots.

The table is written here: 500 houses whose price follows their area, rooms, age, distance to
the centre and city, with noise and a few missing values, so the pictures need no download.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from mlp_studio.app.preview.common import save_png, wait

CITIES = ("Oslo", "Bergen", "Trondheim", "Tromsø")


def write_houses(path: Path, rows: int = 500, seed: int = 7) -> Path:
    rng = np.random.default_rng(seed)
    area = rng.uniform(30, 220, rows)
    rooms = np.clip(np.round(area / 35 + rng.normal(0, 0.7, rows)), 1, 8)
    age = rng.integers(0, 90, rows)
    distance = rng.gamma(2.0, 3.0, rows)
    city = rng.integers(0, len(CITIES), rows)
    premium = np.array([1.35, 1.1, 1.0, 0.9])[city]
    price = premium * (38 * area + 60 * rooms - 4 * age) * np.exp(-distance / 25)
    price = price * rng.lognormal(0, 0.08, rows) / 1000  # thousands
    lines = ["area_m2,rooms,age_years,km_to_centre,city,price_k"]
    for i in range(rows):
        gap = i % 97 == 3  # a few missing values, filled with the median
        lines.append(f"{area[i]:.0f},{'' if gap else int(rooms[i])},{age[i]},{distance[i]:.1f},"
                     f"{CITIES[city[i]]},{price[i]:.1f}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def shoot_table(app, window, outdir: Path, folder: Path) -> list[Path]:
    """Train a regression on the houses table; grab the Data panel and the Predictions tab."""
    from mlp_studio.core.model import LayerSpec, NetworkSpec

    state, controller = window.state, window.controller
    panel = window.panels["dataset"]
    state.set_source("mnist")  # the Data panel's data
    window.docks["dataset"].raise_()
    chooser = panel.chooser
    chooser.kind_combo.setCurrentIndex(chooser.kind_combo.findData("table"))
    chooser.set_table_file(str(write_houses(folder / "houses.csv")))
    wait(app, lambda: state.data is not None and state.data.task == "regression"
         and not panel.is_busy())  # fmt: skip
    state.edit_spec(NetworkSpec(state.spec.input_size, [LayerSpec(32), LayerSpec(16)], 1),
                    "Two hidden layers")  # fmt: skip
    config = state.train_config
    config.epochs, config.lr, config.batch_size = 150, 3e-3, 32
    state.set_train_config(config)
    done = []
    controller.finished.connect(done.append)
    window.train()
    wait(app, lambda: bool(done) and not controller.running, timeout_s=300)
    training = window.panels["training"]
    training.tabs.setCurrentWidget(training.regression)
    training.flush()
    app.processEvents()
    window.docks["dataset"].raise_()
    app.processEvents()
    return [save_png(window.docks["dataset"].widget(), outdir / "dataset-table.png"),
            save_png(training, outdir / "training-regression.png")]
