"""Image folders (issue 10): a subfolder per class, any size or mode, cached, bad files skipped."""

import os

import numpy as np
import pytest
from mlp_studio.core import image_folder
from mlp_studio.core.data import DataConfig, prepare_dataset
from mlp_studio.core.dataset import load_data
from mlp_studio.core.errors import DataFormatError, DataNotFoundError, StudioError
from mlp_studio.core.image_folder import load_image_folder
from PIL import Image


def save(path, array, mode=None, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array), mode).save(path, fmt)
    return path


def write_folder(root, classes=("cat", "dog"), n=4):
    """Class c's images are a flat grey of 40 + 100 * c, in various sizes, modes and formats."""
    for c, name in enumerate(classes):
        value = 40 + 100 * c
        for i in range(n):
            h, w = 20 + 7 * i, 33 + 3 * i
            grey = np.full((h, w), value, np.uint8)
            if i % 4 == 0:
                save(root / name / f"{i}.png", grey)
            elif i % 4 == 1:
                save(root / name / f"{i}.jpg", np.stack([grey] * 3, -1), fmt="JPEG")
            elif i % 4 == 2:
                save(root / name / f"{i}.PNG", np.stack([grey] * 3 + [np.full_like(grey, 255)], -1))
            else:
                Image.fromarray(grey).convert("P").save(root / name / f"{i}.png")
    return root


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def test_mixed_sizes_and_modes_become_one_array(tmp_path, cache):
    root = write_folder(tmp_path / "pets", n=8)
    ds = load_image_folder(root, cache_dir=cache)
    assert (ds.name, ds.kind, ds.task, ds.source) == ("pets", "images", "classification",
                                                      str(root))  # fmt: skip
    assert ds.class_names == ["cat", "dog"] and ds.x_test is None and ds.notes == ()
    assert ds.x_train.shape == (16, 28, 28) and ds.x_train.dtype == np.uint8
    assert np.bincount(ds.y_train).tolist() == [8, 8]
    for label, value in ((0, 40), (1, 140)):  # every file's grey survives, whatever its format
        assert np.abs(ds.x_train[ds.y_train == label].astype(int) - value).max() <= 2
    rgb = load_image_folder(root, image_size=12, color=True, cache_dir=cache)
    assert rgb.x_train.shape == (16, 12, 12, 3) and rgb.input_shape == (12, 12, 3)


def test_alpha_goes_over_white_and_16_bit_is_scaled(tmp_path, cache):
    save(tmp_path / "d" / "a" / "clear.png", np.zeros((10, 10, 4), np.uint8))  # transparent
    save(tmp_path / "d" / "b" / "deep.png", np.full((10, 10), 65535, np.uint16))  # I;16
    ds = load_image_folder(tmp_path / "d", image_size=8, cache_dir=cache)
    assert (ds.x_train[0] == 255).all() and (ds.x_train[1] == 255).all()


def test_class_folders_sort_naturally_and_hidden_ones_are_skipped(tmp_path, cache):
    for name in ("10", "2", "1"):
        save(tmp_path / "n" / name / "x.png", np.zeros((5, 5), np.uint8))
    (tmp_path / "n" / ".ipynb_checkpoints").mkdir()
    (tmp_path / "n" / "__MACOSX").mkdir()
    ds = load_image_folder(tmp_path / "n", cache_dir=cache)
    assert ds.class_names == ["1", "2", "10"]


