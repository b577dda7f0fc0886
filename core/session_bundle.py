"""A session's current model as a ModelBundle: what export, predict and the canvas run."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from mlp_studio.core.bundle import ModelBundle
from mlp_studio.core.errors import SessionError
from mlp_studio.core.losses import canonical_loss

if TYPE_CHECKING:
    from mlp_studio.core.session import Session


def session_bundle(session: Session) -> ModelBundle:
    """The session's current model as a ModelBundle (for export, predict, the canvas)."""
    if session.normalization is None:
        raise SessionError(
            "This session has no normalization yet: it was saved before any data was prepared. "
            "Open it in MLP Studio, load MNIST, train, and save it again."
        )
    table = session.table
    if table is not None:  # a table model: its rows' encoding goes with it
        task, features = table.task, table.feature_names
    else:
        # A playground surface predicts a value: its exports give it raw (see core.export).
        playground = session.playground or {}
        task = "regression" if playground.get("task") == "regression" else "classification"
        features = playground.get("features")
        if not (
            isinstance(features, list)
            and len(features) == session.spec.input_size
            and all(isinstance(name, str) for name in features)
        ):
            features = []
    return ModelBundle(
        session.spec,
        session.normalization,
        canonical_loss(session.train_config.loss),
        list(session.class_names),
        dict(session.weights),
        task,
        list(features),
        table,
        image_shape(session),
    )


def image_shape(session: Session) -> tuple[int, ...]:
    """(H, W) or (H, W, 3) when the session trained on an image folder that fits its network."""
    source = session.data
    if source is None or source.kind != "images":
        return ()
    size = source.image_size
    shape = (size, size, 3) if source.color else (size, size)
    return shape if math.prod(shape) == session.spec.input_size else ()
