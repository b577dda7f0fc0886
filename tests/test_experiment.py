import numpy as np
from mlp_studio.app.model.experiment import Experiment
from mlp_studio.core.data import fit_normalization, prepare_arrays
from mlp_studio.core.model import LayerSpec, NetworkSpec, build_model


def _data(kind="standardize"):
    rng = np.random.default_rng(0)
    x, y = rng.normal(5, 2, (60, 4)).astype(np.float32), rng.integers(0, 2, 60)
    return prepare_arrays(x[:40], y[:40], x[40:50], y[40:50], x[50:], y[50:], kind, ["a", "b"])


def test_the_model_keeps_its_own_normalization_until_it_trains_on_the_data(qtbot):
    state = Experiment()
    assert state.model_normalization is None
    state.set_data(_data())
    assert state.model_normalization is state.data.normalization

    imported = fit_normalization("per_pixel", np.full((3, 4), 7, np.float32))
    state.set_model(build_model(NetworkSpec(4, [LayerSpec(3)], 2)), imported)
    assert state.model_normalization is imported

    state.set_training(True)  # the weights now learn the loaded data's normalization
    assert state.model_normalization is state.data.normalization


def test_data_decides_the_input_and_output_sizes_and_edits_are_undoable(qtbot):
    state = Experiment()
    state.set_data(_data())
    assert (state.spec.input_size, state.spec.output_size) == (4, 2)
    spec = state.spec
    spec.hidden.append(LayerSpec(7))
    state.edit_spec(spec, "Add layer")
    assert len(state.spec.hidden) == 2
    state.undo_stack.undo()
    assert len(state.spec.hidden) == 1
    state.undo_stack.redo()
    assert state.spec.hidden[-1].units == 7
