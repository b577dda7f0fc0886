"""`mlp-studio pair`: train a run and its duplicate with one setting changed, side by side.

The train command's options describe run A; `--change NAME=VALUE` makes run B (core.paired).
Both share the seed, the initial weights and the batch order, printed as matching hashes;
`--seeds N` repeats the pair over N seeds and says whether the difference is larger than seed
noise (core.seed_summary).
"""

from __future__ import annotations

import json
import sys

from mlp_studio.core.cli.arguments import (
    _add_train_arguments,
    data_config_from_args,
    spec_from_args,
    train_config_from_args,
)
from mlp_studio.core.cli.report import ProgressBar
from mlp_studio.core.errors import StudioError
from mlp_studio.core.text import terminal_safe

MAX_SEEDS = 20


def add_pair_arguments(parser) -> None:
    _add_train_arguments(parser)
    g = parser.add_argument_group(
        "pair", "Run A is the run the options above describe; run B is the same with one "
        "setting changed. Both use the same seed, initial weights and batch order.")
    g.add_argument("--change", required=True, metavar="NAME=VALUE",
                   help="the one setting B changes, named as the train option: e.g. "
                   "activation=sigmoid, optimizer=sgd, lr=0.01, hidden=256,128, batch-norm=on, "
                   "dropout=0.2, init=xavier, batch-size=32, normalization=none, "
                   "remedy=class_weights")
    g.add_argument("--seeds", type=int, default=1, metavar="N",
                   help=f"repeat the pair over N seeds (the seed, then each one higher; at most "
                   f"{MAX_SEEDS}) and say whether the difference is larger than seed noise")


