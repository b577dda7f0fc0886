"""Getting MNIST: read the IDX files (raw or gzip) or Keras' mnist.npz, or download and verify them.

Where data comes from, in order: an explicit folder, $MLP_STUDIO_DATA, the user cache folder, and
finally a download from public mirrors (or $MLP_STUDIO_MIRRORS) into that cache: resumable,
MD5-verified, bounded in size and time, cancellable (core.download does the fetching).
Every file is validated before anything is allocated, so a corrupt or hostile header fails fast.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

import numpy as np
import platformdirs
from mlp_studio.core.download import (
    DEFAULT_LIMITS,
    Cancel,
    Limits,
    check_cancel,
    fetch,
    remote_size,
)
from mlp_studio.core.errors import DataFormatError, DataNotFoundError

ENV_VAR = "MLP_STUDIO_DATA"
MIRRORS_ENV_VAR = "MLP_STUDIO_MIRRORS"
IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
MAX_IDX_BYTES = 1 << 30  # 20x full MNIST; a larger header is corrupt, refused before reading
CHUNK = 1 << 20

# Keys are MnistArrays fields; values are the published file names (without .gz).
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
NPZ_KEYS = {"train_images": "x_train", "train_labels": "y_train",
            "test_images": "x_test", "test_labels": "y_test"}  # fmt: skip
# MD5 of the decompressed bytes: it holds for every mirror, whatever gzip wrapping it serves.
MNIST_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
# The most a mirror's .gz may weigh: about twice the published file (9.9 MB, 28.9 kB, 1.6 MB,
# 4.5 kB), so any gzip level fits (level 1 makes 11 MB of the training images), and for the
# small label files at least the decompressed size, so even an uncompressed gzip fits.
MNIST_MAX_BYTES = {
    "train-images-idx3-ubyte": 20_000_000,
    "train-labels-idx1-ubyte": 100_000,
    "t10k-images-idx3-ubyte": 4_000_000,
    "t10k-labels-idx1-ubyte": 20_000,
}
# HTTPS only: the original http://yann.lecun.com/exdb/mnist/ refuses scripts (403) most of the time.
DEFAULT_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",  # torchvision's first choice
    "https://storage.googleapis.com/cvdf-datasets/mnist/",  # TensorFlow's
)
HOW_TO_POINT = (
    "Point the app at a folder holding the MNIST files: --data DIR on the command line, "
    f"the {ENV_VAR} environment variable, or the GUI's folder chooser."
)

PathArg = str | os.PathLike[str]
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class MnistArrays:
    train_images: np.ndarray  # uint8 [60000, 28, 28]
    train_labels: np.ndarray  # uint8 [60000]
    test_images: np.ndarray  # uint8 [10000, 28, 28]
    test_labels: np.ndarray  # uint8 [10000]
    source: str  # where it was read from (folder/file), for display


# ---- reading ----------------------------------------------------------------------------------


def read_idx(path: PathArg) -> np.ndarray:
    """One IDX file (gzip if its name ends in .gz) as a uint8 array; DataFormatError if bad."""
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"{path}: no such file")
    gz = path.name.endswith(".gz")
    try:
        with gzip.open(path, "rb") if gz else open(path, "rb") as f:
            return _parse_idx(f, path.name)
    except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError
        what = "a complete gzip file" if gz else "an IDX file"
        raise DataFormatError(f"{path.name}: cannot be read as {what} ({e})") from e


def _parse_idx(f: BinaryIO, name: str) -> np.ndarray:
    head = f.read(4)
    magic = int.from_bytes(head, "big")
    if len(head) < 4 or magic not in (IMAGES_MAGIC, LABELS_MAGIC):
        hint = "; it looks gzip-compressed: give it a .gz name" if head[:2] == b"\x1f\x8b" else ""
        raise DataFormatError(
            f"{name}: magic number is {head.hex() or 'missing'}, expected 00000803 (2051, images) "
            f"or 00000801 (2049, labels){hint}"
        )
    kind = "images" if magic == IMAGES_MAGIC else "labels"
    ndim = head[3]
    raw_dims = f.read(4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise DataFormatError(f"{name}: the header is cut short ({len(head + raw_dims)} bytes)")
    dims = tuple(int(d) for d in np.frombuffer(raw_dims, ">u4"))
    if 0 in dims[1:]:
        raise DataFormatError(f"{name}: header says {kind} of {dims[1:]} pixels; none can be 0")
    item = math.prod(dims[1:])
    declared = dims[0] * item
    if declared > MAX_IDX_BYTES:
        raise DataFormatError(
            f"{name}: header says {dims[0]} {kind} ({declared:,} bytes), far more than any MNIST "
            "file; the file is corrupt"
        )
    body = _read_at_most(f, declared + 1)  # one byte more tells "too long" from "exact"
    if len(body) > declared:
        raise DataFormatError(f"{name}: header says {dims[0]} {kind} but the file holds more data")
    if len(body) < declared:
        raise DataFormatError(
            f"{name}: header says {dims[0]} {kind} but the file holds {len(body) // item}"
            + (f" and {len(body) % item} stray bytes" if len(body) % item else "")
        )
    return np.frombuffer(body, np.uint8).reshape(dims)


def _read_at_most(f: BinaryIO, limit: int) -> bytearray:
    # Chunked on purpose: f.read(limit) would allocate `limit` bytes up front, whatever the file
    # really holds, and a gzip stream is only decompressed as far as it is read.
    buf = bytearray()
    while len(buf) < limit and (chunk := f.read(min(CHUNK, limit - len(buf)))):
        buf += chunk
    return buf


def _checked(arrays: dict[str, np.ndarray], names: dict[str, str], source: str) -> MnistArrays:
    """MnistArrays after checking shapes, dtypes, matching counts and labels 0-9."""
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        image_name, label_name = names[f"{split}_images"], names[f"{split}_labels"]
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
            raise DataFormatError(
                f"{image_name}: holds {images.dtype} data of shape {images.shape}, expected uint8 "
                "images of shape (N, 28, 28)"
            )
        if labels.ndim != 1 or labels.dtype.kind not in "iu":
            raise DataFormatError(
                f"{label_name}: holds {labels.dtype} data of shape {labels.shape}, expected "
                "integer labels of shape (N,)"
            )
        if len(images) != len(labels) or len(images) == 0:
            raise DataFormatError(
                f"{image_name} holds {len(images)} images but {label_name} holds {len(labels)} "
                "labels; they must be equal and not zero"
            )
        bad = np.flatnonzero((labels < 0) | (labels > 9))
        if bad.size:
            raise DataFormatError(
                f"{label_name}: label {labels[bad[0]]} at index {bad[0]} ({bad.size} bad in all); "
                "MNIST labels are 0-9"
            )
    return MnistArrays(
        **{key: a.astype(np.uint8, copy=False) for key, a in arrays.items()}, source=source
    )


def load_npz(path: PathArg) -> MnistArrays:
    """Keras' mnist.npz (x_train, y_train, x_test, y_test), validated like the IDX files."""
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"{path}: no such file")
    with _advice(path.parent):
        return _load_npz(path)


