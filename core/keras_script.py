"""A runnable Keras script of a studio experiment (`--export FILE.py`), for students to read.

The script builds the same network (the layers of core.keras_export, so model.summary() counts
the studio's parameters), loads MNIST from the same files, normalizes it the same way inside
the model, compiles with the same loss, optimizer and settings and trains. Where Keras has no
exact counterpart (the studio's stratified validation split, class-balance remedies) a comment
says what differs.
"""

from pathlib import Path

from mlp_studio.core.data import DataConfig
from mlp_studio.core.errors import ExportError
from mlp_studio.core.export import ModelBundle, app_version
from mlp_studio.core.keras_export import KerasLayer, network_layers
from mlp_studio.core.losses import LOSSES, canonical_loss
from mlp_studio.core.model import describe, parameter_count
from mlp_studio.core.outputs import atomic_write
from mlp_studio.core.training import TrainConfig

# studio loss -> (Keras loss code, targets "index" or "one_hot", trains on raw scores)
_LOSSES = {
    "sparse_categorical_cross_entropy": ('"sparse_categorical_crossentropy"', "index", False),
    "categorical_cross_entropy": ('"categorical_crossentropy"', "one_hot", False),
    "mse": ('"mean_squared_error"', "one_hot", False),
    "mae": ('"mean_absolute_error"', "one_hot", False),
    "msle": ('"mean_squared_logarithmic_error"', "one_hot", False),
    "kl_divergence": ('"kl_divergence"', "one_hot", False),
    # the studio's sigmoid head trains each output as a yes/no on the raw scores
    "binary_cross_entropy": ("keras.losses.BinaryCrossentropy(from_logits=True)", "one_hot", True),
    "hinge": ('"hinge"', "one_hot", True),  # Keras turns 0/1 targets into -1/+1 like the studio
    "squared_hinge": ('"squared_hinge"', "one_hot", True),
}
# torch's defaults written out: Keras' own epsilons and decay rates differ
_OPTIMIZERS = {
    "sgd": "keras.optimizers.SGD(learning_rate={lr})",
    "momentum": "keras.optimizers.SGD(learning_rate={lr}, momentum={momentum})",
    "nesterov": "keras.optimizers.SGD(learning_rate={lr}, momentum={momentum}, nesterov=True)",
    "adagrad": "keras.optimizers.Adagrad(learning_rate={lr}, initial_accumulator_value=0.0, "
               "epsilon=1e-10)",
    "adadelta": "keras.optimizers.Adadelta(learning_rate={lr}, rho=0.9, epsilon=1e-6)",
    "rmsprop": "keras.optimizers.RMSprop(learning_rate={lr}, rho=0.99, epsilon=1e-8)",
    "adam": "keras.optimizers.Adam(learning_rate={lr}, epsilon=1e-8)",
    "adamw": "keras.optimizers.AdamW(learning_rate={lr}, weight_decay={weight_decay}, "
             "epsilon=1e-8)",
}


def _initializer(init: str, slope: float) -> str:
    """Keras initializers equal to the studio's (torch's) schemes."""
    if init == "zeros":
        return '"zeros"'
    if init == "normal":
        return "keras.initializers.RandomNormal(stddev=0.01)"
    if init == "xavier":
        return '"glorot_uniform"'
    if init == "default":  # torch's nn.Linear: uniform +-1/sqrt(fan_in)
        return 'keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform")'
    gain = 2.0 / (1.0 + slope * slope)  # He: std sqrt(gain / fan_in), untruncated like torch
    return f'keras.initializers.VarianceScaling({gain:g}, "fan_in", "untruncated_normal")'


def _layer_code(layer: KerasLayer, extra: dict[str, str]) -> str:
    arguments = [f"{k}={v!r}" for k, v in layer.arguments.items()]
    arguments += [f"{k}={v}" for k, v in extra.items()]
    arguments.append(f"name={layer.name!r}")
    return f"keras.layers.{layer.class_name}({', '.join(arguments)})"


def _normalization_code(kind: str) -> tuple[str, str]:
    """(code computing the statistics from x_train, the layer) for a normalization kind."""
    if kind == "none":
        return "", ""
    if kind == "unit":
        return "", "keras.layers.Rescaling(1 / 255, name='rescaling')"
    if kind == "symmetric":
        return "", "keras.layers.Rescaling(1 / 127.5, offset=-1.0, name='rescaling')"
    if kind == "standardize":
        stats = "mean, std = x_train.mean(), x_train.std()  # one mean/std over all pixels\n"
    else:  # per_pixel: a pixel that never varies gets std 1, as in MLP Studio
        stats = ("mean, std = x_train.mean(axis=0), x_train.std(axis=0)  # per pixel\n"
                 "std[std == 0] = 1.0  # pixels that never change (the border)\n")
    return stats, "keras.layers.Normalization(mean=mean, variance=std**2, name='normalization')"


