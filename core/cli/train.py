"""`mlp-studio train`: train headless, optionally continuing a session, then write the outputs.

Every output (--session or --save-session, --metrics-json, --export and a safetensors export's
JSON) is checked before the data is loaded (core.outputs): suffix, folder, writable, not an
input, not another output. If writing still fails after training, the trained model goes to a
recovery session and the error says where, so a run is never thrown away.
"""

import functools
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from mlp_studio.core.checkpoints import DEFAULT_BUDGET_MB, check_budget
from mlp_studio.core.cli.arguments import (
    NETWORK_OPTIONS,
    data_config_from_args,
    override_data_config,
    override_train_config,
    spec_from_args,
    train_config_from_args,
)
from mlp_studio.core.cli.report import ProgressBar, metrics_report, metrics_table
from mlp_studio.core.cli.train_data import (
    data_inputs,
    load_training_data,
    loss_for_task,
    print_scaling_note,
)
from mlp_studio.core.errors import StudioError
from mlp_studio.core.limits import check_training_memory
from mlp_studio.core.outputs import Target, check_distinct, plan_output, write_output
from mlp_studio.core.text import terminal_safe


@dataclass
class Outputs:
    """The files a run will write, checked before it starts."""

    session: Target | None = None
    metrics: Target | None = None
    exports: list[str] = field(default_factory=list)  # as given; each checked with its sidecar
    # What was actually written, for the recovery message.
    written: list[str] = field(default_factory=list)


def plan_outputs(args, data_dir: str | None, session: bool = False,
                 dataset: str | None = None) -> Outputs:
    """Check every output path; StudioError (one line) on the first problem."""
    from mlp_studio.core.export import plan_export

    outputs = Outputs(exports=list(args.export))
    named: list[tuple[str, Target]] = []
    if session:
        outputs.session = plan_output(args.session, "--session", (".mlps",))
        named.append(("--session", outputs.session))
    elif args.save_session is not None:
        outputs.session = plan_output(args.save_session, "--save-session", (".mlps",))
        named.append(("--save-session", outputs.session))
    if args.metrics_json is not None:
        outputs.metrics = plan_output(args.metrics_json, "--metrics-json", allow_stdout=True)
        named.append(("--metrics-json", outputs.metrics))
    for path in args.export:
        targets = plan_export(path)
        named += [("--export", targets[0]), *((f"--export {path} (its JSON description)", t)
                                              for t in targets[1:])]  # fmt: skip
    # The session's own file is both read and written back by --session: any other output
    # on it collides with --session itself.
    check_distinct(named, **data_inputs(data_dir, dataset))
    return outputs


def run_train(args) -> int:
    from mlp_studio.core.model import build_model, describe
    from mlp_studio.core.run_recorder import RunRecorder
    from mlp_studio.core.run_tree import RunTree
    from mlp_studio.core.session import Session
    from mlp_studio.core.training import Trainer

    data_config = data_config_from_args(args)
    train_config = train_config_from_args(args)
    outputs = plan_outputs(args, args.data, dataset=args.dataset)
    budget = checkpoint_budget(args, outputs.session is not None) or DEFAULT_BUDGET_MB

    ds, data, source = load_training_data(args, data_config)
    train_config = loss_for_task(train_config, data.task)
    spec = spec_from_args(args, data.num_classes, int(data.x_train.shape[1]))
    print(f"data: {terminal_safe(ds.name)} ({terminal_safe(ds.source)}) | train "
          f"{len(data.x_train):,} val {len(data.x_val):,} test {len(data.x_test):,} | "
          f"network {describe(spec)}", file=sys.stderr)

    check_training_memory(spec, min(train_config.batch_size, len(data.x_train)),
                          train_config.optimizer)
    tree = RunTree.new(budget) if outputs.session is not None else None
    recorder = RunRecorder(tree, ProgressBar(not args.quiet)) if tree is not None else None
    trainer = Trainer(build_model(spec), data, train_config,
                      on_event=recorder or ProgressBar(not args.quiet))
    print_scaling_note(trainer.model, data)
    if recorder is not None:
        recorder.begin(trainer)
    finished = trainer.run()
    if recorder is not None:
        recorder.end(trainer.best_epoch)
    session = Session(
        spec, {k: v.detach().cpu() for k, v in trainer.model.state_dict().items()},
        data_config, train_config, data.normalization, list(data.class_names),
        finished.history, trainer.best_state, trainer.best_epoch, len(finished.history.epochs),
        ds.source, optimizer_state=trainer.optimizer_state, data=source, table=ds.table,
        run_tree=tree,
    )
    write_outputs(outputs, finished, session)
    return 1 if finished.diverged else 0


