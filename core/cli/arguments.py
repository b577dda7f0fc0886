"""The command line's options, and the engine configurations they make."""

import argparse
import copy

from mlp_studio.core.errors import StudioError


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


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number of at least 1")
    return value


def _megabytes(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a number of megabytes: give e.g. 256") from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mlp-studio", description="MLP Studio: build, train and export "
                     "multi-layer perceptrons. Without arguments, opens the desktop app.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    _add_train_arguments(sub.add_parser(
        "train", help="train a network headless on MNIST, Fashion-MNIST, KMNIST, your own "
        "image folder or a CSV table"))

    predict = sub.add_parser(
        "predict", help="predict with an exported model: images, or a CSV table's rows")
    predict.add_argument("model", help="a .onnx or .safetensors file from MLP Studio, or a "
                         ".mlps session (TorchScript .pt files are refused: they carry code)")
    predict.add_argument("images", nargs="+", metavar="INPUT",
                         help="PNG/JPEG files, any size, either polarity; for a model trained "
                         "on a table, one CSV file with its columns (one prediction per row)")
    predict.add_argument("--json", action="store_true", help="print JSON instead of text")
    predict.add_argument("--input-range", choices=("raw", "unit"),
                         help="for a Keras or ONNX file that does not say how its pixels are "
                         "scaled: raw 0-255 or unit 0-1")

    from mlp_studio.core.cli.evaluate import add_evaluate_arguments
    from mlp_studio.core.cli.sweep import add_sweep_arguments

    add_evaluate_arguments(sub.add_parser(
        "evaluate", help="metrics of a model file (MLP Studio, Keras, ONNX) on a test set: "
        "MNIST's, an image folder or a CSV table"))
    from mlp_studio.core.cli.pair import add_pair_arguments

    add_pair_arguments(sub.add_parser(
        "pair", help="train a run and its duplicate with one setting changed, side by side"))
    add_sweep_arguments(sub.add_parser(
        "sweep", help="train many variations of a run (Optuna) and rank them"))
    from mlp_studio.core.cli.lr_find import add_lr_find_arguments

    add_lr_find_arguments(sub.add_parser(
        "lr-find", help="suggest a learning rate by a range test (train's options apply)"))
    return parser


def given_options(argv: list[str]) -> set[str]:
    """The train options written on the command line (argv[0] == "train"), as dests ("lr").

    Parses into a namespace where every option is already None: argparse then leaves out the
    defaults, and no option given on a command line parses to None.
    """
    train = _Parser(prog="mlp-studio train")
    _add_train_arguments(train)
    dests = vars(train.parse_args([]))
    if argv and argv[0] == "sweep":  # its own options besides the train ones
        from mlp_studio.core.cli.sweep import add_sweep_arguments

        train = _Parser(prog="mlp-studio sweep")
        add_sweep_arguments(train)
    elif argv and argv[0] == "lr-find":
        from mlp_studio.core.cli.lr_find import add_lr_find_arguments

        train = _Parser(prog="mlp-studio lr-find")
        add_lr_find_arguments(train)
    elif argv and argv[0] == "pair":
        from mlp_studio.core.cli.pair import add_pair_arguments

        train = _Parser(prog="mlp-studio pair")
        add_pair_arguments(train)
    namespace = train.parse_args(argv[1:], argparse.Namespace(**dict.fromkeys(dests)))
    return {dest for dest, value in vars(namespace).items() if value is not None}


