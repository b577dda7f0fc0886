"""MLP Studio's Qt GUI: a client of the engine in `core`."""
