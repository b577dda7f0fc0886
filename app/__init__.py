"""MLP Studio's Qt GUI: a client of the engine in `core`."""

import sys

if sys.version_info < (3, 12):
    # PySide6 6.12's abi3 wheels hand back None from void methods without taking a reference
    # (harmless on Python >= 3.12, where None is immortal). On 3.11 every QWidget.update(),
    # setPos(), ... drops one reference to None, and after a few thousand calls Python aborts
    # with "none_dealloc: deallocating None". Give None (and, to be safe, the bools) enough
    # references for 2**40 such calls: what 3.12's immortal objects do.
    import ctypes

    for _singleton in (None, True, False):
        ctypes.c_ssize_t.from_address(id(_singleton)).value += 1 << 40
