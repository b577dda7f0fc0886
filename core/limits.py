"""How much a run or a file may take, checked before it takes it.

- Training memory: weights, gradients, optimizer state and copies, plus the activations of
  one batch, estimated from the network and batch size and compared with the memory free.
  `--hidden 65536 --batch-size 20000` wants about 17 GB: refused up front with the figure and
  the batch size that would fit, instead of swapping the machine to a halt.
- Picture size: a 13000x13000 PNG decodes to 5.6 GB in 25 s; its size is in the header, so it
  is refused before a pixel is decoded.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlp_studio.core.errors import DataFormatError, SpecError

if TYPE_CHECKING:  # core.model imports torch; reading a picture should not need it
    from mlp_studio.core.model import NetworkSpec

FLOAT_BYTES = 4
EVAL_ROWS = 8192  # core.metrics.evaluate's chunk: validation runs in blocks this tall
# float32 tensors kept per parameter: weights, gradients, the best epoch's and the last good
# weights, and a snapshot for the views; the optimizer's own state comes on top.
PARAMETER_COPIES = 5
OPTIMIZER_SLOTS = {"sgd": 0, "momentum": 1, "nesterov": 1, "adagrad": 1, "adadelta": 2,
                   "rmsprop": 1, "adam": 2, "adamw": 2}
# Per sample and unit of each hidden layer's Linear: its output, the activation's output (both
# kept for backward) and their gradient; measured peaks were ~3 floats (784-8192-10, batch
# 4000: 518 MB over the model; estimate 550 MB).
ACTIVATION_FLOATS = 3
MEMORY_SHARE = 0.5  # of the memory free: the GUI, the data and the system need the rest

MAX_IMAGE_PIXELS = 50_000_000  # a 48-megapixel phone photo opens; 13000x13000 does not
MAX_IMAGE_BYTES = 200_000_000
MAX_ONNX_BYTES = 1 << 30  # the largest network the studio builds (100M parameters) is 400 MB


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a training run needs at its peak, by what holds them."""

    parameters: int  # weights, gradients, copies and optimizer state
    per_sample: int  # activations of one training sample (grows with the batch size)
    batch_size: int
    evaluation: int  # validation in blocks of EVAL_ROWS, without gradients

    @property
    def activations(self) -> int:
        return self.per_sample * self.batch_size

    @property
    def total(self) -> int:
        return self.parameters + max(self.activations, self.evaluation)


def training_memory(spec: NetworkSpec, batch_size: int, optimizer: str) -> MemoryEstimate:
    from mlp_studio.core.model import parameter_count

    params = parameter_count(spec)
    copies = PARAMETER_COPIES + OPTIMIZER_SLOTS.get(optimizer, 2)
    widths = [layer.width for layer in spec.hidden] + [spec.output_size]
    # The input batch is copied once (shuffled slice) and the output's loss is small.
    per_sample = FLOAT_BYTES * (2 * spec.input_size + ACTIVATION_FLOATS * sum(widths))
    sizes = [spec.input_size, *widths]
    widest_step = max(a + b for a, b in zip(sizes, sizes[1:], strict=False))
    return MemoryEstimate(FLOAT_BYTES * params * copies, per_sample, batch_size,
                          FLOAT_BYTES * EVAL_ROWS * widest_step)


def available_memory() -> int | None:
    """Bytes the system could give this process now (Linux: MemAvailable, capped by a cgroup
    v2 memory limit); None where it cannot be told."""
    free = None
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    free = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if free is None:
        try:
            free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, ValueError, OSError):
            return None
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text())
        if limit != "max":
            free = min(free, int(limit) - used)
    except (OSError, ValueError):
        pass
    return max(free, 0)


def memory_problem(spec: NetworkSpec, batch_size: int, optimizer: str,
                   available: int | None = None) -> str | None:
    """Why this network and batch size would not fit in memory, with the figures and what to
    change; None when they fit (or when the free memory cannot be told)."""
    if available is None:
        available = available_memory()
        if available is None:
            return None
    budget = int(available * MEMORY_SHARE)
    need = training_memory(spec, batch_size, optimizer)
    if need.total <= budget:
        return None
    what = (f"Training this network with batch size {batch_size} needs about "
            f"{_size(need.total)} of memory (weights and optimizer {_size(need.parameters)}, "
            f"activations {_size(max(need.activations, need.evaluation))}), more than half of "
            f"the {_size(available)} free on this computer:")
    room = budget - need.parameters
    fitting = room // need.per_sample if room > need.evaluation else 0
    widest = max(layer.units for layer in spec.hidden) if spec.hidden else spec.input_size
    if fitting >= 1:
        return f"{what} use a batch size of at most {fitting:,}, or fewer neurons."
    return f"{what} use fewer neurons (the widest layer has {widest:,})."


def check_training_memory(spec: NetworkSpec, batch_size: int, optimizer: str) -> None:
    """SpecError (with the figures) when training would not fit in the memory free now."""
    problem = memory_problem(spec, batch_size, optimizer)
    if problem is not None:
        raise SpecError(problem)


def check_image_size(width: int, height: int, source: str | Path) -> None:
    """DataFormatError when a picture has too many pixels to decode; call it with the size
    from the header, before decoding."""
    pixels = width * height
    if pixels > MAX_IMAGE_PIXELS:
        raise DataFormatError(
            f"{source} is {width}x{height} pixels ({pixels / 1e6:,.0f} megapixels): MLP Studio "
            f"opens pictures up to {MAX_IMAGE_PIXELS / 1e6:,.0f} megapixels. Scale it down "
            "first; a digit needs no more than a few hundred pixels across.")


def _size(count: int) -> str:
    if count >= 1e9:
        return f"{count / 1e9:.1f} GB"
    return f"{math.ceil(count / 1e6):,} MB"


# Tables (core.tables): a CSV is parsed in memory, ~70 bytes per cell while it is read, so
# 200 MB (about 20 million cells) peaks near 1.5 GB; larger files are refused with their size.
MAX_TABLE_BYTES = 200_000_000
MAX_TABLE_CLASSES = 1000  # a classification target with more distinct values is refused
# A feature column of text with more distinct values than this (or than half the rows) is an
# identifier or free text, not categories: it is left out rather than one-hot encoded.
MAX_CATEGORIES = 100
# A numeric target of whole numbers with at most this many distinct values is taken for
# classes (wine quality 3..9); more is a quantity (regression). Overridable by the user.
INFER_CLASSES_UP_TO = 20
