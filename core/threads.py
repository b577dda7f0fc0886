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
