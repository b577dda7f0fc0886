import gzip
import io
import shutil
import socket
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from idx_fixtures import (
    NAMES,
    checksums_of,
    idx_bytes,
    mnist_like,
    write_bytes,
    write_idx_images,
    write_idx_labels,
    write_mnist_folder,
)
from mirror_server import MirrorServer
from mlp_studio.core.errors import DataFormatError, DataNotFoundError, DownloadCancelled
from mlp_studio.core.mnist import (
    ENV_VAR,
    MNIST_MD5,
    download_mnist,
    load_folder,
    load_mnist,
    load_npz,
    read_idx,
    resolve_data_dir,
)

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
LABELS = "t10k-labels-idx1-ubyte"


def peak_bytes(fn) -> tuple[int, Exception | None]:
    """Peak traced allocation while fn() runs, and the exception it raised."""
    tracemalloc.start()
    error = None
    try:
        fn()
    except Exception as e:
        error = e
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, error


def flip_content_byte(src: Path, dst: Path, offset: int = 100) -> None:
    """dst: src's gz with one decompressed byte changed, re-gzipped (valid gzip, wrong MD5)."""
    data = bytearray(gzip.decompress(src.read_bytes()))
    data[offset] ^= 0x01
    dst.write_bytes(gzip.compress(bytes(data), compresslevel=1))


# ---- reading IDX -----------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, gz):
    images, labels = mnist_like(30)
    image_path = write_idx_images(tmp_path / "imgs", images, gz)
    label_path = write_idx_labels(tmp_path / "labs", labels, gz)
    assert image_path.name.endswith(".gz") == gz
    got_images, got_labels = read_idx(image_path), read_idx(label_path)
    assert got_images.dtype == np.uint8 and got_images.shape == (30, 28, 28)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)


@pytest.mark.parametrize("gz", [False, True])
def test_load_folder_reads_the_four_published_names(tmp_path, gz):
    write_mnist_folder(tmp_path, n_train=50, n_test=20, gz=gz, seed=3)
    data = load_folder(tmp_path)
    assert data.train_images.shape == (50, 28, 28) and data.test_images.shape == (20, 28, 28)
    assert data.train_labels.dtype == np.uint8 and data.test_images.dtype == np.uint8
    np.testing.assert_array_equal(data.train_labels, mnist_like(50, 3)[1])
    assert data.source == str(tmp_path)


def test_load_folder_accepts_dotted_names(tmp_path):
    write_mnist_folder(tmp_path / "src", n_train=20, n_test=10)
    for gz in (tmp_path / "src").iterdir():
        (tmp_path / gz.name.replace("-idx", ".idx")).write_bytes(gz.read_bytes())
    assert (tmp_path / "train-images.idx3-ubyte.gz").exists()
    data = load_folder(tmp_path)
    np.testing.assert_array_equal(data.test_labels, mnist_like(10, 1)[1])


def save_npz(path: Path, **arrays) -> Path:
    np.savez_compressed(path, **arrays)
    return path


def npz_arrays(n_train=40, n_test=10) -> dict[str, np.ndarray]:
    (x_train, y_train), (x_test, y_test) = mnist_like(n_train), mnist_like(n_test, 1)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def test_npz_round_trip_directly_and_through_a_folder(tmp_path):
    arrays = npz_arrays()
    path = save_npz(tmp_path / "mnist.npz", **arrays)
    for data in (load_npz(path), load_folder(tmp_path), load_folder(path)):
        np.testing.assert_array_equal(data.train_images, arrays["x_train"])
        np.testing.assert_array_equal(data.test_labels, arrays["y_test"])
        assert data.train_labels.dtype == np.uint8 and data.source == str(path)


def test_npz_with_int64_labels_is_accepted_as_uint8(tmp_path):
    arrays = npz_arrays()
    arrays["y_train"] = arrays["y_train"].astype(np.int64)
    data = load_npz(save_npz(tmp_path / "mnist.npz", **arrays))
    assert data.train_labels.dtype == np.uint8


