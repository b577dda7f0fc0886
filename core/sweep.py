"""Hyperparameter sweeps on Optuna: trials of the same Trainer as `mlp-studio train`.

A `Sweep` is the fixed train options (an argparse namespace of the train command's options),
the swept settings (core.sweep_space) and what to optimize. `work()` runs trials on a study in
an Optuna storage (core.sweep_storage) until the study holds `trials` finished ones, however
many workers (processes, machines) share it and however often they were killed. Each trial
reports its validation metric after every epoch, so the pruner stops poor ones early.

The study remembers the sweep that created it (its params, fixed options and metric); another
sweep pointed at the same study name is refused rather than mixing results.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlp_studio.core.errors import StudioError
from mlp_studio.core.sweep_data import AUTO, METRICS, TrialData, metric_value
from mlp_studio.core.sweep_space import (
    NOT_SWEPT,
    Param,
    base_settings,
    data_options,
    extreme_values,
    grid_size,
    trial_run,
)

SAMPLERS = ("tpe", "random", "grid")
IDENTITY_KEY = "mlp_studio_sweep"
WAIT_SECONDS = 2.0  # between looks at a study whose last trials other workers are running
STARTUP_TRIALS = 5  # finished trials before the pruner judges any (MedianPruner)
_FIGURES = re.compile(r"\d[\d.e+-]*")  # a figure in an error message: 2.63e+05, 8.99729


@dataclass
class Sweep:
    base: argparse.Namespace  # the fixed train options (dests of `mlp-studio train`)
    params: list[Param]
    trials: int
    storage: str  # a database URL (core.sweep_storage.storage_url)
    study: str = "sweep"
    metric: str = AUTO  # a key of METRICS; AUTO until fitted to the data (core.sweep_data)
    sampler: str = "tpe"
    prune: bool = True

    @property
    def direction(self) -> str:
        if self.metric not in METRICS:
            raise StudioError("The sweep's metric is not settled yet: fit it to the data "
                              "(core.sweep_data.fit_to_task) first.")
        return METRICS[self.metric][0]

    def identity(self) -> dict[str, Any]:
        """What makes two sweeps the same study (machine-local options left out)."""
        swept = {p.option.dest for p in self.params}
        fixed = {k: v for k, v in sorted(vars(self.base).items())
                 if k not in NOT_SWEPT and k not in swept}
        return json.loads(json.dumps({"params": [p.text() for p in self.params],
                                      "fixed": fixed, "metric": self.metric}))


def check_sweep(sweep: Sweep) -> None:
    """StudioError for a sweep that cannot run, before any data is loaded."""
    if sweep.trials < 1:
        raise StudioError(f"--trials {sweep.trials}: a sweep needs at least 1 trial.")
    if sweep.metric not in METRICS and sweep.metric != AUTO:
        raise StudioError(f"Unknown metric '{sweep.metric}': choose {', '.join(METRICS)}.")
    if sweep.sampler not in SAMPLERS:
        raise StudioError(f"Unknown sampler '{sweep.sampler}': choose {', '.join(SAMPLERS)}.")
    if not sweep.params:
        raise StudioError("Nothing to sweep: give at least one --param NAME=SPEC, e.g. "
                          "--param lr=1e-4..1e-1:log.")
    names = [p.name for p in sweep.params]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise StudioError(f"--param {twice[0]} is given twice: give each setting once (list "
                          "all its values in one SPEC).")

    base = base_settings(sweep.base)  # the engine's own checks, nothing repeated
    for param in sweep.params:
        for value in extreme_values(param):
            try:
                param.apply(base, value)
            except StudioError as err:
                raise StudioError(f"--param {param.text()}: with {param.name} {value}: "
                                  f"{err}") from None
    if sweep.sampler == "grid":
        size = grid_size(sweep.params)
        if sweep.trials > size:
            raise StudioError(f"The grid has {size} combinations, fewer than --trials "
                              f"{sweep.trials}: ask for at most {size} trials, add values, or "
                              "use --sampler tpe or random.")


def _sampler(sweep: Sweep):
    import optuna

    if sweep.sampler == "grid":
        return optuna.samplers.GridSampler({p.name: p.grid() for p in sweep.params})
    if sweep.sampler == "random":
        return optuna.samplers.RandomSampler()
    return optuna.samplers.TPESampler(n_startup_trials=min(10, max(2, sweep.trials // 3)))


def _pruner(sweep: Sweep):
    import optuna

    if not sweep.prune:
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=STARTUP_TRIALS, n_warmup_steps=1)


def open_study(sweep: Sweep, create: bool = True):
    """The sweep's study, created if new (with the sweep's identity), refused if it was
    created by another sweep."""
    import optuna
    from mlp_studio.core.sweep_storage import open_storage, shown_url

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage = open_storage(sweep.storage)
    try:
        study = optuna.load_study(study_name=sweep.study, storage=storage,
                                  sampler=_sampler(sweep), pruner=_pruner(sweep))
    except KeyError:
        if not create:
            raise StudioError(f"There is no study '{sweep.study}' in "
                              f"{shown_url(sweep.storage)}.") from None
        study = optuna.create_study(study_name=sweep.study, storage=storage,
                                    sampler=_sampler(sweep), pruner=_pruner(sweep),
                                    direction=sweep.direction, load_if_exists=True)
    mine = sweep.identity()
    theirs = study.user_attrs.get(IDENTITY_KEY)
    if theirs is None:
        study.set_user_attr(IDENTITY_KEY, mine)
        theirs = mine
    difference = _difference(theirs, mine)
    if difference:
        raise StudioError(f"The study '{sweep.study}' in {shown_url(sweep.storage)} was created "
                          f"with other settings ({difference}): run the command that created "
                          "it to continue it, or give a new --study name.")
    return study


def _difference(old: dict, new: dict) -> str:
    if old.get("params") != new.get("params"):
        return (f"it sweeps {' '.join(old.get('params', [])) or 'nothing'}, this command "
                f"{' '.join(new['params'])}")
    if old.get("metric") != new.get("metric"):
        return f"its metric is {old.get('metric')}, this command's {new['metric']}"
    old_fixed, new_fixed = old.get("fixed", {}), new.get("fixed", {})
    for key in sorted(set(old_fixed) | set(new_fixed)):
        if old_fixed.get(key) != new_fixed.get(key):
            return (f"--{key.replace('_', '-')} was {old_fixed.get(key)!r}, now "
                    f"{new_fixed.get(key)!r}")
    return ""


@dataclass
class Counts:
    done: int = 0  # complete, pruned, or failed by its own settings (not by a killed worker)
    running: int = 0
    waiting: int = 0


def count(study) -> Counts:
    from optuna.trial import TrialState

    counts = Counts()
    for trial in study.get_trials(deepcopy=False):
        if trial.state in (TrialState.COMPLETE, TrialState.PRUNED) or (
                trial.state == TrialState.FAIL and "error" in trial.user_attrs):
            counts.done += 1
        elif trial.state == TrialState.RUNNING:
            counts.running += 1
        elif trial.state == TrialState.WAITING:
            counts.waiting += 1
    return counts


class _Reporter:
    """Trainer events -> Optuna: the metric after each epoch, pruning when told to."""

    def __init__(self, trial, metric: str):
        self.trial, self.metric = trial, metric
        self.values: list[float] = []

    def __call__(self, event) -> None:
        from mlp_studio.core.training_events import EpochEnd

        if not isinstance(event, EpochEnd):
            return
        value = metric_value(self.metric, event.val)
        if not math.isfinite(value):
            return  # a diverging epoch: the trainer stops the run itself
        self.values.append(value)
        self.trial.report(value, event.epoch)
        # After the last epoch stopping saves nothing: the trial completes with its value.
        if event.epoch < event.epochs and self.trial.should_prune():
            import optuna

            raise optuna.TrialPruned(f"pruned after epoch {event.epoch}")


def run_trial(trial, sweep: Sweep, data: TrialData) -> float:
    """One trial: its settings, the Trainer, the best epoch's metric."""
    from mlp_studio.core.limits import check_training_memory
    from mlp_studio.core.model import build_model
    from mlp_studio.core.sweep_storage import tag_trial
    from mlp_studio.core.training import Trainer

    tag_trial(trial)
    values = {param.name: param.suggest(trial) for param in sweep.params}
    try:
        prepared = data.get(data_options(sweep.base, sweep.params, values))
        if not len(prepared.x_val):
            raise StudioError("The validation set is empty, and a sweep ranks trials by it: "
                              "raise --val-fraction or the validation percentage.")
        if prepared.task not in METRICS[sweep.metric][1]:
            raise StudioError(f"The data is a {prepared.task} problem, which {sweep.metric} "
                              "cannot measure: choose another metric.")
        run = trial_run(sweep.base, sweep.params, values, int(prepared.x_train.shape[1]),
                        prepared.num_classes)
        spec, config = run.spec, run.train
        check_training_memory(spec, min(config.batch_size, len(prepared.x_train)),
                              config.optimizer)
        reporter = _Reporter(trial, sweep.metric)
        finished = Trainer(build_model(spec), prepared, config, on_event=reporter).run()
        if not reporter.values:
            raise StudioError(finished.diverged.message if finished.diverged else
                              "no epoch finished")
    except StudioError as err:
        trial.set_user_attr("error", str(err))  # counts as done: its settings cannot train
        raise
    best = max if sweep.direction == "maximize" else min
    return best(reporter.values)


