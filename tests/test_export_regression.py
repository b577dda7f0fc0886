"""Regression models (playground surfaces) export their raw output, not a softmax of it."""

import json

import numpy as np
import pytest
import torch

from core import playground
from core.export import (
    ModelBundle,
    bundle_from_metadata,
    bundle_to_metadata,
    export_onnx,
    export_safetensors,
    inference_module,
    load_bundle,
    load_predictor,
    verify_export,
)
from core.model import LayerSpec, NetworkSpec, build_model


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
    from core.session import Session, load_session, save_session, session_bundle

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
