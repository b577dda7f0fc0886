"""A folder of images with one subfolder per class, read into a Dataset.

folder/cat/1.png, folder/dog/a.jpg ...: the class name is the subfolder's name. PNG and JPEG of
any size and mode are cropped to a centred square, resized to image_size x image_size and made
grayscale (or RGB). Files are decoded by a thread pool (Pillow releases the GIL while it
decodes) and the result is cached in the user cache folder, keyed by every file's name, size
and modification time and the settings, so loading the same folder again reads one file.
A file that cannot be read is skipped and reported in the Dataset's notes; only a class left
without any image is an error.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import platformdirs
from mlp_studio.core.data_source import MAX_IMAGE_SIZE
from mlp_studio.core.dataset import Dataset
from mlp_studio.core.errors import DataFormatError, DataNotFoundError, DownloadCancelled
from PIL import Image, ImageOps, UnidentifiedImageError

EXTENSIONS = (".png", ".jpg", ".jpeg")
MAX_PIXELS = 40_000_000  # per image (a 40-megapixel photo); more is refused unread
MAX_BYTES = 2_000_000_000  # the decoded dataset; past that the folder is refused
SIZES = (1, MAX_IMAGE_SIZE)  # image_size bounds: 256x256x3 is already 196,608 inputs
CACHE_FORMAT = 1  # bump when the decoding changes: old cache entries are then never used
CACHE_ENTRIES = 6  # folders kept in the cache; the oldest used is dropped first
CHUNK = 256  # files per batch handed to the pool; cancel is checked between batches
IGNORED_DIRS = ("__MACOSX",)  # archive debris

Cancel = Callable[[], bool]


@dataclass(frozen=True)
class _Listing:
    """The image files found, in order. Plain lists of str, no object per file: listing is
    most of a cached load's time (60,000 Path objects took longer than reading the cache)."""

    paths: list[str]
    labels: np.ndarray  # int64 [N]
    stamps: list[str]  # "label|name|size|mtime_ns" per file: what the cache key is made of


def load_image_folder(
    folder: str | os.PathLike[str],
    *,
    image_size: int = 28,
    color: bool = False,
    cancel: Cancel | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    workers: int | None = None,
) -> Dataset:
    """Read folder's class subfolders into a Dataset (kind "images", no official test split)."""
    folder = Path(folder).expanduser()
    if not SIZES[0] <= image_size <= SIZES[1] or isinstance(image_size, bool):
        raise DataFormatError(
            f"image size must be {SIZES[0]}-{SIZES[1]} pixels, got {image_size!r}"
        )
    _check_folder(folder)
    class_names, files, notes = _scan(folder)
    n = len(files.paths)
    shape = (image_size, image_size, 3) if color else (image_size, image_size)
    if n * math.prod(shape) > MAX_BYTES:
        raise DataFormatError(
            f"{folder.name}: {n:,} images of {'x'.join(map(str, shape))} need "
            f"{n * math.prod(shape) / 1e9:.1f} GB, more than the {MAX_BYTES / 1e9:.0f} GB "
            "allowed: choose a smaller image size or fewer images"
        )
    key = _cache_key(folder, files, image_size, color)
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    cached = _read_cache(cache, key)
    if cached is None:
        x, ok, failures = _decode_all(files.paths, shape, cancel, workers)
        x, y = x[ok], files.labels[ok]
        unread = _unread_note(failures)
        _check_classes(folder, class_names, y, unread)
        notes = notes + ((unread,) if unread else ())
        _write_cache(cache, key, x, y, class_names, notes)
    else:
        x, y, class_names, notes = cached
    return Dataset(
        name=folder.name, kind="images", task="classification", x_train=x, y_train=y,
        x_test=None, y_test=None, class_names=class_names, source=str(folder),
        feature_names=[], notes=notes,
    )  # fmt: skip


def default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("mlp-studio")) / "image-folders"


# ---- finding the files ------------------------------------------------------------------------


def _check_folder(folder: Path) -> None:
    if folder.is_symlink():
        try:
            folder.resolve(strict=True)
        except (OSError, RuntimeError) as e:  # RuntimeError: a symlink loop (Python < 3.13)
            raise DataNotFoundError(
                f"{folder} is a symbolic link that loops or points nowhere ({e}): give the "
                "real folder"
            ) from e
    if not folder.exists():
        raise DataNotFoundError(f"{folder} does not exist")
    if not folder.is_dir():
        raise DataFormatError(
            f"{folder} is not a folder: give a folder with one subfolder of images per class"
        )


