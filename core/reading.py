"""Reading files that anybody could have written, in bounded time and memory.

- `read_regular` refuses what is not a regular file before reading it: a FIFO would block the
  reader (the GUI thread) until somebody writes to it, and /dev/zero never ends. It then reads
  at most `max_bytes`.
- `loads_json` refuses JSON nested deeper than `max_depth` before parsing it: the standard
  parser recurses once per level and raises RecursionError on `[[[[...` 100,000 deep.
"""

import errno
import json
import os
import re
import stat
import sys
from pathlib import Path

from mlp_studio.core.errors import DataFormatError

MAX_JSON_DEPTH = 64  # MLP Studio's own descriptions nest 5 levels deep

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


def read_regular(path: str | Path, max_bytes: int, kind: str = "file") -> bytes:
    """The bytes of a regular file of at most `max_bytes`; DataFormatError otherwise.

    `kind` names what was expected in the message ("CSV file", "picture"). A missing file
    raises FileNotFoundError; other read errors raise OSError, as open() would.
    """
    path = Path(path)
    # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
        if not stat.S_ISREG(mode):
            raise DataFormatError(
                f"{path} is not a regular file (it is a {_file_type(mode)}): choose a {kind} "
                "saved on disk.")
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise DataFormatError(
            f"{path} is larger than {max_bytes / 1e6:,.0f} MB: that is too large for a {kind} "
            "here, use a smaller file.")
    return data


def special_file(path: str | Path) -> str | None:
    """What `path` is when it exists but is neither a regular file nor a folder ("named pipe",
    "device", ...); None otherwise. Callers that check `is_file()` use it to say why."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return _file_type(mode)


def _file_type(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"


def json_depth(text: str | bytes) -> int:
    """How deeply the arrays and objects of a JSON text nest (0 for a plain value).

    Brackets inside strings do not count. Malformed text gives some number; json.loads then
    reports what is wrong with it.
    """
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", errors="replace")
    depth = deepest = 0
    for match in _BRACKETS.finditer(_STRINGS.sub("", text)):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def loads_json(text: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> object:
    """json.loads, but JSON nested deeper than `max_depth` raises json.JSONDecodeError (so
    callers that already report malformed JSON report this too) instead of RecursionError, and
    so does an integer too long to convert (ValueError)."""
    depth = json_depth(text)
    if depth > max_depth:
        doc = text if isinstance(text, str) else ""
        raise json.JSONDecodeError(
            f"nested {depth} levels deep, more than the {max_depth} allowed", doc, 0)
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except ValueError as err:  # an integer of more than 4,300 digits (sys.int_info)
        raise json.JSONDecodeError(
            f"a number has more than {sys.get_int_max_str_digits():,} digits", "", 0) from err


def existing_file(path: str | Path, error: type[Exception], choose: str) -> Path:
    """`path` as a Path, or `error` saying why it cannot be opened: a folder, a FIFO or device
    (which would block a reader, or never end), or nothing there. `choose` names what to pick
    instead ("a model file")."""
    path = Path(path)
    if path.is_dir():
        raise error(f"Cannot open {path}: it is a folder. Choose {choose}.")
    if not path.is_file():
        kind = special_file(path)
        if kind is not None:
            raise error(f"Cannot open {path}: it is a {kind}, not a file saved on disk.")
        raise error(f"Cannot open {path}: the file does not exist.")
    return path
