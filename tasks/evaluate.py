"""Evaluate stage: test-split metrics computed with scikit-learn."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import keras
import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from tasks.stage import stage


@dataclass(frozen=True)
class Metrics:
    """The keys of `metrics.json`; labels are the original class labels."""

    accuracy: float
    precision_macro: float
    recall_macro: float
    f1_macro: float
    f1_weighted: float
    labels: list
    per_class: dict[str, dict[str, float]]
    confusion_matrix: list[list[int]]
    n_test: int

    def to_dict(self) -> dict:
        return asdict(self)

    def headline(self) -> str:
        return (
            f"accuracy {self.accuracy:.4f}  f1_macro {self.f1_macro:.4f}  "
            f"precision_macro {self.precision_macro:.4f}  "
            f"recall_macro {self.recall_macro:.4f}  (n_test {self.n_test})"
        )


def evaluate_predictions(
    y_true: np.ndarray, y_pred: np.ndarray, labels: list
) -> Metrics:
    """Score predicted class indices against true ones.

    Args:
        y_true: true class indices into `labels`.
        y_pred: predicted class indices into `labels`.
        labels: the original label of each class index.
    """
    indices = list(range(len(labels)))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=indices, zero_division=0
    )
    per_class = {
        str(label): {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, label in enumerate(labels)
    }
    return Metrics(
        accuracy=float(accuracy_score(y_true, y_pred)),
        precision_macro=float(np.mean(precision)),
        recall_macro=float(np.mean(recall)),
        f1_macro=float(np.mean(f1)),
        f1_weighted=float(
            f1_score(
                y_true, y_pred, labels=indices, average="weighted", zero_division=0
            )
        ),
        labels=list(labels),
        per_class=per_class,
        confusion_matrix=confusion_matrix(y_true, y_pred, labels=indices).tolist(),
        n_test=int(len(y_true)),
    )


def evaluate_model(
    model: keras.Model, x_test: np.ndarray, y_test: np.ndarray, labels: list
) -> Metrics:
    """Predict the test split with `model` and score it."""
    probabilities = model.predict(x_test, batch_size=256, verbose=0)
    return evaluate_predictions(y_test, np.argmax(probabilities, axis=-1), labels)


evaluate_model_task = stage("evaluate")(evaluate_model)
