"""Regression models (playground surfaces) export their raw output, not a softmax of it."""

import json

import numpy as np
import pytest
import torch
from mlp_studio.core import playground
from mlp_studio.core.export import (
    ModelBundle,
    bundle_from_metadata,
    bundle_to_metadata,
    export_onnx,
    export_safetensors,
    export_torchscript,
    inference_module,
    load_bundle,
    load_predictor,
    usage_snippet,
    verify_export,
)
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model
from snippets import run_snippet


def regression_bundle() -> tuple[ModelBundle, np.ndarray, np.ndarray]:
    """A small model on the playground's plane surface, its raw inputs and expected outputs."""
    pg = playground.make_data(playground.generate("plane", 200, 0.1, seed=1))
    data = pg.data
    assert data.task == "regression"
    spec = NetworkSpec(input_size=2, hidden=[LayerSpec(8)], output_size=1, seed=4)
    model = build_model(spec).eval()
    raw = pg.points.xy[pg.test].astype(np.float32)
    with torch.no_grad():
        expected = model(data.normalization.apply(torch.from_numpy(raw))).numpy()
    bundle = ModelBundle(
        spec, data.normalization, "mse", list(data.class_names), model.state_dict(), "regression"
    )
    return bundle, raw, expected


def test_inference_module_returns_raw_values():
    bundle, raw, expected = regression_bundle()
    with torch.no_grad():
        found = inference_module(bundle)(torch.from_numpy(raw)).numpy()
    assert found.shape == (len(raw), 1)
    assert np.abs(found - expected).max() < 1e-5
    assert len(np.unique(np.round(found, 4))) > 10  # not a constant softmax of one output


@pytest.mark.parametrize("suffix", [".onnx", ".safetensors"])
def test_round_trip_gives_raw_outputs(tmp_path, suffix):
    bundle, raw, expected = regression_bundle()
    path = tmp_path / f"surface{suffix}"
    (export_onnx if suffix == ".onnx" else export_safetensors)(bundle, path)
    found = load_predictor(path).predict(raw)
    assert found.shape == (len(raw), 1)
    assert np.abs(found - expected).max() < 1e-5
    assert verify_export(bundle, path, raw) < 1e-5
    if suffix == ".safetensors":
        assert load_bundle(path).task == "regression"


def test_task_in_metadata_and_old_files_are_classifiers():
    bundle, _, _ = regression_bundle()
    meta = json.loads(json.dumps(bundle_to_metadata(bundle)))
    assert meta["task"] == "regression"
    assert bundle_from_metadata(meta, bundle.state_dict).task == "regression"
    del meta["task"]  # written before regression export existed
    assert bundle_from_metadata(meta, bundle.state_dict).task == "classification"


def test_session_of_a_playground_surface_exports_raw_values(tmp_path):
    from mlp_studio.core.session import Session, load_session, save_session
    from mlp_studio.core.session_bundle import session_bundle

    bundle, raw, expected = regression_bundle()
    session = Session(
        bundle.spec,
        bundle.state_dict,
        normalization=bundle.normalization,
        class_names=bundle.class_names,
        playground={"mode": "dataset", "dataset": "plane", "task": "regression"},
    )
    path = save_session(session, tmp_path / "surface.mlps")
    found = load_predictor(path).predict(raw)
    assert session_bundle(load_session(path)).task == "regression"
    assert np.abs(found - expected).max() < 1e-5


# ---------------------------------------------------------------- wording: values, features


def playground_bundle(task: str = "regression") -> ModelBundle:
    """A model of a playground problem that knows its input features (x1, x2, x1*x2)."""
    dataset = "plane" if task == "regression" else "circle"
    pg = playground.make_data(playground.generate(dataset, 100, 0.0), ("x1", "x2", "x1*x2"))
    spec = NetworkSpec(input_size=3, hidden=[LayerSpec(4)], output_size=pg.data.num_classes)
    loss = "mse" if task == "regression" else "cross-entropy"
    return ModelBundle(
        spec, pg.data.normalization, loss, list(pg.data.class_names),
        build_model(spec).state_dict(), task, list(pg.feature_names),
    )  # fmt: skip


