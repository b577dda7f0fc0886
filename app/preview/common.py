"""What every preview shares: the application, a dark palette, PNG saving, waiting on events."""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

MAX_BYTES = 280_000  # docs images stay under 300 KB; larger ones get fewer colours


def dark_palette():
    """Fusion's colours for a dark desktop theme (what Qt picks up from a dark system)."""
    from PySide6.QtGui import QColor, QPalette

    p = QPalette()
    role, group = QPalette.ColorRole, QPalette.ColorGroup
    colours = {
        role.Window: "#2b2d30", role.WindowText: "#e6e6e6", role.Base: "#1f2023",
        role.AlternateBase: "#2b2d30", role.ToolTipBase: "#3c3f41", role.ToolTipText: "#e6e6e6",
        role.Text: "#e6e6e6", role.Button: "#3a3c40", role.ButtonText: "#e6e6e6",
        role.BrightText: "#ff6b6b", role.Link: "#6aa9ff", role.Highlight: "#3d7bd9",
        role.HighlightedText: "#ffffff", role.PlaceholderText: "#8c8c8c", role.Light: "#505357",
        role.Midlight: "#44474b", role.Mid: "#36383c", role.Dark: "#1c1d20", role.Shadow: "#111",
    }  # fmt: skip
    for r, c in colours.items():
        p.setColor(r, QColor(c))
    for r in (role.WindowText, role.Text, role.ButtonText):
        p.setColor(group.Disabled, r, QColor("#7a7a7a"))
    return p


def save_png(widget, path: Path) -> Path:
    """Grab `widget` to `path`, re-encoding with a palette if the file would be too big."""
    from PIL import Image
    from PySide6.QtCore import QBuffer, QIODevice

    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    widget.grab().save(buffer, "PNG")
    data = bytes(buffer.data())
    if len(data) > MAX_BYTES:
        image = Image.open(io.BytesIO(data)).convert("RGB")
        for colours in (256, 128, 64):
            out = io.BytesIO()
            image.quantize(colours, method=Image.Quantize.MEDIANCUT).save(out, "PNG", optimize=True)
            data = out.getvalue()
            if len(data) <= MAX_BYTES:
                break
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def wait(app, condition, timeout_s: float = 120.0) -> None:
    """Run the event loop until `condition()` holds (previews only; tests use qtbot)."""
    from PySide6.QtCore import QEventLoop

    end = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("timed out while preparing the preview")
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)


def add_common_options(parser: argparse.ArgumentParser, size: str) -> None:
    parser.add_argument("--screenshot", type=Path, metavar="PNG",
                        help="render offscreen-ready, save to this PNG and quit")  # fmt: skip
    parser.add_argument("--dark", action="store_true", help="dark palette, to check contrast")
    parser.add_argument("--size", default=size,
                        help="window size, WIDTHxHEIGHT (default: %(default)s, or its own)")


def application(dark: bool):
    """The app's QApplication (its QSettings identity and style), dark if asked."""
    from mlp_studio.app.main import make_application

    app = make_application(sys.argv[:1])
    if dark:
        app.setPalette(dark_palette())
    return app


def show(app, widget, args: argparse.Namespace, settle=None) -> int:
    """Show `widget` at --size; with --screenshot run `settle` (if any), save and return,
    otherwise run the event loop until the window is closed."""
    if args.size:
        width, height = (int(v) for v in args.size.lower().split("x"))
        widget.resize(width, height)
    else:
        widget.adjustSize()  # its own size hint
    widget.show()
    if args.screenshot is None:
        return app.exec()
    from PySide6.QtTest import QTest

    QTest.qWaitForWindowExposed(widget)
    if settle is not None:
        settle()
    app.processEvents()
    path = save_png(widget, args.screenshot)
    print(f"saved {path} ({path.stat().st_size:,} bytes)")
    return 0