# ---- bad IDX files ---------------------------------------------------------------------------


def test_wrong_magic_names_the_file(tmp_path):
    path = write_bytes(tmp_path / LABELS, idx_bytes(np.zeros(5), magic=2050))
    with pytest.raises(DataFormatError, match=f"{LABELS}: magic number is 00000802"):
        read_idx(path)


def test_gzip_content_without_gz_name_gets_a_hint(tmp_path):
    path = tmp_path / LABELS
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(5))))
    with pytest.raises(DataFormatError, match="looks gzip-compressed"):
        read_idx(path)


@pytest.mark.parametrize("data", [b"", b"\x00\x00\x08", b"\x00\x00\x08\x03\x00\x00"])
def test_empty_or_cut_header(tmp_path, data):
    with pytest.raises(DataFormatError, match="imgs"):
        read_idx(write_bytes(tmp_path / "imgs", data))


def test_zero_sized_images_are_refused(tmp_path):
    path = write_bytes(tmp_path / "imgs", idx_bytes(np.zeros((0, 28, 28)), dims=(5, 0, 28)))
    with pytest.raises(DataFormatError, match=r"imgs: header says images of \(0, 28\) pixels"):
        read_idx(path)


def test_images_that_are_not_28x28_are_refused_by_load_folder(tmp_path):
    write_mnist_folder(tmp_path, n_train=20, n_test=10)
    write_idx_images(tmp_path / NAMES["test_images"], np.zeros((10, 27, 27)), gz=True)
    with pytest.raises(DataFormatError, match=r"t10k-images-idx3-ubyte.gz: .*\(10, 27, 27\)"):
        load_folder(tmp_path)


@pytest.mark.parametrize("gz", [False, True])
def test_header_count_larger_than_data_gives_both_numbers(tmp_path, gz):
    data = idx_bytes(np.zeros(90), dims=(100,))
    path = write_bytes(tmp_path / "train-labels-idx1-ubyte", data, gz)
    with pytest.raises(DataFormatError) as err:
        read_idx(path)
    assert str(err.value) == f"{path.name}: header says 100 labels but the file holds 90"


def test_partial_image_is_reported(tmp_path):
    data = idx_bytes(np.zeros((3, 28, 28)), dims=(4, 28, 28))[:-10]
    with pytest.raises(DataFormatError, match="says 4 images but the file holds 2 and 774 stray"):
        read_idx(write_bytes(tmp_path / "imgs", data))


def test_data_beyond_the_header_count_is_refused(tmp_path):
    path = write_bytes(tmp_path / "labs", idx_bytes(np.zeros(100), dims=(90,)))
    with pytest.raises(DataFormatError, match="says 90 labels but the file holds more data"):
        read_idx(path)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("count", [1_000_000_000, 1_000_000])
def test_huge_header_fails_without_allocating(tmp_path, gz, count):
    # 1e9 images is refused from the header alone; 1e6 (784 MB) is plausible, so the reader
    # must discover the shortfall while reading, still without allocating the declared size.
    data = idx_bytes(np.zeros((3, 28, 28)), dims=(count, 28, 28))
    path = write_bytes(tmp_path / "train-images-idx3-ubyte", data, gz)
    peak, error = peak_bytes(lambda: read_idx(path))
    assert isinstance(error, DataFormatError) and f"header says {count} images" in str(error)
    assert peak < 4_000_000


@pytest.mark.parametrize(
    ("dims", "message"),
    [((10,), "says 10 labels but the file holds more data"),  # decompress only what is declared
     ((10_000_000, 28, 28), "far more than any MNIST file")],  # refused from the header alone
)  # fmt: skip
def test_gzip_bomb_is_not_decompressed(tmp_path, dims, message):
    bomb = idx_bytes(np.zeros(0), magic=2049 if len(dims) == 1 else 2051, dims=dims)
    path = write_bytes(tmp_path / "bomb", bomb + bytes(64 << 20), gz=True)  # + 64 MB of zeros
    assert path.stat().st_size < 1 << 20
    peak, error = peak_bytes(lambda: read_idx(path))
    assert isinstance(error, DataFormatError) and message in str(error)
    assert peak < 4_000_000


