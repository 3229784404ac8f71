"""Drift: how far new data moved from the data the champion was trained on.

Each published version stores `data_profile(profile_frame)`: the label shares
and, for each per-example statistic of the profile table (mean, min, max,
length), decile bins of its reference values. New data is compared with it:
every label's share against `drift.label_shift`, every statistic's population
stability index (PSI) against `drift.feature_psi`. The label set itself is
compared too (`labels_vs_champion`): a label the champion knows that the new
data lacks makes the two models incomparable. The results are outcomes of
the validation report, so they print, fail or warn like any expectation.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import numpy as np
import pandas as pd

from data_contracts.contract import DataContract
from data_contracts.profile import DIGEST, LENGTH, MAX, MEAN, MIN
from data_contracts.report import ExpectationOutcome

PROFILE_VERSION = 1
DRIFT_STATISTICS = (MEAN, MIN, MAX, LENGTH)
NUM_BINS = 10
_EPSILON = 1e-4  # share given to an empty bin, so the PSI stays finite
LABEL_DRIFT = "label_distribution_drift"
FEATURE_DRIFT = "feature_distribution_drift"
CHAMPION_LABELS = "champion_labels_present"
NEW_LABELS = "labels_known_to_champion"
_LISTED = 10  # labels shown in a message before "... (N in all)"
_CLASS_CHANGE_FIX = {
    "error": "add the missing labels' data; or, for a deliberate change of "
    "classes, set 'labels_vs_champion: warn' in the data contract, run again, "
    "and accept the new model with `automl models promote --force`",
    "warning": "if the change of classes is deliberate, accept the new model "
    "with `automl models promote --force`",
}


def data_profile(frame: pd.DataFrame, label: str) -> dict[str, Any]:
    """Summarise a profile table as the reference later data is compared with.

    Args:
        frame: a per-example profile table (see `profile_arrays`).
        label: the label column.

    Returns:
        A JSON-friendly dict: row count, label shares, and per statistic the
        inner decile edges and the share of rows between them.
    """
    statistics = {}
    for column in DRIFT_STATISTICS:
        values = _finite(frame, column)
        if len(values) == 0:
            continue
        edges = np.unique(np.quantile(values, np.linspace(0, 1, NUM_BINS + 1)[1:-1]))
        statistics[column] = {
            "edges": edges.tolist(),
            "shares": _bin_shares(values, edges).tolist(),
        }
    return {
        "version": PROFILE_VERSION,
        "fingerprint": _fingerprint(frame, label),
        "rows": len(frame),
        "label": label,
        "label_shares": _label_shares(frame, label),
        "statistics": statistics,
    }


def drift_outcomes(
    frame: pd.DataFrame, reference: dict[str, Any], contract: DataContract
) -> list[ExpectationOutcome]:
    """Compare a profile table with a reference from `data_profile`.

    Returns no outcome when the contract declares no drift thresholds.
    """
    thresholds = contract.drift
    if thresholds is None:
        return []
    severity = "error" if thresholds.action == "fail" else "warning"
    outcomes = []
    if thresholds.label_shift is not None and contract.label in frame.columns:
        outcomes.append(
            _label_outcome(frame, reference, contract.label, thresholds.label_shift)
        )
    if thresholds.feature_psi is not None:
        for column, bins in reference.get("statistics", {}).items():
            values = _finite(frame, column)
            if len(values) == 0:
                continue
            outcomes.append(_feature_outcome(column, values, bins, thresholds))
    return [dataclasses.replace(o, severity=severity) for o in outcomes]


def champion_label_outcomes(
    frame: pd.DataFrame, reference: dict[str, Any], contract: DataContract
) -> list[ExpectationOutcome]:
    """Compare the labels with those the champion was trained on.

    A label the champion knows and the data lacks fails (`labels_vs_champion:
    fail`, the default) or warns (`warn`); a label the champion never saw
    warns. The champion's labels are the keys of the reference's label
    shares; its version is `reference["champion"]` when the caller added it.
    """
    known = set(reference.get("label_shares", {}))
    if contract.labels_vs_champion == "off" or not known:
        return []
    if contract.label not in frame.columns:
        return []  # the label expectations report the missing column
    received = set(_label_shares(frame, contract.label))
    missing, new = known - received, received - known
    champion = f"the champion {reference.get('champion', '')}".rstrip()
    trained = f"{champion} was trained on {_listed(known)}"
    severity = "error" if contract.labels_vs_champion == "fail" else "warning"
    if missing:
        lacking = f"received labels {_listed(received)}, {trained}, missing "
        lacking += _listed(missing)
    else:
        lacking = f"every label {champion} knows ({len(known)})"
    checks = [
        (CHAMPION_LABELS, missing, f"every label {champion} knows", lacking, severity),
        (
            NEW_LABELS,
            new,
            f"only labels {champion} was trained on",
            f"new labels {_listed(new)}; {trained}" if new else "no new label",
            "warning",
        ),
    ]
    return [
        ExpectationOutcome(
            expectation=name,
            column=contract.label,
            success=not found,
            expected=expected,
            observed=observed,
            severity=level,
            fix=_CLASS_CHANGE_FIX[level] if name == CHAMPION_LABELS and found else "",
        )
        for name, found, expected, observed, level in checks
    ]


def population_stability_index(expected: np.ndarray, actual: np.ndarray) -> float:
    """PSI = sum((a - e) * ln(a / e)) over bins of two share vectors."""
    expected = np.clip(np.asarray(expected, float), _EPSILON, None)
    actual = np.clip(np.asarray(actual, float), _EPSILON, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _label_outcome(
    frame: pd.DataFrame, reference: dict, label: str, limit: float
) -> ExpectationOutcome:
    before = reference.get("label_shares", {})
    after = _label_shares(frame, label)
    changes = {
        name: after.get(name, 0.0) - before.get(name, 0.0)
        for name in sorted(set(before) | set(after))
    }
    ranked = sorted(changes.items(), key=lambda item: -abs(item[1]))
    moved = [(name, change) for name, change in ranked if abs(change) > limit]
    shown = moved or ranked[:1]
    observed = "; ".join(
        f"{name!r} {before.get(name, 0.0):.1%} -> {after.get(name, 0.0):.1%} "
        f"({change * 100:+.1f} pts)"
        for name, change in shown[:5]
    )
    if len(moved) > 5:
        observed += f"; and {len(moved) - 5} more"
    return ExpectationOutcome(
        expectation=LABEL_DRIFT,
        column=label,
        success=not moved,
        expected=(
            f"every label's share within {limit * 100:g} pts of the champion's "
            f"training data ({reference.get('rows', '?')} rows)"
        ),
        observed=("labels moved: " if moved else "largest change: ") + observed,
        sample_bad_values=[name for name, _ in moved[:5]],
    )


def _feature_outcome(
    column: str, values: np.ndarray, bins: dict, thresholds: Any
) -> ExpectationOutcome:
    edges = np.asarray(bins["edges"], float)
    psi = population_stability_index(bins["shares"], _bin_shares(values, edges))
    return ExpectationOutcome(
        expectation=FEATURE_DRIFT,
        column=column,
        success=psi <= thresholds.feature_psi,
        expected=f"PSI <= {thresholds.feature_psi:g} against the champion's data",
        observed=f"PSI {psi:.3f} (median {np.median(values):.4g})",
    )


def _fingerprint(frame: pd.DataFrame, label: str) -> str | None:
    """A hash of every example's content and label, in order: same data, same hash."""
    if DIGEST not in frame.columns:
        return None
    digest = hashlib.sha256()
    labels = _as_text(frame[label]) if label in frame.columns else [""] * len(frame)
    for example, name in zip(frame[DIGEST], labels, strict=True):
        digest.update(f"{example}:{name}\n".encode())
    return digest.hexdigest()[:16]


def _as_text(column: pd.Series) -> list[str]:
    """Each value as text; bytes that are not UTF-8 (a binary Parquet column)
    as their repr, where pandas' `astype(str)` would raise."""
    return [str(value) for value in column.to_numpy(dtype=object)]


def _label_shares(frame: pd.DataFrame, label: str) -> dict[str, float]:
    if label not in frame.columns or len(frame) == 0:
        return {}
    shares = pd.Series(_as_text(frame[label])).value_counts(normalize=True)
    return {str(name): float(share) for name, share in shares.items()}


def _natural(labels: set[str]) -> list[str]:
    """Labels sorted as people count: '2' before '10', numbers before words."""

    def key(name: str) -> tuple:
        try:
            return (0, float(name), name)
        except ValueError:
            return (1, 0.0, name)

    return sorted(labels, key=key)


def _listed(labels: set[str]) -> str:
    names = _natural(labels)
    if len(names) <= _LISTED:
        return str(names)
    return f"{str(names[:_LISTED])[:-1]}, ... ({len(names)} in all)]"


def _bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    counts = np.bincount(
        np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1
    )
    return counts / max(len(values), 1)


def _finite(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.empty(0)
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(float)
    return values[np.isfinite(values)]