def _load_npz(path: Path) -> MnistArrays:
    try:
        # Our own file handle: np.load leaks its own when the zip directory is corrupt.
        with open(path, "rb") as f:
            # np.load takes anything that is neither zip nor .npy for a pickle, and refuses it
            # with advice to load it "unsafely": say what the file is not, instead.
            if f.read(4)[:2] not in (b"PK", b"\x93N"):
                raise DataFormatError(
                    f"{path.name}: is not an .npz archive (a zip of .npy arrays, as numpy.savez "
                    "writes): choose Keras' mnist.npz or a folder of the four MNIST IDX files")
            f.seek(0)
            npz = np.load(f, allow_pickle=False)
            if not isinstance(npz, np.lib.npyio.NpzFile):
                raise DataFormatError(f"{path.name}: is a single .npy array, not an .npz archive")
            missing = [k for k in NPZ_KEYS.values() if k not in npz.files]
            if missing:
                raise DataFormatError(
                    f"{path.name}: lacks {', '.join(missing)}; Keras' mnist.npz holds "
                    f"{', '.join(NPZ_KEYS.values())} (this one holds {', '.join(npz.files)})"
                )
            for key in NPZ_KEYS.values():
                _check_npy_size(npz, key, path.name)
            arrays = {field: npz[key] for field, key in NPZ_KEYS.items()}
    except (OSError, EOFError, ValueError, KeyError, zlib.error, zipfile.BadZipFile) as e:
        raise DataFormatError(f"{path.name}: cannot be read as an .npz archive ({e})") from e
    names = {field: f"{path.name}[{key}]" for field, key in NPZ_KEYS.items()}
    return _checked(arrays, names, str(path))


