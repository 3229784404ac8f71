"""The champion/challenger gate: whether a version may become champion.

A candidate is promoted when it meets the absolute thresholds it is published
under (`publish.thresholds`, `publish.min_class_recall`) and beats the
champion's score by more than zero and at least `publish.min_improvement`.
For a fair comparison the champion is re-scored on the candidate's test split
(`rescore_champion`) before the publish; its stored score is used when it was
trained on other classes. `promote` applies the same thresholds by hand.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tasks.errors import GateRefused, RegistryError
from tasks.evaluate import evaluate_model
from tasks.registry.champion import read_champion, set_champion
from tasks.registry.history import append_history
from tasks.registry.lock import registry_lock
from tasks.registry.model_file import load_published_model
from tasks.registry.versions import pipeline_dir, read_metrics
from tasks.stage import stage

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GateDecision:
    """What the gate decided for a candidate, and the scores it compared."""

    promoted: bool
    reason: str
    metric: str
    candidate_score: float
    champion_version: str | None
    champion_score: float | None


def judge_candidate(
    pipeline: Path,
    metrics: dict,
    metric: str,
    min_improvement: float = 0.0,
    thresholds: dict[str, float] | None = None,
    min_class_recall: float | None = None,
    champion_rescore: tuple[str, float] | None = None,
) -> GateDecision:
    """Whether a candidate with `metrics` replaces the current champion (lock held).

    Args:
        pipeline: the pipeline's registry folder.
        metrics: the candidate's test-split metrics.
        metric: the `metrics` key compared.
        min_improvement: how much the candidate must beat the champion by.
        thresholds: absolute floors (`{"accuracy": 0.9}`) a champion must meet.
        min_class_recall: a floor on every class's recall.
        champion_rescore: (version, score) of the champion re-evaluated on the
            candidate's test split; used when that version is still champion,
            else its stored score is.

    Raises:
        RegistryError: the champion's record or its `metric` is unreadable.
    """
    candidate_score = float(metrics[metric])
    champion = read_champion(pipeline)
    champion_score = _champion_score(pipeline, champion, metric, champion_rescore)
    failures = threshold_failures(metrics, thresholds or {}, min_class_recall)
    promoted, reason = _compare(
        candidate_score, champion_score, min_improvement, metric, failures
    )
    return GateDecision(
        promoted=promoted,
        reason=reason,
        metric=metric,
        candidate_score=candidate_score,
        champion_version=champion and champion["version"],
        champion_score=champion_score,
    )


def record_decision(pipeline: Path, version: str, decision: GateDecision) -> None:
    """Record a publish's decision (lock held): the new champion, if promoted,
    then the decision's line in the history."""
    if decision.promoted:
        set_champion(
            pipeline,
            version,
            "publish",
            metric=decision.metric,
            score=decision.candidate_score,
        )
    append_history(
        pipeline,
        {
            "event": "publish",
            "version": version,
            "promoted": decision.promoted,
            "reason": decision.reason,
            "metric": decision.metric,
            "candidate_score": decision.candidate_score,
            "champion_version": decision.champion_version,
            "champion_score": decision.champion_score,
        },
    )


def threshold_failures(
    metrics: dict, thresholds: dict[str, float], min_class_recall: float | None
) -> list[str]:
    """What keeps a version from being champion on absolute grounds, in words."""
    failures = [
        f"{metric} {metrics.get(metric, float('nan')):.4f} < {floor:g}"
        for metric, floor in thresholds.items()
        if not metrics.get(metric, float("-inf")) >= floor
    ]
    if min_class_recall is not None:
        for label, scores in metrics.get("per_class", {}).items():
            if scores["recall"] < min_class_recall:
                failures.append(
                    f"recall of class {label!r} {scores['recall']:.4f} "
                    f"< {min_class_recall:g}"
                )
    return failures


def _champion_score(
    pipeline: Path,
    champion: dict | None,
    metric: str,
    rescore: tuple[str, float] | None,
) -> float | None:
    if champion is None:
        return None
    if rescore is not None and rescore[0] == champion["version"]:
        return rescore[1]
    try:
        return float(read_metrics(pipeline, champion["version"])[metric])
    except (KeyError, TypeError, ValueError) as exc:
        raise RegistryError(
            f"The champion {champion['version']} has no readable {metric!r} "
            f"({exc}). Restore that version, or promote a valid one."
        ) from None


def _compare(
    candidate: float,
    champion: float | None,
    min_improvement: float,
    metric: str,
    failures: list[str],
) -> tuple[bool, str]:
    if failures:
        return False, f"not promoted: below the thresholds ({'; '.join(failures)})"
    if champion is None:
        return True, f"first version: {metric} {candidate:.4f}"
    delta = candidate - champion
    if delta > 0 and delta >= min_improvement:
        return True, (
            f"{metric} {candidate:.4f} beats champion {champion:.4f} "
            f"by {delta:+.4f} (required > 0 and >= {min_improvement})"
        )
    return False, (
        f"not promoted: {metric} {candidate:.4f} vs champion {champion:.4f} "
        f"({delta:+.4f}; required > 0 and >= {min_improvement})"
    )


def promote(
    registry_dir: str | Path, name: str, version: str, force: bool = False
) -> dict:
    """Make `version` champion, if it meets the thresholds it was published under.

    Raises:
        GateRefused: it fails them and `force` is False.
        ModelReferenceError: no such version.
    """
    pipeline = pipeline_dir(registry_dir, name)
    metrics = read_metrics(pipeline, version)
    gate = _published_gate(pipeline, version)
    failures = threshold_failures(
        metrics, gate.get("thresholds") or {}, gate.get("min_class_recall")
    )
    if failures and not force:
        raise GateRefused(
            f"{name} {version} fails its absolute thresholds: {'; '.join(failures)}. "
            "Expected a version that meets publish.thresholds and "
            "publish.min_class_recall; pass --force to promote it anyway."
        )
    with registry_lock(pipeline):
        return set_champion(
            pipeline, version, "promote", forced=bool(failures), failures=failures
        )


def _published_gate(pipeline: Path, version: str) -> dict:
    path = pipeline / version / "config.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8")).get("publish", {})


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


rescore_champion_task = stage("rescore-champion")(rescore_champion)
