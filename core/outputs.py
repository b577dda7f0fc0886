"""Files MLP Studio writes: checked before the work that produces them, then written atomically.

A training run can take an hour; a wrong output path must fail in the first second, not after
the run. `plan_output` checks one path (empty, folder, missing or unwritable folder, suffix)
and says where its bytes will go: a symlink is followed so the link itself stays a link, and
standard output, a terminal, a pipe or /dev/stdout are written through, never replaced by a
regular file. `check_distinct` refuses outputs that would overwrite an input or each other.

`atomic_write` writes beside the target, fsyncs and renames: readers see the old file or the
complete new one, never a mix. `atomic_write_all` does that for files that belong together (a
safetensors export and its JSON description): all of them are written, or none is.
"""

import contextlib
import errno
import glob
import os
import stat
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlp_studio.core.errors import OutputError

STDOUT = "-"


@dataclass(frozen=True)
class Target:
    """Where an output goes. `path` is the file really written (a symlink's target)."""

    given: str  # as the user typed it, for messages
    path: Path | None  # None: standard output
    stream: bool = False  # standard output, a terminal or a pipe: written through, not replaced


def plan_output(
    text: str | os.PathLike, what: str, suffixes: Sequence[str] = (), allow_stdout: bool = False
) -> Target:
    """Check that `text` can be written as `what` ("--export", "the session"); OutputError if not.

    Nothing is written except a short-lived probe file in the folder, which is the only way to
    know that a folder accepts new files (permissions, read-only disks, root's exceptions).
    """
    given = os.fspath(text)
    if not given.strip():
        dash = " (or - for standard output)" if allow_stdout else ""
        raise OutputError(f"{what} is empty: give a file name{dash}.")
    if given == STDOUT:
        if not allow_stdout:
            raise OutputError(f"{what} cannot go to standard output: give a file name.")
        return Target(given, None, stream=True)
    path = Path(given).expanduser()
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        mode = None
    except (OSError, ValueError) as err:  # ValueError: a NUL character in the name
        reason = getattr(err, "strerror", None) or err
        message = f"Cannot write {given!r} ({what}): {reason}. Choose another name."
        raise OutputError(message) from None
    if mode is not None and stat.S_ISDIR(mode):
        raise OutputError(f"Cannot write {given} ({what}): it is a folder. Choose a file name.")
    if mode is not None and not stat.S_ISREG(mode):
        # /dev/stdout, a terminal, a FIFO: replacing them would break the caller's redirection.
        if not allow_stdout:
            raise OutputError(
                f"Cannot write {given} ({what}): it is not a regular file. Choose a file name."
            )
        return Target(given, path, stream=True)  # /dev/stdout resolves to "pipe:[...]"
    if suffixes and path.suffix.lower() not in suffixes:
        raise OutputError(
            f"Cannot write {given} ({what}): use a name ending in {_either(suffixes)}."
        )
    real = Path(os.path.realpath(path))  # a symlink keeps its link: write its target
    check_folder(real)
    return Target(given, real)


def check_folder(path: Path) -> None:
    """OutputError unless the folder of `path` exists and accepts new files."""
    folder = path.parent
    if not folder.is_dir():
        raise OutputError(
            f"Cannot write {path}: the folder {folder} does not exist. Choose another location."
        )
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=folder)
    except OSError as err:
        raise write_error(path, err) from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)


def check_distinct(
    outputs: Sequence[tuple[str, Target]],
    input_files: Sequence[tuple[str, Path]] = (),
    input_folders: Sequence[tuple[str, Path]] = (),
) -> None:
    """Refuse outputs that would overwrite one another, a file the run reads, or anything in
    a folder it reads. Each item is (what it is, for messages, e.g. "--metrics-json", and the
    path)."""
    inputs = {_identity(Target(str(p), Path(os.path.realpath(p)))): (name, p)
              for name, p in input_files}  # fmt: skip
    seen: dict[Any, str] = {}
    for what, target in outputs:
        if target.stream and target.path is not None:
            continue  # a terminal or a pipe takes several outputs in turn
        key = _identity(target)
        if key in seen:
            raise OutputError(
                f"{what} and {seen[key]} both write {target.given}: give each its own file."
            )
        seen[key] = what
        if target.path is None:
            continue
        if key in inputs:
            name, source = inputs[key]
            raise OutputError(
                f"{what} {target.given} would overwrite {name} ({source}): choose another name."
            )
        for name, folder in input_folders:
            real = Path(os.path.realpath(folder))
            if real in target.path.parents:
                raise OutputError(
                    f"{what} {target.given} is inside {name} ({folder}), which MLP Studio reads "
                    "from: write it somewhere else."
                )


