"""Downloads are bounded in size and time and cancellable within a second (issue 13, section 2).

Each test points download_mnist at a loopback mirror (tests/mirror_server.py) that misbehaves the
way a hostile or broken mirror did: a huge Content-Length, an endless body, one byte a second, no
answer at all. Deadlines are shortened through Limits so that every test takes a few seconds.
"""

import os
import subprocess
import sys
import threading
import time

import pytest
from idx_fixtures import checksums_of, write_mnist_folder
from mirror_server import HUGE, MirrorServer
from mlp_studio.core.cli import main
from mlp_studio.core.download import Limits
from mlp_studio.core.errors import DataNotFoundError, DownloadCancelled
from mlp_studio.core.mnist import (
    DEFAULT_MIRRORS,
    MIRRORS_ENV_VAR,
    MNIST_MAX_BYTES,
    configured_mirrors,
    download_mnist,
    load_folder,
    load_mnist,
)

IMAGES = "train-images-idx3-ubyte"
FAST = Limits(stall=5.0, grace=1.0, min_rate=1e12)  # about a second per file


@pytest.fixture
def folder(tmp_path):
    """A small MNIST-like folder to serve, and its checksums."""
    path = write_mnist_folder(tmp_path / "mirror", n_train=300, n_test=50)
    return path, checksums_of(path)


def download_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("download ")]


def wait_for_no_download_threads(seconds: float = 3.0) -> bool:
    end = time.monotonic() + seconds
    while download_threads() and time.monotonic() < end:
        time.sleep(0.02)
    return not download_threads()


def cache_bytes(cache) -> int:
    return sum(p.stat().st_size for p in cache.iterdir()) if cache.exists() else 0


@pytest.mark.parametrize("mode", ["huge", "huge-get"])
def test_a_huge_content_length_is_refused_before_anything_is_written(folder, tmp_path, mode):
    path, checksums = folder
    cache = tmp_path / "cache"
    with MirrorServer(path) as mirror:
        mirror.misbehave[f"{IMAGES}.gz"] = mode
        start = time.monotonic()
        with pytest.raises(DataNotFoundError) as err:
            download_mnist(cache, mirrors=(mirror.url,), checksums=checksums)
        elapsed = time.monotonic() - start
    assert f"{mirror.url}{IMAGES}.gz: declares {HUGE:,} bytes, more than the 20,000,000" in str(
        err.value
    )
    assert not (cache / f"{IMAGES}.gz.part").exists()
    assert cache_bytes(cache) < 1_000_000 and elapsed < 5
    assert mirror.gets(f"{IMAGES}.gz") == ([] if mode == "huge" else [None])  # HEAD was enough


def test_an_endless_body_is_cut_at_the_cap_and_the_next_mirror_serves_the_file(folder, tmp_path):
    path, checksums = folder
    cache = tmp_path / "cache"
    with MirrorServer(path) as endless, MirrorServer(path) as good:
        endless.misbehave[f"{IMAGES}.gz"] = "endless"  # no Content-Length, zeros forever
        download_mnist(cache, mirrors=(endless.url, good.url), checksums=checksums)
    # It read up to the real cap (20 MB), not 5 GB; kernel buffers hold a few MB more at most.
    assert MNIST_MAX_BYTES[IMAGES] < endless.zeros_sent < 2 * MNIST_MAX_BYTES[IMAGES]
    assert good.gets(f"{IMAGES}.gz") == [None]  # the cut-off part was deleted, not resumed
    assert (cache / f"{IMAGES}.gz").read_bytes() == (path / f"{IMAGES}.gz").read_bytes()
    assert len(load_folder(cache).train_images) == 300
    assert wait_for_no_download_threads()


def test_an_endless_body_alone_is_a_clear_error_and_leaves_nothing(folder, tmp_path):
    path, checksums = folder
    cache = tmp_path / "cache"
    caps = {stem: 50_000 for stem in checksums}
    with MirrorServer(path) as mirror:
        mirror.misbehave[f"{IMAGES}.gz"] = "endless"
        with pytest.raises(DataNotFoundError) as err:
            download_mnist(cache, mirrors=(mirror.url,), checksums=checksums, max_bytes=caps)
    assert f"{IMAGES}.gz: sent more than 50,000 bytes" in str(err.value)
    assert "--data DIR" in str(err.value)  # and what to do
    assert not (cache / f"{IMAGES}.gz.part").exists()


def test_bytes_beyond_the_declared_length_are_not_read(folder, tmp_path):
    path, checksums = folder
    with MirrorServer(path) as mirror:
        mirror.misbehave[f"{IMAGES}.gz"] = "overlong"
        download_mnist(tmp_path, mirrors=(mirror.url,), checksums=checksums)
    assert (tmp_path / f"{IMAGES}.gz").read_bytes() == (path / f"{IMAGES}.gz").read_bytes()


