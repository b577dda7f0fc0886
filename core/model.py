"""The network: a JSON-friendly spec, its validation, and the MLP it builds.

Each hidden layer is Linear -> (BatchNorm1d) -> activation -> (Dropout). Maxout layers have a
Linear with units * pieces outputs and keep the max of each group of pieces. The output layer is
a plain Linear: the output activation belongs to the loss (core/losses.py). A regression model
un-scales its output to the target's units (core/target_scaling.py).
"""

import copy
import json
from dataclasses import asdict, dataclass, field

import torch
from mlp_studio.core.activations import (
    ActivationSpec,
    activation_problems,
    make_activation,
    take_fields,
)
from mlp_studio.core.errors import SpecError
from mlp_studio.core.reading import loads_json
from mlp_studio.core.setting_ranges import MAX_UNITS
from mlp_studio.core.target_scaling import MEAN_KEY, STD_KEY, TargetScaling
from torch import Tensor, nn

INITS = ("default", "zeros", "normal", "xavier", "he")
MAX_LAYERS = 100
MAX_PARAMETERS = 100_000_000
MAX_SEED = 2**63 - 1


@dataclass
class LayerSpec:
    units: int
    activation: ActivationSpec = field(default_factory=ActivationSpec)
    dropout: float = 0.0  # probability of zeroing each output while training
    batch_norm: bool = False

    @property
    def width(self) -> int:
        """Outputs of this layer's Linear: units, or units * pieces for maxout."""
        return self.units * (self.activation.pieces if self.activation.name == "maxout" else 1)


@dataclass
class NetworkSpec:
    input_size: int = 784
    hidden: list[LayerSpec] = field(default_factory=lambda: [LayerSpec(128)])
    output_size: int = 10
    init: str = "he"  # default (torch's) | zeros | normal (std 0.01) | xavier (uniform) | he
    seed: int = 0

    def problems(self) -> list[str]:
        """Every problem, each saying what is wrong and what to do (the GUI shows them)."""
        out = []
        if not _whole(self.input_size, 1, MAX_UNITS):
            out.append(
                f"The input size is {self.input_size}: use a whole number from 1 to "
                f"{MAX_UNITS} (784 for MNIST)."
            )
        if len(self.hidden) > MAX_LAYERS:
            out.append(f"There are {len(self.hidden)} hidden layers: use at most {MAX_LAYERS}.")
        for number, layer in enumerate(self.hidden, start=1):
            out += [f"Hidden layer {number} {p}" for p in _layer_problems(layer)]
        if not _whole(self.output_size, 1, MAX_UNITS):
            out.append(
                f"The output layer has {self.output_size} neurons: use a whole number from 1 "
                f"to {MAX_UNITS} (10 for the ten digits)."
            )
        if self.init not in INITS:
            out.append(
                f"Unknown weight initialisation '{self.init}': choose one of {', '.join(INITS)}."
            )
        if not _whole(self.seed, 0, MAX_SEED):
            out.append(f"The seed {self.seed!r} is not allowed: use a whole number 0 or above.")
        if not out and parameter_count(self) > MAX_PARAMETERS:
            out.append(
                f"The network would have {parameter_count(self):,} parameters: the limit is "
                f"{MAX_PARAMETERS:,}, so use fewer or smaller layers."
            )
        return out

    def validate(self) -> None:
        """Raise SpecError listing every problem."""
        problems = self.problems()
        if problems:
            raise SpecError("\n".join(problems))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object) -> "NetworkSpec":
        """Rejects unknown keys and wrong types (SpecError naming the field); values are checked
        by validate(), so a GUI can load a spec and show its problems."""
        types = {"input_size": int, "hidden": list, "output_size": int, "init": str, "seed": int}
        fields = take_fields(data, types, "network")
        if "hidden" in fields:
            fields["hidden"] = [
                _layer_from_dict(item, f"network.hidden[{i}]")
                for i, item in enumerate(fields["hidden"])
            ]
        return cls(**fields)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> "NetworkSpec":
        try:
            data = loads_json(text)
        except json.JSONDecodeError as err:
            raise SpecError(
                f"The network spec is not valid JSON ({err.msg} at line {err.lineno}, "
                f"column {err.colno}): fix the file or save the network again."
            ) from None
        return cls.from_dict(data)


