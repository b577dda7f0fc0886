"""TrainingProcess: the Trainer in a child process, and the child's side (serve) in-process."""

from __future__ import annotations

import multiprocessing
import queue
import threading

import mlp_studio.core.training_child as training_child
import mlp_studio.core.training_process as tp
import numpy as np
import pytest
import torch
from idx_fixtures import write_mnist_folder
from mlp_studio.core.data import DataConfig, prepare_mnist
from mlp_studio.core.errors import SpecError, StudioError
from mlp_studio.core.mnist import load_folder
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model
from mlp_studio.core.training import (
    BatchProgress,
    EpochEnd,
    Finished,
    Halted,
    LayerStats,
    Snapshot,
    TrainConfig,
    Trainer,
)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    mnist = load_folder(write_mnist_folder(tmp_path_factory.mktemp("mnist"), 600, 100))
    return prepare_mnist(mnist, DataConfig())


def small_model():
    return build_model(NetworkSpec(hidden=[LayerSpec(16)]))


def test_a_run_in_the_child_matches_a_run_in_this_process(data):
    config = TrainConfig(epochs=2, batch_size=64)
    here = small_model()
    there = small_model()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the child's count: the same arithmetic, the same weights
    try:
        expected = Trainer(here, data, config).run()
    finally:
        torch.set_num_threads(threads)
    events = []
    process = tp.TrainingProcess(there, data, config, on_event=events.append, threads=1)
    result = process.run()

    assert [type(e) for e in events if not isinstance(e, BatchProgress | LayerStats)] == [
        EpochEnd, EpochEnd, Finished]  # fmt: skip
    assert result is events[-1]
    assert result.test.accuracy == expected.test.accuracy
    assert result.history.batch_losses == pytest.approx(expected.history.batch_losses, rel=1e-5)
    for a, b in zip(here.state_dict().values(), there.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert process.best_epoch == 2 and np.isfinite(process.best_val_loss)
    assert set(process.best_state) == set(there.state_dict())


def test_commands_before_the_start_reach_the_child(data):
    events = []
    process = tp.TrainingProcess(small_model(), data, TrainConfig(epochs=1, batch_size=64),
                                 on_event=events.append, snapshot_interval=0.01)  # fmt: skip
    process.set_probe(data.x_val[:3])
    process.step()
    process.step()  # two batches, then paused: stop from another thread
    assert process.paused
    halts = threading.Semaphore(0)

    def on_event(event):
        events.append(event)
        if isinstance(event, Halted):
            halts.release()

    process.on_event = on_event
    thread = threading.Thread(target=process.run)
    thread.start()
    assert halts.acquire(timeout=30)  # it halts after the two steps
    process.stop()
    thread.join(30)
    assert not thread.is_alive()
    [finished] = [e for e in events if isinstance(e, Finished)]
    assert finished.stopped and len(finished.history.batch_losses) == 2
    snapshots = [e for e in events if isinstance(e, Snapshot)]
    assert snapshots and snapshots[-1].activations[0].shape == (3, 16)


def test_a_stop_before_the_start_starts_nothing(data):
    process = tp.TrainingProcess(small_model(), data, TrainConfig(epochs=1))
    process.stop()
    assert process.run() is None


def test_impossible_settings_are_refused_before_a_child_starts(data):
    with pytest.raises(SpecError, match="Batch size 0"):
        tp.TrainingProcess(small_model(), data, TrainConfig(batch_size=0))


def test_a_killed_child_is_reported_and_the_model_keeps_its_weights(data):
    model = small_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    process = tp.TrainingProcess(model, data, TrainConfig(epochs=100_000, batch_size=8))
    process.on_event = lambda event: process.kill()
    with pytest.raises(StudioError, match="ended unexpectedly"):
        process.run()
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, before[key])


def test_without_room_in_shared_memory_the_child_gets_a_copy(data, monkeypatch, caplog):
    def refuse(self):  # what a container's 64 MB /dev/shm does to a large dataset
        raise RuntimeError("unable to write to file </torch_1_2>: No space left on device (28)")

    monkeypatch.setattr(torch.UntypedStorage, "_share_fd_cpu_", refuse)
    process = tp.TrainingProcess(small_model(), data, TrainConfig(epochs=1, batch_size=64))
    result = process.run()
    assert result.test is not None and len(result.history.epochs) == 1
    assert "copying the data to the child" in caplog.text
    assert isinstance(data.x_train, torch.Tensor)  # the caller's data is untouched


# ---- the child's side, run here with pipes, so monkeypatches apply ----


def received_messages(events):
    """The child's messages one by one (it sends them in lists), until it has gone."""
    while True:
        try:
            batch = events.recv()
        except (EOFError, OSError):
            return
        yield from batch


def serve_here(data, config, **job_changes):
    """Run serve() in a thread of this process; return what it sent, in order."""
    commands_out, commands_in = multiprocessing.Pipe(duplex=False)
    events_out, events_in = multiprocessing.Pipe(duplex=False)
    model = small_model()
    job = tp.Job(model.spec.to_dict(), tp.state_arrays(model.state_dict()), data, config.to_dict(),
                 0.05, 0.0, 0, 1)  # fmt: skip
    for key, value in job_changes.items():
        setattr(job, key, value)
    thread = threading.Thread(target=tp.serve, args=(commands_out, events_in, job))
    thread.start()
    messages = []
    for message in received_messages(events_out):
        messages.append(message)
        if isinstance(message, tp._Final | tp._Failed):
            break
    thread.join(30)
    commands_in.close()
    return messages