def run_train_session(args, given: set[str]) -> int:
    """`train --session FILE`: continue (or --restart, or start) a saved experiment headless."""
    from mlp_studio.core.data_source import DataSource
    from mlp_studio.core.lineage import Lineage
    from mlp_studio.core.model import build_model, describe
    from mlp_studio.core.run_recorder import RunRecorder
    from mlp_studio.core.run_tree import RunTree
    from mlp_studio.core.session import Session, load_session
    from mlp_studio.core.training import Trainer

    path = Path(args.session).expanduser()
    plan_output(args.session, "--session", (".mlps",))  # before reading: a clear message first
    old = load_session(path) if path.exists() else None
    if old is None:
        if args.restart:
            raise StudioError(f"--restart needs a saved session, but {path} does not exist.")
        data_config, train_config = data_config_from_args(args), train_config_from_args(args)
    else:
        refused = sorted(given & NETWORK_OPTIONS)
        if refused:
            raise StudioError(f"--{refused[0].replace('_', '-')} cannot change the network of "
                              f"the session {path}: its weights fix it. Leave it out, or train "
                              "into a new session file.")
        data_config = override_data_config(old.data_config, args, given)
        train_config = override_train_config(old.train_config, args, given)
    saved = None if old is None else old.data
    if saved is None and old is not None and old.data_source and Path(old.data_source).exists():
        saved = DataSource(path=old.data_source)  # MNIST, in a session from before issue 10
    use_saved = saved is not None and args.data is None and args.dataset is None
    outputs = plan_outputs(args, saved.path or None if use_saved else args.data, session=True,
                           dataset=saved.dataset if use_saved else args.dataset)
    budget = checkpoint_budget(args, True)

    ds, data, source = load_training_data(args, data_config, saved)
    train_config = loss_for_task(train_config, data.task)
    input_size = int(data.x_train.shape[1])
    if old is None:
        spec = spec_from_args(args, data.num_classes, input_size)
    else:
        spec = old.spec
        if (spec.input_size, spec.output_size) != (input_size, data.num_classes):
            raise StudioError(
                f"The session's network takes {spec.input_size} inputs and gives "
                f"{spec.output_size} outputs, but {ds.name} with its data settings gives "
                f"{input_size} inputs and {data.num_classes} classes: train on the session's "
                "own data (leave out --data, --target-digit, --image-size), or start a new "
                "session file.")
    check_training_memory(spec, min(train_config.batch_size, len(data.x_train)),
                          train_config.optimizer)
    continuing = old is not None and not args.restart
    model = build_model(spec)
    lineage = Lineage()
    if continuing:
        model.load_state_dict(old.weights)
        lineage = Lineage.of_session(old)
    epochs_done = lineage.epochs_done
    what = "continuing" if continuing else "restarting" if old is not None else "new"
    print(f"session: {path} ({what}, {epochs_done} epochs done) | data: {ds.name} "
          f"({terminal_safe(ds.source)}) | "
          f"train {len(data.x_train):,} val {len(data.x_val):,} test {len(data.x_test):,} | "
          f"network {describe(spec)}", file=sys.stderr)

    # A continued session's run tree grows; a new or restarted one starts a tree.
    tree = old.run_tree if continuing and old.run_tree is not None else RunTree.new()
    if budget is not None:
        tree.checkpoints.set_budget(budget)
    recorder = RunRecorder(tree, ProgressBar(not args.quiet))
    trainer = Trainer(model, data, train_config, on_event=recorder,
                      start_epoch=epochs_done, optimizer_state=lineage.optimizer_state)
    print_scaling_note(trainer.model, data)
    recorder.begin(trainer, lineage)
    finished = trainer.run()
    lineage = lineage.extended(trainer, finished)  # the same bookkeeping as the app's
    recorder.end(lineage.best_epoch)
    session = Session(
        spec, {k: v.detach().cpu() for k, v in trainer.model.state_dict().items()},
        data_config, train_config, data.normalization, list(data.class_names),
        lineage.history, lineage.best_state, lineage.best_epoch, lineage.epochs_done,
        ds.source, created=old.created if old is not None else "",
        optimizer_state=lineage.optimizer_state, data=source, table=ds.table, run_tree=tree,
    )
    write_outputs(outputs, finished, session)
    return 1 if finished.diverged else 0


