"""`mlp-studio sweep`: train many variations of one run and rank them (core.sweep).

Running the same command again continues the study until it holds --trials finished trials;
`--workers K` runs K processes of one thread each on it, and the same command on other machines
with the same --storage URL joins in.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from mlp_studio.core.errors import StudioError
from mlp_studio.core.sweep import SAMPLERS, Sweep
from mlp_studio.core.sweep_data import AUTO, METRICS
from mlp_studio.core.text import terminal_safe

DEFAULT_STORAGE = "sweeps.db"
MAX_WORKERS = 64


def add_sweep_arguments(sweep: argparse.ArgumentParser) -> None:
    from mlp_studio.core.cli.arguments import _add_train_arguments

    _add_train_arguments(sweep, outputs=False)
    g = sweep.add_argument_group(
        "sweep", "Train options above are fixed for every trial; --param varies one of them.")
    g.add_argument("--param", action="append", default=[], metavar="NAME=SPEC",
                   help="a train option to vary: LOW..HIGH, LOW..HIGH:log or A,B,C, e.g. "
                   "lr=1e-4..1e-1:log, hidden=64,128,256/128 (/ between layers), "
                   "activation=relu,tanh, dropout=0..0.5; repeatable")
    g.add_argument("--trials", type=int, required=True, metavar="N",
                   help="finished trials the study should hold (a rerun continues to N)")
    g.add_argument("--storage", default=DEFAULT_STORAGE, metavar="URL",
                   help="an SQLite file (default: sweeps.db here) or a database URL "
                   "(postgresql://..., mysql://...) shared by several machines")
    g.add_argument("--study", default="sweep", metavar="NAME", help="the study's name in it")
    g.add_argument("--workers", type=int, default=1, metavar="K",
                   help="worker processes on this machine, one thread each")
    g.add_argument("--sampler", default="tpe", choices=SAMPLERS,
                   help="tpe (default), random, or grid (every combination of choices)")
    g.add_argument("--metric", default=AUTO, choices=(AUTO, *METRICS),
                   help="what ranks the trials: validation accuracy (higher is better) or loss "
                   "for classification; loss, rmse (lower is better) or r2 (higher is better) "
                   "for regression (default auto: accuracy, or the loss for a regression)")
    g.add_argument("--no-prune", action="store_true",
                   help="never stop a poor trial early (by default a trial whose validation "
                   "metric is below the median of earlier trials at the same epoch stops)")
    g.add_argument("--metrics-json", metavar="PATH",
                   help="write every trial (params, value, state) and the best as JSON "
                   "(- for standard output)")
    g.add_argument("--quiet", action="store_true", help="no line per trial")


def train_namespace(args: argparse.Namespace) -> argparse.Namespace:
    """Only the train options of the sweep's arguments."""
    from mlp_studio.core.cli.arguments import _add_train_arguments, _Parser

    parser = _Parser(prog="mlp-studio train")
    _add_train_arguments(parser, outputs=False)
    dests = vars(parser.parse_args([]))
    return argparse.Namespace(**{k: getattr(args, k) for k in dests})


def sweep_from_args(args: argparse.Namespace) -> Sweep:
    from mlp_studio.core.cli.arguments import _add_train_arguments, _Parser
    from mlp_studio.core.sweep import check_sweep
    from mlp_studio.core.sweep_space import parse_param, train_options
    from mlp_studio.core.sweep_storage import storage_url

    if args.trials < 1:
        raise StudioError(f"--trials {args.trials}: a sweep needs at least 1 trial.")
    if not 1 <= args.workers <= MAX_WORKERS:
        raise StudioError(f"--workers {args.workers}: give 1 to {MAX_WORKERS} worker processes.")
    parser = _Parser(prog="mlp-studio train")
    _add_train_arguments(parser, outputs=False)
    options = train_options(parser)
    sweep = Sweep(train_namespace(args), [parse_param(p, options) for p in args.param],
                  args.trials, storage_url(args.storage), args.study, args.metric,
                  args.sampler, not args.no_prune)
    check_sweep(sweep)
    return sweep


