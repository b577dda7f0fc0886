"""MNIST-format families by name (issue 10): Fashion-MNIST and KMNIST downloads are checked
against the MD5 of the .gz files they publish, from mirrors the environment can override."""

import dataclasses
import hashlib

import pytest
from idx_fixtures import write_mnist_folder
from mirror_server import MirrorServer
from mlp_studio.core import mnist_families
from mlp_studio.core.dataset import load_data
from mlp_studio.core.errors import DataNotFoundError, StudioError
from mlp_studio.core.mnist_families import FAMILIES, download_family, family, family_mirrors

STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
         "t10k-labels-idx1-ubyte")  # fmt: skip


@pytest.fixture
def served(tmp_path):
    return write_mnist_folder(tmp_path / "mirror", n_train=100, n_test=20)


def gz_md5s(folder):
    return {s: hashlib.md5((folder / f"{s}.gz").read_bytes()).hexdigest() for s in STEMS}


def test_the_published_facts_of_each_family():
    assert [f.name for f in FAMILIES.values()] == ["MNIST", "Fashion-MNIST", "KMNIST"]
    fashion, kmnist = FAMILIES["fashion-mnist"], FAMILIES["kmnist"]
    assert fashion.class_names[0] == "T-shirt/top" and fashion.class_names[9] == "Ankle boot"
    assert fashion.md5["train-images-idx3-ubyte"] == "8d4fb7e6c68d591d4c3dfef9ec88bf0d"
    assert kmnist.md5["t10k-labels-idx1-ubyte"] == "7320c461ea6c1c855c0b718fb2a4b134"
    assert kmnist.mirrors[0] == "https://codh.rois.ac.jp/kmnist/dataset/kmnist/"
    assert fashion.compressed_md5 and kmnist.compressed_md5
    assert not FAMILIES["mnist"].compressed_md5
    assert len({f.cache_dir() for f in FAMILIES.values()}) == 3
    assert family("Fashion_MNIST") is fashion and family(None) is FAMILIES["mnist"]
    with pytest.raises(StudioError, match="unknown dataset 'emnist'"):
        family("emnist")


def test_mirrors_are_overridden_per_family():
    fashion = FAMILIES["fashion-mnist"]
    env = {"MLP_STUDIO_FASHION_MNIST_MIRRORS": "http://127.0.0.1:9/f", "MLP_STUDIO_MIRRORS": "x"}
    assert family_mirrors(fashion, env) == ("http://127.0.0.1:9/f/",)
    assert family_mirrors(fashion, {}) == fashion.mirrors
    with pytest.raises(DataNotFoundError, match="MLP_STUDIO_KMNIST_MIRRORS holds 'ftp://x/'"):
        family_mirrors(FAMILIES["kmnist"], {"MLP_STUDIO_KMNIST_MIRRORS": "ftp://x/"})


def test_a_family_downloads_from_the_environments_mirror_into_its_cache(
    served, tmp_path, monkeypatch
):
    fake = dataclasses.replace(FAMILIES["kmnist"], md5=gz_md5s(served))
    monkeypatch.setitem(mnist_families.FAMILIES, "kmnist", fake)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("MLP_STUDIO_DATA", str(tmp_path / "not-used"))  # MNIST's, not KMNIST's
    with MirrorServer(served) as mirror:
        monkeypatch.setenv("MLP_STUDIO_KMNIST_MIRRORS", mirror.url)
        ds = load_data(None, dataset="kmnist")
        assert len(mirror.gets("train-images-idx3-ubyte.gz")) == 1
        again = load_data(None, dataset="kmnist")  # from the cache now
        assert len(mirror.gets("train-images-idx3-ubyte.gz")) == 1
    assert ds.name == "KMNIST" and ds.class_names[:3] == ["o", "ki", "su"]
    assert len(ds.x_train) == 100 and len(again.x_test) == 20
    assert ds.source == str(tmp_path / "xdg" / "mlp-studio" / "kmnist")


def test_a_file_that_is_not_the_published_one_is_refused_and_deleted(served, tmp_path):
    cache = tmp_path / "cache"
    with MirrorServer(served) as mirror, pytest.raises(DataNotFoundError) as err:
        download_family(FAMILIES["fashion-mnist"], cache, mirrors=(mirror.url,))
    message = str(err.value)
    assert message.startswith("Could not download Fashion-MNIST")
    assert "corrupt (MD5 of its file " in message and "expected 8d4fb7e6c68d591d4c3dfef9ec88bf0d" \
        in message  # fmt: skip
    assert message.endswith("--data DIR --dataset fashion-mnist on the command line, or the "
                            "Data panel's folder chooser.")
    assert not list(cache.glob("*.gz"))


def test_without_download_a_missing_family_says_where_to_put_it(tmp_path):
    with pytest.raises(DataNotFoundError, match="Fashion-MNIST is not in .* downloading is off"):
        load_data(None, dataset="fashion-mnist", cache_dir=tmp_path, download=False)