def _check_npy_size(npz: np.lib.npyio.NpzFile, key: str, name: str) -> None:
    # np.load allocates whatever shape a member's header declares before reading its data.
    with npz.zip.open(f"{key}.npy") as f:
        version = np.lib.format.read_magic(f)
        read_header = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, _, dtype = read_header(f)
    if math.prod(shape) * dtype.itemsize > MAX_IDX_BYTES:
        raise DataFormatError(f"{name}: {key} declares shape {shape}, far more than MNIST")


@contextmanager
def _advice(folder: Path) -> Iterator[None]:
    """Add what to do to a DataFormatError raised while reading from folder."""
    try:
        yield
    except DataFormatError as e:
        raise DataFormatError(
            f"{e}.\nReplace the file in {folder} with an intact copy (any MNIST mirror has "
            "them), or point the app at another folder."
        ) from e


def find_file(folder: Path, stem: str) -> Path | None:
    """stem's file in folder: raw or .gz, published or dotted name (train-images.idx3-ubyte)."""
    dotted = stem.replace("-idx", ".idx")
    candidates = (stem, f"{stem}.gz", dotted, f"{dotted}.gz")
    return next((folder / n for n in candidates if (folder / n).is_file()), None)


def holds_mnist(folder: Path) -> bool:
    found = all(find_file(folder, stem) for stem in FILES.values())
    return found or (folder / "mnist.npz").is_file()


def load_folder(folder: PathArg) -> MnistArrays:
    """The four IDX files (raw or gz) in folder, else its mnist.npz (folder may be that file)."""
    folder = Path(folder).expanduser()
    if folder.is_file() and folder.suffix == ".npz":
        return load_npz(folder)
    if not folder.is_dir():
        raise DataNotFoundError(f"MNIST folder {folder} does not exist. {HOW_TO_POINT}")
    paths = {field: find_file(folder, stem) for field, stem in FILES.items()}
    if all(paths.values()):
        with _advice(folder):
            arrays = {field: read_idx(p) for field, p in paths.items() if p}
            return _checked(arrays, {f: p.name for f, p in paths.items() if p}, str(folder))
    if (folder / "mnist.npz").is_file():
        return load_npz(folder / "mnist.npz")
    missing = [stem for field, stem in FILES.items() if paths[field] is None]
    raise DataNotFoundError(
        f"No MNIST in {folder}: expected {', '.join(f'{s}(.gz)' for s in FILES.values())} "
        f"or mnist.npz; missing {', '.join(missing)}. {HOW_TO_POINT}"
    )


# ---- where the data lives ---------------------------------------------------------------------


def default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("mlp-studio")) / "mnist"


def resolve_data_dir(
    explicit: PathArg | None = None, *, cache_dir: PathArg | None = None
) -> Path | None:
    """The explicit folder, else $MLP_STUDIO_DATA, else the cache if it holds MNIST; None: download.

    A folder the user named is returned even if empty, so a typo reports an error rather than
    silently downloading elsewhere.
    """
    chosen = explicit or os.environ.get(ENV_VAR)
    if chosen:
        return Path(chosen).expanduser()
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    return cache if holds_mnist(cache) else None