def run_pair_command(args) -> int:
    from mlp_studio.core.checkpoints import DEFAULT_BUDGET_MB
    from mlp_studio.core.cli.train import checkpoint_budget
    from mlp_studio.core.cli.train_data import data_folder, loss_for_task, source_of
    from mlp_studio.core.data import prepare_dataset
    from mlp_studio.core.dataset import load_data
    from mlp_studio.core.model import describe
    from mlp_studio.core.outputs import check_distinct, plan_output, write_output
    from mlp_studio.core.paired import parse_change, plan_pair, repeat_pair, summarize
    from mlp_studio.core.run_recorder import RunRecorder
    from mlp_studio.core.run_settings import RunSettings
    from mlp_studio.core.run_tree import RunTree

    for given, what in ((args.export, "--export"), (args.session, "--session"),
                        (args.restart, "--restart")):
        if given:
            raise StudioError(f"pair compares two runs: leave out {what} (--save-session FILE "
                              "keeps the comparison; train a run to continue or export with "
                              "`mlp-studio train`).")
    if not 1 <= args.seeds <= MAX_SEEDS:
        raise StudioError(f"--seeds {args.seeds}: give a number from 1 to {MAX_SEEDS} "
                          "(3-5 is enough to see seed noise).")
    name, value = parse_change(args.change)
    data_config, train_config = data_config_from_args(args), train_config_from_args(args)
    classes = 10 if data_config.target_digit is None else 2
    # Checked before the data loads: a bad change is said at once.
    plan_pair(RunSettings(spec_from_args(args, classes, 784), train_config, data_config),
              name, value)
    metrics = save = None
    named = []
    if args.metrics_json is not None:
        metrics = plan_output(args.metrics_json, "--metrics-json", allow_stdout=True)
        named.append(("--metrics-json", metrics))
    if args.save_session is not None:
        save = plan_output(args.save_session, "--save-session", (".mlps",))
        named.append(("--save-session", save))
    check_distinct(named, input_folders=[("the data folder",
                                          data_folder(args.data, args.dataset))])
    budget = checkpoint_budget(args, save is not None) or DEFAULT_BUDGET_MB

    # The same data options as `train` (MNIST, its families, an image folder).
    dataset = load_data(args.data, dataset=args.dataset, image_size=args.image_size,
                        color=args.color, download=not args.no_download)
    for note in dataset.notes:
        print(f"note: {terminal_safe(note)}", file=sys.stderr)
    prepared = {}

    def prepare(config):  # once per data setting: a data change prepares B's data anew
        key = repr(config.to_dict())
        if key not in prepared:
            prepared[key] = prepare_dataset(dataset, config)
        return prepared[key]

    def data_for(settings: RunSettings):
        return prepare(settings.data)

    first = prepare(data_config)
    train_config = loss_for_task(train_config, first.task)  # a regression: mse, as `train`
    spec = spec_from_args(args, first.num_classes, int(first.x_train.shape[1]))
    plan = plan_pair(RunSettings(spec, train_config, data_config), name, value)
    out = sys.stderr if metrics is not None and metrics.stream else sys.stdout
    print(f"pair: {plan.setting.name} {plan.old} -> {plan.new} | {args.seeds} seed(s) | data: "
          f"{terminal_safe(dataset.name)} ({terminal_safe(dataset.source)}) | network "
          f"{describe(spec)}", file=sys.stderr)
    for note in plan.notes():
        print(f"note: {note}", file=sys.stderr)

    # --save-session: the first seed's run A is the session's model, with its checkpoints.
    # Only the models of the other runs are kept: a trainer holds several copies of its weights.
    models, run_a = [], []  # each run's trained model, A then B for every seed; A's trainer
    recorder = RunRecorder(RunTree.new(budget)) if save is not None else None

    def on_start(trainer):
        if recorder is not None and not models:
            recorder.begin(trainer)

    def on_trained(trainer):
        if recorder is None:
            return
        if not models:
            recorder.end(trainer.best_epoch)
            run_a.append(trainer)
        models.append(trainer.model)

    def on_event(label, event, bars={}):  # noqa: B006 - one bar per run, kept between calls
        if label not in bars:
            print(label, file=sys.stderr)
            bars.clear()
            bars[label] = ProgressBar(not args.quiet)
        bars[label](event)
        if recorder is not None and not models:
            recorder(event)

    def on_pair(i, result):
        print(fingerprint_lines(result), file=out)
        print(side_by_side(result, first.class_names), file=out)

    results = repeat_pair(plan, args.seeds, data_for, on_event, on_pair, on_trained, on_start)
    metric = "rmse" if first.task == "regression" else "accuracy"
    summary = summarize(results, metric)
    if args.seeds > 1:
        print(seed_table(summary), file=out)
    if metrics is not None:
        report = pair_report(results, summary, first.class_names)
        write_output(metrics, (json.dumps(report, indent=2) + "\n").encode())
        print(f"wrote metrics {metrics.given}", file=sys.stderr)
    if save is not None:
        from mlp_studio.core.session import save_session

        session = pair_session(results, run_a[0], models, first, dataset,
                               source_of(args, dataset))
        session.run_tree = recorder.tree
        try:
            save_session(session, save.path)
        except StudioError as err:  # the runs are not thrown away: a recovery session keeps them
            from mlp_studio.core.cli.train import Outputs, recovery_note

            raise StudioError(f"{err} {recovery_note(Outputs(session=save), session)}") from None
        print(f"saved session {terminal_safe(save.given)} (run A as the current model, the "
              "comparison in the Compare panel)", file=sys.stderr)
    return 1 if any(r.a.diverged or r.b.diverged for r in results) else 0


def pair_session(results, run_a, models, data, dataset, source):
    """A session of the comparison: the first seed's run A (its finished trainer) is its model
    (weights, history, best epoch, optimizer state) and every seed's pair, with `models` (A,
    then B, for each seed), its Compare panel's (core.paired_files), as the app saves the
    studio's run beside its comparison."""
    from mlp_studio.core.paired_files import SavedPairs
    from mlp_studio.core.session import Session

    plan, history = results[0].plan, results[0].a.history
    pairs = list(zip(models[::2], models[1::2], strict=True))
    best = run_a.best_epoch if run_a.best_state is not None else None
    return Session(
        plan.base.spec, {k: v.detach().cpu() for k, v in run_a.model.state_dict().items()},
        plan.base.data, plan.base.train, data.normalization, list(data.class_names), history,
        run_a.best_state if best is not None else None, best, len(history.epochs),
        dataset.source, optimizer_state=run_a.optimizer_state, data=source, table=dataset.table,
        pairs=SavedPairs(plan, list(results), pairs, data.task))


def fingerprint_lines(result) -> str:
    a, b = result.a.fingerprint, result.b.fingerprint
    same = {True: "identical", False: "different"}
    return (f"seed {result.plan.base.spec.seed}: initial weights A {a.weights} B {b.weights} "
            f"({same[result.same_start]}) | epoch-1 batch order A {a.order} B {b.order} "
            f"({same[result.same_order]})")


