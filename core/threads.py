"""How training's OpenMP threads wait for work: chosen before torch starts its runtime.

torch's CPU build runs its thread team on GNU OpenMP, whose idle threads spin-wait between
parallel regions by default. When another process keeps a core busy, the spinning thread takes
the CPU time its partner needs: training slowed up to 35-fold (bench/bench_busy.py). With
OMP_WAIT_POLICY=PASSIVE idle threads sleep instead. libgomp reads the setting once, when torch
loads it, and torch has no call to change it later, so the entry points (app.main: the GUI and
the CLI) call `use_passive_wait()` before anything imports torch; the training processes inherit
it from the fork server started after it.
"""

import os
import sys
from collections.abc import MutableMapping

WAIT_POLICY = "PASSIVE"


def use_passive_wait(environ: MutableMapping[str, str] | None = None) -> bool:
    """Make OpenMP threads started from now on (this process's, if torch is not loaded yet,
    and its children's) sleep when idle, unless the user chose a policy in OMP_WAIT_POLICY.
    False when it comes too late for this process: torch is already imported."""
    environ = os.environ if environ is None else environ
    environ.setdefault("OMP_WAIT_POLICY", WAIT_POLICY)
    return "torch" not in sys.modules


THREADS_VARIABLE = "MLP_STUDIO_THREADS"


def training_threads(requested: int | None = None,
                     environ: MutableMapping[str, str] | None = None) -> int:
    """Intra-op threads for a training process (the CLI's, the app's child; sweep workers
    take one each): `requested` (--threads), else MLP_STUDIO_THREADS, else one.

    Why one: with PASSIVE wait a second thread sleeps between operations, and waking it for
    each of an MLP's small ones costs about what the second core gives. Measured on 2 quiet
    cores (bench/bench_gui_throughput.py, load average 0.4-1.0): 784-128-10 with Adam trained
    at 99.7k samples/s on one thread and 62.8k on two; 784-512-512-10 at 19.1k and 19.4k.
    In the app a second training thread also competes with the GUI thread: GUI-driven
    training reached 96% and 99% of headless with one thread, 105% and 78% with two. With
    another process busy on one core, one thread still has a core to itself. On a crowded
    machine (load average 11-13) two threads took a larger share of it from the other
    processes (12.5k against 5.1k samples/s in the app): a share, not efficiency; --threads or
    MLP_STUDIO_THREADS ask for more.
    """
    if requested is not None:
        return max(1, requested)
    environ = os.environ if environ is None else environ
    value = environ.get(THREADS_VARIABLE, "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    return 1