def load_mnist(
    data_dir: PathArg | None = None,
    *,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
    cache_dir: PathArg | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> MnistArrays:
    folder = resolve_data_dir(data_dir, cache_dir=cache_dir)
    if folder is not None:
        return load_folder(folder)
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    if not download:
        raise DataNotFoundError(f"MNIST is not in {cache} and downloading is off. {HOW_TO_POINT}")
    return load_folder(download_mnist(cache, mirrors, progress, cancel))


# ---- downloading ------------------------------------------------------------------------------


def configured_mirrors(
    environ: Mapping[str, str] = os.environ,
    var: str = MIRRORS_ENV_VAR,
    defaults: tuple[str, ...] = DEFAULT_MIRRORS,
) -> tuple[str, ...]:
    """The mirrors in $`var` (base URLs separated by spaces or commas), else the defaults.
    DataNotFoundError names a value that is not an http(s) address."""
    text = environ.get(var, "").strip()
    if not text:
        return defaults
    urls = [u if u.endswith("/") else f"{u}/" for u in re.split(r"[\s,]+", text) if u]
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise DataNotFoundError(
                f"{var} holds '{url}', which is not an http:// or https:// address. "
                "Give the base URLs of mirrors separated by spaces or commas, e.g. "
                f"{defaults[0]}, or unset it to use the default mirrors."
            )
    return tuple(urls)


def download_mnist(
    dest: PathArg,
    mirrors: Sequence[str] | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    limits: Limits = DEFAULT_LIMITS,
    *,
    checksums: Mapping[str, str] = MNIST_MD5,
    max_bytes: Mapping[str, int] = MNIST_MAX_BYTES,
    name: str = "MNIST",
    compressed_md5: bool = False,
    advice: str = HOW_TO_POINT,
) -> Path:
    """Download the files named in `checksums` (as .gz) into dest, trying mirrors in order.

    mirrors: None means configured_mirrors(). progress(bytes_done, bytes_total) covers all files
    still missing at the mirror in use (sizes from HEAD requests). A mirror whose file is larger
    than max_bytes[stem], or slower than `limits` allow, is given up on for the next one; cancel()
    is polled at least every download.POLL seconds. A dropped or timed-out transfer keeps
    `<name>.gz.part` so the next call resumes with an HTTP Range request; a file whose
    decompressed MD5 (of the .gz itself when compressed_md5: what Fashion-MNIST and KMNIST
    publish) differs is deleted, never cached.
    """
    mirrors = configured_mirrors() if mirrors is None else mirrors
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    tried: list[str] = []
    for base in mirrors:
        todo = [stem for stem in checksums if find_file(dest, stem) is None]
        if not todo:
            break
        url = base
        try:
            sizes = {}
            for stem in todo:
                url = f"{base}{stem}.gz"
                sizes[stem] = remote_size(url, max_bytes[stem], limits, cancel)
            total, done = sum(sizes.values()), 0
            for stem in todo:
                url = f"{base}{stem}.gz"
                part = dest / f"{stem}.gz.part"
                bytes_on_disk = fetch(url, part, sizes[stem], max_bytes[stem], limits, cancel)
                with closing(bytes_on_disk):
                    for have in bytes_on_disk:
                        check_cancel(cancel)
                        if progress:
                            progress(done + have, total)
                _verify(part, checksums[stem], compressed_md5)
                part.replace(dest / f"{stem}.gz")
                done += sizes[stem]
        except (OSError, HTTPException, ValueError, DataFormatError) as e:  # URLError is OSError
            tried.append(f"  {url}: {e}")
    missing = [f"{stem}.gz" for stem in checksums if find_file(dest, stem) is None]
    if missing:
        raise DataNotFoundError(
            f"Could not download {name} ({', '.join(missing)}) into {dest}. Tried:\n"
            + ("\n".join(tried) or "  no mirrors")
            + f"\nDownload the files yourself from any {name} mirror. {advice}"
        )
    return dest


def _verify(part: Path, expected_md5: str, compressed: bool = False) -> None:
    """Check the decompressed (or compressed) MD5 of a downloaded .gz; delete it when wrong."""
    digest, size = hashlib.md5(usedforsecurity=False), 0
    try:
        with open(part, "rb") if compressed else gzip.open(part, "rb") as f:
            while size <= MAX_IDX_BYTES and (chunk := f.read(CHUNK)):  # cap: no gzip bomb
                digest.update(chunk)
                size += len(chunk)
        actual = digest.hexdigest()
    except (OSError, EOFError, zlib.error) as e:
        actual = f"unreadable ({e})"
    if actual != expected_md5:
        part.unlink()
        raise DataFormatError(
            f"the downloaded file is corrupt (MD5 of its {'file' if compressed else 'content'} "
            f"{actual}, expected {expected_md5}); deleted it"
        )