def run_sweep(args: argparse.Namespace) -> int:
    from mlp_studio.core.outputs import plan_output, write_output
    from mlp_studio.core.sweep import all_failed, count, failures, open_study, results
    from mlp_studio.core.sweep_data import fit_to_task, load_sweep_data

    sweep = sweep_from_args(args)
    metrics = None
    if args.metrics_json is not None:
        metrics = plan_output(args.metrics_json, "--metrics-json", allow_stdout=True)
    log = sys.stderr
    # Read once here: the metric and the loss follow the task, and a missing folder or a bad
    # table is one message rather than one per trial and worker.
    dataset = load_sweep_data(sweep.base)
    for note in dataset.notes:
        print(f"note: {terminal_safe(note)}", file=log)
    sweep = fit_to_task(sweep, dataset.task, dataset.name)
    study = open_study(sweep)  # created here once, so workers only load it
    before = count(study)
    print(f"sweep: study '{sweep.study}' in {_where(sweep)} | {before.done} of {sweep.trials} "
          f"trials done | {args.workers} worker{'s' if args.workers > 1 else ''}", file=log)
    if before.done < sweep.trials:
        if args.workers == 1:
            from mlp_studio.core.sweep import work

            work(sweep, None if args.quiet else TrialPrinter(sweep), dataset)
        else:
            _run_workers(sweep, args.workers, args.quiet)
    done = results(study)
    print(summary(done, sweep), file=log)
    if metrics is not None:
        write_output(metrics, (json.dumps(done.to_dict(), indent=2) + "\n").encode())
    failed = failures(done)
    if failed is not None:
        n, reason = failed
        if all_failed(done):
            print(terminal_safe(
                f"error: all {n} trials failed, so there is nothing to rank; {reason} Change "
                "the fixed options or the --param ranges that cause it, then run again with a "
                "new --study name (this study keeps its failed trials)."), file=log)
            return 1
        print(terminal_safe(f"note: {n} of {len(done.trials)} trials failed; {reason}"),
              file=log)
    finished = count(study).done
    if finished < sweep.trials:
        print(f"error: only {finished} of {sweep.trials} trials finished (a worker stopped): run "
              "the same command again to continue.", file=log)
        return 1
    return 0


def _where(sweep: Sweep) -> str:
    from mlp_studio.core.sweep_storage import shown_url

    return shown_url(sweep.storage)


def _run_workers(sweep: Sweep, workers: int, quiet: bool) -> None:
    processes = start_workers(sweep, workers, quiet)
    try:
        for process in processes:
            process.join()
    finally:  # Ctrl+C: the workers' trials are queued again by the next run
        for process in processes:
            if process.is_alive():
                process.terminate()
    codes = [p.exitcode for p in processes]
    if any(code == 2 for code in codes):
        raise StudioError("a worker stopped on the error above.")


def start_workers(sweep: Sweep, workers: int, quiet: bool, errors=None) -> list:
    """`workers` started processes working on `sweep` (the app's too); StudioErrors of a
    worker go to the `errors` queue when one is given."""
    from mlp_studio.core.training_process import context

    # The training processes' context: children fork from a server that imported torch.
    ctx = context()
    processes = [ctx.Process(target=worker_main, args=(sweep, quiet, errors), daemon=True)
                 for _ in range(workers)]
    for process in processes:
        process.start()
    return processes


def worker_main(sweep: Sweep, quiet: bool, errors=None) -> None:
    """One worker process: one thread (or --threads), passive OpenMP wait (inherited), trials
    until done."""
    from mlp_studio.core.threads import training_threads, use_passive_wait

    use_passive_wait()
    import torch
    from mlp_studio.core.sweep import work

    torch.set_num_threads(training_threads(getattr(sweep.base, "threads", None)))
    try:
        work(sweep, None if quiet else TrialPrinter(sweep))
    except StudioError as err:
        if errors is not None:
            errors.put(str(err))
        print(f"error: {terminal_safe(err)}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


class TrialPrinter:
    """One line on stderr per finished trial."""

    def __init__(self, sweep: Sweep):
        self.metric = sweep.metric.replace("-", " ")

    def __call__(self, study, trial) -> None:
        import os

        params = " ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
        state = trial.state.name.lower()
        if trial.state.name == "COMPLETE":
            what = f"{self.metric} {trial.value:.4f}"
        elif trial.state.name == "PRUNED":
            what = f"pruned after epoch {trial.last_step}"
        else:
            what = f"failed: {trial.user_attrs.get('error', 'see the error above')}"
        seconds = ""
        if trial.datetime_complete and trial.datetime_start:
            seconds = f" | {(trial.datetime_complete - trial.datetime_start).total_seconds():.1f} s"
        print(terminal_safe(f"trial {trial.number} [{state}] {params}: {what}{seconds} "
                            f"(pid {os.getpid()})"), file=sys.stderr, flush=True)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def summary(done, sweep: Sweep) -> str:
    """The best trials as a small table, and what mattered."""
    states: dict[str, int] = {}
    for trial in done.trials:
        states[trial.state.lower()] = states.get(trial.state.lower(), 0) + 1
    lines = [f"{len(done.trials)} trials: " + ", ".join(f"{n} {s}" for s, n in states.items())]
    ranked = sorted((t for t in done.trials if t.state == "COMPLETE"),
                    key=lambda t: t.value, reverse=sweep.direction == "maximize")
    for trial in ranked[:5]:
        params = " ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
        lines.append(f"  #{trial.number}: {sweep.metric} {trial.value:.4f}  {params}")
    if done.best is not None:
        lines.append(f"best: trial {done.best.number}")
    if done.importance:
        lines.append("what mattered: " + ", ".join(
            f"{k} {v:.0%}" for k, v in done.importance.items()))
    return terminal_safe("\n".join(lines), keep_newlines=True)