def test_truncated_gz_is_a_format_error(tmp_path):
    images, _ = mnist_like(50)
    path = write_idx_images(tmp_path / "train-images-idx3-ubyte", images, gz=True)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataFormatError, match="train-images-idx3-ubyte.gz: cannot be read as a"):
        read_idx(path)


def test_corrupt_gz_crc_is_a_format_error(tmp_path):
    path = write_idx_labels(tmp_path / "labels", np.arange(10, dtype=np.uint8), gz=True)
    data = bytearray(path.read_bytes())
    data[-8] ^= 0xFF  # the CRC32 in the gzip trailer
    path.write_bytes(bytes(data))
    with pytest.raises(DataFormatError, match="labels.gz: cannot be read"):
        read_idx(path)


def test_garbage_gz_is_a_format_error(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(idx_bytes(np.zeros(10)))  # raw IDX under a .gz name
    with pytest.raises(DataFormatError, match="t10k-labels-idx1-ubyte.gz: cannot be read"):
        read_idx(path)


def test_missing_file_is_not_found(tmp_path):
    with pytest.raises(DataNotFoundError, match="no such file"):
        read_idx(tmp_path / "nothing.gz")


def test_image_and_label_counts_must_match(tmp_path):
    write_mnist_folder(tmp_path, n_train=30, n_test=10)
    write_idx_labels(tmp_path / NAMES["train_labels"], np.zeros(29, np.uint8), gz=True)
    with pytest.raises(DataFormatError, match="holds 30 images but .* holds 29 labels") as err:
        load_folder(tmp_path)
    assert f"Replace the file in {tmp_path} with an intact copy" in str(err.value)


def test_label_out_of_range(tmp_path):
    write_mnist_folder(tmp_path, n_train=30, n_test=10)
    labels = mnist_like(10, 1)[1]
    labels[4] = 11
    write_idx_labels(tmp_path / NAMES["test_labels"], labels, gz=True)
    with pytest.raises(DataFormatError, match="t10k-labels-idx1-ubyte.gz: label 11 at index 4"):
        load_folder(tmp_path)


def test_folder_without_mnist_says_what_was_expected_and_how_to_point(tmp_path):
    with pytest.raises(DataNotFoundError) as err:
        load_folder(tmp_path)
    message = str(err.value)
    for expected in [*NAMES.values(), "mnist.npz", "--data", ENV_VAR, "folder chooser"]:
        assert expected in message


def test_partial_folder_lists_what_is_missing(tmp_path):
    write_mnist_folder(tmp_path, n_train=20, n_test=10)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataNotFoundError, match="missing t10k-labels-idx1-ubyte. Point"):
        load_folder(tmp_path)


def test_nonexistent_folder(tmp_path):
    with pytest.raises(DataNotFoundError, match="does not exist"):
        load_folder(tmp_path / "nope")


# ---- bad npz files ---------------------------------------------------------------------------


def test_npz_with_wrong_keys(tmp_path):
    arrays = npz_arrays()
    arrays["images"] = arrays.pop("x_train")
    path = save_npz(tmp_path / "mnist.npz", **arrays)
    with pytest.raises(DataFormatError, match="mnist.npz: lacks x_train; Keras' mnist.npz holds"):
        load_npz(path)


def test_npz_with_float_images(tmp_path):
    arrays = npz_arrays()
    arrays["x_test"] = arrays["x_test"].astype(np.float32)
    with pytest.raises(DataFormatError, match=r"mnist.npz\[x_test\]: holds float32"):
        load_npz(save_npz(tmp_path / "mnist.npz", **arrays))