def keras_script(bundle: ModelBundle, train: TrainConfig, data: DataConfig,
                 data_folder: str = "") -> str:
    """The Python source of a Keras script that trains this experiment's network."""
    if not bundle.takes_images or bundle.task != "classification":
        raise ExportError(
            "The Keras script trains on MNIST; this model takes other inputs. Export it as "
            ".keras instead."
        )
    loss = canonical_loss(train.loss)
    loss_code, targets, from_scores = _LOSSES[loss]
    layers = network_layers(bundle, with_weights=False)
    if LOSSES[loss].output != "softmax" or from_scores:
        # train on the raw scores: drop the probability head
        while layers[-1].class_name != "Dense":
            layers.pop()
        layers[-1].arguments["activation"] = "linear"
        layers[-1].name = "scores"
    else:
        layers[-1].arguments["activation"] = "softmax"
    penalties = []
    if train.l1:
        penalties.append(f"l1={train.l1:g}")
    if train.weight_decay and train.optimizer != "adamw":
        # torch's weight_decay adds wd * w to each gradient: a penalty wd/2 * w^2 in the loss
        penalties.append(f"l2={train.weight_decay / 2:g}")
    regularizer = f"keras.regularizers.L1L2({', '.join(penalties)})" if penalties else None
    shared = {"kernel_initializer": "INIT"}
    if bundle.spec.init != "default":
        shared["bias_initializer"] = '"zeros"'
    if regularizer:
        shared["kernel_regularizer"] = "PENALTY"
        if train.weight_decay and train.optimizer != "adamw":
            shared["bias_regularizer"] = "PENALTY"
    lines = []
    for layer in layers:
        extra: dict[str, str] = {}
        if layer.class_name == "Dense":
            extra = dict(shared)
            if bundle.spec.init == "he" and layer.name.startswith("hidden_"):
                act = bundle.spec.hidden[int(layer.name.split("_")[1]) - 1].activation
                if act.name == "leaky_relu":
                    extra["kernel_initializer"] = _initializer("he", act.slope)
        lines.append(f"        {_layer_code(layer, extra)},")
    setup = f"INIT = {_initializer(bundle.spec.init, 0.0)}  # MLP Studio's '{bundle.spec.init}'\n"
    if regularizer:
        setup += f"PENALTY = {regularizer}  # L1 / weight decay as MLP Studio applies them\n"
    stats, norm_layer = _normalization_code(bundle.normalization.kind)
    norm_line = f"        {norm_layer},\n" if norm_layer else ""
    optimizer = _OPTIMIZERS[train.optimizer].format(
        lr=_schedule_code(train), momentum=train.momentum, weight_decay=train.weight_decay)
    digit = data.target_digit
    labels = ("" if digit is None else
              f"y_train, y_test = (y_train == {digit}).astype(int), (y_test == {digit}).astype(int)"
              f"  # binary task: is it a {digit}?\n")
    encode = ("" if targets == "index" else
              "t_train = keras.utils.to_categorical(y_train, CLASSES)  # one-hot targets\n"
              "t_val = keras.utils.to_categorical(y_val, CLASSES)\n")
    fit_targets = "y_train" if targets == "index" else "t_train"
    fit_targets_val = "y_val" if targets == "index" else "t_val"
    metric = ("keras.metrics.SparseCategoricalAccuracy(name='accuracy')" if targets == "index"
              else "keras.metrics.CategoricalAccuracy(name='accuracy')")
    notes = _notes(data, train)
    val = (f"n_val = {data.split.val_count}" if data.split.val_count
           else f"n_val = round(len(x_train) * {data.split.val_fraction:g})")
    return _TEMPLATE.format(
        describe=describe(bundle.spec), version=app_version(), folder=str(data_folder),
        classes=bundle.spec.output_size, labels=labels, split_seed=data.split.seed, val=val,
        stats=stats, setup=setup, norm_line=norm_line, input_size=bundle.spec.input_size,
        layers="\n".join(lines), parameters=parameter_count(bundle.spec),
        optimizer=optimizer, loss=loss_code, metric=metric, encode=encode,
        fit_targets=fit_targets, fit_targets_val=fit_targets_val, batch_size=train.batch_size,
        epochs=train.epochs,
        seed=train.seed, notes=notes,
        callbacks=f"[KeepBest({train.best_by!r})]" if train.restore_best else "[]",
        steps="math.ceil(len(x_train) / BATCH_SIZE)",
    )


def _schedule_code(train: TrainConfig) -> str:
    if train.schedule == "step":  # lr * gamma every step_epochs epochs
        return (f"keras.optimizers.schedules.ExponentialDecay({train.lr:g}, decay_steps="
                f"{train.step_epochs} * STEPS_PER_EPOCH, decay_rate={train.gamma:g}, "
                "staircase=True)")
    if train.schedule == "cosine":  # MLP Studio steps it once per epoch, Keras every batch
        return f"keras.optimizers.schedules.CosineDecay({train.lr:g}, EPOCHS * STEPS_PER_EPOCH)"
    return f"{train.lr:g}"


