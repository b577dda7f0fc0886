"""The Keras script export: it runs, builds the studio's network and trains."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest
from idx_fixtures import write_mnist_folder
from mlp_studio.core.activations import ActivationSpec
from mlp_studio.core.data import DataConfig, Normalization
from mlp_studio.core.errors import ExportError
from mlp_studio.core.export import ModelBundle
from mlp_studio.core.keras_script import export_keras_script, keras_script
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model, parameter_count
from mlp_studio.core.training import TrainConfig

os.environ.setdefault("KERAS_BACKEND", "torch")  # Keras 3 on torch: no TensorFlow needed
DIGITS = [str(d) for d in range(10)]


def bundle_of(spec: NetworkSpec, loss: str, kind: str) -> ModelBundle:
    size = spec.input_size
    normalization = Normalization(kind, np.zeros(size), np.full(size, 255.0))
    names = DIGITS[: spec.output_size] if spec.output_size == 10 else ["not 3", "3"]
    return ModelBundle(spec, normalization, loss, names, build_model(spec).state_dict())


@pytest.mark.parametrize(("loss", "kind", "optimizer", "target"), [
    ("cross-entropy", "per_pixel", "adam", None),
    ("binary_cross_entropy", "unit", "momentum", 3),
])
def test_the_script_runs_an_epoch_with_the_studios_parameter_count(
        tmp_path, loss, kind, optimizer, target):
    pytest.importorskip("keras")
    folder = write_mnist_folder(tmp_path / "mnist", n_train=300, n_test=50)
    spec = NetworkSpec(784, [LayerSpec(24, ActivationSpec("leaky_relu", slope=0.1), 0.2, True),
                             LayerSpec(8, ActivationSpec("maxout", pieces=3))],
                       10 if target is None else 2)
    bundle = bundle_of(spec, loss, kind)
    train = TrainConfig(loss=loss, optimizer=optimizer, weight_decay=1e-4, l1=1e-5,
                        schedule="step", epochs=7)
    data = DataConfig(normalization=kind, target_digit=target)
    script = export_keras_script(bundle, train, data, tmp_path / "train.py", str(folder))
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    run = subprocess.run([sys.executable, str(script), "--epochs", "1"], capture_output=True,
                         text=True, env=env, timeout=600, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    counted = re.search(r"trainable parameters: ([\d,]+) \(MLP Studio: ([\d,]+)\)", run.stdout)
    assert counted is not None, run.stdout[-2000:]
    assert counted[1] == counted[2] == f"{parameter_count(spec):,}"
    assert "val_loss" in run.stdout  # trained, with validation
    assert re.search(r"test accuracy: \d\.\d{4}", run.stdout)


def test_the_script_says_the_settings():
    spec = NetworkSpec(784, [LayerSpec(16, ActivationSpec("relu"))], 10, init="xavier")
    text = keras_script(bundle_of(spec, "mse", "unit"),
                        TrainConfig(loss="mse", optimizer="rmsprop", lr=0.002, batch_size=64,
                                    epochs=3, restore_best=False),
                        DataConfig(normalization="unit"), "/data/mnist")
    compile(text, "train.py", "exec")  # valid Python
    assert "keras.optimizers.RMSprop(learning_rate=0.002, rho=0.99, epsilon=1e-8)" in text
    assert 'loss="mean_squared_error"' in text and "to_categorical" in text
    assert "keras.layers.Rescaling(1 / 255" in text and '"glorot_uniform"' in text
    assert "BATCH_SIZE, EPOCHS = 10, 64, args.epochs" in text
    assert "default=3" in text and "callbacks=[]" in text


@pytest.mark.parametrize("best_by", ["accuracy", "loss"])
def test_the_script_keeps_the_best_epoch_by_the_studios_criterion(best_by):
    spec = NetworkSpec(784, [LayerSpec(16)], 10)
    text = keras_script(bundle_of(spec, "sparse_categorical_cross_entropy", "unit"),
                        TrainConfig(best_by=best_by), DataConfig(normalization="unit"),
                        "/data/mnist")
    compile(text, "train.py", "exec")
    assert f"callbacks=[KeepBest({best_by!r})]" in text
    keep_best = {}
    exec(text[text.index("class KeepBest"):text.index("\n\n\n", text.index("class KeepBest"))],
         {"keras": pytest.importorskip("keras"), "math": __import__("math")}, keep_best)
    callback = keep_best["KeepBest"](best_by)
    callback.set_model(type("M", (), {"get_weights": lambda self: len(seen)})())
    seen = []
    callback.on_train_begin()
    for loss, accuracy in ((0.5, 0.90), (0.4, 0.91), (0.45, 0.93), (0.47, 0.93)):
        seen.append(loss)
        callback.on_epoch_end(len(seen), {"val_loss": loss, "val_accuracy": accuracy})
    assert callback.weights == (3 if best_by == "accuracy" else 2)  # the epoch kept


def test_a_playground_model_has_no_script():
    spec = NetworkSpec(2, [LayerSpec(4)], 2)
    bundle = ModelBundle(spec, Normalization("none", np.zeros(2), np.ones(2)), "cross-entropy",
                         ["a", "b"], build_model(spec).state_dict(), feature_names=["x1", "x2"])
    with pytest.raises(ExportError, match="Export it as .keras instead"):
        keras_script(bundle, TrainConfig(), DataConfig())
