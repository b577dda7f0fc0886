"""Which networks the Draw dock can feed: those that take one grayscale picture of any size.
For the others (a table's rows, playground points, colour pictures) it says why not."""

from __future__ import annotations

import html

TITLE = "Nothing to draw for this network"


def image_field(shape: tuple[int, ...]) -> tuple[int, int] | None:
    """(rows, cols) of a grayscale picture input, or None when the input is not one."""
    return (int(shape[0]), int(shape[1])) if len(shape) == 2 else None


def why_not_drawable(shape: tuple[int, ...], source: str, feature_names: list[str]) -> str:
    """Why a network taking samples of `shape` cannot read a drawing (shape is not (H, W)):
    plain text, one paragraph."""
    if len(shape) == 3:
        rows, cols, channels = shape
        return (
            f"This network takes colour pictures ({rows}×{cols} pixels, {channels} channels). "
            "The canvas draws in grayscale, so drawing does not apply to it: its images are in "
            "the Data panel's gallery, and its mistakes in the Training panel."
        )
    size = int(shape[0]) if shape else 0
    names = ", ".join(feature_names[:6]) + (", …" if len(feature_names) > 6 else "")
    values = f"{size} value{'s' if size != 1 else ''} per sample" + (
        f": {names}" if names else "")
    if source == "playground":
        return (
            f"This network reads Playground points ({values}), not pictures, so there is "
            "nothing to draw: the Playground panel shows what it makes of the plane."
        )
    if feature_names:
        return (
            f"This network reads the rows of a table ({values}), not pictures, so there is "
            "nothing to draw: the Training panel shows its predictions on the test rows, and "
            "'mlp-studio predict MODEL file.csv' predicts new ones."
        )
    return (
        f"This network takes {values}, not a picture, so there is nothing to draw. The canvas "
        "feeds networks that take a grayscale image (784 inputs for 28×28, 64 for 8×8)."
    )


def not_drawable_html(reason: str) -> str:
    """The panel's page for such a network: a heading and the reason."""
    return f"<h3>{TITLE}</h3><p>{html.escape(reason)}</p>"
