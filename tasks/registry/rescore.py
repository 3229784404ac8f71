"""The champion re-scored on examples it never trained on, paired with the candidate.

Before a publish, the champion and the candidate are both scored on the
candidate's test examples whose content digest is absent from the champion's
`splits.parquet` train and validation rows, so the gate compares them on the
same unseen examples and can test the difference (McNemar's exact test on
per-example correctness, `tasks.evaluate.mcnemar_p_value`). A champion
published before `splits.parquet` existed is scored on every test example
(the comparison says so). When the champion cannot be re-scored (other
classes, an input it cannot read, no unseen example left), the gate falls
back to its stored score, with a warning, and there is no p-value.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import tensorflow as tf

from tasks.errors import RegistryError
from tasks.evaluate import evaluate_predictions, mcnemar_p_value, predict_classes
from tasks.readers import example_digests_of, take_examples
from tasks.registry.champion import read_champion
from tasks.registry.model_file import load_published_model
from tasks.registry.versions import pipeline_dir, read_metrics
from tasks.split import SPLITS_FILE
from tasks.stage import stage

if TYPE_CHECKING:
    import keras

logger = logging.getLogger(__name__)

# What `predict` raises when a model cannot read the inputs it is given (another
# shape, another dtype): the champion then keeps its stored score.
UNREADABLE_INPUT = (ValueError, TypeError, tf.errors.InvalidArgumentError)

UNSEEN, ALL, STORED = "unseen", "all", "stored"


@dataclass(frozen=True)
class ChampionComparison:
    """The champion and the candidate on the same test examples.

    Attributes:
        version: the champion's version.
        metric: the metric compared.
        basis: `unseen` (test examples absent from the champion's train and
            validation splits), `all` (the champion has no `splits.parquet`:
            every test example) or `stored` (no re-score: the gate uses the
            champion's stored score; the scores below are None).
        num_compared: how many examples both models were scored on.
        num_test: the candidate's test examples.
        champion_score, candidate_score: `metric` on those examples.
        candidate_only, champion_only: examples only that model got right.
        p_value: McNemar's exact test on per-example correctness; None
            without a paired comparison.
        note: the comparison in one sentence, for logs and the model card.
    """

    version: str
    metric: str
    basis: str
    num_compared: int
    num_test: int
    note: str
    champion_score: float | None = None
    candidate_score: float | None = None
    candidate_only: int | None = None
    champion_only: int | None = None
    p_value: float | None = None

    @property
    def examples(self) -> str:
        """Which examples both were scored on, in words."""
        if self.basis == UNSEEN:
            return (
                f"{self.num_compared} of {self.num_test} test examples the "
                "champion never trained on"
            )
        if self.basis == ALL:
            return (
                f"all {self.num_test} test examples (the champion has no "
                f"{SPLITS_FILE}: it was published before splits were recorded, "
                "so some may be examples it trained on)"
            )
        return "no examples (the champion's stored score is used)"

    def to_dict(self) -> dict:
        return {**asdict(self), "examples": self.examples}


def rescore_champion(
    registry_dir: str | Path,
    name: str,
    candidate: keras.Model,
    x_test: np.ndarray | Sequence,
    y_test: np.ndarray,
    labels: list,
    metric: str,
    digests_test: np.ndarray | None = None,
) -> ChampionComparison | None:
    """Score the champion and `candidate` on the test examples the champion
    never trained on, and test the difference.

    Args:
        registry_dir: the registry root.
        name: the pipeline name.
        candidate: the model being published.
        x_test, y_test: the candidate's test split (`y_test` indexes `labels`).
        labels: the candidate's classes.
        metric: the gate's metric (a `Metrics` field).
        digests_test: each test example's content digest (`Splits.digests_test`);
            computed from `x_test` when None.

    Returns:
        The comparison, or None when there is no champion.

    Raises:
        UnsafeModelError: the champion's file would run code on load (a Lambda).
        RegistryError: the champion's model or `splits.parquet` is damaged.
    """
    pipeline = pipeline_dir(registry_dir, name)
    champion = read_champion(pipeline)
    if champion is None:
        return None
    version = champion["version"]
    num_test = len(y_test)
    champion_labels = read_metrics(pipeline, version).get("labels")
    if champion_labels is not None and list(champion_labels) != list(labels):
        return _stored(
            version, metric, num_test, f"champion {version} has other classes"
        )
    if digests_test is None:
        digests_test = example_digests_of(x_test)
    where, basis = _unseen_examples(pipeline / version, digests_test)
    if not len(where):
        return _stored(
            version,
            metric,
            num_test,
            f"none of the {num_test} test examples is new to champion {version} "
            "(all were in its train or validation split)",
        )
    model = load_published_model(pipeline / version / "model.keras")
    x, y = take_examples(x_test, where), np.asarray(y_test)[where]
    try:
        champion_predicted = predict_classes(model, x)
    except UNREADABLE_INPUT as exc:
        reason = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).split())[:300]
        return _stored(
            version,
            metric,
            num_test,
            f"champion {version} cannot read this data "
            f"({type(exc).__name__}: {reason})",
        )
    return _paired(
        version,
        metric,
        basis,
        y,
        champion_predicted,
        predict_classes(candidate, x),
        labels,
        num_test,
    )


def _paired(
    version: str,
    metric: str,
    basis: str,
    y: np.ndarray,
    champion_predicted: np.ndarray,
    candidate_predicted: np.ndarray,
    labels: list,
    num_test: int,
) -> ChampionComparison:
    """Both models' scores on the same examples and McNemar's p-value."""
    champion_right = champion_predicted == y
    candidate_right = candidate_predicted == y
    champion_score = getattr(
        evaluate_predictions(y, champion_predicted, labels), metric
    )
    candidate_score = getattr(
        evaluate_predictions(y, candidate_predicted, labels), metric
    )
    p_value = mcnemar_p_value(candidate_right, champion_right)
    if basis == UNSEEN:
        where = f"{len(y)} of {num_test} test examples it never trained on"
    else:
        where = (
            f"all {num_test} test examples (it has no {SPLITS_FILE}, published "
            "before splits were recorded: some may be examples it trained on)"
        )
    note = (
        f"champion {version} re-scored on {where}: {metric} {champion_score:.4f} "
        f"vs candidate {candidate_score:.4f}, McNemar exact p = {p_value:.4g}"
    )
    logger.info("%s", note)
    return ChampionComparison(
        version=version,
        metric=metric,
        basis=basis,
        num_compared=len(y),
        num_test=num_test,
        note=note,
        champion_score=float(champion_score),
        candidate_score=float(candidate_score),
        candidate_only=int(np.sum(candidate_right & ~champion_right)),
        champion_only=int(np.sum(champion_right & ~candidate_right)),
        p_value=p_value,
    )


def _stored(version: str, metric: str, num_test: int, why: str) -> ChampionComparison:
    """No re-score: the gate falls back to the champion's stored score."""
    note = f"{why}: the gate uses its stored score, without a paired test"
    logger.warning("%s", note)
    return ChampionComparison(
        version=version,
        metric=metric,
        basis=STORED,
        num_compared=0,
        num_test=num_test,
        note=note,
    )


def _unseen_examples(
    version_dir: Path, digests_test: np.ndarray | Sequence
) -> tuple[np.ndarray, str]:
    """Positions of the test examples the champion never trained or validated
    on, and the basis (`unseen`, or `all` without `splits.parquet`).

    Raises:
        RegistryError: `splits.parquet` exists but cannot be read.
    """
    digests = np.asarray(digests_test, dtype=object).astype(str)
    path = version_dir / SPLITS_FILE
    if not path.exists():
        return np.arange(len(digests)), ALL
    try:
        membership = pd.read_parquet(path, columns=["digest", "split"])
    except Exception as exc:  # pyarrow raises its own types for a damaged file
        raise RegistryError(
            f"Could not read {path} ({type(exc).__name__}: {exc}); expected the "
            "parquet file of columns digest and split that publishing writes. "
            "Restore it from a backup, or delete it to re-score the champion on "
            "every test example."
        ) from exc
    seen = membership.loc[membership["split"] != "test", "digest"].astype(str)
    return np.flatnonzero(~np.isin(digests, seen.to_numpy())), UNSEEN


rescore_champion_task = stage("rescore-champion")(rescore_champion)
