"""`python -m mlp_studio.app.preview NAME [options]`: one panel, widget or dialog alone.

NAME is one of the names listed by `python -m mlp_studio.app.preview --help`. Every preview takes
--screenshot PNG (save and quit), --dark and --size WIDTHxHEIGHT; `draw`, `playground` and
`export` take more (`NAME --help`). The README's screenshots: `python -m
mlp_studio.app.preview.screenshots OUTDIR`.
"""

from __future__ import annotations

import argparse
import sys

from mlp_studio.app.preview.widgets import PREVIEWS

WITH_OWN_OPTIONS = {
    "draw": ("mlp_studio.app.preview.draw", "the Draw dock; a demo digit, a model to read it"),
    "playground": ("mlp_studio.app.preview.playground", "the Playground dock with its controls"),
    "export": ("mlp_studio.app.preview.export", "the export dialog for a small new model"),
    "compare": ("mlp_studio.app.preview.compare", "the Compare dock after a paired run on MNIST"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    names = "\n".join(
        [f"  {name:16} {about}" for name, (_, about) in WITH_OWN_OPTIONS.items()]
        + [f"  {name:16} {p.about}" for name, p in PREVIEWS.items()]
    )
    if argv and argv[0] in WITH_OWN_OPTIONS:
        import importlib

        return importlib.import_module(WITH_OWN_OPTIONS[argv[0]][0]).main(argv[1:])
    from mlp_studio.app.preview.common import add_common_options, application, show

    parser = argparse.ArgumentParser(
        prog="python -m mlp_studio.app.preview",
        description="Show one part of MLP Studio alone.",
        epilog=f"names:\n{names}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", choices=sorted([*PREVIEWS, *WITH_OWN_OPTIONS]), metavar="NAME")
    add_common_options(parser, "")
    args = parser.parse_args(argv)
    preview = PREVIEWS[args.name]
    args.size = args.size or preview.size
    app = application(args.dark)
    widget = preview.build()
    settle = None if preview.settle is None else (lambda: preview.settle(app, widget))
    return show(app, widget, args, settle=settle)


if __name__ == "__main__":
    sys.exit(main())
