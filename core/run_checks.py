"""What stops a run from starting, in words the user can act on (the GUI lists them all before
it starts a child process; the engine's own check_run raises the first)."""

from __future__ import annotations

from mlp_studio.core.data import PreparedData
from mlp_studio.core.limits import memory_problem
from mlp_studio.core.model import NetworkSpec
from mlp_studio.core.train_config import TEST_SELECTION_PROBLEM, TrainConfig


def run_problems(spec: NetworkSpec, config: TrainConfig, data: PreparedData | None) -> list[str]:
    """Every problem with training `spec` on `data` with `config`; [] when it can start."""
    out = list(spec.problems()) + list(config.problems())
    if data is None:
        out.append("There is no data yet: load MNIST in the Data panel, or choose "
                   "Playground points under Train on.")
    elif len(data.x_train) == 0:
        out.append("The training set is empty: lower the validation share or the "
                   "imbalance, or raise the subset size.")
    else:
        size = int(data.x_train.shape[1])
        if spec.input_size != size:
            out.append(f"The network takes {spec.input_size} inputs but the data has {size} "
                       "values per sample: load matching data or a matching model.")
        if spec.output_size != data.num_classes:
            out.append(f"The network has {spec.output_size} outputs but the data has "
                       f"{data.num_classes} classes: change the task in the Data panel or "
                       "build a new network.")
        if data.val_is_test and config.restore_best:
            out.append(TEST_SELECTION_PROBLEM)
    if not out:  # the estimate needs a valid network and settings
        memory = memory_problem(spec, min(config.batch_size, len(data.x_train)),
                                config.optimizer)
        if memory is not None:
            out.append(memory)
    return out
