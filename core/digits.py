"""Turn a user's digit (a drawing or a picture) into a 28x28 image the way MNIST was made.

MNIST digits were fitted into a 20x20 box keeping their aspect ratio (anti-aliased), then
placed in a 28x28 field so that their centre of mass sits at the centre. A model trained on
MNIST only recognises digits prepared the same way, so the CLI's `predict`, the GUI's drawing
canvas and any image file all go through `preprocess_digit`. Models of other image sizes (8x8
digits, 32x32 folders) get the same recipe scaled to their field: the box keeps MNIST's 20/28
of each side.
"""

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from mlp_studio.core.errors import DataFormatError
from mlp_studio.core.limits import MAX_IMAGE_BYTES, check_image_size
from mlp_studio.core.reading import read_regular
from PIL import Image, ImageOps, UnidentifiedImageError

FIELD = 28  # MNIST image side
BOX = 20  # side of the box the digit is fitted into
# A pixel is ink when brighter than this fraction of the brightest pixel: small enough to keep
# anti-aliased edges, large enough to ignore faint noise (JPEG ringing, paper texture).
INK_FRACTION = 0.1
# Below this brightness (out of 255) the whole image counts as blank.
MIN_INK = 1.0
BORDER_FRACTION = 0.05  # width of the frame whose pixels tell the paper colour
# Pictures are reduced to a 20x20 box; a JPEG larger than this may be decoded at a reduced
# scale (never below this side), which is much faster for phone photos.
DRAFT_SIDE = 1024


@dataclass(frozen=True, eq=False)
class DigitSteps:
    """Every intermediate image, so the GUI can show the preprocessing step by step.

    Images are float32 in 0-255, white ink on black. When `empty` (nothing drawn), `cropped`
    is 0x0, `fitted` and `centered` are zeros, `bbox` is (0, 0, 0, 0) and `center_of_mass`
    is None.
    """

    cropped: np.ndarray  # the ink's bounding box cut out of the input
    fitted: np.ndarray  # [20, 20] (the box): the crop resized to fit the box, centred
    centered: np.ndarray  # [28, 28] (the field): the fitted digit, its mass at the centre
    bbox: tuple[int, int, int, int]  # (top, left, bottom, right) in the input, bottom/right excl.
    center_of_mass: tuple[float, float] | None  # (row, col) of the ink in `fitted`
    empty: bool
    # A picture prepared as an image folder's are (picture_steps), not as a digit: every step
    # is the picture itself.
    prepared: bool = False

    @property
    def pixels(self) -> np.ndarray:
        """float32 [H * W] raw 0-255 (784 for MNIST): what the model's normalization receives."""
        return self.centered.reshape(-1)


def load_image(path: str | Path) -> np.ndarray:
    """Read a picture of a digit as float32 [H, W] in 0-255, white ink on black (MNIST).

    Any size and mode. Transparent pixels count as paper. Pictures with a bright paper
    (dark ink) are inverted; the paper level then becomes 0 and the brightest ink 255, so
    photos of grey paper look like MNIST too.
    """
    path = Path(path)
    try:
        # Regular files only (a FIFO would block), read whole: PIL then needs no file handle.
        data = read_regular(path, MAX_IMAGE_BYTES, "picture")
        with warnings.catch_warnings():
            # PIL warns about sizes between its limit and twice that; ours is lower and says so.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
        with img:
            check_image_size(*img.size, path)  # from the header, before decoding
            img.draft("L", (DRAFT_SIDE, DRAFT_SIDE))  # JPEG: decode big photos at 1/2..1/8
            img = ImageOps.exif_transpose(img)  # phone photos store their rotation in EXIF
            gray = _grayscale(img)
    except FileNotFoundError:
        raise DataFormatError(f"Cannot read {path}: the file does not exist.") from None
    except UnidentifiedImageError:  # its own text names the in-memory buffer, not the file
        raise DataFormatError(
            f"Cannot read {path}: it is not a picture. Choose a PNG or JPEG picture of a digit."
        ) from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise DataFormatError(
            f"Cannot read {path} as an image ({err}). Choose a PNG or JPEG picture of a digit."
        ) from None
    return _white_on_black(gray)


def _grayscale(img: Image.Image) -> np.ndarray:
    """float32 [H, W] in 0-255; transparency composited onto the paper colour."""
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        values = np.asarray(img, dtype=np.float32)
        # 16-bit and 32-bit images: rescale their range to 0-255.
        return values / 257.0 if values.max(initial=0.0) > 255.0 else values
    if img.mode not in ("RGBA", "LA", "PA") and "transparency" not in img.info:
        return np.asarray(img.convert("L"), dtype=np.float32)
    rgba = img.convert("RGBA")
    luma = np.asarray(rgba.convert("L"), dtype=np.float32)
    alpha = np.asarray(rgba.getchannel("A"), dtype=np.float32) / 255.0
    # The paper is whatever is transparent, so it must contrast with the visible ink:
    # dark ink goes onto white paper, bright ink onto black.
    ink_level = float((luma * alpha).sum() / max(alpha.sum(), 1e-6))
    paper = 255.0 if ink_level < 128.0 else 0.0
    return alpha * luma + (1.0 - alpha) * paper