def test_unreadable_files_are_skipped_and_counted(tmp_path, cache):
    root = write_folder(tmp_path / "pets")
    (root / "cat" / "garbage.png").write_bytes(b"this is not a png")
    whole = (root / "dog" / "0.png").read_bytes()
    (root / "dog" / "cut.png").write_bytes(whole[: len(whole) // 2])
    (root / "dog" / "notes.txt").write_text("not an image")
    ds = load_image_folder(root, cache_dir=cache)
    assert len(ds.x_train) == 8
    assert "2 files could not be read and were skipped: cat/garbage.png (is not an image), " \
        "dog/cut.png (" in ds.notes[-1]  # fmt: skip
    assert any("1 entry in the class subfolders" in n for n in ds.notes)
    again = load_image_folder(root, cache_dir=cache)  # from the cache: same notes
    assert again.notes == ds.notes


def test_an_enormous_image_is_refused_unread(tmp_path, cache):
    root = write_folder(tmp_path / "pets")
    Image.new("1", (10_000, 5_000)).save(root / "cat" / "huge.png")  # 50 Mpixel, a few kB
    ds = load_image_folder(root, cache_dir=cache)
    assert len(ds.x_train) == 8
    assert "cat/huge.png (is 10000x5000 pixels, more than the 40,000,000 allowed)" in ds.notes[-1]


def test_a_class_left_without_images_is_an_error(tmp_path, cache):
    root = write_folder(tmp_path / "pets")
    (root / "bird").mkdir()
    (root / "bird" / "a.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(DataFormatError, match=r"no image of class bird could be read \(1 file"):
        load_image_folder(root, cache_dir=cache)
    (root / "bird" / "a.png").unlink()
    with pytest.raises(DataFormatError, match=r"the class subfolder has no PNG or JPEG images "
                       r"\(bird\)"):
        load_image_folder(root, cache_dir=cache)


def test_folder_shapes_that_are_not_a_dataset(tmp_path, cache):
    loose = tmp_path / "loose"
    save(loose / "a.png", np.zeros((4, 4), np.uint8))
    save(loose / "b.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(DataFormatError, match="no class subfolders; it holds 2 images directly: "
                       "put the images of each class in a subfolder named after the class"):
        load_image_folder(loose, cache_dir=cache)
    save(loose / "only" / "c.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(DataFormatError, match=r"one class subfolder \(only\); a classifier needs"):
        load_image_folder(loose, cache_dir=cache)
    with pytest.raises(DataFormatError, match="image size must be 1-256"):
        load_image_folder(loose, image_size=1000, cache_dir=cache)


def test_links_that_loop_and_special_files(tmp_path, cache):
    loop = tmp_path / "loop"
    os.symlink(loop, loop)
    with pytest.raises(DataNotFoundError, match="symbolic link that loops or points nowhere"):
        load_image_folder(loop, cache_dir=cache)
    with pytest.raises(StudioError):
        load_data(loop)
    root = write_folder(tmp_path / "pets")
    os.symlink(root / "cat", root / "cat" / "again.png")  # a folder named like an image
    os.symlink(root / "cat" / "self.png", root / "cat" / "self.png")  # loops
    os.mkfifo(root / "dog" / "pipe.png")  # opening it would block: it is never opened
    ds = load_image_folder(root, cache_dir=cache)
    assert len(ds.x_train) == 8 and "3 entries" in ds.notes[0]
    with pytest.raises(StudioError, match="neither a regular file nor a folder"):
        load_data(root / "dog" / "pipe.png")


def test_the_second_load_comes_from_the_cache_until_a_file_changes(tmp_path, cache, monkeypatch):
    root = write_folder(tmp_path / "pets")
    first = load_image_folder(root, cache_dir=cache)
    calls = []
    real = image_folder._decode
    monkeypatch.setattr(image_folder, "_decode", lambda *a: calls.append(a) or real(*a))
    second = load_image_folder(root, cache_dir=cache)
    assert calls == [] and (second.x_train == first.x_train).all()
    assert second.class_names == first.class_names
    save(root / "cat" / "0.png", np.full((9, 9), 255, np.uint8))  # new content, new size
    third = load_image_folder(root, cache_dir=cache)
    assert len(calls) == 8 and third.x_train[0].min() == 255
    load_image_folder(root, image_size=10, cache_dir=cache)  # other settings: decoded again
    assert len(calls) == 16


def test_a_damaged_cache_entry_is_read_again(tmp_path, cache):
    root = write_folder(tmp_path / "pets")
    first = load_image_folder(root, cache_dir=cache)
    for entry in cache.glob("*.npz"):
        entry.write_bytes(b"junk")
    again = load_image_folder(root, cache_dir=cache)
    assert (again.x_train == first.x_train).all()


def test_cancel_stops_the_load(tmp_path, cache):
    root = write_folder(tmp_path / "pets")
    with pytest.raises(StudioError, match="cancelled"):
        load_image_folder(root, cache_dir=cache, cancel=lambda: True)


def test_load_data_dispatches_a_class_folder_and_it_trains_through_prepare(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    root = write_folder(tmp_path / "pets", n=10)
    ds = load_data(root, image_size=16)
    assert ds.kind == "images" and ds.input_shape == (16, 16)
    data = prepare_dataset(ds, DataConfig())
    assert data.input_shape == (16, 16) and data.x_train.shape[1] == 256
    assert len(data.x_train) + len(data.x_val) + len(data.x_test) == 20
    with pytest.raises(DataNotFoundError, match="--dataset kmnist needs the MNIST-format files"):
        load_data(root, dataset="kmnist")