def work(sweep: Sweep, on_trial: Callable[[Any, Any], None] | None = None,
         dataset=None) -> Counts:
    """Run trials until the study holds `sweep.trials` finished ones (other workers' too), on
    `dataset` (a core.dataset.Dataset) when it was read already, else on the data the sweep's
    options name."""
    import optuna
    from mlp_studio.core.sweep_storage import recover

    study = open_study(sweep)
    data = TrialData(dataset)
    callbacks = [on_trial] if on_trial is not None else []
    while True:
        recover(study)
        counts = count(study)
        if counts.done >= sweep.trials:
            return counts
        if counts.done + counts.running >= sweep.trials and not counts.waiting:
            # Others run the last trials: wait for them, or for their heartbeat to go stale
            # (then their trials are queued again and this worker takes one).
            time.sleep(WAIT_SECONDS)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(study)
            continue
        study.optimize(lambda trial: run_trial(trial, sweep, data), n_trials=1,
                       catch=(StudioError,), callbacks=callbacks, gc_after_trial=False)


@dataclass(frozen=True)
class TrialResult:
    number: int
    params: dict[str, Any]
    value: float | None
    state: str  # Optuna's: COMPLETE, PRUNED, FAIL, RUNNING, WAITING
    epochs: int  # epochs reported (fewer than asked when pruned)
    seconds: float | None
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = {"number": self.number, "params": self.params, "value": self.value,
               "state": self.state, "epochs": self.epochs, "seconds": self.seconds}
        if self.error:
            out["error"] = self.error
        return out