def test_the_child_reports_a_bug_as_a_message(data, monkeypatch, capsys):
    def crash(self):
        raise RuntimeError("boom")

    monkeypatch.setattr(Trainer, "run", crash)
    [failed] = serve_here(data, TrainConfig(epochs=1))
    assert failed == tp._Failed("Training failed: RuntimeError: boom")
    assert "RuntimeError: boom" in capsys.readouterr().err  # the traceback, for a bug report


def test_the_child_passes_a_users_error_on_as_it_is(data, monkeypatch):
    def refuse(self):
        raise SpecError("CUDA was chosen but no CUDA GPU is available: choose 'cpu' or 'auto'.")

    monkeypatch.setattr(Trainer, "run", refuse)
    [failed] = serve_here(data, TrainConfig(epochs=1))
    assert failed.message.startswith("CUDA was chosen")


def test_the_child_trains_with_its_own_thread_count(data, monkeypatch):
    seen = []
    run = Trainer.run

    def recording_run(self):
        seen.append(torch.get_num_threads())  # per thread (OpenMP): read it where it trains
        return run(self)

    monkeypatch.setattr(Trainer, "run", recording_run)
    for threads in (1, 2):
        messages = serve_here(data, TrainConfig(epochs=1), threads=threads)
        assert isinstance(messages[-1], tp._Final)
    assert seen == [1, 2]


def test_the_child_stops_when_the_parent_goes(data):
    commands_out, commands_in = multiprocessing.Pipe(duplex=False)
    events_out, events_in = multiprocessing.Pipe(duplex=False)
    model = small_model()
    job = tp.Job(model.spec.to_dict(), tp.state_arrays(model.state_dict()), data,
                 TrainConfig(epochs=100_000, batch_size=8).to_dict(), 0.05, 0.0, 0, 1)
    thread = threading.Thread(target=tp.serve, args=(commands_out, events_in, job))
    thread.start()
    received = received_messages(events_out)
    assert isinstance(next(received), LayerStats | BatchProgress)
    commands_in.close()  # what a parent's death looks like from the child
    messages = []
    for message in received:
        messages.append(message)
        if isinstance(message, tp._Final):
            break
    thread.join(30)
    assert not thread.is_alive()
    assert any(isinstance(m, Finished) and m.stopped for m in messages)


def test_a_backlog_goes_as_one_message_merged_with_the_newest_snapshot_only():
    out, into = multiprocessing.Pipe(duplex=False)
    outbox = queue.SimpleQueue()

    def progress(batch, loss):
        return BatchProgress(1, batch, 10, batch, np.float32([loss]), 100.0, 0.001)

    stats, halted = LayerStats(2, *[np.zeros(2)] * 5), Halted()
    backlog = [progress(1, 0.9), Snapshot(1, [], [], None), progress(2, 0.8), stats,
               Snapshot(2, [], [], None), progress(3, 0.7), progress(4, 0.6), halted, None]
    for message in backlog:
        outbox.put(message)
    training_child._send_all(outbox, into)
    [batch] = [out.recv() for _ in range(1) if out.poll(1)]
    assert not out.poll(0.1)  # one message for the whole backlog
    assert [type(m).__name__ for m in batch] == [
        "BatchProgress", "LayerStats", "Snapshot", "BatchProgress", "Halted"]  # fmt: skip
    assert batch[0].losses.tolist() == pytest.approx([0.9, 0.8])
    assert batch[2].step == 2 and batch[3].losses.tolist() == pytest.approx([0.7, 0.6])


def test_a_child_stopped_halfway_through_a_message_never_blocks_poll(data):
    """A child stopped from outside (SIGSTOP) mid-send left the parent's receive waiting for
    the rest of the message: the GUI thread froze until the child went on. poll(timeout)
    must come back within its timeout however the child is stopped."""
    import os
    import signal
    import time

    model = build_model(NetworkSpec(hidden=[LayerSpec(1024), LayerSpec(1024)]))
    # A snapshot of ~7 MB of weights after every batch: the pipe (64 kB) nearly always holds
    # part of one when the child is stopped.
    process = tp.TrainingProcess(model, data, TrainConfig(epochs=10_000, batch_size=8),
                                 threads=1, snapshot_interval=1e-9, report_interval=0.0)
    snapshots = []
    process.on_event = lambda event: snapshots.append(event) if isinstance(event, Snapshot) \
        else None
    assert process.start()
    pid = process._process.pid
    try:
        deadline = time.monotonic() + 60
        while process.poll(0.1) and time.monotonic() < deadline and not snapshots:
            pass
        for _ in range(5):  # stop it at five moments of its sending
            os.kill(pid, signal.SIGSTOP)
            time.sleep(0.05)
            returned = threading.Event()
            poller = threading.Thread(target=lambda done=returned: (process.poll(0.2),
                                                                    done.set()), daemon=True)
            poller.start()
            assert returned.wait(5.0), "poll blocked on a half-sent message"
            os.kill(pid, signal.SIGCONT)
            process.poll(0.05)
    finally:
        os.kill(pid, signal.SIGCONT)
        process.stop()
        while process.poll(1.0):
            pass
        process.finish()