def _notes(data: DataConfig, train: TrainConfig) -> str:
    notes = []
    if data.split.mode != "official":
        notes.append("MLP Studio pooled all 70,000 images and split them by percentages; "
                     "this script uses the official training and test sets.")
    if data.split.subset:
        notes.append(f"MLP Studio kept {data.split.subset:,} training images (subset).")
    if any(f < 1 for f in data.balance.keep_fractions) or data.balance.remedy != "none":
        notes.append("MLP Studio thinned classes or balanced them (imbalance settings); this "
                     "script trains on every training image.")
    if not notes:
        return ""
    return "".join(f"# Note: {n}\n" for n in notes) + "\n"


def export_keras_script(bundle: ModelBundle, train: TrainConfig, data: DataConfig,
                        path: str | Path, data_folder: str = "") -> Path:
    path = Path(path)
    atomic_write(path, keras_script(bundle, train, data, data_folder).encode())
    return path


_TEMPLATE = '''"""{describe}: the MLP Studio experiment as a Keras script (MLP Studio {version}).

Run it:  python this_file.py [--data MNIST_FOLDER] [--epochs N]
Keras 3 runs on any backend: KERAS_BACKEND=torch (set below if you set none), jax or tensorflow.
"""

import argparse
import gzip
import math
import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--data", default={folder!r}, help="folder with the MNIST files")
parser.add_argument("--epochs", type=int, default={epochs})
args = parser.parse_args()
CLASSES, BATCH_SIZE, EPOCHS = {classes}, {batch_size}, args.epochs
keras.utils.set_random_seed({seed})
{notes}

def load_mnist(folder):
    """Keras' mnist.npz, or the four IDX files (gzip or not), as MLP Studio reads them."""
    folder = Path(folder)
    if (folder / "mnist.npz").exists():
        with np.load(folder / "mnist.npz") as f:
            return f["x_train"], f["y_train"], f["x_test"], f["y_test"]

    def idx(stem):
        for name in (stem + ".gz", stem):
            if (folder / name).exists():
                raw = (folder / name).read_bytes()
                raw = gzip.decompress(raw) if name.endswith(".gz") else raw
                dims = raw[3]
                shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
                return np.frombuffer(raw, np.uint8, offset=4 + 4 * dims).reshape(shape)
        raise SystemExit(f"{{stem}} is not in {{folder}}: give the MNIST folder with --data")

    return (idx("train-images-idx3-ubyte"), idx("train-labels-idx1-ubyte"),
            idx("t10k-images-idx3-ubyte"), idx("t10k-labels-idx1-ubyte"))


x_train, y_train, x_test, y_test = load_mnist(args.data)
# Raw pixels 0-255 as float32 rows of 784: the model normalizes them itself.
x_train = x_train.reshape(len(x_train), -1).astype("float32")
x_test = x_test.reshape(len(x_test), -1).astype("float32")
{labels}# Validation: the same share as MLP Studio (which picks it stratified by class,
# seed {split_seed}).
{val}
order = np.random.default_rng({split_seed}).permutation(len(x_train))
x_val, y_val = x_train[order[:n_val]], y_train[order[:n_val]]
x_train, y_train = x_train[order[n_val:]], y_train[order[n_val:]]
STEPS_PER_EPOCH = {steps}
{stats}{setup}
model = keras.Sequential(
    [
        keras.Input(shape=({input_size},)),
{norm_line}{layers}
    ]
)
model.summary()
trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
print(f"trainable parameters: {{trainable:,}} (MLP Studio: {parameters:,})")

model.compile(
    optimizer={optimizer},
    loss={loss},
    metrics=[{metric}],
)


class KeepBest(keras.callbacks.Callback):
    """End with the weights of the best epoch, as MLP Studio does: the highest validation
    accuracy (ties go to the lower loss), or with by="loss" the lowest validation loss."""

    def __init__(self, by):
        super().__init__()
        self.by = by

    def on_train_begin(self, logs=None):
        self.best, self.weights = (-math.inf, -math.inf), None

    def on_epoch_end(self, epoch, logs=None):
        loss = logs["val_loss"]
        score = (logs["val_accuracy"], -loss) if self.by == "accuracy" else (-loss, 0.0)
        if math.isfinite(loss) and score > self.best:
            self.best, self.weights = score, self.model.get_weights()

    def on_train_end(self, logs=None):
        if self.weights is not None:
            self.model.set_weights(self.weights)


{encode}model.fit(
    x_train,
    {fit_targets},
    batch_size=BATCH_SIZE,
    epochs=EPOCHS,
    validation_data=(x_val, {fit_targets_val}),
    callbacks={callbacks},
)
predicted = np.asarray(model.predict(x_test, batch_size=1000, verbose=0)).argmax(axis=1)
print(f"test accuracy: {{(predicted == y_test).mean():.4f}}")
'''
