"""The Playground's data settings as a versioned schema: what a session stores of 2-D data
(generator settings, or drawn or imported points themselves), checked before anything uses it.

The ranges here are the Playground panel's too (its sliders and spin boxes take them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from mlp_studio.core.errors import SessionError
from mlp_studio.core.playground import DATASETS, FEATURES, Points

VERSION = 1
MODES = ("dataset", "draw", "csv")
DRAW_CLASSES = 5
# Whole-number settings: (lowest, highest)
RANGES = {
    "noise": (0, 50),  # percent
    "points": (10, 20_000),
    "train_percent": (10, 90),
    "classes": (2, DRAW_CLASSES),  # spiral arms, or the classes one can draw
}


@dataclass(frozen=True, eq=False)
class PlaygroundSettings:
    mode: str = "dataset"
    dataset: str = "circle"
    noise: int = 0
    points: int = 500
    train_percent: int = 50
    classes: int = 3
    seed: int = 0
    features: tuple[str, ...] = ("x1", "x2")
    task: str = "classification"
    drawn: tuple[tuple[float, float, int], ...] = ()  # x1, x2, class
    drawn_train: tuple[bool, ...] = ()  # one flag per drawn point: in the training split
    csv_points: Points | None = field(default=None)  # imported points

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (sessions store them)."""
        out: dict[str, Any] = {
            "version": VERSION, "mode": self.mode, "dataset": self.dataset,
            "noise": self.noise, "points": self.points, "train_percent": self.train_percent,
            "classes": self.classes, "seed": self.seed, "features": list(self.features),
            "task": self.task,
        }  # fmt: skip
        if self.mode == "draw":
            out["drawn"] = [list(point) for point in self.drawn]
            out["drawn_train"] = list(self.drawn_train)
        elif self.mode == "csv" and self.csv_points is not None:
            p = self.csv_points
            out.update(xy=p.xy.tolist(), labels=p.labels.tolist(),
                       class_names=list(p.class_names), extent=list(p.extent), source=p.source)
        return out

    @classmethod
    def from_dict(cls, settings: Any) -> PlaygroundSettings:
        """Read what to_dict() wrote (any version up to VERSION; files without a version are
        version 1); SessionError, saying what is wrong, when it is not valid."""
        try:
            return cls._read(settings)
        except (TypeError, ValueError, KeyError) as err:
            raise SessionError(
                f"Its playground settings are invalid ({err}): choose the data in the "
                "Playground again."
            ) from None

    @classmethod
    def _read(cls, settings: Any) -> PlaygroundSettings:
        if not isinstance(settings, dict):
            raise TypeError("not a JSON object")
        version = settings.get("version", 1)
        if not isinstance(version, int) or version > VERSION:
            raise ValueError(f"version {version!r} is newer than this MLP Studio reads "
                             f"({VERSION}): update MLP Studio")
        mode, dataset = str(settings["mode"]), str(settings["dataset"])
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        if dataset not in DATASETS:
            raise ValueError(f"unknown dataset {dataset!r}")
        numbers = {}
        for key, (low, high) in RANGES.items():
            value = settings[key]
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ValueError(f"{key} {value!r} is not in {low}-{high}")
            numbers[key] = value
        seed = settings["seed"]
        if not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed {seed!r} is not a whole number >= 0")
        features = tuple(str(name) for name in settings["features"])
        if not features or any(name not in FEATURES for name in features):
            raise ValueError(f"features {list(features)!r} are not among {', '.join(FEATURES)}")
        task = str(settings.get("task", "classification"))
        if task not in ("classification", "regression"):
            raise ValueError(f"unknown task {task!r}")
        drawn, drawn_train, csv_points = (), (), None
        if mode == "draw":
            drawn = tuple((float(x), float(y), int(c)) for x, y, c in settings["drawn"])
            drawn_train = tuple(bool(t) for t in settings["drawn_train"])
            if len(drawn_train) != len(drawn):
                raise ValueError("drawn points and their splits differ in number")
            if any(not 0 <= c < DRAW_CLASSES for _, _, c in drawn):
                raise ValueError(f"a drawn point's class is not in 0-{DRAW_CLASSES - 1}")
        if mode == "csv":
            dtype = np.float32 if task == "regression" else np.int64
            xy = np.asarray(settings["xy"], np.float32).reshape(-1, 2)
            labels = np.asarray(settings["labels"], dtype)
            if len(labels) != len(xy):
                raise ValueError("imported points and their labels differ in number")
            if not np.isfinite(xy).all() or (task == "regression" and
                                             not np.isfinite(labels).all()):
                raise ValueError("imported points hold a value that is not a finite number")
            extent = tuple(float(v) for v in settings["extent"])
            if len(extent) != 4:
                raise ValueError("the extent needs four numbers")
            names = tuple(str(n) for n in settings["class_names"])
            csv_points = Points(xy, labels, task, names, extent, str(settings["source"]))
        return cls(mode, dataset, numbers["noise"], numbers["points"],
                   numbers["train_percent"], numbers["classes"], seed, features, task,
                   drawn, drawn_train, csv_points)
