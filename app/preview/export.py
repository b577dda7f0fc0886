"""The export dialog for a small freshly initialised model; --screenshot exports and verifies
the chosen format first, so the dialog shows its result.

    python -m mlp_studio.app.preview export [--format onnx] [--screenshot PNG] [--dark]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    from mlp_studio.app.dialogs.export_dialog import ExportDialog
    from mlp_studio.app.dialogs.export_formats import FORMATS
    from mlp_studio.app.preview.common import add_common_options, application, show, wait
    from mlp_studio.core.data import Normalization
    from mlp_studio.core.export import ModelBundle
    from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model

    parser = argparse.ArgumentParser(prog="python -m mlp_studio.app.preview export",
                                     description="The export dialog on its own.")  # fmt: skip
    parser.add_argument("--format", default="onnx", choices=[f.key for f in FORMATS])
    add_common_options(parser, "760x760")
    args = parser.parse_args(argv)

    app = application(args.dark)
    spec = NetworkSpec(784, [LayerSpec(64)], 10)
    normalization = Normalization("unit", np.zeros(784), np.full(784, 255.0))
    bundle = ModelBundle(
        spec, normalization, "cross-entropy", [str(d) for d in range(10)],
        build_model(spec).state_dict(),
    )  # fmt: skip
    pixels = np.random.default_rng(0).uniform(0, 255, (1000, 784)).astype(np.float32)
    from mlp_studio.core.data import DataConfig
    from mlp_studio.core.keras_script import export_keras_script
    from mlp_studio.core.training import TrainConfig

    def script(path: Path) -> Path:
        return export_keras_script(bundle, TrainConfig(), DataConfig(), path, "mnist")

    dialog = ExportDialog(bundle, pixels, pixels_label="random images", script=script)

    def export_once() -> None:
        done: list[object] = []
        dialog.finished_job.connect(done.append)
        dialog.set_format(args.format)
        dialog.set_path(Path(tempfile.mkdtemp()) / f"digits{dialog.current_format().suffix}")
        if dialog.start_export():
            wait(app, lambda: done)
        app.processEvents()  # the status labels' new heights

    return show(app, dialog, args, settle=export_once)
