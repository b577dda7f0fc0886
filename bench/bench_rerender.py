"""Does MNIST-style preprocessing make a model robust to digits drawn at other sizes and places?

Trains a quick 784-128-10 ReLU network (2 epochs, Adam) on MNIST, then re-renders each test
digit at a random scale (x2 to x8) and a random position on a 280x280 canvas, like a user
drawing in the GUI, and compares the accuracy on:
- the original 28x28 test images;
- the originals passed through preprocess_digit (it should change almost nothing);
- the re-rendered canvases passed through preprocess_digit (what the GUI does);
- the re-rendered canvases simply shrunk to 28x28 (what happens without preprocessing).

Usage: python bench/bench_rerender.py [number of test digits, default 10000]
Needs MNIST: $MLP_STUDIO_DATA or the download cache.
"""

import sys
import time

import numpy as np
import torch
from mlp_studio.core.digits import preprocess_digit
from mlp_studio.core.mnist import load_mnist
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model
from PIL import Image

CANVAS = 280


def train(images: np.ndarray, labels: np.ndarray, epochs: int = 2) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model(NetworkSpec(hidden=[LayerSpec(128)]))
    x = torch.from_numpy(images.reshape(-1, 784).astype(np.float32) / 255.0)
    y = torch.from_numpy(labels.astype(np.int64))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        for batch in torch.randperm(len(x)).split(128):
            loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


def accuracy(model: torch.nn.Module, raw: np.ndarray, labels: np.ndarray) -> float:
    with torch.no_grad():
        outputs = model(torch.from_numpy(raw.reshape(-1, 784).astype(np.float32) / 255.0))
    return float((outputs.argmax(1).numpy() == labels).mean())


def rerender(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The digit scaled x2-x8 and pasted at a random place on a black 280x280 canvas."""
    size = round(28 * rng.uniform(2.0, 8.0))
    big = Image.fromarray(digit.astype(np.float32)).resize((size, size), Image.Resampling.BILINEAR)
    top, left = rng.integers(0, CANVAS - size + 1, size=2)
    canvas = np.zeros((CANVAS, CANVAS), np.float32)
    canvas[top : top + size, left : left + size] = np.clip(np.asarray(big), 0, 255)
    return canvas


def shrink(canvas: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(canvas).resize((28, 28), Image.Resampling.BOX))


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    mnist = load_mnist(download=False)
    start = time.perf_counter()
    model = train(mnist.train_images, mnist.train_labels)
    print(f"trained 784-128-10 for 2 epochs in {time.perf_counter() - start:.1f} s")

    images, labels = mnist.test_images[:count], mnist.test_labels[:count]
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    canvases = [rerender(img, rng) for img in images]
    again = np.stack([preprocess_digit(img.astype(np.float32)).centered for img in images])
    processed = np.stack([preprocess_digit(c).centered for c in canvases])
    shrunk = np.stack([shrink(c) for c in canvases])
    print(f"re-rendered and preprocessed {count} digits in {time.perf_counter() - start:.1f} s")

    for label, raw in [
        ("original 28x28 test digits", images),
        ("originals through preprocess_digit", again),
        ("re-rendered x2-x8 on 280x280, preprocessed", processed),
        ("re-rendered, shrunk to 28x28 (no preprocessing)", shrunk),
    ]:
        print(f"{label:50s} accuracy {accuracy(model, raw, labels):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
