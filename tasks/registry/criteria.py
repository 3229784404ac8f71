"""What a version must meet to be champion, whatever the other scores: the
absolute thresholds it was published under, and the champion's classes.

Both the gate at publish time and `promote` by hand apply them
(`tasks.registry.gate`).
"""

from __future__ import annotations


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


def label_difference(champion_labels: list | None, labels: list | None) -> str | None:
    """`missing 2, 3 / new 9`: how `labels` differ from the champion's; None
    when they are the same (or either is unknown)."""
    if champion_labels is None or labels is None:
        return None
    if list(champion_labels) == list(labels):
        return None
    missing = [label for label in champion_labels if label not in labels]
    new = [label for label in labels if label not in champion_labels]
    parts = [
        f"{word} {', '.join(map(str, found))}"
        for word, found in (("missing", missing), ("new", new))
        if found
    ]
    return " / ".join(parts) or f"in another order: {labels}"
