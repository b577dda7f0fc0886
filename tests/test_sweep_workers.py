"""Sweeps across processes: killed with SIGKILL and run again, several workers on one SQLite
study (`--workers 2`, and two commands sharing the storage, as two machines would)."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from idx_fixtures import write_mnist_folder

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_mnist_folder(tmp_path_factory.mktemp("mnist"), n_train=600, n_test=60)


def _command(data, db, trials, *extra):
    return [sys.executable, "-m", "mlp_studio.core.cli", "sweep", "--data", str(data),
            "--epochs", "3", "--hidden", "64", "--batch-size", "16", "--no-prune",
            "--param", "lr=1e-3..1e-1:log", "--param", "activation=relu,tanh",
            "--trials", str(trials), "--storage", str(db), *extra]


def _states(db) -> list[tuple[str, int]]:
    """Each trial's state and how many epochs it reported, read as another process would."""
    if not db.exists():
        return []
    try:
        with sqlite3.connect(db, timeout=30) as con:
            return list(con.execute(
                "SELECT state, (SELECT COUNT(*) FROM trial_intermediate_values v "
                "WHERE v.trial_id = t.trial_id) FROM trials t ORDER BY number"))
    except sqlite3.OperationalError:  # the tables are not made yet
        return []


def _trials(db):
    import optuna

    return optuna.load_study(study_name="sweep", storage=f"sqlite:///{db}").get_trials()


def test_a_sweep_killed_mid_trial_continues_where_it_stopped(data, tmp_path):
    db, out = tmp_path / "s.db", tmp_path / "m.json"
    trials = 4
    proc = subprocess.Popen(_command(data, db, trials), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # kill it mid-trial (an epoch in), after a finished one
        states = _states(db)
        if ("COMPLETE", 3) in states and states[-1][0] == "RUNNING" and states[-1][1] >= 1:
            break
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.02)
    else:
        pytest.fail("the sweep never reached a second trial")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    killed = len(_states(db)) - 1  # the number of the trial it was running
    assert _states(db)[killed][0] == "RUNNING"

    again = subprocess.run(_command(data, db, trials, "--metrics-json", str(out)),
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    report = json.loads(out.read_text())
    states = [t["state"] for t in report["trials"]]
    assert states.count("COMPLETE") == trials
    assert states[killed] == "FAIL"  # the killed process's trial, queued again...
    retried = [t for t in _trials(db) if t.system_attrs.get("failed_trial") is not None]
    assert len(retried) == 1 and retried[0].state.name == "COMPLETE"
    assert retried[0].params == report["trials"][killed]["params"]  # ...with its settings
    assert report["best"]["value"] == max(t["value"] for t in report["trials"]
                                          if t["value"] is not None)


def test_two_workers_share_one_sqlite_study(data, tmp_path):
    db, out = tmp_path / "s.db", tmp_path / "m.json"
    done = subprocess.run(_command(data, db, 6, "--workers", "2", "--metrics-json", str(out)),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    states = [t["state"] for t in report["trials"]]
    # At most one extra, when both workers start a last trial together (core.sweep.work).
    assert set(states) == {"COMPLETE"} and 6 <= len(states) <= 7
    pids = {t.user_attrs["pid"] for t in _trials(db)}
    assert len(pids) == 2 and os.getpid() not in pids  # two worker processes did the work


def test_two_commands_on_one_storage_work_on_one_study(data, tmp_path):
    """What several machines with a shared database URL do, on one machine."""
    db = tmp_path / "s.db"
    procs = [subprocess.Popen(_command(data, db, 8, "--quiet"), stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
    trials = _trials(db)
    assert sum(t.state.name == "COMPLETE" for t in trials) >= 8
    assert len(trials) <= 9  # at most one extra, when both start a last trial together
    assert len({t.user_attrs["pid"] for t in trials}) == 2
