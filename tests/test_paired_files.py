"""Paired runs in sessions (core.paired_files, issue 11): a comparison over two seeds comes
back whole (plan, histories, hashes, test figures, trained models); sessions without one, and
damaged or newer ones, still open."""

import io
import json
import logging
import zipfile

import numpy as np
import pytest
import torch
from mlp_studio.core.errors import SessionError
from mlp_studio.core.model import build_model
from mlp_studio.core.paired import initial_models, plan_pair, repeat_pair, summarize
from mlp_studio.core.paired_files import PAIRS_JSON, SavedPairs, pairs_members, read_pairs
from mlp_studio.core.session import Session, load_session, save_session
from test_paired import base, blob_data


@pytest.fixture(scope="module")
def comparison() -> SavedPairs:
    data = blob_data()
    plan = plan_pair(base(), "activation", "tanh")
    results = repeat_pair(plan, 2, lambda _settings: data)
    models = [initial_models(r.plan) for r in results]
    for a, b in models:  # stand-ins for the trained models: any weights other than the seed's
        with torch.no_grad():
            a.linears[0].weight.mul_(2.0)
            b.linears[-1].bias.add_(0.5)
    return SavedPairs(plan, results, [models[0], None], "classification")


def session_with(pairs) -> Session:
    spec = base().spec
    return Session(spec, build_model(spec).state_dict(), class_names=["0", "1", "2"],
                   pairs=pairs)


def test_a_comparison_comes_back_whole(comparison, tmp_path):
    path = save_session(session_with(comparison), tmp_path / "pairs.mlps")
    back = load_session(path).pairs
    assert back is not None and back.task == "classification"
    plan = back.plan
    assert (plan.setting.name, plan.old, plan.new) == ("activation", "relu", "tanh")
    assert plan.base == comparison.plan.base and plan.changed == comparison.plan.changed
    assert [r.plan.seed for r in back.results] == [3, 4]
    for old, new in zip(comparison.results, back.results, strict=True):
        assert new.plan == old.plan
        for run_old, run_new in ((old.a, new.a), (old.b, new.b)):
            assert run_new.label == run_old.label and run_new.fingerprint == run_old.fingerprint
            assert run_new.history.epochs == run_old.history.epochs
            assert run_new.history.grad_norms == run_old.history.grad_norms
            assert run_new.best_epoch == run_old.best_epoch
            assert run_new.test.accuracy == pytest.approx(run_old.test.accuracy)
            assert run_new.test.loss == pytest.approx(run_old.test.loss)
            np.testing.assert_allclose(run_new.test.f1, run_old.test.f1)
            np.testing.assert_array_equal(run_new.grad_norms(), run_old.grad_norms())
        np.testing.assert_allclose(new.f1_difference(), old.f1_difference())
        assert new.same_start and new.same_order
    assert summarize(back.results).to_dict() == summarize(comparison.results).to_dict()
    # The first seed's models were kept (bit for bit), the second's were not.
    assert back.models[1] is None
    for kept, saved in zip(back.models[0], comparison.models[0], strict=True):
        for name, value in saved.state_dict().items():
            assert torch.equal(kept.state_dict()[name], value)


def test_a_session_without_a_comparison_opens_as_before(tmp_path):
    path = save_session(session_with(None), tmp_path / "plain.mlps")
    with zipfile.ZipFile(path) as zf:
        assert PAIRS_JSON not in zf.namelist()
    assert load_session(path).pairs is None


def rewrite(path, member: str, data: bytes) -> None:
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members[member] = data
    with zipfile.ZipFile(path, "w") as zf:
        for name, content in members.items():
            zf.writestr(name, content)


@pytest.mark.parametrize("change", [
    lambda doc: doc.update(format_version=2),
    lambda doc: doc.update(setting="colour"),
    lambda doc: doc["pairs"][1].update(seed=99),
    lambda doc: doc["pairs"][0]["a"].update(history="none"),
    lambda doc: doc["base"]["train"].update(lr=-1),
    lambda doc: doc["pairs"][0]["b"]["test"].update(confusion=[[1, 2]]),
])
def test_damaged_or_newer_pairs_never_stop_a_session_from_opening(comparison, tmp_path, change,
                                                                  caplog):
    path = save_session(session_with(comparison), tmp_path / "d.mlps")
    with zipfile.ZipFile(path) as zf:
        doc = json.loads(zf.read(PAIRS_JSON))
    change(doc)
    rewrite(path, PAIRS_JSON, json.dumps(doc).encode())
    with caplog.at_level(logging.WARNING):
        session = load_session(path)
    assert session.pairs is None and session.weights  # the session itself opens
    assert "paired runs ignored" in caplog.text


def test_newer_pairs_say_so_and_garbage_is_damaged(comparison):
    doc, tensors = pairs_members(comparison)
    newer = json.loads(doc)
    newer["format_version"] = 7
    with pytest.raises(SessionError, match="saved by a newer MLP Studio"):
        read_pairs(json.dumps(newer).encode(), tensors)
    with pytest.raises(SessionError, match="paired runs are damaged"):
        read_pairs(b"{not json", tensors)
    with pytest.raises(SessionError, match="paired runs are damaged"):
        read_pairs(doc, io.BytesIO(b"garbage").getvalue())