def checkpoint_budget(args, saving: bool) -> float | None:
    """--checkpoint-budget in MB, checked (None when not given); StudioError for a budget that
    keeps nothing, or one without a session to keep the checkpoints in."""
    given = getattr(args, "checkpoint_budget", None)
    if given is None:
        return None
    if not saving:
        raise StudioError("--checkpoint-budget sets how much of the run's checkpoints a "
                          "session keeps: give a session to keep them in, --save-session FILE "
                          "(train also --session FILE).")
    return check_budget(given)


def write_outputs(outputs: Outputs, finished, session) -> None:
    """The test table, then the session, the metrics JSON and the exports. A write that fails
    keeps the trained model in a recovery session: StudioError says where."""
    from mlp_studio.core.best_epoch import kept_weights
    from mlp_studio.core.export import export_file
    from mlp_studio.core.keras_script import export_keras_script
    from mlp_studio.core.session import save_session
    from mlp_studio.core.session_bundle import session_bundle

    class_names = session.class_names
    if finished.test is not None:  # on stderr when the metrics JSON takes standard output
        streamed = outputs.metrics is not None and outputs.metrics.stream
        epochs = finished.history.epochs
        kept = kept_weights(session.train_config, finished.best_epoch,
                            epochs[-1].epoch if epochs else None,
                            regression=finished.regression)
        print(f"test set, with {kept}:\n{metrics_table(finished.test, class_names)}",
              file=sys.stderr if streamed else sys.stdout)  # fmt: skip
    steps = []
    if outputs.session is not None:
        steps.append((outputs.session.given, lambda: save_session(session, outputs.session.path),
                      f"saved session {outputs.session.given} ({session.epochs_done} epochs "
                      "done)"))  # fmt: skip
    if outputs.metrics is not None:
        report = json.dumps(metrics_report(finished, class_names), indent=2) + "\n"
        steps.append((outputs.metrics.given,
                      lambda: write_output(outputs.metrics, report.encode()),
                      f"wrote metrics {outputs.metrics.given}"))
    for path in outputs.exports:
        if Path(path).suffix.lower() == ".py":  # a Keras script: it needs the settings too
            write = functools.partial(export_keras_script, session_bundle(session),
                                      session.train_config, session.data_config, path,
                                      session.data_source)
        else:
            write = functools.partial(export_file, session_bundle(session), path)
        steps.append((path, write, f"exported {path}"))
    failures = []
    for given, write, done in steps:
        try:
            write()
        except StudioError as err:
            failures.append(str(err))
            continue
        outputs.written.append(given)
        print(terminal_safe(done), file=sys.stderr)
    if failures:
        raise StudioError(f"{'; '.join(failures)} {recovery_note(outputs, session)}")


def recovery_note(outputs: Outputs, session) -> str:
    """Keep the trained model somewhere; say where (the words after the write errors)."""
    from mlp_studio.core.outputs import recovery_folder
    from mlp_studio.core.session import save_session

    if outputs.session is not None and outputs.session.given in outputs.written:
        return f"The trained model is saved in the session {outputs.session.given}."
    name = f"recovered-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.mlps"
    for folder in (recovery_folder(), Path.cwd()):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = save_session(session, folder / name)
        except (StudioError, OSError):
            continue
        return (f"The trained model is kept in {path}: open it in the app (File > Open "
                f"session) to export it, continue it with `mlp-studio train --session {path}`, "
                f"or run it with `mlp-studio predict {path} IMAGE...`.")
    return "The trained model could not be saved anywhere either: is the disk full?"