def _identity(target: Target) -> Any:
    """The same for two paths of one file: its device and inode when it exists (hard links),
    else its resolved path."""
    if target.path is None:
        return "<stdout>"
    try:
        info = target.path.stat()
    except OSError:
        return os.path.normcase(str(target.path))
    return (info.st_dev, info.st_ino)


def _either(suffixes: Sequence[str]) -> str:
    return " or ".join(", ".join(suffixes).rsplit(", ", 1))


def recovery_folder() -> Path:
    """Where a finished run goes when its outputs cannot be written (see core.cli)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("mlp-studio")) / "recovered"


# ---------------------------------------------------------------- writing


def write_output(target: Target, data: bytes) -> None:
    """Bytes to a planned output: streams are written through, files atomically."""
    if target.path is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    elif target.stream:
        try:
            with open(target.path, "ab") as f:  # append: never truncates what is redirected
                f.write(data)
        except OSError as err:
            raise write_error(target.path, err) from None
    else:
        atomic_write(target.path, data)


def atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, fsync, then rename over it.

    Readers see either the old file or the complete new one; on any failure the temporary
    file is removed and the old file is left untouched. A symlink stays a link: its target
    is replaced.
    """
    atomic_write_all([(path, data)])


def atomic_write_all(files: Sequence[tuple[Path, bytes]]) -> None:
    """Write several files that belong together: all of them, or none (old ones kept)."""
    targets = [(Path(os.path.realpath(Path(path))), data) for path, data in files]
    for path, _ in targets:
        _check_target(path)
    temps: list[str] = []
    current = targets[0][0]
    try:
        for current, data in targets:
            temps.append(_temp_copy(current, data))
        current = targets[-1][0]
        _replace_all([path for path, _ in targets], temps)
    except BaseException as err:
        for tmp in temps:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(err, OSError):
            raise write_error(current, err) from None
        raise
    for folder in {path.parent for path, _ in targets}:
        _fsync_folder(folder)
    for path, _ in targets:
        _remove_stale_temps(path)


STALE_SECONDS = 3600  # a temporary file this old belongs to a write that was killed


def _remove_stale_temps(path: Path) -> None:
    """Delete the temporary files a killed write of `path` left behind (SIGKILL, power loss);
    younger ones may belong to a write still under way."""
    limit = time.time() - STALE_SECONDS
    for temp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        with contextlib.suppress(OSError):
            if temp.stat().st_mtime < limit:
                temp.unlink()


def _temp_copy(path: Path, data: bytes) -> str:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            if hasattr(os, "fchmod"):  # mkstemp makes it 0600; an output is a normal file
                os.fchmod(f.fileno(), 0o644)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def _replace_all(paths: list[Path], temps: list[str]) -> None:
    """Rename each temporary file over its path; if one rename fails, the earlier ones are
    undone from hard-linked backups, so the set stays as it was."""
    backups: list[tuple[Path, str | None]] = []
    try:
        for path, tmp in zip(paths, temps, strict=True):
            backup = None
            if len(paths) > 1 and path.exists():
                backup = f"{tmp}.old"
                os.link(path, backup)
            backups.append((path, backup))
            os.replace(tmp, path)
    except BaseException:
        for path, backup in backups[:-1]:
            with contextlib.suppress(OSError):
                if backup is None:
                    os.unlink(path)
                else:
                    os.replace(backup, path)
        if backups and backups[-1][1] is not None:
            with contextlib.suppress(OSError):
                os.unlink(backups[-1][1])
        raise
    for _, backup in backups:
        if backup is not None:
            with contextlib.suppress(OSError):
                os.unlink(backup)


def _check_target(path: Path) -> None:
    """Fail early, with a clear message, on paths that can never be written."""
    if path.is_dir():
        raise OutputError(f"Cannot write {path}: it is a folder. Choose a file name.")
    if not path.parent.is_dir():
        raise OutputError(
            f"Cannot write {path}: the folder {path.parent} does not exist. "
            "Choose another location."
        )


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable where the OS allows it (not on Windows)."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_error(path: Path, err: OSError) -> OutputError:
    """The OSError of writing `path`, as a sentence that says what to do."""
    reasons = {
        errno.ENOSPC: "the disk is full. Free some space or choose another location.",
        errno.EDQUOT: "the disk quota is exceeded. Free some space or choose another location.",
        errno.EACCES: f"permission denied in the folder {path.parent}. Choose another location.",
        errno.EPERM: f"permission denied in the folder {path.parent}. Choose another location.",
        errno.EROFS: f"the folder {path.parent} is read-only. Choose another location.",
        errno.ENOENT: f"the folder {path.parent} does not exist. Choose another location.",
        errno.EISDIR: "it is a folder. Choose a file name.",
    }
    reason = reasons.get(err.errno, f"{err.strerror or err}. Choose another location.")
    return OutputError(f"Cannot write {path}: {reason}")