def test_a_trickling_mirror_hits_the_deadline_then_the_next_mirror_resumes(folder, tmp_path):
    path, checksums = folder
    with MirrorServer(path) as slow, MirrorServer(path) as good:
        slow.misbehave[f"{IMAGES}.gz"] = "trickle"
        slow.trickle_interval = 0.1
        start = time.monotonic()
        download_mnist(tmp_path, mirrors=(slow.url, good.url), checksums=checksums, limits=FAST)
        elapsed = time.monotonic() - start
    assert elapsed < 4, f"{elapsed:.1f} s"
    (resumed,) = good.gets(f"{IMAGES}.gz")
    assert resumed is not None and resumed.startswith("bytes=")  # what trickled in was kept
    assert (tmp_path / f"{IMAGES}.gz").read_bytes() == (path / f"{IMAGES}.gz").read_bytes()


@pytest.mark.parametrize("mode", ["trickle", "mute"])
def test_a_slow_or_mute_mirror_alone_ends_with_a_clear_error(folder, tmp_path, mode):
    path, checksums = folder
    with MirrorServer(path) as mirror:
        mirror.misbehave[f"{IMAGES}.gz"] = mode
        start = time.monotonic()
        with pytest.raises(DataNotFoundError) as err:
            download_mnist(tmp_path, mirrors=(mirror.url,), checksums=checksums, limits=FAST)
        elapsed = time.monotonic() - start
    assert elapsed < 4, f"{elapsed:.1f} s"
    assert f"{IMAGES}.gz: not done within 1 s" in str(err.value)
    assert "the mirror is too slow" in str(err.value)
    assert wait_for_no_download_threads()


@pytest.mark.parametrize("mode", ["trickle", "mute"])
def test_cancel_takes_effect_within_a_second(folder, tmp_path, mode):
    """A trickle or a mute server (default limits: minutes) is cancelled at once, HEAD or GET."""
    path, sums = folder
    cancelled_at: list[float] = []
    with MirrorServer(path) as mirror:
        mirror.misbehave[f"{IMAGES}.gz"] = mode
        timer = threading.Timer(0.5, lambda: cancelled_at.append(time.monotonic()))
        timer.start()
        with pytest.raises(DownloadCancelled):
            download_mnist(tmp_path, (mirror.url,), cancel=cancelled_at.__len__, checksums=sums)
        latency = time.monotonic() - cancelled_at[0]
        assert wait_for_no_download_threads()  # the request's thread ended too
    assert latency < 2, f"cancel took {latency:.2f} s"  # a bound, not a benchmark (~0.1 s)


def test_mirrors_from_the_environment():
    env = {MIRRORS_ENV_VAR: " http://127.0.0.1:8000/a, https://example.org/mnist/\thttp://x/b "}
    assert configured_mirrors(env) == (
        "http://127.0.0.1:8000/a/",
        "https://example.org/mnist/",
        "http://x/b/",
    )
    assert configured_mirrors({}) == configured_mirrors({MIRRORS_ENV_VAR: " "}) == DEFAULT_MIRRORS
    assert all(url.startswith("https://") for url in DEFAULT_MIRRORS)
    for bad in ("ftp://example.org/", "file:///etc/", "example.org/mnist"):
        with pytest.raises(DataNotFoundError, match=f"{MIRRORS_ENV_VAR} holds '{bad}"):
            configured_mirrors({MIRRORS_ENV_VAR: bad})


def test_load_mnist_downloads_from_the_environments_mirror(mnist_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("MLP_STUDIO_DATA", raising=False)
    with MirrorServer(mnist_dir) as mirror:
        monkeypatch.setenv(MIRRORS_ENV_VAR, mirror.url)
        data = load_mnist(cache_dir=tmp_path)
        assert len(mirror.gets(f"{IMAGES}.gz")) == 1
    assert len(data.train_images) == 60_000 and data.source == str(tmp_path)


def test_cli_download_from_a_hostile_mirror_given_in_the_environment(tmp_path):
    """From outside, as a person would: the CLI with $MLP_STUDIO_MIRRORS and an empty cache."""
    served = write_mnist_folder(tmp_path / "mirror", n_train=10, n_test=10)
    env = {k: v for k, v in os.environ.items() if k != "MLP_STUDIO_DATA"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")  # platformdirs' user cache on Linux
    with MirrorServer(served) as mirror:
        mirror.misbehave[f"{IMAGES}.gz"] = "huge"
        env[MIRRORS_ENV_VAR] = mirror.url
        out = subprocess.run(
            [sys.executable, "-m", "mlp_studio.core.cli", "train", "--epochs", "1"],
            capture_output=True, text=True, env=env, timeout=60,
        )  # fmt: skip
        assert mirror.requests  # the environment's mirror was the one asked
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.startswith("error: Could not download MNIST")
    assert f"{mirror.url}{IMAGES}.gz: declares {HUGE:,} bytes" in out.stderr
    written = sum(p.stat().st_size for p in (tmp_path / "cache").rglob("*") if p.is_file())
    assert written < 1_000_000


def test_cli_says_what_is_wrong_with_the_environments_mirrors(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MLP_STUDIO_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv(MIRRORS_ENV_VAR, "ftp://example.org/mnist/")
    assert main(["train", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {MIRRORS_ENV_VAR} holds 'ftp://example.org/mnist/'")