def test_description_speaks_of_features_and_values_not_pixels_and_probabilities(tmp_path):
    bundle = playground_bundle()
    meta = bundle_to_metadata(bundle)
    assert "pixels" not in meta["input"]["values"] and "x1, x2, x1*x2" in meta["input"]["values"]
    assert "one predicted value per row" in meta["output"]["values"]
    assert "probabilities" not in meta["output"]["values"].replace("not a probability", "")
    assert meta["feature_names"] == ["x1", "x2", "x1*x2"]
    # The names survive a round trip through the file; old files without them load as before.
    loaded = load_bundle(export_safetensors(bundle, tmp_path / "surface.safetensors"))
    assert loaded.feature_names == ["x1", "x2", "x1*x2"] and not loaded.takes_images
    del meta["feature_names"]
    assert bundle_from_metadata(meta, bundle.state_dict).feature_names == []
    # A playground classifier: probabilities out, but features (not pixels) in.
    classifier = bundle_to_metadata(playground_bundle("classification"))
    assert "pixels" not in classifier["input"]["values"]
    assert "class probabilities" in classifier["output"]["values"]


def test_onnx_doc_string_names_features_and_values(tmp_path):
    import onnx

    proto = onnx.load(export_onnx(playground_bundle(), tmp_path / "surface.onnx"))
    assert proto.doc_string == (
        "MLP Studio model: raw features x1, x2, x1*x2 [N, 3] -> predicted values [N, 1]"
    )
    # Tensor names are the same in every export.
    assert [i.name for i in proto.graph.input] == ["pixels"]
    assert [o.name for o in proto.graph.output] == ["probabilities"]


@pytest.mark.parametrize("suffix", [".onnx", ".pt", ".safetensors"])
def test_regression_usage_snippet_prints_values_of_feature_inputs(tmp_path, suffix):
    bundle = playground_bundle()
    writer = {".onnx": export_onnx, ".pt": export_torchscript, ".safetensors": export_safetensors}
    path = writer[suffix](bundle, tmp_path / f"surface{suffix}")
    snippet = usage_snippet(path, bundle)
    assert "argmax" not in snippet and "confidence" not in snippet
    assert "pixels = " not in snippet and "784" not in snippet and "0-255" not in snippet
    assert "columns x1, x2, x1*x2" in snippet
    assert "inputs = np.array([[0.0, 0.0, 0.0]], dtype=np.float32)" in snippet
    assert "print(values[:, 0])  # one predicted value per row" in snippet
    out = run_snippet(snippet, suffix, tmp_path)
    assert out.returncode == 0, out.stderr
    with torch.no_grad():
        expected = inference_module(bundle)(torch.zeros(1, 3)).numpy()[:, 0]
    printed = np.array(out.stdout.strip().strip("[]").split(), dtype=np.float32)
    np.testing.assert_allclose(printed, expected, atol=1e-4)


def test_playground_classifier_snippet_takes_features_and_prints_classes(tmp_path):
    bundle = playground_bundle("classification")
    snippet = usage_snippet(export_onnx(bundle, tmp_path / "circle.onnx"), bundle)
    assert "pixels = " not in snippet and "columns x1, x2, x1*x2" in snippet
    assert "probabilities.argmax(1)" in snippet


def test_session_bundle_knows_the_playground_features():
    from mlp_studio.core.session import Session
    from mlp_studio.core.session_bundle import session_bundle

    bundle = playground_bundle()
    session = Session(
        bundle.spec,
        bundle.state_dict,
        normalization=bundle.normalization,
        class_names=bundle.class_names,
        playground={"task": "regression", "features": ["x1", "x2", "x1*x2"]},
    )
    assert session_bundle(session).feature_names == ["x1", "x2", "x1*x2"]
    session.playground["features"] = ["x1"]  # not one per input: not trusted
    assert session_bundle(session).feature_names == []