def _cell(value: float | None, digits: int = 4) -> str:
    return "-" if value is None or value != value else f"{value:.{digits}f}"


def side_by_side(result, class_names: list[str]) -> str:
    """Final metrics, per-class F1 and gradient norms of A and B, with B - A."""
    a, b = result.a, result.b
    rows = [("", a.label, b.label, "B - A")]

    def row(name, va, vb):
        diff = None if va is None or vb is None else vb - va
        rows.append((name, _cell(va), _cell(vb), _cell(diff)))

    for name in ("accuracy", "rmse", "loss"):
        va, vb = a.metric(name), b.metric(name)
        if va == va or vb == vb:
            row(f"test {name}", va, vb)
    rows.append(("best epoch", str(a.best_epoch or "-"), str(b.best_epoch or "-"), ""))
    if a.test is not None and b.test is not None and len(a.test.f1):
        for i, name in enumerate(class_names):
            row(f"F1 {terminal_safe(name)}", float(a.test.f1[i]), float(b.test.f1[i]))
    ga, gb = a.grad_norms(), b.grad_norms()
    if ga is not None and gb is not None and len(ga) == len(gb):
        for i, (va, vb) in enumerate(zip(ga, gb, strict=True)):
            last = i == len(ga) - 1
            row(f"grad norm {'output' if last else f'layer {i + 1}'}", float(va), float(vb))
    width = [max(len(r[c]) for r in rows) for c in range(4)]
    lines = ["  ".join(cell.rjust(width[c]) if c else cell.ljust(width[c])
                       for c, cell in enumerate(r)) for r in rows]  # fmt: skip
    for run in (a, b):
        if run.diverged:
            lines.append(f"{run.label} diverged: {terminal_safe(run.diverged)}")
    return "\n".join(lines)


def seed_table(summary) -> str:
    lines = [f"test {summary.metric} over {summary.n} seeds:",
             f"{'seed':>6} {'A':>8} {'B':>8} {'B - A':>8}"]
    for seed, va, vb, d in zip(summary.seeds, summary.a, summary.b, summary.differences,
                               strict=True):  # fmt: skip
        lines.append(f"{seed:>6} {_cell(va):>8} {_cell(vb):>8} {_cell(d):>8}")
    for label, (mean, std) in (("mean A", summary.mean_std_a), ("mean B", summary.mean_std_b),
                               ("B - A", summary.mean_std_difference)):
        lines.append(f"{label:>6}: {_cell(mean)} ± {_cell(std)}")
    lines.append(summary.verdict())
    return "\n".join(lines)


def run_report(run, class_names: list[str]) -> dict:
    test = run.test
    grads = run.grad_norms()
    regression = test is not None and test.regression  # RMSE, MAE, R² in the target's units
    scores = ({"test_rmse": test.rmse, "test_mae": test.mae, "test_r2": test.r2}
              if regression else {})
    return {
        "label": run.label,
        "initial_weights_sha256": run.fingerprint.weights,
        "batch_order_sha256": run.fingerprint.order,
        "test_accuracy": None if test is None or regression else test.accuracy,
        "test_loss": None if test is None else test.loss,
        **scores,
        "per_class": None if test is None or regression
        else test.to_dict(class_names)["per_class"],
        "grad_norms_per_layer": None if grads is None else grads.tolist(),
        "epochs": [
            {"epoch": e.epoch, "train_loss": e.train_loss, "train_accuracy": e.train_accuracy,
             "val_loss": e.val_loss, "val_accuracy": e.val_accuracy, "seconds": e.seconds}
            for e in run.history.epochs
        ],
        "best_epoch": run.best_epoch,
        "stopped": run.stopped,
        "diverged": run.diverged,
    }


def pair_report(results, summary, class_names: list[str]) -> dict:
    plan = results[0].plan
    pairs = []
    for result in results:
        f1 = result.f1_difference()
        pairs.append({
            "seed": result.plan.base.spec.seed,
            "same_initial_weights": result.same_start,
            "same_batch_order": result.same_order,
            "a": run_report(result.a, class_names),
            "b": run_report(result.b, class_names),
            "f1_difference": None if f1 is None else dict(zip(class_names, f1.tolist(),
                                                                strict=True)),
        })
    return {"setting": plan.setting.name, "a_value": plan.old, "b_value": plan.new,
            "notes": plan.notes(), "pairs": pairs, "summary": summary.to_dict()}