def test_npz_label_out_of_range_and_count_mismatch(tmp_path):
    arrays = npz_arrays()
    arrays["y_train"][7] = 10
    with pytest.raises(DataFormatError, match=r"a.npz\[y_train\]: label 10 at index 7"):
        load_npz(save_npz(tmp_path / "a.npz", **arrays))
    arrays = npz_arrays()
    arrays["y_test"] = arrays["y_test"][:-1]
    with pytest.raises(DataFormatError, match="holds 10 images but .* holds 9 labels"):
        load_npz(save_npz(tmp_path / "b.npz", **arrays))


def test_npz_with_pickled_objects_is_refused(tmp_path):
    arrays = npz_arrays()
    arrays["y_test"] = np.array([{"evil": 1}] * 10, dtype=object)
    path = save_npz(tmp_path / "mnist.npz", **arrays)
    with pytest.raises(DataFormatError, match="mnist.npz: cannot be read"):
        load_npz(path)


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04 truncated"])
def test_garbage_npz(tmp_path, content):
    path = tmp_path / "mnist.npz"
    path.write_bytes(content)
    with pytest.raises(DataFormatError, match="mnist.npz"):
        load_npz(path)


def test_a_single_npy_array_is_not_an_npz(tmp_path):
    path = tmp_path / "mnist.npz"
    with open(path, "wb") as f:
        np.save(f, np.zeros(3))
    with pytest.raises(DataFormatError, match="mnist.npz: is a single .npy array"):
        load_npz(path)


def test_npz_declaring_a_huge_array_fails_without_allocating(tmp_path):
    header = io.BytesIO()
    shape = (1_000_000_000, 28, 28)
    np.lib.format.write_array_header_1_0(
        header, {"descr": "|u1", "fortran_order": False, "shape": shape}
    )
    path = tmp_path / "mnist.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x_train.npy", header.getvalue() + bytes(100))  # a lying header
        for key, array in npz_arrays().items():
            if key != "x_train":
                member = io.BytesIO()
                np.lib.format.write_array(member, array)
                archive.writestr(f"{key}.npy", member.getvalue())
    peak, error = peak_bytes(lambda: load_npz(path))
    assert isinstance(error, DataFormatError) and "x_train declares shape" in str(error)
    assert peak < 4_000_000


# ---- full MNIST ------------------------------------------------------------------------------


def test_full_mnist(mnist_dir):
    data = load_folder(mnist_dir)
    assert data.train_images.shape == (60000, 28, 28) and data.test_images.shape == (10000, 28, 28)
    assert data.train_labels.shape == (60000,) and data.test_labels.shape == (10000,)
    for array in (data.train_images, data.train_labels, data.test_images, data.test_labels):
        assert array.dtype == np.uint8
    assert np.bincount(data.train_labels).tolist() == TRAIN_COUNTS
    assert np.bincount(data.test_labels).tolist() == TEST_COUNTS
    assert data.train_images.max() == 255 and data.train_images.min() == 0
    assert data.train_labels[:5].tolist() == [5, 0, 4, 1, 9]  # the original order


# ---- where data comes from -------------------------------------------------------------------