def _natural(name: str) -> list[object]:
    """Sort key that puts "2" before "10" (class folders named by number)."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def _entries(folder: Path | str, natural: bool = True) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as it:
            return sorted(it, key=(lambda e: _natural(e.name)) if natural else lambda e: e.name)
    except OSError as e:
        raise DataNotFoundError(f"{folder} cannot be listed ({e.strerror or e})") from e


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()  # follows links; a looping one raises or says False
    except OSError:
        return False


def _scan(folder: Path) -> tuple[list[str], _Listing, tuple[str, ...]]:
    """Class names, the image files with their labels, and notes about what was left out."""
    entries = _entries(folder)
    subfolders = [e for e in entries if not e.name.startswith(".") and e.name not in IGNORED_DIRS
                  and _is_dir(e)]  # fmt: skip
    loose = [e.name for e in entries if e.name.lower().endswith(EXTENSIONS)]
    how = (
        f"put the images of each class in a subfolder named after the class, e.g. "
        f"{folder.name}/cat/1.png and {folder.name}/dog/2.png"
    )
    if not subfolders:
        found = f"; it holds {len(loose)} images directly" if loose else ""
        raise DataFormatError(f"{folder} has no class subfolders{found}: {how}")
    if len(subfolders) == 1:
        raise DataFormatError(
            f"{folder} has one class subfolder ({subfolders[0].name}); a classifier needs at "
            f"least two: {how}"
        )
    paths: list[str] = []
    labels: list[int] = []
    stamps: list[str] = []
    other = empty = 0
    names = []
    for label, sub in enumerate(subfolders):
        names.append(sub.name)
        count = 0
        for e in _entries(sub.path, natural=False):
            name = e.name
            if name.startswith("."):
                continue
            if not name.lower().endswith(EXTENSIONS):
                other += 1
                continue
            try:
                if not e.is_file():  # a folder, a fifo, a device or a dangling link
                    other += 1
                    continue
                st = e.stat()
            except OSError:
                other += 1
                continue
            paths.append(e.path)
            labels.append(label)
            stamps.append(f"{label}|{name}|{st.st_size}|{st.st_mtime_ns}")
            count += 1
        empty += count == 0
    if empty:
        counts = np.bincount(np.array(labels, np.int64), minlength=len(names))
        gone = [names[c] for c in np.flatnonzero(counts == 0)]
        shown = f"{', '.join(gone[:5])}{', ...' if len(gone) > 5 else ''}"
        if len(gone) == len(names):
            raise DataFormatError(
                f"none of the {len(names)} subfolders of {folder} holds PNG or JPEG images: "
                f"is it the right folder? {how[0].upper()}{how[1:]}"
            )
        what = "the class subfolder has" if len(gone) == 1 else f"{len(gone)} class subfolders have"
        raise DataFormatError(
            f"{folder}: {what} no PNG or JPEG images ({shown}): add images or "
            "remove the subfolder"
        )
    notes = []
    if loose:
        notes.append(f"{len(loose)} images directly in {folder.name} (outside any class "
                     "subfolder) were left out")  # fmt: skip
    if other:
        notes.append(f"{other} {'entries' if other > 1 else 'entry'} in the class subfolders "
                     "(not PNG or JPEG files) left out")  # fmt: skip
    return names, _Listing(paths, np.array(labels, np.int64), stamps), tuple(notes)


def _check_classes(folder: Path, names: list[str], y: np.ndarray, unread: str) -> None:
    counts = np.bincount(y, minlength=len(names))
    gone = [names[c] for c in np.flatnonzero(counts == 0)]
    if gone:
        raise DataFormatError(
            f"{folder}: no image of class {', '.join(gone[:5])}{', ...' if len(gone) > 5 else ''}"
            f" could be read ({unread}): replace the broken files"
        )


# ---- decoding ---------------------------------------------------------------------------------


def read_picture(path: str | os.PathLike[str], shape: tuple[int, ...]) -> np.ndarray:
    """One picture prepared as a folder of them is for training: uint8 of `shape` ((H, W) or
    (H, W, 3)); DataFormatError saying why it cannot be read."""
    pixels = _decode(os.fspath(path), shape)
    if isinstance(pixels, str):
        raise DataFormatError(f"{Path(path).name} {pixels}: give a PNG or JPEG picture.")
    return pixels


def _decode(path: str, shape: tuple[int, ...]) -> np.ndarray | str:
    """The image at path as uint8 of `shape`, or why it cannot be read."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                if im.format not in ("PNG", "JPEG", "MPO"):  # MPO: JPEG from some cameras
                    return f"is {im.format or 'not an image'}, not PNG or JPEG"
                w, h = im.size
                if w * h > MAX_PIXELS:
                    return f"is {w}x{h} pixels, more than the {MAX_PIXELS:,} allowed"
                size = shape[0]
                mode = "RGB" if len(shape) == 3 else "L"
                if im.format == "JPEG":
                    im.draft(mode, (size, size))  # decode at a fraction of the size: far faster
                im = _to_mode(im, mode)
                if im.size != (size, size):
                    im = ImageOps.fit(im, (size, size), Image.Resampling.BILINEAR)
                return np.asarray(im, np.uint8)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError,
            Image.DecompressionBombWarning, MemoryError) as e:  # fmt: skip
        return _reason(e)


