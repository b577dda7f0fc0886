"""`python -m mlp_studio.app.preview compare [--data DIR] [--screenshot PNG] [--size WxH]`:
the main window with the Compare dock after a paired run on MNIST: an 8-layer sigmoid network
against the same with ReLU (He init in both), over 3 seeds. `--playground` pairs on the
Playground's points instead (tanh against ReLU), with both decision boundaries.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from mlp_studio.app.preview.common import add_common_options, application, show, wait


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlp_studio.app.preview compare")
    add_common_options(parser, "1600x1000")
    parser.add_argument("--data", help="MNIST folder (default: $MLP_STUDIO_DATA)")
    parser.add_argument("--subset", type=int, default=6000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--playground", action="store_true")
    args = parser.parse_args(argv)
    app = application(args.dark)
    from mlp_studio.app.main_window import MainWindow
    from PySide6.QtCore import QSettings

    folder = tempfile.mkdtemp(prefix="mlp-studio-compare-")
    window = MainWindow(QSettings(str(Path(folder) / "settings.ini"), QSettings.Format.IniFormat),
                        autoload_data=False, recovery_path=Path(folder) / "recovery.mlps")
    window.load_engine()
    return show(app, window, args, lambda: _pair(app, window, args))


def _pair(app, window, args) -> None:
    from mlp_studio.core.activations import ActivationSpec
    from mlp_studio.core.data import DataConfig, SplitConfig
    from mlp_studio.core.mnist import resolve_data_dir
    from mlp_studio.core.model import LayerSpec, NetworkSpec
    from mlp_studio.core.paired import plan_pair

    state, panel = window.state, window.panels["compare"]
    config = state.train_config
    config.epochs, config.stats_every = 4, 10
    if args.playground:
        state.set_source("playground")
        wait(app, lambda: state.data is not None and state.data.x_train.shape[1] == 2)
        spec = state.spec
        spec.hidden = [LayerSpec(8, ActivationSpec("tanh")) for _ in range(2)]
        config.epochs, config.batch_size, config.lr = 60, 10, 0.03
        change = ("activation", "relu")
    else:
        data = resolve_data_dir(args.data)
        if data is None:
            raise SystemExit("no MNIST folder: pass --data DIR or set MLP_STUDIO_DATA")
        state.set_data_config(DataConfig(split=SplitConfig(subset=args.subset)))
        window.panels["dataset"].load_folder(data, remember=False)
        wait(app, lambda: state.data is not None and state.data.x_train.shape[1] == 784)
        spec = NetworkSpec(hidden=[LayerSpec(64, ActivationSpec("sigmoid")) for _ in range(8)])
        change = ("activation", "relu")
    state.edit_spec(spec, "Preview network")
    state.set_train_config(config)
    window.docks["compare"].raise_()
    panel.start_pair(plan_pair(panel.base_settings(), *change), args.seeds)
    wait(app, lambda: not panel.runs.running, 600)
