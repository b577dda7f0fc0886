"""How long MNIST-style preprocessing of a drawing takes (the canvas re-predicts while drawing).

Prints the median and 95th percentile for a 280x280 canvas and fails above 5 ms (median).
"""

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from mlp_studio.core.digits import load_image, preprocess_digit
from PIL import Image, ImageDraw

BUDGET_MS = 5.0


def canvas_drawing(size: int = 280) -> np.ndarray:
    img = Image.new("L", (size, size), 0)
    ImageDraw.Draw(img).line([(90, 60), (190, 50), (110, 230)], fill=255, width=20)
    return np.asarray(img, dtype=np.float32)


def timings_ms(fn, repeats: int) -> np.ndarray:
    fn()  # warm-up
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return np.array(out)


def main() -> int:
    gray = canvas_drawing()
    steps = timings_ms(lambda: preprocess_digit(gray), 2000)
    empty = timings_ms(lambda: preprocess_digit(np.zeros((280, 280), np.float32)), 2000)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "digit.png"
        Image.fromarray(255 - gray.astype(np.uint8)).save(path)  # dark ink on white paper
        from_file = timings_ms(lambda: preprocess_digit(load_image(path)), 300)
    for label, t in [
        ("preprocess_digit, 280x280 canvas", steps),
        ("preprocess_digit, blank 280x280", empty),
        ("load_image + preprocess_digit, 280x280 PNG", from_file),
    ]:
        print(f"{label:45s} median {np.median(t):6.3f} ms   p95 {np.percentile(t, 95):6.3f} ms")
    ok = np.median(steps) < BUDGET_MS
    print(f"budget {BUDGET_MS} ms for the canvas: {'ok' if ok else 'TOO SLOW'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