def test_resolve_order_explicit_then_env_then_cache(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert resolve_data_dir(cache_dir=cache) is None  # nothing cached: download
    write_mnist_folder(cache, n_train=20, n_test=10)
    assert resolve_data_dir(cache_dir=cache) == cache
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env"))
    assert resolve_data_dir(cache_dir=cache) == tmp_path / "env"
    assert resolve_data_dir(tmp_path / "arg", cache_dir=cache) == tmp_path / "arg"


def test_load_mnist_reads_the_cache_and_never_downloads_when_told_not_to(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(DataNotFoundError, match="downloading is off"):
        load_mnist(cache_dir=tmp_path, download=False)
    write_mnist_folder(tmp_path, n_train=20, n_test=10)
    data = load_mnist(cache_dir=tmp_path, download=False)
    assert data.source == str(tmp_path) and len(data.train_images) == 20


def test_load_mnist_uses_the_env_folder(tmp_path, monkeypatch):
    write_mnist_folder(tmp_path / "env", n_train=20, n_test=10)
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env"))
    assert load_mnist(cache_dir=tmp_path / "cache", download=False).source == str(tmp_path / "env")


# ---- downloading -----------------------------------------------------------------------------


@pytest.fixture
def fixture_mirror(tmp_path):
    """A small MNIST-like folder served on loopback, and its checksums."""
    folder = write_mnist_folder(tmp_path / "mirror", n_train=300, n_test=50)
    with MirrorServer(folder) as mirror:
        yield mirror, checksums_of(folder)


def test_clean_download_of_full_mnist(mnist_dir, tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    calls = []
    with MirrorServer(mnist_dir) as mirror:
        data = load_mnist(
            cache_dir=tmp_path, mirrors=(mirror.url,), progress=lambda d, t: calls.append((d, t))
        )
    total = sum((mnist_dir / f"{stem}.gz").stat().st_size for stem in MNIST_MD5)
    assert {t for _, t in calls} == {total}
    done = [d for d, _ in calls]
    assert done == sorted(done) and done[-1] == total and len(done) > 100
    for stem in MNIST_MD5:
        assert (tmp_path / f"{stem}.gz").read_bytes() == (mnist_dir / f"{stem}.gz").read_bytes()
    assert not list(tmp_path.glob("*.part"))
    assert np.bincount(data.test_labels).tolist() == TEST_COUNTS
    assert data.source == str(tmp_path)


def test_corrupt_file_is_not_cached_and_the_next_mirror_serves_it(mnist_dir, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for stem in MNIST_MD5:
        shutil.copy(mnist_dir / f"{stem}.gz", bad)
    flip_content_byte(mnist_dir / f"{LABELS}.gz", bad / f"{LABELS}.gz")
    cache = tmp_path / "cache"
    with MirrorServer(bad) as bad_mirror:
        with pytest.raises(DataNotFoundError, match=f"{LABELS}.gz: the downloaded file is corrupt"):
            download_mnist(cache, mirrors=(bad_mirror.url,))
        assert not (cache / f"{LABELS}.gz").exists() and not list(cache.glob("*.part"))
        assert (cache / "train-images-idx3-ubyte.gz").exists()  # the good files are kept

        with MirrorServer(mnist_dir) as good_mirror:
            download_mnist(cache, mirrors=(bad_mirror.url, good_mirror.url))
        assert good_mirror.gets("train-images-idx3-ubyte.gz") == []  # not fetched twice
        assert good_mirror.gets(f"{LABELS}.gz") == [None]
    assert (cache / f"{LABELS}.gz").read_bytes() == (mnist_dir / f"{LABELS}.gz").read_bytes()
    assert np.bincount(load_folder(cache).test_labels).tolist() == TEST_COUNTS


def test_dropped_connection_is_resumed_with_range(mnist_dir, tmp_path):
    name = "train-images-idx3-ubyte.gz"
    half = (mnist_dir / name).stat().st_size // 2
    with MirrorServer(mnist_dir) as mirror:
        mirror.drop_halfway.add(name)
        with pytest.raises(DataNotFoundError, match=f"closed after {half:,} of"):
            download_mnist(tmp_path, mirrors=(mirror.url,))
        assert (tmp_path / f"{name}.part").stat().st_size == half
        assert not (tmp_path / name).exists()

        calls = []
        download_mnist(tmp_path, mirrors=(mirror.url,), progress=lambda d, t: calls.append(d))
        assert mirror.gets(name) == [None, f"bytes={half}-"]
    assert calls[0] == half  # progress starts from what was already on disk
    assert (tmp_path / name).read_bytes() == (mnist_dir / name).read_bytes()
    assert not (tmp_path / f"{name}.part").exists()


def test_server_that_ignores_range_restarts_the_file(fixture_mirror, tmp_path):
    mirror, checksums = fixture_mirror
    mirror.ignore_range = True
    name = "train-images-idx3-ubyte.gz"
    (tmp_path / f"{name}.part").write_bytes(b"stale bytes from elsewhere")
    download_mnist(tmp_path, mirrors=(mirror.url,), checksums=checksums)
    assert mirror.gets(name) == ["bytes=26-"]
    assert (tmp_path / name).read_bytes() == (mirror.folder / name).read_bytes()


def test_a_finished_but_unverified_part_is_verified_without_refetching(fixture_mirror, tmp_path):
    mirror, checksums = fixture_mirror
    name = "t10k-images-idx3-ubyte.gz"
    shutil.copy(mirror.folder / name, tmp_path / f"{name}.part")
    download_mnist(tmp_path, mirrors=(mirror.url,), checksums=checksums)
    assert mirror.gets(name) == []
    assert (tmp_path / name).read_bytes() == (mirror.folder / name).read_bytes()


def test_broken_gzip_download_is_deleted(fixture_mirror, tmp_path):
    mirror, checksums = fixture_mirror
    name = "train-labels-idx1-ubyte.gz"
    data = bytearray((mirror.folder / name).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (mirror.folder / name).write_bytes(bytes(data))
    with pytest.raises(DataNotFoundError, match=f"{name}: the downloaded file is corrupt"):
        download_mnist(tmp_path, mirrors=(mirror.url,), checksums=checksums)
    assert not (tmp_path / name).exists() and not (tmp_path / f"{name}.part").exists()


def test_404_on_first_mirror_then_second_mirror(fixture_mirror, tmp_path):
    mirror, checksums = fixture_mirror
    (tmp_path / "empty").mkdir()
    with MirrorServer(tmp_path / "empty") as empty:
        cache = download_mnist(
            tmp_path / "cache", mirrors=(empty.url, mirror.url), checksums=checksums
        )
        assert empty.requests  # it was asked first
    data = load_folder(cache)
    assert len(data.train_images) == 300 and len(data.test_labels) == 50


def test_cancel_midway_caches_nothing(mnist_dir, tmp_path):
    seen = []
    with MirrorServer(mnist_dir) as mirror:
        with pytest.raises(DownloadCancelled):
            download_mnist(
                tmp_path,
                mirrors=(mirror.url,),
                progress=lambda d, t: seen.append(d),
                cancel=lambda: bool(seen) and seen[-1] > 1_000_000,
            )
        assert [(method, name) for method, name, _ in mirror.requests if method == "GET"] == [
            ("GET", "train-images-idx3-ubyte.gz")
        ]
    assert 1_000_000 < seen[-1] < 2_000_000
    assert not list(tmp_path.glob("*.gz"))  # only the resumable .part remains
    with pytest.raises(DataNotFoundError):
        load_folder(tmp_path)


def test_all_mirrors_down_lists_every_url_and_how_to_point(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{s.getsockname()[1]}/"
    (tmp_path / "empty").mkdir()
    with MirrorServer(tmp_path / "empty") as empty:
        with pytest.raises(DataNotFoundError) as err:
            download_mnist(tmp_path / "cache", mirrors=(refused, empty.url))
    message = str(err.value)
    assert f"{refused}train-images-idx3-ubyte.gz: <urlopen error" in message
    assert f"{empty.url}train-images-idx3-ubyte.gz: HTTP Error 404" in message
    for hint in ("--data DIR", ENV_VAR, "folder chooser"):
        assert hint in message
    assert not list((tmp_path / "cache").iterdir())


def test_cancel_before_anything_is_requested(fixture_mirror, tmp_path):
    mirror, checksums = fixture_mirror
    with pytest.raises(DownloadCancelled):
        download_mnist(tmp_path, mirrors=(mirror.url,), cancel=lambda: True, checksums=checksums)
    assert mirror.requests == []
