"""`mlp-studio lr-find`: the learning-rate range test (core.lr_finder) headless.

Takes the train options (the same network, data and optimizer a `train` would use), runs the
test on the seeded initial weights, prints the suggested rate and writes `--metrics-json` with
`suggested_lr`, `lrs` and `losses` (smoothed), plus `rule`, `raw_losses`, `diverged` and
`note`. The suggestion is a rate to decay from: the command it prints to train with it adds
`--schedule cosine` unless the options already decay the rate (core.lr_finder says why).
"""

import json
import sys

from mlp_studio.core.errors import StudioError

# Train options that write or continue a model: the range test changes no model.
_REFUSED = {"export": "--export", "session": "--session", "save_session": "--save-session",
            "restart": "--restart", "checkpoint_budget": "--checkpoint-budget"}


def add_lr_find_arguments(parser) -> None:
    from mlp_studio.core.cli.arguments import _add_train_arguments
    from mlp_studio.core.lr_finder import MAX_STEPS, RangeTest

    _add_train_arguments(parser)
    default = RangeTest()
    g = parser.add_argument_group("range test")
    g.add_argument("--start-lr", type=float, default=default.start_lr,
                   help=f"the first rate tried (default {default.start_lr:g})")
    g.add_argument("--end-lr", type=float, default=default.end_lr,
                   help=f"the last rate tried (default {default.end_lr:g})")
    g.add_argument("--steps", type=int, default=default.steps,
                   help=f"batches at most, 10 to {MAX_STEPS} (default {default.steps})")


def run_lr_find(args) -> int:
    from mlp_studio.core.cli.arguments import (
        data_config_from_args,
        spec_from_args,
        train_config_from_args,
    )
    from mlp_studio.core.cli.train import plan_outputs
    from mlp_studio.core.cli.train_data import load_training_data, loss_for_task
    from mlp_studio.core.limits import check_training_memory
    from mlp_studio.core.lr_finder import DECAY_SCHEDULE, RULE, RangeTest, find_lr
    from mlp_studio.core.model import build_model, describe
    from mlp_studio.core.outputs import write_output
    from mlp_studio.core.text import terminal_safe

    for dest, option in _REFUSED.items():
        if getattr(args, dest, None):
            raise StudioError(f"lr-find only tries rates and keeps no model: leave out {option} "
                              "(then train with `mlp-studio train --lr RATE ...`).")
    test = RangeTest(args.start_lr, args.end_lr, args.steps)
    problems = test.problems()
    if problems:
        raise StudioError(" ".join(problems))
    data_config, config = data_config_from_args(args), train_config_from_args(args)
    metrics = plan_outputs(args, args.data, dataset=args.dataset).metrics  # checked first

    ds, data, _source = load_training_data(args, data_config)  # the same data as train's
    config = loss_for_task(config, data.task)
    spec = spec_from_args(args, data.num_classes, int(data.x_train.shape[1]))
    check_training_memory(spec, min(config.batch_size, len(data.x_train)), config.optimizer)
    print(f"data: {terminal_safe(ds.name)} ({terminal_safe(ds.source)}) | train "
          f"{len(data.x_train):,} | network {describe(spec)} | {config.optimizer}, batches of "
          f"{config.batch_size} | rates {test.start_lr:g} to {test.end_lr:g} over at most "
          f"{test.steps} batches", file=sys.stderr)
    finding = find_lr(build_model(spec), data, config, test)
    streamed = metrics is not None and metrics.stream
    print(finding.note, file=sys.stderr)
    if finding.suggested_lr is not None:
        print(f"suggested learning rate: {finding.suggested_lr:.3g} ({RULE})",
              file=sys.stderr if streamed else sys.stdout)
        schedule = config.schedule if config.schedule != "constant" else DECAY_SCHEDULE
        print(f"train from it: mlp-studio train --lr {finding.suggested_lr:.3g} --schedule "
              f"{schedule} [the same options]", file=sys.stderr)
    if metrics is not None:
        write_output(metrics, (json.dumps(finding.to_dict(), indent=2) + "\n").encode())
        if not streamed:
            print(f"wrote {terminal_safe(metrics.given)}", file=sys.stderr)
    return 0 if finding.suggested_lr is not None else 1