def _whole(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _layer_problems(layer: LayerSpec) -> list[str]:
    """Problems of one hidden layer, as sentence endings after 'Hidden layer N '."""
    out = []
    if not _whole(layer.units, 1, MAX_UNITS):
        if isinstance(layer.units, int) and layer.units < 1:
            out.append(f"has {layer.units} neurons: give it at least 1.")
        else:
            out.append(f"has {layer.units} neurons: use a whole number from 1 to {MAX_UNITS}.")
    dropout = layer.dropout
    if not (isinstance(dropout, (int, float)) and 0 <= dropout < 1):
        out.append(
            f"has dropout {dropout}: use a value from 0 (no dropout) up to but not including 1, "
            "e.g. 0.5."
        )
    out += activation_problems(layer.activation)
    if not out and layer.width > MAX_UNITS:
        out.append(
            f"has {layer.units} maxout neurons with {layer.activation.pieces} pieces each: "
            f"keep units * pieces at most {MAX_UNITS}."
        )
    return out


def _layer_from_dict(data: object, where: str) -> LayerSpec:
    types = {"units": int, "activation": dict, "dropout": float, "batch_norm": bool}
    fields = take_fields(data, types, where)
    if "units" not in fields:
        raise SpecError(f"{where}.units is missing: say how many neurons the layer has.")
    if "activation" in fields:
        fields["activation"] = ActivationSpec.from_dict(fields["activation"], f"{where}.activation")
    return LayerSpec(**fields)


def parameter_count(spec: NetworkSpec) -> int:
    """Trainable parameters of the MLP this spec builds (weights, biases, batch-norm scales)."""
    total, size = 0, spec.input_size
    for layer in spec.hidden:
        total += (size + 1) * layer.width + (2 * layer.width if layer.batch_norm else 0)
        size = layer.units
    return total + (size + 1) * spec.output_size


def describe(spec: NetworkSpec) -> str:
    """One line such as "784-256(relu)-128(relu, bn, dropout 0.5)-10"."""
    parts = [str(spec.input_size)]
    for layer in spec.hidden:
        act = layer.activation
        label = {
            "leaky_relu": f"leaky_relu {act.slope:g}",
            "maxout": f"maxout k={act.pieces}",
            "custom": f"f(x)={act.formula.strip()}",
        }.get(act.name, act.name)
        extras = (", bn" if layer.batch_norm else "") + (
            f", dropout {layer.dropout:g}" if layer.dropout else ""
        )
        parts.append(f"{layer.units}({label}{extras})")
    return "-".join([*parts, str(spec.output_size)])


class MLP(nn.Module):
    """A multi-layer perceptron built from a NetworkSpec; forward returns raw outputs.

    Construction validates the spec (SpecError) and initialises the weights from spec.seed
    without touching the global torch RNG: the same spec always gives the same weights.
    """

    def __init__(self, spec: NetworkSpec) -> None:
        super().__init__()
        spec.validate()
        self.spec = copy.deepcopy(spec)  # later edits to the caller's spec must not desync us
        with torch.random.fork_rng(devices=[]):
            # Only the CPU generator: fork_rng restores it; torch.manual_seed would reseed GPUs.
            torch.default_generator.manual_seed(spec.seed)
            modules, capture = _layers(spec)
            after = [h.activation for h in spec.hidden] + [None]  # activation after each Linear
            for linear, act in zip(
                [m for m in modules if isinstance(m, nn.Linear)], after, strict=True
            ):
                _initialise(linear, spec.init, act)
        # One flat Sequential keeps forward() a tight loop with no hooks or branches.
        self.net = nn.Sequential(*modules)
        self._capture = capture  # indices of the activation modules in self.net
        # Regression: the network's own output z is in scaled units; forward returns
        # z * target_std + target_mean, the target's units. Identity (and left out of the
        # state dict) otherwise; `_scaled` spares classifiers the two operations.
        self.register_buffer(MEAN_KEY, torch.zeros(spec.output_size))
        self.register_buffer(STD_KEY, torch.ones(spec.output_size))
        self._scaled = False
        self.register_state_dict_post_hook(_leave_out_identity_scaling)
        self.register_load_state_dict_pre_hook(_take_scaling)

    @property
    def linears(self) -> list[nn.Linear]:
        """The Linear layers, hidden ones then the output, in order."""
        return [m for m in self.net if isinstance(m, nn.Linear)]

    def forward(self, x: Tensor) -> Tensor:
        """Raw outputs (a regression's in the target's units)."""
        return self.unscale(self.net(x))

    def unscale(self, z: Tensor) -> Tensor:
        """The network's own outputs -> the target's units (no-op without a target scaling)."""
        return z * self.target_std + self.target_mean if self._scaled else z

    def forward_with_activations(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Raw outputs and each hidden layer's activation output (before its dropout)."""
        activations = []
        for index, module in enumerate(self.net):
            x = module(x)
            if index in self._capture:
                activations.append(x)
        return self.unscale(x), activations

    @property
    def target_scaling(self) -> TargetScaling | None:
        """The scaling its outputs are un-scaled by; None when there is none."""
        if not self._scaled:
            return None
        return TargetScaling("standardize", self.target_mean.cpu().numpy(),
                             self.target_std.cpu().numpy())

    @torch.no_grad()
    def set_target_scaling(self, scaling: TargetScaling | None) -> None:
        """Un-scale outputs by `scaling` from now on (None or identity: not at all). The
        weights are left as they are: they learn what this scaling asks of them."""
        if scaling is None or scaling.identity:
            self.target_mean.zero_()
            self.target_std.fill_(1.0)
            self._scaled = False
            return
        if scaling.mean.size != self.spec.output_size:
            raise SpecError(f"the target scaling has {scaling.mean.size} values for a network "
                            f"of {self.spec.output_size} outputs")
        self.target_mean.copy_(torch.from_numpy(scaling.mean.copy()))
        self.target_std.copy_(torch.from_numpy(scaling.std.copy()))
        self._scaled = True

    def layer_sizes(self) -> list[int]:
        """[input, hidden units..., output], for diagrams."""
        return [self.spec.input_size, *(h.units for h in self.spec.hidden), self.spec.output_size]


def _leave_out_identity_scaling(module: MLP, state: dict, prefix: str, _meta) -> None:
    if not module._scaled:
        state.pop(prefix + MEAN_KEY, None)
        state.pop(prefix + STD_KEY, None)


def _take_scaling(module: MLP, state: dict, prefix: str, _meta, _strict, _missing, _unexpected,
                  _errors) -> None:
    """A state dict without the scaling buffers (a classifier's, or any file from before
    target scaling) loads as the identity; one with them turns the scaling on."""
    mean, std = state.get(prefix + MEAN_KEY), state.get(prefix + STD_KEY)
    if mean is None or std is None:
        state[prefix + MEAN_KEY] = torch.zeros_like(module.target_mean)
        state[prefix + STD_KEY] = torch.ones_like(module.target_std)
        module._scaled = False
    else:
        module._scaled = not bool((mean == 0).all() and (std == 1).all())


def build_model(spec: NetworkSpec) -> MLP:
    """The seeded, initialised MLP for a spec (SpecError if the spec has problems)."""
    return MLP(spec)


class Dropout(nn.Dropout):
    """nn.Dropout with a cheaper mask: 16 random bits per unit, drawn four units to a 64-bit
    number, instead of torch's one float per unit (Bernoulli sampling made dropout ~11% of
    an mnist_mlp epoch; forward and backward now take about a third of torch's time). Rates
    are quantised to 1/65536. Evaluation passes the input through, as torch's does."""

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        n = x.numel()
        bits = torch.randint(-(2**63), 2**63 - 1, ((n + 3) // 4,), dtype=torch.int64,
                             device=x.device).view(torch.int16)[:n].view_as(x)
        keep = bits >= -32768 + round(self.p * 65536)
        return x * keep.to(x.dtype).mul_(1 / (1 - self.p))


def _layers(spec: NetworkSpec) -> tuple[list[nn.Module], frozenset[int]]:
    """The modules in order, and the indices of the hidden activations among them."""
    modules: list[nn.Module] = []
    capture = []
    size = spec.input_size
    for layer in spec.hidden:
        modules.append(nn.Linear(size, layer.width))
        if layer.batch_norm:
            modules.append(nn.BatchNorm1d(layer.width))
        modules.append(make_activation(layer.activation))
        capture.append(len(modules) - 1)
        if layer.dropout > 0:
            modules.append(Dropout(layer.dropout))
        size = layer.units
    modules.append(nn.Linear(size, spec.output_size))
    return modules, frozenset(capture)


def _initialise(linear: nn.Linear, init: str, act: ActivationSpec | None) -> None:
    """Apply one init scheme; `act` is the activation after this Linear (None for the output)."""
    if init == "default":
        return  # nn.Linear already drew torch's own init from the seeded generator
    with torch.no_grad():
        linear.bias.zero_()
        if init == "zeros":
            linear.weight.zero_()
        elif init == "normal":
            nn.init.normal_(linear.weight, std=0.01)
        elif init == "xavier":
            nn.init.xavier_uniform_(linear.weight)
        else:  # he: std sqrt(2 / fan_in), the ReLU-family gain; Leaky ReLU uses its slope
            slope = act.slope if act is not None and act.name == "leaky_relu" else 0.0
            nn.init.kaiming_normal_(linear.weight, a=slope, nonlinearity="leaky_relu")


@torch.no_grad()
def activations_of(model: MLP, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The outputs and every hidden layer's activations for `x`, in evaluation mode (dropout
    off, batch norm's running statistics), leaving the model in the mode it was in."""
    was_training = model.training
    model.eval()
    try:
        return model.forward_with_activations(x.to(next(model.parameters()).device))
    finally:
        model.train(was_training)