def _reason(e: BaseException) -> str:
    if isinstance(e, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return "is too large (decompression bomb)"
    if isinstance(e, UnidentifiedImageError):
        return "is not an image"
    return (str(e).split("\n")[0][:80] or type(e).__name__).replace(str(Path.cwd()), ".")


def _to_mode(im: Image.Image, mode: str) -> Image.Image:
    """Any Pillow mode as L or RGB: alpha over white, 16-bit and float scaled to 0-255."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(im, np.float64)
        top = 65535.0 if im.mode.startswith("I;16") else max(float(a.max()), 255.0)
        im = Image.fromarray(np.clip(a * (255.0 / top), 0, 255).astype(np.uint8), "L")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba)
    return im if im.mode == mode else im.convert(mode)


def _decode_all(
    files: list[str], shape: tuple[int, ...], cancel: Cancel | None, workers: int | None
) -> tuple[np.ndarray, np.ndarray, list[tuple[str, str]]]:
    x = np.zeros((len(files), *shape), np.uint8)
    ok = np.zeros(len(files), bool)
    failures: list[tuple[str, str]] = []
    workers = workers or min(8, (os.cpu_count() or 2) + 2)
    with ThreadPoolExecutor(workers, thread_name_prefix="image folder") as pool:
        for start in range(0, len(files), CHUNK):
            if cancel is not None and cancel():
                raise DownloadCancelled("Loading the image folder was cancelled.")
            batch = files[start : start + CHUNK]
            for i, result in enumerate(pool.map(lambda f: _decode(f, shape), batch)):
                if isinstance(result, str):
                    failures.append((batch[i], result))
                else:
                    x[start + i] = result
                    ok[start + i] = True
    return x, ok, failures


def _unread_note(failures: list[tuple[str, str]]) -> str:
    if not failures:
        return ""
    shown = ", ".join(f"{Path(p).parent.name}/{Path(p).name} ({why})" for p, why in failures[:3])
    more = f" and {len(failures) - 3} more" if len(failures) > 3 else ""
    n = len(failures)
    return f"{n} file{'s' if n > 1 else ''} could not be read and {'were' if n > 1 else 'was'} " \
        f"skipped: {shown}{more}"  # fmt: skip


# ---- the cache --------------------------------------------------------------------------------


def _cache_key(folder: Path, files: _Listing, image_size: int, color: bool) -> str:
    h = hashlib.sha256(f"{CACHE_FORMAT}|{folder.resolve()}|{image_size}|{color}".encode())
    h.update("\n".join(files.stamps).encode())
    return h.hexdigest()[:32]


def _read_cache(
    cache: Path, key: str
) -> tuple[np.ndarray, np.ndarray, list[str], tuple[str, ...]] | None:
    path = cache / f"{key}.npz"
    try:
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as npz:
            meta = json.loads(str(npz["meta"]))
            x, y = npz["x"], npz["y"]
        os.utime(path)  # most recently used: pruned last
        return x, y, [str(n) for n in meta["class_names"]], tuple(str(n) for n in meta["notes"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, EOFError):  # a damaged entry: redo it
        path.unlink(missing_ok=True)
        return None


def _write_cache(
    cache: Path, key: str, x: np.ndarray, y: np.ndarray, names: list[str], notes: tuple[str, ...]
) -> None:
    """Best effort: a cache that cannot be written only makes the next load slower."""
    try:
        cache.mkdir(parents=True, exist_ok=True)
        tmp = cache / f"{key}.{os.getpid()}.tmp"
        meta = json.dumps({"class_names": names, "notes": list(notes)})
        with open(tmp, "wb") as f:
            np.savez(f, x=x, y=y, meta=np.array(meta))
        tmp.replace(cache / f"{key}.npz")
        entries = sorted(cache.glob("*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[CACHE_ENTRIES:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass
