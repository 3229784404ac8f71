"""The champion/challenger gate: whether a version may become champion.

A candidate is promoted when it meets the absolute thresholds it is published
under (`publish.thresholds`, `publish.min_class_recall`), was trained on the
champion's classes, and beats the champion's score by more than zero and at
least `publish.min_improvement`. For a fair comparison both are scored on the
candidate's test examples the champion never trained on
(`tasks.registry.rescore`), and the difference is tested with McNemar's exact
test on per-example correctness. With `publish.max_p_value` set, the candidate
must also be significantly better (p <= max_p_value). When the champion could
not be re-scored (its stored score is used), there is no p-value, so a gate
with `max_p_value` keeps the champion. A candidate on other classes is never
promoted automatically: `automl models promote --force` accepts a deliberate
change of classes. `promote` applies the same rules by hand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tasks.errors import GateRefused, RegistryError
from tasks.registry.champion import read_champion, set_champion
from tasks.registry.criteria import label_difference, threshold_failures
from tasks.registry.history import append_history
from tasks.registry.lock import registry_lock
from tasks.registry.rescore import ChampionComparison
from tasks.registry.versions import pipeline_dir, read_metrics


@dataclass(frozen=True)
class GateDecision:
    """What the gate decided for a candidate, and the scores it compared.

    `candidate_score` and `champion_score` are on the same examples when the
    comparison is paired (`num_compared` of them, `p_value` McNemar's);
    otherwise they are the candidate's test score and the champion's stored
    one, and `p_value` is None. `test_score` is the candidate's score on its
    whole test split.
    """

    promoted: bool
    reason: str
    metric: str
    candidate_score: float
    champion_version: str | None
    champion_score: float | None
    test_score: float | None = None
    p_value: float | None = None
    num_compared: int | None = None


def judge_candidate(
    pipeline: Path,
    metrics: dict,
    metric: str,
    min_improvement: float = 0.0,
    thresholds: dict[str, float] | None = None,
    min_class_recall: float | None = None,
    champion_rescore: ChampionComparison | None = None,
    max_p_value: float | None = None,
    version: str = "VERSION",
) -> GateDecision:
    """Whether a candidate with `metrics` replaces the current champion (lock held).

    Args:
        pipeline: the pipeline's registry folder.
        metrics: the candidate's test-split metrics (`labels` among them).
        metric: the `metrics` key compared.
        min_improvement: how much the candidate must beat the champion by.
        thresholds: absolute floors (`{"accuracy": 0.9}`) a champion must meet.
        min_class_recall: a floor on every class's recall.
        champion_rescore: the champion and the candidate scored on the same
            unseen test examples (`rescore_champion`); used when that version
            is still champion, else the champion's stored score is.
        max_p_value: when set, the improvement must also be significant
            (McNemar's p <= this); without a paired comparison it cannot be.
        version: the candidate's version, for the advice in the reason.

    Raises:
        RegistryError: the champion's record or its `metric` is unreadable.
    """
    champion = read_champion(pipeline)
    scores = _scores(pipeline, champion, metrics, metric, champion_rescore)
    refusal = champion and _label_change(pipeline, champion, metrics, version)
    failures = threshold_failures(metrics, thresholds or {}, min_class_recall)
    if not refusal and failures:
        refusal = f"below the thresholds ({'; '.join(failures)})"
    promoted, reason = _compare(scores, metric, refusal, min_improvement, max_p_value)
    return GateDecision(
        promoted=promoted,
        reason=reason,
        metric=metric,
        candidate_score=scores.candidate,
        champion_version=champion and champion["version"],
        champion_score=scores.champion,
        test_score=float(metrics[metric]),
        p_value=scores.p_value,
        num_compared=scores.num_compared,
    )


def record_decision(pipeline: Path, version: str, decision: GateDecision) -> None:
    """Record a publish's decision (lock held): the new champion, if promoted,
    then the decision's line in the history (`p_value` null when unpaired)."""
    if decision.promoted:
        set_champion(
            pipeline,
            version,
            "publish",
            metric=decision.metric,
            score=decision.test_score,
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
            "p_value": decision.p_value,
            "num_compared": decision.num_compared,
        },
    )


@dataclass(frozen=True)
class _Scores:
    """The two scores the gate compares, and how they were obtained."""

    candidate: float
    champion: float | None
    p_value: float | None = None
    num_compared: int | None = None
    note: str = ""  # the paired test and its examples, or why there is none


def _scores(
    pipeline: Path,
    champion: dict | None,
    metrics: dict,
    metric: str,
    rescore: ChampionComparison | None,
) -> _Scores:
    candidate = float(metrics[metric])
    if champion is None:
        return _Scores(candidate, None)
    version = champion["version"]
    current = rescore is not None and rescore.version == version
    if current and rescore.p_value is not None:
        return _Scores(
            rescore.candidate_score,
            rescore.champion_score,
            rescore.p_value,
            rescore.num_compared,
            f"McNemar exact p = {rescore.p_value:.4g}, both scored on "
            f"{rescore.examples}",
        )
    try:
        stored = float(read_metrics(pipeline, version)[metric])
    except (KeyError, TypeError, ValueError) as exc:
        raise RegistryError(
            f"The champion {version} has no readable {metric!r} "
            f"({exc}). Restore that version, or promote a valid one."
        ) from None
    if current:
        note = rescore.note
    elif rescore is not None:
        note = (
            f"the champion changed to {version} after {rescore.version} was "
            "re-scored: its stored score is used, without a paired test"
        )
    else:
        note = (
            f"champion {version} was not re-scored: its stored score is used, "
            "without a paired test"
        )
    return _Scores(candidate, stored, note=note)


def _label_change(
    pipeline: Path, champion: dict, metrics: dict, version: str
) -> str | None:
    """Why a candidate is not comparable with the champion: other classes."""
    difference = label_difference(
        read_metrics(pipeline, champion["version"]).get("labels"),
        metrics.get("labels"),
    )
    if difference is None:
        return None
    return (
        f"labels differ from champion {champion['version']}'s ({difference}); a "
        "model on other classes is never promoted automatically: `automl models "
        f"promote {pipeline.name} {version} --force` accepts a deliberate change "
        "of classes"
    )


def _compare(
    scores: _Scores,
    metric: str,
    refusal: str | None,
    min_improvement: float,
    max_p_value: float | None,
) -> tuple[bool, str]:
    candidate, champion = scores.candidate, scores.champion
    if refusal:
        return False, f"not promoted: {refusal}"
    if champion is None:
        return True, f"first version: {metric} {candidate:.4f}"
    delta = candidate - champion
    required = f"required > 0 and >= {min_improvement}"
    paired = f"; {scores.note}"
    compared = f"{metric} {candidate:.4f} vs champion {champion:.4f}"
    if not (delta > 0 and delta >= min_improvement):
        return False, f"not promoted: {compared} ({delta:+.4f}; {required}){paired}"
    if max_p_value is not None:
        if scores.p_value is None:
            return False, (
                f"not promoted: {compared} ({delta:+.4f}), but publish.max_p_value "
                f"{max_p_value:g} needs a paired test and there is none{paired}"
            )
        if scores.p_value > max_p_value:
            return False, (
                f"not promoted: {compared} ({delta:+.4f}) is within noise: "
                f"p {scores.p_value:.4g} > publish.max_p_value "
                f"{max_p_value:g}{paired}"
            )
        required += f", p <= {max_p_value:g}"
    return True, (
        f"{metric} {candidate:.4f} beats champion {champion:.4f} "
        f"by {delta:+.4f} ({required}){paired}"
    )


def promote(
    registry_dir: str | Path, name: str, version: str, force: bool = False
) -> dict:
    """Make `version` champion, if it meets the thresholds it was published under
    and was trained on the current champion's classes.

    Raises:
        GateRefused: it fails either and `force` is False.
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
        champion = read_champion(pipeline)
        difference = champion and label_difference(
            read_metrics(pipeline, champion["version"]).get("labels"),
            metrics.get("labels"),
        )
        if difference and not force:
            raise GateRefused(
                f"{name} {version} was trained on other classes than champion "
                f"{champion['version']} ({difference}). Expected the champion's "
                "classes; pass --force to accept the change of classes."
            )
        if difference:
            failures = [
                *failures,
                f"labels differ from {champion['version']}'s ({difference})",
            ]
        return set_champion(
            pipeline, version, "promote", forced=bool(failures), failures=failures
        )


def _published_gate(pipeline: Path, version: str) -> dict:
    path = pipeline / version / "config.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8")).get("publish", {})
