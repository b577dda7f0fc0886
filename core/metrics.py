"""Evaluation: loss, accuracy, confusion matrix, per-class precision/recall/F1, mistakes."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from core.losses import probabilities


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


@torch.no_grad()
def evaluate(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    loss_name: str,
    num_classes: int,
    batch_size: int = 8192,
) -> Metrics:
    """Metrics of `model` on (x, y), in eval mode, restoring the model's mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        outputs = torch.cat([model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])
        loss = float(loss_fn(outputs, y)) if len(x) else float("nan")
        probs = probabilities(loss_name, outputs).cpu().numpy()
    finally:
        model.train(was_training)
    return metrics_from_probabilities(probs, y.cpu().numpy(), loss, num_classes)