def _add_train_arguments(train: argparse.ArgumentParser, outputs: bool = True) -> None:
    """The train command's options; without `outputs`, only data, network and training (a
    sweep has outputs of its own)."""
    from mlp_studio.core.activations import ACTIVATIONS
    from mlp_studio.core.cli.train_data import add_data_source_arguments
    from mlp_studio.core.data import NORMALIZATIONS, SPLIT_MODES
    from mlp_studio.core.losses import LOSSES
    from mlp_studio.core.model import INITS
    from mlp_studio.core.presets import PRESETS
    from mlp_studio.core.target_scaling import TARGET_SCALINGS
    from mlp_studio.core.train_config import (
        BEST_BY,
        DEVICES,
        DIVERGENCE_FACTOR,
        OPTIMIZERS,
        SCHEDULES,
    )

    g = train.add_argument_group("preset")
    g.add_argument("--preset", choices=tuple(PRESETS), help="start from another tool's "
                   "defaults; options given alongside override them. keras: "
                   f"{PRESETS['keras'].summary}")

    g = train.add_argument_group("data")
    add_data_source_arguments(g)
    g.add_argument("--normalization", default="unit", choices=NORMALIZATIONS)
    g.add_argument("--target-scaling", default="standardize", choices=TARGET_SCALINGS,
                   help="regression: standardize the targets with the training split's mean "
                   "and std (the loss is on them; metrics and predictions stay in the target's "
                   "units) or leave them as they are (default: %(default)s)")
    g.add_argument("--split", default="official", choices=SPLIT_MODES,
                   help="official: MNIST test set + validation from training; pooled: all 70k "
                   "split by --percentages; test_as_val: all 60k train and the test set "
                   "validates, as in Keras' examples (needs --no-restore-best)")
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
                   help="binary task: is it the digit (class number) D?")

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
    g.add_argument("--rho", type=float, default=0.99,
                   help="RMSprop's decay of its average of squares (Keras: 0.9)")
    g.add_argument("--epsilon", type=float, default=1e-8,
                   help="RMSprop's and Adam's epsilon (Keras: 1e-7)")
    g.add_argument("--epsilon-in-sqrt", action="store_true",
                   help="RMSprop divides by sqrt(average + epsilon), as Keras does")
    g.add_argument("--weight-decay", type=float, default=0.0)
    g.add_argument("--l1", type=float, default=0.0)
    g.add_argument("--schedule", default="constant", choices=SCHEDULES)
    g.add_argument("--step-epochs", type=int, default=1)
    g.add_argument("--gamma", type=float, default=0.5)
    g.add_argument("--batch-size", type=int, default=128)
    g.add_argument("--epochs", type=int, default=5)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--device", default="cpu", choices=DEVICES)
    g.add_argument("--threads", type=_positive_int, default=None, metavar="N",
                   help="CPU threads for training (default: MLP_STUDIO_THREADS, else 1: "
                   "fastest for these networks on 2 cores, see core/threads.py)")
    g.add_argument("--stats-every", type=int, default=50)
    g.add_argument("--no-restore-best", action="store_true",
                   help="end with the last epoch's weights, not those of the best epoch")
    g.add_argument("--best-by", default="accuracy", choices=BEST_BY,
                   help="the best epoch: highest validation accuracy (ties by loss; the "
                        "default, as Keras reports) or lowest validation loss (regression "
                        "always uses the loss)")
    g.add_argument("--divergence-factor", type=float, default=DIVERGENCE_FACTOR, metavar="F",
                   help="stop when the loss rises F times above its lowest in the run "
                   f"(default {DIVERGENCE_FACTOR:g}; 0: never; NaN always stops)")

    if not outputs:
        return
    g = train.add_argument_group("output")
    g.add_argument("--export", action="append", default=[], metavar="PATH",
                   help="write the model (.onnx, .pt TorchScript, .safetensors, .keras) or a "
                   "Keras script that trains it (.py); repeatable")
    g.add_argument("--metrics-json", metavar="PATH", help="write the test metrics and the "
                   "per-epoch history as JSON (- for standard output)")
    g.add_argument("--quiet", action="store_true",
                   help="no progress bar and no per-epoch lines: notes and results only")

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
    g.add_argument("--save-session", metavar="FILE",
                   help="write this run as a new session FILE (.mlps): network, weights, "
                   "settings and the whole history, which the app opens as it was "
                   "(`mlp-studio FILE`); use --session to continue one")
    g.add_argument("--checkpoint-budget", type=_megabytes, metavar="MB",
                   help="with --save-session or --session: the memory the run's per-epoch "
                   "checkpoints may take in the session (default 256); beyond it only every "
                   "2nd, 4th... epoch is kept (the first, best and last always). The app "
                   "scrubs back to and branches from any of them")
    g.add_argument("--restart", action="store_true",
                   help="with --session: train the saved experiment again from its initial "
                   "(seeded) weights, dropping its history")


def spec_from_args(args, num_classes: int, input_size: int):
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


def data_config_from_args(args):
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
        target_scaling=args.target_scaling,
    )
    config.validate()
    return config


def train_config_from_args(args):
    from mlp_studio.core.training import TrainConfig

    config = TrainConfig(
        loss=args.loss, optimizer=args.optimizer, lr=args.lr, momentum=args.momentum,
        rho=args.rho, epsilon=args.epsilon, epsilon_in_sqrt=args.epsilon_in_sqrt,
        weight_decay=args.weight_decay, l1=args.l1, schedule=args.schedule,
        step_epochs=args.step_epochs, gamma=args.gamma, batch_size=args.batch_size,
        epochs=args.epochs, seed=args.seed, device=args.device, stats_every=args.stats_every,
        restore_best=not args.no_restore_best, divergence_factor=args.divergence_factor,
        best_by=args.best_by,
    )
    config.validate()
    return config



# Options of each kind, as argparse dests; see run_train_session.
NETWORK_OPTIONS = frozenset({"hidden", "activation", "formula", "leaky_slope", "maxout_pieces",
                             "dropout", "batch_norm", "init"})
TRAIN_FIELDS = ("loss", "optimizer", "lr", "momentum", "rho", "epsilon", "epsilon_in_sqrt",
                "weight_decay", "l1", "schedule",
                "step_epochs", "gamma", "batch_size", "epochs", "seed", "device", "stats_every",
                "divergence_factor", "best_by")


def override_data_config(config, args, given: set[str]):
    """The saved data settings with the data options given on the command line applied."""
    from mlp_studio.core.data import long_tail_fractions

    config = copy.deepcopy(config)
    split, balance = config.split, config.balance
    simple = {"normalization": (config, "normalization"), "split": (split, "mode"),
              "val_fraction": (split, "val_fraction"), "val_count": (split, "val_count"),
              "split_seed": (split, "seed"), "subset": (split, "subset"),
              "remedy": (balance, "remedy"), "target_digit": (config, "target_digit"),
              "target_scaling": (config, "target_scaling")}
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


def override_train_config(config, args, given: set[str]):
    """The saved training settings with the training options given applied."""
    config = copy.deepcopy(config)
    for name in TRAIN_FIELDS:
        if name in given:
            setattr(config, name, getattr(args, name))
    if "no_restore_best" in given:
        config.restore_best = False
    config.validate()
    return config


