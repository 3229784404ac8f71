"""Evaluate stage: test-split metrics computed with scikit-learn."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from tasks.registry.model_file import load_published_model
from tasks.registry.versions import pipeline_dir, read_champion, read_metrics
from tasks.stage import stage

logger = logging.getLogger(__name__)


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


def rescore_champion(
    registry_dir: str | Path,
    name: str,
    x_test: np.ndarray,
    y_test: np.ndarray,
    labels: list,
    metric: str,
) -> tuple[str, float] | None:
    """The champion's `metric` on the candidate's test split, for a fair gate.

    Returns:
        (version, score), or None when there is no champion, or it was trained
        on other classes (its stored score is used then).

    Raises:
        UnsafeModelError: the champion's file would run code on load (a Lambda).
        RegistryError: the champion's file is missing or damaged.
    """
    pipeline = pipeline_dir(registry_dir, name)
    champion = read_champion(pipeline)
    if champion is None:
        return None
    version = champion["version"]
    if read_metrics(pipeline, version).get("labels") != list(labels):
        logger.warning("champion %s has other classes: using its stored score", version)
        return None
    model = load_published_model(pipeline / version / "model.keras")
    score = getattr(evaluate_model(model, x_test, y_test, labels), metric)
    logger.info(
        "champion %s re-evaluated on this test split: %s %.4f", version, metric, score
    )
    return version, float(score)


evaluate_model_task = stage("evaluate")(evaluate_model)
rescore_champion_task = stage("rescore-champion")(rescore_champion)