def _white_on_black(gray: np.ndarray) -> np.ndarray:
    h, w = gray.shape
    b = max(1, round(BORDER_FRACTION * min(h, w)))
    border = np.concatenate(
        [gray[:b].ravel(), gray[-b:].ravel(), gray[:, :b].ravel(), gray[:, -b:].ravel()]
    )
    lo, hi = float(gray.min()), float(gray.max())
    paper = float(np.median(border))
    # Relative to the image's own range, so dim photos of white paper are still detected;
    # a uniform image is blank paper either way.
    if paper > (lo + hi) / 2.0 or (hi - lo < MIN_INK and hi > 127.0):
        gray = 255.0 - gray
        paper = 255.0 - paper
    ink = float(gray.max())
    if ink - paper < MIN_INK:
        return np.zeros_like(gray, dtype=np.float32)
    stretched = (gray - paper) * (255.0 / (ink - paper))
    return np.clip(stretched, 0.0, 255.0).astype(np.float32)


def box_for(field: tuple[int, int]) -> tuple[int, int]:
    """The box a digit is fitted into for a field of (rows, cols): MNIST's 20/28 of each side."""
    return tuple(max(1, round(side * BOX / FIELD)) for side in field)


def preprocess_digit(gray: np.ndarray, field: tuple[int, int] = (FIELD, FIELD)) -> DigitSteps:
    """MNIST-style preprocessing of a float 0-255 white-on-black image of any size, into a
    `field` of (rows, cols) pixels: 28x28 for MNIST, the model's own image size otherwise."""
    gray = np.asarray(gray, dtype=np.float32)
    if gray.ndim != 2 or gray.size == 0:
        raise DataFormatError(
            f"Expected a 2-D grayscale image, got an array of shape {gray.shape}."
        )
    rows, cols = (int(v) for v in field)
    if rows < 1 or cols < 1:
        raise DataFormatError(f"The image size must be at least 1x1, got {rows}x{cols}.")
    box_rows, box_cols = box_for((rows, cols))
    peak = float(gray.max())
    if not peak >= MIN_INK:  # also catches NaN
        return _empty((rows, cols))

    ink = gray > INK_FRACTION * peak
    inked_rows, inked_cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    top, bottom = int(inked_rows[0]), int(inked_rows[-1]) + 1
    left, right = int(inked_cols[0]), int(inked_cols[-1]) + 1
    cropped = gray[top:bottom, left:right]

    h, w = cropped.shape
    scale = min(box_rows / h, box_cols / w)
    # Pillow wants (width, height); never larger than the box after rounding.
    size = (min(box_cols, max(1, round(w * scale))), min(box_rows, max(1, round(h * scale))))
    resized = np.asarray(Image.fromarray(cropped).resize(size, Image.Resampling.LANCZOS))
    resized = np.clip(resized, 0.0, 255.0)  # Lanczos overshoots near sharp edges
    rh, rw = resized.shape

    total = float(resized.sum())
    if total <= 0.0:  # a lone faint pixel can vanish in the resize
        return _empty((rows, cols))
    com_r = float(resized.sum(1) @ np.arange(rh)) / total
    com_c = float(resized.sum(0) @ np.arange(rw)) / total

    fitted = np.zeros((box_rows, box_cols), np.float32)
    fr, fc = (box_rows - rh) // 2, (box_cols - rw) // 2
    fitted[fr : fr + rh, fc : fc + rw] = resized

    # Integer shift putting the centre of mass at the field's centre ((14, 14) for MNIST),
    # kept inside the field.
    r0 = min(max(round(rows / 2 - com_r), 0), rows - rh)
    c0 = min(max(round(cols / 2 - com_c), 0), cols - rw)
    centered = np.zeros((rows, cols), np.float32)
    centered[r0 : r0 + rh, c0 : c0 + rw] = resized

    return DigitSteps(
        cropped=cropped,
        fitted=fitted,
        centered=centered,
        bbox=(top, left, bottom, right),
        center_of_mass=(com_r + fr, com_c + fc),
        empty=False,
    )


def picture_steps(pixels: np.ndarray) -> DigitSteps:
    """A picture already prepared as an image folder's pictures are for its model
    (core.image_folder.read_picture, what `mlp-studio predict` uses: the centred square resized
    to the model's size, grayscale, never inverted) as the steps: no ink crop, no box, no
    centring. Never empty: a dark picture is still a picture."""
    pixels = np.asarray(pixels, dtype=np.float32)
    if pixels.ndim != 2 or pixels.size == 0:
        raise DataFormatError(f"Expected a 2-D grayscale picture, got shape {pixels.shape}.")
    rows, cols = pixels.shape
    return DigitSteps(cropped=pixels, fitted=pixels, centered=pixels, bbox=(0, 0, rows, cols),
                      center_of_mass=None, empty=False, prepared=True)


def _empty(field: tuple[int, int] = (FIELD, FIELD)) -> DigitSteps:
    return DigitSteps(
        cropped=np.zeros((0, 0), np.float32),
        fitted=np.zeros(box_for(field), np.float32),
        centered=np.zeros(field, np.float32),
        bbox=(0, 0, 0, 0),
        center_of_mass=None,
        empty=True,
    )
