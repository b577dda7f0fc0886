"""Evaluation: loss, accuracy, confusion matrix, per-class precision/recall/F1, mistakes.

Regression (real-valued targets) has the loss, RMSE, MAE and R² instead, and keeps the true and
predicted values for scatter and residual plots (in the target's units; the loss is on scaled
targets when the model has a target scaling, as training computes it); its accuracy is NaN
(undefined, not 0) and the confusion matrix, per-class scores and mistakes are empty, so views
can tell "no such thing" from "all wrong". Readouts ask `Metrics.regression`, never print the
NaN accuracy.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from mlp_studio.core.losses import probabilities
from mlp_studio.core.target_scaling import scale_values
from torch import Tensor, nn


@dataclass(frozen=True)
class Metrics:
    loss: float
    accuracy: float
    confusion: np.ndarray  # int64 [C, C]; rows = true class, columns = predicted
    precision: np.ndarray  # float64 [C]
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray  # int64 [C]: true samples per class
    labels: np.ndarray  # int64 [N]: true classes
    predictions: np.ndarray  # int64 [N]
    confidence: np.ndarray  # float32 [N]: probability of the predicted class
    misclassified: np.ndarray  # int64 indices of wrong predictions, most confident first
    # Regression only (NaN / empty for classification):
    rmse: float = math.nan
    mae: float = math.nan
    r2: float = math.nan  # 1 - SS_res / SS_tot
    targets: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # true [N]
    values: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # predicted [N]
    task: str = "classification"  # or "regression"

    @property
    def regression(self) -> bool:
        return self.task == "regression"

    @property
    def macro(self) -> dict[str, float]:
        present = self.support > 0
        return {k: float(getattr(self, k)[present].mean()) if present.any() else 0.0
                for k in ("precision", "recall", "f1")}

    @property
    def weighted(self) -> dict[str, float]:
        total = self.support.sum()
        return {k: float((getattr(self, k) * self.support).sum() / total) if total else 0.0
                for k in ("precision", "recall", "f1")}

    def mistakes(self, true_class: int, predicted_class: int) -> np.ndarray:
        """Indices of samples of `true_class` predicted as `predicted_class`, surest first."""
        wrong = self.misclassified
        keep = (self.labels[wrong] == true_class) & (self.predictions[wrong] == predicted_class)
        return wrong[keep]

    def to_dict(self, class_names: list[str]) -> dict:
        if self.regression:
            return {"loss": self.loss, "rmse": self.rmse, "mae": self.mae, "r2": self.r2}
        return {
            "loss": self.loss,
            "accuracy": self.accuracy,
            "confusion_matrix": self.confusion.tolist(),
            "per_class": {
                name: {
                    "precision": float(self.precision[i]),
                    "recall": float(self.recall[i]),
                    "f1": float(self.f1[i]),
                    "support": int(self.support[i]),
                }
                for i, name in enumerate(class_names)
            },
            "macro": self.macro,
            "weighted": self.weighted,
        }


def confusion_matrix(true: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    flat = np.bincount(true * num_classes + predicted, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes).astype(np.int64)


def per_class_scores(confusion: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and F1 per class; 0 where undefined (no predictions or no samples)."""
    tp = np.diag(confusion).astype(np.float64)
    predicted = confusion.sum(0)
    actual = confusion.sum(1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return precision, recall, f1


def metrics_from_probabilities(
    probs: np.ndarray, labels: np.ndarray, loss: float, num_classes: int
) -> Metrics:
    predictions = probs.argmax(1).astype(np.int64)
    labels = labels.astype(np.int64)
    confidence = probs[np.arange(len(probs)), predictions].astype(np.float32)
    confusion = confusion_matrix(labels, predictions, num_classes)
    precision, recall, f1 = per_class_scores(confusion)
    wrong = np.flatnonzero(predictions != labels)
    wrong = wrong[np.argsort(-confidence[wrong], kind="stable")]
    return Metrics(
        loss=loss,
        accuracy=float((predictions == labels).mean()) if len(labels) else 0.0,
        confusion=confusion,
        precision=precision,
        recall=recall,
        f1=f1,
        support=confusion.sum(1),
        labels=labels,
        predictions=predictions,
        confidence=confidence,
        misclassified=wrong,
    )


def metrics_from_confusion(confusion, loss: float, rmse: float = math.nan,
                           mae: float = math.nan, r2: float = math.nan) -> Metrics:
    """Metrics known from a confusion matrix alone (a saved history keeps only that): scores
    per class, no individual samples (so no mistakes to list). An empty matrix is a
    regression's, with the RMSE, MAE and R² its history recorded."""
    confusion = np.asarray(confusion, np.int64)
    if confusion.size == 0:
        return regression_metrics(loss, rmse=rmse, mae=mae, r2=r2)
    precision, recall, f1 = per_class_scores(confusion)
    total = confusion.sum()
    empty_int = np.zeros(0, np.int64)
    return Metrics(
        loss=loss,
        accuracy=float(np.trace(confusion) / total) if total else 0.0,
        confusion=confusion,
        precision=precision,
        recall=recall,
        f1=f1,
        support=confusion.sum(1),
        labels=empty_int,
        predictions=empty_int,
        confidence=np.zeros(0, np.float32),
        misclassified=empty_int,
    )


def regression_scores(targets: np.ndarray, values: np.ndarray) -> tuple[float, float, float]:
    """RMSE, MAE and R² of predicted `values` against true `targets` (NaN for no samples).

    R² of constant targets is 1 for a perfect fit and 0 otherwise (scikit-learn's choice), so
    a readout never shows NaN or minus infinity for data that does have samples.
    """
    t = np.asarray(targets, np.float64).reshape(-1)
    v = np.asarray(values, np.float64).reshape(-1)
    if not len(t):
        return math.nan, math.nan, math.nan
    error = v - t
    ss_res = float(np.dot(error, error))
    centred = t - t.mean()
    ss_tot = float(np.dot(centred, centred))
    if ss_tot > 0:
        r2 = 1.0 - ss_res / ss_tot
    else:
        r2 = 1.0 if ss_res == 0 else 0.0
    return math.sqrt(ss_res / len(t)), float(np.abs(error).mean()), r2


def regression_metrics(loss: float, targets: np.ndarray | None = None,
                       values: np.ndarray | None = None, *, rmse: float = math.nan,
                       mae: float = math.nan, r2: float = math.nan) -> Metrics:
    """Metrics of a regression: the loss, RMSE, MAE and R² (from `targets` and predicted
    `values` when given, else the figures passed, e.g. a saved history's), accuracy NaN,
    everything per class empty."""
    empty_int, empty_float = np.zeros(0, np.int64), np.zeros(0, np.float64)
    t = np.zeros(0, np.float32) if targets is None else np.asarray(targets, np.float32)
    v = np.zeros(0, np.float32) if values is None else np.asarray(values, np.float32)
    if targets is not None and values is not None:
        rmse, mae, r2 = regression_scores(t, v)
    return Metrics(
        loss=loss,
        accuracy=float("nan"),
        confusion=np.zeros((0, 0), np.int64),
        precision=empty_float,
        recall=empty_float,
        f1=empty_float,
        support=empty_int,
        labels=empty_int,
        predictions=empty_int,
        confidence=np.zeros(0, np.float32),
        misclassified=empty_int,
        rmse=rmse,
        mae=mae,
        r2=r2,
        targets=t,
        values=v,
        task="regression",
    )


@torch.no_grad()
def evaluate(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    loss_name: str,
    num_classes: int,
    batch_size: int = 8192,
    task: str = "classification",
) -> Metrics:
    """Metrics of `model` on (x, y), in eval mode, restoring the model's mode afterwards.

    task "regression": y holds real values; the loss, RMSE, MAE and R² (see module doc).
    """
    was_training = model.training
    model.eval()
    try:
        # max(.., 1): an empty split still runs one (empty) batch, so torch.cat gets a list
        starts = range(0, max(len(x), 1), batch_size)
        outputs = torch.cat([model(x[i : i + batch_size]) for i in starts])
        loss = float(loss_fn(outputs, y)) if len(x) else float("nan")
        if task == "regression":
            scaling = getattr(model, "target_scaling", None)
            if scaling is not None and len(x):  # the loss in the units training computes it in
                loss = float(loss_fn(scale_values(outputs, scaling), scale_values(y, scaling)))
            return regression_metrics(loss, y.cpu().numpy(), outputs[:, 0].cpu().numpy())
        probs = probabilities(loss_name, outputs).cpu().numpy()
    finally:
        model.train(was_training)
    return metrics_from_probabilities(probs, y.cpu().numpy(), loss, num_classes)
