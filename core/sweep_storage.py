"""Where a sweep's trials live: an Optuna RDB storage, an SQLite file by default.

A plain path is an SQLite file; a URL (`sqlite:///...`, `postgresql://...`, `mysql://...`) is
used as given, which is how several machines work on one study (Optuna's distributed mode).
Every problem opening it is one sentence that says what to do; the password in a URL never
appears in one.

Trials of a worker that was killed stay RUNNING in the database. Each worker keeps a heartbeat
(Optuna fails a trial whose heartbeat is older than GRACE_SECONDS and queues it again); on the
machine that ran it, a trial whose process is gone is failed and queued at once (`recover`).
"""

from __future__ import annotations

import datetime
import os
import socket
import sqlite3
import time
import warnings
from pathlib import Path

from mlp_studio.core.errors import StudioError
from mlp_studio.core.reading import special_file

HEARTBEAT_SECONDS = 5
GRACE_SECONDS = 30
MAX_RETRIES = 3  # of one trial whose worker died
OPEN_ATTEMPTS = 3
SQLITE_TIMEOUT = 60.0  # seconds a worker waits for another's write lock
_SQLITE_MAGIC = b"SQLite format 3\x00"


def storage_url(text: str) -> str:
    """A database URL from `--storage` (a URL, or a path to an SQLite file)."""
    text = text.strip()
    if not text:
        raise StudioError("--storage is empty: give a file (sweeps.db) or a database URL.")
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def shown_url(url: str) -> str:
    """The URL without its password (an SQLite file: its path), for messages."""
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return url[len("sqlite:///"):]
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # a URL that does not parse has no password we could find either
        return url.split("@")[-1] if "@" in url else url


def _check_sqlite_file(url: str) -> None:
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:":
        raise StudioError(f"The sweep storage {url} keeps nothing on disk: give a file, e.g. "
                          "--storage sweeps.db.")
    path = Path(database)
    if not path.parent.is_dir():
        raise StudioError(f"Cannot create the sweep database {path}: the folder {path.parent} "
                          "does not exist. Create it, or choose another --storage file.")
    if path.is_dir():
        raise StudioError(f"The sweep storage {path} is a folder: give a file in it, e.g. "
                          f"{path / 'sweeps.db'}.")
    kind = special_file(path)
    if kind is not None:  # SQLite reports only "disk I/O error" on a pipe or a device
        raise StudioError(f"The sweep storage {path} is a {kind}, not a file: choose a file, e.g. "
                          "--storage sweeps.db.")
    if not path.exists() or path.stat().st_size == 0:
        return
    try:
        with path.open("rb") as f:
            head = f.read(len(_SQLITE_MAGIC))
    except OSError as err:
        raise StudioError(f"Cannot read the sweep database {path}: {err.strerror}.") from None
    if head != _SQLITE_MAGIC:
        raise StudioError(f"{path} is not a sweep database (not SQLite: another kind of file, or "
                          "a damaged one). Choose another --storage file, or move this one away.")
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=SQLITE_TIMEOUT) as db:
            check = db.execute("PRAGMA quick_check").fetchone()
            tables = {row[0] for row in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as err:
        raise StudioError(f"The sweep database {path} is damaged ({err}): restore it from a "
                          "copy, or start the sweep in a new --storage file.") from None
    if check is None or check[0] != "ok":
        raise StudioError(f"The sweep database {path} is damaged ({check[0] if check else '?'}): "
                          "restore it from a copy, or start the sweep in a new --storage file.")
    if tables and "studies" not in tables:
        raise StudioError(f"{path} is an SQLite database of something else, not a sweep: "
                          "choose another --storage file.")


def open_storage(url: str):
    """An Optuna RDBStorage with heartbeats and retries; StudioError if it cannot be opened."""
    try:
        from sqlalchemy.engine import make_url

        backend = make_url(url).get_backend_name()
    except Exception as err:
        raise StudioError(f"--storage {shown_url(url)} is not a database URL ({err}): give a "
                          "file such as sweeps.db, or a URL such as "
                          "postgresql://user:password@host/db.") from None
    sqlite = backend == "sqlite"
    if sqlite:
        _check_sqlite_file(url)
    engine = {"connect_args": {"timeout": SQLITE_TIMEOUT}} if sqlite else {"pool_pre_ping": True}
    for attempt in range(OPEN_ATTEMPTS):
        try:
            return _rdb_storage(url, engine)
        except ImportError:
            raise StudioError(f"Cannot open the sweep storage {shown_url(url)}: the database "
                              f"driver for '{backend}' is not installed. Install it with pip, "
                              "or use an SQLite file.") from None
        except Exception as err:  # sqlalchemy's and optuna's own errors: connection, schema
            # Workers that open a new database together race to create its tables: the
            # loser's error goes away once the winner is done.
            if attempt + 1 < OPEN_ATTEMPTS:
                time.sleep(0.5 * (attempt + 1))
                continue
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise StudioError(f"Cannot open the sweep storage {shown_url(url)}: {first}. Check "
                              "the URL, that the server runs and that you may use it.") from None
    raise AssertionError("unreachable")


def _rdb_storage(url: str, engine: dict):
    import optuna
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return RDBStorage(
            url, engine_kwargs=engine, heartbeat_interval=HEARTBEAT_SECONDS,
            grace_period=GRACE_SECONDS,
            heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(MAX_RETRIES),
        )


def tag_trial(trial) -> None:
    """Say which process runs `trial`, so a rerun on this machine can tell it died."""
    trial.set_user_attr("host", socket.gethostname())
    trial.set_user_attr("pid", os.getpid())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process: not ours to judge
    return True


def recover(study, retry: bool = True, unclaimed: bool = False) -> int:
    """Fail (and with `retry` queue again) this machine's RUNNING trials whose process is
    gone, and trials that never said who runs them and are older than the grace period (any
    age with `unclaimed`: the caller has just stopped every worker it started, and one stopped
    between creating its trial and tagging it left it unclaimed); how many."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.storages import RetryHeartbeatStaleTrialCallback
    from optuna.trial import TrialState

    host = socket.gethostname()
    now = datetime.datetime.now()
    count = 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        attrs = trial.user_attrs
        if "pid" in attrs:
            dead = attrs.get("host") == host and not _alive(int(attrs["pid"]))
        else:
            start = trial.datetime_start
            dead = unclaimed or (
                start is not None and (now - start).total_seconds() > GRACE_SECONDS * 2)
        if not dead:
            continue
        try:
            if not study._storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                continue
        except UpdateFinishedTrialError:  # another worker got there first
            continue
        count += 1
        if not retry:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the callback is "experimental" since Optuna 2.8
            again = RetryHeartbeatStaleTrialCallback(MAX_RETRIES)
            again(study, study._storage.get_trial(trial._trial_id))
    return count
