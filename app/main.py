"""`mlp-studio`: the desktop app, or the headless CLI when given a subcommand.

`mlp-studio` opens the window, `mlp-studio FILE.mlps` opens it on that session;
`mlp-studio train ...`, `mlp-studio predict ...` and `mlp-studio --help` run core.cli.
Qt's own options (-style fusion, -platform offscreen, ...) still open the window.
Nothing here imports torch: the window shows first, the engine after.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mlp_studio.core.threads import use_passive_wait

# Qt options that take a value, and those that do not (both may be written with - or --).
QT_OPTIONS_WITH_VALUE = {
    "platform",
    "platformpluginpath",
    "platformtheme",
    "plugin",
    "qwindowgeometry",
    "qwindowtitle",
    "qwindowicon",
    "style",
    "stylesheet",
    "session",
    "display",
    "geometry",
    "title",
    "name",
    "visual",
    "ncols",
    "cmap",
}
QT_FLAGS = {"reverse", "widgetcount", "nograb", "dograb", "sync", "qwindowalwaysontop"}


def cli_arguments(args: list[str]) -> list[str]:
    """The arguments left once Qt's own options are taken out; any left means the CLI."""
    left: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        name = arg.lstrip("-") if arg.startswith("-") and arg not in ("-", "--") else ""
        key = name.split("=", 1)[0]
        if key in QT_OPTIONS_WITH_VALUE and arg.startswith("-"):
            i += 1 if "=" in name else 2
            continue
        if key in QT_FLAGS or key.startswith("qmljsdebugger"):
            i += 1
            continue
        left.append(arg)
        i += 1
    return left


def run_cli(args: list[str]) -> int:
    try:
        from mlp_studio.core.cli import main as cli_main
    except ImportError as err:
        print(f"error: the command line is not available in this build ({err}).", file=sys.stderr)
        return 2
    try:
        return cli_main(args)
    except SystemExit as done:  # argparse's --help and usage errors exit; return the code
        code = done.code
        return code if isinstance(code, int) else (0 if code is None else 1)


def make_application(argv: list[str]):
    """The QApplication with the app's identity (QSettings location) and Fusion style."""
    from PySide6.QtCore import QCoreApplication, Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    QCoreApplication.setOrganizationName("MLP Studio")
    QCoreApplication.setOrganizationDomain("mlp-studio.org")
    QCoreApplication.setApplicationName("MLP Studio")
    app = QApplication.instance()
    if app is None:
        # Crisp at fractional HiDPI scales (125%, 150%) instead of rounding to 1x or 2x; it
        # must be set before the application object exists.
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
        )
        app = QApplication(argv)
    if getattr(app, "garbage_collector", None) is None:
        # Cyclic garbage is collected by a timer on the GUI thread, not by whichever thread
        # allocates: Qt objects collected on a background-task thread run their destructors
        # there, which can deadlock against the GUI thread (seen in the test suite).
        from pyqtgraph.util.garbage_collector import GarbageCollector

        app.garbage_collector = GarbageCollector(interval=1.0)
    # Fusion follows the system palette (light or dark) the same way on every platform.
    app.setStyle("Fusion")
    QGuiApplication.setDesktopFileName("mlp-studio")
    return app


def session_argument(args: list[str]) -> str | None:
    """The session file in `mlp-studio FILE.mlps`, else None (the CLI's arguments)."""
    return args[0] if len(args) == 1 and args[0].lower().endswith(".mlps") else None


def install_error_report(window) -> None:
    """An error in any GUI handler is reported in the window, never fatal: the app stays
    usable and the work savable (the traceback goes to the log for a bug report)."""
    import logging

    previous = sys.excepthook

    def report(kind, error, trace) -> None:
        if issubclass(kind, KeyboardInterrupt):
            previous(kind, error, trace)
            return
        logging.getLogger("mlp_studio").error("unhandled error", exc_info=(kind, error, trace))
        try:
            window.report_error(error)
        except Exception:  # noqa: BLE001 - the report itself failed: the plain traceback
            previous(kind, error, trace)

    sys.excepthook = report


def open_main_window(session: str | None = None):
    """Show the window frame now and load the engine right after its first paint; then open
    `session`, if given (after offering a crash's autosave, which comes first)."""
    from mlp_studio.app.main_window import MainWindow, app_icon
    from PySide6.QtWidgets import QApplication

    QApplication.setWindowIcon(app_icon())
    window = MainWindow(session=session)
    install_error_report(window)
    window.show()
    window.load_engine_after_first_paint()
    return window


def main(argv: list[str] | None = None) -> int:
    use_passive_wait()  # before torch loads OpenMP: see core.threads
    argv = list(sys.argv if argv is None else argv)
    left = cli_arguments(argv[1:])
    session = session_argument(left)
    if left and session is None:
        return run_cli(argv[1:])  # untouched: the CLI may have options named like Qt's
    if session is not None and not Path(session).is_file():
        print(f"error: there is no session file {session}: give the path of a .mlps file "
              "saved by MLP Studio (File > Save session, or 'mlp-studio train --session').",
              file=sys.stderr)
        return 2
    app = make_application(argv)
    window = open_main_window(session)  # noqa: F841 - kept alive for the event loop
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
