"""The Lessons dock: the lecture as guided experiments (core.lessons), with progress."""
