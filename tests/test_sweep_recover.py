"""core.sweep_storage.recover: which RUNNING trials count as orphans."""

import os
import subprocess
import sys

import optuna
from mlp_studio.core.sweep_storage import recover, tag_trial
from optuna.trial import TrialState


def _running_trials(tmp_path):
    """A study with three RUNNING trials: tagged by a process that has ended, tagged by this
    (living) process, and not tagged yet (a worker stopped between asking and tagging)."""
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 's.db'}", study_name="s")
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    gone, alive, fresh = study.ask(), study.ask(), study.ask()
    tag_trial(gone)
    gone.set_user_attr("pid", int(ended.stdout))
    tag_trial(alive)
    assert alive.user_attrs["pid"] == os.getpid()
    return study, gone, alive, fresh


def _states(study) -> list[TrialState]:
    return [t.state for t in study.get_trials(deepcopy=False)]


def test_a_dead_workers_trial_fails_and_a_fresh_unclaimed_one_waits(tmp_path):
    study, *_ = _running_trials(tmp_path)
    assert recover(study, retry=False) == 1
    assert _states(study) == [TrialState.FAIL, TrialState.RUNNING, TrialState.RUNNING]


def test_after_stopping_its_workers_the_caller_fails_unclaimed_trials_too(tmp_path):
    """The Sweep dialog's Cancel: a worker stopped before it tagged its trial left the trial
    RUNNING for a minute (the grace period), and the dialog showed it running."""
    study, *_ = _running_trials(tmp_path)
    assert recover(study, retry=False, unclaimed=True) == 2
    assert _states(study) == [TrialState.FAIL, TrialState.RUNNING, TrialState.FAIL]
