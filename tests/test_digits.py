import numpy as np
import pytest
from mlp_studio.core.digits import DigitSteps, load_image, preprocess_digit
from mlp_studio.core.errors import DataFormatError
from PIL import Image, ImageDraw


def canvas(shape=(280, 280), strokes=(((100, 50), (180, 60), (120, 230)),), width=18) -> np.ndarray:
    """A white-on-black drawing like the GUI's canvas."""
    img = Image.new("L", (shape[1], shape[0]), 0)
    draw = ImageDraw.Draw(img)
    for points in strokes:
        draw.line(points, fill=255, width=width)
    return np.asarray(img, dtype=np.float32)


def mass_centre(img: np.ndarray) -> tuple[float, float]:
    rows, cols = np.mgrid[: img.shape[0], : img.shape[1]]
    return float((img * rows).sum() / img.sum()), float((img * cols).sum() / img.sum())


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_drawing_is_cropped_fitted_and_centred_by_mass():
    gray = canvas()
    steps = preprocess_digit(gray)
    assert not steps.empty
    top, left, bottom, right = steps.bbox
    ink_rows = np.flatnonzero(gray.max(1) > 0)
    ink_cols = np.flatnonzero(gray.max(0) > 0)
    assert (top, bottom) == (ink_rows[0], ink_rows[-1] + 1)
    assert (left, right) == (ink_cols[0], ink_cols[-1] + 1)
    assert steps.cropped.shape == (bottom - top, right - left)
    assert steps.fitted.shape == (20, 20) and steps.centered.shape == (28, 28)
    # The longer side (height here) fills the 20-pixel box.
    assert np.count_nonzero(steps.fitted.max(1) > 0) == 20
    assert steps.centered.dtype == np.float32
    assert steps.centered.min() >= 0.0 and steps.centered.max() <= 255.0
    r, c = mass_centre(steps.centered)
    assert abs(r - 14) <= 0.5 and abs(c - 14) <= 0.5
    fr, fc = mass_centre(steps.fitted)
    assert steps.center_of_mass == pytest.approx((fr, fc), abs=1e-4)
    assert steps.pixels.shape == (784,) and steps.pixels.dtype == np.float32
    np.testing.assert_array_equal(steps.pixels, steps.centered.ravel())


def test_aspect_ratio_is_kept():
    gray = np.zeros((300, 300), np.float32)
    gray[50:250, 130:170] = 255.0  # 200 tall, 40 wide
    steps = preprocess_digit(gray)
    assert np.count_nonzero(steps.fitted.max(1) > 128) == 20
    assert np.count_nonzero(steps.fitted.max(0) > 128) == 4


def test_tiny_digit_is_enlarged_to_the_box():
    gray = np.zeros((100, 100), np.float32)
    gray[40:45, 60:62] = 200.0
    steps = preprocess_digit(gray)
    assert np.count_nonzero(steps.fitted.max(1) > 100) == 20


def test_position_and_size_do_not_matter():
    small = canvas(strokes=(((30, 20), (70, 25), (40, 100)),), width=12)
    big = canvas(strokes=(((105, 50), (205, 62), (130, 250)),), width=30)  # x2.5, moved
    a, b = preprocess_digit(small).centered, preprocess_digit(big).centered
    # The shift is a whole number of pixels, so the two may differ by a one-pixel rounding.
    best = max(
        correlation(a, np.roll(b, (dr, dc), axis=(0, 1))) for dr in (-1, 0, 1) for dc in (-1, 0, 1)
    )
    assert best > 0.9


def test_mnist_like_digit_survives_rerendering_at_another_scale_and_place():
    digit = preprocess_digit(
        canvas(shape=(28, 28), strokes=(((9, 5), (18, 6), (12, 23)),), width=2)
    )
    big = np.asarray(Image.fromarray(digit.centered).resize((168, 168), Image.Resampling.BILINEAR))
    page = np.zeros((280, 280), np.float32)
    page[90:258, 13:181] = big
    again = preprocess_digit(np.clip(page, 0, 255))
    assert correlation(digit.centered, again.centered) > 0.95


@pytest.mark.parametrize("gray", [np.zeros((280, 280)), np.full((50, 40), 0.5), np.zeros((1, 1))])
def test_blank_image_is_empty(gray):
    steps = preprocess_digit(gray)
    assert steps.empty and steps.center_of_mass is None
    assert steps.cropped.shape == (0, 0) and steps.bbox == (0, 0, 0, 0)
    assert not steps.centered.any() and not steps.fitted.any()
    assert steps.pixels.shape == (784,)


def test_faint_noise_does_not_grow_the_box():
    gray = canvas()
    noisy = gray + np.random.default_rng(0).uniform(0, 20, gray.shape).astype(np.float32)
    assert preprocess_digit(noisy).bbox == preprocess_digit(gray).bbox


def test_uint8_input_and_single_pixel():
    gray = np.zeros((10, 10), np.uint8)
    gray[3, 7] = 255
    steps = preprocess_digit(gray)
    assert not steps.empty and steps.bbox == (3, 7, 4, 8)
    assert mass_centre(steps.centered) == pytest.approx((14, 14), abs=0.5)


@pytest.mark.parametrize("shape", [(28, 28, 3), (784,), (0, 5)])
def test_wrong_shape_is_a_data_format_error(shape):
    with pytest.raises(DataFormatError, match="2-D"):
        preprocess_digit(np.zeros(shape))


