"""Evaluate stage: test-split metrics computed with scikit-learn, and the
paired test the champion gate uses (`mcnemar_p_value`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import keras
import numpy as np
from scipy.stats import binomtest
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from tasks.readers.image_files import ImageFiles, predict_probabilities
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


def predict_classes(model: keras.Model, x: np.ndarray | ImageFiles) -> np.ndarray:
    """The class index `model` predicts for each example of `x` (or each file)."""
    probabilities = predict_probabilities(model, x, batch_size=256)
    return np.argmax(probabilities, axis=-1)


def evaluate_model(
    model: keras.Model, x_test: np.ndarray, y_test: np.ndarray, labels: list
) -> Metrics:
    """Predict the test split with `model` and score it."""
    return evaluate_predictions(y_test, predict_classes(model, x_test), labels)


def mcnemar_p_value(first_correct: np.ndarray, second_correct: np.ndarray) -> float:
    """McNemar's exact test: how likely a split of right answers this uneven is
    if both models were equally accurate (two-sided).

    Only the discordant examples count: `b` where the first model alone is
    right, `c` where the second alone is. Under equal accuracy each is a fair
    coin flip, so the p-value is SciPy's exact two-sided binomial test of `b`
    in `b + c` flips (statsmodels' `mcnemar(exact=True)`). It tests a
    difference in accuracy; for another metric (F1) it is the paired evidence
    that the two models differ on these examples, a proxy for that metric's
    difference.

    Args:
        first_correct: per example, whether the first model was right.
        second_correct: the same examples, whether the second model was right.

    Returns:
        The p-value in (0, 1]; 1.0 when the models never disagree.
    """
    first = np.asarray(first_correct, dtype=bool)
    second = np.asarray(second_correct, dtype=bool)
    only_first = int(np.sum(first & ~second))
    discordant = only_first + int(np.sum(~first & second))
    if discordant == 0:
        return 1.0
    return float(binomtest(only_first, discordant, 0.5).pvalue)


evaluate_model_task = stage("evaluate")(evaluate_model)