@dataclass(frozen=True)
class SweepResults:
    study: str
    metric: str
    direction: str
    trials: list[TrialResult]
    best: TrialResult | None
    importance: dict[str, float] = field(default_factory=dict)
    definition: dict[str, Any] = field(default_factory=dict)  # the creating sweep's identity

    def to_dict(self) -> dict[str, Any]:
        best = None if self.best is None else {
            "number": self.best.number, "params": self.best.params, "value": self.best.value}
        return {"study": self.study, "metric": self.metric, "direction": self.direction,
                "trials": [t.to_dict() for t in self.trials], "best": best,
                "importance": self.importance}


def count_results(done: SweepResults) -> tuple[int, int]:
    """Finished trials (as `count` counts them) and running ones, from read results."""
    finished = sum(t.state in ("COMPLETE", "PRUNED") or (t.state == "FAIL" and bool(t.error))
                   for t in done.trials)
    return finished, sum(t.state == "RUNNING" for t in done.trials)


def failures(done: SweepResults) -> tuple[int, str] | None:
    """How many trials failed with their own error (not a killed worker's), and the most
    common reason, counting reasons that differ only in their figures (a diverging loss, a
    learning rate) as one; None when none failed."""
    failed = [t for t in done.trials if t.state == "FAIL" and t.error]
    if not failed:
        return None
    reasons = Counter(_FIGURES.sub("#", t.error) for t in failed)
    reason, times = reasons.most_common(1)[0]
    example = next(t for t in failed if _FIGURES.sub("#", t.error) == reason)
    if len(failed) == 1:
        return 1, f"trial {example.number}: {example.error}"
    return len(failed), (f"the most common reason ({times} of them, e.g. trial "
                         f"{example.number}): {example.error}")


def all_failed(done: SweepResults) -> bool:
    """Trials failed with their own error and none gave a value: nothing to rank."""
    return failures(done) is not None and not any(
        t.state in ("COMPLETE", "PRUNED") for t in done.trials)


def results(study, importance: bool = True) -> SweepResults:
    """Every trial of `study`, the best, and (when it can be computed) what mattered most."""
    from optuna.trial import TrialState

    identity = study.user_attrs.get(IDENTITY_KEY, {})
    trials = []
    for t in study.get_trials(deepcopy=False):
        seconds = (t.datetime_complete - t.datetime_start).total_seconds() if (
            t.datetime_complete and t.datetime_start) else None
        value = t.value if t.state in (TrialState.COMPLETE, TrialState.PRUNED) else None
        trials.append(TrialResult(t.number, dict(t.params), value, t.state.name,
                                  len(t.intermediate_values), seconds,
                                  str(t.user_attrs.get("error", ""))))
    complete = [t for t in trials if t.state == "COMPLETE" and t.value is not None]
    maximize = study.direction.name == "MAXIMIZE"
    best = None
    if complete:
        best = (max if maximize else min)(complete, key=lambda t: t.value)
    return SweepResults(study.study_name, identity.get("metric", ""),
                        study.direction.name.lower(), trials, best,
                        param_importance(study) if importance else {}, identity)


def param_importance(study) -> dict[str, float]:
    """Optuna's fANOVA importance of each swept setting ({} until enough trials finished)."""
    import optuna
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 3:
        return {}
    try:
        return {k: float(v) for k, v in optuna.importance.get_param_importances(study).items()}
    except (ValueError, RuntimeError, ZeroDivisionError):  # a setting that never varied
        return {}