def test_steps_are_frozen():
    steps = preprocess_digit(canvas())
    assert isinstance(steps, DigitSteps)
    with pytest.raises(AttributeError):
        steps.empty = True  # type: ignore[misc]


# ---- load_image ---------------------------------------------------------------------------


def ink_on_paper(ink: int, paper: int, mode: str = "L", size=(200, 160)) -> Image.Image:
    img = Image.new("L", size, paper)
    ImageDraw.Draw(img).line([(60, 30), (120, 40), (80, 140)], fill=ink, width=14)
    return img.convert(mode)


def assert_mnist_polarity(gray: np.ndarray, reference: np.ndarray) -> None:
    assert gray.dtype == np.float32 and gray.shape == reference.shape
    assert gray.min() == 0.0 and gray.max() == 255.0
    assert np.median(gray) == 0.0  # the paper is black
    assert correlation(gray, reference) > 0.99


REFERENCE = np.asarray(ink_on_paper(255, 0), dtype=np.float32)


@pytest.mark.parametrize(
    "name, img",
    [
        ("white_on_black.png", ink_on_paper(255, 0)),
        ("black_on_white.png", ink_on_paper(0, 255)),
        ("grey_photo.png", ink_on_paper(60, 180)),  # dim paper, dark ink
        ("colour.png", ink_on_paper(0, 255, "RGB")),
        ("palette.png", ink_on_paper(0, 255, "P")),
        ("bilevel.png", ink_on_paper(0, 255, "1")),
        ("cmyk.jpg", ink_on_paper(0, 255, "CMYK")),
    ],
)
def test_load_image_gives_white_ink_on_black(tmp_path, name, img):
    path = tmp_path / name
    img.save(path)
    assert_mnist_polarity(load_image(path), REFERENCE)


def test_load_jpeg_with_compression_noise(tmp_path):
    path = tmp_path / "scan.jpg"
    ink_on_paper(20, 230).save(path, quality=60)
    gray = load_image(path)
    assert np.median(gray) == 0.0 and gray.max() == 255.0
    assert correlation(gray, REFERENCE) > 0.97
    box, reference_box = preprocess_digit(gray).bbox, preprocess_digit(REFERENCE).bbox
    assert np.abs(np.subtract(box, reference_box)).max() <= 1


@pytest.mark.parametrize("ink_rgb", [(0, 0, 0), (255, 255, 255)])
def test_transparent_background_counts_as_paper(tmp_path, ink_rgb):
    alpha = ink_on_paper(255, 0)  # opaque stroke, transparent elsewhere
    img = Image.new("RGBA", alpha.size, (*ink_rgb, 0))
    img.putalpha(alpha)
    path = tmp_path / "transparent.png"
    img.save(path)
    assert_mnist_polarity(load_image(path), REFERENCE)


def test_sixteen_bit_png(tmp_path):
    values = (np.asarray(ink_on_paper(0, 255), dtype=np.uint16) * 257).astype(np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    assert_mnist_polarity(load_image(path), REFERENCE)


@pytest.mark.parametrize("value", [0, 255])
def test_blank_picture_loads_as_empty(tmp_path, value):
    path = tmp_path / "blank.png"
    Image.new("L", (64, 64), value).save(path)
    gray = load_image(path)
    assert not gray.any()
    assert preprocess_digit(gray).empty


def test_non_image_file_names_the_file(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is not a picture")
    with pytest.raises(DataFormatError, match="notes.png"):
        load_image(path)


def test_truncated_png_names_the_file(tmp_path):
    path = tmp_path / "cut.png"
    ink_on_paper(0, 255).save(path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataFormatError, match="cut.png"):
        load_image(path)


def test_missing_file(tmp_path):
    with pytest.raises(DataFormatError, match="does not exist"):
        load_image(tmp_path / "nowhere.png")


def test_mnist_digits_are_almost_unchanged(mnist_dir):
    """Preprocessing a real MNIST digit must give back (nearly) the same image."""
    from mlp_studio.core.mnist import read_idx

    images = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")[:500].astype(np.float32)
    scores = [correlation(img, preprocess_digit(img).centered) for img in images]
    assert np.median(scores) > 0.95


@pytest.mark.parametrize("field", [(8, 8), (32, 32), (16, 24)])
def test_other_picture_sizes_get_the_same_recipe_scaled(field):
    """8x8 digits or 32x32 folders: the box keeps MNIST's 20/28 of the side, the mass sits at
    the field's centre, and the pixels are one per input of such a network."""
    rows, cols = field
    steps = preprocess_digit(canvas(), field)
    assert steps.centered.shape == field and steps.pixels.shape == (rows * cols,)
    box = (round(rows * 20 / 28), round(cols * 20 / 28))
    assert steps.fitted.shape == box
    # The drawing is taller than wide: its height fills the box's rows.
    assert np.count_nonzero(steps.fitted.max(1) > 0) == box[0]
    r, c = mass_centre(steps.centered)
    assert abs(r - rows / 2) <= 0.5 and abs(c - cols / 2) <= 0.5
    blank = preprocess_digit(np.zeros((50, 50), np.float32), field)
    assert blank.empty and blank.centered.shape == field and blank.pixels.shape == (rows * cols,)


def test_default_field_is_mnists():
    np.testing.assert_array_equal(
        preprocess_digit(canvas()).centered, preprocess_digit(canvas(), (28, 28)).centered)
