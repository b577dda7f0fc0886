"""The headless command line: `mlp-studio train`, `predict`, `evaluate`, `pair`, `sweep` and
`lr-find`.

A client of the same engine API as the GUI. Bad input exits with status 2 and one line
`error: ...` on stderr, never a traceback. Modules: arguments (options -> configurations),
train (runs and their outputs), predict, evaluate, lr_find, report (progress bar, tables,
metrics JSON).
"""

import sys

from mlp_studio.core.cli.arguments import build_parser, given_options
from mlp_studio.core.errors import StudioError
from mlp_studio.core.text import terminal_safe
from mlp_studio.core.threads import training_threads, use_passive_wait

EXIT_BAD_INPUT = 2

__all__ = ["EXIT_BAD_INPUT", "build_parser", "given_options", "main"]


def main(argv: list[str] | None = None) -> int:
    use_passive_wait()  # before torch loads OpenMP: see core.threads
    from mlp_studio.core.cli.predict import run_predict
    from mlp_studio.core.cli.train import run_train, run_train_session

    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser().parse_args(argv)
        import torch

        torch.set_num_threads(training_threads(getattr(args, "threads", None)))
        if getattr(args, "preset", None):
            from mlp_studio.core.presets import preset_named, preset_options

            preset_options(preset_named(args.preset), args, given_options(argv))
        if args.command == "train" and args.session is not None:
            if args.preset:
                raise StudioError("--preset sets up a new experiment; a session keeps its own "
                                  "settings: leave out --preset, or use --save-session.")
            if args.save_session is not None:
                raise StudioError("--session FILE already writes the experiment back to FILE: "
                                  "leave out --save-session (or --session, to start anew).")
            return run_train_session(args, given_options(argv))
        if args.command == "train":
            if args.restart:
                raise StudioError("--restart only works with --session FILE.")
            return run_train(args)
        if args.command == "lr-find":
            from mlp_studio.core.cli.lr_find import run_lr_find

            return run_lr_find(args)
        if args.command == "evaluate":
            from mlp_studio.core.cli.evaluate import run_evaluate

            return run_evaluate(args)
        if args.command == "pair":
            from mlp_studio.core.cli.pair import run_pair_command

            return run_pair_command(args)
        if args.command == "sweep":
            from mlp_studio.core.cli.sweep import run_sweep

            return run_sweep(args)
        return run_predict(args)
    except StudioError as err:
        # Messages quote files' text (class names, descriptions, paths): escaped.
        print(f"error: {terminal_safe(err, keep_newlines=True)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except OSError as err:
        text = f"error: {err.strerror or err}: {err.filename or ''}".rstrip(": ")
        print(terminal_safe(text), file=sys.stderr)
        return EXIT_BAD_INPUT
