"""The headless command line: `mlp-studio train ...` and `mlp-studio predict ...`.

A client of the same engine API as the GUI. Bad input exits with status 2 and one line
`error: ...` on stderr, never a traceback.
"""

import argparse
import copy
import json
import sys
import time
from pathlib import Path

from mlp_studio.core.errors import StudioError

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        raise StudioError(f"{message} (see `mlp-studio {self.prog.split()[-1]} --help`)")


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a comma-separated list of numbers") from None


def _ints(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a comma-separated list of whole numbers") from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mlp-studio", description="MLP Studio: build, train and export "
                     "multi-layer perceptrons. Without arguments, opens the desktop app.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    _add_train_arguments(sub.add_parser("train", help="train a network headless on MNIST"))

    predict = sub.add_parser("predict", help="classify digit images with an exported model")
    predict.add_argument("model", help="a .onnx, .pt or .safetensors file from MLP Studio, or a "
                         ".mlps session")
    predict.add_argument("images", nargs="+", help="PNG/JPEG files, any size, either polarity")
    predict.add_argument("--json", action="store_true", help="print JSON instead of text")
    return parser


def given_options(argv: list[str]) -> set[str]:
    """The train options written on the command line (argv[0] == "train"), as dests ("lr").

    Parses into a namespace where every option is already None: argparse then leaves out the
    defaults, and no option given on a command line parses to None.
    """
    train = _Parser(prog="mlp-studio train")
    _add_train_arguments(train)
    dests = vars(train.parse_args([]))
    namespace = train.parse_args(argv[1:], argparse.Namespace(**dict.fromkeys(dests)))
    return {dest for dest, value in vars(namespace).items() if value is not None}


def _add_train_arguments(train: argparse.ArgumentParser) -> None:
    from mlp_studio.core.activations import ACTIVATIONS
    from mlp_studio.core.data import NORMALIZATIONS
    from mlp_studio.core.losses import LOSSES
    from mlp_studio.core.model import INITS
    from mlp_studio.core.train_config import DEVICES, DIVERGENCE_FACTOR, OPTIMIZERS, SCHEDULES

    g = train.add_argument_group("data")
    g.add_argument("--data", metavar="DIR", help="folder with the MNIST IDX files or mnist.npz "
                   "(default: $MLP_STUDIO_DATA, then the cache, then a download)")
    g.add_argument("--no-download", action="store_true", help="never download MNIST")
    g.add_argument("--normalization", default="unit", choices=NORMALIZATIONS)
    g.add_argument("--split", default="official", choices=("official", "pooled"),
                   help="official: MNIST test set + validation from training; pooled: all 70k "
                   "split by --percentages")
    g.add_argument("--val-fraction", type=float, default=0.1)
    g.add_argument("--val-count", type=int)
    g.add_argument("--percentages", type=_floats, default=[70.0, 20.0, 10.0],
                   metavar="TRAIN,VAL,TEST")
    g.add_argument("--random-split", action="store_true", help="not stratified by class")
    g.add_argument("--split-seed", type=int, default=0)
    g.add_argument("--subset", type=int, help="keep at most this many training samples")
    g.add_argument("--keep-fractions", type=_floats, metavar="F0,...,F9",
                   help="per-class share of the training set to keep (imbalance)")
    g.add_argument("--long-tail", type=float, metavar="SMALLEST",
                   help="long-tail imbalance: class 0 keeps all, class 9 keeps SMALLEST")
    g.add_argument("--remedy", default="none",
                   choices=("none", "oversample", "undersample", "class_weights"))
    g.add_argument("--target-digit", type=int, metavar="D",
                   help="binary task: is it the digit D?")

    g = train.add_argument_group("network")
    g.add_argument("--hidden", type=_ints, default=[128], metavar="N,N,...",
                   help="hidden layer sizes, e.g. 256,128")
    g.add_argument("--activation", default="relu",
                   help=f"one for all layers or a comma list per layer: {', '.join(ACTIVATIONS)}")
    g.add_argument("--formula", default="", help="custom activation in x, e.g. 'x*sigmoid(x)'")
    g.add_argument("--leaky-slope", type=float, default=0.01)
    g.add_argument("--maxout-pieces", type=int, default=2)
    g.add_argument("--dropout", type=_floats, default=[0.0], metavar="P[,P...]")
    g.add_argument("--batch-norm", action="store_true")
    g.add_argument("--init", default="he", choices=INITS)

    g = train.add_argument_group("training")
    g.add_argument("--loss", default="sparse_categorical_cross_entropy",
                   help=f"{', '.join(LOSSES)} (or cross-entropy, bce, kl)")
    g.add_argument("--optimizer", default="adam", choices=OPTIMIZERS)
    g.add_argument("--lr", type=float, default=1e-3)
    g.add_argument("--momentum", type=float, default=0.9)
    g.add_argument("--weight-decay", type=float, default=0.0)
    g.add_argument("--l1", type=float, default=0.0)
    g.add_argument("--schedule", default="constant", choices=SCHEDULES)
    g.add_argument("--step-epochs", type=int, default=1)
    g.add_argument("--gamma", type=float, default=0.5)
    g.add_argument("--batch-size", type=int, default=128)
    g.add_argument("--epochs", type=int, default=5)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--device", default="cpu", choices=DEVICES)
    g.add_argument("--stats-every", type=int, default=50)
    g.add_argument("--no-restore-best", action="store_true",
                   help="end with the last weights, not those of the best validation loss")
    g.add_argument("--divergence-factor", type=float, default=DIVERGENCE_FACTOR, metavar="F",
                   help="stop when the loss rises F times above its lowest in the run "
                   f"(default {DIVERGENCE_FACTOR:g}; 0: never; NaN always stops)")

    g = train.add_argument_group("output")
    g.add_argument("--export", action="append", default=[], metavar="PATH",
                   help="write the model (.onnx, .pt TorchScript, .safetensors); repeatable")
    g.add_argument("--metrics-json", metavar="PATH")
    g.add_argument("--quiet", action="store_true", help="no progress bar")

    g = train.add_argument_group(
        "session", "A session file (.mlps) holds a whole experiment: network, weights, data and "
        "training settings, history. The app's File > Save session writes the same files.")
    g.add_argument("--session", metavar="FILE",
                   help="continue the experiment in FILE and write it back (atomically). "
                   "Data, training and output options given alongside override the saved "
                   "values: --epochs N trains N more epochs, --lr sets a new learning rate. "
                   "Network options are refused (the saved weights fix the network). The data "
                   "comes from --data, else the folder the session was prepared from, else "
                   "$MLP_STUDIO_DATA or the cache. A FILE that does not exist is created from "
                   "the other options. The optimizer's state is not saved: momentum and Adam's "
                   "averages start afresh")
    g.add_argument("--restart", action="store_true",
                   help="with --session: train the saved experiment again from its initial "
                   "(seeded) weights, dropping its history")


def _spec_from_args(args, num_classes: int, input_size: int):
    from mlp_studio.core.activations import ActivationSpec
    from mlp_studio.core.model import LayerSpec, NetworkSpec

    n = len(args.hidden)
    names = [a.strip() for a in args.activation.split(",")]
    if len(names) not in (1, n):
        raise StudioError(f"--activation has {len(names)} names for {n} hidden layers: give one "
                          "name, or one per layer.")
    if len(args.dropout) not in (1, n):
        raise StudioError(f"--dropout has {len(args.dropout)} values for {n} hidden layers: give "
                          "one value, or one per layer.")
    names = names * n if len(names) == 1 else names
    drops = args.dropout * n if len(args.dropout) == 1 else args.dropout
    if args.formula and "custom" not in names:
        names = ["custom"] * n
    layers = [
        LayerSpec(units, ActivationSpec(name, args.leaky_slope, args.maxout_pieces, args.formula),
                  dropout, args.batch_norm)
        for units, name, dropout in zip(args.hidden, names, drops, strict=True)
    ]
    spec = NetworkSpec(input_size, layers, num_classes, args.init, args.seed)
    spec.validate()
    return spec


def _data_config_from_args(args):
    from mlp_studio.core.data import BalanceConfig, DataConfig, SplitConfig, long_tail_fractions

    if args.keep_fractions is not None and args.long_tail is not None:
        raise StudioError("Use either --keep-fractions or --long-tail, not both.")
    keep = (1.0,) * 10
    if args.keep_fractions is not None:
        keep = tuple(args.keep_fractions)
    elif args.long_tail is not None:
        keep = long_tail_fractions(10, args.long_tail)
    config = DataConfig(
        normalization=args.normalization,
        split=SplitConfig(
            mode=args.split, val_fraction=args.val_fraction, val_count=args.val_count,
            percentages=tuple(args.percentages), stratified=not args.random_split,
            seed=args.split_seed, subset=args.subset,
        ),
        balance=BalanceConfig(keep_fractions=keep, remedy=args.remedy),
        target_digit=args.target_digit,
    )
    config.validate()
    return config


def _train_config_from_args(args):
    from mlp_studio.core.training import TrainConfig

    config = TrainConfig(
        loss=args.loss, optimizer=args.optimizer, lr=args.lr, momentum=args.momentum,
        weight_decay=args.weight_decay, l1=args.l1, schedule=args.schedule,
        step_epochs=args.step_epochs, gamma=args.gamma, batch_size=args.batch_size,
        epochs=args.epochs, seed=args.seed, device=args.device, stats_every=args.stats_every,
        restore_best=not args.no_restore_best, divergence_factor=args.divergence_factor,
    )
    config.validate()
    return config


class _ProgressBar:
    """One line on stderr, redrawn at most 10 times a second."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._last = 0.0

    def __call__(self, event) -> None:
        from mlp_studio.core.training import BatchProgress, Diverged, EpochEnd, Finished

        if isinstance(event, Diverged):
            print(f"\n{event.message}", file=sys.stderr)
        elif isinstance(event, Finished) and event.ended_worse:
            print(f"Note: this run ended with a validation loss of {event.end_val_loss:.4g}, "
                  f"worse than the {event.start_val_loss:.4g} of the model it started from.",
                  file=sys.stderr)
        if not self.enabled:
            return
        if isinstance(event, BatchProgress):
            now = time.perf_counter()
            if now - self._last < 0.1 and event.batch < event.batches_per_epoch:
                return
            self._last = now
            done = event.batch / event.batches_per_epoch
            bar = "#" * int(done * 30)
            print(f"\repoch {event.epoch} [{bar:<30}] {event.batch}/{event.batches_per_epoch} "
                  f"loss {event.losses[-1]:.4f} {event.samples_per_second:,.0f} samples/s",
                  end="", file=sys.stderr, flush=True)
        elif isinstance(event, EpochEnd):
            print(f"\repoch {event.epoch}/{event.epochs}: train loss {event.train_loss:.4f} "
                  f"acc {event.train_accuracy:.4f} | val loss {event.val.loss:.4f} "
                  f"acc {event.val.accuracy:.4f} | {event.seconds:.1f} s" + " " * 20,
                  file=sys.stderr, flush=True)


def metrics_table(metrics, class_names: list[str]) -> str:
    lines = [f"{'class':>8} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>8}"]
    for i, name in enumerate(class_names):
        lines.append(f"{name:>8} {metrics.precision[i]:9.4f} {metrics.recall[i]:7.4f} "
                     f"{metrics.f1[i]:7.4f} {int(metrics.support[i]):8d}")
    for label, avg in (("macro", metrics.macro), ("weighted", metrics.weighted)):
        lines.append(f"{label:>8} {avg['precision']:9.4f} {avg['recall']:7.4f} "
                     f"{avg['f1']:7.4f} {int(metrics.support.sum()):8d}")
    lines.append(f"accuracy {metrics.accuracy:.4f}   loss {metrics.loss:.4f}")
    return "\n".join(lines)


def metrics_report(finished, class_names: list[str]) -> dict:
    test = finished.test
    report = {
        "test_accuracy": None if test is None else test.accuracy,
        "test_loss": None if test is None else test.loss,
        "confusion_matrix": None if test is None else test.confusion.tolist(),
        "per_class": None if test is None else test.to_dict(class_names)["per_class"],
        "epochs": [
            {"epoch": e.epoch, "train_loss": e.train_loss, "train_accuracy": e.train_accuracy,
             "val_loss": e.val_loss, "val_accuracy": e.val_accuracy, "seconds": e.seconds}
            for e in finished.history.epochs
        ],
        "best_epoch": finished.best_epoch,
        "stopped": finished.stopped,
        "diverged": None if finished.diverged is None else finished.diverged.message,
    }
    return report


def _write_text_atomic(path: Path, text: str) -> None:
    from mlp_studio.core.export import atomic_write

    atomic_write(path, text.encode())


def export_by_suffix(bundle, path: Path) -> None:
    from mlp_studio.core import export

    writers = {".onnx": export.export_onnx, ".pt": export.export_torchscript,
               ".torchscript": export.export_torchscript,
               ".safetensors": export.export_safetensors}
    writer = writers.get(path.suffix.lower())
    if writer is None:
        raise StudioError(f"Cannot export to '{path}': use a name ending in .onnx, .pt or "
                          ".safetensors.")
    writer(bundle, path)


def run_train(args) -> int:
    from mlp_studio.core.data import prepare_mnist
    from mlp_studio.core.export import ModelBundle
    from mlp_studio.core.mnist import load_mnist
    from mlp_studio.core.model import build_model, describe
    from mlp_studio.core.training import Trainer

    data_config = _data_config_from_args(args)
    train_config = _train_config_from_args(args)
    _check_output_folders(args)

    mnist = load_mnist(args.data, download=not args.no_download)
    data = prepare_mnist(mnist, data_config)
    spec = _spec_from_args(args, data.num_classes, int(data.x_train.shape[1]))
    print(f"data: {mnist.source} | train {len(data.x_train):,} val {len(data.x_val):,} "
          f"test {len(data.x_test):,} | network {describe(spec)}", file=sys.stderr)

    trainer = Trainer(build_model(spec), data, train_config,
                      on_event=_ProgressBar(not args.quiet))
    finished = trainer.run()
    _write_outputs(args, finished, data, ModelBundle(
        spec, data.normalization, train_config.loss, data.class_names,
        {k: v.detach().cpu() for k, v in trainer.model.state_dict().items()}))
    return 1 if finished.diverged else 0


def _check_output_folders(args) -> None:
    for path in [*args.export, *([args.metrics_json] if args.metrics_json else [])]:
        parent = Path(path).expanduser().resolve().parent
        if not parent.is_dir():
            raise StudioError(f"Cannot write '{path}': the folder {parent} does not exist.")
    if args.metrics_json:
        from mlp_studio.core.export import sidecar_path

        metrics = Path(args.metrics_json).expanduser().resolve()
        for path in args.export:
            if (Path(path).suffix.lower() == ".safetensors"
                    and sidecar_path(Path(path).expanduser().resolve()) == metrics):
                raise StudioError(
                    f"--metrics-json '{args.metrics_json}' is where the export '{path}' writes "
                    "its description: give the metrics file another name."
                )


def _write_outputs(args, finished, data, bundle) -> None:
    """The test metrics table, then --metrics-json and --export files."""
    if finished.test is not None:
        print(metrics_table(finished.test, data.class_names))
    if args.metrics_json:
        report = metrics_report(finished, data.class_names)
        _write_text_atomic(Path(args.metrics_json), json.dumps(report, indent=2))
    for path in args.export:
        export_by_suffix(bundle, Path(path))
        print(f"exported {path}", file=sys.stderr)


# Options of each kind, as argparse dests; see run_train_session.
NETWORK_OPTIONS = frozenset({"hidden", "activation", "formula", "leaky_slope", "maxout_pieces",
                             "dropout", "batch_norm", "init"})
TRAIN_FIELDS = ("loss", "optimizer", "lr", "momentum", "weight_decay", "l1", "schedule",
                "step_epochs", "gamma", "batch_size", "epochs", "seed", "device", "stats_every",
                "divergence_factor")


def _override_data_config(config, args, given: set[str]):
    """The saved data settings with the data options given on the command line applied."""
    from mlp_studio.core.data import long_tail_fractions

    config = copy.deepcopy(config)
    split, balance = config.split, config.balance
    simple = {"normalization": (config, "normalization"), "split": (split, "mode"),
              "val_fraction": (split, "val_fraction"), "val_count": (split, "val_count"),
              "split_seed": (split, "seed"), "subset": (split, "subset"),
              "remedy": (balance, "remedy"), "target_digit": (config, "target_digit")}
    for dest, (target, name) in simple.items():
        if dest in given:
            setattr(target, name, getattr(args, dest))
    if "percentages" in given:
        split.percentages = tuple(args.percentages)
    if "random_split" in given:
        split.stratified = False
    if {"keep_fractions", "long_tail"} <= given:
        raise StudioError("Use either --keep-fractions or --long-tail, not both.")
    if "keep_fractions" in given:
        balance.keep_fractions = tuple(args.keep_fractions)
    elif "long_tail" in given:
        balance.keep_fractions = long_tail_fractions(10, args.long_tail)
    config.validate()
    return config


def _override_train_config(config, args, given: set[str]):
    """The saved training settings with the training options given applied."""
    config = copy.deepcopy(config)
    for name in TRAIN_FIELDS:
        if name in given:
            setattr(config, name, getattr(args, name))
    if "no_restore_best" in given:
        config.restore_best = False
    config.validate()
    return config


def run_train_session(args, given: set[str]) -> int:
    """`train --session FILE`: continue (or --restart, or start) a saved experiment headless."""
    from mlp_studio.core.data import prepare_mnist
    from mlp_studio.core.mnist import load_mnist
    from mlp_studio.core.model import build_model, describe
    from mlp_studio.core.session import (
        Session,
        best_val_loss,
        load_session,
        merge_history,
        save_session,
        session_bundle,
    )
    from mlp_studio.core.training import History, Trainer

    path = Path(args.session).expanduser()
    old = load_session(path) if path.exists() else None
    if old is None:
        if args.restart:
            raise StudioError(f"--restart needs a saved session, but {path} does not exist.")
        data_config, train_config = _data_config_from_args(args), _train_config_from_args(args)
    else:
        refused = sorted(given & NETWORK_OPTIONS)
        if refused:
            raise StudioError(f"--{refused[0].replace('_', '-')} cannot change the network of "
                              f"the session {path}: its weights fix it. Leave it out, or train "
                              "into a new session file.")
        data_config = _override_data_config(old.data_config, args, given)
        train_config = _override_train_config(old.train_config, args, given)
    if not path.parent.is_dir():
        raise StudioError(f"Cannot write '{path}': the folder {path.parent} does not exist.")
    _check_output_folders(args)

    source = args.data
    if source is None and old is not None and old.data_source and Path(old.data_source).exists():
        source = old.data_source
    mnist = load_mnist(source, download=not args.no_download)
    data = prepare_mnist(mnist, data_config)
    input_size = int(data.x_train.shape[1])
    if old is None:
        spec = _spec_from_args(args, data.num_classes, input_size)
    else:
        spec = old.spec
        if (spec.input_size, spec.output_size) != (input_size, data.num_classes):
            raise StudioError(
                f"The session's network takes {spec.input_size} inputs and gives "
                f"{spec.output_size} outputs, but its data settings give {input_size} inputs "
                f"and {data.num_classes} classes: leave out --target-digit, or start a new "
                "session file.")
    continuing = old is not None and not args.restart
    model = build_model(spec)
    history, epochs_done, best, best_epoch, optimizer = History(), 0, None, None, None
    if continuing:
        model.load_state_dict(old.weights)
        history, epochs_done = old.history, old.epochs_done
        best, best_epoch, optimizer = old.best_weights, old.best_epoch, old.optimizer_state
    what = "continuing" if continuing else "restarting" if old is not None else "new"
    print(f"session: {path} ({what}, {epochs_done} epochs done) | data: {mnist.source} | "
          f"train {len(data.x_train):,} val {len(data.x_val):,} test {len(data.x_test):,} | "
          f"network {describe(spec)}", file=sys.stderr)

    trainer = Trainer(model, data, train_config, on_event=_ProgressBar(not args.quiet),
                      start_epoch=epochs_done, optimizer_state=optimizer)
    finished = trainer.run()
    run = finished.history
    if trainer.best_state is not None and (
            best is None or trainer.best_val_loss < best_val_loss(history, best_epoch)):
        best, best_epoch = trainer.best_state, trainer.best_epoch
    session = Session(
        spec, {k: v.detach().cpu() for k, v in trainer.model.state_dict().items()},
        data_config, train_config, data.normalization, list(data.class_names),
        merge_history(history, run), best, best_epoch, epochs_done + len(run.epochs),
        mnist.source, created=old.created if old is not None else "",
        optimizer_state=trainer.optimizer_state,
    )
    save_session(session, path)
    print(f"saved session {path} ({session.epochs_done} epochs done)", file=sys.stderr)
    _write_outputs(args, finished, data, session_bundle(session))
    return 1 if finished.diverged else 0


def run_predict(args) -> int:
    import numpy as np
    from mlp_studio.core.digits import load_image, preprocess_digit
    from mlp_studio.core.export import load_predictor

    predictor = load_predictor(args.model)
    pixels, empty = [], []
    for path in args.images:
        steps = preprocess_digit(load_image(path))
        pixels.append(steps.pixels)
        empty.append(steps.empty)
    probs = predictor.predict(np.stack(pixels).astype(np.float32))
    results = []
    for path, p, blank in zip(args.images, probs, empty, strict=True):
        digit = None if blank else predictor.class_names[int(p.argmax())]
        results.append({"file": path, "digit": digit,
                        "probabilities": [round(float(v), 6) for v in p]})
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            if r["digit"] is None:
                print(f"{r['file']}: no ink found (the image is blank)")
                continue
            top = max(r["probabilities"])
            probs_text = " ".join(f"{n}:{v:.3f}" for n, v in
                                  zip(predictor.class_names, r["probabilities"], strict=True))
            print(f"{r['file']}: {r['digit']} ({top:.1%})  {probs_text}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser().parse_args(argv)
        if args.command == "train" and args.session is not None:
            return run_train_session(args, given_options(argv))
        if args.command == "train":
            if args.restart:
                raise StudioError("--restart only works with --session FILE.")
            return run_train(args)
        return run_predict(args)
    except StudioError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except OSError as err:
        print(f"error: {err.strerror or err}: {err.filename or ''}".rstrip(": "),
              file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
