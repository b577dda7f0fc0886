"""The background-task helper: work runs on a pool thread, callbacks in the GUI thread."""

import threading
import time

import pytest
from mlp_studio.app.widgets.background import Background
from mlp_studio.core.errors import DownloadCancelled, StudioError
from PySide6.QtCore import QThreadPool

GUI = threading.get_ident()  # pytest imports this module in the GUI (main) thread
TIMEOUT = 10_000


@pytest.fixture
def background(qtbot):
    tasks = Background()
    yield tasks
    tasks.shutdown(timeout=5)


def recorder():
    calls = []

    def record(*values):
        calls.append((threading.get_ident(), values))

    return calls, record


def test_done_runs_off_the_gui_thread_and_reports_in_it(qtbot, background):
    calls, record = recorder()
    background.run(lambda _task: threading.get_ident(), on_done=record)
    qtbot.wait_until(lambda: bool(calls), timeout=TIMEOUT)
    [(where, (worker,))] = calls
    assert worker != GUI  # the function ran elsewhere
    assert where == GUI  # and its result arrived in the GUI thread
    assert not background.busy


def test_errors_are_delivered_in_the_gui_thread(qtbot, background):
    calls, record = recorder()

    def fail(_task):
        raise StudioError(f"no such file ({threading.get_ident() != GUI})")

    def bug(_task):
        raise ZeroDivisionError("a bug")

    background.run(fail, on_error=record, on_done=pytest.fail)
    background.run(bug, on_error=record, on_done=pytest.fail)
    qtbot.wait_until(lambda: len(calls) == 2, timeout=TIMEOUT)
    errors = sorted((type(err).__name__, str(err)) for _, (err,) in calls)
    assert errors == [("StudioError", "no such file (True)"), ("ZeroDivisionError", "a bug")]
    assert {where for where, _ in calls} == {GUI}


def test_progress_arrives_while_the_function_runs_and_does_not_pile_up(qtbot, background):
    calls, record = recorder()
    seen = threading.Event()

    def work(task):
        for i in range(1, 2001):
            task.progress(i, 2000)
        # The GUI shows progress while this still runs: impossible if it ran on the GUI thread.
        return seen.wait(TIMEOUT / 1000)

    done, finish = recorder()

    def on_progress(i, total):
        record(i, total)
        if i == total:
            seen.set()

    background.run(work, on_progress=on_progress, on_done=finish)
    qtbot.wait_until(lambda: bool(done), timeout=TIMEOUT)
    assert done[0][1] == (True,)
    assert calls[-1] == (GUI, (2000, 2000))  # the latest values always arrive
    assert len(calls) < 2000  # reports made faster than shown are merged
    assert {where for where, _ in calls} == {GUI}


def test_cancel_is_a_flag_the_function_polls(qtbot, background):
    calls, record = recorder()
    started = threading.Event()

    def download(task):
        started.set()
        while not task.cancelled:
            time.sleep(0.01)
        raise DownloadCancelled("Download cancelled.")

    task = background.run(download, on_error=record, on_done=pytest.fail)
    assert started.wait(5)
    task.cancel()
    qtbot.wait_until(lambda: bool(calls), timeout=TIMEOUT)
    assert isinstance(calls[0][1][0], DownloadCancelled)

    # A value returned after cancel is not delivered
    returned, record_value = recorder()

    def ignores(task):
        while not task.cancelled:
            time.sleep(0.01)
        return "late"

    task = background.run(ignores, on_done=record_value)
    task.cancel()
    assert background.wait(5)
    assert returned == []


def test_wait_has_a_timeout_and_delivers_the_results(qtbot, background):
    gate = threading.Event()
    calls, record = recorder()
    background.run(lambda _task: gate.wait(10) and "written", on_done=record)
    began = time.monotonic()
    assert not background.wait(timeout=0.2)  # still blocked on the gate
    assert time.monotonic() - began < 3
    assert calls == [] and background.busy
    gate.set()
    assert background.wait(timeout=5)
    assert calls == [(GUI, ("written",))]  # delivered by wait itself, no event loop needed
    assert not background.busy


def test_a_lane_runs_one_task_at_a_time_in_order(qtbot, background):
    active, order, overlaps = [], [], []

    def job(n):
        def work(_task):
            active.append(n)
            if len(active) > 1:
                overlaps.append(list(active))
            time.sleep(0.05)
            active.remove(n)
            return n
        return work

    for n in range(4):
        background.run(job(n), lane="save", on_done=order.append)
    assert background.wait(10)
    assert order == [0, 1, 2, 3] and overlaps == []


def test_latest_request_wins_in_its_lane(qtbot, background):
    gate = threading.Event()
    ran, delivered = [], []

    def prepare(n):
        def work(task):
            ran.append(n)
            if n == 0:
                gate.wait(10)
            return n
        return work

    background.run(prepare(0), lane="prepare", latest=True, on_done=delivered.append)
    qtbot.wait_until(lambda: ran == [0], timeout=TIMEOUT)
    for n in (1, 2, 3):
        background.run(prepare(n), lane="prepare", latest=True, on_done=delivered.append)
    gate.set()
    assert background.wait(10)
    assert ran == [0, 3]  # 1 and 2 were replaced before they started
    assert delivered == [3]  # 0 was superseded while it ran: its result is not shown


def test_shutdown_is_bounded_and_finishes_manual_saves(qtbot, background):
    gate = threading.Event()
    written, dropped, cancelled = [], [], threading.Event()

    def download(task):
        while not task.cancelled:
            time.sleep(0.01)
        cancelled.set()
        raise DownloadCancelled("Download cancelled.")

    def stuck(_task):
        gate.wait(30)  # ignores cancel, like reading a big file

    def save(_task):
        time.sleep(0.2)
        written.append(threading.get_ident())

    background.run(download)
    background.run(stuck)
    background.run(save, lane="save", finish=True)  # a manual save: running
    background.run(save, lane="save", finish=True)  # and one waiting behind it
    background.run(lambda _t: dropped.append(1), lane="save", latest=True)  # an autosave
    began = time.monotonic()
    assert not background.shutdown(timeout=0.5)  # the stuck task outlived the bound
    took = time.monotonic() - began
    assert took < 3
    assert cancelled.is_set()  # the download was told to stop, and did
    assert len(written) == 2 and GUI not in written  # both manual saves were written
    assert dropped == []  # the waiting autosave was not
    gate.set()
    assert background.wait(5)


def test_own_pool_is_not_blocked_by_a_busy_global_pool(qtbot, background):
    gate = threading.Event()
    pool = QThreadPool.globalInstance()
    for _ in range(pool.maxThreadCount()):
        pool.start(lambda: gate.wait(10))
    calls, record = recorder()
    try:
        background.run(lambda _task: "saved", on_done=record)
        assert background.wait(5)
        assert calls == [(GUI, ("saved",))]
    finally:
        gate.set()
        pool.waitForDone(5000)
