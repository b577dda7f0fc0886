"""Where a dataset comes from, as a small JSON-friendly record: what sessions remember (the GUI's
and `mlp-studio train --save-session`'s) so that opening one loads the same data again.

Its fields are core.dataset.load_data's arguments: `DataSource.load_arguments()` gives them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mlp_studio.core.errors import SpecError

KINDS = ("mnist", "images", "table")  # an MNIST-format family, a folder of class folders, a CSV
FAMILIES = {"mnist": "MNIST digits", "fashion-mnist": "Fashion-MNIST", "kmnist": "KMNIST"}
TASK_CHOICES = ("auto", "classification", "regression")
MAX_IMAGE_SIZE = 256  # pixels per side: a bigger picture makes an MLP of millions of inputs


@dataclass(frozen=True)
class DataSource:
    kind: str = "mnist"
    path: str = ""  # the folder, .npz or .csv; "" for a family from $MLP_STUDIO_DATA or the cache
    dataset: str = "mnist"  # kind "mnist": which family (a key of FAMILIES)
    image_size: int = 28  # kind "images": pictures are resized to image_size x image_size
    color: bool = False  # kind "images": RGB instead of grayscale
    target: str = ""  # kind "table": the target column ("" = the last one)
    task: str = "auto"  # kind "table": auto | classification | regression

    def problems(self) -> list[str]:
        out = []
        if self.kind not in KINDS:
            out.append(f"unknown data kind {self.kind!r}; choose one of {', '.join(KINDS)}")
        if self.dataset not in FAMILIES:
            out.append(f"unknown dataset {self.dataset!r}; choose one of {', '.join(FAMILIES)}")
        size = self.image_size
        if not (isinstance(size, int) and not isinstance(size, bool)
                and 1 <= size <= MAX_IMAGE_SIZE):  # fmt: skip
            out.append(f"image size must be a whole number from 1 to {MAX_IMAGE_SIZE}, "
                       f"got {size!r}")
        if not isinstance(self.color, bool):
            out.append(f"color must be true or false, got {self.color!r}")
        if not isinstance(self.path, str) or not isinstance(self.target, str):
            out.append("the path and the target column must be text")
        if self.task not in TASK_CHOICES:
            out.append(f"unknown task {self.task!r}; choose one of {', '.join(TASK_CHOICES)}")
        if self.kind in ("images", "table") and not self.path:
            out.append(f"a data source of kind {self.kind!r} needs a path")
        return out

    def validate(self) -> None:
        problems = self.problems()
        if problems:
            raise SpecError("invalid data source: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any) -> DataSource:
        """Missing keys take defaults; unknown keys or wrong values raise SpecError."""
        if not isinstance(d, dict):
            raise SpecError(f"the data source must be a mapping, got {type(d).__name__}")
        unknown = sorted(set(d) - set(cls.__dataclass_fields__))
        if unknown:
            raise SpecError(f"unknown data source setting(s): {', '.join(unknown)}")
        source = cls(**d)
        source.validate()
        return source

    def load_arguments(self) -> dict[str, Any]:
        """core.dataset.load_data's arguments for this source (path first)."""
        args: dict[str, Any] = {"path": self.path or None}
        if self.kind == "mnist":
            args["dataset"] = self.dataset
        elif self.kind == "images":
            args.update(image_size=self.image_size, color=self.color)
        else:
            args.update(target=self.target or None,
                        task=None if self.task == "auto" else self.task)  # fmt: skip
        return args

    def describe(self) -> str:
        """For people: "Fashion-MNIST", "image folder flowers (32x32 RGB)", "table wine.csv"."""
        if self.kind == "mnist":
            return FAMILIES[self.dataset]
        name = Path(self.path).name or self.path
        if self.kind == "images":
            mode = "RGB" if self.color else "grayscale"
            return f"image folder {name} ({self.image_size}×{self.image_size} {mode})"
        return f"table {name}"
